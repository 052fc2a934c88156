using System.Collections;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>Iterates a dataset of (features, label) samples in batches, as PyTorch's <c>DataLoader</c>:
/// batch size, shuffling with an explicit seed or generator (a fresh permutation each epoch, the same
/// seed giving the same epochs), dropping an incomplete last batch, a target device, and worker threads
/// with a bounded prefetch queue.</summary>
/// <remarks>
/// <para>Each <c>foreach</c> over the loader is one epoch. Batches own their tensors and are disposed
/// when the next batch arrives (see <see cref="Batch"/>); <see cref="DataLoaderExtensions.Peek"/> gives one batch to keep,
/// like Python's <c>next(iter(loader))</c>, and <see cref="DataLoaderExtensions.Map(IDataLoader, Transform, Transform?)"/>
/// applies a transform once per batch.</para>
/// <para>In-memory datasets (<see cref="TensorDataset"/>, <see cref="FashionMnist"/>) are batched with one
/// native gather per batch and their transforms run once per batch. Keep <c>workers = 0</c> for them:
/// the gather is cheap, and LibTorch work on a second thread beside training slows training down.
/// Workers pay off for samples that are expensive to make, such as image files
/// (<see cref="ImageFolderCsvDataset"/> decodes them in the workers without LibTorch, and makes
/// tensors on the consuming thread). Other datasets are read sample by sample (in the workers when
/// there are any) and stacked.</para>
/// </remarks>
/// <example><code>
/// var train = FashionMnist.Load(root: null, train: true, transform: new ToTensor());
/// var loader = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0);
/// foreach (var batch in loader) { /* batch.Features [64, 1, 28, 28], batch.Labels [64] */ }
/// </code></example>
public sealed class DataLoader : IDataLoader
{
    readonly IDataset<Sample> dataset;
    readonly BatchSampler sampler;
    readonly torch.Device torchDevice;

    /// <summary>Creates the loader.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Whether each epoch visits the samples in a new random order.</param>
    /// <param name="seed">Seeds the shuffling generator; null draws a seed (see <see cref="Seed"/>). Ignored when <paramref name="generator"/> is given.</param>
    /// <param name="generator">A CPU generator to shuffle with, shared with whatever else draws from it.</param>
    /// <param name="dropLast">Whether an incomplete last batch is left out.</param>
    /// <param name="device">Where the batches are put (default: the CPU).</param>
    /// <param name="workers">Threads that prepare batches ahead; 0 prepares each batch when it is asked for.</param>
    /// <param name="prefetch">How many batches the workers may prepare ahead (default: 2 per worker).</param>
    public DataLoader(IDataset<Sample> dataset, int batchSize = 1, bool shuffle = false, long? seed = null,
        Generator? generator = null, bool dropLast = false, Device? device = null, int workers = 0, int? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size is 1 or more.");
        if (workers < 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "The number of workers is 0 or more.");
        if (prefetch is < 1) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "Prefetch is 1 batch or more.");
        Native.EnsureLoaded();
        this.dataset = dataset;
        Device = (device ?? Device.Cpu).Resolve();
        torchDevice = Device.ToTorch();
        Workers = workers;
        Prefetch = prefetch ?? 2 * Math.Max(1, workers);
        if (shuffle && generator is null)
        {
            Seed = seed ?? Random.Shared.NextInt64(0, long.MaxValue);
            generator = new Generator(unchecked((ulong)Seed.Value), CPU);
        }
        else Seed = null;
        sampler = new BatchSampler(dataset.Count, batchSize, shuffle, dropLast, generator);
        ShuffleGenerator = shuffle ? generator : null;
    }

    /// <inheritdoc />
    public Generator? ShuffleGenerator { get; }

    /// <summary>The dataset.</summary>
    public IDataset<Sample> Dataset => dataset;

    /// <summary>The seed of the shuffling generator, when the loader made it (null without shuffling or with a caller's generator).</summary>
    public long? Seed { get; }

    /// <inheritdoc />
    public int BatchSize => sampler.BatchSize;

    /// <summary>Whether each epoch is a new random permutation.</summary>
    public bool Shuffle => sampler.Shuffle;

    /// <summary>Whether an incomplete last batch is left out.</summary>
    public bool DropLast => sampler.DropLast;

    /// <summary>Threads that prepare batches ahead.</summary>
    public int Workers { get; }

    /// <summary>How many batches the workers may prepare ahead.</summary>
    public int Prefetch { get; }

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public int BatchCount => sampler.BatchCount;

    /// <inheritdoc />
    public int SampleCount => sampler.SampleCount;

    /// <summary>Starts an epoch.</summary>
    public IEnumerator<Batch> GetEnumerator()
    {
        var batches = sampler.NextEpoch();
        if (dataset is IBatchProducer producer)
            return new BatchPipeline<object, Batch>(batches, producer.Prepare, p => producer.Finish(p, torchDevice),
                producer.Discard, Release, Workers, Prefetch);
        return new BatchPipeline<Sample[], Batch>(batches, ReadSamples, Collate.Samples(torchDevice),
            DisposeAll, Release, Workers, Prefetch);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    Sample[] ReadSamples(int[] indices)
    {
        var samples = new Sample[indices.Length];
        try
        {
            for (int i = 0; i < indices.Length; i++) samples[i] = dataset[indices[i]];
            return samples;
        }
        catch
        {
            DisposeAll(samples);
            throw;
        }
    }

    static void DisposeAll(Sample?[] samples)
    {
        foreach (var s in samples) s?.Dispose();
    }

    static void Release(Batch batch)
    {
        if (!batch.IsKept) batch.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"DataLoader(samples={dataset.Count}, batchSize={BatchSize}, shuffle={Shuffle}, dropLast={DropLast}, device={Device}, workers={Workers})";
}
