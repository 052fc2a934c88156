using System.Text.Json;
using Functional.Data;
using Functional.Layers;
using Functional.Optim;
using Functional.Serialization;
using Functional.Training;
using Functional.Transforms;
using NUnit.Framework;
using TorchSharp;
using Modules = TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>
/// A model class written by the user, the tutorial's <c>NeuralNetwork</c> as a C# <c>nn.Module</c> subclass, works wherever a
/// composed one does: the trainer (fit, evaluate, predict, checkpoints and resume), the summary, PyTorch's printout, state
/// dicts, and whole-model files through <see cref="LayerRegistry"/>.
/// </summary>
/// <remarks>
/// PyTorch's figures below were printed by PyTorch 1.13.1 (Debian's python3-torch) for the tutorial's class
/// ("Build the Neural Network", https://pytorch.org/tutorials/beginner/basics/buildmodel_tutorial.html), and agree with
/// the tutorial's own printout:
/// <code>
/// class NeuralNetwork(nn.Module):
///     def __init__(self):
///         super().__init__()
///         self.flatten = nn.Flatten()
///         self.linear_relu_stack = nn.Sequential(nn.Linear(28*28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
///     def forward(self, x):
///         x = self.flatten(x)
///         return self.linear_relu_stack(x)
/// class Scale(nn.Module):
///     def __init__(self, factor):
///         super().__init__()
///         self.factor = factor
///     def forward(self, x):
///         return x * self.factor
/// model = NeuralNetwork()
/// print(repr(str(model)))
/// print([(k, list(v.shape)) for k, v in model.state_dict().items()])
/// print(sum(p.numel() for p in model.parameters()))
/// print(repr(str(nn.Sequential(nn.Flatten(), Scale(2.0), nn.Linear(784, 10)))))
/// </code>
/// </remarks>
public class CustomModuleTests
{
    /// <summary>The tutorial's class as a C# user writes it: fields named as in Python, registered by RegisterComponents.
    /// The generator, when given, draws PyTorch's default initialisation (uniform ±1/√in_features, weight then bias),
    /// as a built spec does, so that both start from the same weights.</summary>
    internal sealed class NeuralNetwork : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006   // the field names are the module names PyTorch prints
        readonly Modules.Flatten flatten;
        readonly Modules.Sequential linear_relu_stack;
#pragma warning restore IDE1006

