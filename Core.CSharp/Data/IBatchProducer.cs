using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A dataset that makes whole batches itself, in two phases: <see cref="Prepare"/> (may run on
/// a loader's worker thread) and <see cref="Finish"/> (runs on the thread that consumes the batches).</summary>
/// <remarks>Splitting the work keeps LibTorch's own thread pool on one thread: image files are decoded
/// into .NET arrays in the workers, and tensors are made and transformed where the model trains.</remarks>
internal interface IBatchProducer
{
    /// <summary>The work for the samples at <paramref name="indices"/> that can be done ahead.</summary>
    object Prepare(int[] indices);

    /// <summary>Turns prepared work into a batch on <paramref name="device"/>, transforms applied batch-wise.</summary>
    Batch Finish(object prepared, torch.Device device);

    /// <summary>Frees prepared work that will not be finished (the enumeration stopped early).</summary>
    void Discard(object prepared);
}

/// <summary>Helpers shared by the datasets' batch code.</summary>
internal static class BatchTensors
{
    /// <summary>Applies a transform batch-wise, disposing the input when a new tensor came out.</summary>
    public static Tensor Transform(Tensor raw, Functional.Transforms.Transform? transform)
    {
        if (transform is null) return raw;
        Tensor result;
        using (var scope = torch.NewDisposeScope())
        {
            // The scope frees whatever the transform makes on the way (a composed function's intermediates).
            result = transform.ApplyBatch(raw);
            result.DetachFromDisposeScope();
        }
        if (!ReferenceEquals(result, raw)) raw.Dispose();
        return result;
    }

    /// <summary>Moves a tensor to a device, disposing the source when a copy was made.</summary>
    public static Tensor ToDevice(Tensor t, torch.Device device)
    {
        if (t.device_type == device.type && (device.type == TorchSharp.DeviceType.CPU || t.device_index == device.index)) return t;
        var moved = t.to(device);
        if (!ReferenceEquals(moved, t)) t.Dispose();
        return moved;
    }

    /// <summary>Makes the finished batch: transforms, device, and no dispose scope owning its tensors.</summary>
    public static Batch Make(Tensor features, Tensor labels, Functional.Transforms.Transform? transform,
        Functional.Transforms.Transform? targetTransform, torch.Device device)
    {
        var x = ToDevice(Transform(features, transform), device);
        var y = ToDevice(Transform(labels, targetTransform), device);
        x.DetachFromDisposeScope();
        y.DetachFromDisposeScope();
        return new Batch(x, y);
    }
}
