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

// ---- PyTorch's options (weight, ignore_index, label_smoothing, pos_weight) and the gradient of
// BCEWithLogits at 0. Oracles: the closed forms of PyTorch's documentation, computed here in float64
// on .NET arrays (independent of LibTorch); ATen's own kernels through torch.nn.functional (the code
// PyTorch runs); float64 central differences (gradcheck).

/// Values of a float64 tensor, row-major.
let private values (t: torch.Tensor) : float[] =
    use c = t.detach().contiguous().to_type(torch.ScalarType.Float64)
    c.data<float>().ToArray()

/// [N, C] or [N, C, d] logits as rows of C (one row per sample and position, in PyTorch's order).
let private rows (x: torch.Tensor) : float[][] =
    let c = int x.shape.[1]
    use moved = x.movedim([| 1L |], [| x.dim() - 1L |])
    values moved |> Array.chunkBySize c

/// log softmax of one row, in float64.
let private logSoftmax (row: float[]) =
    let m = Array.max row
    let z = m + log (row |> Array.sumBy (fun v -> exp (v - m)))
    row |> Array.map (fun v -> v - z)

/// log σ(x), stable for any x.
let private logSigmoid (x: float) = if x >= 0.0 then -(log (1.0 + exp -x)) else x - log (1.0 + exp x)

/// PyTorch's reduction of per-sample losses: none, sum, or the sum over the given denominator.
let private reduceWith (r: Reduction) (denominator: float) (losses: float[]) =
    match r with
    | Reduction.None -> losses
    | Reduction.Sum -> [| Array.sum losses |]
    | _ -> [| Array.sum losses / denominator |]

/// nn.CrossEntropyLoss with class indices, from https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html:
/// l_n = w_{y_n}·(−log p_{n,y_n})·1{y_n ≠ ignore_index}, and with label smoothing ε the target is (1 − ε)·onehot + ε/C,
/// so l_n = [(1 − ε)·(−w_{y_n} log p_{n,y_n}) + ε/C·(−Σ_c w_c log p_{n,c})]·1{y_n ≠ ignore_index};
/// the mean is Σ l_n / Σ_n w_{y_n}·1{y_n ≠ ignore_index} (NaN when every target is ignored: 0/0).
/// NLLLoss (https://pytorch.org/docs/stable/generated/torch.nn.NLLLoss.html) is the same with log p = the input and ε = 0.
let private indexOracle (logProbabilities: float[][]) (targets: int64[]) (weight: float[] option) (ignoreIndex: int64) (smoothing: float) (r: Reduction) =
    let c = logProbabilities.[0].Length
    let w k = match weight with Some w -> w.[k] | None -> 1.0
    let losses, weights =
        Array.zip logProbabilities targets
        |> Array.map (fun (lp, y) ->
            if y = ignoreIndex then 0.0, 0.0
            else
                let k = int y
                let nll = -(w k) * lp.[k]
                let smooth = -(Array.init c (fun j -> w j * lp.[j]) |> Array.sum)
                (1.0 - smoothing) * nll + smoothing / float c * smooth, w k)
        |> Array.unzip
    reduceWith r (Array.sum weights) losses

/// nn.CrossEntropyLoss with class probabilities (same page): l_n = −Σ_c w_c·y'_{n,c}·log p_{n,c}, y' = (1 − ε)·y + ε/C;
/// the mean is over samples (and positions), not weights.
let private probabilityOracle (logProbabilities: float[][]) (targets: float[][]) (weight: float[] option) (smoothing: float) (r: Reduction) =
    let c = logProbabilities.[0].Length
    let w k = match weight with Some w -> w.[k] | None -> 1.0
    Array.zip logProbabilities targets
    |> Array.map (fun (lp, t) -> -(Array.init c (fun j -> w j * ((1.0 - smoothing) * t.[j] + smoothing / float c) * lp.[j]) |> Array.sum))
    |> fun losses -> reduceWith r (float losses.Length) losses

/// nn.BCEWithLogitsLoss, from https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html:
/// l = −w·[p·y·log σ(x) + (1 − y)·log(1 − σ(x))], with log(1 − σ(x)) = log σ(−x); mean over elements.
let private bceOracle (x: float[]) (y: float[]) (w: float[]) (p: float[]) (r: Reduction) =
    Array.init x.Length (fun i -> -w.[i] * (p.[i] * y.[i] * logSigmoid x.[i] + (1.0 - y.[i]) * logSigmoid -x.[i]))
    |> fun losses -> reduceWith r (float losses.Length) losses

