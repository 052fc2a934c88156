/// GradCheck.fs: gradcheck and gradgradcheck, and every differentiable DSL function passing both.
module Functional.PropertyTests.GradCheckTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional.FSharp
open Functional.PropertyTests.Generators

let private isTrue (condition: bool) = Assert.That(condition, Is.True)

[<OneTimeSetUp>]
let load () = Functional.Native.EnsureLoaded()

/// Half a grid step of `smallValues`: shifting by it keeps kinks (relu, abs) at least 0.0005 away
/// from every generated input, far beyond the finite-difference step.
let private offGrid = 0.0005
let private positive (x: torch.Tensor) = x * x + 0.5
let private transposed (x: torch.Tensor) = if x.dim() = 1L then x else Tensor.transpose 0 1 x

/// Every differentiable function the DSL exposes, applied to one input (partners are made from it).
let differentiable : (string * (torch.Tensor -> torch.Tensor)) list =
    [ "Tensor.add", (fun x -> Tensor.add x (x.flip(0L)))
      "Tensor.sub", (fun x -> Tensor.sub (x * 3.0) (Tensor.exp x))
      "Tensor.mul", (fun x -> Tensor.mul x (Tensor.sin x))
      "Tensor.div", (fun x -> Tensor.div x (positive x))
      "Tensor.pow", (fun x -> Tensor.pow (positive x) x)
      "Tensor.neg", Tensor.neg
      "Tensor.exp", Tensor.exp
      "Tensor.log", (fun x -> Tensor.log (positive x))
      "Tensor.sin", Tensor.sin
      "Tensor.cos", Tensor.cos
      "Tensor.tanh", Tensor.tanh
      "Tensor.sigmoid", Tensor.sigmoid
      "Tensor.relu", (fun x -> Tensor.relu (x - offGrid))
      "Tensor.sqrt", (fun x -> Tensor.sqrt (positive x))
      "Tensor.square", Tensor.square
      "Tensor.abs", (fun x -> Tensor.abs (x - offGrid))
      "Tensor.softplus", Tensor.softplus
      "Tensor.softmax", Tensor.softmax -1
      "Tensor.logSoftmax", Tensor.logSoftmax -1
      "Tensor.sum", Tensor.sum
      "Tensor.sumDim", Tensor.sumDim 0
      "Tensor.mean", Tensor.mean
      "Tensor.dot", (fun x -> let f = x.flatten() in Tensor.dot f (Tensor.cos f))
      "Tensor.matmul", (fun x -> Tensor.matmul x (transposed (Tensor.sin x)))
      "Tensor.reshape", (fun x -> Tensor.reshape [ -1 ] (x * x))
      "Tensor.transpose", (fun x -> transposed x * x.sum())
      "Tensor.cat", (fun x -> Tensor.cat 0 [ x; x * x ])
      "Tensor.stack", (fun x -> Tensor.stack 0 [ x; Tensor.tanh x ])
      "slicing t.[i]", (fun x -> x.[0] * x.[x.shape.[0] - 1L])
      "slicing t.[a..b]", (fun x -> x.[0..1] * 2.0)
      "slicing t.[a..b] <- v", (fun x -> let y = x * 1.0 in y.[0..0] <- Tensor.sin x.[0..0]; y)
      "Tensor.toDtype", (fun x -> Tensor.toDtype torch.float64 (x * x))
      "Tensor.toDevice", (fun x -> Tensor.toDevice Functional.Devices.Cpu (Tensor.exp x))
      "Tensor.addInPlace", (fun x -> let y = x * x in Tensor.addInPlace 2.0 y; y)
      "Tensor.mulInPlace", (fun x -> let y = Tensor.sin x in Tensor.mulInPlace 3.0 y; y)
      "Tensor.copyInPlace", (fun x -> let y = x * 1.0 in Tensor.copyInPlace (Tensor.cos x) y; y * x)
      "grad", (fun x -> grad (fun t -> (Tensor.sin t * t).sum()) x)
      "gradv", (fun x -> gradv (fun t -> (t * t * t).sum()) x (Tensor.cos x))
      "jacobian", (fun x -> jacobian (fun t -> Tensor.tanh t * t.sum()) (x.flatten()))
      "hessian", (fun x -> hessian (fun t -> (Tensor.exp t * t.flip(0L)).sum()) (x.flatten()))
      "jvp", (fun x -> jvp (fun t -> Tensor.sin t * t) x (x * x))
      "vjp", (fun x -> vjp (fun t -> Tensor.sigmoid t * 3.0) x (Tensor.cos x))
      "diff", (fun x -> diff (fun t -> t * Tensor.exp t) (x.flatten().[0]))
      // The f-forms: the value and the derivative both stay differentiable.
      "fgrad", (fun x -> let value, g = fgrad (fun t -> (Tensor.sin t * t).sum()) x in g * value)
      "fgradv", (fun x -> let value, d = fgradv (fun t -> (t * t * t).sum()) x (Tensor.cos x) in d * value)
      "fjacobian", (fun x -> let value, j = fjacobian (fun t -> Tensor.tanh t * t.sum()) (x.flatten()) in Tensor.matmul j value)
      "fhessian", (fun x -> let value, h = fhessian (fun t -> (Tensor.exp t * t.flip(0L)).sum()) (x.flatten()) in h * value)
      "fjvp", (fun x -> let value, jv = fjvp (fun t -> Tensor.sin t * t) x (x * x) in jv * value)
      "fvjp", (fun x -> let value, g = fvjp (fun t -> Tensor.sigmoid t * 3.0) x (Tensor.cos x) in g * value)
      "fdiff", (fun x -> let value, d = fdiff (fun t -> t * Tensor.exp t) (x.flatten().[0]) in d * value) ]

