using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// <see cref="Optimizer.Step"/> without the temporaries: the same arithmetic, in the same order, on
/// buffers made once, for the fused training step. It reads gradients from tensors it is given
/// (not from <c>.grad</c>) and updates the optimizer's own state (momentum buffers, Adam's moments,
/// step counters, the learning-rate schedule's step, <see cref="Optimizer.StepCount"/>) and the
/// parameters in place, so that a checkpoint, a hyperparameter adjusted while training, or a later
/// <see cref="Optimizer.Step"/> sees exactly what the library's own step would have left.
/// </summary>
/// <remarks>
/// <para>The built-in links (<see cref="Optimizers.AddDecayedWeights"/>, <see cref="Optimizers.Trace"/>,
/// <see cref="Optimizers.ScaleByAdam"/>, <see cref="Optimizers.Scale"/>,
/// <see cref="Optimizers.ScaleByLearningRate"/>, <see cref="Optimizers.Identity"/>, chains of them at
/// any nesting: SGD with momentum, dampening, Nesterov and weight decay, Adam, AdamW, AMSGrad) run
/// in place. Any other link (gradient clipping, a user's transformation) runs through its own
/// <see cref="GradientTransformation.Update"/> inside the step's dispose scope, so every optimizer is
/// covered and equal; only those links allocate per step.</para>
/// <para>Hyperparameters are read from the states at every step, as the library's links read them.</para>
/// </remarks>
internal sealed class FusedUpdate : IDisposable
{
    enum Kind { Identity, Scale, LearningRate, DecayedWeights, Trace, Adam, Delegated }

    readonly record struct Link(Kind Kind, GradientTransformation Transformation, TransformState State);

    readonly Optimizer optimizer;
    readonly Parameter[] parameters;
    readonly Link[] links;
    readonly Tensor[]? scratch;       // the running update when a link computes a new one
    readonly Tensor[]? denominators;  // Adam's sqrt(v)/c2 + eps
    readonly Tensor[] current;
    readonly bool[] writable;         // current[i] is scratch[i] (ours to overwrite), not a gradient or a state buffer
    bool disposed;