/// Equal up to float64 rounding, NaN where the oracle has NaN.
let private near (expected: float[]) (actual: float[]) =
    expected.Length = actual.Length
    && Array.forall2 (fun (e: float) (a: float) -> (Double.IsNaN e && Double.IsNaN a) || abs (e - a) <= 1e-9 * (1.0 + abs e)) expected actual

/// Batch size, classes, an extra dimension (0 for none), a seed, whether to weigh the classes, which
/// class (or none) to ignore, and the label smoothing.
let private optionCases =
    gen {
        let! n = Gen.choose (1, 6)
        let! c = Gen.choose (2, 5)
        let! d = Gen.elements [ 0; 0; 3 ]
        let! seed = Gen.choose (0, 10000)
        let! weighted = Gen.elements [ true; false ]
        let! ignored = Gen.elements [ -100L; -100L; 0L; 1L; -1L ]
        let! smoothing = Gen.elements [ 0.0; 0.0; 0.1; 0.35; 1.0 ]
        return n, c, d, seed, weighted, ignored, smoothing
    } |> Arb.fromGen

/// Logits [N, C] or [N, C, d] (float64), targets [N] or [N, d] with some set to `ignored` when it is a
/// class, and class weights in (0.1, 2.1).
let private classProblem (n: int) (c: int) (d: int) (g: torch.Generator) (ignored: int64) =
    let xShape = if d = 0 then [| int64 n; int64 c |] else [| int64 n; int64 c; int64 d |]
    let yShape = if d = 0 then [| int64 n |] else [| int64 n; int64 d |]
    let x = torch.randn(xShape, torch.ScalarType.Float64, generator = g) * 2.0
    let y = torch.randint(int64 c, yShape, generator = g)
    if ignored >= 0L && ignored < int64 c then
        // About a third of the targets become the ignored index (also when it is a real class).
        use drop = torch.rand(yShape, generator = g).lt((0.33).ToScalar())
        y.masked_fill_(drop, ignored.ToScalar()) |> ignore
    let w = torch.rand([| int64 c |], torch.ScalarType.Float64, generator = g) * 2.0 + 0.1
    x, y, w

[<Property(MaxTest = 40)>]
let ``CrossEntropy with weight, ignoreIndex and labelSmoothing equals PyTorch's formula in every reduction`` () =
    Prop.forAll optionCases (fun (n, c, d, seed, weighted, ignored, smoothing) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w = classProblem n c d g ignored
        use x = x
        use y = y
        use w = w
        let lp = rows x |> Array.map logSoftmax
        let targets = values (y.to_type(torch.ScalarType.Float64)) |> Array.map int64
        let weight = if weighted then Some (values w) else None
        reductions |> List.forall (fun r ->
            let options = { Loss.crossEntropyDefaults with Reduction = r; Weight = (if weighted then Some w else None); IgnoreIndex = ignored; LabelSmoothing = smoothing }
            use ours = Loss.apply (Loss.crossEntropyWithOptions options) x y
            near (indexOracle lp targets weight ignored smoothing r) (values ours)))

[<Property(MaxTest = 40)>]
let ``NLL with weight and ignoreIndex equals PyTorch's formula in every reduction`` () =
    Prop.forAll optionCases (fun (n, c, d, seed, weighted, ignored, _) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w = classProblem n c d g ignored
        use x = x
        use y = y
        use w = w
        use logProbabilities = x.log_softmax(1L)
        let lp = rows logProbabilities
        let targets = values (y.to_type(torch.ScalarType.Float64)) |> Array.map int64
        let weight = if weighted then Some (values w) else None
        reductions |> List.forall (fun r ->
            let options = { Loss.nllDefaults with Reduction = r; Weight = (if weighted then Some w else None); IgnoreIndex = ignored }
            use ours = Loss.apply (Loss.nllWithOptions options) logProbabilities y
            near (indexOracle lp targets weight ignored 0.0 r) (values ours)))

