using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The data-parallel case that the distributed worker trains and DistributedTests recomputes in one process:
/// shared by both so that they cannot drift apart.</summary>
internal static class DistributedCase
{
    public const int Samples = 640, TestSamples = 100, Features = 12, Hidden = 16, Classes = 4;
    public const int Ranks = 2, BatchSize = 32, TestBatchSize = 20, Epochs = 2;
    public const long ShuffleSeed = 7;
    public const double SgdLearningRate = 0.1, Momentum = 0.9, AdamLearningRate = 0.01;
    public static readonly string[] Optimizers = ["sgd", "momentum", "adam"];

    /// <summary>Steps per rank: 640 samples / 2 ranks / batch 32 = 10 an epoch, 20 in all.</summary>
    public const int Steps = Samples / Ranks / BatchSize * Epochs;

    /// <summary>The classifier, in float64 (its initial weights from LibTorch's global generator).</summary>
    public static nn.Module<Tensor, Tensor> Model()
    {
        var model = nn.Sequential(nn.Linear(Features, Hidden), nn.ReLU(), nn.Linear(Hidden, Classes));
        model.to(ScalarType.Float64);
        return model;
    }
}
