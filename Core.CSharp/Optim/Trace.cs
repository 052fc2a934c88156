using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Momentum as PyTorch's SGD keeps it: the buffer starts as the gradient of the first update
    /// made with momentum, then <c>buf = momentum·buf + (1 - dampening)·g</c>; the update is
    /// <c>buf</c>, or <c>g + momentum·buf</c> with Nesterov. At momentum 0 the updates pass through
    /// untouched (no copy, no buffer), so SGD always carries this link and its momentum can be
    /// raised later (<see cref="TraceState.Momentum"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Momentum is negative, or Nesterov is asked with no momentum or with dampening (as PyTorch refuses).</exception>
    public static GradientTransformation Trace(double momentum, double dampening = 0, bool nesterov = false)
    {
        TraceState.Check(momentum, dampening, nesterov, nameof(momentum));
        return new TraceTransformation(momentum, dampening, nesterov);
    }

    internal sealed class TraceTransformation(double momentum, double dampening, bool nesterov)
        : GradientTransformation<TraceState>($"trace(nesterov={(nesterov ? "True" : "False")})")
    {
        protected override TraceState InitCore(IReadOnlyList<Tensor> parameters) => new(momentum, dampening, nesterov);

        protected override Updates UpdateCore(Updates updates, TraceState state, IReadOnlyList<Tensor> parameters)
        {
            GradientTransformation.CheckShapes(Name, updates.Values, parameters);
            var mu = state.Momentum;
            if (mu == 0) return updates;
            var (g, fresh) = updates.MaterializeForLink();
            var buffer = state.Buffer;
            var result = new Tensor[g.Count];
            if (buffer is null)
            {
                buffer = state.StartBuffer(g);
                for (var i = 0; i < result.Length; i++)
                    result[i] = state.Nesterov ? g[i].Plus(buffer[i], mu) : buffer[i].alias();
            }
            else
            {
                var damp = state.Dampening;
                for (var i = 0; i < result.Length; i++)
                {
                    buffer[i].MulInPlace(mu).AddInPlace(g[i], 1 - damp);
                    result[i] = state.Nesterov ? g[i].Plus(buffer[i], mu) : buffer[i].alias();
                }
            }
            if (fresh) foreach (var t in g) t.Dispose();
            state.Step++;
            return new Updates(result);
        }
    }
}

/// <summary>
/// The state of <see cref="Optimizers.Trace"/>: the momentum buffers (PyTorch's <c>momentum_buffer</c>,
/// none until the first update made with momentum), the momentum and dampening, adjustable while
/// training, and the number of updates made with momentum.
/// </summary>
public sealed class TraceState : TransformState
{
    const string BufferName = "momentum_buffer";
    double momentum;
    double dampening;

    internal TraceState(double momentum, double dampening, bool nesterov)
    {
        this.momentum = momentum;
        this.dampening = dampening;
        Nesterov = nesterov;
    }

    /// <summary>
    /// The momentum of the next updates. At 0 updates pass through untouched and the buffers are left as
    /// they are; from 0 to a positive value, the buffer starts as PyTorch's does, from the gradient of
    /// that update (or resumes the buffer kept from earlier momentum, as PyTorch's does).
    /// </summary>
    /// <exception cref="ArgumentException">The value is negative or not finite, or 0 with Nesterov.</exception>
    public double Momentum
    {
        get => momentum;
        set => momentum = Check(value, dampening, Nesterov, nameof(value)).Momentum;
    }

    /// <summary>The dampening of the next updates: the gradient enters the buffer with weight <c>1 - Dampening</c>.</summary>
    /// <exception cref="ArgumentException">The value is not finite, or not 0 with Nesterov.</exception>
    public double Dampening
    {
        get => dampening;
        set => dampening = Check(momentum, value, Nesterov, nameof(value)).Dampening;
    }

    /// <summary>Whether the update is Nesterov's <c>g + momentum·buf</c>; part of the structure, so fixed.</summary>
    public bool Nesterov { get; }

    /// <summary>The number of updates made with momentum.</summary>
    public long Step { get; internal set; }

    /// <summary>The momentum buffers, one per parameter, or null before the first update made with momentum.</summary>
    public IReadOnlyList<Tensor>? MomentumBuffer => Buffer;

    internal Tensor[]? Buffer { get; private set; }

    /// <summary>PyTorch's start: a copy of the gradient.</summary>
    internal Tensor[] StartBuffer(IReadOnlyList<Tensor> gradients) => Buffer = Own(gradients.Select(g => g.clone()));

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor Value)> NamedTensors() => Named(BufferName, Buffer);

    sealed record Saved(double Momentum, double Dampening, long Step, bool HasMomentumBuffer);

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new Saved(momentum, dampening, Step, Buffer is not null);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var s = saved.Scalars<Saved>();
        Check(s.Momentum, s.Dampening, Nesterov, nameof(saved));
        if (s.Step < 0) throw new ArgumentException($"{saved.Where}: the saved step is {s.Step}, not a count.", nameof(saved));
        var buffer = s.HasMomentumBuffer ? saved.PerParameter(BufferName) : null;
        var parameters = saved.Parameters;
        return () =>
        {
            (momentum, dampening, Step) = (s.Momentum, s.Dampening, s.Step);
            if (buffer is null)
            {
                Free(Buffer);
                Buffer = null;
            }
            else Buffer = CopyInto(Buffer, buffer, parameters);
        };
    }

    /// <summary>Frees the momentum buffers.</summary>
    protected override void FreeTensors() => Free(Buffer);

    internal static (double Momentum, double Dampening) Check(double momentum, double dampening, bool nesterov, string paramName)
    {
        if (!(momentum >= 0) || !double.IsFinite(momentum)) throw new ArgumentException($"Momentum must be finite and >= 0, found {momentum}.", paramName);
        if (!double.IsFinite(dampening)) throw new ArgumentException($"Dampening must be finite, found {dampening}.", paramName);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"Nesterov momentum needs momentum > 0 and dampening 0, found momentum {momentum}, dampening {dampening}.", paramName);
        return (momentum, dampening);
    }
}
