using System.Diagnostics;
using System.Globalization;
using Functional.Data;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Benchmarks;

/// <summary>
/// Data-parallel training of the main job on this machine: samples per second on one process and on two MPI ranks
/// (MPICH's <c>mpiexec.mpich</c>), and the allreduce's share of a step. Run without a launcher, it launches the
/// configurations itself, one after the other, and prints a table; each configuration is this command again with
/// <c>--worker</c>, alone or under <c>mpiexec.mpich -n 2</c>.
/// </summary>
/// <remarks>
/// <para>The configurations: one process with all cores' threads and with one thread (batch B), two ranks of one
/// thread each with batch B/2 (the same global batch: the same steps, strong scaling) and with batch B each (global 2B:
/// what DDP users usually run, weak scaling). The model, data, optimizer (SGD, fused step) and seed are the main
/// job's; the test loop is left out so that the time is training time.</para>
/// <para>The allreduce time is measured around each collective by a <see cref="GradientSync"/> that wraps the MPI one
/// (the abstraction's own extension point); it includes the time a rank waits for the slower one to arrive, so on
/// a loaded machine it shows imbalance as well as communication.</para>
/// </remarks>
static class DistributedBenchmark
{
    /// <summary>Times the collectives of the synchronisation it wraps.</summary>
    sealed class TimedSync(GradientSync inner) : GradientSync
    {
        public long AllReduces;
        public TimeSpan AllReduceTime;

