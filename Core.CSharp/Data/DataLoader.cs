using System.Collections;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>Iterates a dataset of (features, label) samples in typed batches, as PyTorch's
/// <c>DataLoader</c>: batch size, shuffling with an explicit seed or generator (a fresh permutation each
/// epoch, the same seed giving the same epochs), dropping an incomplete last batch, a target device,
/// and worker threads with a bounded prefetch queue.</summary>
/// <remarks>
/// <para>Each <c>foreach</c> over the loader is one epoch. Batches own their tensors and are disposed
/// when the next batch arrives (see <see cref="Batch"/>); <see cref="Peek"/> gives one batch to keep,
/// like Python's <c>next(iter(loader))</c>.</para>
/// <para>Transforms run as each transform says (see <see cref="Transform"/>): a function of yours
/// (<see cref="Lambda"/>) on each sample, as in PyTorch; the library's transforms, and
/// <see cref="Transform.Lambda"/> with <c>batched: true</c>, once per batch. They come from the dataset (its <c>transform</c> and
/// <c>target_transform</c>) and from <see cref="Map"/> and <see cref="MapLabels"/>.</para>
/// <para>In-memory datasets (<see cref="TensorDataset"/>, <see cref="FashionMnist"/>) are batched with one
/// native gather per batch, then each transform runs on the batch: with batched transforms there is no
/// per-sample loop at all. Keep <c>workers = 0</c> for them: the gather is cheap, and LibTorch work on
/// a second thread beside training slows training down. Workers pay off for samples that are expensive
/// to make, such as image files (<see cref="ImageFolderCsvDataset"/> decodes them in the workers without
/// LibTorch, and makes tensors on the consuming thread). Other datasets are read sample by sample (in
/// the workers when there are any) and stacked.</para>
/// </remarks>
/// <example><code>
/// var train = FashionMnist.Load(root: null, train: true);
/// var loader = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0).Map(Transform.ToTensor());
/// foreach (var batch in loader) { /* batch.Features [64, 1, 28, 28] float32, batch.Labels [64] */ }
/// </code></example>
public sealed class DataLoader : IDataLoader
{
    readonly IDataset<Sample> dataset;
    readonly BatchSampler sampler;
    // The loader's own transforms (Map, MapLabels): after the dataset's, on the batch's device.
    readonly Transform? transform;
    readonly Transform? targetTransform;

    /// <summary>
    /// This library's loader over a TorchSharp dataset (<c>torch.utils.data.Dataset</c>, whose samples are
    /// name → tensor dictionaries, e.g. TorchSharp's own <c>torchvision.datasets.MNIST</c>): each sample's
    /// <paramref name="features"/> and <paramref name="labels"/> tensors become a (features, label) sample.
    /// </summary>
    public static DataLoader FromTorchSharp(utils.data.Dataset dataset, string features = "data", string labels = "label",
        int batchSize = 1, bool shuffle = false, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrEmpty(features);
        ArgumentException.ThrowIfNullOrEmpty(labels);
        return new DataLoader(new TorchSharpDataset(dataset, features, labels), batchSize, shuffle, seed);
    }

