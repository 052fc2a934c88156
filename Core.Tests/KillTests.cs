using System.Collections.Concurrent;
using System.Diagnostics;
using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;

namespace Functional.Tests;

/// <summary>
/// Atomic checkpoints seen from outside: a child process saves checkpoints in a loop and is killed at random
/// moments; the latest checkpoint must always load and be one the child completed.
/// </summary>
/// <remarks>
/// The child is the test-only program in <c>Core.Tests/CheckpointWriter/</c>, which building this test project
/// builds too (a ProjectReference that does not reference its assembly).
/// </remarks>
public class KillTests : FileTestBase
{
    [Test]
    public void LatestCheckpointSurvivesRandomKills()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;   // .../Core.Tests/bin/<Configuration>/net10.0
        var dll = Path.Combine(ExamplesCli.RepositoryRoot(), "Core.Tests", "CheckpointWriter", "bin", configuration, "net10.0", "Functional.Tests.CheckpointWriter.dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} is absent: build Core.Tests (it builds the checkpoint writer).");
        var seed = Environment.TickCount;
        var random = new Random(seed);
        TestContext.Out.WriteLine($"kill delays drawn with seed {seed}");
        var path = FilePath("latest.safetensors");
        var interruptedWrites = 0;
        const int Rounds = 10;

        for (int round = 0; round < Rounds; round++)
        {
            long start = round * 1_000_000L + 1;
            var info = ExamplesCli.StartInfo(dll, [Folder, "1000000", start.ToString()]);

            var printed = new ConcurrentQueue<long>();
            using var firstLine = new ManualResetEventSlim();
            var errors = new ConcurrentQueue<string>();
            using var child = new Process { StartInfo = info };
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { Length: > 0 } line && long.TryParse(line, out var n))
                {
                    printed.Enqueue(n);
                    firstLine.Set();
                }
            };
            child.ErrorDataReceived += (_, e) => { if (e.Data is not null) errors.Enqueue(e.Data); };
            child.Start();
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            try
            {
                if (!firstLine.Wait(TimeSpan.FromSeconds(20)))
                    Assert.Fail($"The checkpoint writer printed nothing in 20 s. Its errors:\n{string.Join("\n", errors)}");
                Thread.Sleep(random.Next(0, 150));
            }
            finally
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit();
            }

            var completed = printed.ToArray();
            Assert.That(completed, Is.Not.Empty);
            Assert.That(completed, Is.EqualTo(Enumerable.Range(0, completed.Length).Select(i => start + i)), "the child saves in order");
            var last = completed[^1];
            if (AtomicFile.DeleteTemporaries(path) > 0) interruptedWrites++;

            using var checkpoint = Checkpoint.Load(path);
            var n = checkpoint.Epoch;
            // The last printed save, or the next one when the kill came after its rename but before its print.
            Assert.That(n, Is.EqualTo(last).Or.EqualTo(last + 1), $"round {round}: the child completed up to {last}");
            Assert.That(checkpoint.Metadata["step"], Is.EqualTo(n.ToString()));
            Assert.That(checkpoint.Model.Keys, Is.EquivalentTo(Enumerable.Range(0, 16).Select(i => $"w{i}")));
            foreach (var w in checkpoint.Model.Values)
            {
                Assert.That(w.shape, Is.EqualTo(new long[] { 65_536 }));
                using var same = w.eq(n).all();
                Assert.That(same.item<bool>(), Is.True, "every tensor is filled with N throughout");
            }
            TestContext.Out.WriteLine($"round {round}: killed after {last}, latest holds {n}");
        }
        TestContext.Out.WriteLine($"{interruptedWrites} of {Rounds} kills interrupted a write (left a temporary file)");
    }

    /// <summary>Training with checkpoints, killed at random moments (before the first checkpoint, during an epoch, while
    /// a checkpoint is written, between epochs) and resumed each time from its folder alone, ends with the same model
    /// file, byte for byte, as the same seeded run left alone. The kill times are drawn with a printed seed
    /// (FUNCTIONAL_KILL_SEED repeats them) over the uninterrupted run's own duration; at most six kills, then the run
    /// is left to finish.</summary>
    [Test]
    public void TrainingKilledAtRandomMomentsAndResumedSavesTheSameModelAsAnUninterruptedRun()
    {
        var subset = Path.Combine(ExamplesCli.RepositoryRoot(), "Data", "fashion-mnist-subset");
        var timeout = TimeSpan.FromSeconds(180);
        string[] Common(string save) => ["--data", subset, "--save", save];
        var whole = FilePath("whole.safetensors");
        var clock = Stopwatch.StartNew();
        var uninterrupted = ExamplesCli.Run(ExamplesCli.Dll(), ["train", "--epochs", "3", "--seed", "0", "--batch-size", "100", .. Common(whole)], timeout);
        var duration = clock.Elapsed;
        Assert.That(uninterrupted.ExitCode, Is.EqualTo(0), uninterrupted.ToString());

        var seed = Environment.GetEnvironmentVariable("FUNCTIONAL_KILL_SEED") is { Length: > 0 } s ? int.Parse(s) : Environment.TickCount;
        var random = new Random(seed);
        TestContext.Out.WriteLine($"kill moments drawn with FUNCTIONAL_KILL_SEED={seed} over {duration.TotalSeconds:F1} s");
        var run = FilePath("run");
        var final = FilePath("final.safetensors");
        var checkpoint = Path.Combine(run, "checkpoint.ckpt");
        var kills = 0;
        for (var attempt = 0; ; attempt++)
        {
            Assert.That(attempt, Is.LessThan(20), "the run finishes");
            var resumable = File.Exists(checkpoint) && File.Exists(Path.Combine(run, "run.json"));
            string[] args = resumable
                ? ["train", "--resume", run, "--save", final]
                : ["train", "--epochs", "3", "--seed", "0", "--batch-size", "100", "--checkpoint-dir", run, .. Common(final)];
            if (kills >= 6)
            {
                var last = ExamplesCli.Run(ExamplesCli.Dll(), args, timeout);
                Assert.That(last.ExitCode, Is.EqualTo(0), last.ToString());
                break;
            }
            var delay = TimeSpan.FromSeconds(random.NextDouble() * duration.TotalSeconds);
            using var child = Process.Start(ExamplesCli.StartInfo(ExamplesCli.Dll(), args))!;
            child.OutputDataReceived += (_, _) => { };
            child.ErrorDataReceived += (_, _) => { };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            if (child.WaitForExit(delay))
            {
                child.WaitForExit();
                Assert.That(child.ExitCode, Is.EqualTo(0), $"attempt {attempt} ({string.Join(' ', args)}) ended on its own with {child.ExitCode}");
                TestContext.Out.WriteLine($"attempt {attempt}: finished before its kill at {delay.TotalSeconds:F2} s");
                break;
            }
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            kills++;
            long epoch = -1;
            if (File.Exists(checkpoint)) using (var saved = Checkpoint.Load(checkpoint)) epoch = saved.Epoch;   // always loads: the saves are atomic
            TestContext.Out.WriteLine($"attempt {attempt}: killed after {delay.TotalSeconds:F2} s{(resumable ? " (resumed)" : "")}; the checkpoint holds {(epoch < 0 ? "nothing yet" : $"epoch {epoch}")}");
        }
        Assert.That(File.ReadAllBytes(final), Is.EqualTo(File.ReadAllBytes(whole)), $"the final model file, byte for byte, after {kills} kills");
    }
}