    FusedUpdate(Optimizer optimizer, Link[] links)
    {
        this.optimizer = optimizer;
        parameters = optimizer.Parameters.ToArray();
        this.links = links;
        current = new Tensor[parameters.Length];
        writable = new bool[parameters.Length];
        using var _ = no_grad();
        if (links.Any(l => l.Kind is Kind.DecayedWeights or Kind.Trace or Kind.Adam))
            scratch = parameters.Select(p => empty_like(p).DetachFromDisposeScope()).ToArray();
        if (links.Any(l => l.Kind is Kind.Adam))
            denominators = parameters.Select(p => empty_like(p).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>The fused update of <paramref name="optimizer"/>; <see cref="Apply"/> reads the gradient of
    /// parameter <c>i</c> from the <c>i</c>-th tensor it is given (of the parameter's shape, dtype and device).</summary>
    internal static FusedUpdate Create(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var links = new List<Link>();
        Flatten(optimizer.Transformation, optimizer.State, links);
        return new FusedUpdate(optimizer, links.ToArray());
    }

    /// <summary>The links as they run: fused ones by name, delegated ones marked so (for the trainer's summary).</summary>
    internal string Description =>
        string.Join(", ", links.Select(l => l.Kind == Kind.Delegated ? $"{l.Transformation.Name} (its own update)" : l.Transformation.Name));

    /// <summary>Whether every link runs in place (none allocates per step).</summary>
    internal bool FullyFused => links.All(l => l.Kind != Kind.Delegated);

    static void Flatten(GradientTransformation transformation, TransformState state, List<Link> links)
    {
        switch (transformation)
        {
            case Optimizers.ChainTransformation chain when state is ChainState chainState && chainState.Links.Count == chain.Links.Count:
                for (var i = 0; i < chain.Links.Count; i++) Flatten(chain.Links[i], chainState.Links[i], links);
                return;
            default:
                links.Add(new((transformation, state) switch
                {
                    (Optimizers.IdentityTransformation, _) => Kind.Identity,
                    (Optimizers.ScaleTransformation, ScaleState) => Kind.Scale,
                    (Optimizers.ScaleByLearningRateTransformation, ScaleByLearningRateState) => Kind.LearningRate,
                    (Optimizers.AddDecayedWeightsTransformation, AddDecayedWeightsState) => Kind.DecayedWeights,
                    (Optimizers.TraceTransformation, TraceState) => Kind.Trace,
                    (Optimizers.ScaleByAdamTransformation, AdamState) => Kind.Adam,
                    _ => Kind.Delegated,
                }, transformation, state));
                return;
        }
    }

    /// <summary>
    /// Whether this step's update is the gradient times a number, <c>p += s·g</c>: every link is a scale, the
    /// learning rate, or a weight decay or momentum that is 0 now (plain SGD). Then <see cref="BeginPlainStep"/>
    /// gives <c>s</c>, and the caller may fold the update into the product that makes <c>g</c>
    /// (<c>W.addmm_(dZᵀ, X, beta: 1, alpha: s)</c>), with no gradient buffer and no pass over the parameters.
    /// Read at each step: a momentum or weight decay set later turns it off.
    /// </summary>
    internal bool IsPlain
    {
        get
        {
            foreach (var link in links)
            {
                switch (link.Kind)
                {
                    case Kind.Identity or Kind.Scale or Kind.LearningRate: break;
                    case Kind.DecayedWeights when ((AddDecayedWeightsState)link.State).WeightDecay == 0: break;
                    case Kind.Trace when ((TraceState)link.State).Momentum == 0: break;
                    default: return false;
                }
            }
            return true;
        }
    }

    /// <summary>
    /// For an <see cref="IsPlain"/> update: advances the optimizer as <see cref="Apply"/> would (the learning
    /// rate's schedule, <see cref="Optimizer.StepCount"/>) and returns the scale <c>s</c> of <c>p += s·g</c>, which
    /// the caller then applies to every parameter, with the gradients of this step.
    /// </summary>
    internal double BeginPlainStep()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ObjectDisposedException.ThrowIf(optimizer.State.IsDisposed, optimizer);
        var scale = 1.0;
        foreach (var link in links)
        {
            if (link.Kind == Kind.Scale) scale = Scaled(scale, ((ScaleState)link.State).Factor);
            else if (link.Kind == Kind.LearningRate) scale = Scaled(scale, -((ScaleByLearningRateState)link.State).Advance());
        }
        optimizer.StepCount++;
        return scale;
    }

    /// <summary>
    /// One optimizer step from <paramref name="gradients"/> (one per parameter, in the optimizer's order, of
    /// the parameters' shapes): what <see cref="Optimizer.Step"/> does with those gradients in <c>.grad</c>,
    /// value for value.
    /// </summary>
    internal void Apply(IReadOnlyList<Tensor> gradients)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ObjectDisposedException.ThrowIf(optimizer.State.IsDisposed, optimizer);
        using var scope = NewDisposeScope();    // only delegated links make tensors here
        using var _ = no_grad();
        var n = parameters.Length;
        for (var i = 0; i < n; i++)
        {
            current[i] = gradients[i];
            writable[i] = false;
        }
        var scale = 1.0;
        foreach (var link in links)
        {
            switch (link.Kind)
            {
                case Kind.Identity:
                    break;
                case Kind.Scale:
                    scale = Scaled(scale, ((ScaleState)link.State).Factor);
                    break;
                case Kind.LearningRate:
                    scale = Scaled(scale, -((ScaleByLearningRateState)link.State).Advance());
                    break;
                case Kind.DecayedWeights:
                {
                    var wd = ((AddDecayedWeightsState)link.State).WeightDecay;
                    if (wd == 0) break;
                    // The library adds to a fresh tensor (its own materialised one, or a new one): one
                    // add of the same operands, here into the scratch buffer.
                    Materialize(ref scale);
                    for (var i = 0; i < n; i++) Writable(i).AddInPlace(parameters[i], wd);
                    break;
                }
                case Kind.Trace:
                {
                    var state = (TraceState)link.State;
                    var mu = state.Momentum;
                    if (mu == 0) break;
                    Materialize(ref scale);
                    var buffer = state.Buffer;
                    if (buffer is null) buffer = state.StartBuffer(current);
                    else
                    {
                        var damp = state.Dampening;
                        for (var i = 0; i < n; i++) buffer[i].MulInPlace(mu).AddInPlace(current[i], 1 - damp);
                    }
                    for (var i = 0; i < n; i++)
                    {
                        if (state.Nesterov) Writable(i).AddInPlace(buffer[i], mu);
                        else
                        {
                            current[i] = buffer[i];
                            writable[i] = false;
                        }
                    }
                    state.Step++;
                    break;
                }
                case Kind.Adam:
                {
                    var state = (AdamState)link.State;
                    var (b1, b2, e) = (state.Beta1, state.Beta2, state.Eps);
                    var step = ++state.Step;
                    var correction1 = 1 - Math.Pow(b1, step);
                    var correction2 = Math.Sqrt(1 - Math.Pow(b2, step));
                    var (m, v, vmax) = (state.M, state.V, state.VMax);
                    Materialize(ref scale);
                    for (var i = 0; i < n; i++)
                    {
                        var g = current[i];
                        m[i].MulInPlace(b1).AddInPlace(g, 1 - b1);
                        v[i].MulInPlace(b2).AddcmulInPlace(g, g, 1 - b2);
                        var second = v[i];
                        if (vmax is not null)
                        {
                            vmax[i].clamp_(min: v[i]);     // maximum(vmax, v), in place
                            second = vmax[i];
                        }
                        var denominator = denominators![i].copy_(second).sqrt_().DivInPlace(correction2).AddInPlace(e);
                        // g is no longer needed: the result may take its place.
                        scratch![i].copy_(m[i]).div_(denominator).DivInPlace(correction1);
                        current[i] = scratch[i];
                        writable[i] = true;
                    }
                    break;
                }
                default:
                {
                    var result = link.Transformation.Update(new Updates(current, scale), link.State, parameters);
                    for (var i = 0; i < n; i++)
                    {
                        current[i] = result.Values[i];
                        writable[i] = false;
                    }
                    scale = result.Scale;
                    break;
                }
            }
        }
        for (var i = 0; i < n; i++)
            if (parameters[i].requires_grad) parameters[i].AddInPlace(current[i], scale);
        optimizer.StepCount++;
    }

