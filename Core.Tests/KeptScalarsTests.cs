using System.Diagnostics;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>
/// The scalar overloads the library's loops use, run while another thread collects garbage and runs finalizers
/// without pause. With TorchSharp's implicit conversions (<c>a.add_(b, alpha: 0.5)</c>) the same loop failed here
/// within 0.1–0.5 s (a native scalar freed by its finalizer during the call: <c>Expected false to be true</c> from
/// c10's <c>Scalar::toFloat</c>), as a property test once did in CI.
/// </summary>
[NonParallelizable]
public class KeptScalarsTests
{
    [Test]
    public void ScalarOperationsGiveExactResultsWhileFinalizersRun()
    {
        Native.EnsureLoaded();
        using var a = zeros(4, dtype: ScalarType.Float64);
        using var b = ones(4, dtype: ScalarType.Float64);
        using var c = ones(4, dtype: ScalarType.Float64);
        using var d = zeros(4, dtype: ScalarType.Float64);
        using var e = ones(4, dtype: ScalarType.Float64);
        var stop = 0;
        var collector = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true };
        collector.Start();
        long rounds = 0;
        try
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                a.AddInPlace(b, 0.5);                          // +0.5
                a.AddInPlace(b);                               // +1
                a.AddInPlace(-1.0);                            // −1
                c.MulInPlace(2.0).DivInPlace(2.0);             // stays 1
                d.AddcmulInPlace(b, b, 0.25).FillInPlace(0);   // stays 0
                e.ClampMaxInPlace(1.0);                        // stays 1
                using (var shifted = a.Plus(0.0))
                using (var plus = shifted.Plus(b, 0.0))
                using (var times = plus.Times(1.0))
                    d.AddInPlace(times, 0.0);                  // stays 0
                rounds++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            collector.Join();
        }
        Assert.That(rounds, Is.GreaterThan(1000), "enough rounds to meet the collector");
        Assert.That(a.data<double>().ToArray(), Is.All.EqualTo(0.5 * rounds));
        Assert.That(c.data<double>().ToArray(), Is.All.EqualTo(1.0));
        Assert.That(d.data<double>().ToArray(), Is.All.EqualTo(0.0));
        Assert.That(e.data<double>().ToArray(), Is.All.EqualTo(1.0));
    }
}
