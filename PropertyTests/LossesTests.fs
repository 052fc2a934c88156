module Functional.PropertyTests.LossesTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Training
open Functional.FSharp

let private reductions = [ Reduction.Mean; Reduction.Sum; Reduction.None ]

let private torchReduction r =
    match r with
    | Reduction.Mean -> torch.nn.Reduction.Mean
    | Reduction.Sum -> torch.nn.Reduction.Sum
    | _ -> torch.nn.Reduction.None

/// Batch size, classes and a seed; kept small so the suite stays fast.
let private cases = Gen.map3 (fun n c s -> n, c, s) (Gen.choose (1, 6)) (Gen.choose (2, 5)) (Gen.choose (0, 10000)) |> Arb.fromGen

let private close (expected: torch.Tensor) (actual: torch.Tensor) =
    expected.shape = actual.shape && actual.allclose(expected, rtol = 1e-5, atol = 1e-6)


[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

[<Property(MaxTest = 25)>]
let ``CrossEntropy with class indices equals torch.nn.functional.cross_entropy`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = torch.randn([| int64 n; int64 c |], generator = g)
        use y = torch.randint(int64 c, [| int64 n |], generator = g)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.crossEntropyWith r) x y
            use theirs = torch.nn.functional.cross_entropy(x, y, reduction = torchReduction r)
            close theirs ours))

[<Property(MaxTest = 25)>]
let ``CrossEntropy with class probabilities equals torch.nn.functional.cross_entropy`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = torch.randn([| int64 n; int64 c |], generator = g)
        use p = torch.rand([| int64 n; int64 c |], generator = g).softmax(1)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.crossEntropyWith r) x p
            use theirs = torch.nn.functional.cross_entropy(x, p, reduction = torchReduction r)
            close theirs ours))

[<Property(MaxTest = 15)>]
let ``CrossEntropy over extra dimensions (N, C, d) equals the oracle`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = torch.randn([| int64 n; int64 c; 3L |], generator = g)
        use y = torch.randint(int64 c, [| int64 n; 3L |], generator = g)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.crossEntropyWith r) x y
            use theirs = torch.nn.functional.cross_entropy(x, y, reduction = torchReduction r)
            close theirs ours))

[<Property(MaxTest = 25)>]
let ``NLL equals torch.nn.functional.nll_loss`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = torch.randn([| int64 n; int64 c |], generator = g).log_softmax(1)
        use y = torch.randint(int64 c, [| int64 n |], generator = g)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.nllWith r) x y
            use theirs = torch.nn.functional.nll_loss(x, y, reduction = torchReduction r)
            close theirs ours))

[<Property(MaxTest = 25)>]
let ``BCEWithLogits equals torch.nn.functional.binary_cross_entropy_with_logits, also for large logits`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        // float64: for logits near ±90 the loss cancels (x - x·y with y near 1), and float32 rounding
        // would differ between any two correct formulas by more than the tolerance.
        use x = torch.randn([| int64 n; int64 c |], dtype = torch.float64, generator = g) * 30.0
        use y = torch.rand([| int64 n; int64 c |], dtype = torch.float64, generator = g)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.bceWithLogitsWith r) x y
            use theirs = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction = torchReduction r)
            close theirs ours && not (ours.isnan().any().item<bool>())))

[<Property(MaxTest = 25)>]
let ``MSE equals torch.nn.functional.mse_loss`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = torch.randn([| int64 n; int64 c |], generator = g)
        use y = torch.randn([| int64 n; int64 c |], generator = g)
        reductions |> List.forall (fun r ->
            use ours = Loss.apply (Loss.mseWith r) x y
            use theirs = torch.nn.functional.mse_loss(x, y, reduction = torchReduction r)
            close theirs ours))

[<Property(MaxTest = 15)>]
let ``CrossEntropy's gradient equals the oracle's`` () =
    Prop.forAll cases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x0 = torch.randn([| int64 n; int64 c |], generator = g)
        use y = torch.randint(int64 c, [| int64 n |], generator = g)
        use x1 = x0.clone().requires_grad_(true)
        use x2 = x0.clone().requires_grad_(true)
        use l1 = Loss.apply Loss.crossEntropy x1 y
        l1.backward()
        use l2 = torch.nn.functional.cross_entropy(x2, y)
        l2.backward()
        close x2.grad x1.grad)

let private scalar (t: torch.Tensor) = use t = t in t.item<float32>() |> float

