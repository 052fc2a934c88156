using Functional.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// A gradient transformation in the optax style: <see cref="Init"/> makes the state for some
/// parameters and <see cref="Update"/> turns incoming <see cref="Updates"/> (at first the gradients)
/// into outgoing ones, advancing the state. Optimizers are chains of them
/// (<see cref="Optimizers.Chain(GradientTransformation[])"/>); <see cref="Optimizer.Step"/> adds the
/// final updates to the parameters.
/// </summary>
/// <remarks>
/// <para>Update never modifies the updates or parameters it is given; it returns updates over fresh
/// tensors or over the very ones it was given (a link that leaves them, or only their scale, as
/// they are), which may share storage with the state: treat them as read-only. It changes the
/// state's buffers in place, runs under <c>no_grad</c>, and belongs inside a dispose scope
/// (<see cref="Optimizer.Step"/> owns one per step).</para>
/// <para>Write your own by subclassing <see cref="GradientTransformation{TState}"/>, or with
/// <see cref="Create{TState}"/> from two functions.</para>
/// </remarks>
public abstract class GradientTransformation
{
    /// <summary>Only <see cref="GradientTransformation{TState}"/> derives from this: a transformation always has a state type.</summary>
    private protected GradientTransformation(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The structure, e.g. <c>chain(addDecayedWeights, trace(nesterov=False), scaleByLearningRate)</c>;
    /// a checkpoint records it so that a state is only loaded into the same structure.</summary>
    public string Name { get; }

    /// <summary>The state for <paramref name="parameters"/> (zeros for moment buffers, step 0).</summary>
    public TransformState Init(IReadOnlyList<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Native.EnsureLoaded();
        using var _ = no_grad();
        return InitState(parameters) ?? throw new InvalidOperationException($"{Name}'s init returned no state; return an EmptyState when there is nothing to keep.");
    }

    /// <summary>The updates to pass on, computed from incoming <paramref name="updates"/> (one per
    /// parameter, of its shape), advancing <paramref name="state"/>.</summary>
    /// <exception cref="ArgumentException">The counts or shapes differ, or the state is not of this transformation's type; the message says which.</exception>
    public Updates Update(Updates updates, TransformState state, IReadOnlyList<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(parameters);
        if (updates.Count != parameters.Count)
            throw new ArgumentException(
                $"{Name}: {updates.Count} updates for {parameters.Count} parameters; pass one gradient per parameter, in the order given to Init.", nameof(updates));
        ObjectDisposedException.ThrowIf(state.IsDisposed, state);
        using var _ = no_grad();
        var result = UpdateState(updates, state, parameters);
        if (result is null || result.Count != parameters.Count)
            throw new InvalidOperationException($"{Name} returned {result?.Count ?? 0} updates for {parameters.Count} parameters.");
        return result;
    }

    private protected abstract TransformState InitState(IReadOnlyList<Tensor> parameters);

    private protected abstract Updates UpdateState(Updates updates, TransformState state, IReadOnlyList<Tensor> parameters);

    /// <summary>Binds the transformation to parameters, giving the PyTorch-style <see cref="Optimizer"/>.</summary>
    public Optimizer Bind(IEnumerable<Parameter> parameters) => new(this, parameters);

    /// <summary>Binds the transformation to a module's parameters (<c>module.parameters()</c>).</summary>
    public Optimizer Bind(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new Optimizer(this, module.parameters());
    }

    /// <summary>
    /// A transformation from two functions, for one too small to deserve a class: <paramref name="init"/>
    /// makes the state, <paramref name="update"/> maps (updates, state, parameters) to the next updates.
    /// </summary>
    /// <param name="name">Names the structure (checkpoints compare it), e.g. <c>scaleByTwo</c>.</param>
    /// <param name="init">The state for the parameters; <c>_ =&gt; new EmptyState()</c> when there is nothing to keep.</param>
    /// <param name="update">The next updates; it must not modify its inputs (see the remarks of <see cref="GradientTransformation"/>).</param>
    /// <example><code>
    /// // Halve the step while keeping the values as they are: only the scale changes.
    /// var halve = GradientTransformation.Create("halve", _ =&gt; new EmptyState(), (updates, _, _) =&gt; updates.Scaled(0.5));
    /// using var optimizer = Optimizers.Chain(Optimizers.Sgd(0.1, momentum: 0.9), halve).Bind(model);
    /// </code></example>
    public static GradientTransformation Create<TState>(
        string name,
        Func<IReadOnlyList<Tensor>, TState> init,
        Func<Updates, TState, IReadOnlyList<Tensor>, Updates> update)
        where TState : TransformState
    {
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(update);
        return new FromFunctions<TState>(name, init, update);
    }

    sealed class FromFunctions<TState>(
        string name,
        Func<IReadOnlyList<Tensor>, TState> init,
        Func<Updates, TState, IReadOnlyList<Tensor>, Updates> update)
        : GradientTransformation<TState>(name) where TState : TransformState
    {
        protected override TState InitCore(IReadOnlyList<Tensor> parameters) => init(parameters);
        protected override Updates UpdateCore(Updates updates, TState state, IReadOnlyList<Tensor> parameters) => update(updates, state, parameters);
    }

    /// <summary>The <see cref="Name"/>.</summary>
    public override string ToString() => Name;

    /// <summary>Checks that per-parameter tensors match the parameters' shapes (used by the built-in links).</summary>
    internal static void CheckShapes(string name, IReadOnlyList<Tensor> updates, IReadOnlyList<Tensor> parameters)
    {
        for (var i = 0; i < updates.Count; i++)
            if (!updates[i].shape.SequenceEqual(parameters[i].shape))
                throw new ArgumentException(
                    $"{name}: update {i} has shape {Shapes.Text(updates[i].shape)} but parameter {i} has shape {Shapes.Text(parameters[i].shape)}.",
                    nameof(updates));
    }
}

/// <summary>
/// A gradient transformation whose state is a <typeparamref name="TState"/>: derive from it to write
/// your own, and get the state typed in <see cref="UpdateCore"/>. Every built-in transformation is one.
/// </summary>
/// <typeparam name="TState">The state type; <see cref="EmptyState"/> for a transformation that keeps nothing.</typeparam>
/// <example><code>
/// // Adds Gaussian noise of a settable standard deviation, from a generator the state owns.
/// // (Its settings are not checkpointed; override SaveScalars and PrepareLoad for that.)
/// sealed class NoiseState(double std, long seed) : TransformState
/// {
///     public double Std { get; set; } = std;
///     public Generator Generator { get; } = new((ulong)seed);
///     protected override void FreeTensors() =&gt; Generator.Dispose();
/// }
/// sealed class AddNoise(double std, long seed) : GradientTransformation&lt;NoiseState&gt;("addNoise")
/// {
///     protected override NoiseState InitCore(IReadOnlyList&lt;Tensor&gt; parameters) =&gt; new(std, seed);
///     protected override Updates UpdateCore(Updates updates, NoiseState state, IReadOnlyList&lt;Tensor&gt; parameters) =&gt;
///         new(updates.Materialize().Select(u =&gt; u + state.Std * randn(u.shape, generator: state.Generator)).ToArray());
/// }
/// using var optimizer = Optimizers.Chain(new AddNoise(0.01, seed: 0), Optimizers.Sgd(0.1)).Bind(model);
/// optimizer.StateOf&lt;NoiseState&gt;().Std = 0.001;       // typed, while training
/// </code></example>
public abstract class GradientTransformation<TState> : GradientTransformation where TState : TransformState
{
    /// <summary>Creates the transformation.</summary>
    /// <param name="name">Names its structure (checkpoints compare it); include the settings that change
    /// the state's shape, e.g. <c>scaleByAdam(amsgrad=True)</c>.</param>
    protected GradientTransformation(string name) : base(name) { }

