namespace Functional.Optim;

/// <summary>What the states with one checked setting (weight decay, scale factor, clipping norm) share:
/// the record their scalars are saved as, and a load that checks the value before anything changes.</summary>
internal static class SingleSetting
{
    /// <summary>The saved scalars of a one-setting state.</summary>
    internal sealed record Saved(double Value);

    /// <summary>Reads and checks the saved setting; the returned action applies it.</summary>
    internal static Action PrepareLoad(SavedState saved, Func<double, string, double> check, Action<double> apply)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var value = check(saved.Scalars<Saved>().Value, nameof(saved));
        return () => apply(value);
    }
}
