using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Applies the transformations one after the other: the updates of each are the input of the
    /// next, and the state is the list of theirs. <c>Chain(a)</c> behaves as <c>a</c>,
    /// a chain nested in a chain as its links inline (the scale travels through, so the final
    /// multiplication by the learning rate stays fused into the step at any depth), and every
    /// built-in optimizer is a chain (<c>AdamW = Chain(ScaleByAdam, AddDecayedWeights, ScaleByLearningRate)</c>).
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
        return new ChainTransformation(links);
    }

    /// <summary>The identity: updates pass through unchanged; a chain of none is this.</summary>
    public static GradientTransformation Identity() => new IdentityTransformation();

    internal sealed class IdentityTransformation() : GradientTransformation<EmptyState>("identity")
    {
        protected override EmptyState InitCore(IReadOnlyList<Tensor> parameters) => new();
        protected override Updates UpdateCore(Updates updates, EmptyState state, IReadOnlyList<Tensor> parameters) => updates;
    }

    internal sealed class ChainTransformation(GradientTransformation[] links)
        : GradientTransformation<ChainState>("chain(" + string.Join(", ", links.Select(l => l.Name)) + ")")
    {
        /// <summary>The links, in order (the fused training step reads the structure).</summary>
        internal IReadOnlyList<GradientTransformation> Links => links;

        protected override ChainState InitCore(IReadOnlyList<Tensor> parameters)
        {
            var states = new List<TransformState>(links.Length);
            try
            {
                foreach (var link in links) states.Add(link.Init(parameters));
            }
            catch
            {
                foreach (var s in states) s.Dispose();
                throw;
            }
            return new ChainState(states);
        }

        /// <summary>Applies the links in turn, freeing each intermediate as soon as the next link has
        /// used it, so a long chain does not keep them all alive until the step's scope ends.</summary>
        protected override Updates UpdateCore(Updates updates, ChainState state, IReadOnlyList<Tensor> parameters)
        {
            if (state.Links.Count != links.Length)
                throw new ArgumentException($"The state has {state.Links.Count} link states for a chain of {links.Length}; make it with this chain's Init.", nameof(state));
            var current = updates;
            HashSet<Tensor>? given = null;
            for (var i = 0; i < links.Length; i++)
            {
                var next = links[i].Update(current, state.Links[i], parameters);
                // The chain's input is the caller's; an intermediate no longer referenced is garbage now.
                if (!ReferenceEquals(current, updates) && !ReferenceEquals(next.Values, current.Values))
                {
                    given ??= new HashSet<Tensor>(updates.Values, ReferenceEqualityComparer.Instance);
                    var kept = new HashSet<Tensor>(next.Values, ReferenceEqualityComparer.Instance);
                    foreach (var t in current.Values)
                        if (!kept.Contains(t) && !given.Contains(t)) t.Dispose();
                }
                current = next;
            }
            return current;
        }
    }
}

/// <summary>
/// The state of a chain: its links' states, in the links' order. Find a link's state by type with
/// <see cref="Optimizer.StateOf{T}"/>, or by position here.
/// </summary>
/// <remarks>Checkpoint names are the links' own, prefixed with the link's index
/// (<c>1.momentum_buffer.0</c>); the scalars are the array of the links' records.</remarks>
internal sealed class ChainState : TransformState
{
    readonly TransformState[] links;

    internal ChainState(IEnumerable<TransformState> links) => this.links = links.ToArray();

    /// <summary>The states of the chain's links, in order.</summary>
    public IReadOnlyList<TransformState> Links => links;

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor Value)> NamedTensors()
    {
        for (var i = 0; i < links.Length; i++)
            foreach (var (name, value) in links[i].NamedTensors())
                yield return ($"{i}.{name}", value);
    }

    /// <inheritdoc />
    protected internal override object? SaveScalars() => links.Select(l => l.SaveScalars()).ToArray();

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        if (saved.Json.ValueKind != System.Text.Json.JsonValueKind.Array || saved.Json.GetArrayLength() != links.Length)
            throw new ArgumentException($"{saved.Where}: the saved scalars are not those of a chain of {links.Length} links.", nameof(saved));
        var loads = new List<Action>(links.Length);
        for (var i = 0; i < links.Length; i++)
        {
            // Every link is checked, even after one fails, so that the message lists all the problems.
            try { loads.Add(links[i].PrepareLoad(saved.Link(i))); }
            catch (ArgumentException e) { saved.Problem(e.Message); }
        }
        return () => { foreach (var load in loads) load(); };
    }

    /// <summary>Frees every link's state.</summary>
    protected override void FreeTensors()
    {
        foreach (var link in links) link.Dispose();
    }

    internal override IEnumerable<TransformState> SelfAndLinks() => links.SelectMany(l => l.SelfAndLinks()).Prepend(this);
}
