using System.Text.Json;
using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Functional.Tests;

public class ModelFileTests : FileTestBase
{
    // A stand-in for the layer-spec builder: {"hidden": n, "dropout": p} -> Linear(4, n), ReLU, Dropout(p), BatchNorm1d(n), Linear(n, 2).
    const string Spec = "{\"hidden\":3,\"dropout\":0.5}";

    static int Builds;

    static Sequential Build(string spec)
    {
        Builds++;
        using var doc = JsonDocument.Parse(spec);
        var hidden = doc.RootElement.GetProperty("hidden").GetInt64();
        var p = doc.RootElement.GetProperty("dropout").GetDouble();
        return Sequential(Linear(4, hidden), ReLU(), Dropout(p), BatchNorm1d(hidden), Linear(hidden, 2));
    }

    static Sequential Trained()
    {
        var net = StateDictTests.Net(1);
        // A few training-mode passes so that BatchNorm's running statistics are the model's own.
        using var g = new Generator(5);
        for (int i = 0; i < 3; i++)
        {
            using var x = randn([8, 4], generator: g);
            using var y = net.call(x);
        }
        return net;
    }

    [Test]
    public void SpecAndWeightsRoundTrip()
    {
        using var net = Trained();
        var path = FilePath("model.safetensors");
        ModelFile.Save(path, Spec, net, new Dictionary<string, string> { ["trained_on"] = "test" });

        Assert.That(ModelFile.ReadSpec(path), Is.EqualTo(Spec));
        using var content = ModelFile.Read(path);
        Assert.That(content.Spec, Is.EqualTo(Spec));
        Assert.That(content.Metadata["trained_on"], Is.EqualTo("test"));
        Assert.That(content.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(content.StateDict.Keys, Is.EquivalentTo(net.state_dict().Keys));
        foreach (var (k, v) in net.state_dict()) AssertSame(v, content.StateDict[k]);
    }

    [Test]
    public void LoadedModelIsInEvalModeAndMatchesTheOriginalInEvalMode()
    {
        using var net = Trained();
        var path = FilePath("model.safetensors");
        ModelFile.Save(path, Spec, net);
        Builds = 0;

        using var loaded = ModelFile.Load(path, Build);
        Assert.That(Builds, Is.EqualTo(1));
        Assert.That(loaded.training, Is.False);
        Assert.That(loaded.modules().All(m => !m.training), Is.True, "every submodule is in eval mode");

        using var g = new Generator(9);
        using var x = randn([6, 4], generator: g);
        using var first = loaded.call(x);
        using var second = loaded.call(x);
        AssertSame(first, second); // dropout off: deterministic

        net.eval();
        using var expected = net.call(x);
        AssertSame(expected, first);

        // Batch norm uses the saved running statistics, so a row's output does not depend on the rest of the batch.
        using var row = x.narrow(0, 2, 1);
        using var alone = loaded.call(row);
        Assert.That(alone.allclose(first.narrow(0, 2, 1), rtol: 1e-5, atol: 1e-6), Is.True);

        // In training mode the same module would differ: the test above is not vacuous.
        loaded.train();
        using var training = loaded.call(x);
        Assert.That(training.allclose(first), Is.False);
    }

    [Test]
    public void SpecThatDoesNotMatchTheWeightsIsInvalidData()
    {
        using var net = Trained();
        var path = FilePath("model.safetensors");
        ModelFile.Save(path, "{\"hidden\":5,\"dropout\":0.5}", net);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path, Build));
        Assert.That(e!.Message, Does.StartWith(path + ": the model spec does not match the weights"));
        Assert.That(e.Message, Does.Contain("size mismatch for 0.weight"));
        Assert.That(((StateDictMismatchException)e.InnerException!).Report.Mismatches, Has.Count.EqualTo(7)); // all but the scalar num_batches_tracked
    }

    [Test]
    public void SpecThatCannotBeBuiltIsInvalidData()
    {
        using var net = Trained();
        var path = FilePath("model.safetensors");
        ModelFile.Save(path, "{\"layers\":[]}", net);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path, Build));
        Assert.That(e!.Message, Does.StartWith(path + ": the model spec could not be built"));
    }

    [Test]
    public void WeightsOnlyFileHasNoSpec()
    {
        using var net = Trained();
        var path = FilePath("weights.safetensors");
        net.SaveSafeTensors(path);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.ReadSpec(path));
        Assert.That(e!.Message, Does.StartWith(path + ":").And.Contain("no 'functional.spec'"));
    }

    [Test]
    public void SpecMustBeJson()
    {
        using var net = Trained();
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save(FilePath("m.safetensors"), "Linear(4, 3)", net));
        Assert.That(e!.ParamName, Is.EqualTo("specJson"));
    }

    [Test]
    public void ModelFileWeightsLoadAsAPlainStateDict()
    {
        using var net = Trained();
        var path = FilePath("model.safetensors");
        ModelFile.Save(path, Spec, net);
        using var other = Build(Spec);
        Assert.That(other.LoadSafeTensors(path).AllKeysMatched, Is.True);
    }
}
