using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>A transform made of a function of yours, as PyTorch's <c>Lambda</c>; it runs per sample
/// unless you make it with <see cref="Batched"/>.</summary>
/// <remarks>Per sample is the default because that is how PyTorch runs it (inside the
/// <c>Dataset</c>), so a function written for one sample works unchanged in a loader, which calls it
/// on each sample of a batch and stacks the results. A function that works on a whole batch is the
/// fast path, one call per batch; say so with <see cref="Batched"/>.</remarks>
/// <example><code>
/// // The tutorial's target transform, written for one label y (a scalar):
/// var oneHot = new Lambda(y => zeros(10).scatter_(0, y, tensor(1f)));
/// // A function of the whole batch [N, ...]:
/// var scale = Lambda.Batched(x => x.to_type(ScalarType.Float32).div(255f));
/// </code></example>
public sealed class Lambda : Transform
{
    readonly Func<Tensor, Tensor> function;
    readonly bool batched;

    /// <summary>Wraps a function of one sample (a loader calls it on each sample of a batch).</summary>
    public Lambda(Func<Tensor, Tensor> function) : this(function, batched: false) { }

    Lambda(Func<Tensor, Tensor> function, bool batched)
    {
        ArgumentNullException.ThrowIfNull(function);
        this.function = function;
        this.batched = batched;
    }

    /// <summary>Wraps a function of a whole batch (samples along dimension 0, results likewise), so that
    /// a loader calls it once per batch. On one sample it runs as a batch of one.</summary>
    public static Lambda Batched(Func<Tensor, Tensor> function) => new(function, batched: true);

    /// <inheritdoc />
    public override bool IsBatched => batched;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">A batched function did not keep the batch dimension.</exception>
    public override Tensor Apply(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (!batched) return function(sample);
        using var one = sample.unsqueeze(0);
        using var result = function(one);
        if (result.dim() == 0 || result.size(0) != 1)
            throw new InvalidOperationException(
                $"{this}: a batched function gives one result per sample along dimension 0, but for a batch of one sample {Shapes.Text(one.shape)} it gave {Shapes.Text(result.shape)}. " +
                "Write it for the whole batch, or make it a per-sample Lambda.");
        return result.select(0, 0);
    }

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batched ? function(batch) : base.ApplyBatch(batch);
    }

    /// <summary>PyTorch's text, <c>Lambda()</c>; a batched one says so.</summary>
    public override string ToString() => batched ? "Lambda(batched)" : "Lambda()";
}
