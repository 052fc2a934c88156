using System.Globalization;
using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

public class CheckpointTests : FileTestBase
{
    [Test]
    public void EveryPartRoundTripsExactly()
    {
        using var net = StateDictTests.Net(1);
        using var g = new Generator(123);
        using var _ = randn([5], generator: g); // advance the generator so its state is not the seed's
        using var m1 = randn(3, 4);
        using var step = tensor(17L);
        var history = new Functional.Training.History(
        [
            new(1, 0.1 + 0.2, 1.0 / 3.0, null, 1e-3, 2.5),
            new(2, double.NaN, double.PositiveInfinity, -0.0, double.NegativeInfinity, double.Epsilon),
        ]);
        var scalars = new Functional.Optim.OptimizerScalars("chain(scaleByAdam)", 17,
            System.Text.Json.JsonDocument.Parse("{\"lr\":0.001,\"betas\":[0.9,0.999]}").RootElement.Clone());
        var path = FilePath("ckpt.safetensors");
        var saved = new Checkpoint
        {
            Model = net.state_dict(),
            OptimizerState = new Dictionary<string, Tensor> { ["0.weight.exp_avg"] = m1, ["step"] = step },
            Optimizer = scalars,
            Epoch = 7,
            GeneratorStates = new Dictionary<string, Tensor> { ["shuffle"] = g.get_state() },
            History = history,
            Metadata = new Dictionary<string, string> { ["run"] = "nightly", ["config"] = "{\"epochs\":10}" },
        };
        saved.Save(path);
        saved.Dispose(); // a checkpoint built from your tensors leaves them alone
        Assert.That(net.state_dict()["0.weight"].IsInvalid, Is.False);

        using var loaded = Checkpoint.Load(path);
        Assert.That(loaded.Source, Is.EqualTo(path));
        Assert.That(loaded.Epoch, Is.EqualTo(7));
        Assert.That(loaded.Model.Keys, Is.EquivalentTo(net.state_dict().Keys));
        foreach (var (k, v) in net.state_dict()) AssertSame(v, loaded.Model[k]);
        AssertSame(m1, loaded.OptimizerState["0.weight.exp_avg"]);
        AssertSame(step, loaded.OptimizerState["step"]);
        Assert.That(loaded.Optimizer!.Transformation, Is.EqualTo(scalars.Transformation));
        Assert.That(loaded.Optimizer.StepCount, Is.EqualTo(scalars.StepCount));
        Assert.That(loaded.Optimizer.State.GetRawText(), Is.EqualTo(scalars.State.GetRawText()));
        Assert.That(loaded.Metadata, Is.EqualTo(saved.Metadata));
        Assert.That(loaded.History.Count, Is.EqualTo(2));
        static long[] Bits(Functional.Training.EpochMetrics m) =>
            [m.Epoch, BitConverter.DoubleToInt64Bits(m.TrainLoss), m.TestLoss is double l ? BitConverter.DoubleToInt64Bits(l) : -1,
             m.TestAccuracy is double a ? BitConverter.DoubleToInt64Bits(a) : -1, BitConverter.DoubleToInt64Bits(m.LearningRate), BitConverter.DoubleToInt64Bits(m.Seconds)];
        for (int i = 0; i < 2; i++)
        {
            Assert.That(loaded.History.Epochs[i].TestLoss.HasValue, Is.EqualTo(history.Epochs[i].TestLoss.HasValue), $"history[{i}]: a missing test loss stays missing");
            Assert.That(Bits(loaded.History.Epochs[i]), Is.EqualTo(Bits(history.Epochs[i])), $"history[{i}] bit for bit");
        }
    }

