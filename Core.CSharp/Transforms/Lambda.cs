using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>A transform made of a function, as PyTorch's <c>Lambda</c>.</summary>
/// <remarks>By default a batch is transformed sample by sample. When the function works on a batch
/// as it does on a sample (it is element-wise, or works on the trailing dimensions only), say so with
/// <see cref="Elementwise"/> or pass a batch function, and the loader calls it once per batch.</remarks>
public sealed class Lambda : Transform
{
    readonly Func<Tensor, Tensor> function;
    readonly Func<Tensor, Tensor>? batchFunction;
    readonly string name;

    /// <summary>Wraps a function of one sample, and optionally one of a whole batch.</summary>
    public Lambda(Func<Tensor, Tensor> function, Func<Tensor, Tensor>? batchFunction = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        this.function = function;
        this.batchFunction = batchFunction;
        this.name = name ?? "Lambda()";
    }

    /// <summary>Wraps a function that gives the same result on a batch as on each of its samples.</summary>
    public static Lambda Elementwise(Func<Tensor, Tensor> function, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new Lambda(function, function, name);
    }

    /// <inheritdoc />
    public override bool IsBatched => batchFunction is not null;

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return function(sample);
    }

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch) => batchFunction is null ? base.ApplyBatch(batch) : batchFunction(batch);

    /// <inheritdoc />
    public override string ToString() => name;
}
