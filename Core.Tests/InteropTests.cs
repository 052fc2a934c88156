using Functional.Data;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The trainer with TorchSharp's own optimizers, schedulers, datasets and loaders: the tutorial's
/// network trained each way from the same weights on the same batches ends with the same weights and history.</summary>
public class InteropTests
{
    const int Samples = 640, BatchSize = 64, Epochs = 2;

    /// <summary>A TorchSharp dataset as a TorchSharp user writes one: samples as "data"/"label" dictionaries.</summary>
    sealed class DictionaryDataset(Tensor images, Tensor labels) : utils.data.Dataset
    {
        public override long Count => images.shape[0];

        public override Dictionary<string, Tensor> GetTensor(long index) => new()
        {
            ["data"] = images[index].to(ScalarType.Float32).div_(255f),
            ["label"] = labels[index].clone(),
        };
    }

    static (Tensor Images, Tensor Labels) Data()
    {
        using var train = new FashionMnist(root: null, train: true, fallback: FashionMnist.FindShippedSubset(), searchSystem: false);
        return (train.Features.narrow(0, 0, Samples).clone(), train.Labels.narrow(0, 0, Samples).clone());
    }

    static NeuralNetwork Model(NeuralNetwork? like = null)
    {
        var model = new NeuralNetwork();
        if (like is not null)
            using (no_grad())
                foreach (var (p, q) in model.parameters().Zip(like.parameters())) p.copy_(q);
        return model;
    }

    static TrainerOptions Options => new() { Device = Devices.Cpu, Progress = false };

    static void AssertSame(NeuralNetwork expected, NeuralNetwork actual, History expectedHistory, History actualHistory, string what)
    {
        foreach (var (p, q) in expected.parameters().Zip(actual.parameters()))
            Assert.That(p.allclose(q, rtol: 1e-5, atol: 1e-6), Is.True, $"{what}: the weights differ");
        for (int i = 0; i < Epochs; i++)
        {
            Assert.That(actualHistory.Epochs[i].TrainLoss, Is.EqualTo(expectedHistory.Epochs[i].TrainLoss).Within(1e-5), $"{what}: train loss of epoch {i + 1}");
            Assert.That(actualHistory.Epochs[i].TestAccuracy, Is.EqualTo(expectedHistory.Epochs[i].TestAccuracy).Within(1e-12), $"{what}: accuracy of epoch {i + 1}");
            Assert.That(actualHistory.Epochs[i].LearningRate, Is.EqualTo(expectedHistory.Epochs[i].LearningRate).Within(1e-12), $"{what}: learning rate of epoch {i + 1}");
        }
    }

    [Test]
    public void TorchSharpOptimizersSchedulersDatasetsAndLoadersTrainAsTheLibrarysOwnDo()
    {
        var (images, labels) = Data();
        using var dataset = new TensorDataset(images, labels, Transform.ToTensor());
        IDataLoader OurLoader() => new DataLoader(dataset, BatchSize);
        manual_seed(3);
        using var reference = Model();

        // The library's own: SGD with momentum, the learning rate halved after each epoch by a callback.
        using var ours = Model(reference);
        using var trainer = new Trainer(ours, Losses.CrossEntropy(), Optimizers.Sgd(0.05, momentum: 0.9), Options);
        var oursHistory = trainer.Fit(OurLoader(), OurLoader(), Epochs, [Callback.LearningRate(epoch => 0.05 * Math.Pow(0.5, epoch - 1))]);

        // torch.optim.SGD with torch.optim.lr_scheduler.StepLR(step_size=1, gamma=0.5), stepped after each epoch.
        using var theirs = Model(reference);
        using var sgd = optim.SGD(theirs.parameters(), 0.05, momentum: 0.9);
        var scheduler = optim.lr_scheduler.StepLR(sgd, step_size: 1, gamma: 0.5);
        var torchOptimizerHistory = new Trainer(theirs, Losses.CrossEntropy(), sgd, scheduler, Options).Fit(OurLoader(), OurLoader(), Epochs);
        // The scheduler stepped after the epoch's figures were taken: the history holds the rate the epoch ran with.
        AssertSame(ours, theirs, oursHistory, torchOptimizerHistory, "torch.optim.SGD + StepLR");

        // TorchSharp's DataLoader over a TorchSharp dataset, with the library's optimizer.
        using var fromLoader = Model(reference);
        using var torchDataset = new DictionaryDataset(images, labels);
        using var torchLoader = utils.data.DataLoader(torchDataset, BatchSize, shuffle: false);
        using var trainer3 = new Trainer(fromLoader, Losses.CrossEntropy(), Optimizers.Sgd(0.05, momentum: 0.9), Options);
        var loaderHistory = trainer3.Fit(DataLoader.FromTorchSharp(torchLoader), DataLoader.FromTorchSharp(torchLoader), Epochs,
            [Callback.LearningRate(epoch => 0.05 * Math.Pow(0.5, epoch - 1))]);
        AssertSame(ours, fromLoader, oursHistory, loaderHistory, "TorchSharp DataLoader");

        // The library's loader over the TorchSharp dataset.
        using var fromDataset = Model(reference);
        using var trainer4 = new Trainer(fromDataset, Losses.CrossEntropy(), Optimizers.Sgd(0.05, momentum: 0.9), Options);
        var datasetHistory = trainer4.Fit(DataLoader.FromTorchSharp(torchDataset, batchSize: BatchSize), DataLoader.FromTorchSharp(torchDataset, batchSize: BatchSize), Epochs,
            [Callback.LearningRate(epoch => 0.05 * Math.Pow(0.5, epoch - 1))]);
        AssertSame(ours, fromDataset, oursHistory, datasetHistory, "TorchSharp Dataset");
    }

    [Test]
    public void ATorchSharpOptimizerWithACheckpointIsRefusedInOneLine()
    {
        using var model = new NeuralNetwork();
        using var sgd = optim.SGD(model.parameters(), 0.01);
        var e = Assert.Throws<NotSupportedException>(() => _ = new Trainer(model, Losses.CrossEntropy(), sgd, null, new TrainerOptions { Device = Devices.Cpu, Checkpoint = "x.ckpt" }));
        Assert.That(e!.Message, Does.Contain("this library's optimizers").And.Not.Contain("\n"));
    }

    [Test]
    public void AMissingTensorNameSaysWhichNamesTheDatasetHas()
    {
        var (images, labels) = Data();
        using var torchDataset = new DictionaryDataset(images, labels);
        var loader = DataLoader.FromTorchSharp(torchDataset, features: "image", batchSize: 4);
        var e = Assert.Throws<KeyNotFoundException>(() => loader.Peek());
        Assert.That(e!.Message, Does.Contain("'image'").And.Contain("'data', 'label'"));
    }
}