[<Test>]
let ``Losses on small cases equal the formulas by hand`` () =
    // logits [0, 0] -> p = [1/2, 1/2]; -log(1/2) = ln 2 for either class.
    use x = torch.zeros(2L, 2L)
    use y = torch.tensor([| 0L; 1L |])
    Assert.That(scalar (Loss.apply Loss.crossEntropy x y), equalTo(log 2.0).Within(1e-6))
    Assert.That(scalar (Loss.apply (Loss.crossEntropyWith Reduction.Sum) x y), equalTo(2.0 * log 2.0).Within(1e-6))
    // logits [ln 1, ln 3] -> p = [1/4, 3/4]; class 1 -> -ln(3/4); target probabilities [1/2, 1/2] -> -(ln(1/4) + ln(3/4))/2.
    use x2 = torch.tensor([| 0.0f; float32 (log 3.0) |]).reshape(1L, 2L)
    Assert.That(scalar (Loss.apply Loss.crossEntropy x2 (torch.tensor([| 1L |]))), equalTo(-log 0.75).Within(1e-6))
    Assert.That(scalar (Loss.apply Loss.crossEntropy x2 (torch.tensor([| 0.5f; 0.5f |]).reshape(1L, 2L))),
                equalTo(-(log 0.25 + log 0.75) / 2.0).Within(1e-6))
    // NLL picks -input[class].
    use lp = torch.tensor([| -1.0f; -2.0f; -3.0f; -4.0f |]).reshape(2L, 2L)
    Assert.That(scalar (Loss.apply Loss.nll lp (torch.tensor([| 1L; 0L |]))), equalTo((2.0 + 3.0) / 2.0).Within(1e-6))
    // BCE with logits: x = 0, y = 1 -> ln 2; x = 2, y = 0 -> ln(1 + e^2).
    use bx = torch.tensor([| 0.0f; 2.0f |])
    use by = torch.tensor([| 1.0f; 0.0f |])
    use bce = Loss.apply (Loss.bceWithLogitsWith Reduction.None) bx by
    Assert.That(bce.data<float32>().ToArray() |> Array.map float, equalTo([| log 2.0; log (1.0 + exp 2.0) |]).Within(1e-6))
    // MSE of [1, 2] against [0, 0]: (1 + 4) / 2 mean, 5 sum.
    use mx = torch.tensor([| 1.0f; 2.0f |])
    use mz = torch.zeros(2L)
    Assert.That(scalar (Loss.apply Loss.mse mx mz), equalTo(2.5).Within(1e-6))
    Assert.That(scalar (Loss.apply (Loss.mseWith Reduction.Sum) mx mz), equalTo(5.0).Within(1e-6))

[<Test>]
let ``Mismatched shapes are refused with the shapes in the message`` () =
    use x = torch.zeros(4L, 3L)
    let e = throws<ArgumentException>(fun () -> Loss.apply Loss.crossEntropy x (torch.zeros([| 3L |], torch.int64)) |> ignore)
    contains "[4]" e.Message
    contains "[3]" e.Message
    let e2 = throws<ArgumentException>(fun () -> Loss.apply Loss.mse x (torch.zeros(3L, 4L)) |> ignore)
    contains "[4, 3]" e2.Message
    throws<ArgumentException>(fun () -> Loss.apply Loss.crossEntropy (torch.zeros(3L)) (torch.zeros([| 3L |], torch.int64)) |> ignore) |> ignore
    throws<ArgumentException>(fun () -> Loss.apply Loss.nll x (torch.zeros(4L, 3L)) |> ignore) |> ignore

[<Test>]
let ``A loss does not keep tensors alive`` () =
    use x = torch.randn(8L, 4L)
    use y = torch.randint(4L, [| 8L |])
    use y32 = y.to_type(torch.ScalarType.Int32)      // converted to int64 inside the loss
    use p = x.softmax(1L)
    use lp = x.log_softmax(1L)
    let run () =
        for _ in 1 .. 5 do
            (Loss.apply Loss.crossEntropy x y).Dispose(); (Loss.apply Loss.crossEntropy x y32).Dispose()
            (Loss.apply Loss.crossEntropy x p).Dispose(); (Loss.apply Loss.nll lp y32).Dispose()
            (Loss.apply Loss.bceWithLogits x x).Dispose(); (Loss.apply Loss.mse x x).Dispose()
    use fromInt64 = Loss.apply Loss.crossEntropy x y
    use fromInt32 = Loss.apply Loss.crossEntropy x y32
    Assert.That(same fromInt32 fromInt64, Is.True, "int32 class indices give the int64 result")
    run ()
    let before = Generators.settledTensorCount ()
    run ()
    Assert.That(torch.Tensor.TotalCount, equalTo(before))

// ---- gradcheck and gradgradcheck: autograd's first and second derivatives of every loss, against
// float64 central differences (PyTorch's torch.autograd.gradcheck / gradgradcheck), for every reduction.

/// Batch size, classes and a seed for the gradient checks: at most 5 x 4 inputs, so each check is a
/// few dozen function evaluations.
let private gradCases = Gen.map3 (fun n c s -> n, c, s) (Gen.choose (1, 5)) (Gen.choose (2, 4)) (Gen.choose (0, 10000)) |> Arb.fromGen

