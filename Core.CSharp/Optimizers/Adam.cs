using static TorchSharp.torch;

namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Adam's scaling, as in PyTorch: moments <c>m = β1·m + (1-β1)·g</c>, <c>v = β2·v + (1-β2)·g²</c>
    /// and the update <c>(m / (1-β1ᵗ)) / (sqrt(v) / sqrt(1-β2ᵗ) + ε)</c>; with
    /// <paramref name="amsgrad"/>, the running maximum of v is used instead of v.
    /// </summary>
    /// <exception cref="ArgumentException">A beta is outside [0, 1) or eps is negative.</exception>
    public static GradientTransformation ScaleByAdam(double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, bool amsgrad = false)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentException($"beta1 must be in [0, 1), found {beta1}.", nameof(beta1));
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentException($"beta2 must be in [0, 1), found {beta2}.", nameof(beta2));
        if (!(eps >= 0)) throw new ArgumentException($"eps must be >= 0, found {eps}.", nameof(eps));
        return new GradientTransformation(
            $"scaleByAdam(amsgrad={(amsgrad ? "True" : "False")})",
            parameters =>
            {
                var s = new TransformState();
                s.AddBuffer("exp_avg", ZerosLike(parameters));
                s.AddBuffer("exp_avg_sq", ZerosLike(parameters));
                if (amsgrad) s.AddBuffer("max_exp_avg_sq", ZerosLike(parameters));
                s.AddScalar("beta1", beta1, ScalarKind.Hyperparameter);
                s.AddScalar("beta2", beta2, ScalarKind.Hyperparameter);
                s.AddScalar("eps", eps, ScalarKind.Hyperparameter);
                s.AddScalar("step", 0, ScalarKind.Counter);
                return s;
            },
            (updates, state, parameters) =>
            {
                GradientTransformation.CheckShapes("scaleByAdam", updates, parameters);
                var b1 = state["beta1"];
                var b2 = state["beta2"];
                var e = state["eps"];
                var step = state["step"] + 1;
                state["step"] = step;
                var correction1 = 1 - Math.Pow(b1, step);
                var correction2 = Math.Sqrt(1 - Math.Pow(b2, step));
                var m = state.Buffer("exp_avg");
                var v = state.Buffer("exp_avg_sq");
                var vmax = amsgrad ? state.Buffer("max_exp_avg_sq") : null;
                var result = new Tensor[updates.Count];
                for (var i = 0; i < updates.Count; i++)
                {
                    var g = updates[i];
                    m[i].mul_(b1).add_(g, alpha: 1 - b1);
                    v[i].mul_(b2).addcmul_(g, g, value: 1 - b2);
                    Tensor second = v[i];
                    if (vmax is not null)
                    {
                        using var max = maximum(vmax[i], v[i]);
                        vmax[i].copy_(max);
                        second = vmax[i];
                    }
                    using var denominator = second.sqrt().div_(correction2).add_(e);
                    result[i] = m[i].div(denominator).div_(correction1);
                }
                return result;
            });
    }

    /// <summary>
    /// Adam as PyTorch's <c>torch.optim.Adam</c>: L2 weight decay added to the gradient (coupled),
    /// Adam's scaling, then <c>-learningRate·update</c>. For decoupled decay use <see cref="AdamW(double, double, double, double, double, bool)"/>.
    /// </summary>
    public static GradientTransformation Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false) =>
        Adam(ScaleByLearningRate(learningRate), beta1, beta2, eps, weightDecay, amsgrad);

    /// <summary>Adam whose learning rate follows a schedule of the step number.</summary>
    public static GradientTransformation Adam(Schedule learningRate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false) =>
        Adam(ScaleByLearningRate(learningRate), beta1, beta2, eps, weightDecay, amsgrad);

    static GradientTransformation Adam(GradientTransformation scale, double beta1, double beta2, double eps, double weightDecay, bool amsgrad)
    {
        if (weightDecay < 0) throw new ArgumentException($"Weight decay must be >= 0, found {weightDecay}.", nameof(weightDecay));
        var links = new List<GradientTransformation>();
        if (weightDecay != 0) links.Add(AddDecayedWeights(weightDecay));
        links.Add(ScaleByAdam(beta1, beta2, eps, amsgrad));
        links.Add(scale);
        return Chain(links);
    }

    /// <summary>
    /// AdamW as PyTorch's <c>torch.optim.AdamW</c>: Adam's scaling, then the decoupled weight
    /// decay <c>+ weightDecay·θ</c>, then <c>-learningRate·update</c>, i.e. the optax chain
    /// <c>ScaleByAdam, AddDecayedWeights, ScaleByLearningRate</c>. The default decay 0.01 is PyTorch's.
    /// </summary>
    public static GradientTransformation AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01, bool amsgrad = false) =>
        AdamW(ScaleByLearningRate(learningRate), beta1, beta2, eps, weightDecay, amsgrad);

    /// <summary>AdamW whose learning rate follows a schedule of the step number (the decay is scaled by it too, as in PyTorch).</summary>
    public static GradientTransformation AdamW(Schedule learningRate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01, bool amsgrad = false) =>
        AdamW(ScaleByLearningRate(learningRate), beta1, beta2, eps, weightDecay, amsgrad);

    static GradientTransformation AdamW(GradientTransformation scale, double beta1, double beta2, double eps, double weightDecay, bool amsgrad) =>
        Chain(ScaleByAdam(beta1, beta2, eps, amsgrad), AddDecayedWeights(weightDecay), scale);
}
