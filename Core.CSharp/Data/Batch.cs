using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A batch of (features, labels): what a <see cref="DataLoader"/> gives for each step.</summary>
/// <remarks>
/// A batch owns its tensors. While a loader is enumerated, it disposes each batch when the next one
/// arrives (and the last one when the epoch ends), so a training loop never frees anything by hand.
/// To hold a batch longer, call <see cref="Keep"/>: the loader then leaves it alone and the caller
/// disposes it. A batch the enumeration stopped on early (a <c>break</c>, <c>First()</c>,
/// <see cref="DataLoader.Peek"/>) also stays with the caller.
/// </remarks>
public sealed class Batch : IDisposable
{
    bool disposed;

    /// <summary>Wraps the tensors; the batch takes ownership of them.</summary>
    /// <exception cref="ArgumentException">The two tensors disagree on the number of samples.</exception>
    public Batch(Tensor features, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        // One batch per training step: size(0) reads one number, where Tensor.shape allocates the whole shape.
        var rows = features.dim() == 0 || labels.dim() == 0 ? -1 : features.size(0);
        if (rows < 0 || rows != labels.size(0))
            throw new ArgumentException(
                $"A batch has as many labels as feature rows: got features {Shapes.Text(features.shape)} and labels {Shapes.Text(labels.shape)}.", nameof(labels));
        Features = features;
        Labels = labels;
        count = (int)rows;
    }

    // Read once: asking the tensor is a native call.
    readonly int count;

    /// <summary>The inputs, samples along dimension 0 (e.g. [64, 1, 28, 28]).</summary>
    public Tensor Features { get; }

    /// <summary>The targets, samples along dimension 0 (e.g. [64] class indices).</summary>
    public Tensor Labels { get; }

    /// <summary>The number of samples in the batch.</summary>
    public int Count => count;

    /// <summary>Whether <see cref="Keep"/> was called: the loader will not dispose this batch.</summary>
    public bool IsKept { get; private set; }

    /// <summary>Whether the batch's tensors have been disposed.</summary>
    public bool IsDisposed => disposed;

    /// <summary>Takes the batch out of the loader's hands: it stays valid after the next batch
    /// arrives, and the caller disposes it. Returns the batch itself, for chaining.</summary>
    public Batch Keep()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        IsKept = true;
        return this;
    }

    /// <summary>Disposes both tensors (a kept batch too: keeping only stops the loader from doing it).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Features.Dispose();
        Labels.Dispose();
    }

    /// <summary>Lets <c>var (x, y) = batch;</c> read as in Python.</summary>
    public void Deconstruct(out Tensor features, out Tensor labels)
    {
        features = Features;
        labels = Labels;
    }

    /// <inheritdoc />
    public override string ToString() =>
        disposed ? "Batch(disposed)" : $"Batch(features: {Features.dtype} {Shapes.Text(Features.shape)}, labels: {Labels.dtype} {Shapes.Text(Labels.shape)})";
}
