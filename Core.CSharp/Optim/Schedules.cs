namespace Functional.Optim;

/// <summary>A learning rate as a function of the step number (0 for the first update).</summary>
/// <param name="step">How many updates have been made before this one.</param>
public delegate double Schedule(long step);

/// <summary>
/// Learning-rate schedules as functions of the step, named after PyTorch's schedulers and with
/// their formulas (closed form, so any step can be asked for and a resumed run continues exactly).
/// Counted in optimizer steps: for a per-epoch schedule, multiply step sizes by the batches per epoch.
/// Pass one to an optimizer: <c>Optimizers.Sgd(Schedules.Cosine(0.1, 1000))</c>.
/// </summary>
public static class Schedules
{
    /// <summary>Always <paramref name="value"/>.</summary>
    public static Schedule Constant(double value) => _ => value;

    /// <summary>PyTorch's StepLR: <c>initial·gamma^floor(step / stepSize)</c>.</summary>
    /// <exception cref="ArgumentException">stepSize is not positive.</exception>
    public static Schedule Step(double initial, long stepSize, double gamma = 0.1)
    {
        if (stepSize <= 0) throw new ArgumentException($"stepSize must be > 0, found {stepSize}.", nameof(stepSize));
        return step => initial * Math.Pow(gamma, Math.Floor((double)Math.Max(step, 0) / stepSize));
    }

    /// <summary>PyTorch's ExponentialLR: <c>initial·gamma^step</c>.</summary>
    public static Schedule Exponential(double initial, double gamma) => step => initial * Math.Pow(gamma, Math.Max(step, 0));

    /// <summary>
    /// PyTorch's CosineAnnealingLR (closed form) and optax's cosine decay:
    /// <c>minimum + (initial - minimum)·(1 + cos(π·step/decaySteps))/2</c> up to decaySteps, then minimum.
    /// </summary>
    /// <exception cref="ArgumentException">decaySteps is not positive.</exception>
    public static Schedule Cosine(double initial, long decaySteps, double minimum = 0)
    {
        if (decaySteps <= 0) throw new ArgumentException($"decaySteps must be > 0, found {decaySteps}.", nameof(decaySteps));
        return step =>
        {
            var t = Math.Clamp(step, 0, decaySteps);
            return minimum + (initial - minimum) * (1 + Math.Cos(Math.PI * t / decaySteps)) / 2;
        };
    }

    /// <summary>Linear from <paramref name="initial"/> to <paramref name="final"/> over transitionSteps, then final (optax's linear_schedule).</summary>
    /// <exception cref="ArgumentException">transitionSteps is not positive.</exception>
    public static Schedule Linear(double initial, double final, long transitionSteps)
    {
        if (transitionSteps <= 0) throw new ArgumentException($"transitionSteps must be > 0, found {transitionSteps}.", nameof(transitionSteps));
        return step => initial + (final - initial) * Math.Clamp(step, 0, transitionSteps) / transitionSteps;
    }

    /// <summary>
    /// A linear warm-up from <paramref name="initial"/> to <paramref name="peak"/> over warmupSteps,
    /// then <paramref name="after"/> counted from the end of the warm-up (or the peak forever).
    /// </summary>
    /// <example><c>Schedules.LinearWarmup(0.1, 100, Schedules.Cosine(0.1, 900))</c></example>
    /// <exception cref="ArgumentException">warmupSteps is not positive.</exception>
    public static Schedule LinearWarmup(double peak, long warmupSteps, Schedule? after = null, double initial = 0)
    {
        if (warmupSteps <= 0) throw new ArgumentException($"warmupSteps must be > 0, found {warmupSteps}.", nameof(warmupSteps));
        return step => step < warmupSteps
            ? initial + (peak - initial) * Math.Max(step, 0) / warmupSteps
            : after?.Invoke(step - warmupSteps) ?? peak;
    }

    /// <summary>
    /// PyTorch's OneCycleLR (cosine annealing, two phases), for the learning rate: from
    /// maxLearningRate/divFactor up to maxLearningRate over the first pctStart of totalSteps, then
    /// down to initial/finalDivFactor at the last step; after totalSteps it stays there.
    /// </summary>
    /// <exception cref="ArgumentException">totalSteps is below 2 or pctStart outside (0, 1).</exception>
    public static Schedule OneCycle(double maxLearningRate, long totalSteps, double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4)
    {
        if (totalSteps < 2) throw new ArgumentException($"totalSteps must be >= 2, found {totalSteps}.", nameof(totalSteps));
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentException($"pctStart must be in (0, 1), found {pctStart}.", nameof(pctStart));
        var initial = maxLearningRate / divFactor;
        var minimum = initial / finalDivFactor;
        var peakStep = pctStart * totalSteps - 1;
        var lastStep = (double)totalSteps - 1;
        static double Anneal(double start, double end, double pct) => end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);
        return step =>
        {
            var t = Math.Clamp((double)step, 0, lastStep);
            return t <= peakStep
                ? Anneal(initial, maxLearningRate, t / peakStep)
                : Anneal(maxLearningRate, minimum, (t - peakStep) / (lastStep - peakStep));
        };
    }

    /// <summary>
    /// Runs the schedules one after another: schedule i from boundary i-1 (counted from 0 again at
    /// each boundary, as optax's join_schedules and PyTorch's SequentialLR do).
    /// </summary>
    /// <exception cref="ArgumentException">The boundaries are not one fewer than the schedules, or not increasing.</exception>
    public static Schedule Join(IReadOnlyList<Schedule> schedules, IReadOnlyList<long> boundaries)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        ArgumentNullException.ThrowIfNull(boundaries);
        if (schedules.Count == 0 || boundaries.Count != schedules.Count - 1)
            throw new ArgumentException($"Join needs one boundary fewer than schedules, found {schedules.Count} schedules and {boundaries.Count} boundaries.", nameof(boundaries));
        for (var i = 1; i < boundaries.Count; i++)
            if (boundaries[i] <= boundaries[i - 1]) throw new ArgumentException("Join's boundaries must increase.", nameof(boundaries));
        var s = schedules.ToArray();
        var b = boundaries.ToArray();
        return step =>
        {
            var i = 0;
            while (i < b.Length && step >= b[i]) i++;
            return s[i](i == 0 ? step : step - b[i - 1]);
        };
    }
}