    [Test]
    public void APositionInsideAnEpochRoundTripsAndAVersionTwoFileLoadsAsAnEpochsEnd()
    {
        var path = FilePath("partial.safetensors");
        // The loss sum's bits survive (a value with no short decimal form).
        var sum = 0.1 + 0.2 + 1.0 / 3.0;
        new Checkpoint { Epoch = 2, Partial = new Checkpoint.PartialEpochRecord(40, 157, sum) }.Save(path);
        using (var loaded = Checkpoint.Load(path))
        {
            Assert.That((loaded.Epoch, loaded.Batch), Is.EqualTo((2L, 40L)));
            Assert.That(loaded.Partial, Is.EqualTo(new Checkpoint.PartialEpochRecord(40, 157, sum)));
            Assert.That(BitConverter.DoubleToInt64Bits(loaded.Partial!.LossSum), Is.EqualTo(BitConverter.DoubleToInt64Bits(sum)));
        }
        using (var content = SafeTensors.Read(path))
            Assert.That(content.Metadata["functional.version"], Is.EqualTo("3"));

        // Version 2 had no position: its files load as checkpoints saved at an epoch's end.
        var metadata = new Dictionary<string, string>
        {
            [Checkpoint.FormatKey] = "checkpoint", ["functional.version"] = "2",
            ["functional.checkpoint"] = "{\"Version\":2,\"Epoch\":3,\"Optimizer\":null,\"History\":[],\"User\":{}}",
        };
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        using (var old = Checkpoint.Load(path))
            Assert.That((old.Epoch, old.Batch, old.Partial), Is.EqualTo((3L, 0L, (Checkpoint.PartialEpochRecord?)null)));

        // In version 3 the position is a required field (null at an epoch's end), and must lie inside the epoch.
        metadata["functional.version"] = "3";
        metadata["functional.checkpoint"] = "{\"Version\":3,\"Epoch\":3,\"Optimizer\":null,\"History\":[],\"User\":{}}";
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.StartWith(path + ":").And.Contain("Partial"));
        foreach (var (batch, batches) in new[] { (0, 10), (10, 10), (-1, 10) })
        {
            metadata["functional.checkpoint"] = $"{{\"Version\":3,\"Epoch\":3,\"Partial\":{{\"Batch\":{batch},\"Batches\":{batches},\"LossSum\":1.5}},\"Optimizer\":null,\"History\":[],\"User\":{{}}}}";
            SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
            e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
            Assert.That(e!.Message, Does.StartWith(path + $": the checkpoint stopped after batch {batch} of an epoch of {batches}"));
        }
    }

    [Test]
    public void RestoredGeneratorContinuesTheSameSequence()
    {
        using var g = new Generator(42);
        using var warmup = rand([10], generator: g);
        var path = FilePath("rng.safetensors");
        using (var state = g.get_state())
            new Checkpoint { GeneratorStates = new Dictionary<string, Tensor> { ["g"] = state } }.Save(path);
        using var expected = rand([6], generator: g); // what an uninterrupted run draws next

        using var loaded = Checkpoint.Load(path);
        using var resumed = new Generator(999);
        resumed.set_state(loaded.GeneratorStates["g"]);
        using var actual = rand([6], generator: resumed);
        AssertSame(expected, actual);
    }

    [Test]
    public void RestoreModelIsStrictAndNamesTheFile()
    {
        using var source = StateDictTests.Net(1);
        using var target = StateDictTests.Net(2);
        var path = FilePath("ckpt.safetensors");
        new Checkpoint { Model = source.state_dict(), Epoch = 1 }.Save(path);
        using var loaded = Checkpoint.Load(path);
        Assert.That(loaded.RestoreModel(target).AllKeysMatched, Is.True);
        foreach (var (k, v) in source.state_dict()) AssertSame(v, target.state_dict()[k]);

        using var other = TorchSharp.torch.nn.Sequential(TorchSharp.torch.nn.Linear(4, 3));
        var e = Assert.Throws<StateDictMismatchException>(() => loaded.RestoreModel(other));
        Assert.That(e!.Message, Does.StartWith(path + ":"));
        Assert.That(e.Report.UnexpectedKeys, Has.Count.EqualTo(7));
    }

    [Test]
    public void PlainWeightsAreNotACheckpoint()
    {
        using var net = StateDictTests.Net(1);
        var path = FilePath("weights.safetensors");
        net.SaveSafeTensors(path);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.StartWith(path + ":").And.Contain("not 'checkpoint'"));
    }

    [Test]
    public void CorruptCheckpointMetadataIsInvalidData()
    {
        var path = FilePath("ckpt.safetensors");
        var metadata = new Dictionary<string, string>
        {
            [Checkpoint.FormatKey] = "checkpoint", ["functional.version"] = "2",
            ["functional.checkpoint"] = "{\"Version\":2,\"Epoch\":3,\"Optimizer\":null,\"History\":[{\"Epoch\":1,\"TrainLoss\":true,\"TestLoss\":null,\"TestAccuracy\":null,\"LearningRate\":0.1,\"Seconds\":1}],\"User\":{}}",
        };
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.StartWith(path + ":").And.Contain("History[0].TrainLoss"));

        metadata["functional.checkpoint"] = "{\"Version\":2,\"Epoch\":-1,\"Optimizer\":null,\"History\":[],\"User\":{}}";
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("epoch is -1"));

        metadata["functional.checkpoint"] = "{\"Version\":2,\"Epoch\":1,\"History\":[],\"User\":{}}";
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("Optimizer"), "a missing field is an error, not a default");

        // A checkpoint of the first format (string maps, JSON inside JSON) is named as such.
        metadata = new Dictionary<string, string> { [Checkpoint.FormatKey] = "checkpoint", ["functional.version"] = "1", ["epoch"] = "3" };
        SafeTensors.Save(path, new Dictionary<string, Tensor>(), metadata);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.That(e!.Message, Does.StartWith(path + ":").And.Contain("format version '1' is not supported"));
    }

    [Test]
    public void FailedSaveLeavesThePreviousCheckpoint()
    {
        var path = FilePath("ckpt.safetensors");
        using var a = ones(4);
        new Checkpoint { Model = new Dictionary<string, Tensor> { ["a"] = a }, Epoch = 1 }.Save(path);
        var before = File.ReadAllBytes(path);

        // A write that fails half way (as a full disk would): the old file stays, no temporary file is left.
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full");
        }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(Folder).Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt.safetensors" }));
        using var loaded = Checkpoint.Load(path);
        Assert.That(loaded.Epoch, Is.EqualTo(1));
    }

    [Test]
    public void LeftoverTemporariesAreFoundAndDeleted()
    {
        var path = FilePath("latest.safetensors");
        File.WriteAllBytes(FilePath(".latest.safetensors.0123abcd.tmp"), [1, 2, 3]);
        File.WriteAllBytes(FilePath(".other.safetensors.0123abcd.tmp"), [1]);
        Assert.That(AtomicFile.DeleteTemporaries(path), Is.EqualTo(1));
        Assert.That(Directory.GetFiles(Folder).Select(Path.GetFileName), Is.EqualTo(new[] { ".other.safetensors.0123abcd.tmp" }));
    }

    [Test]
    public void TheNextSaveRemovesOnlyStaleTemporariesOfItsOwnTarget()
    {
        var path = FilePath("model.safetensors");
        string Temporary(string pid) => FilePath($".model.safetensors.{(pid.Length == 0 ? "" : pid + "-")}{Guid.NewGuid():N}.tmp");
        var hours = DateTime.UtcNow.AddHours(-2);
        const string deadPid = "2000000000";   // above any Linux pid_max (2^22): no such process
        var ownPid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        string Make(string file, DateTime? written = null)
        {
            File.WriteAllBytes(file, [1, 2, 3]);
            if (written is { } w) File.SetLastWriteTimeUtc(file, w);
            return file;
        }
        var deadWriter = Make(Temporary(deadPid));
        var oldOwn = Make(Temporary(ownPid), hours);
        var oldUnnamed = Make(Temporary(""), hours);
        var kept = new[]
        {
            Make(Temporary(ownPid)),                                       // a live writer (this process), recent
            Make(Temporary("")),                                           // an old-style name, recent: its writer may live
            Make(FilePath($".other.safetensors.{deadPid}-{Guid.NewGuid():N}.tmp")),   // another target's
            Make(FilePath(".model.safetensors.backup.tmp")),                // not a name this class makes
            Make(FilePath("model.safetensors.1-0123456789abcdef0123456789abcdef.tmp")),
        };
        var held = Make(Temporary(deadPid));
        using (new FileStream(held, FileMode.Open, FileAccess.Write, FileShare.None))   // a writer still has it open
        {
            AtomicFile.Write(path, s => s.Write(new byte[] { 42 }));
        }
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 42 }));
        foreach (var gone in new[] { deadWriter, oldOwn, oldUnnamed })
            Assert.That(File.Exists(gone), Is.False, $"{Path.GetFileName(gone)} is stale");
        foreach (var stays in kept.Append(held))
            Assert.That(File.Exists(stays), Is.True, $"{Path.GetFileName(stays)} may belong to a live writer, or is not a temporary of {path}");
    }

    [Test]
    public void FolderSyncWorksOnThisSystem()
    {
        // The directory fsync after the rename: where the OS supports it, it must succeed (not be silently skipped).
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            Assert.That(AtomicFile.SyncFolder(Folder), Is.True);
        else
            Assert.That(AtomicFile.SyncFolder(Folder), Is.False);
    }
}