/// Runs gradcheck and gradgradcheck of `f` at `x` and returns the reports that failed, named.
let private derivativeFailures (name: string) (f: torch.Tensor -> torch.Tensor) (x: torch.Tensor) =
    [ "gradcheck", gradcheck f x
      "gradgradcheck", gradgradcheck f x ]
    |> List.filter (fun (_, report) -> not report.Passed)
    |> List.map (fun (check, report) -> $"{name} {check}: {report}")

/// Every reduction of a loss, checked with respect to one of its arguments.
let private allReductions (name: string) (check: Reduction -> string list) =
    let failures = reductions |> List.collect (fun r -> check r |> List.map (fun s -> $"{name} ({r}) {s}"))
    failures.IsEmpty |> Prop.label (String.concat "\n" failures)

let private randn64 (shape: int64[]) (g: torch.Generator) = torch.randn(shape, torch.ScalarType.Float64, generator = g)

[<Property(MaxTest = 10)>]
let ``CrossEntropy with class indices passes gradcheck and gradgradcheck`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = randn64 [| int64 n; int64 c |] g
        use y = torch.randint(int64 c, [| int64 n |], generator = g)
        allReductions "CrossEntropy" (fun r -> derivativeFailures "logits" (fun t -> Loss.apply (Loss.crossEntropyWith r) t y) x))

[<Property(MaxTest = 6)>]
let ``CrossEntropy over extra dimensions passes gradcheck and gradgradcheck`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = randn64 [| int64 n; int64 c; 2L |] g
        use y = torch.randint(int64 c, [| int64 n; 2L |], generator = g)
        allReductions "CrossEntropy (N, C, d)" (fun r -> derivativeFailures "logits" (fun t -> Loss.apply (Loss.crossEntropyWith r) t y) x))

[<Property(MaxTest = 10)>]
let ``CrossEntropy with class probabilities passes gradcheck and gradgradcheck in logits and in probabilities`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = randn64 [| int64 n; int64 c |] g
        use p = (randn64 [| int64 n; int64 c |] g).softmax(1L)
        allReductions "CrossEntropy with probabilities" (fun r ->
            let loss = Loss.crossEntropyWith r
            derivativeFailures "logits" (fun t -> Loss.apply loss t p) x
            @ derivativeFailures "probabilities" (fun t -> Loss.apply loss x t) p))

[<Property(MaxTest = 10)>]
let ``NLL passes gradcheck and gradgradcheck`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use logProbabilities = (randn64 [| int64 n; int64 c |] g).log_softmax(1L)
        use y = torch.randint(int64 c, [| int64 n |], generator = g)
        allReductions "NLL" (fun r -> derivativeFailures "log-probabilities" (fun t -> Loss.apply (Loss.nllWith r) t y) logProbabilities))

[<Property(MaxTest = 10)>]
let ``BCEWithLogits passes gradcheck and gradgradcheck in logits and in targets`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        // Logits up to about ±9, kept 0.01 away from 0 where the stable form's pieces (max, |x|) have kinks.
        use raw = randn64 [| int64 n; int64 c |] g * 3.0
        use x = torch.where(raw.abs().lt((0.01).ToScalar()), raw + 0.02, raw)
        use y = torch.rand([| int64 n; int64 c |], torch.ScalarType.Float64, generator = g)
        allReductions "BCEWithLogits" (fun r ->
            let loss = Loss.bceWithLogitsWith r
            derivativeFailures "logits" (fun t -> Loss.apply loss t y) x
            @ derivativeFailures "targets" (fun t -> Loss.apply loss x t) y))

[<Property(MaxTest = 10)>]
let ``MSE passes gradcheck and gradgradcheck in prediction and in target`` () =
    Prop.forAll gradCases (fun (n, c, seed) ->
        use g = new torch.Generator(uint64 seed)
        use x = randn64 [| int64 n; int64 c |] g
        use y = randn64 [| int64 n; int64 c |] g
        allReductions "MSE" (fun r ->
            let loss = Loss.mseWith r
            derivativeFailures "prediction" (fun t -> Loss.apply loss t y) x
            @ derivativeFailures "target" (fun t -> Loss.apply loss x t) y))

[<Test>]
let ``a loss with a wrong derivative fails gradcheck`` () =
    // The check above is only worth something if it can fail: MSE whose backward is halved.
    use x = torch.randn([| 3L; 2L |], torch.ScalarType.Float64)
    use y = torch.zeros([| 3L; 2L |], torch.ScalarType.Float64)
    let halved (t: torch.Tensor) =
        let value = Loss.apply Loss.mse t y
        // value/2 forward-detached plus value/2 differentiable: the same value, half the gradient.
        value.detach() * 0.5 + value * 0.5
    Assert.That((gradcheck halved x).Passed, Is.False)
    Assert.That((gradcheck (fun t -> Loss.apply Loss.mse t y) x).Passed, Is.True)
