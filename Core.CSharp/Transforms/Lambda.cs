using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>A function of yours as a transform: <see cref="Transform.Lambda"/>.</summary>
sealed class Lambda : Transform
{
    readonly Func<Tensor, Tensor> function;
    readonly bool batched;

    internal Lambda(Func<Tensor, Tensor> function, bool batched)
    {
        ArgumentNullException.ThrowIfNull(function);
        this.function = function;
        this.batched = batched;
    }

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
