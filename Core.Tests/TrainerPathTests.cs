using Functional.Data;
using Functional.Layers;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;
using NUnit.Framework;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The trainer picks the fused step when it applies and autograd otherwise, says which, and an option forces either.</summary>
public class TrainerPathTests
{
    static (TensorDataset Data, IDataLoader Train, IDataLoader Test) Data(int samples = 320)
    {
        using var all = new FashionMnist(root: null, train: true, fallback: FashionMnist.FindShippedSubset(), searchSystem: false);
        var data = new TensorDataset(all.Features.narrow(0, 0, samples).clone(), all.Labels.narrow(0, 0, samples).clone(), Transform.ToTensor());
        return (data, new DataLoader(data, 64, shuffle: true, seed: 1), new DataLoader(data, 100));
    }

    static NeuralNetwork Model(int seed)
    {
        manual_seed(seed);
        return new NeuralNetwork();
    }

    [Test]
    public void TheMainJobTakesTheFusedStepAndTheOptionForcesAutograd()
    {
        using var a = Model(0);
        using var fusedTrainer = new Trainer(a, Losses.CrossEntropy(), Optimizers.Sgd(1e-3), new TrainerOptions { Device = Devices.Cpu, Progress = false });
        Assert.That(fusedTrainer.StepPath, Does.StartWith("fused: Flatten → Linear(784→512) → ReLU"));
        using var b = Model(0);
        using var autogradTrainer = new Trainer(b, Losses.CrossEntropy(), Optimizers.Sgd(1e-3), new TrainerOptions { Device = Devices.Cpu, Progress = false, Fused = false });
        Assert.That(autogradTrainer.StepPath, Is.EqualTo("autograd: TrainerOptions.Fused is false"));
    }

    [Test]
    public void WhatTheFusedStepDoesNotCoverRunsOnAutogradAndSaysWhy()
    {
        using var conv = Layer.Sequential(Layer.Conv2d(4, 3), Layer.ReLU(), Layer.Flatten(), Layer.Linear(10)).Build([1, 28, 28]);
        using var trainer = new Trainer(conv, Losses.CrossEntropy(), Optimizers.Sgd(1e-3), new TrainerOptions { Device = Devices.Cpu, Progress = false });
        Assert.That(trainer.StepPath, Does.StartWith("autograd: ").And.Contain("Conv2d"));
        using var nll = Model(0);
        using var nllTrainer = new Trainer(nll, Losses.MSE(), Optimizers.Sgd(1e-3), new TrainerOptions { Device = Devices.Cpu, Progress = false });
        Assert.That(nllTrainer.StepPath, Does.StartWith("autograd: ").And.Contain("CrossEntropy"));
        using var forced = new Trainer(conv, Losses.CrossEntropy(), Optimizers.Sgd(1e-3), new TrainerOptions { Device = Devices.Cpu, Progress = false, Fused = true });
        var e = Assert.Throws<ArgumentException>(() => _ = forced.StepPath);
        Assert.That(e!.Message, Does.Contain("Conv2d").And.Contain("Fused is true"));
    }

    [Test]
    public void TheFusedLayoutOptionChoosesTheLayoutAndAutoTakesTheMachinesOne()
    {
        string PathWith(FusedLayout layout)
        {
            using var model = Model(0);
            using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-3),
                new TrainerOptions { Device = Devices.Cpu, Progress = false, FusedLayout = layout });
            return trainer.StepPath;
        }
        Assert.That(PathWith(FusedLayout.RowMajor), Does.StartWith("fused: ").And.EndWith("; activations row-major"));
        Assert.That(PathWith(FusedLayout.FeatureMajor), Does.StartWith("fused: ").And.EndWith("; activations feature-major"));
        // Auto: feature-major on an AMD processor, and on an Intel one with one thread; row-major otherwise (the vendor
        // read here from /proc/cpuinfo, not CPUID).
        Assume.That(File.Exists("/proc/cpuinfo"), "the vendor of the processor is read from /proc/cpuinfo");
        var vendor = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("vendor_id", StringComparison.Ordinal))?.Split(':')[1].Trim();
        var threads = get_num_threads();
        try
        {
            foreach (var t in new[] { 1, 2 })
            {
                set_num_threads(t);
                var featureMajor = vendor == "AuthenticAMD" || vendor == "GenuineIntel" && t == 1;
                Assert.That(PathWith(FusedLayout.Auto), Does.EndWith(featureMajor ? "; activations feature-major" : "; activations row-major"), $"{vendor}, {t} thread(s)");
            }
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [TestCase(false, FusedLayout.RowMajor)]
    [TestCase(true, FusedLayout.RowMajor)]
    [TestCase(false, FusedLayout.FeatureMajor)]
    [TestCase(true, FusedLayout.FeatureMajor)]
    public void BothPathsGiveTheSameSeededRun(bool adam, FusedLayout layout)
    {
        var (data, train, test) = Data();
        using var _ = data;
        History Run(bool? fused)
        {
            using var model = Model(4);
            GradientTransformation optimizer = adam ? Optimizers.Adam(1e-3) : Optimizers.Sgd(0.05, momentum: 0.9, nesterov: true);
            using var trainer = new Trainer(model, Losses.CrossEntropy(), optimizer,
                new TrainerOptions { Device = Devices.Cpu, Progress = false, Seed = 7, Fused = fused, FusedLayout = layout });
            return trainer.Fit(train, test, 3);
        }
        var fusedRun = Run(true);
        var autogradRun = Run(false);
        for (int i = 0; i < 3; i++)
        {
            Assert.That(fusedRun.Epochs[i].TrainLoss, Is.EqualTo(autogradRun.Epochs[i].TrainLoss).Within(1e-4), $"train loss of epoch {i + 1}");
            Assert.That(fusedRun.Epochs[i].TestLoss!.Value, Is.EqualTo(autogradRun.Epochs[i].TestLoss!.Value).Within(1e-4), $"test loss of epoch {i + 1}");
            Assert.That(fusedRun.Epochs[i].TestAccuracy!.Value, Is.EqualTo(autogradRun.Epochs[i].TestAccuracy!.Value).Within(2.0 / 320), $"accuracy of epoch {i + 1}");
        }
        Assert.That(fusedRun.Epochs[2].TrainLoss, Is.LessThan(fusedRun.Epochs[0].TrainLoss), "the run learns");
    }
}
