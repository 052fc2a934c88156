using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// What flows through a chain of gradient transformations: per-parameter <see cref="Values"/> and
/// one <see cref="Scale"/>, meaning <c>Scale·Values</c>. A link that only multiplies (the learning
/// rate, <see cref="Optimizers.Scale"/>) changes the scale and touches no tensor, so the product is
/// never formed: <see cref="Optimizer.Step"/> adds it with <c>p.add_(Values[i], alpha: Scale)</c>,
/// one fused pass, however deeply the chain is nested. A link that needs the real numbers (momentum,
/// Adam, weight decay) calls <see cref="Materialize"/>, which costs nothing while the scale is 1.
/// </summary>
/// <remarks>The values may share storage with the caller's gradients or with a state's buffers:
/// treat them as read-only. Updates are immutable; <see cref="Scaled"/> returns new ones over the same tensors.</remarks>
/// <example><code>
/// var updates = new Updates(gradients);                  // scale 1: the gradients as they are
/// var next = transformation.Update(updates, state, parameters);
/// var tensors = next.Materialize();                      // Scale·Values, when a tensor list is needed
/// </code></example>
public sealed class Updates
{
    readonly Tensor[] values;

    /// <summary>Updates <c>scale·values</c>, one tensor per parameter.</summary>
    /// <exception cref="ArgumentException">A value is null, or the scale is not finite.</exception>
    public Updates(IReadOnlyList<Tensor> values, double scale = 1)
    {
        ArgumentNullException.ThrowIfNull(values);
        var copy = values.ToArray();
        for (var i = 0; i < copy.Length; i++)
            if (copy[i] is null) throw new ArgumentException($"Update {i} is null; pass one tensor per parameter.", nameof(values));
        CheckScale(scale, nameof(scale));
        this.values = copy;
        Scale = scale;
    }

    Updates(Tensor[] values, double scale)
    {
        this.values = values;
        Scale = scale;
    }

    /// <summary>Updates of scale 1 over an array the caller hands over (no copy, no checks): the step's gradients.</summary>
    internal static Updates Wrap(Tensor[] values) => new(values, 1.0);

    /// <summary>The tensors, one per parameter, in the parameters' order; the update is <see cref="Scale"/> times each.</summary>
    public IReadOnlyList<Tensor> Values => values;

    /// <summary>The number every value is to be multiplied by (1 until a scaling link runs).</summary>
    public double Scale { get; }

    /// <summary>The number of per-parameter values.</summary>
    public int Count => values.Length;

    /// <summary>The same values with the scale multiplied by <paramref name="factor"/>: no tensor is read or written.</summary>
    /// <exception cref="ArgumentException">The new scale is not finite.</exception>
    public Updates Scaled(double factor)
    {
        var scale = Scale * factor;
        CheckScale(scale, nameof(factor));
        return new Updates(values, scale);
    }

    /// <summary>
    /// <c>Scale·Values</c> as tensors: the values themselves when the scale is 1 (no copy; read-only),
    /// fresh tensors otherwise (the caller's, inside its dispose scope).
    /// </summary>
    public IReadOnlyList<Tensor> Materialize()
    {
        if (Scale == 1) return values;
        using var _ = no_grad();
        return values.Select(v => v.Times(Scale)).ToArray();
    }

    /// <summary>The real values for a link that reads them, and whether they are fresh temporaries
    /// the link may overwrite and should free when done.</summary>
    internal (IReadOnlyList<Tensor> Values, bool Fresh) MaterializeForLink() =>
        Scale == 1 ? (values, false) : (values.Select(v => v.Times(Scale)).ToArray(), true);

    static void CheckScale(double scale, string name)
    {
        if (!double.IsFinite(scale)) throw new ArgumentException($"The scale of updates must be finite, found {scale}.", name);
    }

    /// <summary>For debugging: the count and the scale.</summary>
    public override string ToString() => $"Updates({values.Length} tensors, scale {Scale:G6})";
}
