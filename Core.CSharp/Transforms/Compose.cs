using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>Applies transforms one after the other, as PyTorch's <c>Compose</c>.</summary>
/// <remarks>A batch goes through each transform's own <see cref="Transform.ApplyBatch"/>, so element-wise
/// steps stay one call per batch even when another step works sample by sample. Intermediate results
/// are disposed as soon as the next step has used them.</remarks>
sealed class Compose : Transform
{
    readonly Transform[] steps;

    /// <summary>Composes the transforms, applied in the order given.</summary>
    internal Compose(params Transform[] transforms) : this((IEnumerable<Transform>)transforms) { }

    /// <summary>Composes the transforms, applied in the order given.</summary>
    internal Compose(IEnumerable<Transform> transforms)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        var list = new List<Transform>();
        foreach (var t in transforms)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(transforms));
            if (t is Compose c) list.AddRange(c.steps); else list.Add(t);
        }
        steps = list.ToArray();
    }

    /// <summary>The transforms, in order (nested compositions flattened).</summary>
    public IReadOnlyList<Transform> Transforms => steps;

    /// <inheritdoc />
    public override bool IsBatched => steps.All(s => s.IsBatched);

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample) => Run(sample, (t, x) => t.Apply(x));

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch) => Run(batch, (t, x) => t.ApplyBatch(x));

    Tensor Run(Tensor input, Func<Transform, Tensor, Tensor> apply)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (steps.Length == 0) return input.alias();
        var current = input;
        try
        {
            for (int i = 0; i < steps.Length; i++)
            {
                var next = apply(steps[i], current);
                if (!ReferenceEquals(current, input) && !ReferenceEquals(current, next)) current.Dispose();
                current = next;
            }
        }
        catch
        {
            // A step refused its input: free the intermediate result it was given (never the caller's input).
            if (!ReferenceEquals(current, input)) current.Dispose();
            throw;
        }
        return current;
    }

    /// <inheritdoc />
    public override string ToString() =>
        "Compose(\n" + string.Concat(steps.Select(s => "    " + s.ToString()!.Replace("\n", "\n    ") + "\n")) + ")";
}
