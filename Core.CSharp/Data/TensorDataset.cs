using TorchSharp;
using Functional.Transforms;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>An in-memory dataset of (features, label) samples held as two tensors whose first
/// dimension indexes the samples, as PyTorch's <c>TensorDataset</c>, with the tutorial's optional
/// <c>transform</c> and <c>target_transform</c>.</summary>
/// <remarks>A <see cref="DataLoader"/> gathers a batch from it with one native <c>index_select</c> per
/// tensor and gives the batch to each transform's <see cref="Transform.ApplyBatch"/>: one call for the
/// library's transforms, each sample in turn for a per-sample <see cref="Lambda"/>, the same result as
/// the indexer's, sample by sample.
/// The dataset keeps its own references to the tensors (the caller may dispose theirs) and frees them
/// in <see cref="Dispose"/>.</remarks>
public class TensorDataset : IDataset<Sample>, IBatchProducer, IDisposable
{
    readonly Tensor features;
    readonly Tensor labels;
    // Read once: Tensor.shape is a native call that allocates, and a batch checks every index against it.
    readonly int count;
    // Read once as well (Tensor.device is a native call that makes a new Device); the tensors are private and never move.
    readonly torch.Device featuresDevice;
    readonly torch.Device labelsDevice;
    readonly bool labelsOnFeaturesDevice;
    bool disposed;

    /// <summary>Creates the dataset; <paramref name="features"/> and <paramref name="labels"/> have the same first dimension.</summary>
    /// <exception cref="ArgumentException">The first dimensions differ, or a tensor is a scalar.</exception>
    public TensorDataset(Tensor features, Tensor labels, Transform? transform = null, Transform? targetTransform = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        Native.EnsureLoaded();
        if (features.dim() == 0 || labels.dim() == 0 || features.shape[0] != labels.shape[0])
            throw new ArgumentException(
                $"Features and labels need the same number of samples (first dimension): got features {Shapes.Text(features.shape)} and labels {Shapes.Text(labels.shape)}.",
                nameof(labels));
        if (features.shape[0] > int.MaxValue)
            throw new ArgumentException($"A dataset holds at most {int.MaxValue} samples, got {features.shape[0]}.", nameof(features));
        this.features = features.alias().DetachFromDisposeScope();
        this.labels = labels.alias().DetachFromDisposeScope();
        count = (int)features.shape[0];
        featuresDevice = this.features.device;
        labelsDevice = this.labels.device;
        // torch.Device has no value equality: compare type and index.
        labelsOnFeaturesDevice = featuresDevice.type == labelsDevice.type && featuresDevice.index == labelsDevice.index;
        Transform = transform;
        TargetTransform = targetTransform;
    }

    /// <summary>All features, samples along dimension 0, before the transform (a view: do not dispose it).</summary>
    public Tensor Features { get { ObjectDisposedException.ThrowIf(disposed, this); return features; } }

    /// <summary>All labels, samples along dimension 0, before the target transform (a view: do not dispose it).</summary>
    public Tensor Labels { get { ObjectDisposedException.ThrowIf(disposed, this); return labels; } }

    /// <summary>Applied to the features of each sample (by a loader, to the batch: see <see cref="Transform.ApplyBatch"/>).</summary>
    public Transform? Transform { get; }

    /// <summary>Applied to the label of each sample (by a loader, to the batch: see <see cref="Transform.ApplyBatch"/>).</summary>
    public Transform? TargetTransform { get; }

    /// <inheritdoc />
    public int Count => count;

    /// <inheritdoc />
    public Sample this[int index]
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(index), index, $"The dataset has {Count} samples: an index is 0 to {Count - 1}.");
            using var scope = NewDisposeScope();
            var x = features[index];
            var y = labels[index];
            var fx = Transform is null ? x.clone() : Transform.Apply(x);
            var fy = TargetTransform is null ? y.clone() : TargetTransform.Apply(y);
            return new Sample(fx.DetachFromDisposeScope(), fy.DetachFromDisposeScope());
        }
    }

    (Tensor Features, Tensor Labels) Gather(int[] indices)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var i in indices)
            if ((uint)i >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"The dataset has {Count} samples: an index is 0 to {Count - 1}.");
        var longs = new long[indices.Length];
        for (int i = 0; i < longs.Length; i++) longs[i] = indices[i];
        using var index = tensor(longs, device: featuresDevice);
        var x = features.index_select(0, index).DetachFromDisposeScope();
        using var labelIndex = labelsOnFeaturesDevice ? index.alias() : index.to(labelsDevice);
        var y = labels.index_select(0, labelIndex).DetachFromDisposeScope();
        return (x, y);
    }

    object IBatchProducer.Prepare(int[] indices) => Gather(indices);

    (Tensor Features, Tensor Labels) IBatchProducer.Finish(object prepared)
    {
        var (x, y) = ((Tensor, Tensor))prepared;
        return Transform.ApplyBatchToOwned(Transform, TargetTransform, x, y);
    }

    void IBatchProducer.Discard(object prepared)
    {
        var (x, y) = ((Tensor, Tensor))prepared;
        x.Dispose();
        y.Dispose();
    }

    /// <summary>Frees the dataset's tensors.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        features.Dispose();
        labels.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The transforms, in the layout PyTorch prints them.</summary>
    protected string TransformsText() => StandardTransformText(Transform, TargetTransform);

    /// <summary>TorchVision's <c>StandardTransform</c> text: the transform and target transform, each
    /// after its heading, later lines of a multi-line transform (a Compose) indented under the first;
    /// empty when there is neither.</summary>
    internal static string StandardTransformText(Transform? transform, Transform? targetTransform)
    {
        if (transform is null && targetTransform is null) return "";
        var text = "StandardTransform";
        if (transform is not null) text += "\n" + Headed("Transform: ", transform);
        if (targetTransform is not null) text += "\n" + Headed("Target transform: ", targetTransform);
        return text;

        static string Headed(string head, Transform t) =>
            head + t.ToString()!.Replace("\n", "\n" + new string(' ', head.Length));
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var lines = new List<string> { $"Dataset {GetType().Name}", $"    Number of datapoints: {Count}",
            $"    Features: {features.dtype} {Shapes.Text(features.shape)}, labels: {labels.dtype} {Shapes.Text(labels.shape)}" };
        var t = TransformsText();
        if (t.Length > 0) lines.Add("    " + t);
        return string.Join("\n", lines);
    }
}
