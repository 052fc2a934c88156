using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Multiplies the updates by <c>-learningRate</c>, the last link of every descent optimizer; with
    /// a schedule, by <c>-schedule(step)</c>, where step counts the updates made so far (0 for the
    /// first). Only the scale of the <see cref="Updates"/> changes, so <see cref="Optimizer.Step"/>
    /// fuses the multiplication into the parameter update. The rate is read and set while training
    /// through <see cref="Optimizer.LearningRate"/>.
    /// </summary>
    /// <example><c>Optimizers.ScaleByLearningRate(1e-3)</c>, <c>Optimizers.ScaleByLearningRate(Schedules.Cosine(0.1, 1000))</c></example>
    /// <exception cref="ArgumentException">A constant learning rate is negative or not finite.</exception>
    public static GradientTransformation ScaleByLearningRate(LearningRate learningRate)
    {
        ArgumentNullException.ThrowIfNull(learningRate);
        learningRate.CheckConstant(nameof(learningRate));
        return new ScaleByLearningRateTransformation(learningRate);
    }

    internal sealed class ScaleByLearningRateTransformation(LearningRate learningRate) : GradientTransformation<ScaleByLearningRateState>("scaleByLearningRate")
    {
        protected override ScaleByLearningRateState InitCore(IReadOnlyList<Tensor> parameters) => new(learningRate);

        protected override Updates UpdateCore(Updates updates, ScaleByLearningRateState state, IReadOnlyList<Tensor> parameters) =>
            updates.Scaled(-state.Advance());
    }
}

/// <summary>
/// The state of <see cref="Optimizers.ScaleByLearningRate"/>: the learning rate (a constant or a
/// schedule) and the number of updates made, which is the step a schedule is asked for.
/// </summary>
internal sealed class ScaleByLearningRateState : TransformState
{
    LearningRate learningRate;

    internal ScaleByLearningRateState(LearningRate learningRate) => this.learningRate = learningRate;

    /// <summary>
    /// The learning rate of the next updates. A constant may be replaced by a constant or a schedule,
    /// and a schedule by another schedule (asked for the same step count, not restarted); a constant
    /// may not replace a schedule, since that silently stops the schedule — two things would be setting
    /// the rate. To leave a schedule for a flat rate, assign <c>Schedules.Constant(value)</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A constant is assigned while a schedule drives the rate.</exception>
    /// <exception cref="ArgumentException">The constant is negative or not finite.</exception>
    public LearningRate LearningRate
    {
        get => learningRate;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (learningRate.Schedule is not null && value.Schedule is null)
                throw new InvalidOperationException(
                    $"A schedule drives the learning rate, so the constant {value} would replace it; assign a schedule (Schedules.Constant({value}) for a flat rate) or build the optimizer with a constant learning rate.");
            value.CheckConstant(nameof(value));
            learningRate = value;
        }
    }

    /// <summary>The number of updates made (the step the schedule is asked for next).</summary>
    public long Step { get; private set; }

    /// <summary>The rate of the latest update (before the first, the rate the first will use): the
    /// constant, or the schedule at step <c>max(Step - 1, 0)</c>. For logging.</summary>
    public double Current => learningRate.At(Math.Max(Step - 1, 0));

    /// <summary>The rate for the coming update, advancing the step.</summary>
    internal double Advance()
    {
        var rate = learningRate.At(Step);
        Step++;
        return rate;
    }

    /// <summary>A constant rate is saved (it may have been adjusted); a schedule is code, so only its step is.</summary>
    sealed record Saved(double? Constant, long Step);

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new Saved(learningRate.Value, Step);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var s = saved.Scalars<Saved>();
        if (s.Step < 0) throw new ArgumentException($"{saved.Where}: the saved step is {s.Step}, not a count.", nameof(saved));
        if (s.Constant is null && learningRate.Schedule is null)
            throw new ArgumentException($"{saved.Where}: the learning rate was saved from a schedule, this optimizer's is the constant {learningRate}; build it with the schedule.", nameof(saved));
        if (s.Constant is { } c && learningRate.Schedule is not null)
            throw new ArgumentException($"{saved.Where}: the learning rate was saved as the constant {c}, this optimizer's follows a schedule; build it with a constant.", nameof(saved));
        LearningRate.Constant(s.Constant ?? 0).CheckConstant(nameof(saved));
        return () =>
        {
            if (s.Constant is { } constant) learningRate = LearningRate.Constant(constant);
            Step = s.Step;
        };
    }
}
