namespace Functional.Optimizers;

public static partial class Optimizers
{
    /// <summary>
    /// Multiplies the updates by <c>-learningRate</c>, the last link of every descent optimizer.
    /// The learning rate is a hyperparameter (<c>learning_rate</c>), readable and adjustable while
    /// training through <see cref="Optimizer.LearningRate"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The learning rate is negative or not finite.</exception>
    public static GradientTransformation ScaleByLearningRate(double learningRate)
    {
        CheckLearningRate(learningRate, nameof(learningRate));
        return new GradientTransformation(
            "scaleByLearningRate",
            _ =>
            {
                var s = new TransformState();
                s.AddScalar("learning_rate", learningRate, ScalarKind.Hyperparameter);
                return s;
            },
            (updates, state, _) =>
            {
                var lr = state["learning_rate"];
                return updates.Select(u => u.mul(-lr)).ToList();
            },
            null,
            state => -state["learning_rate"]);
    }

    /// <summary>
    /// Multiplies the updates by <c>-schedule(step)</c>, where step counts the updates made so far
    /// (0 for the first). The current rate is readable as <c>learning_rate</c> but derived: to
    /// change it, change the schedule.
    /// </summary>
    public static GradientTransformation ScaleByLearningRate(Schedule learningRate)
    {
        ArgumentNullException.ThrowIfNull(learningRate);
        return new GradientTransformation(
            "scaleBySchedule",
            _ =>
            {
                var s = new TransformState();
                s.AddScalar("learning_rate", learningRate(0), ScalarKind.Derived);
                s.AddScalar("step", 0, ScalarKind.Counter);
                return s;
            },
            (updates, state, _) =>
            {
                var lr = Advance(state);
                return updates.Select(u => u.mul(-lr)).ToList();
            },
            null,
            state => -Advance(state));

        double Advance(TransformState state)
        {
            var step = (long)state["step"];
            var lr = learningRate(step);
            CheckLearningRate(lr, nameof(learningRate));
            state["learning_rate"] = lr;
            state["step"] = step + 1;
            return lr;
        }
    }

    static void CheckLearningRate(double learningRate, string name)
    {
        if (!(learningRate >= 0) || double.IsInfinity(learningRate))
            throw new ArgumentException($"The learning rate must be finite and >= 0, found {learningRate}.", name);
    }
}
