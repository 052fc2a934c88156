namespace Functional.FSharp

open TorchSharp
open Functional.Training

/// Losses, as values of the core's `Loss` delegate (so they plug into the C# trainer too).
/// Apply one with `Loss.apply loss prediction target` or `loss.Invoke(prediction, target)`.
[<RequireQualifiedAccess>]
module Loss =
    /// Cross-entropy of logits with class indices or class probabilities, mean over samples.
    let crossEntropy : Loss = Losses.CrossEntropy()

    /// Cross-entropy with the given reduction.
    let crossEntropyWith (reduction: Reduction) : Loss = Losses.CrossEntropy reduction

    /// Negative log-likelihood of log-probabilities at class indices, mean over samples.
    let nll : Loss = Losses.NLL()

    /// Negative log-likelihood with the given reduction.
    let nllWith (reduction: Reduction) : Loss = Losses.NLL reduction

    /// Binary cross-entropy of logits, mean over elements.
    let bceWithLogits : Loss = Losses.BCEWithLogits()

    /// Binary cross-entropy of logits with the given reduction.
    let bceWithLogitsWith (reduction: Reduction) : Loss = Losses.BCEWithLogits reduction

    /// Mean squared error.
    let mse : Loss = Losses.MSE()

    /// Squared error with the given reduction.
    let mseWith (reduction: Reduction) : Loss = Losses.MSE reduction

    /// Applies a loss to a prediction and a target.
    let apply (loss: Loss) (prediction: torch.Tensor) (target: torch.Tensor) : torch.Tensor = loss.Invoke(prediction, target)

    /// A loss from an F# function `prediction -> target -> loss`.
    let ofFunction (f: torch.Tensor -> torch.Tensor -> torch.Tensor) : Loss = Loss(fun p t -> f p t)
