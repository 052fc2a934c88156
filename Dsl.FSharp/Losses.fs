namespace Functional.FSharp

open TorchSharp
open Functional.Training

/// PyTorch's `nn.CrossEntropyLoss` settings (names and defaults as there); start from `Loss.crossEntropyDefaults`.
type CrossEntropyOptions =
    { /// Mean (default), Sum or None; with class indices the mean divides by the summed weights of the targets kept.
      Reduction: Reduction
      /// One weight per class, shape [C] (`weight`); the loss keeps the tensor.
      Weight: torch.Tensor option
      /// A class index whose targets count for nothing (`ignore_index`, default -100); class indices only.
      IgnoreIndex: int64
      /// The share ε of the uniform distribution mixed into the target (`label_smoothing`, in [0, 1]).
      LabelSmoothing: float }

/// PyTorch's `nn.NLLLoss` settings (names and defaults as there); start from `Loss.nllDefaults`.
type NllOptions =
    { /// Mean (default), Sum or None; the mean divides by the summed weights of the targets kept (NaN if none is).
      Reduction: Reduction
      /// One weight per class, shape [C] (`weight`); the loss keeps the tensor.
      Weight: torch.Tensor option
      /// A class index whose targets count for nothing (`ignore_index`, default -100).
      IgnoreIndex: int64 }

/// PyTorch's `nn.BCEWithLogitsLoss` settings; start from `Loss.bceWithLogitsDefaults`.
type BceWithLogitsOptions =
    { /// Mean over elements (default), Sum or None.
      Reduction: Reduction
      /// A rescaling weight that broadcasts to the prediction (`weight`); the loss keeps the tensor.
      Weight: torch.Tensor option
      /// The positive term's weight per class, the last dimension (`pos_weight`); the loss keeps the tensor.
      PositiveWeight: torch.Tensor option }

/// Losses, as values of the core's `Loss` delegate (so they plug into the C# trainer too).
/// Apply one with `Loss.apply loss prediction target` or `loss.Invoke(prediction, target)`.
[<RequireQualifiedAccess>]
module Loss =
    /// Cross-entropy of logits with class indices or class probabilities, mean over samples.
    let crossEntropy : Loss = Losses.CrossEntropy()

    /// Cross-entropy with the given reduction.
    let crossEntropyWith (reduction: Reduction) : Loss = Losses.CrossEntropy(reduction)

    /// Cross-entropy's defaults, PyTorch's: mean, no weights, ignore index -100, no label smoothing.
    let crossEntropyDefaults : CrossEntropyOptions = { Reduction = Reduction.Mean; Weight = None; IgnoreIndex = -100L; LabelSmoothing = 0.0 }

    /// Cross-entropy with PyTorch's options:
    /// `Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Weight = Some w; LabelSmoothing = 0.1 }`.
    let crossEntropyWithOptions (options: CrossEntropyOptions) : Loss =
        Losses.CrossEntropy(options.Reduction, Option.toObj options.Weight, options.IgnoreIndex, options.LabelSmoothing)

    /// Negative log-likelihood of log-probabilities at class indices, mean over samples.
    let nll : Loss = Losses.NLL()

    /// Negative log-likelihood with the given reduction.
    let nllWith (reduction: Reduction) : Loss = Losses.NLL(reduction)

    /// NLL's defaults, PyTorch's: mean, no weights, ignore index -100.
    let nllDefaults : NllOptions = { Reduction = Reduction.Mean; Weight = None; IgnoreIndex = -100L }

    /// Negative log-likelihood with PyTorch's options: `Loss.nllWithOptions { Loss.nllDefaults with IgnoreIndex = 0L }`.
    let nllWithOptions (options: NllOptions) : Loss =
        Losses.NLL(options.Reduction, Option.toObj options.Weight, options.IgnoreIndex)

    /// Binary cross-entropy of logits, mean over elements.
    let bceWithLogits : Loss = Losses.BCEWithLogits()

    /// Binary cross-entropy of logits with the given reduction.
    let bceWithLogitsWith (reduction: Reduction) : Loss = Losses.BCEWithLogits(reduction)

    /// Binary cross-entropy's defaults, PyTorch's: mean, no weight, no positive weight.
    let bceWithLogitsDefaults : BceWithLogitsOptions = { Reduction = Reduction.Mean; Weight = None; PositiveWeight = None }

    /// Binary cross-entropy of logits with PyTorch's options:
    /// `Loss.bceWithLogitsWithOptions { Loss.bceWithLogitsDefaults with PositiveWeight = Some p }`.
    let bceWithLogitsWithOptions (options: BceWithLogitsOptions) : Loss =
        Losses.BCEWithLogits(options.Reduction, Option.toObj options.Weight, Option.toObj options.PositiveWeight)

    /// Mean squared error.
    let mse : Loss = Losses.MSE()

    /// Squared error with the given reduction.
    let mseWith (reduction: Reduction) : Loss = Losses.MSE reduction

    /// Applies a loss to a prediction and a target.
    let apply (loss: Loss) (prediction: torch.Tensor) (target: torch.Tensor) : torch.Tensor = loss.Invoke(prediction, target)

    /// A loss from an F# function `prediction -> target -> loss`.
    let ofFunction (f: torch.Tensor -> torch.Tensor -> torch.Tensor) : Loss = Loss(fun p t -> f p t)
