using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// The state of a gradient transformation, as data of its own type: <see cref="TraceState"/> holds
/// the momentum buffers and the momentum, <see cref="AdamState"/> the moments and the betas,
/// <see cref="ScaleByLearningRateState"/> the learning rate, a chain's state the states of its
/// links. Hyperparameters are typed, settable properties that the next update reads, which is
/// how they are adjusted while training: <c>optimizer.StateOf&lt;TraceState&gt;().Momentum = 0.9</c>.
/// </summary>
/// <remarks>
/// <para>A state owns its tensors: they are detached from every dispose scope when made, and
/// <see cref="Dispose"/> frees them.</para>
/// <para>For checkpoints a state lists its tensors under stable names (<see cref="NamedTensors"/>:
/// PyTorch's buffer name and the parameter index, e.g. <c>momentum_buffer.0</c>), gives its scalars as
/// a small JSON-serialisable record (<see cref="SaveScalars"/>), and reads both back through
/// <see cref="PrepareLoad"/>, which checks before it changes anything. A state of your own that holds
/// something a resumed run needs overrides the three; a state with nothing to save needs none of them.</para>
/// </remarks>
public abstract class TransformState : IDisposable
{
    /// <summary>For subclasses: the built-in states and a user's own.</summary>
    protected TransformState() { }

    /// <summary>True once <see cref="Dispose"/> has run; the tensors are gone then.</summary>
    protected internal bool IsDisposed { get; private set; }

    /// <summary>
    /// The state's tensors under stable names (<c>exp_avg.0</c>, <c>momentum_buffer.1</c>; a chain
    /// prefixes its link's index, <c>1.momentum_buffer.0</c>): the live tensors, for a checkpoint to
    /// write; do not modify or dispose them. None by default.
    /// </summary>
    public virtual IEnumerable<(string Name, Tensor Value)> NamedTensors() => [];

    /// <summary>
    /// The state's scalars (hyperparameters as adjusted, counters) as a record that System.Text.Json
    /// serialises, for a checkpoint; null (the default) when there are none.
    /// </summary>
    protected internal virtual object? SaveScalars() => null;

    /// <summary>
    /// Checks that a saved state (what <see cref="SaveScalars"/> and <see cref="NamedTensors"/> wrote)
    /// fits this one and returns the action that loads it, without changing anything itself: an
    /// optimizer runs the actions only when every link's check passed, so a load that does not fit
    /// leaves the whole state as it was. Throw <see cref="ArgumentException"/> (or let
    /// <see cref="SavedState"/> record the problem) to refuse. The default expects no scalars and reads no tensors.
    /// </summary>
    /// <exception cref="ArgumentException">The saved state does not fit; the message says what differs.</exception>
    protected internal virtual Action PrepareLoad(SavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        if (saved.HasScalars)
            throw new ArgumentException($"{saved.Where}: scalars were saved, but a {GetType().Name} has none.", nameof(saved));
        return () => { };
    }

    /// <summary>Frees the state's tensors (for a chain, its links' states). Idempotent.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        FreeTensors();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the tensors the state owns; called once, by <see cref="Dispose"/>.</summary>
    protected virtual void FreeTensors() { }

    /// <summary>Takes ownership of tensors: detaches them from every dispose scope, so that they live
    /// until <see cref="FreeTensors"/> disposes them.</summary>
    protected static Tensor[] Own(IEnumerable<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return tensors.Select(t => t.DetachFromDisposeScope()).ToArray();
    }

    /// <summary>This state and, for a chain, its links' states, depth first (what <see cref="Optimizer.StateOf{T}"/> searches).</summary>
    internal virtual IEnumerable<TransformState> SelfAndLinks() => [this];

    /// <summary>Copies saved per-parameter tensors into <paramref name="own"/> (same shapes), or, when there
    /// is none yet, makes an owned copy on each parameter's device and dtype.</summary>
    internal static Tensor[] CopyInto(Tensor[]? own, IReadOnlyList<Tensor> saved, IReadOnlyList<Tensor> parameters)
    {
        if (own is null) return Own(saved.Select((t, i) => empty_like(parameters[i]).copy_(t)));
        for (var i = 0; i < own.Length; i++) own[i].copy_(saved[i]);
        return own;
    }

    /// <summary>The tensors as names <c>{name}.{index}</c>.</summary>
    internal static IEnumerable<(string Name, Tensor Value)> Named(string name, IReadOnlyList<Tensor>? tensors)
    {
        if (tensors is null) yield break;
        for (var i = 0; i < tensors.Count; i++) yield return ($"{name}.{i}", tensors[i]);
    }

    internal static void Free(Tensor[]? tensors)
    {
        if (tensors is null) return;
        foreach (var t in tensors) t.Dispose();
    }
}

/// <summary>
/// The state of a transformation that keeps none (<see cref="Optimizers.Identity"/>, or one of your
/// own that only maps its input): there is nothing to save or free.
/// </summary>
/// <example><c>GradientTransformation.Create("negate", _ =&gt; new EmptyState(), (u, _, _) =&gt; u.Scaled(-1))</c></example>
public sealed class EmptyState : TransformState
{
}