let private check (checker: (torch.Tensor -> torch.Tensor) -> torch.Tensor -> Functional.GradCheckReport) (data: TensorData) =
    use x = data.ToTensor()
    differentiable |> List.forall (fun (name, f) ->
        let report = checker f x
        report.Passed || (printfn "%s on %O: %O" name data report; false))

[<Property(MaxTest = 12)>]
let ``every differentiable DSL function passes gradcheck`` () =
    Prop.forAll (Arb.fromGen smoothData) (check gradcheck)

[<Property(MaxTest = 8)>]
let ``every differentiable DSL function passes gradgradcheck`` () =
    Prop.forAll (Arb.fromGen smoothData) (check gradgradcheck)

[<Test>]
let ``a wrong gradient fails and the report names the worst element`` () =
    // Forward x², but autograd sees 3x: (x² detached) + 1.5 x² - (1.5 x² detached).
    let wrong (x: torch.Tensor) = (x * x).detach() + 1.5 * x * x - (1.5 * x * x).detach()
    use x = tensorOf torch.float64 [ 0.5; -3.0; 1.0 ]
    let report = gradcheck wrong x
    Assert.That(report.Passed, Is.False)
    equal ([| 1L |]) (report.WorstInputIndex)
    equal ([| 1L |]) (report.WorstOutputIndex)
    Assert.That(report.Analytic, Is.EqualTo(-9.0).Within 1e-9)
    Assert.That(report.Numeric, Is.EqualTo(-6.0).Within 1e-6)
    contains "FAILED" (string report)
    contains "output [1] / input [1]" (string report)

[<Test>]
let ``gradgradcheck catches a wrong second derivative that gradcheck cannot see`` () =
    // First derivative right (2x), second derivative wrong: the gradient's own graph is cut.
    let f (x: torch.Tensor) = x * x.detach()  * 2.0 - (x * x).detach()
    use x = tensorOf torch.float64 [ 0.5; 1.5 ]
    Assert.That((gradcheck f x).Passed, Is.True)
    Assert.That((gradgradcheck (fun t -> (f t).sum()) x).Passed, Is.False)

[<Test>]
let ``tolerances and settings are PyTorch's`` () =
    equal ({ Eps = 1e-6; Atol = 1e-5; Rtol = 1e-3 }) (gradCheckDefaults)
    use x = tensorOf torch.float64 [ 1.0 ]
    // 1% error in the gradient: fails with rtol 1e-3, passes with rtol 0.1.
    let off (t: torch.Tensor) = (t * t).detach() + 1.01 * t * t - (1.01 * t * t).detach()
    Assert.That((gradcheck off x).Passed, Is.False)
    Assert.That((gradcheckWith { gradCheckDefaults with Rtol = 0.1 } off x).Passed, Is.True)

[<Test>]
let ``empty inputs pass with nothing to compare`` () =
    use x = Tensor.zeros [ 0 ] |> Tensor.toDtype torch.float64
    let report = gradcheck Tensor.sin x
    Assert.That(report.Passed && report.WorstInputIndex = null)
