using static TorchSharp.torch;

namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Momentum as PyTorch's SGD keeps it: the buffer starts as the first gradient, then
    /// <c>buf = momentum·buf + (1 - dampening)·g</c>; the update is <c>buf</c>, or
    /// <c>g + momentum·buf</c> with Nesterov.
    /// </summary>
    /// <exception cref="ArgumentException">Momentum is negative, or Nesterov is asked with no momentum or with dampening (as PyTorch refuses).</exception>
    public static GradientTransformation Trace(double momentum, double dampening = 0, bool nesterov = false)
    {
        if (momentum < 0) throw new ArgumentException($"Momentum must be >= 0, found {momentum}.", nameof(momentum));
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"Nesterov momentum needs momentum > 0 and dampening 0, found momentum {momentum}, dampening {dampening}.", nameof(nesterov));
        return new GradientTransformation(
            $"trace(nesterov={(nesterov ? "True" : "False")})",
            parameters =>
            {
                var s = new TransformState();
                s.AddBuffer("momentum_buffer", ZerosLike(parameters));
                s.AddScalar("momentum", momentum, ScalarKind.Hyperparameter);
                s.AddScalar("dampening", dampening, ScalarKind.Hyperparameter);
                s.AddScalar("step", 0, ScalarKind.Counter);
                return s;
            },
            (updates, state, parameters) =>
            {
                GradientTransformation.CheckShapes("trace", updates, parameters);
                var mu = state["momentum"];
                var damp = state["dampening"];
                var first = state["step"] == 0;
                var buffers = state.Buffer("momentum_buffer");
                var result = new Tensor[updates.Count];
                for (var i = 0; i < updates.Count; i++)
                {
                    if (first) buffers[i].copy_(updates[i]);
                    else buffers[i].mul_(mu).add_(updates[i], alpha: 1 - damp);
                    result[i] = nesterov ? updates[i].add(buffers[i], alpha: mu) : buffers[i].alias();
                }
                state["step"] += 1;
                return result;
            });
    }

    /// <summary>
    /// Stochastic gradient descent as PyTorch's <c>torch.optim.SGD</c>: L2 weight decay added to
    /// the gradient, momentum (with dampening, optionally Nesterov), then the step
    /// <c>-learningRate·update</c>. A chain of <see cref="AddDecayedWeights"/>, <see cref="Trace"/>
    /// and <see cref="ScaleByLearningRate(double)"/> (the links that do nothing are left out).
    /// </summary>
    /// <example><c>var optimizer = Optimizers.Sgd(1e-3, momentum: 0.9).Bind(model);</c></example>
    public static GradientTransformation Sgd(double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false) =>
        Sgd(ScaleByLearningRate(learningRate), momentum, dampening, weightDecay, nesterov);

    /// <summary>SGD whose learning rate follows <paramref name="learningRate"/>, a schedule of the step number.</summary>
    public static GradientTransformation Sgd(Schedule learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false) =>
        Sgd(ScaleByLearningRate(learningRate), momentum, dampening, weightDecay, nesterov);

    static GradientTransformation Sgd(GradientTransformation scale, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        if (weightDecay < 0) throw new ArgumentException($"Weight decay must be >= 0, found {weightDecay}.", nameof(weightDecay));
        var links = new List<GradientTransformation>();
        if (weightDecay != 0) links.Add(AddDecayedWeights(weightDecay));
        if (momentum != 0 || nesterov) links.Add(Trace(momentum, dampening, nesterov));
        links.Add(scale);
        return Chain(links);
    }
}