        public override int Rank => inner.Rank;
        public override int WorldSize => inner.WorldSize;
        public override void AllReduceSum(Tensor tensor)
        {
            var start = Stopwatch.GetTimestamp();
            inner.AllReduceSum(tensor);
            AllReduceTime += Stopwatch.GetElapsedTime(start);
            AllReduces++;
        }
        public override void Broadcast(Tensor tensor, int root = 0) => inner.Broadcast(tensor, root);
        public override void Barrier() => inner.Barrier();
        public override void Abort(int exitCode) => inner.Abort(exitCode);
        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
        }
        public override string ToString() => inner.ToString();
    }

    sealed record Configuration(string Name, int Ranks, int Threads, int BatchPerRank);

    public static int Run(string[] args)
    {
        int Option(string name, int fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }
        int epochs = Option("--epochs", args.Contains("--quick") ? 1 : 2);
        int batch = Option("--batch-size", 64);
        bool quick = args.Contains("--quick");
        bool autograd = args.Contains("--autograd");
        if (args.Contains("--worker")) return Worker(epochs, batch, quick, autograd);

        var launcher = new[] { "/usr/bin/mpiexec.mpich" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "mpiexec.mpich")))
            .FirstOrDefault(File.Exists);
        if (launcher is null)
        {
            Console.Error.WriteLine("distributed: MPICH's launcher mpiexec.mpich is not installed (apt-get install mpich).");
            return 1;
        }
        int cores = Environment.ProcessorCount;
        var configurations = new[]
        {
            new Configuration($"1 process, {cores} threads", 1, cores, batch),
            new Configuration("1 process, 1 thread", 1, 1, batch),
            new Configuration($"2 ranks x 1 thread, batch {batch / 2} each", 2, 1, batch / 2),
            new Configuration($"2 ranks x 1 thread, batch {batch} each", 2, 1, batch),
        };
        Console.WriteLine($"Distributed training benchmark: the main job (784-512-512-10, SGD 1e-3, {(autograd ? "autograd" : "fused")} step), " +
                          $"{epochs} epoch(s), the last one timed; {cores} cores; MPI: {launcher}");
        Console.WriteLine($"{"configuration",-36} {"global batch",12} {"samples/s",10} {"step ms",8} {"allreduce ms",13} {"share of step",14} {"alone ms",9}");
        var host = Environment.ProcessPath!;
        var self = typeof(DistributedBenchmark).Assembly.Location;
        foreach (var c in configurations)
        {
            var info = new ProcessStartInfo(c.Ranks > 1 ? launcher : host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (c.Ranks > 1) foreach (var a in new[] { "-n", c.Ranks.ToString(CultureInfo.InvariantCulture), host }) info.ArgumentList.Add(a);
            // Under `dotnet Functional.Benchmarks.dll` the host is dotnet and takes the assembly; the apphost (what
            // `dotnet run` starts) is the program itself.
            if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(self);
            foreach (var a in new[] { "distributed", "--worker", "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--batch-size", c.BatchPerRank.ToString(CultureInfo.InvariantCulture) })
                info.ArgumentList.Add(a);
            if (quick) info.ArgumentList.Add("--quick");
            if (autograd) info.ArgumentList.Add("--autograd");
            info.Environment["OMP_NUM_THREADS"] = c.Threads.ToString(CultureInfo.InvariantCulture);
            info.Environment["MKL_NUM_THREADS"] = c.Threads.ToString(CultureInfo.InvariantCulture);
            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("result ", StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
            {
                Console.Error.WriteLine($"distributed: {c.Name} failed (exit code {process.ExitCode}):\n{output}{error.Result}");
                return 1;
            }
            var f = line["result ".Length..].Split(' ').Select(p => p.Split('=')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
            var share = f["step_ms"] > 0 ? f["allreduce_ms"] / f["step_ms"] : 0;
            Console.WriteLine(c.Ranks > 1
                ? $"{c.Name,-36} {c.BatchPerRank * c.Ranks,12} {f["samples_per_s"],10:N0} {f["step_ms"],8:F2} {f["allreduce_ms"],13:F2} {share,14:P0} {f["alone_ms"],9:F2}"
                : $"{c.Name,-36} {c.BatchPerRank * c.Ranks,12} {f["samples_per_s"],10:N0} {f["step_ms"],8:F2} {"-",13} {"-",14} {"-",9}");
        }
        Console.WriteLine("allreduce ms: per step, of the gradients and loss in one flat buffer (669,707 float32, 2.7 MB), waiting for the slower rank included;");
        Console.WriteLine("alone ms: the same allreduce after a barrier (median of 50), the communication without the wait.");
        return 0;
    }

    /// <summary>One configuration: trains and prints <c>result samples_per_s=... step_ms=... allreduce_ms=...</c> on rank 0.</summary>
    static int Worker(int epochs, int batch, bool quick, bool autograd)
    {
        bool distributed = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PMI_RANK"));
        using var sync = new TimedSync(distributed ? GradientSync.Mpi() : GradientSync.None);
        var train = quick ? new FashionMnist(FashionMnist.FindShippedSubset()!, train: true, searchSystem: false) : FashionMnist.Load(train: true);
        manual_seed(0);
        var model = new NeuralNetwork();
        var loader = (sync.WorldSize > 1
            ? new DataLoader(train, batch, sampler: new DistributedSampler(train.Count, sync, seed: 0))
            : new DataLoader(train, batch, shuffle: true, seed: 0)).Map(Transform.ToTensor());
        using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-3),
            new TrainerOptions { GradientSync = sync, Progress = false, Seed = 0, Device = Devices.Cpu, Fused = autograd ? false : null });
        var clock = new Stopwatch();
        long reducesBefore = 0;
        var reduceTimeBefore = TimeSpan.Zero;
        var timing = Callback.Create(
            onEpochBegin: e =>
            {
                if (e.Epoch != epochs) return;
                reducesBefore = sync.AllReduces;
                reduceTimeBefore = sync.AllReduceTime;
                clock.Restart();
            },
            onEpochEnd: e => { if (e.Epoch == epochs) clock.Stop(); });
        trainer.Fit(loader, null, epochs, [timing]);
        int steps = loader.BatchCount;
        double seconds = clock.Elapsed.TotalSeconds;
        double samples = (double)loader.SampleCount * sync.WorldSize;
        double allreduceMs = steps == 0 ? 0 : (sync.AllReduceTime - reduceTimeBefore).TotalMilliseconds / Math.Max(1, sync.AllReduces - reducesBefore);
        // The allreduce alone, each after a barrier so that no rank waits for another: communication without imbalance.
        double aloneMs = 0;
        if (sync.WorldSize > 1)
        {
            using var flat = ones(model.parameters().Sum(p => p.numel()) + 1);
            var times = new double[50];
            for (int i = 0; i < times.Length; i++)
            {
                sync.Barrier();
                var start = Stopwatch.GetTimestamp();
                sync.AllReduceSum(flat);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(times);
            aloneMs = times[times.Length / 2];
        }
        if (sync.IsMain)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"result samples_per_s={samples / seconds:F1} step_ms={1000 * seconds / steps:F3} allreduce_ms={(sync.WorldSize > 1 ? allreduceMs : 0):F3} alone_ms={aloneMs:F3} threads={get_num_threads()}"));
        return 0;
    }
}
