using System.Collections;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A loader for samples of any type, batched by a collate function of the caller's
/// (PyTorch's <c>collate_fn</c>): shuffling, drop-last and worker threads as <see cref="DataLoader"/>.</summary>
/// <typeparam name="TSample">The dataset's sample type.</typeparam>
/// <typeparam name="TBatch">What <c>collate</c> makes of a list of samples.</typeparam>
/// <remarks>Workers read samples ahead (the dataset's indexer runs on them, so it must be thread-safe);
/// <c>collate</c> runs on the consuming thread. A batch that is <see cref="IDisposable"/> is disposed when
/// the next arrives (and at the end of the epoch), unless it is a kept <see cref="Batch"/>; samples that
/// are <see cref="IDisposable"/> are disposed after collation.</remarks>
public sealed class DataLoader<TSample, TBatch> : IEnumerable<TBatch>
{
    readonly IDataset<TSample> dataset;
    readonly Func<IReadOnlyList<TSample>, TBatch> collate;
    readonly BatchSampler sampler;

    /// <summary>Creates the loader; the parameters are those of <see cref="DataLoader"/> (no device: collate puts the batch where it wants).</summary>
    public DataLoader(IDataset<TSample> dataset, Func<IReadOnlyList<TSample>, TBatch> collate, int batchSize = 1,
        bool shuffle = false, long? seed = null, Generator? generator = null, bool dropLast = false, int workers = 0, int? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(collate);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size is 1 or more.");
        if (workers < 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "The number of workers is 0 or more.");
        if (prefetch is < 1) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "Prefetch is 1 batch or more.");
        this.dataset = dataset;
        this.collate = collate;
        Workers = workers;
        Prefetch = prefetch ?? 2 * Math.Max(1, workers);
        if (shuffle && generator is null)
        {
            Native.EnsureLoaded();
            Seed = seed ?? Random.Shared.NextInt64(0, long.MaxValue);
            generator = new Generator(unchecked((ulong)Seed.Value), CPU);
        }
        sampler = new BatchSampler(dataset.Count, batchSize, shuffle, dropLast, generator);
    }

    /// <summary>The seed of the shuffling generator, when the loader made it.</summary>
    public long? Seed { get; }

    /// <summary>Threads that read samples ahead.</summary>
    public int Workers { get; }

    /// <summary>How many batches may be read ahead.</summary>
    public int Prefetch { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize => sampler.BatchSize;

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => sampler.BatchCount;

    /// <summary>Samples per epoch after dropLast.</summary>
    public int SampleCount => sampler.SampleCount;

    /// <summary>Starts an epoch.</summary>
    public IEnumerator<TBatch> GetEnumerator() =>
        new BatchPipeline<TSample[], TBatch>(sampler.NextEpoch(), Read, Finish, DisposeSamples, Release, Workers, Prefetch);

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    TSample[] Read(int[] indices)
    {
        var samples = new TSample[indices.Length];
        var done = 0;
        try
        {
            for (; done < indices.Length; done++) samples[done] = dataset[indices[done]];
            return samples;
        }
        catch
        {
            DisposeSamples(samples.AsSpan(0, done).ToArray());
            throw;
        }
    }

    TBatch Finish(TSample[] samples)
    {
        try { return collate(samples); }
        finally { DisposeSamples(samples); }
    }

    static void DisposeSamples(TSample[] samples)
    {
        foreach (var s in samples) (s as IDisposable)?.Dispose();
    }

    static void Release(TBatch batch)
    {
        if (batch is Batch { IsKept: true }) return;
        (batch as IDisposable)?.Dispose();
    }

    /// <summary>The first batch of a new epoch, left to the caller (Python's <c>next(iter(loader))</c>).</summary>
    public TBatch Peek()
    {
        using var epoch = GetEnumerator();
        if (!epoch.MoveNext()) throw new InvalidOperationException("The loader has no batches: its dataset is empty, or dropLast dropped the only batch.");
        return epoch.Current is Batch b ? (TBatch)(object)b.Keep() : epoch.Current;
    }
}
