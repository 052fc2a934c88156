using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Functional.Tests;

public class StateDictTests : FileTestBase
{
    /// <summary>Linear(4, 3), ReLU, Dropout, BatchNorm1d(3), Linear(3, 2): parameters and buffers.</summary>
    internal static Sequential Net(long seed)
    {
        random.manual_seed(seed);
        var net = Sequential(Linear(4, 3), ReLU(), Dropout(0.5), BatchNorm1d(3), Linear(3, 2));
        // Give the batch-norm buffers values that differ from their defaults, as training would.
        using (no_grad())
        {
            var sd = net.state_dict();
            sd["3.running_mean"].copy_(randn(3));
            sd["3.running_var"].copy_(rand(3) + 0.5);
            sd["3.num_batches_tracked"].fill_(seed + 11);
        }
        return net;
    }

    static void AssertSameState(Module a, Module b)
    {
        var sa = a.state_dict();
        var sb = b.state_dict();
        Assert.That(sb.Keys, Is.EqualTo(sa.Keys));
        foreach (var (k, v) in sa) AssertSame(v, sb[k]);
    }

    static void AssertDifferentState(Module a, Module b) =>
        Assert.That(a.state_dict()["0.weight"].allclose(b.state_dict()["0.weight"]), Is.False, "the two models start different");

    [Test]
    public void StateDictNamesAndOrderAreThoseOfPyTorch()
    {
        using var net = Net(1);
        // What PyTorch's state_dict() lists for the same nn.Sequential, buffers included, in its order
        // (TorchSharp's own state_dict() has the same names, parameters first).
        Assert.That(net.state_dict().Keys, Is.EquivalentTo(StateDict.Ordered(net).Keys));
        Assert.That(StateDict.Ordered(net).Keys, Is.EqualTo(new[]
        {
            "0.weight", "0.bias", "3.weight", "3.bias", "3.running_mean", "3.running_var", "3.num_batches_tracked", "4.weight", "4.bias",
        }));
    }

    [Test]
    public void SafeTensorsRoundTripIsExactAndReportsAllKeysMatched()
    {
        using var source = Net(1);
        using var target = Net(2);
        AssertDifferentState(source, target);
        var path = FilePath("net.safetensors");
        source.SaveSafeTensors(path);

        var report = target.LoadSafeTensors(path);
        Assert.That(report.AllKeysMatched, Is.True);
        Assert.That(report.ToString(), Is.EqualTo("<All keys matched successfully>"));
        Assert.That(report.LoadedKeys, Is.EqualTo(StateDict.Ordered(source).Keys));
        AssertSameState(source, target);
        Assert.That(SafeTensors.ReadHeader(path).Metadata["format"], Is.EqualTo("pt"));
    }

    [Test]
    public void LoadingKeepsTheModelsOwnTensors()
    {
        using var source = Net(1);
        using var target = Net(2);
        var weight = target.state_dict()["0.weight"];
        var path = FilePath("net.safetensors");
        source.SaveSafeTensors(path);
        target.LoadSafeTensors(path);
        Assert.That(ReferenceEquals(target.state_dict()["0.weight"], weight), Is.True, "values are copied in, parameters are not replaced");
        Assert.That(weight.requires_grad, Is.True);
    }

    static Sequential Other() => Sequential(Linear(4, 5), ReLU(), Linear(5, 2));

    [Test]
    public void DifferentArchitectureGivesTheExactReport()
    {
        using var source = Net(1);
        var path = FilePath("net.safetensors");
        source.SaveSafeTensors(path);
        using var other = Other();
        var before = other.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());

        var e = Assert.Throws<StateDictMismatchException>(() => other.LoadSafeTensors(path));
        var report = e!.Report;
        Assert.That(report.MissingKeys, Is.EqualTo(new[] { "2.weight", "2.bias" }));
        Assert.That(report.UnexpectedKeys, Is.EqualTo(new[] { "3.bias", "3.num_batches_tracked", "3.running_mean", "3.running_var", "3.weight", "4.bias", "4.weight" }));
        Assert.That(report.Mismatches, Has.Count.EqualTo(2));
        Assert.That(report.Mismatches[0].Key, Is.EqualTo("0.weight"));
        Assert.That(report.Mismatches[0].ModelShape, Is.EqualTo(new long[] { 5, 4 }));
        Assert.That(report.Mismatches[0].LoadedShape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(report.Mismatches[1].Key, Is.EqualTo("0.bias"));
        Assert.That(report.LoadedKeys, Is.Empty);
        Assert.That(e.Path, Is.EqualTo(path));
        Assert.That(e.Message, Does.StartWith(path + ": the weights do not match the model."));
        Assert.That(report.ToString(), Is.EqualTo(
            "Error(s) in loading state_dict:"
            + "\n\tMissing key(s) in state_dict: \"2.weight\", \"2.bias\". "
            + "\n\tUnexpected key(s) in state_dict: \"3.bias\", \"3.num_batches_tracked\", \"3.running_mean\", \"3.running_var\", \"3.weight\", \"4.bias\", \"4.weight\". "
            + "\n\tsize mismatch for 0.weight: copying a param with shape torch.Size([3, 4]) from checkpoint, the shape in current model is torch.Size([5, 4])."
            + "\n\tsize mismatch for 0.bias: copying a param with shape torch.Size([3]) from checkpoint, the shape in current model is torch.Size([5])."));
        foreach (var (k, v) in other.state_dict()) AssertSame(before[k], v);
        foreach (var t in before.Values) t.Dispose();
    }

