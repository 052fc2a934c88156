using Functional.Layers;
using Functional.Training;
using Functional.Models;
using Functional.Optim;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The C# face of layers, printing, losses and optimizers, used as the tutorial uses them.</summary>
public class ModelsTests
{
    [OneTimeSetUp]
    public void Load() => Native.EnsureLoaded();

    // print(model) in PyTorch's "Build the Neural Network" tutorial.
    const string TutorialPrintout = """
        NeuralNetwork(
          (flatten): Flatten(start_dim=1, end_dim=-1)
          (linear_relu_stack): Sequential(
            (0): Linear(in_features=784, out_features=512, bias=True)
            (1): ReLU()
            (2): Linear(in_features=512, out_features=512, bias=True)
            (3): ReLU()
            (4): Linear(in_features=512, out_features=10, bias=True)
          )
        )
        """;

    [Test]
    public void NeuralNetworkPrintsAsInTheTutorial()
    {
        using var model = new NeuralNetwork();
        Assert.That(ModelFormat.Format(model), Is.EqualTo(TutorialPrintout.ReplaceLineEndings("\n")));
    }

    [Test]
    public void ASpecRebuiltFromJsonHasTheSameParametersAndFunction()
    {
        var spec = Layer.Sequential(Layer.Flatten(), Layer.Linear(32), Layer.ReLU(), Layer.Dropout(0.1), Layer.Linear(10));
        using var g1 = new Generator(5);
        using var g2 = new Generator(5);
        using var original = spec.Build(new long[] { 1, 8, 8 }, g1);
        using var rebuilt = LayerSpec.FromJson(spec.ToJson()).Build(new long[] { 1, 8, 8 }, g2);
        Assert.That(rebuilt.named_parameters().Select(p => p.name), Is.EqualTo(new[] { "1.weight", "1.bias", "4.weight", "4.bias" }));
        original.eval();
        rebuilt.eval();
        using var x = rand(4, 1, 8, 8);
        using var a = original.call(x);
        using var b = rebuilt.call(x);
        Assert.That(a.eq(b).all().item<bool>(), Is.True);
    }

    [Test]
    public void TheTutorialLoopLearnsAndKeepsMemoryFlat()
    {
        using var g = new Generator(3);
        using var model = new NeuralNetwork(generator: g);
        var lossFn = Losses.CrossEntropy();
        using var optimizer = Optimizers.Sgd(1e-1, momentum: 0.9).Bind(model);
        using var x = rand(new long[] { 16, 1, 28, 28 }, generator: g);
        using var y = randint(10, new long[] { 16 }, generator: g);

        double Step()
        {
            using var scope = NewDisposeScope();
            var loss = lossFn(model.call(x), y);
            loss.backward();
            optimizer.Step();
            optimizer.ZeroGrad();
            return loss.item<float>();
        }

        var first = Step();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();   // earlier garbage is finalized now, not mid-measurement
        var live = Tensor.TotalCount;
        double last = first;
        for (var i = 0; i < 30; i++) last = Step();
        Assert.That(Tensor.TotalCount, Is.EqualTo(live));
        Assert.That(last, Is.LessThan(first / 2), "30 steps on one batch fit it");
        Assert.That(optimizer.StepCount, Is.EqualTo(31));
    }

    [Test]
    public void OptimizerScalarsRoundTripThroughJson()
    {
        using var model = new NeuralNetwork();
        using var optimizer = Optimizers.AdamW(1e-3).Bind(model);
        optimizer.LearningRate = 5e-4;
        var json = System.Text.Json.JsonSerializer.Serialize(optimizer.StateScalars());
        var back = System.Text.Json.JsonSerializer.Deserialize<OptimizerScalars>(json)!;
        Assert.That(back.Transformation, Is.EqualTo(optimizer.Transformation.Name));
        Assert.That(back.State[2].GetProperty("Constant").GetDouble(), Is.EqualTo(5e-4));
        Assert.That(optimizer.StateTensors().Select(t => t.Name).Take(2), Is.EqualTo(new[] { "0.exp_avg.0", "0.exp_avg.1" }));
    }
}
