using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// A loss: a scalar (or, with <see cref="Reduction.None"/>, per-element) tensor from a model's
/// prediction and the target. Any function of this shape is a loss, so a hand-written one plugs in
/// wherever a built-in one does.
/// </summary>
/// <param name="prediction">The model's output (logits, log-probabilities or values).</param>
/// <param name="target">What the prediction should have been.</param>
/// <returns>A fresh tensor; the inputs are neither modified nor disposed.</returns>
public delegate Tensor Loss(Tensor prediction, Tensor target);

/// <summary>How per-element losses are combined, as in PyTorch's <c>reduction=</c>.</summary>
public enum Reduction
{
    /// <summary>The mean over elements (over the batch, for class losses): PyTorch's default.</summary>
    Mean,
    /// <summary>The sum over elements.</summary>
    Sum,
    /// <summary>No reduction: one loss per element (per sample, for class losses).</summary>
    None,
}
