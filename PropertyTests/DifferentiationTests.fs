/// Differentiation.fs: grad, gradv, diff, jacobian, hessian, jvp, vjp, their f-forms, nesting, memory.
module Functional.PropertyTests.DifferentiationTests

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

let values (t: torch.Tensor) = Tensor.toArray<float> t
let close (tol: float) (a: float[]) (b: float[]) =
    a.Length = b.Length && Array.forall2 (fun (x: float) y -> abs (x - y) <= tol * (1.0 + abs y)) a b

/// Test functions R^n -> R^m written with the DSL, with the same function on doubles for MathNet.
let vectorFunctions : (string * (torch.Tensor -> torch.Tensor) * (float[] -> float[])) list =
    [ "sin(x) * x", (fun x -> Tensor.mul (Tensor.sin x) x), (fun x -> x |> Array.map (fun v -> sin v * v))
      "exp(x) + cumulative", (fun x -> Tensor.add (Tensor.exp x) (x.cumsum(0L))), (fun x -> Array.init x.Length (fun i -> exp x.[i] + Array.sum x.[.. i]))
      "tanh(x) · x", (fun x -> (Tensor.dot (Tensor.tanh x) x).reshape(1L)), (fun x -> [| Array.fold2 (fun s a b -> s + tanh a * b) 0.0 x x |])
      "outer row sums", (fun x -> Tensor.sumDim 1 (x.outer(Tensor.sigmoid x))), (fun x -> x |> Array.map (fun a -> a * Array.sumBy (fun b -> 1.0 / (1.0 + exp -b)) x)) ]

/// Scalar test functions R^n -> R.
let scalarFunctions : (string * (torch.Tensor -> torch.Tensor) * (float[] -> float)) list =
    [ "sum x^3", (fun x -> (x * x * x).sum()), (fun x -> Array.sumBy (fun v -> v * v * v) x)
      "log(1 + |x|^2) * sin x0", (fun x -> Tensor.mul (Tensor.log (1.0 + (x * x).sum())) (Tensor.sin x.[0])), (fun x -> log (1.0 + Array.sumBy (fun v -> v * v) x) * sin x.[0])
      "softplus dot", (fun x -> (Tensor.softplus x * x.flip(0L)).sum()), (fun x -> Array.fold2 (fun s a b -> s + log (1.0 + exp a) * b) 0.0 x (Array.rev x)) ]

let vectorInput = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.arrayOfLength n smallValues)

[<Test>]
let ``grad, gradv, diff, jacobian, hessian, jvp, vjp by hand`` () =
    use x = tensorOf torch.float64 [ 1.0; 2.0; 3.0 ]
    let cube (t: torch.Tensor) = (t * t * t).sum()
    use g = grad cube x
    equal ([| 3.0; 12.0; 27.0 |]) (values g)
    use v = tensorOf torch.float64 [ 1.0; 0.0; -1.0 ]
    use gv = gradv cube x v
    equal (3.0 - 27.0) (Tensor.item<float> gv)
    use x0 = tensorOf torch.float64 2.0
    use d = diff (fun t -> t * t * t) x0
    equal (12.0) (Tensor.item<float> d)
    use j = jacobian (fun t -> t * t) x
    equal ([| 2.0; 0.0; 0.0; 0.0; 4.0; 0.0; 0.0; 0.0; 6.0 |]) (values j)
    use h = hessian cube x
    equal ([| 6.0; 0.0; 0.0; 0.0; 12.0; 0.0; 0.0; 0.0; 18.0 |]) (values h)
    use jv = jvp (fun t -> t * t) x v
    equal ([| 2.0; 0.0; -6.0 |]) (values jv)
    use vj = vjp (fun t -> t * t) x v
    equal ([| 2.0; 0.0; -6.0 |]) (values vj)
    let fx, fg = fgrad cube x
    use fx = fx
    use fg = fg
    equal ((36.0, [| 3.0; 12.0; 27.0 |])) ((Tensor.item<float> fx, values fg))
    let hx, hh = fhessian cube x
    use hx = hx
    use hh = hh
    equal (36.0) (Tensor.item<float> hx)
    for f in [ fgradv cube x v; fdiff (fun t -> t * t) x0; fjacobian (fun t -> t * t) x; fjvp (fun t -> t * t) x v; fvjp (fun t -> t * t) x v ] do
        let value, derivative = f
        Assert.That(value.requires_grad || derivative.requires_grad, Is.False)
        value.Dispose()
        derivative.Dispose()
    Assert.That(x.requires_grad, Is.False)

