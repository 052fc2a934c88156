using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>A transformation of one sample (an image tensor, a label), as PyTorch's transforms, that a
/// loader may also run once on a whole batch when that gives the same result.</summary>
/// <remarks>
/// <para><see cref="Apply"/> takes one sample (an image is [C, H, W] or [H, W], a label is a scalar);
/// <see cref="ApplyBatch"/> takes samples stacked along a new leading dimension and always gives what
/// <see cref="Apply"/> on each sample, stacked, gives (for a random transform drawing from a generator:
/// the same draws, in the same order). Which of the two does the work is the transform's to say, never
/// guessed from a tensor's rank:</para>
/// <list type="bullet">
/// <item>Per sample, the default: a transform that only implements <see cref="Apply"/> runs on each
/// sample of a batch, exactly as in a PyTorch <c>Dataset</c>, so a function written for one sample
/// (the tutorial's one-hot <c>Lambda</c>) works unchanged. <see cref="Lambda"/> is this.</item>
/// <item>Batched, the fast path: a transform that overrides <see cref="ApplyBatch"/> with one call on
/// the whole batch, and says so with <see cref="IsBatched"/>. The library's transforms
/// (<see cref="ToTensor"/>, <see cref="Normalize"/>, <see cref="OneHot"/>, the random flips and crops)
/// are batched; for a function of yours, <see cref="Lambda.Batched"/>.</item>
/// </list>
/// <para>Transforms never dispose their input and return a fresh tensor (or a view that the caller
/// may dispose).</para>
/// </remarks>
public abstract class Transform
{
    /// <summary>Transforms one sample.</summary>
    public abstract Tensor Apply(Tensor sample);

    /// <summary>Transforms a batch (samples along dimension 0): by default <see cref="Apply"/> on each
    /// sample, stacked, which is what a batched override must equal.</summary>
    /// <exception cref="ArgumentException">The batch is a scalar, or the samples' results cannot be stacked.</exception>
    public virtual Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() == 0)
            throw new ArgumentException($"{this}: a batch has a leading batch dimension, got a scalar.", nameof(batch));
        using var scope = NewDisposeScope();
        var n = batch.shape[0];
        if (n == 0) return batch.clone().MoveToOuterDisposeScope();
        var outputs = new Tensor[n];
        for (long i = 0; i < n; i++) outputs[i] = Apply(batch[i]);
        return Functional.Data.Collate.Stack(outputs, this).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ApplyBatch"/> handles a batch in one call rather than sample by
    /// sample: a composition of batched transforms keeps a loader's batch path free of per-sample loops.</summary>
    public virtual bool IsBatched => false;

    /// <summary>Applies <paramref name="transform"/> (when there is one) to a batch the caller owns and
    /// gives up: the batch is disposed when a new tensor came out, and whatever the transform makes on
    /// the way (a composition's intermediates) is freed. The result belongs to no dispose scope. On an
    /// exception the batch is left to the caller.</summary>
    internal static Tensor ApplyBatchToOwned(Transform? transform, Tensor batch)
    {
        if (transform is null) return batch;
        Tensor result;
        using (var scope = NewDisposeScope())
        {
            result = transform.ApplyBatch(batch);
            result.DetachFromDisposeScope();
        }
        if (!ReferenceEquals(result, batch)) batch.Dispose();
        return result;
    }

    /// <summary>A dataset's transforms applied to a batch of features and labels it owns; on an exception
    /// both (or what the transforms made of them) are freed before it propagates.</summary>
    internal static (Tensor Features, Tensor Labels) ApplyBatchToOwned(Transform? transform, Transform? targetTransform, Tensor features, Tensor labels)
    {
        try
        {
            features = ApplyBatchToOwned(transform, features);
            labels = ApplyBatchToOwned(targetTransform, labels);
            return (features, labels);
        }
        catch
        {
            features.Dispose();
            labels.Dispose();
            throw;
        }
    }

    /// <summary>The PyTorch-like text of the transform, e.g. <c>ToTensor()</c>.</summary>
    public override string ToString() => GetType().Name + "()";
}