    /// <summary>The update of parameter <paramref name="i"/> in the scratch buffer, copied there first
    /// when it is a gradient or a state's buffer (which a link must not change).</summary>
    Tensor Writable(int i)
    {
        if (!writable[i])
        {
            scratch![i].copy_(current[i]);
            current[i] = scratch[i];
            writable[i] = true;
        }
        return current[i];
    }

    /// <summary>What <see cref="Updates.MaterializeForLink"/> does before a link reads the values:
    /// <c>scale·values</c> when the scale is not 1 (here into the scratch buffers), then scale 1.</summary>
    void Materialize(ref double scale)
    {
        if (scale == 1) return;
        for (var i = 0; i < current.Length; i++) Writable(i).MulInPlace(scale);
        scale = 1;
    }

    /// <summary><see cref="Updates.Scaled"/>'s arithmetic and check.</summary>
    static double Scaled(double scale, double factor)
    {
        var result = scale * factor;
        if (!double.IsFinite(result)) throw new ArgumentException($"The scale of updates must be finite, found {result}.", nameof(factor));
        return result;
    }

    /// <summary>Frees the scratch buffers (not the gradients, the parameters or the optimizer's state).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var t in scratch ?? []) t.Dispose();
        foreach (var t in denominators ?? []) t.Dispose();
    }
}