    [Test]
    public void NonStrictLoadsWhatFitsAndReturnsTheReport()
    {
        using var source = Net(1);
        var path = FilePath("net.safetensors");
        source.SaveSafeTensors(path);
        random.manual_seed(5);
        using var prefix = Sequential(Linear(4, 3), ReLU(), Linear(3, 7));

        var report = prefix.LoadSafeTensors(path, strict: false);
        Assert.That(report.AllKeysMatched, Is.False);
        Assert.That(report.LoadedKeys, Is.EqualTo(new[] { "0.weight", "0.bias" }));
        Assert.That(report.MissingKeys, Is.EqualTo(new[] { "2.weight", "2.bias" }));
        Assert.That(report.UnexpectedKeys, Has.Count.EqualTo(7));
        Assert.That(report.Mismatches, Is.Empty);
        AssertSame(source.state_dict()["0.weight"], prefix.state_dict()["0.weight"]);
        AssertSame(source.state_dict()["0.bias"], prefix.state_dict()["0.bias"]);
    }

    [Test]
    public void DTypeMismatchIsReported()
    {
        using var source = Net(1);
        using var target = Net(2);
        target.to(ScalarType.Float64);
        var report = StateDict.Compare(target, source.state_dict());
        Assert.That(report.MissingKeys, Is.Empty);
        Assert.That(report.UnexpectedKeys, Is.Empty);
        Assert.That(report.Mismatches.Select(m => m.Key), Is.EqualTo(new[] { "0.weight", "0.bias", "3.weight", "3.bias", "3.running_mean", "3.running_var", "4.weight", "4.bias" }));
        Assert.That(report.Mismatches[0].ToString(), Is.EqualTo(
            "dtype mismatch for 0.weight: copying a param with dtype Float32 from checkpoint, the dtype in current model is Float64."));
        Assert.Throws<StateDictMismatchException>(() => target.LoadStateDict(source.state_dict()));
    }

    [Test]
    public void TorchSharpFormatReadsWhatModuleSaveWrites()
    {
        using var source = Net(1);
        using var target = Net(2);
        var path = FilePath("net.dat");
        source.save(path); // TorchSharp's own writer is the oracle for our reader.
        var report = target.LoadTorchSharp(path);
        Assert.That(report.AllKeysMatched, Is.True);
        AssertSameState(source, target);
    }

    [Test]
    public void TorchSharpFormatWrittenHereLoadsWithModuleLoad()
    {
        using var source = Net(1);
        using var target = Net(2);
        var path = FilePath("net.dat");
        source.SaveTorchSharp(path);
        target.load(path); // TorchSharp's own reader.
        AssertSameState(source, target);
    }

    [Test]
    public void TorchSharpFormatMismatchAndCorruptionAreReported()
    {
        using var source = Net(1);
        var path = FilePath("net.dat");
        source.SaveTorchSharp(path);
        using var other = Other();
        var e = Assert.Throws<StateDictMismatchException>(() => other.LoadTorchSharp(path));
        Assert.That(e!.Report.MissingKeys, Is.EqualTo(new[] { "2.weight", "2.bias" }));

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 3)]);
        var bad = Assert.Throws<InvalidDataException>(() => Net(3).LoadTorchSharp(path));
        Assert.That(bad!.Message, Does.StartWith(path + ":").And.Contain("truncated"));
    }

    [Test]
    public void PyTorchStateDictImports()
    {
        // No Python here: the .pt file is written by TorchSharp.PyBridge's pickler, which writes torch.save's zip layout.
        using var source = Net(1);
        using var target = Net(2);
        var path = FilePath("net.pt");
        TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(path, source.state_dict());
        var report = target.LoadPyTorch(path);
        Assert.That(report.ToString(), Is.EqualTo(LoadReport.AllKeysMatchedMessage));
        AssertSameState(source, target);
    }

    [Test]
    public void CorruptPyTorchFileIsInvalidData()
    {
        var path = FilePath("junk.pt");
        File.WriteAllBytes(path, [0x50, 0x4B, 0x03, 0x04, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.StartWith(path + ": not a readable PyTorch state dict"));
    }

    [Test]
    public void LoadedTensorsAreFreedAfterTheLoad()
    {
        using var source = Net(1);
        using var target = Net(2);
        var path = FilePath("net.safetensors");
        source.SaveSafeTensors(path);
        target.LoadSafeTensors(path);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();   // earlier garbage is finalized now, not mid-measurement
        var before = Tensor.TotalCount;
        for (int i = 0; i < 10; i++)
        {
            source.SaveSafeTensors(path);
            target.LoadSafeTensors(path);
        }
        Assert.That(Tensor.TotalCount, Is.EqualTo(before));
    }
}
