using static TorchSharp.torch;

namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Applies the transformations one after the other: the updates of each are the input of the
    /// next, and the state is the list of their states. <c>Chain(a)</c> behaves as <c>a</c>, and
    /// every built-in optimizer is a chain (<c>AdamW = Chain(ScaleByAdam, AddDecayedWeights, ScaleByLearningRate)</c>).
    /// </summary>
    /// <example><c>Optimizers.Chain(Optimizers.ClipByGlobalNorm(1.0), Optimizers.Sgd(1e-3))</c></example>
    public static GradientTransformation Chain(params GradientTransformation[] transformations) =>
        Chain((IEnumerable<GradientTransformation>)transformations);

    /// <summary>Applies the transformations one after the other; see <see cref="Chain(GradientTransformation[])"/>.</summary>
    public static GradientTransformation Chain(IEnumerable<GradientTransformation> transformations)
    {
        ArgumentNullException.ThrowIfNull(transformations);
        var links = transformations.ToArray();
        for (var i = 0; i < links.Length; i++)
            if (links[i] is null) throw new ArgumentException($"Chain: transformation {i} is null.", nameof(transformations));
        return new GradientTransformation(
            "chain(" + string.Join(", ", links.Select(l => l.Name)) + ")",
            parameters => new TransformState(links.Select(l => l.Init(parameters)).ToList()),
            (updates, state, parameters) =>
            {
                if (state.Children.Count != links.Length)
                    throw new ArgumentException($"The state has {state.Children.Count} link states for a chain of {links.Length}; make it with this chain's Init.", nameof(state));
                return RunLinks(links, state.Children, links.Length, updates, parameters);
            },
            links,
            null);
    }

    /// <summary>Applies the first <paramref name="count"/> links in turn, freeing each intermediate
    /// as soon as it is used so a long chain does not keep them all alive until the step's scope ends.</summary>
    internal static IReadOnlyList<Tensor> RunLinks(
        IReadOnlyList<GradientTransformation> links, IReadOnlyList<TransformState> states, int count,
        IReadOnlyList<Tensor> updates, IReadOnlyList<Tensor> parameters)
    {
        var current = updates;
        var given = new HashSet<Tensor>(updates, ReferenceEqualityComparer.Instance);
        for (var i = 0; i < count; i++)
        {
            var next = links[i].Update(current, states[i], parameters);
            for (var j = 0; j < current.Count; j++)
                if (!ReferenceEquals(next[j], current[j]) && !given.Contains(current[j])) current[j].Dispose();
            current = next;
        }
        return current;
    }

    /// <summary>The identity: updates pass through unchanged; a chain of none is this.</summary>
    public static GradientTransformation Identity() =>
        new("identity", _ => new TransformState(), (updates, _, _) => updates);

    /// <summary>Multiplies the updates by a constant (no sign change).</summary>
    public static GradientTransformation Scale(double factor) =>
        new("scale", _ =>
        {
            var s = new TransformState();
            s.AddScalar("factor", factor, ScalarKind.Hyperparameter);
            return s;
        }, (updates, state, _) =>
        {
            var f = state["factor"];
            return updates.Select(u => u.mul(f)).ToList();
        });

    internal static Tensor[] ZerosLike(IReadOnlyList<Tensor> parameters) =>
        parameters.Select(p => zeros_like(p)).ToArray();
}
