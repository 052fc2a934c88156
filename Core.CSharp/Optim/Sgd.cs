namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Stochastic gradient descent as PyTorch's <c>torch.optim.SGD</c>: L2 weight decay added to
    /// the gradient, momentum (with dampening, optionally Nesterov), then the step
    /// <c>-learningRate·update</c>. The chain <see cref="AddDecayedWeights"/>, <see cref="Trace"/>,
    /// <see cref="ScaleByLearningRate"/>, always all three: a link at 0 costs nothing, and its
    /// setting can be raised while training (<c>optimizer.StateOf&lt;TraceState&gt;().Momentum = 0.9</c>).
    /// </summary>
    /// <param name="learningRate">A constant (<c>1e-3</c>) or a schedule (<c>Schedules.Cosine(0.1, 1000)</c>).</param>
    /// <param name="momentum">PyTorch's momentum factor.</param>
    /// <param name="dampening">PyTorch's dampening for momentum.</param>
    /// <param name="weightDecay">PyTorch's (coupled) L2 penalty.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum and no dampening).</param>
    /// <example><c>var optimizer = Optimizers.Sgd(1e-3, momentum: 0.9).Bind(model);</c></example>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public static GradientTransformation Sgd(LearningRate learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
    {
        var scale = ScaleByLearningRate(learningRate);
        return Chain(AddDecayedWeights(weightDecay), Trace(momentum, dampening, nesterov), scale);
    }
}