[<Test>]
let ``argument mistakes are explained`` () =
    use x = tensorOf torch.float64 [ 1.0; 2.0 ]
    let e = throws<ArgumentException> (fun () -> grad (fun t -> t * 2.0) x |> ignore)
    contains "[2]" e.Message
    let e = throws<ArgumentException> (fun () -> diff (fun t -> t) x |> ignore)
    contains "[2]" e.Message
    use wrong = tensorOf torch.float64 [ 1.0; 2.0; 3.0 ]
    let e = throws<ArgumentException> (fun () -> jvp (fun t -> t) x wrong |> ignore)
    contains "[3]" e.Message
    contains "[2]" e.Message
    use ints = tensor [ 1; 2 ]
    let e = throws<ArgumentException> (fun () -> grad (fun t -> t.sum()) ints |> ignore)
    contains "torch.int64" e.Message
    use y = tensorOf torch.float64 [ 1.0; 2.0; 3.0 ]
    let e = throws<ArgumentException> (fun () -> vjp (fun t -> t * 2.0) x y |> ignore)
    contains "[3]" e.Message
    contains "[2]" e.Message

[<Property(MaxTest = 40)>]
let ``perturbation confusion: d/dx (x * d/dy (x + y)) = 1 at any x`` () =
    Prop.forAll (Arb.fromGen smallValues) (fun at ->
        use x0 = tensorOf torch.float64 at
        use atY = diff (fun x -> x * diff (fun y -> x + y) x) x0
        use one = tensorOf torch.float64 1.0
        use atOne = diff (fun x -> x * diff (fun y -> x + y) one) x0
        Tensor.item<float> atY = 1.0 && Tensor.item<float> atOne = 1.0)

[<Property(MaxTest = 30)>]
let ``nested derivatives: d/dx of a derivative taken inside`` () =
    Prop.forAll (Arb.fromGen smallValues) (fun at ->
        use x0 = tensorOf torch.float64 at
        // d/dx [ d/dy (x * y^2) at y = x ] = d/dx (2 x^2) = 4x
        use d1 = diff (fun x -> diff (fun y -> x * y * y) x) x0
        // second derivative of sin by nesting diff: -sin x
        use d2 = diff (diff Tensor.sin) x0
        // hessian equals the jacobian of the gradient
        use v = tensorOf torch.float64 [ at; 0.5 ]
        let f (t: torch.Tensor) = (Tensor.exp t * t.flip(0L)).sum()
        use h = hessian f v
        use jg = jacobian (grad f) v
        abs (Tensor.item<float> d1 - 4.0 * at) < 1e-12
        && abs (Tensor.item<float> d2 + sin at) < 1e-12
        && close 1e-12 (values h) (values jg))

[<Property(MaxTest = 25)>]
let ``jacobian agrees with MathNet's numerical Jacobian`` () =
    Prop.forAll (Arb.fromGen vectorInput) (fun input ->
        vectorFunctions |> List.forall (fun (name, f, reference) ->
            use x = tensorOf torch.float64 input
            use j = jacobian f x
            let m = (reference input).Length
            let rows = Array.init m (fun i -> Func<float[], float>(fun p -> (reference p).[i]))
            let numeric = MathNet.Numerics.Differentiation.NumericalJacobian().Evaluate(rows, input)
            let expected = Array.init (m * input.Length) (fun k -> numeric.[k / input.Length, k % input.Length])
            j.shape = [| int64 m; int64 input.Length |] && close 1e-5 (values j) expected
            || (printfn "%s at %A: %A vs %A" name input (values j) expected; false)))