[<Property(MaxTest = 30)>]
let ``NLL after log-softmax equals ATen's cross_entropy with the same weight and ignore_index, in value and gradient`` () =
    // ATen's cross_entropy is log_softmax followed by its nll_loss kernel (TorchSharp's nll_loss has no
    // ignore_index), so NLL ∘ log-softmax must give ATen's numbers and gradients exactly.
    Prop.forAll optionCases (fun (n, c, d, seed, weighted, ignored, _) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w = classProblem n c d g ignored
        use x = x
        use y = y
        use w = w
        let weight = if weighted then w else null
        reductions |> List.forall (fun r ->
            use x1 = x.clone().requires_grad_(true)
            use x2 = x.clone().requires_grad_(true)
            use lp = x1.log_softmax(1L)
            use ours = Loss.apply (Loss.nllWithOptions { Loss.nllDefaults with Reduction = r; Weight = Option.ofObj weight; IgnoreIndex = ignored }) lp y
            use theirs = torch.nn.functional.cross_entropy(x2, y, weight, ignored, torchReduction r)
            use s1 = ours.sum()
            use s2 = theirs.sum()
            s1.backward()
            s2.backward()
            near (values theirs) (values ours) && near (values x2.grad) (values x1.grad)))

[<Property(MaxTest = 30)>]
let ``CrossEntropy with class probabilities, weight and labelSmoothing equals PyTorch's formula and ATen`` () =
    Prop.forAll optionCases (fun (n, c, d, seed, weighted, _, smoothing) ->
        use g = new torch.Generator(uint64 seed)
        let x, _, w = classProblem n c d g -100L
        use x = x
        use w = w
        use p = (torch.randn(x.shape, torch.ScalarType.Float64, generator = g)).softmax(1L)
        let lp = rows x |> Array.map logSoftmax
        let weight = if weighted then Some (values w) else None
        reductions |> List.forall (fun r ->
            let loss = Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Reduction = r; Weight = (if weighted then Some w else None); LabelSmoothing = smoothing }
            use ours = Loss.apply loss x p
            use theirs = torch.nn.functional.cross_entropy(x, p, (if weighted then w else null), -100L, torchReduction r, smoothing)
            near (probabilityOracle lp (rows p) weight smoothing r) (values ours) && near (values theirs) (values ours)))

[<Property(MaxTest = 20)>]
let ``CrossEntropy and NLL with every option pass gradcheck and gradgradcheck`` () =
    Prop.forAll optionCases (fun (n, c, d, seed, weighted, ignored, smoothing) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w = classProblem (min n 4) (min c 4) (min d 2) g ignored
        use x = x
        use y = y
        use w = w
        use p = (torch.randn(x.shape, torch.ScalarType.Float64, generator = g)).softmax(1L)
        let weight = if weighted then Some w else None
        allReductions "CrossEntropy and NLL with options" (fun r ->
            let ce = Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Reduction = r; Weight = weight; IgnoreIndex = ignored; LabelSmoothing = smoothing }
            let probabilities = Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Reduction = r; Weight = weight; LabelSmoothing = smoothing }
            let nll = Loss.nllWithOptions { Loss.nllDefaults with Reduction = r; Weight = weight; IgnoreIndex = ignored }
            use lp = x.log_softmax(1L)
            // An all-ignored mean is NaN in value and gradient (as in PyTorch): nothing for gradcheck to compare.
            let allIgnored = (use e = y.eq(ignored.ToScalar()) in use a = e.all() in a.item<bool>())
            (if allIgnored && r = Reduction.Mean then []
             else derivativeFailures "CE logits" (fun t -> Loss.apply ce t y) x @ derivativeFailures "NLL log-probabilities" (fun t -> Loss.apply nll t y) lp)
            @ derivativeFailures "CE probabilities (logits)" (fun t -> Loss.apply probabilities t p) x
            @ derivativeFailures "CE probabilities (targets)" (fun t -> Loss.apply probabilities x t) p))

[<Test>]
let ``When every target is ignored the mean is NaN, the sum 0 and each loss 0, as ATen gives`` () =
    use x = torch.randn([| 3L; 4L |], torch.ScalarType.Float64)
    use y = torch.full([| 3L |], (-100L).ToScalar(), torch.ScalarType.Int64)
    use lp = x.log_softmax(1L)
    // ATen's answer, from the kernel PyTorch runs.
    use aten = torch.nn.functional.cross_entropy(x, y)
    Assert.That(Double.IsNaN(aten.item<float>()), Is.True, "ATen's mean over no target")
    for loss, input in [ Loss.crossEntropy, x; Loss.nll, lp ] do
        use mean = Loss.apply loss input y
        Assert.That(Double.IsNaN(mean.item<float>()), Is.True)
    for loss, input in [ Loss.crossEntropyWith Reduction.Sum, x; Loss.nllWith Reduction.Sum, lp ] do
        use sum = Loss.apply loss input y
        Assert.That(sum.item<float>(), equalTo 0.0)
    use none = Loss.apply (Loss.nllWith Reduction.None) lp y
    Assert.That(values none, equalTo [| 0.0; 0.0; 0.0 |])

