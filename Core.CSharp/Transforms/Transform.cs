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
/// are batched; for a function of yours, <see cref="Lambda"/> with <c>batched: true</c>.</item>
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

    // The library's transforms, named as torchvision's (transforms.ToTensor() is new ToTensor()).

    /// <summary>torchvision's <c>ToTensor()</c>: uint8 images ([H, W] or [C, H, W], or [H, W, C] with
    /// <see cref="ImageLayout.Hwc"/>) to float32 [C, H, W] in [0, 1]; float input is only reshaped.</summary>
    public static Transform ToTensor(ImageLayout layout = ImageLayout.Chw) => new ToTensor(layout);

    /// <summary>torchvision's <c>Normalize(mean, std)</c>: per channel, (x − mean) / std.</summary>
    public static Transform Normalize(IEnumerable<double> mean, IEnumerable<double> std) => new Normalize(mean, std);

    /// <summary>torchvision's <c>Compose([...])</c>: the transforms applied in order.</summary>
    public static Transform Compose(params Transform[] transforms) => new Compose(transforms);

    /// <summary>torchvision's <c>Compose([...])</c>: the transforms applied in order.</summary>
    public static Transform Compose(IEnumerable<Transform> transforms) => new Compose(transforms);

    /// <summary>torchvision's <c>Lambda(f)</c>: a function of one sample, which a loader calls on each sample
    /// of a batch and stacks, as a PyTorch <c>Dataset</c> would. With <paramref name="batched"/>, a function
    /// of a whole batch (samples along dimension 0), called once per batch: the fast path.</summary>
    /// <example><code>
    /// // The tutorial's target transform, written for one label y (a scalar):
    /// var oneHot = Transform.Lambda(y => zeros(10).scatter_(0, y, tensor(1f)));
    /// // A function of the whole batch [N, ...]:
    /// var scale = Transform.Lambda(x => x.to_type(ScalarType.Float32).div(255f), batched: true);
    /// </code></example>
    public static Transform Lambda(Func<Tensor, Tensor> function, bool batched = false) => new Lambda(function, batched);

    /// <summary>Class indices to one-hot float32 rows of <paramref name="numClasses"/> (batched).</summary>
    public static Transform OneHot(int numClasses) => new OneHot(numClasses);

    /// <summary>torchvision's <c>RandomCrop</c>: a random <paramref name="height"/> × <paramref name="width"/>
    /// window after <paramref name="padding"/> on every side, drawn from <paramref name="generator"/> (a CPU generator).</summary>
    public static Transform RandomCrop(int height, int width, Generator generator, int padding = 0, double fill = 0) =>
        new RandomCrop(height, width, generator, padding, fill);

    /// <summary>A square <see cref="RandomCrop(int, int, Generator, int, double)"/> with its own generator seeded with <paramref name="seed"/>.</summary>
    public static Transform RandomCrop(int size, long seed, int padding = 0, double fill = 0) => new RandomCrop(size, seed, padding, fill);

    /// <summary>torchvision's <c>RandomHorizontalFlip(p)</c>, drawing from <paramref name="generator"/> (a CPU generator).</summary>
    public static Transform RandomHorizontalFlip(Generator generator, double p = 0.5) => new RandomHorizontalFlip(generator, p);

    /// <summary><see cref="RandomHorizontalFlip(Generator, double)"/> with its own generator seeded with <paramref name="seed"/>.</summary>
    public static Transform RandomHorizontalFlip(long seed, double p = 0.5) => new RandomHorizontalFlip(seed, p);

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
