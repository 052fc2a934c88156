namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Adam as PyTorch's <c>torch.optim.Adam</c>: L2 weight decay added to the gradient (coupled),
    /// Adam's scaling, then <c>-learningRate·update</c>: the chain <see cref="AddDecayedWeights"/>,
    /// <see cref="ScaleByAdam"/>, <see cref="ScaleByLearningRate"/> (the decay link is there at 0 too,
    /// so that it can be raised while training). For decoupled decay use <see cref="AdamW"/>.
    /// </summary>
    /// <param name="learningRate">A constant or a schedule; null for PyTorch's default, 1e-3.</param>
    /// <param name="beta1">The decay of the first moment.</param>
    /// <param name="beta2">The decay of the second moment.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">PyTorch's (coupled) L2 penalty.</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public static GradientTransformation Adam(LearningRate? learningRate = null, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
    {
        var scale = ScaleByLearningRate(learningRate ?? 1e-3);
        return Chain(AddDecayedWeights(weightDecay), ScaleByAdam(beta1, beta2, eps, amsgrad), scale);
    }

    /// <summary>
    /// AdamW as PyTorch's <c>torch.optim.AdamW</c>: Adam's scaling, then the decoupled weight
    /// decay <c>+ weightDecay·θ</c>, then <c>-learningRate·update</c>, i.e. the optax chain
    /// <c>ScaleByAdam, AddDecayedWeights, ScaleByLearningRate</c>; with a schedule the decay is
    /// scaled by it too, as in PyTorch. The default decay 0.01 is PyTorch's.
    /// </summary>
    /// <param name="learningRate">A constant or a schedule; null for PyTorch's default, 1e-3.</param>
    /// <param name="beta1">The decay of the first moment.</param>
    /// <param name="beta2">The decay of the second moment.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">The decoupled decay.</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public static GradientTransformation AdamW(LearningRate? learningRate = null, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01, bool amsgrad = false)
    {
        var scale = ScaleByLearningRate(learningRate ?? 1e-3);
        return Chain(ScaleByAdam(beta1, beta2, eps, amsgrad), AddDecayedWeights(weightDecay), scale);
    }
}