[<Test>]
let ``NLL ignores PyTorch's default index -100, which used to throw`` () =
    // nn.NLLLoss()(input, target) with target [1, -100, 0]: (−x[0,1] − x[2,0]) / 2.
    use lp = torch.tensor([| -1.0; -2.0; -3.0; -4.0; -5.0; -6.0 |], torch.ScalarType.Float64).reshape(3L, 2L)
    use y = torch.tensor([| 1L; -100L; 0L |])
    use mean = Loss.apply Loss.nll lp y
    Assert.That(mean.item<float>(), equalTo((2.0 + 5.0) / 2.0).Within(1e-12))
    use none = Loss.apply (Loss.nllWith Reduction.None) lp y
    Assert.That(values none, equalTo [| 2.0; 0.0; 5.0 |])
    // With weights [0.5, 3]: (3·2 + 0.5·5) / (3 + 0.5).
    use w = torch.tensor([| 0.5; 3.0 |], torch.ScalarType.Float64)
    use weighted = Loss.apply (Loss.nllWithOptions { Loss.nllDefaults with Weight = Some w }) lp y
    Assert.That(weighted.item<float>(), equalTo((3.0 * 2.0 + 0.5 * 5.0) / 3.5).Within(1e-12))
    // A class index that is neither a class nor ignored is refused by name.
    let e = throws<ArgumentException>(fun () -> Loss.apply Loss.nll lp (torch.tensor([| 1L; 7L; 0L |])) |> ignore)
    contains "7" e.Message

let private bceCases =
    gen {
        let! n = Gen.choose (1, 5)
        let! c = Gen.choose (1, 4)
        let! seed = Gen.choose (0, 10000)
        let! weighted = Gen.elements [ true; false ]
        let! positive = Gen.elements [ true; false ]
        return n, c, seed, weighted, positive
    } |> Arb.fromGen

/// Logits with about a quarter of them exactly 0, targets in [0, 1], a weight [N, C] and a positive weight [C].
let private bceProblem (n: int) (c: int) (g: torch.Generator) =
    let shape = [| int64 n; int64 c |]
    use raw = torch.randn(shape, torch.ScalarType.Float64, generator = g) * 4.0
    use zero = torch.rand(shape, generator = g).lt((0.25).ToScalar())
    let x = raw.masked_fill(zero, (0.0).ToScalar())
    let y = torch.rand(shape, torch.ScalarType.Float64, generator = g)
    let w = torch.rand(shape, torch.ScalarType.Float64, generator = g) * 2.0
    let p = torch.rand([| int64 c |], torch.ScalarType.Float64, generator = g) * 3.0 + 0.1
    x, y, w, p

[<Property(MaxTest = 40)>]
let ``BCEWithLogits with weight and positiveWeight equals PyTorch's formula and ATen, in value and gradient`` () =
    Prop.forAll bceCases (fun (n, c, seed, weighted, positive) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w, p = bceProblem n c g
        use x = x
        use y = y
        use w = w
        use p = p
        let count = n * c
        let wValues = if weighted then values w else Array.create count 1.0
        let pValues = if positive then (use e = p.expand(x.shape) in values e) else Array.create count 1.0
        reductions |> List.forall (fun r ->
            let loss = Loss.bceWithLogitsWithOptions { Reduction = r; Weight = (if weighted then Some w else None); PositiveWeight = (if positive then Some p else None) }
            use x1 = x.clone().requires_grad_(true)
            use x2 = x.clone().requires_grad_(true)
            use ours = Loss.apply loss x1 y
            use theirs = torch.nn.functional.binary_cross_entropy_with_logits(x2, y, (if weighted then w else null), torchReduction r, (if positive then p else null))
            use s1 = ours.sum()
            use s2 = theirs.sum()
            s1.backward()
            s2.backward()
            near (bceOracle (values x) (values y) wValues pValues r) (values ours)
            && near (values theirs) (values ours)
            && near (values x2.grad) (values x1.grad)))

