using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// The scalar half of an optimizer's state, for checkpoints (the tensor half is
/// <see cref="Optimizer.StateTensors"/>): which transformation, how many steps, and every state's
/// scalars (hyperparameters as adjusted, counters) as JSON, each state's its own typed record and a
/// chain's the array of its links'. Plain data: serialise it with System.Text.Json.
/// </summary>
/// <param name="Transformation">The transformation's structure (<see cref="GradientTransformation.Name"/>).</param>
/// <param name="StepCount">Steps taken by the optimizer.</param>
/// <param name="State">The state's scalars, e.g. <c>[{"WeightDecay":0}, {"Momentum":0.9,"Dampening":0,"Step":5,"HasMomentumBuffer":true}, {"Constant":0.1,"Step":5}]</c> for SGD.</param>
internal sealed record OptimizerScalars(string Transformation, long StepCount, JsonElement State);

/// <summary>
/// PyTorch's optimizer face over a gradient transformation bound to parameters, for the
/// tutorial's loop: <c>loss.backward(); optimizer.Step(); optimizer.ZeroGrad();</c>. The state is
/// explicit and exposed for checkpoints, and hyperparameters are adjustable while training.
/// </summary>
/// <example>
/// <code>
/// using var optimizer = Optimizers.Sgd(1e-3).Bind(model);
/// using (var scope = torch.NewDisposeScope()) {
///     var loss = lossFn(model.call(x), y);
///     loss.backward();
///     optimizer.Step();
///     optimizer.ZeroGrad();
/// }
/// </code>
/// </example>
public sealed class Optimizer : IDisposable
{
    readonly Parameter[] parameters;
    bool disposed;

    /// <summary>Binds <paramref name="transformation"/> to <paramref name="parameters"/> and initialises its state.</summary>
    /// <exception cref="ArgumentException">A parameter is null or appears twice.</exception>
    public Optimizer(GradientTransformation transformation, IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(transformation);
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = parameters.ToArray();
        for (var i = 0; i < this.parameters.Length; i++)
            if (this.parameters[i] is null) throw new ArgumentException($"Parameter {i} is null.", nameof(parameters));
        if (this.parameters.Distinct(ReferenceEqualityComparer.Instance).Count() != this.parameters.Length)
            throw new ArgumentException("A parameter appears twice; pass each once (module.parameters() does).", nameof(parameters));
        Transformation = transformation;
        State = transformation.Init(this.parameters);
    }

    /// <summary>Binds <paramref name="transformation"/> to the parameters of <paramref name="module"/>.</summary>
    public Optimizer(GradientTransformation transformation, nn.Module module)
        : this(transformation, (module ?? throw new ArgumentNullException(nameof(module))).parameters()) { }

    /// <summary>The transformation that turns gradients into updates.</summary>
    public GradientTransformation Transformation { get; }

    /// <summary>The parameters updated by <see cref="Step"/>, in order.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>The transformation's state, of the transformation's own type (for a chain, every built-in
    /// optimizer, the list of its links' states), updated in place by each step; <see cref="StateOf{T}"/> finds a link's.</summary>
    public TransformState State { get; }

    /// <summary>The number of <see cref="Step"/> calls made (or loaded from a checkpoint).</summary>
    public long StepCount { get; internal set; }

