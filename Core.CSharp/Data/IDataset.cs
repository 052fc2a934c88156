namespace Functional.Data;

/// <summary>A map-style dataset, as PyTorch's <c>Dataset</c>: a number of samples and a way to get
/// sample <c>i</c>. Loaders, samplers and pictures need nothing more.</summary>
/// <typeparam name="T">The sample type, e.g. <see cref="Sample"/> for (features, label) pairs.</typeparam>
public interface IDataset<out T>
{
    /// <summary>The number of samples (PyTorch's <c>len(dataset)</c>).</summary>
    int Count { get; }

    /// <summary>Sample <paramref name="index"/> (0 to Count - 1), with the dataset's transforms applied.
    /// A sample made of tensors is fresh: the caller owns it.</summary>
    T this[int index] { get; }
}