[<Test>]
let ``BCEWithLogits' gradient at a logit of exactly 0 is sigmoid(0) - y`` () =
    // d/dx of the loss is σ(x) − y (https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html),
    // 0.5 − y at x = 0; the former max(x, 0) + log1p(exp(−|x|)) form gave 1 − y there.
    use y = torch.tensor([| 0.0; 0.25; 1.0; 0.5 |], torch.ScalarType.Float64)
    for r, scale in [ Reduction.Sum, 1.0; Reduction.Mean, 0.25 ] do
        use x = torch.zeros([| 4L |], torch.ScalarType.Float64).requires_grad_(true)
        use l = Loss.apply (Loss.bceWithLogitsWith r) x y
        l.backward()
        Assert.That(values x.grad, equalTo([| 0.5; 0.25; -0.5; 0.0 |] |> Array.map ((*) scale)).Within(1e-15), $"{r}")
    // With a positive weight p: σ(x)·(1 + (p − 1)·y) − p·y, at 0: 0.5·(1 + (p − 1)·y) − p·y.
    use x = torch.zeros([| 4L |], torch.ScalarType.Float64).requires_grad_(true)
    use p = torch.tensor([| 2.0 |], torch.ScalarType.Float64)
    use l = Loss.apply (Loss.bceWithLogitsWithOptions { Loss.bceWithLogitsDefaults with Reduction = Reduction.Sum; PositiveWeight = Some p }) x y
    l.backward()
    let expected = values y |> Array.map (fun yi -> 0.5 * (1.0 + yi) - 2.0 * yi)
    Assert.That(values x.grad, equalTo(expected).Within(1e-15))

[<Property(MaxTest = 15)>]
let ``BCEWithLogits passes gradcheck and gradgradcheck at logits that include exact zeros`` () =
    Prop.forAll bceCases (fun (n, c, seed, weighted, positive) ->
        use g = new torch.Generator(uint64 seed)
        let x, y, w, p = bceProblem n c g
        use x = x
        use y = y
        use w = w
        use p = p
        allReductions "BCEWithLogits with options" (fun r ->
            let loss = Loss.bceWithLogitsWithOptions { Reduction = r; Weight = (if weighted then Some w else None); PositiveWeight = (if positive then Some p else None) }
            derivativeFailures "logits" (fun t -> Loss.apply loss t y) x
            @ derivativeFailures "targets" (fun t -> Loss.apply loss x t) y))

[<Test>]
let ``Options that cannot fit are refused with what was expected`` () =
    use x = torch.randn(4L, 3L)
    use y = torch.tensor([| 0L; 1L; 2L; 0L |])
    use w2 = torch.ones(2L)
    let e = throws<ArgumentException>(fun () -> Loss.apply (Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Weight = Some w2 }) x y |> ignore)
    contains "[3]" e.Message
    throws<ArgumentOutOfRangeException>(fun () -> Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with LabelSmoothing = 1.5 } |> ignore) |> ignore
    use p = x.softmax(1L)
    throws<ArgumentException>(fun () -> Loss.apply (Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with IgnoreIndex = 0L }) x p |> ignore) |> ignore
    use pw = torch.ones(5L)
    throws<ArgumentException>(fun () -> Loss.apply (Loss.bceWithLogitsWithOptions { Loss.bceWithLogitsDefaults with PositiveWeight = Some pw }) x x |> ignore) |> ignore
    use wi = torch.ones([| 3L |], torch.ScalarType.Int64)
    throws<ArgumentException>(fun () -> Loss.nllWithOptions { Loss.nllDefaults with Weight = Some wi } |> ignore) |> ignore

