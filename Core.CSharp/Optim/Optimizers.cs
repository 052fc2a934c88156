namespace Functional.Optim;

/// <summary>
/// The gradient transformations and the optimizers built from them, optax style: small links
/// (<see cref="Trace"/>, <see cref="ScaleByAdam"/>, <see cref="AddDecayedWeights"/>,
/// <see cref="ClipByGlobalNorm"/>, <see cref="ScaleByLearningRate"/>) composed with
/// <see cref="Chain(GradientTransformation[])"/> into <see cref="Sgd"/>, <see cref="Adam"/> and
/// <see cref="AdamW"/>, which match PyTorch's step for step. Each link keeps a state of its own type
/// (<see cref="TraceState"/>, <see cref="AdamState"/>, ...) whose hyperparameters are settable while
/// training. <c>Bind</c> one to a model for the PyTorch-style <see cref="Optimizer"/>:
/// <code>
/// using var optimizer = Optimizers.Chain(Optimizers.ClipByGlobalNorm(1.0), Optimizers.Sgd(1e-3)).Bind(model);
/// optimizer.StateOf&lt;TraceState&gt;().Momentum = 0.9;        // later, while training
/// </code>
/// </summary>
public static partial class Optimizers
{
}
