using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>The order of the samples in each epoch, split into batches: sequential, or a fresh random
/// permutation per epoch drawn from an explicit generator (the same seed gives the same epochs).</summary>
internal sealed class BatchSampler
{
    readonly Generator? generator;
    readonly DistributedSampler? distributed;

    /// <summary>Creates the sampler for <paramref name="count"/> samples.</summary>
    /// <param name="count">The number of samples in the dataset.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Whether each epoch is a new random permutation.</param>
    /// <param name="dropLast">Whether an incomplete last batch is left out.</param>
    /// <param name="generator">The CPU generator the permutations are drawn from (required to shuffle).</param>
    /// <param name="distributed">This rank's share of the dataset, in its order (then <paramref name="shuffle"/> is false).</param>
    public BatchSampler(int count, int batchSize, bool shuffle, bool dropLast, Generator? generator, DistributedSampler? distributed = null)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "A dataset has 0 or more samples.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size is 1 or more.");
        if (shuffle && generator is null) throw new ArgumentNullException(nameof(generator), "Shuffling draws from an explicit generator: pass one (or a seed to the loader).");
        this.distributed = distributed;
        Count = distributed?.SamplesPerRank ?? count;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        this.generator = generator;
    }

    /// <summary>The number of samples an epoch visits: the dataset's, or this rank's share of it.</summary>
    public int Count { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch is a new random permutation.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether an incomplete last batch is left out.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => DropLast ? Count / BatchSize : (Count + BatchSize - 1) / BatchSize;

    /// <summary>Samples per epoch, after dropping an incomplete last batch.</summary>
    public int SampleCount => DropLast ? BatchCount * BatchSize : Count;

    /// <summary>The batches of the next epoch; each call draws a new permutation when shuffling.</summary>
    public int[][] NextEpoch()
    {
        int[] order;
        if (distributed is not null)
        {
            order = distributed.Indices();
        }
        else if (Shuffle && Count > 0)
        {
            Native.EnsureLoaded();
            lock (generator!)
            {
                using var perm = randperm(Count, ScalarType.Int64, CPU, false, generator);
                var longs = perm.data<long>().ToArray();
                order = new int[Count];
                for (int i = 0; i < Count; i++) order[i] = (int)longs[i];
            }
        }
        else
        {
            order = new int[Count];
            for (int i = 0; i < Count; i++) order[i] = i;
        }
        var batches = new int[BatchCount][];
        for (int b = 0; b < batches.Length; b++)
        {
            var start = b * BatchSize;
            batches[b] = order[start..Math.Min(start + BatchSize, Count)];
        }
        return batches;
    }
}
