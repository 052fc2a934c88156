using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>Turns an integer class label into a float32 one-hot vector of length
/// <see cref="NumClasses"/>: the tutorial's target transform
/// <c>Lambda(lambda y: torch.zeros(10).scatter_(0, torch.tensor(y), value=1))</c>.</summary>
/// <remarks>A scalar label gives [NumClasses]; a batch of labels [N] gives [N, NumClasses].</remarks>
sealed class OneHot : Transform
{
    /// <summary>Creates the transform for labels 0 .. <paramref name="numClasses"/> - 1.</summary>
    internal OneHot(int numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "OneHot needs at least one class.");
        NumClasses = numClasses;
    }

    /// <summary>The length of the one-hot vectors.</summary>
    public int NumClasses { get; }

    /// <inheritdoc />
    public override bool IsBatched => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample) => Run(sample, nameof(sample));

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch) => Run(batch, nameof(batch));

    Tensor Run(Tensor labels, string name)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.is_floating_point() || labels.dtype == ScalarType.Bool)
            throw new ArgumentException($"OneHot takes integer class labels, got dtype {labels.dtype}.", name);
        using var longs = labels.to_type(ScalarType.Int64);
        if (longs.numel() > 0)
        {
            using var min = longs.min();
            using var max = longs.max();
            var low = min.item<long>();
            var high = max.item<long>();
            if (low < 0 || high >= NumClasses)
                throw new ArgumentException($"OneHot({NumClasses}) takes labels 0 to {NumClasses - 1}, got labels from {low} to {high}.", name);
        }
        using var hot = nn.functional.one_hot(longs, NumClasses);
        return hot.to_type(ScalarType.Float32);
    }

    /// <inheritdoc />
    public override string ToString() => $"OneHot({NumClasses})";
}
