using System.Collections;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A loader whose batches go through a function of the features (and optionally one of the
/// labels) on their way out, e.g. <c>ToTensor</c> then <c>Normalize</c> applied once per batch.</summary>
/// <remarks>The mapped batch replaces the original: the original features (and labels, when mapped) are
/// disposed as soon as the function has returned, and the mapped batch follows the same lifetime rules
/// (disposed when the next arrives, unless kept).</remarks>
public sealed class MappedLoader : IDataLoader
{
    readonly IDataLoader source;
    readonly Func<Tensor, Tensor> features;
    readonly Func<Tensor, Tensor>? labels;

    /// <summary>Wraps <paramref name="source"/>.</summary>
    public MappedLoader(IDataLoader source, Func<Tensor, Tensor> features, Func<Tensor, Tensor>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(features);
        this.source = source;
        this.features = features;
        this.labels = labels;
    }

    /// <inheritdoc />
    public int BatchCount => source.BatchCount;

    /// <inheritdoc />
    public int SampleCount => source.SampleCount;

    /// <inheritdoc />
    public int BatchSize => source.BatchSize;

    /// <inheritdoc />
    public Functional.Device Device => source.Device;

    /// <inheritdoc />
    public Generator? ShuffleGenerator => source.ShuffleGenerator;

    /// <summary>Starts an epoch of the source loader and maps each batch.</summary>
    public IEnumerator<Batch> GetEnumerator()
    {
        Batch? previous = null;
        var completed = false;
        try
        {
            foreach (var batch in source)
            {
                if (previous is { IsKept: false }) previous.Dispose();
                previous = null;
                // The source disposes its batch when it moves on; keep it so that Map owns it from here.
                batch.Keep();
                Batch mapped;
                try
                {
                    mapped = Apply(batch);
                }
                catch
                {
                    batch.Dispose();
                    throw;
                }
                previous = mapped;
                yield return mapped;
            }
            completed = true;
        }
        finally
        {
            if (completed && previous is { IsKept: false }) previous.Dispose();
        }
    }

    Batch Apply(Batch batch)
    {
        using var scope = NewDisposeScope();
        var x = features(batch.Features);
        var y = labels is null ? null : labels(batch.Labels);
        x.DetachFromDisposeScope();
        y?.DetachFromDisposeScope();
        return batch.With(x, y);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
