using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>Collation: turning a list of samples into one batch (PyTorch's <c>collate_fn</c>).</summary>
public static class Collate
{
    /// <summary>Stacks tensors along a new leading dimension (they must all have the same shape and dtype).</summary>
    /// <exception cref="ArgumentException">The list is empty, or shapes or dtypes differ.</exception>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("There is nothing to collate: the list of samples is empty.", nameof(tensors));
        var first = tensors[0];
        for (int i = 1; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.dtype != first.dtype || !t.shape.SequenceEqual(first.shape))
                throw new ArgumentException(
                    $"Samples in a batch must have the same shape and dtype to be stacked: sample 0 is {first.dtype} [{string.Join(", ", first.shape)}], sample {i} is {t.dtype} [{string.Join(", ", t.shape)}]. " +
                    "Resize them with a transform, or give the loader a collate function of your own.", nameof(tensors));
        }
        return stack(tensors, 0);
    }

    /// <summary>Collates (features, label) samples into a <see cref="Batch"/>: both stacked into fresh
    /// tensors. The samples stay the caller's (they are not disposed).</summary>
    /// <exception cref="ArgumentException">The list is empty, or shapes or dtypes differ.</exception>
    public static Batch Samples(IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        return StackSamples(samples, CPU);
    }

    /// <summary>A collate function for (features, label) samples that puts the batch on <paramref name="device"/>
    /// and disposes the samples (the loader made them and nobody else holds them).</summary>
    internal static Func<IReadOnlyList<Sample>, Batch> Samples(torch.Device device) => samples =>
    {
        ArgumentNullException.ThrowIfNull(samples);
        try
        {
            return StackSamples(samples, device);
        }
        finally
        {
            foreach (var s in samples) s.Dispose();
        }
    };

    static Batch StackSamples(IReadOnlyList<Sample> samples, torch.Device device)
    {
        using var scope = NewDisposeScope();
        var x = Stack(samples.Select(s => s.Features).ToArray());
        var y = Stack(samples.Select(s => s.Label).ToArray());
        return BatchTensors.Make(x, y, null, null, device);
    }
}
