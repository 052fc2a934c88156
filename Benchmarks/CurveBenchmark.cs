using Functional.Data;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using static TorchSharp.torch;

namespace Functional.Benchmarks;

/// <summary>
/// The main job's seeded accuracy curve on the fused step against the autograd step: the same seed, data,
/// model and SGD, 10 epochs each (<c>--epochs N</c>), one line per epoch with both test accuracies and losses,
/// then the largest differences. The two paths differ only in floating-point rounding, so the curves
/// should agree to within the noise of a seed (a few tenths of a percent), not bit for bit.
/// </summary>
static class CurveBenchmark
{
    public static int Run(string[] args)
    {
        int i = Array.IndexOf(args, "--epochs");
        int epochs = i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : 10;
        var train = FashionMnist.Load(train: true);
        var test = FashionMnist.Load(train: false);
        Console.WriteLine($"Accuracy curve: {train.Features.shape[0]} train / {test.Features.shape[0]} test images ({train.Source}), batch 64, SGD 1e-3, seed 0, {epochs} epochs per path");
        History Curve(bool? fused, out string path)
        {
            manual_seed(0);
            var model = new NeuralNetwork();
            var trainer = new Trainer(model, Losses.CrossEntropy(), new Functional.Optim.Optimizer(Optimizers.Sgd(1e-3), model),
                new TrainerOptions { Device = Devices.Cpu, Progress = false, Seed = 0, Fused = fused });
            path = trainer.StepPath;
            var trainLoader = new DataLoader(new TensorDataset(train.Features, train.Labels), 64, shuffle: true, seed: 0).Map(Functional.Transforms.Transform.ToTensor());
            var testLoader = new DataLoader(new TensorDataset(test.Features, test.Labels), 64).Map(Functional.Transforms.Transform.ToTensor());
            return trainer.Fit(trainLoader, testLoader, epochs);
        }
        var fusedCurve = Curve(null, out var fusedPath);
        var autogradCurve = Curve(false, out var autogradPath);
        Console.WriteLine($"fused:    {fusedPath}");
        Console.WriteLine($"autograd: {autogradPath}");
        Console.WriteLine("epoch  fused acc  autograd acc  fused loss  autograd loss");
        double maxAcc = 0, maxLoss = 0;
        for (int e = 0; e < epochs; e++)
        {
            var (f, a) = (fusedCurve.Epochs[e], autogradCurve.Epochs[e]);
            Console.WriteLine($"{e + 1,5}  {100 * f.TestAccuracy,8:F2}%  {100 * a.TestAccuracy,11:F2}%  {f.TestLoss,10:F6}  {a.TestLoss,13:F6}");
            maxAcc = Math.Max(maxAcc, Math.Abs(f.TestAccuracy!.Value - a.TestAccuracy!.Value));
            maxLoss = Math.Max(maxLoss, Math.Abs(f.TestLoss!.Value - a.TestLoss!.Value));
        }
        Console.WriteLine($"largest difference: test accuracy {100 * maxAcc:F2} points, test loss {maxLoss:F6}");
        return 0;
    }
}
