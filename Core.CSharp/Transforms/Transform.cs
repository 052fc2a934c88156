using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>A transformation of one sample (an image tensor, a label) that also knows how to
/// transform a whole batch at once, so that a loader applies it once per batch instead of once
/// per sample.</summary>
/// <remarks>
/// <see cref="Apply"/> takes one sample (an image is [C, H, W] or [H, W], a label is a scalar);
/// <see cref="ApplyBatch"/> takes samples stacked along a new leading dimension and must give the
/// same result as applying <see cref="Apply"/> to each and stacking (for random transforms: the
/// same distribution, each sample drawing its own choice). The default
/// <see cref="ApplyBatch"/> does exactly that, sample by sample; element-wise transforms override it
/// with one call on the whole batch. Transforms never dispose their input and return a fresh tensor.
/// </remarks>
public abstract class Transform
{
    /// <summary>Transforms one sample.</summary>
    public abstract Tensor Apply(Tensor sample);

    /// <summary>Transforms a batch (samples along dimension 0); the same as <see cref="Apply"/> per sample, stacked.</summary>
    public virtual Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() == 0)
            throw new ArgumentException($"{this}: a batch has a leading batch dimension, got a scalar.", nameof(batch));
        using var scope = NewDisposeScope();
        var n = batch.shape[0];
        var outputs = new Tensor[n];
        for (long i = 0; i < n; i++) outputs[i] = Apply(batch[i]);
        return (n == 0 ? batch.clone() : stack(outputs)).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ApplyBatch"/> handles the batch in one call (true for element-wise
    /// transforms) rather than sample by sample.</summary>
    public virtual bool IsBatched => false;

    /// <summary>Applies this transform, then <paramref name="next"/>.</summary>
    public Transform Then(Transform next) => new Compose(this, next);

    /// <summary>The PyTorch-like text of the transform, e.g. <c>ToTensor()</c>.</summary>
    public override string ToString() => GetType().Name + "()";
}
