namespace Functional.FSharp

open System
open TorchSharp

/// Functional differentiation in the style of DiffSharp, available after `open Functional.FSharp`:
/// `grad f x`, `gradv f x v`, `diff f x`, `jacobian f x`, `hessian f x`, `jvp f x v`, `vjp f x v`,
/// and the f-forms (`fgrad`, ...) that also return f x.
///
/// Calls nest and give the right answer (d/dx (x · d/dy (x + y)) = 1). Tensors created inside `f`
/// are disposed when a call returns; results are fresh tensors. Inside an outer derivative, or when
/// `x` requires grad, results stay differentiable; otherwise they are detached.
[<AutoOpen>]
module Differentiation =
    let private fn (f: torch.Tensor -> torch.Tensor) = Func<torch.Tensor, torch.Tensor>(f)

    /// f x and the gradient of a scalar-valued f at x (shaped like x).
    let fgrad (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FGrad(fn f, x).ToTuple()

    /// The gradient of a scalar-valued f at x, shaped like x.
    let grad (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Grad(fn f, x)

    /// f x and the directional derivative ⟨∇f(x), v⟩ (a scalar tensor).
    let fgradv (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FGradv(fn f, x, v).ToTuple()

    /// The directional derivative ⟨∇f(x), v⟩ of a scalar-valued f.
    let gradv (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Gradv(fn f, x, v)

    /// f x and df/dx at a one-element x (shaped like f x).
    let fdiff (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FDiff(fn f, x).ToTuple()

    /// The derivative df/dx at a one-element x, shaped like f x.
    let diff (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Diff(fn f, x)

    /// f x and the Jacobian, of shape (f x).shape ++ x.shape ([m; n] for vectors).
    let fjacobian (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FJacobian(fn f, x).ToTuple()

    /// The Jacobian of f at x, of shape (f x).shape ++ x.shape.
    let jacobian (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Jacobian(fn f, x)

    /// f x and the Hessian of a scalar-valued f, of shape x.shape ++ x.shape.
    let fhessian (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FHessian(fn f, x).ToTuple()

    /// The Hessian of a scalar-valued f at x, of shape x.shape ++ x.shape.
    let hessian (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Hessian(fn f, x)

    /// f x and the Jacobian-vector product J v (shaped like f x); v is shaped like x.
    let fjvp (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FJvp(fn f, x, v).ToTuple()

    /// The Jacobian-vector product J v (forward-mode derivative along v), shaped like f x.
    let jvp (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Jvp(fn f, x, v)

    /// f x and the vector-Jacobian product vᵀ J (shaped like x); v is shaped like f x.
    let fvjp (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor * torch.Tensor =
        Functional.Autograd.FVjp(fn f, x, v).ToTuple()

    /// The vector-Jacobian product vᵀ J (reverse-mode derivative), shaped like x.
    let vjp (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) (v: torch.Tensor) : torch.Tensor =
        Functional.Autograd.Vjp(fn f, x, v)
