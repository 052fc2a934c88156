// `Functional.Tests.DistributedWorker <folder>`: one rank of a data-parallel training, run by DistributedTests under
// `mpiexec.mpich -n 2`. Each rank trains a small float64 classifier on its shard (DistributedSampler, batch 32) for 20
// steps with the library's trainer over MPI, once per optimizer (SGD, SGD with momentum, Adam) and step path (fused,
// autograd), then evaluates on its shard of a test set. Every rank starts from other weights (seeded by its rank), so
// only the broadcast from rank 0 makes them agree. Rank 0 writes the data and its initial weights; every rank writes its
// final weights and figures, for the test's single-process oracle.
// `Functional.Tests.DistributedWorker --null-reference`: each rank starts MPI, dereferences null, catches the
// NullReferenceException and says so (UCX, under MPICH, must not have taken the signal .NET raises it from).
using System.Globalization;
using System.Text.Json;
using Functional;
using Functional.Data;
using Functional.Optim;
using Functional.Serialization;
using Functional.Tests;
using Functional.Training;
using TorchSharp;
using static TorchSharp.torch;

if (args is ["--null-reference"])
{
    using var mpi = GradientSync.Mpi(TimeSpan.FromSeconds(60));
    object? nothing = args.Length > 1 ? args : null;     // null, but not to the compiler or the JIT
    try
    {
        Console.WriteLine(nothing!.GetHashCode());
    }
    catch (NullReferenceException)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rank {mpi.Rank}: caught a NullReferenceException"));
    }
    return 0;
}
if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: mpiexec.mpich -n 2 Functional.Tests.DistributedWorker <existing folder> | --null-reference");
    return 2;
}
var folder = args[0];
Native.EnsureLoaded();
using var sync = GradientSync.Mpi(TimeSpan.FromSeconds(60));
int rank = sync.Rank;

// The same data on every rank: features from a seeded generator, labels from a fixed linear teacher.
using var data = new Generator(1234, CPU);
var x = randn([DistributedCase.Samples, DistributedCase.Features], ScalarType.Float64, CPU, generator: data);
var teacher = randn([DistributedCase.Features, DistributedCase.Classes], ScalarType.Float64, CPU, generator: data);
var y = x.matmul(teacher).argmax(1);
var testX = randn([DistributedCase.TestSamples, DistributedCase.Features], ScalarType.Float64, CPU, generator: data);
var testY = testX.matmul(teacher).argmax(1);
if (sync.IsMain)
    SafeTensors.Save(Path.Combine(folder, "data.safetensors"), new Dictionary<string, Tensor> { ["x"] = x, ["y"] = y, ["test_x"] = testX, ["test_y"] = testY });

var results = new Dictionary<string, double[]>();
foreach (var optimizerName in DistributedCase.Optimizers)
{
    foreach (var fused in new[] { true, false })
    {
        using var scope = torch.NewDisposeScope();     // this configuration's model, loaders and results
        var name = $"{optimizerName}-{(fused ? "fused" : "autograd")}";
        // Other initial weights on every rank: the trainer's broadcast must make them rank 0's.
        torch.manual_seed(100 + rank);
        var model = DistributedCase.Model();
        if (sync.IsMain && optimizerName == DistributedCase.Optimizers[0] && fused)
            model.SaveSafeTensors(Path.Combine(folder, "init.safetensors"));
        var optimizer = optimizerName switch
        {
            "sgd" => Optimizers.Sgd(DistributedCase.SgdLearningRate),
            "momentum" => Optimizers.Sgd(DistributedCase.SgdLearningRate, momentum: DistributedCase.Momentum),
            _ => Optimizers.Adam(DistributedCase.AdamLearningRate),
        };
        var train = new DataLoader(new TensorDataset(x, y), DistributedCase.BatchSize,
            sampler: new DistributedSampler(DistributedCase.Samples, sync, shuffle: true, seed: DistributedCase.ShuffleSeed));
        var test = new DataLoader(new TensorDataset(testX, testY), DistributedCase.TestBatchSize,
            sampler: new DistributedSampler(DistributedCase.TestSamples, sync, shuffle: false));
        using var trainer = new Trainer(model, Losses.CrossEntropy(), optimizer,
            new TrainerOptions { GradientSync = sync, Fused = fused, Progress = false, Seed = 0 });
        if (!trainer.StepPath.StartsWith(fused ? "fused" : "autograd", StringComparison.Ordinal))
            throw new InvalidOperationException($"{name}: the trainer took the path {trainer.StepPath}");
        var history = trainer.Fit(train, null, DistributedCase.Epochs);
        var evaluation = trainer.Evaluate(test);
        model.SaveSafeTensors(Path.Combine(folder, $"{name}-rank{rank}.safetensors"));
        results[name] = [.. history.Epochs.Select(e => e.TrainLoss), evaluation.AverageLoss, evaluation.Accuracy, evaluation.Samples, evaluation.Batches];
    }
}
File.WriteAllText(Path.Combine(folder, $"figures-rank{rank}.json"), JsonSerializer.Serialize(results));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rank {rank} of {sync.WorldSize}: done"));
return 0;
