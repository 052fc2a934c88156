namespace Functional.FSharp

open System
open TorchSharp
open Functional

/// Gradient checks against float64 central differences (PyTorch's gradcheck / gradgradcheck),
/// available after `open Functional.FSharp`. The report's `Passed` says whether every Jacobian entry
/// satisfied |analytic − numeric| ≤ atol + rtol·|numeric|; its ToString names the worst entry.
[<AutoOpen>]
module GradCheck =
    /// PyTorch's defaults: eps 1e-6, atol 1e-5, rtol 1e-3.
    type GradCheckSettings = { Eps: float; Atol: float; Rtol: float }

    /// The settings PyTorch's gradcheck uses by default.
    let gradCheckDefaults = { Eps = 1e-6; Atol = 1e-5; Rtol = 1e-3 }

    /// Checks autograd's first derivatives of f at x with the given settings.
    let gradcheckWith (settings: GradCheckSettings) (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : GradCheckReport =
        Functional.Autograd.GradCheck(Func<_, _>(f), x, settings.Eps, settings.Atol, settings.Rtol)

    /// Checks autograd's first derivatives of f at x (PyTorch's defaults).
    let gradcheck (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : GradCheckReport =
        gradcheckWith gradCheckDefaults f x

    /// Checks second derivatives (the derivative of x ↦ vᵀ J_f(x), v random from `seed`) with the given settings.
    let gradgradcheckWith (settings: GradCheckSettings) (seed: uint64) (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : GradCheckReport =
        Functional.Autograd.GradGradCheck(Func<_, _>(f), x, seed, settings.Eps, settings.Atol, settings.Rtol)

    /// Checks second derivatives of f at x (PyTorch's defaults, v drawn from seed 0).
    let gradgradcheck (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : GradCheckReport =
        gradgradcheckWith gradCheckDefaults 0UL f x