[<Property(MaxTest = 25)>]
let ``hessian agrees with MathNet's numerical Hessian`` () =
    Prop.forAll (Arb.fromGen vectorInput) (fun input ->
        scalarFunctions |> List.forall (fun (name, f, reference) ->
            use x = tensorOf torch.float64 input
            use h = hessian f x
            let numeric = MathNet.Numerics.Differentiation.NumericalHessian().Evaluate(Func<float[], float> reference, input)
            let n = input.Length
            let expected = Array.init (n * n) (fun k -> numeric.[k / n, k % n])
            close 1e-4 (values h) expected || (printfn "%s at %A: %A vs %A" name input (values h) expected; false)))

[<Property(MaxTest = 40)>]
let ``jvp and vjp are consistent: <vjp u, v> = <u, jvp v>`` () =
    let g = gen {
        let! x = vectorInput
        let! v = Gen.arrayOfLength x.Length smallValues
        let! k = Gen.choose (0, vectorFunctions.Length - 1)
        let _, _, reference = vectorFunctions.[k]
        let! u = Gen.arrayOfLength (reference x).Length smallValues
        return x, v, u, k }
    Prop.forAll (Arb.fromGen g) (fun (x, v, u, k) ->
        let _, f, _ = vectorFunctions.[k]
        use tx = tensorOf torch.float64 x
        use tv = tensorOf torch.float64 v
        use tu = tensorOf torch.float64 u
        use jv = jvp f tx tv
        use uj = vjp f tx tu
        use left = Tensor.dot uj tv
        use right = Tensor.dot tu jv
        abs (Tensor.item<float> left - Tensor.item<float> right) <= 1e-10 * (1.0 + abs (Tensor.item<float> right)))

[<Test>]
let ``AD functions do not leak tensors over 1000 calls`` () =
    use x = tensorOf torch.float64 [ 0.5; -1.0 ]
    use v = tensorOf torch.float64 [ 1.0; 2.0 ]
    use x0 = tensorOf torch.float64 0.5
    let f (t: torch.Tensor) = (Tensor.sin t * t).sum()
    let g (t: torch.Tensor) = Tensor.tanh t * 2.0
    let both (a: torch.Tensor, b: torch.Tensor) = [ a; b ]
    // Every AD function of the DSL, the f-forms and a nested call, each called 1,000 times below.
    let adCalls : (unit -> torch.Tensor list) list =
        [ (fun () -> [ grad f x ]); (fun () -> [ gradv f x v ]); (fun () -> [ diff Tensor.sin x0 ])
          (fun () -> [ jacobian g x ]); (fun () -> [ hessian f x ]); (fun () -> [ jvp g x v ]); (fun () -> [ vjp g x v ])
          (fun () -> both (fgrad f x)); (fun () -> both (fgradv f x v)); (fun () -> both (fdiff Tensor.sin x0))
          (fun () -> both (fjacobian g x)); (fun () -> both (fhessian f x)); (fun () -> both (fjvp g x v)); (fun () -> both (fvjp g x v))
          (fun () -> [ diff (fun y -> y * diff (fun z -> y + z) y) x0 ]) ]
    // The DSL's tensor combinators, host-memory calls and gradient checks, with the results disposed by the caller.
    let otherCalls : (unit -> torch.Tensor list) list =
        [ (fun () -> [ Tensor.cat 0 [ x; v ]; Tensor.stack 1 [ x; v ]; Tensor.matmul x v; Tensor.add x v; Tensor.zerosLike x ])
          (fun () -> Tensor.format x |> ignore; Tensor.item<float> x0 |> ignore; Tensor.toArray<float> x |> ignore; [])
          (fun () -> gradcheck Tensor.sin x |> ignore; gradgradcheck (fun t -> (Tensor.sin t).sum()) x |> ignore; []) ]
    let run (calls: (unit -> torch.Tensor list) list) = for c in calls do for t in c () do t.Dispose()
    run adCalls
    run otherCalls
    let before = Generators.settledTensorCount ()
    // The counter sees an undisposed tensor (else this test could not fail).
    let leaked = x * 2.0
    Assert.That(torch.Tensor.TotalCount, Is.EqualTo(before + 1L))
    leaked.Dispose()
    for _ in 1 .. 1000 do run adCalls     // 15 AD calls x 1,000
    for _ in 1 .. 100 do run otherCalls   // 3 x 100
    // Equal, not just at most: a call that disposed its caller's x or v would lower the count.
    Assert.That(torch.Tensor.TotalCount, Is.EqualTo before)
