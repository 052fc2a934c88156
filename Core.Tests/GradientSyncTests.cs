using Functional.Data;
using Functional.Optim;
using Functional.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The single-process side of data parallelism, in this process: no MPI is loaded unless asked for, asking
/// without a launcher says how to launch, and <see cref="GradientSync.None"/> changes nothing. Real MPI runs are in
/// <see cref="DistributedTests"/>.</summary>
public class GradientSyncTests
{
    static readonly string[] LauncherVariables = ["PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMIX_RANK"];

    static string[] MpiLibrariesLoaded() =>
        File.ReadAllLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Where(f => Path.GetFileName(f).StartsWith("libmpi", StringComparison.Ordinal)).Distinct().ToArray();

    [Test]
    public void MpiWithoutALauncherSaysHowToLaunchAndLoadsNoMpiLibrary()
    {
        if (LauncherVariables.Any(v => Environment.GetEnvironmentVariable(v) is { Length: > 0 }))
            Assert.Ignore("These tests run under an MPI launcher themselves.");
        if (!File.Exists("/proc/self/maps")) Assert.Ignore("No /proc/self/maps to see the loaded libraries (not Linux).");
        Native.EnsureLoaded();
        var e = Assert.Throws<InvalidOperationException>(() => GradientSync.Mpi())!;
        Assert.That(e.Message, Does.StartWith("Distributed training needs an MPI launcher, which starts one process per rank: run mpiexec.mpich -n 2 "));
        Assert.That(MpiLibrariesLoaded(), Is.Empty, "no MPI library is loaded unless a launcher started the process");
    }

    [Test]
    public void NoneIsRankZeroOfOneAndATrainingWithItEqualsOneWithoutIt()
    {
        Native.EnsureLoaded();
        Assert.That((GradientSync.None.Rank, GradientSync.None.WorldSize, GradientSync.None.IsMain), Is.EqualTo((0, 1, true)));
        using var values = tensor(new[] { 1.0, 2.0 });
        GradientSync.None.AllReduceSum(values);
        GradientSync.None.Broadcast(values);
        Assert.That(values.data<double>().ToArray(), Is.EqualTo(new[] { 1.0, 2.0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientSync.None.Broadcast(values, root: 1));

        using var generator = new Generator(3);
        var x = randn([96, 5], ScalarType.Float64, generator: generator);
        var y = randint(0, 3, [96], generator: generator);
        double[] Train(GradientSync? sync, bool fused)
        {
            manual_seed(11);
            var model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3));
            model.to(ScalarType.Float64);
            using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Adam(0.01),
                new TrainerOptions { GradientSync = sync, Progress = false, Fused = fused, Seed = 0 });
            trainer.Fit(new DataLoader(new TensorDataset(x, y), 16, shuffle: true, seed: 0), null, 2);
            return model.parameters().SelectMany(p => p.data<double>().ToArray()).ToArray();
        }
        foreach (var fused in new[] { true, false })
            Assert.That(Train(GradientSync.None, fused), Is.EqualTo(Train(null, fused)), fused ? "fused" : "autograd");
        if (File.Exists("/proc/self/maps")) Assert.That(MpiLibrariesLoaded(), Is.Empty);
    }
}
