using Functional.Transforms;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>What every <see cref="IDataLoader"/> can do: peek at a batch, and map its batches.</summary>
public static class DataLoaderExtensions
{
    /// <summary>The first batch of a new epoch, kept for the caller: Python's <c>next(iter(loader))</c>.
    /// Dispose it when done. (With shuffling, this uses up one epoch's permutation.)</summary>
    /// <exception cref="InvalidOperationException">The loader has no batches.</exception>
    public static Batch Peek(this IDataLoader loader)
    {
        ArgumentNullException.ThrowIfNull(loader);
        using var epoch = loader.GetEnumerator();
        if (!epoch.MoveNext())
            throw new InvalidOperationException("The loader has no batches: its dataset is empty, or dropLast dropped the only batch.");
        return epoch.Current.Keep();
    }

    /// <summary>A loader whose batches have <paramref name="features"/> (and <paramref name="labels"/>)
    /// applied once per batch, e.g. <c>loader.Map(new Compose(new ToTensor(), new Normalize([0.5], [0.5])))</c>.</summary>
    public static IDataLoader Map(this IDataLoader loader, Transform features, Transform? labels = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(features);
        return new MappedLoader(loader, features.ApplyBatch, labels is null ? null : labels.ApplyBatch);
    }

    /// <summary>A loader whose batches have <paramref name="features"/> (and <paramref name="labels"/>)
    /// applied once per batch; each function gets the whole batch tensor.</summary>
    public static IDataLoader Map(this IDataLoader loader, Func<Tensor, Tensor> features, Func<Tensor, Tensor>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(features);
        return new MappedLoader(loader, features, labels);
    }
}
