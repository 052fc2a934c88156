namespace Functional.FSharp

open TorchSharp
open Functional.Optimizers

/// Settings of SGD besides the learning rate (PyTorch's names and defaults).
type SgdOptions =
    { Momentum: float
      Dampening: float
      WeightDecay: float
      Nesterov: bool }

/// Settings of Adam and AdamW besides the learning rate (PyTorch's names and defaults).
type AdamOptions =
    { Beta1: float
      Beta2: float
      Eps: float
      WeightDecay: float
      Amsgrad: bool }

/// Learning-rate schedules: functions of the step number (0 for the first update).
[<RequireQualifiedAccess>]
module Schedule =
    /// Always `value`.
    let constant (value: float) : Schedule = Schedules.Constant value

    /// PyTorch's StepLR: `initial * gamma ** (step / stepSize)`.
    let step (initial: float) (stepSize: int64) (gamma: float) : Schedule = Schedules.Step(initial, stepSize, gamma)

    /// PyTorch's ExponentialLR: `initial * gamma ** step`.
    let exponential (initial: float) (gamma: float) : Schedule = Schedules.Exponential(initial, gamma)

    /// Cosine decay from `initial` to 0 over `decaySteps` (PyTorch's CosineAnnealingLR).
    let cosine (initial: float) (decaySteps: int64) : Schedule = Schedules.Cosine(initial, decaySteps)

    /// Cosine decay from `initial` to `minimum` over `decaySteps`.
    let cosineTo (minimum: float) (initial: float) (decaySteps: int64) : Schedule = Schedules.Cosine(initial, decaySteps, minimum)

    /// Linear from `initial` to `final` over `steps`, then `final`.
    let linear (initial: float) (final: float) (steps: int64) : Schedule = Schedules.Linear(initial, final, steps)

    /// Linear warm-up from 0 to `peak` over `warmupSteps`, then `after` (counted from the end of the warm-up).
    let linearWarmup (peak: float) (warmupSteps: int64) (after: Schedule) : Schedule = Schedules.LinearWarmup(peak, warmupSteps, after)

    /// PyTorch's OneCycleLR for the learning rate, with its defaults (pct_start 0.3, div 25, final div 1e4).
    let oneCycle (maxLearningRate: float) (totalSteps: int64) : Schedule = Schedules.OneCycle(maxLearningRate, totalSteps)

    /// The schedules one after another, switching at the boundaries (each counted from 0 again).
    let join (schedules: Schedule list) (boundaries: int64 list) : Schedule = Schedules.Join(Array.ofList schedules, Array.ofList boundaries)

    /// A schedule from an F# function of the step.
    let ofFunction (f: int64 -> float) : Schedule = Schedule(fun step -> f step)

    /// The rate at `step`.
    let at (step: int64) (schedule: Schedule) : float = schedule.Invoke step

