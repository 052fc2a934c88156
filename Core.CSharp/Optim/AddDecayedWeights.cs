using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Adds <c>weightDecay·θ</c> to the updates. Before the optimizer's scaling it is PyTorch's
    /// (coupled) L2 <c>weight_decay</c> of SGD and Adam; after Adam's scaling it is AdamW's
    /// decoupled decay. At 0 the updates pass through untouched (no copy), and the weight decay
    /// stays adjustable while training (<see cref="AddDecayedWeightsState.WeightDecay"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The weight decay is negative or not finite.</exception>
    public static GradientTransformation AddDecayedWeights(double weightDecay)
    {
        AddDecayedWeightsState.Check(weightDecay, nameof(weightDecay));
        return new AddDecayedWeightsTransformation(weightDecay);
    }

    internal sealed class AddDecayedWeightsTransformation(double weightDecay) : GradientTransformation<AddDecayedWeightsState>("addDecayedWeights")
    {
        protected override AddDecayedWeightsState InitCore(IReadOnlyList<Tensor> parameters) => new(weightDecay);

        protected override Updates UpdateCore(Updates updates, AddDecayedWeightsState state, IReadOnlyList<Tensor> parameters)
        {
            GradientTransformation.CheckShapes(Name, updates.Values, parameters);
            var wd = state.WeightDecay;
            if (wd == 0) return updates;
            var (values, fresh) = updates.MaterializeForLink();
            var result = new Tensor[values.Count];
            for (var i = 0; i < result.Length; i++)
                result[i] = fresh ? values[i].AddInPlace(parameters[i], wd) : values[i].Plus(parameters[i], wd);
            return new Updates(result);
        }
    }
}

/// <summary>The state of <see cref="Optimizers.AddDecayedWeights"/>: the weight decay, adjustable while training.</summary>
public sealed class AddDecayedWeightsState : TransformState
{
    double weightDecay;

    internal AddDecayedWeightsState(double weightDecay) => this.weightDecay = weightDecay;

    /// <summary>The factor of the parameters added to the next updates; 0 turns the decay off at no cost.</summary>
    /// <exception cref="ArgumentException">The value is negative or not finite.</exception>
    public double WeightDecay
    {
        get => weightDecay;
        set => weightDecay = Check(value, nameof(value));
    }

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new SingleSetting.Saved(weightDecay);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved) => SingleSetting.PrepareLoad(saved, Check, v => weightDecay = v);

    internal static double Check(double weightDecay, string paramName) =>
        weightDecay >= 0 && double.IsFinite(weightDecay) ? weightDecay
            : throw new ArgumentException($"Weight decay must be finite and >= 0, found {weightDecay}.", paramName);
}
