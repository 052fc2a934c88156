// A user's console project, outside the repository: made by `dotnet new console`, with
// PackageReferences to Functional.Core and TorchSharp-cpu (Consumers/run does both). One epoch of
// the tutorial's network on the real Fashion-MNIST subset that ships inside Functional.Core: the
// Debian package is not searched, as on a machine with no data installed and no network.
using Functional.Data;
using Functional.Layers;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;

var subset = FashionMnist.FindShippedSubset();
using var train = new FashionMnist(root: null, train: true, transform: Transform.ToTensor(), fallback: subset, searchSystem: false);
using var test = new FashionMnist(root: null, train: false, transform: Transform.ToTensor(), fallback: subset, searchSystem: false);
Console.WriteLine($"Fashion-MNIST from {train.Source}: {train.Count} training and {test.Count} test images");
Console.WriteLine($"LibTorch loaded from {Functional.Native.LoadedFrom}");
if (train.Source.Kind != DataSource.ShippedSubset)
{
    Console.Error.WriteLine($"error: expected the subset inside Functional.Core, got {train.Source}");
    return 1;
}

var trainLoader = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0);
var testLoader = new DataLoader(test, batchSize: 64);
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