    /// <summary>The state for <paramref name="parameters"/>; it runs under <c>no_grad</c>. Tensors it
    /// keeps are its own: take them with <c>TransformState.Own</c> and free them in <c>FreeTensors</c>.</summary>
    protected abstract TState InitCore(IReadOnlyList<Tensor> parameters);

    /// <summary>The next updates, advancing <paramref name="state"/> in place; it runs under <c>no_grad</c>
    /// with the counts already checked, and must not modify <paramref name="updates"/> or <paramref name="parameters"/>.
    /// Return a state's buffer as <c>buffer.alias()</c>, never the buffer itself: a chain frees the
    /// intermediate tensors it is done with.</summary>
    protected abstract Updates UpdateCore(Updates updates, TState state, IReadOnlyList<Tensor> parameters);

    private protected sealed override TransformState InitState(IReadOnlyList<Tensor> parameters) => InitCore(parameters);

    private protected sealed override Updates UpdateState(Updates updates, TransformState state, IReadOnlyList<Tensor> parameters) =>
        state is TState typed
            ? UpdateCore(updates, typed, parameters)
            : throw new ArgumentException(
                $"{Name} keeps a {typeof(TState).Name}, but was given a {state.GetType().Name}; make the state with this transformation's Init.", nameof(state));
}
