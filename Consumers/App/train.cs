// A user's C# file-based app, outside the repository: the packages only (run by Consumers/run with
// the version it packed). One epoch of the tutorial's network on a slice of Fashion-MNIST.
#:package Functional.Core@__VERSION__
#:package TorchSharp-cpu@0.107.0
using Functional.Data;
using Functional.Layers;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;

using var train = FashionMnist.Load(train: true);
using var test = FashionMnist.Load(train: false);
Console.WriteLine($"Fashion-MNIST from {train.Source}");
Console.WriteLine($"LibTorch loaded from {Functional.Native.LoadedFrom}");

static TensorDataset Slice(TensorDataset data, long count) =>
    new(data.Features.narrow(0, 0, count), data.Labels.narrow(0, 0, count), Transform.ToTensor());
var trainLoader = new DataLoader(Slice(train, 6000), batchSize: 64, shuffle: true, seed: 0);
var testLoader = new DataLoader(Slice(test, 2000), batchSize: 64);

var model = Layer.Sequential(Layer.Flatten(), Layer.Linear(512), Layer.ReLU(), Layer.Linear(512), Layer.ReLU(), Layer.Linear(10))
    .Build([1, 28, 28]);
var loss = Losses.CrossEntropy();
var before = Trainer.Evaluate(model, loss, testLoader);
using var trainer = new Trainer(model, loss, Optimizers.Sgd(1e-2), new TrainerOptions { Seed = 0, Progress = false });
var history = trainer.Fit(trainLoader, testLoader, epochs: 1);
var last = history.Last!;
Console.WriteLine($"loss: {before.AverageLoss:F6} -> {last.TestLoss:F6}, accuracy: {100 * last.TestAccuracy:F1}%");
if (!(last.TestLoss < before.AverageLoss))
{
    Console.Error.WriteLine($"error: training did not lower the test loss ({before.AverageLoss} before, {last.TestLoss} after)");
    return 1;
}
return 0;