    /// <summary>
    /// A TorchSharp loader (<c>torch.utils.data.DataLoader(dataset, batchSize, shuffle)</c>) as a loader of this
    /// library's batches, for <see cref="Functional.Training.Trainer"/>: each batch's <paramref name="features"/>
    /// and <paramref name="labels"/> tensors. TorchSharp's loader keeps owning its batches, and its shuffling
    /// generator is its own: a training checkpoint cannot save it, so a resumed run sees other batch orders.
    /// </summary>
    public static IDataLoader FromTorchSharp(TorchSharp.Modules.DataLoader loader, string features = "data", string labels = "label")
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentException.ThrowIfNullOrEmpty(features);
        ArgumentException.ThrowIfNullOrEmpty(labels);
        return new TorchSharpLoader(loader, features, labels);
    }

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
    /// <param name="sampler">In a data-parallel run, this rank's share of the dataset (PyTorch's <c>sampler=</c>): the loader
    /// batches the sampler's indices in its order, so leave <paramref name="shuffle"/> false (the sampler shuffles).</param>
    /// <exception cref="ArgumentException"><paramref name="sampler"/> is given with <paramref name="shuffle"/>, or is for a dataset of another size.</exception>
    public DataLoader(IDataset<Sample> dataset, int batchSize = 1, bool shuffle = false, long? seed = null,
        Generator? generator = null, bool dropLast = false, Device? device = null, int workers = 0, int? prefetch = null,
        DistributedSampler? sampler = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size is 1 or more.");
        if (workers < 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "The number of workers is 0 or more.");
        if (prefetch is < 1) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "Prefetch is 1 batch or more.");
        if (sampler is not null && shuffle)
            throw new ArgumentException("The sampler decides the order (it shuffles when made with shuffle: true): pass shuffle: false to the loader, as PyTorch requires.", nameof(sampler));
        if (sampler is not null && sampler.Count != dataset.Count)
            throw new ArgumentException($"The sampler deals {sampler.Count} samples, the dataset has {dataset.Count}: make it with the dataset's Count.", nameof(sampler));
        Native.EnsureLoaded();
        this.dataset = dataset;
        Device = Devices.Check(device ?? Devices.Cpu);
        Workers = workers;
        Prefetch = prefetch ?? 2 * Math.Max(1, workers);
        if (shuffle && generator is null)
        {
            Seed = seed ?? Random.Shared.NextInt64(0, long.MaxValue);
            generator = new Generator(unchecked((ulong)Seed.Value), CPU);
        }
        else Seed = null;
        this.sampler = new BatchSampler(dataset.Count, batchSize, shuffle, dropLast, generator, sampler);
        ShuffleGenerator = shuffle ? generator : null;
        Sampler = sampler;
    }

    // The same loader (dataset, order, generator, device, workers) with other loader transforms.
    DataLoader(DataLoader source, Transform? transform, Transform? targetTransform)
    {
        dataset = source.dataset;
        sampler = source.sampler;
        Device = source.Device;
        Workers = source.Workers;
        Prefetch = source.Prefetch;
        Seed = source.Seed;
        ShuffleGenerator = source.ShuffleGenerator;
        Sampler = source.Sampler;
        this.transform = transform;
        this.targetTransform = targetTransform;
    }

    /// <summary>This loader with <paramref name="features"/> applied to the features of every batch,
    /// after the dataset's own transform, on the batch's device: the way to transform the data of a
    /// dataset made without one, e.g. <c>loader.Map(Transform.ToTensor())</c>.</summary>
    /// <remarks>The new loader shares this one's dataset, settings and shuffling generator (the two
    /// draw their epochs from it in turn); this loader is unchanged. A batched transform runs once per
    /// batch; a per-sample one (a <see cref="Lambda"/>) on each sample of it.</remarks>
    public DataLoader Map(Transform features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return new DataLoader(this, Then(transform, features), targetTransform);
    }

    /// <summary>This loader with <paramref name="labels"/> applied to the labels of every batch, after
    /// the dataset's own target transform, e.g. <c>loader.MapLabels(Transform.OneHot(10))</c>; see <see cref="Map"/>.</summary>
    public DataLoader MapLabels(Transform labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return new DataLoader(this, transform, Then(targetTransform, labels));
    }

    static Transform Then(Transform? first, Transform next) => first is null ? next : new Compose(first, next);

    /// <summary>The first batch of a new epoch, kept for the caller: Python's <c>next(iter(loader))</c>.
    /// Dispose it when done. (With shuffling, this uses up one epoch's permutation.)</summary>
    /// <exception cref="InvalidOperationException">The loader has no batches.</exception>
    public Batch Peek()
    {
        using var epoch = GetEnumerator();
        if (!epoch.MoveNext())
            throw new InvalidOperationException("The loader has no batches: its dataset is empty, or dropLast dropped the only batch.");
        return epoch.Current.Keep();
    }

    /// <summary>The batch of samples 0 to <paramref name="count"/> - 1 (fewer when the dataset is smaller), made as an
    /// epoch's batches are, transforms included, but without drawing a permutation: for the checks a trainer runs
    /// before training. The caller disposes it.</summary>
    internal Batch Head(int count)
    {
        var indices = Enumerable.Range(0, Math.Min(count, dataset.Count)).ToArray();
        if (dataset is IBatchProducer producer)
        {
            var prepared = producer.Prepare(indices);
            var (x, y) = producer.Finish(prepared);
            return MakeBatch(x, y);
        }
        return CollateSamples(ReadSamples(indices));
    }

    /// <summary>Whether labels go through a transform of the loader's (<see cref="MapLabels"/>).</summary>
    internal bool MapsLabels => targetTransform is not null;

    /// <inheritdoc />
    public Generator? ShuffleGenerator { get; }

    /// <summary>The dataset.</summary>
    public IDataset<Sample> Dataset => dataset;

    /// <summary>This rank's share of the dataset in a data-parallel run, or null (the whole dataset).</summary>
    internal DistributedSampler? Sampler { get; }

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
    public IEnumerator<Batch> GetEnumerator() => GetEnumerator(0);

    /// <summary>Starts an epoch at batch <paramref name="skip"/>: the epoch's order is drawn as always (so the
    /// shuffling generator moves on as for a whole epoch), and the first batches are left out without reading
    /// their samples. For a training run resumed inside an epoch.</summary>
    internal IEnumerator<Batch> GetEnumerator(int skip)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        var batches = sampler.NextEpoch();
        if (skip > 0) batches = batches[Math.Min(skip, batches.Length)..];
        if (dataset is IBatchProducer producer)
            return new BatchPipeline<object, Batch>(batches, producer.Prepare,
                prepared =>
                {
                    var (x, y) = producer.Finish(prepared);
                    return MakeBatch(x, y);
                },
                producer.Discard, Release, Workers, Prefetch);
        return new BatchPipeline<Sample[], Batch>(batches, ReadSamples, CollateSamples, DisposeAll, Release, Workers, Prefetch);
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

    // The dataset has applied its transforms to each sample already.
    Batch CollateSamples(Sample[] samples)
    {
        Tensor x, y;
        try
        {
            (x, y) = Collate.Samples(samples);
        }
        finally
        {
            DisposeAll(samples);
        }
        return MakeBatch(x, y);
    }

    /// <summary>The batch from the dataset's tensors (its transforms applied), which it takes: the
    /// device, then the loader's transforms. Whatever fails on the way, nothing is left undisposed.</summary>
    Batch MakeBatch(Tensor x, Tensor y)
    {
        try
        {
            x = ToDevice(x, Device);
            y = ToDevice(y, Device);
            x = Transform.ApplyBatchToOwned(transform, x);
            y = Transform.ApplyBatchToOwned(targetTransform, y);
            // No dispose scope of the caller's (a training step's) may own the batch: the loader frees it.
            x.DetachFromDisposeScope();
            y.DetachFromDisposeScope();
            return new Batch(x, y);
        }
        catch
        {
            x.Dispose();
            y.Dispose();
            throw;
        }
    }

    /// <summary>Moves a tensor to a device, disposing the source when a copy was made.</summary>
    static Tensor ToDevice(Tensor t, torch.Device device)
    {
        var moved = Devices.MoveTo(t, device);
        if (!ReferenceEquals(moved, t)) t.Dispose();
        return moved;
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
        $"DataLoader(samples={dataset.Count}, batchSize={BatchSize}, shuffle={Shuffle}, dropLast={DropLast}, device={Device}, workers={Workers}" +
        (transform is null ? "" : $", transform={transform}") + (targetTransform is null ? "" : $", targetTransform={targetTransform}") + ")";
}