[<Test>]
let ``Fixed inputs give PyTorch's numbers, kept as data`` () =
    // Computed once (2026-12-03) with ATen, the kernels PyTorch runs (LibTorch 2.10 in TorchSharp 0.107), as
    //   F.cross_entropy(x, y, weight=w, ignore_index=-100, reduction=r, label_smoothing=0.1)
    //   F.cross_entropy(x, y1, weight=w, ignore_index=1, reduction=r)   (= F.nll_loss(F.log_softmax(x, 1), y1, w, ignore_index=1))
    //   F.binary_cross_entropy_with_logits(x, t, weight=bw, reduction=r, pos_weight=pw)
    // and equal to the float64 formulas of the documentation above. PyTorch itself is not installed here.
    let x = torch.tensor([| 1.0; -0.5; 2.0; 0.0; 0.3; -1.2; 0.7; 0.7; -0.1; 2.5; -2.0; 0.4 |], torch.ScalarType.Float64).reshape(4L, 3L)
    use y = torch.tensor([| 2L; 0L; -100L; 1L |])
    use y1 = torch.tensor([| 2L; 0L; 1L; 1L |])
    use w = torch.tensor([| 0.2; 1.0; 3.0 |], torch.ScalarType.Float64)
    use t = torch.tensor([| 1.0; 0.0; 0.25; 0.5; 1.0; 0.0; 0.9; 0.1; 0.0; 1.0; 0.3; 0.6 |], torch.ScalarType.Float64).reshape(4L, 3L)
    use bw = torch.tensor([| 1.0; 0.5; 2.0; 1.0; 1.0; 0.0; 3.0; 1.0; 1.0; 0.5; 0.5; 0.5 |], torch.ScalarType.Float64).reshape(4L, 3L)
    use pw = torch.tensor([| 2.0; 0.5; 1.5 |], torch.ScalarType.Float64)
    use x = x
    use lp = x.log_softmax(1L)
    let expected =
        [ Reduction.Mean, [| 1.4541761171393759 |], [| 0.40925265029400504 |], [| 0.8606605186045847 |]
          Reduction.Sum, [| 6.1075396919853793 |], [| 1.3096084809408162 |], [| 10.327926223255016 |]
          Reduction.None, [| 1.1451708504616194; 0.42198621661242802; 0.0; 4.5403826249113326 |],
                          [| 1.1146170955580486; 0.19499138538276753; 0.0; 0.0 |],
                          [| 0.62652337503644573; 0.23703849209005334; 3.285588024846688; 1.0397207708399179; 0.27717762223426357; 0.0
                             2.5081604786471097; 1.0130267464411851; 0.64439666007357088; 0.078889734292549626; 0.20394440469326336; 0.41345991405996924 |] ]
    for r, ce, nll, bce in expected do
        use ours = Loss.apply (Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Reduction = r; Weight = Some w; LabelSmoothing = 0.1 }) x y
        use oursNll = Loss.apply (Loss.nllWithOptions { Reduction = r; Weight = Some w; IgnoreIndex = 1L }) lp y1
        use oursBce = Loss.apply (Loss.bceWithLogitsWithOptions { Reduction = r; Weight = Some bw; PositiveWeight = Some pw }) x t
        Assert.That(values ours, equalTo(ce).Within(1e-12), $"CrossEntropy {r}")
        Assert.That(values oursNll, equalTo(nll).Within(1e-12), $"NLL {r}")
        Assert.That(values oursBce, equalTo(bce).Within(1e-12), $"BCEWithLogits {r}")
        Assert.That(near ce (indexOracle (rows x |> Array.map logSoftmax) [| 2L; 0L; -100L; 1L |] (Some [| 0.2; 1.0; 3.0 |]) -100L 0.1 r), Is.True, "the documented formula gives the same numbers")

[<Test>]
let ``Losses with options do not keep tensors alive`` () =
    use x = torch.randn(8L, 4L)
    use y = torch.randint(4L, [| 8L |])
    y[0] <- torch.tensor(-100L)
    use w64 = torch.rand([| 4L |], torch.ScalarType.Float64)     // converted to the prediction's dtype at each call
    use p = x.softmax(1L)
    use lp = x.log_softmax(1L)
    use pw = torch.rand([| 4L |])
    let ce = Loss.crossEntropyWithOptions { Loss.crossEntropyDefaults with Weight = Some w64; LabelSmoothing = 0.2 }
    let nll = Loss.nllWithOptions { Loss.nllDefaults with Weight = Some w64 }
    let bce = Loss.bceWithLogitsWithOptions { Loss.bceWithLogitsDefaults with Weight = Some x; PositiveWeight = Some pw }
    let run () =
        for _ in 1 .. 5 do
            (Loss.apply ce x y).Dispose(); (Loss.apply ce x p).Dispose()
            (Loss.apply nll lp y).Dispose(); (Loss.apply bce x p).Dispose()
    run ()
    let before = Generators.settledTensorCount ()
    run ()
    Assert.That(torch.Tensor.TotalCount, equalTo(before))
    Assert.That(w64.dtype, equalTo(torch.ScalarType.Float64), "the caller's weight is not converted in place")