    /// <summary>
    /// Updates every parameter in place from its gradient: one dispose scope and <c>no_grad</c> for
    /// the whole step, so no graph is built and no tensor outlives the step. A parameter without a
    /// gradient is updated as if its gradient were zero (momentum and decay still act), where
    /// PyTorch skips it; a frozen parameter (<c>requires_grad</c> false) is left unchanged.
    /// </summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gradients = new Tensor[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
            gradients[i] = parameters[i].grad ?? zeros_like(parameters[i]);
        // The updates come as (values, scale): the final multiplication by -learningRate is only a
        // scale, so it is fused into the one in-place add below, however the chain is nested.
        var updates = Transformation.Update(Updates.Wrap(gradients), State, parameters);
        var values = updates.Values;
        for (var i = 0; i < parameters.Length; i++)
            if (parameters[i].requires_grad) parameters[i].AddInPlace(values[i], updates.Scale);
        StepCount++;
    }

    /// <summary>Clears the gradients before the next backward pass; by default sets them to none, as PyTorch 2 does.</summary>
    /// <param name="setToNone">False zeroes the gradient tensors in place instead of dropping them.</param>
    public void ZeroGrad(bool setToNone = true)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            if (grad is null) continue;
            if (setToNone) p.grad = null;
            else grad.zero_();
        }
    }

    /// <summary>
    /// The first state of type <typeparamref name="T"/> in the transformation's state (depth first
    /// through chains): the typed way to read and adjust a link's hyperparameters while training,
    /// e.g. <c>optimizer.StateOf&lt;TraceState&gt;().Momentum = 0.9</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No link keeps a <typeparamref name="T"/>; the message lists the states there are.</exception>
    public T StateOf<T>() where T : TransformState
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var all = State.SelfAndLinks().ToList();
        return all.OfType<T>().FirstOrDefault()
            ?? throw new InvalidOperationException(
                $"{Transformation.Name} keeps no {typeof(T).Name}; its states are {string.Join(", ", all.Select(s => s.GetType().Name))}.");
    }

    /// <summary>
    /// The learning rate of the (first) <see cref="Optimizers.ScaleByLearningRate"/> link, a constant or
    /// a schedule; setting it takes effect at the next step. A constant may be replaced by a constant or
    /// a schedule, a schedule by a schedule; assigning a constant while a schedule drives the rate is an
    /// error . For the number, read <see cref="CurrentLearningRate"/>.
    /// </summary>
    /// <example><c>optimizer.LearningRate = 1e-4;</c> or <c>optimizer.LearningRate = Schedules.Cosine(1e-3, 1000);</c></example>
    /// <exception cref="InvalidOperationException">The transformation has no learning-rate link, or a constant is assigned while a schedule drives the rate.</exception>
    public LearningRate LearningRate
    {
        get => StateOf<ScaleByLearningRateState>().LearningRate;
        set => StateOf<ScaleByLearningRateState>().LearningRate = value;
    }

    /// <summary>The learning rate the latest step used (before the first step, the one it will use), as a number: for logging and metrics.</summary>
    /// <exception cref="InvalidOperationException">The transformation has no learning-rate link.</exception>
    public double CurrentLearningRate => StateOf<ScaleByLearningRateState>().Current;

    /// <summary>
    /// The state's tensors by dotted name (<c>1.momentum_buffer.0</c>): the live tensors, to be
    /// written to a checkpoint; do not modify or dispose them.
    /// </summary>
    internal IReadOnlyList<(string Name, Tensor Value)> StateTensors()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return State.NamedTensors().ToList();
    }

    /// <summary>The scalar half of the state (structure, step count, each state's typed scalars as JSON).</summary>
    internal OptimizerScalars StateScalars()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var scalars = State.SaveScalars();
        return new OptimizerScalars(Transformation.Name, StepCount, JsonSerializer.SerializeToElement(scalars, scalars?.GetType() ?? typeof(object), SavedState.Strict));
    }

    /// <summary>
    /// Restores what <see cref="StateScalars"/> and <see cref="StateTensors"/> saved: hyperparameters as
    /// adjusted, counters, and the tensors' values (copied into the optimizer's own tensors, on its
    /// device). Everything is checked first (the structure, each state's scalars, every tensor's name
    /// and shape), so a load either restores the whole state or changes nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The saved state is of another structure, or names are missing, unexpected or mis-shaped; the message lists them.</exception>
    internal void LoadState(OptimizerScalars scalars, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        ArgumentNullException.ThrowIfNull(scalars);
        ArgumentNullException.ThrowIfNull(tensors);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (scalars.Transformation != Transformation.Name)
            throw new ArgumentException(
                $"The saved optimizer state is for {scalars.Transformation}, this optimizer is {Transformation.Name}; build it as it was when saved.", nameof(scalars));
        if (scalars.StepCount < 0)
            throw new ArgumentException($"The saved step count is {scalars.StepCount}, not a count.", nameof(scalars));
        var given = new Dictionary<string, Tensor>();
        var duplicates = new List<string>();
        foreach (var (name, value) in tensors)
            if (!given.TryAdd(name, value)) duplicates.Add($"'{name}' given twice");
        var source = new SavedState.Source(given, parameters);
        source.Problems.AddRange(duplicates);
        Action? load = null;
        try { load = State.PrepareLoad(new SavedState(source, scalars.State, "")); }
        catch (ArgumentException e) { source.Problems.Add(e.Message); }
        source.Problems.AddRange(given.Keys.Where(k => !source.Read.Contains(k)).Select(k => $"unexpected '{k}'"));
        if (source.Problems.Count > 0 || load is null)
            throw new ArgumentException(
                $"The saved optimizer state does not fit {Transformation.Name}: {string.Join("; ", source.Problems)}. Build the optimizer as it was when saved.",
                nameof(tensors));
        using (no_grad()) load();
        StepCount = scalars.StepCount;
    }

    /// <summary>Frees the state's buffers (not the parameters, which belong to the model).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        State.Dispose();
    }
}
