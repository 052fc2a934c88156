namespace Functional.Data;

/// <summary>What a training loop needs from a loader of (features, labels) batches: the batches of
/// one epoch (each enumeration is one epoch) and how many there are.</summary>
/// <remarks>Each batch is disposed by the loader when the next one arrives; see <see cref="Batch"/>.</remarks>
public interface IDataLoader : IEnumerable<Batch>
{
    /// <summary>The number of batches in one epoch.</summary>
    int BatchCount { get; }

    /// <summary>The number of samples in one epoch, after <c>dropLast</c> has dropped an incomplete last batch.</summary>
    int SampleCount { get; }

    /// <summary>The number of samples per batch (the last batch may have fewer unless <c>dropLast</c>).</summary>
    int BatchSize { get; }

    /// <summary>Where the batches' tensors are put.</summary>
    TorchSharp.torch.Device Device { get; }

    /// <summary>The generator the shuffling draws its permutations from (null without shuffling).
    /// A training checkpoint saves its state, so that a resumed run visits the same epochs.</summary>
    TorchSharp.torch.Generator? ShuffleGenerator { get; }
}
