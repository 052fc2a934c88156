// PyTorch "Learn the Basics", section "Optimizing Model Parameters" (optimization_tutorial), in C#:
// hyperparameters, the loss function and the optimizer; the tutorial's train_loop and test_loop
// written by hand with the library; then the same training in one call, Trainer.Fit, with the same numbers.
// Run from the repository root:  dotnet run Examples/CSharp/06-optimization.cs
// It trains the tutorial's 10 epochs twice (by hand, then with the Trainer); with CI=true, 1 epoch on
// the first 2,000 training and 2,000 test images.
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using System.Diagnostics;
using System.Globalization;
using Functional;
using Functional.Data;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using Functional.Transforms;
using TorchSharp;
using Model = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

Native.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // numbers print as in Python, whatever the locale
var ci = Environment.GetEnvironmentVariable("CI") == "true";

// ---- Prerequisite code: the data, the loaders and the model of the previous sections --------------
using var trainingData = FashionMnist.Load(train: true);
using var testData = FashionMnist.Load(train: false);
Console.WriteLine($"Fashion-MNIST from {trainingData.Source}");

// Under CI, the first `count` samples only (views of the loaded tensors, nothing copied).
TensorDataset Slice(TensorDataset dataset, int count) =>
    ci && dataset.Count > count ? new TensorDataset(dataset.Features.narrow(0, 0, count), dataset.Labels.narrow(0, 0, count)) : dataset;
var train = Slice(trainingData, 2000);
var test = Slice(testData, 2000);

var device = Devices.Auto;
Console.WriteLine($"Using {device} device");

// ---- Hyperparameters ----------------------------------------------------------------------------
// Number of epochs: how many times to iterate over the dataset. Batch size: samples seen before the
// parameters are updated. Learning rate: how much to update them at each batch.
const double learningRate = 1e-3;
const int batchSize = 64;
var epochs = ci ? 1 : 10;
Console.WriteLine(ci
    ? "CI=true: training on the first 2,000 training and 2,000 test images for 1 epoch (the tutorial uses all 60,000 training and 10,000 test images, for 10 epochs)."
    : $"Training on {train.Count:N0} training and {test.Count:N0} test images for {epochs} epochs, as the tutorial does.");

// DataLoader(training_data, batch_size=64, shuffle=True): ToTensor runs once per batch (uint8 -> float / 255).
// The seed makes the shuffling repeat: a new loader with the same seed visits the same batches.
IDataLoader TrainLoader() => new DataLoader(train, batchSize, shuffle: true, seed: 0, device: device).Map(Transform.ToTensor());
var trainDataloader = TrainLoader();
var testDataloader = new DataLoader(test, batchSize, device: device).Map(Transform.ToTensor());

// model = NeuralNetwork(): the tutorial's 784-512-512-10 network, its weights drawn from a seeded generator.
Model NewModel()
{
    using var generator = new torch.Generator(0);
    var network = new NeuralNetwork(generator: generator);
    network.to(device);
    return network;
}
var model = NewModel();

// ---- Loss function ------------------------------------------------------------------------------
// nn.CrossEntropyLoss(): LogSoftmax and NLL of the logits, averaged over the batch.
var lossFn = Losses.CrossEntropy();

// ---- Optimizer ----------------------------------------------------------------------------------
// torch.optim.SGD(model.parameters(), lr=learning_rate): a gradient transformation bound to the
// model's parameters, giving PyTorch's Step() and ZeroGrad().
using var optimizer = Optimizers.Sgd(learningRate).Bind(model);

// ---- Full implementation: the tutorial's train_loop and test_loop -------------------------------
var watch = Stopwatch.StartNew();
var byHand = new List<(List<double> Losses, (double Accuracy, double Loss) Test)>();
for (var t = 0; t < epochs; t++)
{
    Console.WriteLine($"Epoch {t + 1}\n-------------------------------");
    var losses = TrainLoop(trainDataloader, model, lossFn, optimizer);
    var testFigures = TestLoop(testDataloader, model, lossFn);
    byHand.Add((losses, testFigures));
}
Console.WriteLine("Done!");
Console.WriteLine($"(the loop by hand: {watch.Elapsed.TotalSeconds:F1} s)\n");

// ---- The same training with the Trainer ---------------------------------------------------------
// Trainer.Fit runs exactly these two loops each epoch (train and eval modes, no_grad, a dispose scope
// per step) and prints the same lines. A model with the same initial weights; the trainer binds the
// optimizer to it, and Seed = 0 restarts the loader's shuffling as the loop above saw it.
var model2 = NewModel();
using var trainer = new Trainer(model2, lossFn, Optimizers.Sgd(learningRate), new TrainerOptions { Device = device, Seed = 0 });
var batchLosses = new List<double>();
watch.Restart();
var history = trainer.Fit(trainDataloader, testDataloader, epochs,
    [Callback.Create(onBatchEnd: c => batchLosses.Add(c.Loss))]);
Console.WriteLine($"(Trainer.Fit: {watch.Elapsed.TotalSeconds:F1} s)\n");
Console.WriteLine(history);

var sameLosses = batchLosses.SequenceEqual(byHand.SelectMany(e => e.Losses));
var sameTests = history.Epochs.Select(m => (m.TestAccuracy!.Value, m.TestLoss!.Value)).SequenceEqual(byHand.Select(e => e.Test));
Console.WriteLine($"\nTrainer.Fit saw the same batch losses as the loop by hand: {sameLosses}; the same test figures: {sameTests}");

// The tutorial's train_loop: one optimization step per batch, the loss printed every 100 batches.
static List<double> TrainLoop(IDataLoader dataloader, Model model, Loss lossFn, Optimizer optimizer)
{
    var size = dataloader.SampleCount;
    var losses = new List<double>();
    // Set the model to training mode: important for batch normalization and dropout layers.
    model.train();
    foreach (var (batch, (X, y)) in dataloader.Index())
    {
        // The step's tensors (prediction, loss, the gradients' temporaries) are freed at the end of the step;
        // the batch itself is the loader's, freed when the next one arrives.
        using var scope = torch.NewDisposeScope();
        // Compute prediction and loss
        var pred = model.call(X);
        var loss = lossFn(pred, y);
        // Backpropagation
        loss.backward();
        optimizer.Step();
        optimizer.ZeroGrad();
        double value = loss.item<float>();
        losses.Add(value);
        if (batch % 100 == 0)
        {
            var current = batch * X.size(0);
            Console.WriteLine($"loss: {value,7:F6}  [{current,5}/{size,5}]");
        }
    }
    return losses;
}

// The tutorial's test_loop: the average batch loss and the accuracy, in eval mode and without gradients.
static (double Accuracy, double Loss) TestLoop(IDataLoader dataloader, Model model, Loss lossFn)
{
    // Evaluation mode, and no gradients: nothing is kept for a backward pass.
    model.eval();
    var size = dataloader.SampleCount;
    var numBatches = dataloader.BatchCount;
    double testLoss = 0, correct = 0;
    using (torch.no_grad())
    {
        foreach (var (X, y) in dataloader)
        {
            using var scope = torch.NewDisposeScope();
            var pred = model.call(X);
            testLoss += lossFn(pred, y).item<float>();
            correct += pred.argmax(1).eq(y).to(torch.float32).sum().ToDouble();
        }
    }
    testLoss /= numBatches;
    correct /= size;
    Console.WriteLine($"Test Error: \n Accuracy: {100 * correct:F1}%, Avg loss: {testLoss,8:F6} \n");
    return (correct, testLoss);
}
