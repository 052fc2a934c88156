using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>Collation, PyTorch's default <c>collate_fn</c>: the samples of a batch stacked along a new
/// leading dimension.</summary>
internal static class Collate
{
    /// <summary>Stacks tensors along a new leading dimension; <paramref name="maker"/> (a transform, or
    /// null for a dataset's samples) is named in the error when they cannot be stacked.</summary>
    /// <exception cref="ArgumentException">The list is empty, or shapes or dtypes differ.</exception>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, object? maker = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("There is nothing to collate: the list of samples is empty.", nameof(tensors));
        var first = tensors[0];
        for (int i = 1; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.dtype != first.dtype || !t.shape.SequenceEqual(first.shape))
                throw new ArgumentException(
                    (maker is null ? "Samples in a batch" : $"The results of {maker} on the samples of a batch") +
                    $" must have the same shape and dtype to be stacked: sample 0 gives {first.dtype} {Shapes.Text(first.shape)}, sample {i} gives {t.dtype} {Shapes.Text(t.shape)}. " +
                    (maker is null
                        ? "Give the dataset a transform that makes every sample the same size, or use batch size 1."
                        : "Make the transform give every sample the same shape, or use batch size 1."), nameof(tensors));
        }
        return stack(tensors, 0);
    }

    /// <summary>The features and the labels of (features, label) samples, each stacked into a fresh
    /// tensor that no dispose scope owns. The samples stay the caller's (they are not disposed).</summary>
    /// <exception cref="ArgumentException">The list is empty, or shapes or dtypes differ.</exception>
    public static (Tensor Features, Tensor Labels) Samples(IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var features = new Tensor[samples.Count];
        var labels = new Tensor[samples.Count];
        for (int i = 0; i < samples.Count; i++)
        {
            features[i] = samples[i].Features;
            labels[i] = samples[i].Label;
        }
        using var scope = NewDisposeScope();
        var x = Stack(features);
        var y = Stack(labels);
        return (x.DetachFromDisposeScope(), y.DetachFromDisposeScope());
    }
}
