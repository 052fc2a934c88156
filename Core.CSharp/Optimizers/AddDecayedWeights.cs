namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Adds <c>weightDecay·θ</c> to the updates. Before the optimizer's scaling it is PyTorch's
    /// (coupled) L2 <c>weight_decay</c> of SGD and Adam; after Adam's scaling it is AdamW's
    /// decoupled decay. The weight decay is a hyperparameter, adjustable while training.
    /// </summary>
    /// <exception cref="ArgumentException">The weight decay is negative.</exception>
    public static GradientTransformation AddDecayedWeights(double weightDecay)
    {
        if (!(weightDecay >= 0)) throw new ArgumentException($"Weight decay must be >= 0, found {weightDecay}.", nameof(weightDecay));
        return new GradientTransformation(
            "addDecayedWeights",
            _ =>
            {
                var s = new TransformState();
                s.AddScalar("weight_decay", weightDecay, ScalarKind.Hyperparameter);
                return s;
            },
            (updates, state, parameters) =>
            {
                GradientTransformation.CheckShapes("addDecayedWeights", updates, parameters);
                var wd = state["weight_decay"];
                if (wd == 0) return updates;
                return updates.Select((u, i) => u.add(parameters[i], alpha: wd)).ToList();
            });
    }
}
