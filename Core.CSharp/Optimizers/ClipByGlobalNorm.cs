using static TorchSharp.torch;

namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Scales all updates together by <c>min(1, maxNorm / ‖u‖)</c>, where ‖u‖ is the 2-norm of
    /// all of them as one vector (optax's <c>clip_by_global_norm</c>; PyTorch's
    /// <c>clip_grad_norm_</c> without its 1e-6). The factor stays on the device: no host sync.
    /// </summary>
    /// <exception cref="ArgumentException">maxNorm is not positive.</exception>
    public static GradientTransformation ClipByGlobalNorm(double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentException($"maxNorm must be > 0, found {maxNorm}.", nameof(maxNorm));
        return new GradientTransformation(
            "clipByGlobalNorm",
            _ =>
            {
                var s = new TransformState();
                s.AddScalar("max_norm", maxNorm, ScalarKind.Hyperparameter);
                return s;
            },
            (updates, state, _) =>
            {
                if (updates.Count == 0) return updates;
                var max = state["max_norm"];
                using var squares = stack(updates.Select(u => u.square().sum()).ToArray());
                using var norm = squares.sum().sqrt_();
                using var factor = norm.reciprocal().mul_(max).clamp_max_(1.0);
                return updates.Select(u => u.mul(factor.to_type(u.dtype))).ToList();
            });
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
