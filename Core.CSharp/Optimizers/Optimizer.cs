using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Optimizers;

/// <summary>
/// The scalar half of an optimizer's state, for checkpoints (the tensor half is
/// <see cref="Optimizer.StateTensors"/>): which transformation, how many steps, and every named
/// scalar (hyperparameters as adjusted, counters). Plain data: serialise it with System.Text.Json.
/// </summary>
/// <param name="Transformation">The transformation's structure (<see cref="GradientTransformation.Name"/>).</param>
/// <param name="StepCount">Steps taken by the optimizer.</param>
/// <param name="Scalars">Every scalar of the state by dotted name (<c>2.learning_rate</c>).</param>
public sealed record OptimizerScalars(string Transformation, long StepCount, IReadOnlyDictionary<string, double> Scalars);

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

    /// <summary>The transformation's state (buffers and scalars), updated in place by each step.</summary>
    public TransformState State { get; }

    /// <summary>The number of <see cref="Step"/> calls made (or loaded from a checkpoint).</summary>
    public long StepCount { get; private set; }

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
        // The final multiplication by -learningRate is fused into the parameter update when the
        // transformation ends with a learning-rate link (every built-in optimizer does).
        IReadOnlyList<Tensor> updates;
        var alpha = 1.0;
        if (Transformation.StepFactor is { } factor)
        {
            updates = gradients;
            alpha = factor(State);
        }
        else if (Transformation.Links is { Count: > 0 } links && links[^1].StepFactor is { } lastFactor)
        {
            updates = Optimizers.RunLinks(links, State.Children, links.Count - 1, gradients, parameters);
            alpha = lastFactor(State.Children[^1]);
        }
        else
        {
            updates = Transformation.Update(gradients, State, parameters);
        }
        for (var i = 0; i < parameters.Length; i++)
            if (parameters[i].requires_grad) parameters[i].add_(updates[i], alpha: alpha);
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
    /// The learning rate of the (first) learning-rate link. Setting it takes effect at the next
    /// step; it cannot be set when a schedule drives the rate.
    /// </summary>
    /// <exception cref="InvalidOperationException">The transformation has no learning rate, or a schedule sets it.</exception>
    public double LearningRate
    {
        get => FindScalar("learning_rate").Value;
        set => SetHyperparameter("learning_rate", value);
    }

    /// <summary>The adjustable hyperparameters by dotted name, e.g. <c>1.momentum</c>, <c>2.learning_rate</c>.</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters =>
        State.NamedScalars().Where(s => s.Kind == ScalarKind.Hyperparameter).ToDictionary(s => s.Name, s => s.Value);

    /// <summary>
    /// Changes a hyperparameter while training, found by its dotted name or, if unambiguous, by its
    /// last part (<c>momentum</c>; the first match when several links have it, e.g. <c>learning_rate</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">No such hyperparameter, or it is a counter or derived from a schedule.</exception>
    public void SetHyperparameter(string name, double value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(disposed, this);
        var (fullName, _, kind) = FindScalar(name);
        if (kind != ScalarKind.Hyperparameter)
            throw new InvalidOperationException(kind == ScalarKind.Derived
                ? $"'{fullName}' follows a schedule in {Transformation.Name}; build the optimizer with a constant learning rate to set it by hand."
                : $"'{fullName}' is a counter kept by {Transformation.Name}, not a hyperparameter.");
        State.SetNamedScalar(fullName, value);
    }

    (string Name, double Value, ScalarKind Kind) FindScalar(string name)
    {
        var all = State.NamedScalars().ToList();
        foreach (var s in all) if (s.Name == name) return s;
        foreach (var s in all) if (s.Name.EndsWith("." + name, StringComparison.Ordinal)) return s;
        throw new InvalidOperationException(
            $"{Transformation.Name} has no '{name}'; it has {string.Join(", ", all.Select(s => s.Name))}.");
    }

    /// <summary>
    /// The state's tensors by dotted name (<c>1.momentum_buffer.0</c>): the live tensors, to be
    /// written to a checkpoint; do not modify or dispose them.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Value)> StateTensors()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return State.NamedTensors().ToList();
    }

    /// <summary>
    /// Copies saved state tensors into this optimizer's state (values only; the tensors stay
    /// the optimizer's own, on its device). Every name must be present once with its shape, so a
    /// load either restores the whole state or changes nothing.
    /// </summary>
    /// <exception cref="ArgumentException">Names are missing, unexpected or mis-shaped; the message lists them.</exception>
    public void LoadStateTensors(IEnumerable<(string Name, Tensor Value)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ObjectDisposedException.ThrowIf(disposed, this);
        var given = new Dictionary<string, Tensor>();
        var problems = new List<string>();
        foreach (var (name, value) in tensors)
            if (!given.TryAdd(name, value)) problems.Add($"'{name}' given twice");
        var own = State.NamedTensors().ToList();
        foreach (var (name, value) in own)
        {
            if (!given.TryGetValue(name, out var v)) problems.Add($"missing '{name}'");
            else if (!v.shape.SequenceEqual(value.shape))
                problems.Add($"'{name}' has shape [{string.Join(", ", v.shape)}], expected [{string.Join(", ", value.shape)}]");
        }
        var ownNames = own.Select(o => o.Name).ToHashSet();
        problems.AddRange(given.Keys.Where(k => !ownNames.Contains(k)).Select(k => $"unexpected '{k}'"));
        if (problems.Count > 0)
            throw new ArgumentException(
                $"The saved optimizer state does not fit {Transformation.Name}: {string.Join("; ", problems)}. Build the optimizer as it was when saved.",
                nameof(tensors));
        using var _ = no_grad();
        foreach (var (name, value) in own) value.copy_(given[name]);
    }

    /// <summary>The scalar half of the state (structure, step count, hyperparameters, counters).</summary>
    public OptimizerScalars StateScalars()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return new OptimizerScalars(Transformation.Name, StepCount, State.NamedScalars().ToDictionary(s => s.Name, s => s.Value));
    }

    /// <summary>Restores what <see cref="StateScalars"/> saved, including adjusted hyperparameters.</summary>
    /// <exception cref="ArgumentException">The saved transformation or names differ from this one's.</exception>
    public void LoadStateScalars(OptimizerScalars scalars)
    {
        ArgumentNullException.ThrowIfNull(scalars);
        ArgumentNullException.ThrowIfNull(scalars.Scalars);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (scalars.Transformation != Transformation.Name)
            throw new ArgumentException(
                $"The saved optimizer state is for {scalars.Transformation}, this optimizer is {Transformation.Name}; build it as it was when saved.", nameof(scalars));
        var own = State.NamedScalars().Select(s => s.Name).ToList();
        var missing = own.Where(n => !scalars.Scalars.ContainsKey(n)).ToList();
        var unexpected = scalars.Scalars.Keys.Where(k => !own.Contains(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException(
                $"The saved optimizer scalars do not fit {Transformation.Name}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}].", nameof(scalars));
        foreach (var name in own) State.SetNamedScalar(name, scalars.Scalars[name]);
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
