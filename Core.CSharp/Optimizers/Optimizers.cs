namespace Functional.Optimizers;

/// <summary>
/// The gradient transformations and the optimizers built from them, optax style: small links
/// (<see cref="Trace"/>, <see cref="ScaleByAdam"/>, <see cref="AddDecayedWeights"/>,
/// <see cref="ClipByGlobalNorm"/>, <see cref="ScaleByLearningRate(double)"/>) composed with
/// <see cref="Chain(GradientTransformation[])"/> into <see cref="Sgd(double, double, double, double, bool)"/>,
/// <see cref="Adam(double, double, double, double, double, bool)"/> and
/// <see cref="AdamW(double, double, double, double, double, bool)"/>, which match PyTorch's step for step.
/// <c>Bind</c> one to a model for the PyTorch-style <see cref="Optimizer"/>:
/// <code>
/// using var optimizer = Optimizers.Chain(Optimizers.ClipByGlobalNorm(1.0), Optimizers.Sgd(1e-3)).Bind(model);
/// </code>
/// </summary>
public static partial class Optimizers
{
}