        public NeuralNetwork(Generator? generator = null) : base(nameof(NeuralNetwork))
        {
            flatten = nn.Flatten();
            linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(),
                nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10));
            RegisterComponents();
            if (generator is null) return;
            using var _ = no_grad();
            foreach (var linear in linear_relu_stack.children().OfType<Modules.Linear>())
            {
                var bound = 1.0 / Math.Sqrt(linear.in_features);
                linear.weight!.uniform_(-bound, bound, generator);
                linear.bias!.uniform_(-bound, bound, generator);
            }
        }

        public override Tensor forward(Tensor x)
        {
            using var flat = flatten.call(x);
            return linear_relu_stack.call(flat);
        }
    }

    /// <summary>A layer with a setting and no parameters: x · factor.</summary>
    internal sealed class Scale(double factor) : nn.Module<Tensor, Tensor>(nameof(Scale))
    {
        public double Factor { get; } = factor;

        public override Tensor forward(Tensor x) => x * Factor;
    }

    /// <summary>A class no test registers.</summary>
    internal sealed class Unregistered : nn.Module<Tensor, Tensor>
    {
        readonly Modules.Linear head = nn.Linear(4, 2);

        public Unregistered() : base(nameof(Unregistered)) => RegisterComponents();

        public override Tensor forward(Tensor x) => head.call(x);
    }

    static readonly long[] Image = [1, 28, 28];

    /// <summary>The tutorial's architecture as a spec, with the class's child names.</summary>
    static LayerSpec Composed() => Layer.Named(
        ("flatten", Layer.Flatten()),
        ("linear_relu_stack", Layer.Sequential(Layer.Linear(512), Layer.ReLU(), Layer.Linear(512), Layer.ReLU(), Layer.Linear(10))));

    string folder = "";

    [OneTimeSetUp]
    public void Register()
    {
        Native.EnsureLoaded();
        LayerRegistry.Register("NeuralNetwork", () => new NeuralNetwork());
        LayerRegistry.Register("Scale", options => new Scale(options.TryGetProperty("factor", out var f) ? f.GetDouble() : 1.0));
    }

    [OneTimeTearDown]
    public void Unregister()
    {
        LayerRegistry.Unregister("NeuralNetwork");
        LayerRegistry.Unregister("Scale");
    }

    [SetUp]
    public void MakeFolder() => folder = Directory.CreateTempSubdirectory("functional-custom-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(folder, recursive: true);

    static (TensorDataset Data, IDataLoader Train, IDataLoader Test) Data(int samples = 256)
    {
        using var all = new FashionMnist(root: null, train: true, fallback: FashionMnist.FindShippedSubset(), searchSystem: false);
        var data = new TensorDataset(all.Features.narrow(0, 0, samples).clone(), all.Labels.narrow(0, 0, samples).clone(), Transform.ToTensor());
        return (data, new DataLoader(data, 64, shuffle: true, seed: 1), new DataLoader(data, 100));
    }

    static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var equal = a.eq(b);
        using var all = equal.all();
        return all.item<bool>();
    }

    static void AssertSameParameters(nn.Module a, nn.Module b)
    {
        var pa = a.named_parameters().ToList();
        var pb = b.named_parameters().ToList();
        Assert.That(pa.Select(p => p.name), Is.EqualTo(pb.Select(p => p.name)));
        foreach (var ((name, x), (_, y)) in pa.Zip(pb))
            Assert.That(Same(x, y), Is.True, $"{name} differs");
    }

    /// <summary>A model loaded from a file equals the saved one: the same parameters, and in eval mode the same outputs
    /// for a batch of <paramref name="n"/> images drawn from <paramref name="g"/>, which it returns (the saved model's).</summary>
    static Tensor AssertSameModel(nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor> loaded, long n, Generator g)
    {
        AssertSameParameters(model, loaded);
        model.eval();
        using var x = rand([n, 1, 28, 28], generator: g);
        var a = model.call(x);
        using var b = loaded.call(x);
        Assert.That(Same(a, b), Is.True, "the same outputs");
        return a;
    }

    [Test]
    public void ItPrintsAsPyTorchPrintsTheTutorialsClass()
    {
        using var model = new NeuralNetwork();
        Assert.That(ModelFormat.Format(model), Is.EqualTo(
            "NeuralNetwork(\n  (flatten): Flatten(start_dim=1, end_dim=-1)\n  (linear_relu_stack): Sequential(\n" +
            "    (0): Linear(in_features=784, out_features=512, bias=True)\n    (1): ReLU()\n" +
            "    (2): Linear(in_features=512, out_features=512, bias=True)\n    (3): ReLU()\n" +
            "    (4): Linear(in_features=512, out_features=10, bias=True)\n  )\n)"));
        // A custom layer inside a composed model prints under its own name, with no settings (no extra_repr), as in PyTorch.
        using var composed = Layer.Sequential(Layer.Flatten(), Layer.Custom("Scale", """{"factor":2}"""), Layer.Linear(10)).Build(Image);
        Assert.That(ModelFormat.Format(composed), Is.EqualTo(
            "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n  (1): Scale()\n  (2): Linear(in_features=784, out_features=10, bias=True)\n)"));
    }

    /// <summary>Scale with PyTorch's <c>extra_repr</c>: <c>def extra_repr(self): return f'factor={self.factor}'</c>.</summary>
    internal sealed class ScaleWithRepr(double factor) : nn.Module<Tensor, Tensor>("Scale"), IExtraRepr
    {
        public override Tensor forward(Tensor x) => x * factor;

        public string ExtraRepr() => $"factor={ModelFormat.PythonFloat(factor)}";
    }

    /// <summary>A block with a child and a two-line <c>extra_repr</c> (<c>'residual=True\nscale=0.5'</c>).</summary>
    internal sealed class Block : nn.Module<Tensor, Tensor>, IExtraRepr
    {
        readonly Modules.Linear linear = nn.Linear(2, 2);

        public Block() : base(nameof(Block)) => RegisterComponents();

        public override Tensor forward(Tensor x) => x + 0.5 * linear.call(x);

        public string ExtraRepr() => "residual=True\nscale=0.5";
    }

    [Test]
    public void ASeededBuildOfARegisteredClassIsReproducibleWhateverTheGlobalGenerator()
    {
        var spec = Layer.Sequential(Layer.Custom("NeuralNetwork"), Layer.Linear(3));
        Tensor[] Weights(long globalSeed)
        {
            torch.manual_seed(globalSeed);
            using var generator = new Generator(7);
            using var model = spec.Build(Image, generator);
            return model.parameters().Select(p => p.detach().clone()).ToArray();
        }
        var first = Weights(1);
        var second = Weights(2);   // another global state: the same weights, all from the build's generator
        Assert.That(first, Has.Length.EqualTo(8));
        for (int i = 0; i < first.Length; i++) Assert.That(Same(first[i], second[i]), $"parameter {i}");
        using var eight = new Generator(8);
        using var other = spec.Build(Image, eight);
        Assert.That(Same(other.parameters().First(), first[0]), Is.False, "another seed, other weights");
        foreach (var t in first.Concat(second)) t.Dispose();
    }

    [Test]
    public void AHandWrittenModuleWithExtraReprPrintsItsSettingsAsPyTorchDoes()
    {
        // PyTorch 1.13.1, with Scale and Block as in the comments above:
        //   print(nn.Sequential(nn.Linear(2, 2), Scale(2.0))); print(Block()); print(Scale(2.0))
        using var sequence = nn.Sequential(nn.Linear(2, 2), new ScaleWithRepr(2.0));
        Assert.That(ModelFormat.Format(sequence), Is.EqualTo(
            "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): Scale(factor=2.0)\n)"));
        using var block = new Block();
        Assert.That(ModelFormat.Format(block), Is.EqualTo(
            "Block(\n  residual=True\n  scale=0.5\n  (linear): Linear(in_features=2, out_features=2, bias=True)\n)"));
        using var scale = new ScaleWithRepr(2.0);
        Assert.That(ModelFormat.Format(scale), Is.EqualTo("Scale(factor=2.0)"));
    }

    [Test]
    public void ItsStateDictAndSummaryHavePyTorchsNamesShapesAndCounts()
    {
        using var model = new NeuralNetwork();
        var stateDict = model.state_dict().Select(e => (e.Key, string.Join(",", e.Value.shape))).ToList();
        Assert.That(stateDict, Is.EqualTo(new[]
        {
            ("linear_relu_stack.0.weight", "512,784"), ("linear_relu_stack.0.bias", "512"),
            ("linear_relu_stack.2.weight", "512,512"), ("linear_relu_stack.2.bias", "512"),
            ("linear_relu_stack.4.weight", "10,512"), ("linear_relu_stack.4.bias", "10"),
        }));
        var summary = ModelSummary.Of(model, Image);
        Assert.That(summary.TotalParameters, Is.EqualTo(669706));
        Assert.That(summary.OutputShape, Is.EqualTo(new long[] { -1, 10 }));
        Assert.That(summary.ToString(), Does.Contain("flatten (Flatten)").And.Contain("[-1, 784]")
            .And.Contain("linear_relu_stack.4 (Linear)").And.Contain("Total params: 669,706"));
        // The same weights saved as safetensors load into a new instance (and into the composed model: same names).
        var path = Path.Combine(folder, "weights.safetensors");
        model.SaveSafeTensors(path);
        using var again = new NeuralNetwork();
        Assert.That(again.LoadSafeTensors(path).AllKeysMatched, Is.True);
        AssertSameParameters(model, again);
        using var composed = Composed().Build(Image);
        Assert.That(composed.LoadSafeTensors(path).AllKeysMatched, Is.True);
        AssertSameParameters(model, composed);
    }

    [Test]
    public void ItTrainsEvaluatesAndPredictsAsTheComposedModelDoesStepForStep()
    {
        var (data, train, test) = Data();
        using var _ = data;
        (History, Evaluation, Tensor, nn.Module) Run(nn.Module<Tensor, Tensor> model, bool? fused)
        {
            using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(0.05, momentum: 0.9),
                new TrainerOptions { Device = Devices.Cpu, Progress = false, Seed = 7, Fused = fused });
            if (model is NeuralNetwork) Assert.That(trainer.StepPath, Does.StartWith("autograd: "), "a hand-written forward runs on autograd");
            var history = trainer.Fit(train, test, 2);
            using var batch = data.Features.narrow(0, 0, 5).to_type(ScalarType.Float32).div(255);
            using var prediction = trainer.Predict(batch);
            return (history, trainer.Evaluate(test), prediction.Probabilities.clone(), model);
        }
        using var g1 = new Generator(3);
        using var g2 = new Generator(3);
        using var g3 = new Generator(3);
        var (handHistory, handEvaluation, handProbabilities, hand) = Run(new NeuralNetwork(g1), null);
        // The composed model on the same path (autograd): the same numbers, bit for bit.
        var (composedHistory, composedEvaluation, composedProbabilities, composed) = Run(Composed().Build(Image, g2), false);
        using (hand) using (composed) using (handProbabilities) using (composedProbabilities)
        {
            for (var i = 0; i < 2; i++)
            {
                Assert.That(handHistory.Epochs[i].TrainLoss, Is.EqualTo(composedHistory.Epochs[i].TrainLoss), $"train loss of epoch {i + 1}");
                Assert.That(handHistory.Epochs[i].TestLoss, Is.EqualTo(composedHistory.Epochs[i].TestLoss), $"test loss of epoch {i + 1}");
                Assert.That(handHistory.Epochs[i].TestAccuracy, Is.EqualTo(composedHistory.Epochs[i].TestAccuracy), $"accuracy of epoch {i + 1}");
            }
            Assert.That(handEvaluation, Is.EqualTo(composedEvaluation));
            Assert.That(Same(handProbabilities, composedProbabilities), Is.True);
            AssertSameParameters(hand, composed);
            Assert.That(handHistory.Epochs[1].TrainLoss, Is.LessThan(handHistory.Epochs[0].TrainLoss), "the run learns");
        }
        // The composed model on its default path (the fused step) agrees within float rounding.
        var (fusedHistory, _, fusedProbabilities, fused) = Run(Composed().Build(Image, g3), null);
        using (fused) using (fusedProbabilities)
            for (var i = 0; i < 2; i++)
                Assert.That(fusedHistory.Epochs[i].TrainLoss, Is.EqualTo(handHistory.Epochs[i].TrainLoss).Within(1e-4));
    }

    [Test]
    public void ACheckpointedRunOfItResumesExactlyAsAnUninterruptedOne()
    {
        var (data, train, test) = Data(192);
        using var _ = data;
        var checkpoint = Path.Combine(folder, "run.ckpt");
        NeuralNetwork Model(int seed) { using var g = new Generator((ulong)seed); return new NeuralNetwork(g); }
        History Fit(NeuralNetwork model, int epochs, string? save, string? resume)
        {
            using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Adam(1e-3),
                new TrainerOptions { Device = Devices.Cpu, Progress = false, Seed = 5, Checkpoint = save, Resume = resume });
            return trainer.Fit(train, test, epochs);
        }
        using var straight = Model(3);
        var whole = Fit(straight, 2, null, null);
        using (var first = Model(3)) Fit(first, 1, checkpoint, null);
        using var resumed = Model(99);   // other weights: the checkpoint's replace them
        var continued = Fit(resumed, 2, null, checkpoint);
        AssertSameParameters(straight, resumed);
        Assert.That(continued.Epochs.Select(e => (e.TrainLoss, e.TestLoss, e.TestAccuracy)),
            Is.EqualTo(whole.Epochs.Select(e => (e.TrainLoss, e.TestLoss, e.TestAccuracy))));
    }

    [Test]
    public void ARegisteredModelRoundTripsThroughAWholeModelFile()
    {
        using var g = new Generator(11);
        using var model = new NeuralNetwork(g);
        var path = Path.Combine(folder, "model.safetensors");
        ModelFile.Save(path, model, Image);
        Assert.That(ModelFile.ReadSpec(path), Is.EqualTo("""{"type":"NeuralNetwork"}"""));
        Assert.That(ModelFile.ReadInputShape(path), Is.EqualTo(Image));
        using var loaded = ModelFile.Load(path);
        Assert.That(loaded, Is.InstanceOf<NeuralNetwork>(), "the registered factory built it");
        Assert.That(loaded.training, Is.False, "loaded in eval mode");
        AssertSameModel(model, loaded, 3, g).Dispose();
        // The weights are an ordinary state dict under PyTorch's names.
        Assert.That(SafeTensors.ReadHeader(path).Entries.Select(e => e.Name), Is.EquivalentTo(model.state_dict().Keys));
    }

    [Test]
    public void CustomLayersNestInSpecsWithTheirOptions()
    {
        var spec = Layer.Sequential(Layer.Custom("NeuralNetwork"), Layer.Custom("Scale", """{ "factor": 2.5 }"""), Layer.Softmax());
        Assert.That(spec.ToJson(), Is.EqualTo(
            """{"type":"Sequential","layers":[{"type":"NeuralNetwork"},{"type":"Scale","options":{"factor":2.5}},{"type":"Softmax","dim":1}]}"""));
        Assert.That(LayerSpec.FromJson(spec.ToJson()), Is.EqualTo(spec));
        // Asking for the shape builds the custom layers once, and leaves LibTorch's generator as it was.
        using var before = get_rng_state();
        Assert.That(spec.OutputShape(Image), Is.EqualTo(new long[] { 10 }));
        using var after = get_rng_state();
        Assert.That(Same(after, before), Is.True, "the shape was measured without drawing from the global generator");

        using var g = new Generator(2);
        using var model = spec.Build(Image, g);
        Assert.That(model.state_dict().Keys.First(), Is.EqualTo("0.linear_relu_stack.0.weight"));
        var path = Path.Combine(folder, "nested.safetensors");
        ModelFile.Save(path, spec, Image, model);
        using var loaded = ModelFile.Load(path);
        using var a = AssertSameModel(model, loaded, 2, g);
        using var sums = a.sum(1);
        Assert.That(sums.allclose(ones(2)), Is.True);
        Assert.That(((Modules.Sequential)loaded).children().ElementAt(1), Is.InstanceOf<Scale>().With.Property("Factor").EqualTo(2.5));
    }

    [Test]
    public void AFileNamingAnUnregisteredTypeIsRefusedInOneLineThatSaysHowToRegisterIt()
    {
        LayerRegistry.Register("TemporaryNet", () => new NeuralNetwork());
        var path = Path.Combine(folder, "temporary.safetensors");
        using (var model = new NeuralNetwork()) ModelFile.Save(path, Layer.Custom("TemporaryNet"), Image, model);
        Assert.That(LayerRegistry.Unregister("TemporaryNet"), Is.True);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": the model spec could not be read: Unknown layer type \"TemporaryNet\" at $:"));
        Assert.That(e.Message, Does.Contain("""register it before loading: LayerRegistry.Register("TemporaryNet", () => new TemporaryNet())"""));
        Assert.That(e.Message, Does.Contain("""(F#: Layer.register "TemporaryNet" (fun () -> new TemporaryNet()))"""));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        // The same from the spec's JSON alone, with the path of the layer in the spec.
        var json = Assert.Throws<JsonException>(() => LayerSpec.FromJson("""{"type":"Sequential","layers":[{"type":"Flatten"},{"type":"TemporaryNet"}]}"""))!;
        Assert.That(json.Message, Does.StartWith("Unknown layer type \"TemporaryNet\" at $.layers[1]:").And.Contain("LayerRegistry.Register(\"TemporaryNet\""));
        Assert.That(LayerRegistry.IsRegistered("TemporaryNet"), Is.False);
    }

    [Test]
    public void SavingAModelOfAnUnregisteredClassSaysHowToRegisterIt()
    {
        using var model = new Unregistered();
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(folder, "m.safetensors"), model, [4]))!;
        Assert.That(e.Message, Does.Contain("The class Unregistered is not registered").And.Contain("LayerRegistry.Register(\"Unregistered\", () => new Unregistered())"));
        Assert.That(File.Exists(Path.Combine(folder, "m.safetensors")), Is.False);
    }

    [Test]
    public void ASpecThatDoesNotBuildTheModelIsRefusedWhenSaving()
    {
        using var model = new NeuralNetwork();
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(folder, "m.safetensors"), Layer.Custom("Scale"), Image, model))!;
        Assert.That(e.Message, Does.StartWith("The spec does not describe the model").And.Contain("the model holds 'linear_relu_stack.0.bias'"));
        var spec = Layer.Sequential(Layer.Flatten(), Layer.Linear(10));
        e = Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(folder, "m.safetensors"), spec, Image, model))!;
        Assert.That(e.Message, Does.Contain("it needs '1.weight' of shape [10, 784], which the model does not hold"));
    }

    [Test]
    public void RegistrationRefusesBuiltInNamesAndReportsFailingFactories()
    {
        var e = Assert.Throws<ArgumentException>(() => LayerRegistry.Register("Linear", () => new NeuralNetwork()))!;
        Assert.That(e.Message, Does.Contain("\"Linear\" is a built-in layer type"));
        Assert.Throws<ArgumentException>(() => LayerRegistry.Register(" ", () => new NeuralNetwork()));
        Assert.That(LayerRegistry.IsRegistered("Linear"), Is.False);
        LayerRegistry.Register("Strict", options => new Scale(options.GetProperty("factor").GetDouble()));
        try
        {
            var shape = Assert.Throws<ArgumentException>(() => Layer.Custom("Strict").OutputShape([3]))!;
            Assert.That(shape.Message, Does.Contain("The factory registered for the layer type \"Strict\" failed with options {}"));
            // A layer whose forward cannot take the shape says so with the layer's type and the shape.
            var forward = Assert.Throws<ArgumentException>(() => Layer.Custom("NeuralNetwork").OutputShape([3, 10]))!;
            Assert.That(forward.Message, Does.StartWith("NeuralNetwork cannot take an input of per-sample shape [3, 10]: its forward pass failed"));
            Assert.Throws<ArgumentException>(() => Layer.Custom("Scale", "[2]"));
        }
        finally
        {
            LayerRegistry.Unregister("Strict");
        }
    }
}
