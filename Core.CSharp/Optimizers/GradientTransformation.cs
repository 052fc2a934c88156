using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Optimizers;

/// <summary>
/// A gradient transformation in the optax style: a pair of functions, <see cref="Init"/> (the
/// state for some parameters) and <see cref="Update"/> (turns incoming updates, at first the
/// gradients, into outgoing ones, advancing the state). Optimizers are chains of them
/// (<see cref="Optimizers.Chain(GradientTransformation[])"/>); the final updates are added to the
/// parameters (<see cref="Optimizer.Step"/> does that).
/// </summary>
/// <remarks>
/// <para>Update never modifies the updates or parameters it is given; it returns fresh tensor
/// handles (or the very ones it was given, for a link that leaves them unchanged), which may share
/// storage with the state: treat them as read-only. It updates the state's buffers in place and
/// runs under <c>no_grad</c>, so no graph is built. Call it inside a dispose scope
/// (<see cref="Optimizer.Step"/> owns one per step).</para>
/// <para>Write your own with the constructor: <c>new GradientTransformation("scale(2)", p =&gt; new TransformState(), (u, s, p) =&gt; u.Select(x =&gt; x * 2).ToList())</c>.</para>
/// </remarks>
public sealed class GradientTransformation
{
    readonly Func<IReadOnlyList<Tensor>, TransformState> init;
    readonly Func<IReadOnlyList<Tensor>, TransformState, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> update;

    /// <summary>Creates a transformation from its two functions.</summary>
    /// <param name="name">Names the transformation's structure, e.g. <c>trace(nesterov=False)</c>;
    /// a checkpoint records it so that state is only loaded into the same structure.</param>
    /// <param name="init">Makes the state for the parameters.</param>
    /// <param name="update">Maps (updates, state, parameters) to the new updates, advancing the state in place.</param>
    public GradientTransformation(
        string name,
        Func<IReadOnlyList<Tensor>, TransformState> init,
        Func<IReadOnlyList<Tensor>, TransformState, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> update)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(update);
        Name = name;
        this.init = init;
        this.update = update;
    }

    /// <summary>A chain built by <see cref="Optimizers.Chain(GradientTransformation[])"/> remembers its links.</summary>
    internal GradientTransformation(
        string name,
        Func<IReadOnlyList<Tensor>, TransformState> init,
        Func<IReadOnlyList<Tensor>, TransformState, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>> update,
        IReadOnlyList<GradientTransformation>? links,
        Func<TransformState, double>? stepFactor)
        : this(name, init, update)
    {
        Links = links;
        StepFactor = stepFactor;
    }

    /// <summary>The links of a chain, or null.</summary>
    internal IReadOnlyList<GradientTransformation>? Links { get; }

    /// <summary>
    /// For a link that only multiplies the updates by a number (the learning-rate links): that
    /// number for the coming update, advancing the state as <see cref="Update"/> would. It lets
    /// <see cref="Optimizer.Step"/> fuse the multiplication into the parameter update
    /// (<c>p.add_(u, alpha)</c>), one pass and no allocation instead of two and one.
    /// </summary>
    internal Func<TransformState, double>? StepFactor { get; }

    /// <summary>The structure, e.g. <c>chain(trace(nesterov=False), scaleByLearningRate)</c>.</summary>
    public string Name { get; }

    /// <summary>The state for <paramref name="parameters"/> (zeros for moment buffers, step 0).</summary>
    public TransformState Init(IReadOnlyList<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Native.EnsureLoaded();
        using var _ = no_grad();
        return init(parameters);
    }

    /// <summary>The updates to add to the parameters, computed from incoming
    /// <paramref name="updates"/> (one per parameter, same shapes), advancing <paramref name="state"/>.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or a shape differs; the message says which.</exception>
    public IReadOnlyList<Tensor> Update(IReadOnlyList<Tensor> updates, TransformState state, IReadOnlyList<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(parameters);
        if (updates.Count != parameters.Count)
            throw new ArgumentException(
                $"{Name}: {updates.Count} updates for {parameters.Count} parameters; pass one gradient per parameter, in the order given to Init.", nameof(updates));
        using var _ = no_grad();
        var result = update(updates, state, parameters);
        if (result is null || result.Count != parameters.Count)
            throw new InvalidOperationException($"{Name} returned {result?.Count ?? 0} updates for {parameters.Count} parameters.");
        return result;
    }

    /// <summary>Binds the transformation to parameters, giving the PyTorch-style <see cref="Optimizer"/>.</summary>
    public Optimizer Bind(IEnumerable<Parameter> parameters) => new(this, parameters);

    /// <summary>Binds the transformation to a module's parameters (<c>module.parameters()</c>).</summary>
    public Optimizer Bind(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new Optimizer(this, module.parameters());
    }

    /// <summary>The <see cref="Name"/>.</summary>
    public override string ToString() => Name;

    /// <summary>Checks that per-parameter tensors match the parameters' shapes (used by the built-in links).</summary>
    internal static void CheckShapes(string name, IReadOnlyList<Tensor> updates, IReadOnlyList<Tensor> parameters)
    {
        for (var i = 0; i < updates.Count; i++)
            if (!updates[i].shape.SequenceEqual(parameters[i].shape))
                throw new ArgumentException(
                    $"{name}: update {i} has shape [{string.Join(", ", updates[i].shape)}] but parameter {i} has shape [{string.Join(", ", parameters[i].shape)}].",
                    nameof(updates));
    }
}