/// Optimizers as gradient transformations (optax style), and the PyTorch-style facade.
///
///     let optimizer = Optim.chain [ Optim.clipByGlobalNorm 1.0; Optim.sgd 1e-3 ] |> Optim.bind model
///     // loss.backward(); optimizer.Step(); optimizer.ZeroGrad()
[<RequireQualifiedAccess>]
module Optim =
    /// SGD without momentum or decay.
    let sgdDefaults = { Momentum = 0.0; Dampening = 0.0; WeightDecay = 0.0; Nesterov = false }

    /// Adam's defaults (betas 0.9, 0.999, eps 1e-8, no decay).
    let adamDefaults = { Beta1 = 0.9; Beta2 = 0.999; Eps = 1e-8; WeightDecay = 0.0; Amsgrad = false }

    /// AdamW's defaults: Adam's, with PyTorch's decoupled weight decay 0.01.
    let adamwDefaults = { adamDefaults with WeightDecay = 0.01 }

    /// Plain SGD with the learning rate.
    let sgd (learningRate: float) : GradientTransformation = Optimizers.Sgd(learningRate)

    /// SGD with momentum, dampening, Nesterov and weight decay as in `options`.
    let sgdWith (options: SgdOptions) (learningRate: float) : GradientTransformation =
        Optimizers.Sgd(learningRate, options.Momentum, options.Dampening, options.WeightDecay, options.Nesterov)

    /// SGD whose learning rate follows a schedule.
    let sgdScheduled (options: SgdOptions) (schedule: Schedule) : GradientTransformation =
        Optimizers.Sgd(schedule, options.Momentum, options.Dampening, options.WeightDecay, options.Nesterov)

    /// Adam with the learning rate and PyTorch's defaults.
    let adam (learningRate: float) : GradientTransformation = Optimizers.Adam(learningRate)

    /// Adam with `options`.
    let adamWith (options: AdamOptions) (learningRate: float) : GradientTransformation =
        Optimizers.Adam(learningRate, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// Adam whose learning rate follows a schedule.
    let adamScheduled (options: AdamOptions) (schedule: Schedule) : GradientTransformation =
        Optimizers.Adam(schedule, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// AdamW with the learning rate and PyTorch's defaults (weight decay 0.01).
    let adamw (learningRate: float) : GradientTransformation = Optimizers.AdamW(learningRate)

    /// AdamW with `options`.
    let adamwWith (options: AdamOptions) (learningRate: float) : GradientTransformation =
        Optimizers.AdamW(learningRate, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// AdamW whose learning rate follows a schedule.
    let adamwScheduled (options: AdamOptions) (schedule: Schedule) : GradientTransformation =
        Optimizers.AdamW(schedule, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// The transformations applied one after the other.
    let chain (transformations: GradientTransformation list) : GradientTransformation = Optimizers.Chain transformations

    /// Updates unchanged.
    let identity : GradientTransformation = Optimizers.Identity()

    /// Multiplies the updates by `factor`.
    let scale (factor: float) : GradientTransformation = Optimizers.Scale factor

    /// Scales all updates together so their global 2-norm is at most `maxNorm`.
    let clipByGlobalNorm (maxNorm: float) : GradientTransformation = Optimizers.ClipByGlobalNorm maxNorm

    /// Adds `weightDecay * parameter` to the updates.
    let addDecayedWeights (weightDecay: float) : GradientTransformation = Optimizers.AddDecayedWeights weightDecay

    /// Momentum as PyTorch's SGD keeps it.
    let trace (momentum: float) (nesterov: bool) : GradientTransformation = Optimizers.Trace(momentum, 0.0, nesterov)

    /// Adam's moment scaling.
    let scaleByAdam (options: AdamOptions) : GradientTransformation =
        Optimizers.ScaleByAdam(options.Beta1, options.Beta2, options.Eps, options.Amsgrad)

    /// Multiplies the updates by `-learningRate`.
    let scaleByLearningRate (learningRate: float) : GradientTransformation = Optimizers.ScaleByLearningRate(learningRate)

    /// Multiplies the updates by `-schedule step`.
    let scaleBySchedule (schedule: Schedule) : GradientTransformation = Optimizers.ScaleByLearningRate(schedule)

    /// The state of `transformation` for `parameters`.
    let init (parameters: torch.Tensor list) (transformation: GradientTransformation) : TransformState =
        transformation.Init(Array.ofList parameters)

    /// The updates for `gradients`, advancing `state` in place.
    let update (gradients: torch.Tensor list) (state: TransformState) (parameters: torch.Tensor list) (transformation: GradientTransformation) : torch.Tensor list =
        transformation.Update(Array.ofList gradients, state, Array.ofList parameters) |> List.ofSeq

    /// Binds the transformation to a model's parameters: the PyTorch-style `Optimizer` (Step, ZeroGrad).
    let bind (model: #torch.nn.Module) (transformation: GradientTransformation) : Optimizer = transformation.Bind(model :> torch.nn.Module)

    /// The current learning rate.
    let learningRate (optimizer: Optimizer) : float = optimizer.LearningRate

    /// Sets the learning rate for the next steps.
    let setLearningRate (learningRate: float) (optimizer: Optimizer) : unit = optimizer.LearningRate <- learningRate
