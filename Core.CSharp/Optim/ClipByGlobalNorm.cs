using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Scales all updates together by <c>min(1, maxNorm / ‖u‖)</c>, where ‖u‖ is the 2-norm of
    /// all of them as one vector (optax's <c>clip_by_global_norm</c>; PyTorch's
    /// <c>clip_grad_norm_</c> without its 1e-6). The factor stays on the device: no host sync.
    /// The incoming scale is kept, not materialised: the norm of <c>s·v</c> is <c>|s|·‖v‖</c>.
    /// </summary>
    /// <exception cref="ArgumentException">maxNorm is not positive.</exception>
    public static GradientTransformation ClipByGlobalNorm(double maxNorm)
    {
        ClipByGlobalNormState.Check(maxNorm, nameof(maxNorm));
        return new ClipByGlobalNormTransformation(maxNorm);
    }

    sealed class ClipByGlobalNormTransformation(double maxNorm) : GradientTransformation<ClipByGlobalNormState>("clipByGlobalNorm")
    {
        protected override ClipByGlobalNormState InitCore(IReadOnlyList<Tensor> parameters) => new(maxNorm);

        protected override Updates UpdateCore(Updates updates, ClipByGlobalNormState state, IReadOnlyList<Tensor> parameters)
        {
            if (updates.Count == 0) return updates;
            var values = updates.Values;
            using var squares = stack(values.Select(u => u.square().sum()).ToArray());
            using var norm = squares.sum().sqrt_();
            if (updates.Scale != 1) norm.MulInPlace(Math.Abs(updates.Scale));
            using var factor = norm.reciprocal().MulInPlace(state.MaxNorm).ClampMaxInPlace(1.0);
            return new Updates(values.Select(u => u.mul(factor.to_type(u.dtype))).ToArray(), updates.Scale);
        }
    }

    /// <summary>The 2-norm of all the tensors as one vector (what <see cref="ClipByGlobalNorm"/> bounds).</summary>
    public static double GlobalNorm(IEnumerable<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var list = tensors.ToArray();
        if (list.Length == 0) return 0;
        return stack(list.Select(u => u.to_type(ScalarType.Float64).square().sum()).ToArray()).sum().sqrt().item<double>();
    }
}

/// <summary>The state of <see cref="Optimizers.ClipByGlobalNorm"/>: the bound, adjustable while training.</summary>
internal sealed class ClipByGlobalNormState : TransformState
{
    double maxNorm;

    internal ClipByGlobalNormState(double maxNorm) => this.maxNorm = maxNorm;

    /// <summary>The largest global 2-norm the next updates may have.</summary>
    /// <exception cref="ArgumentException">The value is not positive and finite.</exception>
    public double MaxNorm
    {
        get => maxNorm;
        set => maxNorm = Check(value, nameof(value));
    }

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new SingleSetting.Saved(maxNorm);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved) => SingleSetting.PrepareLoad(saved, Check, v => maxNorm = v);

    internal static double Check(double maxNorm, string paramName) =>
        maxNorm > 0 && double.IsFinite(maxNorm) ? maxNorm
            : throw new ArgumentException($"maxNorm must be finite and > 0, found {maxNorm}.", paramName);
}
