using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Multiplies the updates by a factor (no sign change). Only the scale of the
    /// <see cref="Updates"/> changes: no tensor is read or written.
    /// </summary>
    /// <exception cref="ArgumentException">The factor is not finite.</exception>
    public static GradientTransformation Scale(double factor)
    {
        ScaleState.Check(factor, nameof(factor));
        return new ScaleTransformation(factor);
    }

    internal sealed class ScaleTransformation(double factor) : GradientTransformation<ScaleState>("scale")
    {
        protected override ScaleState InitCore(IReadOnlyList<Tensor> parameters) => new(factor);
        protected override Updates UpdateCore(Updates updates, ScaleState state, IReadOnlyList<Tensor> parameters) => updates.Scaled(state.Factor);
    }
}

/// <summary>The state of <see cref="Optimizers.Scale"/>: the factor, adjustable while training.</summary>
internal sealed class ScaleState : TransformState
{
    double factor;

    internal ScaleState(double factor) => this.factor = factor;

    /// <summary>The factor the next updates are multiplied by.</summary>
    /// <exception cref="ArgumentException">The value is not finite.</exception>
    public double Factor
    {
        get => factor;
        set => factor = Check(value, nameof(value));
    }

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new SingleSetting.Saved(factor);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved) => SingleSetting.PrepareLoad(saved, Check, v => factor = v);

    internal static double Check(double factor, string paramName) =>
        double.IsFinite(factor) ? factor : throw new ArgumentException($"The scale factor must be finite, found {factor}.", paramName);
}
