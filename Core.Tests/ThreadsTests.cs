using NUnit.Framework;
using TorchSharp;

namespace Functional.Tests;

/// <summary>Threads.cs: LibTorch's intra-op threads default to the physical cores; OpenMP's variable wins.</summary>
public class ThreadsTests
{
    [Test]
    public void PhysicalCoresAgreeWithProcCpuinfo()
    {
        if (!File.Exists("/proc/cpuinfo")) Assert.Ignore("no /proc/cpuinfo to compare with (not Linux)");
        // A second reading of the topology: /proc/cpuinfo's distinct (physical id, core id) pairs.
        var pairs = new HashSet<(string, string)>();
        string package = "0";
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            var parts = line.Split(':', 2);
            if (parts.Length != 2) continue;
            var key = parts[0].Trim();
            if (key == "physical id") package = parts[1].Trim();
            else if (key == "core id") pairs.Add((package, parts[1].Trim()));
        }
        if (pairs.Count == 0) Assert.Ignore("/proc/cpuinfo has no core ids on this machine");
        int expected = Math.Min(pairs.Count, Environment.ProcessorCount);
        Assert.That(Threads.PhysicalCores(), Is.EqualTo(expected));
    }

    [Test]
    public void LibTorchRunsOnThePhysicalCoresUnlessOmpNumThreadsIsSet()
    {
        Native.EnsureLoaded();
        var omp = Environment.GetEnvironmentVariable("OMP_NUM_THREADS");
        if (string.IsNullOrEmpty(omp) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MKL_NUM_THREADS")))
            Assert.That(torch.get_num_threads(), Is.EqualTo(Threads.PhysicalCores()));
        else if (int.TryParse(omp, out var n) && n > 0)
            Assert.That(torch.get_num_threads(), Is.EqualTo(n), "OMP_NUM_THREADS is set: LibTorch keeps it");
        else
            Assert.Ignore($"OMP_NUM_THREADS={omp}: LibTorch's own reading of it is not checked here");
    }
}
