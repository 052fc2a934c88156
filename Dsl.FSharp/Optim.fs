namespace Functional.FSharp

open TorchSharp
open Functional.Optim

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

/// Learning rates: a constant (a `float`) or a `Schedule`, one type for both.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module LearningRate =
    /// The learning rate of a `float` (a constant) or of a `Schedule`; the optimizers of `Optim` call
    /// it for you, so that `Optim.sgd 1e-3` and `Optim.sgd (Schedule.cosine 0.1 1000L)` both read as they should.
    let inline from (value: ^r) : LearningRate =
        ((^r or LearningRate): (static member op_Implicit: ^r -> LearningRate) value)

/// Updates flowing through a chain: values and one scale, meaning `scale * values`.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Updates =
    /// Gradients (or any per-parameter tensors) as updates of scale 1.
    let ofList (values: torch.Tensor list) : Updates = Updates(values)

    /// `scale * values` as tensors: the values themselves at scale 1, fresh tensors otherwise.
    let toList (updates: Updates) : torch.Tensor list = updates.Materialize() |> List.ofSeq

/// Optimizers as gradient transformations (optax style), and the PyTorch-style facade. Every learning
/// rate may be a `float` or a `Schedule`.
///
///     let optimizer = Optim.chain [ Optim.clipByGlobalNorm 1.0; Optim.sgd 1e-3 ] |> Optim.bind model
///     // loss.backward(); optimizer.Step(); optimizer.ZeroGrad()
///     (Optim.stateOf<TraceState> optimizer).Momentum <- 0.9        // later, while training
[<RequireQualifiedAccess>]
module Optim =
    /// SGD without momentum or decay.
    let sgdDefaults = { Momentum = 0.0; Dampening = 0.0; WeightDecay = 0.0; Nesterov = false }

    /// Adam's defaults (betas 0.9, 0.999, eps 1e-8, no decay).
    let adamDefaults = { Beta1 = 0.9; Beta2 = 0.999; Eps = 1e-8; WeightDecay = 0.0; Amsgrad = false }

    /// AdamW's defaults: Adam's, with PyTorch's decoupled weight decay 0.01.
    let adamwDefaults = { adamDefaults with WeightDecay = 0.01 }

    /// Plain SGD with the learning rate (a `float` or a `Schedule`); momentum and decay are there at 0, adjustable later.
    let inline sgd (learningRate: ^r) : GradientTransformation = Optimizers.Sgd(LearningRate.from learningRate)

    /// SGD with momentum, dampening, Nesterov and weight decay as in `options`.
    let inline sgdWith (options: SgdOptions) (learningRate: ^r) : GradientTransformation =
        Optimizers.Sgd(LearningRate.from learningRate, options.Momentum, options.Dampening, options.WeightDecay, options.Nesterov)

    /// Adam with the learning rate (a `float` or a `Schedule`) and PyTorch's defaults.
    let inline adam (learningRate: ^r) : GradientTransformation = Optimizers.Adam(LearningRate.from learningRate)

    /// Adam with `options`.
    let inline adamWith (options: AdamOptions) (learningRate: ^r) : GradientTransformation =
        Optimizers.Adam(LearningRate.from learningRate, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// AdamW with the learning rate (a `float` or a `Schedule`) and PyTorch's defaults (weight decay 0.01).
    let inline adamw (learningRate: ^r) : GradientTransformation = Optimizers.AdamW(LearningRate.from learningRate)

    /// AdamW with `options`.
    let inline adamwWith (options: AdamOptions) (learningRate: ^r) : GradientTransformation =
        Optimizers.AdamW(LearningRate.from learningRate, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.Amsgrad)

    /// The transformations applied one after the other.
    let chain (transformations: GradientTransformation list) : GradientTransformation = Optimizers.Chain transformations

    /// Updates unchanged.
    let identity : GradientTransformation = Optimizers.Identity()

    /// Multiplies the updates by `factor` (only their scale changes).
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

    /// Multiplies the updates by `-learningRate` (a `float`, or a `Schedule` of the step).
    let inline scaleByLearningRate (learningRate: ^r) : GradientTransformation =
        Optimizers.ScaleByLearningRate(LearningRate.from learningRate)

    /// The state of `transformation` for `parameters`.
    let init (parameters: torch.Tensor list) (transformation: GradientTransformation) : TransformState =
        transformation.Init(Array.ofList parameters)

    /// The next updates from `updates` (`Updates.ofList gradients` at first), advancing `state` in place.
    let update (updates: Updates) (state: TransformState) (parameters: torch.Tensor list) (transformation: GradientTransformation) : Updates =
        transformation.Update(updates, state, Array.ofList parameters)

    /// Binds the transformation to a model's parameters: the PyTorch-style `Optimizer` (Step, ZeroGrad).
    let bind (model: #torch.nn.Module) (transformation: GradientTransformation) : Optimizer = transformation.Bind(model :> torch.nn.Module)

    /// The first state of type `'S` in the optimizer (`TraceState`, `AdamState`, ...), whose settable
    /// properties are the hyperparameters of the next steps.
    let stateOf<'S when 'S :> TransformState> (optimizer: Optimizer) : 'S = optimizer.StateOf<'S>()

    /// The learning rate the latest step used, as a number.
    let learningRate (optimizer: Optimizer) : float = optimizer.CurrentLearningRate

    /// Sets the learning rate (a `float`, or a `Schedule`) for the next steps; a constant cannot replace a schedule.
    let inline setLearningRate (learningRate: ^r) (optimizer: Optimizer) : unit =
        optimizer.LearningRate <- LearningRate.from learningRate
