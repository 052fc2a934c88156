using System.Globalization;

namespace Functional.Optim;

/// <summary>
/// A learning rate: a constant or a <see cref="Functional.Optim.Schedule"/> of the step number. Every
/// optimizer takes one, so there is one parameter for both cases: a <c>double</c> or a schedule
/// converts implicitly (<c>Optimizers.Sgd(1e-3)</c>, <c>Optimizers.Sgd(Schedules.Cosine(0.1, 1000))</c>).
/// </summary>
/// <remarks>
/// <para>A learning rate is immutable; the live one of an optimizer is
/// <see cref="Optimizer.LearningRate"/> (settable) and the number it gives now is
/// <see cref="Optimizer.CurrentLearningRate"/>.</para>
/// <para>A constant must be finite and non-negative; that is checked where the rate is used
/// (building an optimizer, assigning it), not by the conversion, which never throws. A schedule's
/// values are checked at each step.</para>
/// </remarks>
public sealed class LearningRate
{
    LearningRate(double? value, Schedule? schedule)
    {
        Value = value;
        Schedule = schedule;
    }

    /// <summary>A constant learning rate.</summary>
    public static LearningRate Constant(double value) => new(value, null);

    /// <summary>A learning rate that follows <paramref name="schedule"/> (step 0 for the first update).</summary>
    public static LearningRate FromSchedule(Schedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return new(null, schedule);
    }

    /// <summary>A constant learning rate: lets every optimizer take a plain number.</summary>
    public static implicit operator LearningRate(double value) => Constant(value);

    /// <summary>A scheduled learning rate: lets every optimizer take a schedule where it takes a number.
    /// A null schedule converts to null, which the optimizers refuse.</summary>
    public static implicit operator LearningRate(Schedule schedule) => schedule is null ? null! : FromSchedule(schedule);

    /// <summary>The constant rate, or null when a schedule drives it.</summary>
    public double? Value { get; }

    /// <summary>The schedule, or null for a constant rate.</summary>
    public Schedule? Schedule { get; }

    /// <summary>The rate for update number <paramref name="step"/> (0 for the first).</summary>
    /// <exception cref="ArgumentException">The rate (a constant, or the schedule's value at that step) is negative or not finite.</exception>
    public double At(long step)
    {
        var rate = Value ?? Schedule!(step);
        Check(rate, Value is null ? $"The schedule's learning rate at step {step}" : "The learning rate", "learningRate");
        return rate;
    }

    /// <summary>Refuses a constant that is negative or not finite (a schedule is checked step by step).</summary>
    internal void CheckConstant(string paramName)
    {
        if (Value is { } v) Check(v, "The learning rate", paramName);
    }

    static void Check(double rate, string what, string paramName)
    {
        if (!(rate >= 0) || double.IsInfinity(rate))
            throw new ArgumentException($"{what} must be finite and >= 0, found {rate}.", paramName);
    }

    /// <summary>The constant in round-trip form, or <c>schedule</c>.</summary>
    public override string ToString() => Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "schedule";
}
