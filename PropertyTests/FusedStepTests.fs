/// The fused training step (Core.CSharp/Training/FusedStep.cs, Optim/FusedUpdate.cs) against its
/// oracle, the autograd step: the model's forward, the library's loss, backward and Optimizer.Step on
/// an identical copy of the model, step by step.
module Functional.PropertyTests.FusedStepTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Layers
open Functional.Optim
open Functional.Training

type private Tensor = torch.Tensor
type private Generator = torch.Generator
type private ScalarType = torch.ScalarType

[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

/// A model written by a user: its forward is code, which the fused step does not try to follow.
type UserModel() as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("UserModel")
    let linear = torch.nn.Linear(4L, 3L)
    do this.register_module("linear", linear)
    override _.forward(x) = linear.forward(x).relu()

type Elementwise =
    | ReLU
    | Sigmoid
    | Tanh
    | Dropout of float

type OptimizerCase =
    | Sgd of learningRate: float * momentum: float * dampening: float * weightDecay: float * nesterov: bool
    | Adam of learningRate: float * beta1: float * beta2: float * eps: float * weightDecay: float * amsgrad: bool
    | AdamW of learningRate: float * beta1: float * beta2: float * eps: float * weightDecay: float * amsgrad: bool
    /// A link the fused update does not fuse: it runs its own update.
    | ClippedSgd of learningRate: float * momentum: float

type Case =
    { Seed: int
      /// Input [N, 2, InFeatures/2] and a Flatten first, or [N, InFeatures] and none.
      Flatten: bool
      InFeatures: int
      /// Element-wise layers applied to the input, before the first Linear.
      Prefix: Elementwise list
      /// Hidden Linear layers: width, bias, the element-wise layers after it.
      Hidden: (int * bool * Elementwise list) list
      /// Hidden blocks wrapped in nested Sequentials.
      Nested: bool
      Classes: int
      LastBias: bool
      /// Element-wise layers after the last Linear (on the logits).
      Tail: Elementwise list
      Batches: int list
      Double: bool
      Probabilities: bool
      Sum: bool
      Optimizer: OptimizerCase
      /// The activations' layout of the first step; with SwitchLayout, the other one at each next step.
      Layout: FusedLayout
      SwitchLayout: bool }

let private elementwise : Gen<Elementwise> =
    Gen.frequency [ 3, Gen.constant ReLU; 1, Gen.constant Sigmoid; 1, Gen.constant Tanh
                    2, Gen.elements [ Dropout 0.0; Dropout 0.25; Dropout 0.5 ] ]

let private optimizerCase : Gen<OptimizerCase> =
    gen {
        let! kind = Gen.choose (0, 4)
        let! lr = Gen.elements [ 0.5; 0.1; 0.01 ]
        let! decay = Gen.elements [ 0.0; 0.0; 0.01; 0.1 ]
        let! b1 = Gen.elements [ 0.9; 0.5; 0.0 ]
        let! b2 = Gen.elements [ 0.999; 0.9 ]
        let! eps = Gen.elements [ 1e-8; 1e-3 ]
        let! amsgrad = Gen.elements [ false; false; true ]
        let! momentum = Gen.elements [ 0.0; 0.9; 0.5 ]
        let! nesterov = Gen.elements [ false; true ]
        let! dampening = Gen.elements [ 0.0; 0.2 ]
        return
            match kind with
            | 0 | 1 ->
                let nesterov = nesterov && momentum > 0.0
                Sgd(lr, momentum, (if nesterov then 0.0 else dampening), decay, nesterov)
            | 2 -> Adam(lr / 10.0, b1, b2, eps, decay, amsgrad)
            | 3 -> AdamW(lr / 10.0, b1, b2, eps, decay, amsgrad)
            | _ -> ClippedSgd(lr, momentum)
    }

let private cases : Gen<Case> =
    gen {
        let! seed = Gen.choose (0, 100000)
        let! flatten = Gen.elements [ true; false ]
        let! half = Gen.choose (1, 5)
        let! prefix = Gen.frequency [ 3, Gen.constant []; 1, Gen.listOfLength 1 elementwise ]
        let! depth = Gen.choose (0, 3)
        let hidden =
            gen {
                let! width = Gen.choose (1, 9)
                let! bias = Gen.frequency [ 3, Gen.constant true; 1, Gen.constant false ]
                let! count = Gen.frequency [ 1, Gen.constant 0; 4, Gen.constant 1; 2, Gen.constant 2 ]
                let! layers = Gen.listOfLength count elementwise
                return width, bias, layers
            }
        let! hidden = Gen.listOfLength depth hidden
        let! nested = Gen.elements [ false; true ]
        let! classes = Gen.choose (2, 6)
        let! lastBias = Gen.frequency [ 3, Gen.constant true; 1, Gen.constant false ]
        let! tail = Gen.frequency [ 5, Gen.constant []; 1, Gen.listOfLength 1 elementwise ]
        let! steps = Gen.choose (1, 4)
        let! full = Gen.choose (1, 8)
        let! last = Gen.choose (1, full)
        let batches = List.init steps (fun i -> if i = steps - 1 then last else full)
        let! isDouble = Gen.elements [ true; false ]
        let! probabilities = Gen.frequency [ 4, Gen.constant false; 1, Gen.constant true ]
        let! sum = Gen.frequency [ 4, Gen.constant false; 1, Gen.constant true ]
        let! optimizer = optimizerCase
        let! layout = Gen.elements [ FusedLayout.RowMajor; FusedLayout.FeatureMajor ]
        let! switchLayout = Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ]
        return
            { Seed = seed; Flatten = flatten; InFeatures = 2 * half; Prefix = prefix; Hidden = hidden; Nested = nested
              Classes = classes; LastBias = lastBias; Tail = tail; Batches = batches; Double = isDouble
              Probabilities = probabilities; Sum = sum; Optimizer = optimizer; Layout = layout; SwitchLayout = switchLayout }
    }

let private dtypeOf (c: Case) = if c.Double then ScalarType.Float64 else ScalarType.Float32

let private moduleOf (e: Elementwise) : torch.nn.Module<Tensor, Tensor> =
    match e with
    | ReLU -> torch.nn.ReLU()
    | Sigmoid -> torch.nn.Sigmoid()
    | Tanh -> torch.nn.Tanh()
    | Dropout p -> torch.nn.Dropout(p)

/// The case's model, its weights drawn from a generator seeded with the case's seed: two calls give two
/// equal, independent models.
let private build (c: Case) : torch.nn.Module<Tensor, Tensor> =
    use g = new Generator(uint64 c.Seed)
    let dtype = dtypeOf c
    let linear (inF: int) (outF: int) bias =
        let l = torch.nn.Linear(int64 inF, int64 outF, hasBias = bias, dtype = dtype)
        use _ = torch.no_grad ()
        let bound = 1.0 / sqrt (float inF)
        l.weight.uniform_(-bound, bound, g) |> ignore
        if bias then l.bias.uniform_(-bound, bound, g) |> ignore
        l :> torch.nn.Module<Tensor, Tensor>
    let layers = ResizeArray<torch.nn.Module<Tensor, Tensor>>()
    c.Prefix |> List.iter (moduleOf >> layers.Add)
    if c.Flatten then layers.Add(torch.nn.Flatten())
    let mutable inF = c.InFeatures
    for width, bias, after in c.Hidden do
        let block = [ yield linear inF width bias; yield! after |> List.map moduleOf ]
        if c.Nested then layers.Add(torch.nn.Sequential(block)) else layers.AddRange block
        inF <- width
    layers.Add(linear inF c.Classes c.LastBias)
    c.Tail |> List.iter (moduleOf >> layers.Add)
    torch.nn.Sequential(layers)

let private transformationOf (c: Case) : GradientTransformation =
    match c.Optimizer with
    | Sgd(lr, momentum, dampening, decay, nesterov) ->
        Optimizers.Sgd(LearningRate.Constant lr, momentum, dampening, decay, nesterov)
    | Adam(lr, b1, b2, eps, decay, amsgrad) -> Optimizers.Adam(LearningRate.Constant lr, b1, b2, eps, decay, amsgrad)
    | AdamW(lr, b1, b2, eps, decay, amsgrad) -> Optimizers.AdamW(LearningRate.Constant lr, b1, b2, eps, decay, amsgrad)
    | ClippedSgd(lr, momentum) -> Optimizers.Chain(Optimizers.ClipByGlobalNorm(0.5), Optimizers.Sgd(LearningRate.Constant lr, momentum))

let private lossOf (c: Case) = Losses.CrossEntropy(if c.Sum then Reduction.Sum else Reduction.Mean)

/// The batch of step `step`: features and targets (class indices, or probabilities).
let private batch (c: Case) (step: int) (n: int) =
    use g = new Generator(uint64 (c.Seed * 31 + step))
    let dtype = dtypeOf c
    let x =
        if c.Flatten then torch.randn([| int64 n; 2L; int64 (c.InFeatures / 2) |], dtype = dtype, generator = g)
        else torch.randn([| int64 n; int64 c.InFeatures |], dtype = dtype, generator = g)
    let y =
        if c.Probabilities then torch.randn([| int64 n; int64 c.Classes |], dtype = dtype, generator = g).softmax(1L)
        else torch.randint(0L, int64 c.Classes, [| int64 n |], ScalarType.Int64, generator = g)
    x, y

/// ‖a − b‖ / ‖b‖ (‖a − b‖ when b is 0).
let private relative (a: Tensor) (b: Tensor) =
    use scope = torch.NewDisposeScope()
    let difference = (a - b).norm().ToDouble()
    let size = b.norm().ToDouble()
    if size = 0.0 then difference else difference / size

/// ‖a − b‖ / (‖b‖ + floor): relative, except for tensors near 0, where a sum that cancels (a bias's
/// gradient over a batch, Adam's moments of it) is known only to the rounding of its terms.
let private relativeAbove (floor: float) (a: Tensor) (b: Tensor) =
    use scope = torch.NewDisposeScope()
    // In float64: a float32 run that diverges (weights ~1e9, logits ~1e34) would overflow a float32 norm to inf,
    // and inf/inf is NaN, which no tolerance passes although the two paths agree.
    let a, b = a.to_type(ScalarType.Float64), b.to_type(ScalarType.Float64)
    (a - b).norm().ToDouble() / (b.norm().ToDouble() + floor)

/// Correct predictions as the fused step counts them: the target's logit is the row's maximum (arg-max
/// of both for probability targets).
let private correctOf (prediction: Tensor) (y: Tensor) =
    use scope = torch.NewDisposeScope()
    if y.is_floating_point() then prediction.argmax(1L).eq(y.argmax(1L)).sum().ToDouble()
    else prediction.gather(1L, y.unsqueeze(1L)).squeeze(1L).ge(prediction.amax([| 1L |])).sum().ToDouble()

/// Runs the case on both paths, asserting after every step that loss, correct count, parameters and
/// optimizer state agree within the dtype's tolerance.
let private agree (c: Case) =
    use scope = torch.NewDisposeScope()
    // f64 tight, f32 loose. A sum that cancels (a bias's gradient over the batch, the moments made of it)
    // is known only to the rounding of its terms (about eps·N here): the floor, an absolute tolerance of
    // tolerance·floor, lets such near-zero tensors agree to that, and the rest to the relative tolerance.
    let tolerance, floor = if c.Double then 1e-10, 1e-3 else 1e-4, 1e-2
    let relative = relativeAbove floor
    let loss = lossOf c
    use reference = build c
    use model = build c
    use referenceOptimizer = (transformationOf c).Bind(reference)
    use optimizer = (transformationOf c).Bind(model)
    use fused =
        match FusedStep.TryCreate(model, loss, optimizer) with
        | null, reason -> raise (AssertionException $"not covered: {reason}")
        | fused, _ -> fused
    fused.Layout <- c.Layout
    reference.train() |> ignore
    model.train() |> ignore
    let check what (difference: float) =
        if not (difference <= tolerance) then
            raise (AssertionException $"{what} differs by {difference:G3} (tolerance {tolerance:G1}); fused path {fused.Description}")
    c.Batches |> List.iteri (fun step n ->
        use stepScope = torch.NewDisposeScope()
        if c.SwitchLayout && step > 0 then
            fused.Layout <- (if fused.Layout = FusedLayout.RowMajor then FusedLayout.FeatureMajor else FusedLayout.RowMajor)
        let x, y = batch c step n
        // The same draws for dropout on both paths.
        torch.manual_seed (int64 (c.Seed + step)) |> ignore
        let prediction = reference.forward x
        let expected = loss.Invoke(prediction, y)
        let expectedCorrect = correctOf prediction y
        referenceOptimizer.ZeroGrad()
        expected.backward()
        referenceOptimizer.Step()
        torch.manual_seed (int64 (c.Seed + step)) |> ignore
        let actual =
            if step % 2 = 1 then fused.Step(x, y)
            else
                // The two halves, and the gradients between them (in the optimizer's order, the model's).
                let value = fused.ComputeGradients(x, y)
                for (name, q), gradient in Seq.zip (reference.named_parameters()) fused.Gradients do
                    check $"step {step}: the gradient of {name}" (relative gradient q.grad)
                fused.ApplyUpdate()
                value
        check $"step {step}: the loss" (relative actual expected)
        check $"step {step}: the correct count" (abs (fused.BatchCorrect.ToDouble() - expectedCorrect))
        for (name, p), (_, q) in Seq.zip (model.named_parameters()) (reference.named_parameters()) do
            check $"step {step}: parameter {name}" (relative p q)
        for (name, s), (_, t) in Seq.zip (optimizer.StateTensors()) (referenceOptimizer.StateTensors()) do
            check $"step {step}: optimizer state {name}" (relative s t)
        Assert.That(optimizer.StepCount, Is.EqualTo referenceOptimizer.StepCount)
        Assert.That(optimizer.StateTensors().Count, Is.EqualTo(referenceOptimizer.StateTensors().Count)))
    // Inference: the fused forward is the model's eval-mode forward.
    use evalScope = torch.NewDisposeScope()
    reference.eval() |> ignore
    let x, y = batch c 99 (List.head c.Batches)
    use _ = torch.no_grad ()
    let prediction = reference.forward x
    check "inference: the logits" (relative (fused.Forward x) prediction)
    check "evaluation: the loss" (relative (fused.Evaluate(x, y)) (loss.Invoke(prediction, y)))
    // Evaluation counts as the tutorial's test loop does: argmax(1) == y.
    let tutorialCorrect =
        use s = torch.NewDisposeScope()
        if y.is_floating_point() then correctOf prediction y else prediction.argmax(1L).eq(y).sum().ToDouble()
    check "evaluation: the correct count" (abs (fused.BatchCorrect.ToDouble() - tutorialCorrect))

[<Property(MaxTest = 100)>]
let ``N fused steps equal N autograd steps (layers, sizes, batches, activations, dropout, optimizers; f64 tight, f32 loose)`` () =
    Prop.forAll (Arb.fromGen cases) agree

[<Test>]
let ``the main job's model from layer specs takes fused steps equal to autograd's, with plain SGD, SGD with momentum and Adam`` () =
    let spec = Layer.Sequential(Layer.Flatten(), Layer.Linear(32L), Layer.ReLU(), Layer.Dropout(0.2), Layer.Linear(16L), Layer.ReLU(), Layer.Linear(10L))
    // Plain SGD folds its update into the weight-gradient products (no gradient buffers); the others store gradients.
    for transformation in [ Optimizers.Sgd(LearningRate.Constant 0.1)
                            Optimizers.Sgd(LearningRate.Constant 0.1, momentum = 0.9, weightDecay = 1e-3, nesterov = true)
                            Optimizers.Adam(LearningRate.Constant 1e-3) ] do
        for layout in [ FusedLayout.RowMajor; FusedLayout.FeatureMajor ] do
            use scope = torch.NewDisposeScope()
            use g1 = new Generator(5UL)
            use g2 = new Generator(5UL)
            use reference = spec.Build([| 1L; 6L; 6L |], g1)
            use model = spec.Build([| 1L; 6L; 6L |], g2)
            use referenceOptimizer = transformation.Bind(reference)
            use optimizer = transformation.Bind(model)
            let loss = Losses.CrossEntropy()
            use fused = FusedStep.Create(model, loss, optimizer)
            fused.Layout <- layout
            contains "Flatten → Linear(36→32) → ReLU → Dropout(0.2) → Linear(32→16) → ReLU → Linear(16→10); CrossEntropy(mean)" fused.Description
            Assert.That(fused.FullyFused)
            use data = new Generator(9UL)
            for step in 0 .. 5 do
                use stepScope = torch.NewDisposeScope()
                let n = if step = 5 then 3L else 7L
                let x = torch.rand([| n; 1L; 6L; 6L |], generator = data)
                let y = torch.randint(0L, 10L, [| n |], ScalarType.Int64, generator = data)
                torch.manual_seed (int64 step) |> ignore
                let expected = loss.Invoke(reference.forward x, y)
                referenceOptimizer.ZeroGrad()
                expected.backward()
                referenceOptimizer.Step()
                torch.manual_seed (int64 step) |> ignore
                let actual = fused.Step(x, y)
                Assert.That(actual.ToDouble(), Is.EqualTo(expected.ToDouble()).Within(1e-5), $"loss of step {step}")
                for (name, p), (_, q) in Seq.zip (model.named_parameters()) (reference.named_parameters()) do
                    Assert.That(relative p q, Is.LessThan 1e-5, $"{name} after step {step}")

[<Test>]
let ``the live tensor count does not grow across fused steps, batch sizes and evaluations`` () =
    use g = new Generator(3UL)
    use model =
        Layer.Sequential(Layer.Flatten(), Layer.Linear(16L), Layer.ReLU(), Layer.Dropout(0.3), Layer.Linear(8L), Layer.ReLU(), Layer.Linear(4L))
             .Build([| 2L; 5L |], g)
    use optimizer = Optimizers.Sgd(LearningRate.Constant 0.1, momentum = 0.9).Bind(model)
    use fused = FusedStep.Create(model, Losses.CrossEntropy(), optimizer)
    use x8 = torch.randn([| 8L; 2L; 5L |], generator = g)
    use y8 = torch.randint(0L, 4L, [| 8L |], ScalarType.Int64, generator = g)
    use x5 = torch.randn([| 5L; 2L; 5L |], generator = g)
    use y5 = torch.randint(0L, 4L, [| 5L |], ScalarType.Int64, generator = g)
    let before = Generators.settledTensorCount ()
    let counts = ResizeArray<int64>()
    let sum = torch.zeros(1)
    for round in 1 .. 6 do
        // A scope around each step, as the trainer has: nothing the step makes may land in it and survive.
        for x, y in [ x8, y8; x8, y8; x5, y5 ] do
            use scope = torch.NewDisposeScope()
            sum.add_(fused.Step(x, y)) |> ignore
        fused.Evaluate(x5, y5) |> ignore
        fused.Forward(x8) |> ignore
        counts.Add torch.Tensor.TotalCount
    // The momentum buffers appear at the first step and the views for each batch size at its first use.
    Assert.That(counts |> Seq.distinct |> Seq.length, Is.EqualTo 1, sprintf "live tensors after each round: %A" (List.ofSeq counts))
    Assert.That(Double.IsFinite(sum.ToDouble()))
    sum.Dispose()
    fused.Dispose()
    optimizer.Dispose()
    Assert.That(Generators.settledTensorCount (), Is.LessThanOrEqualTo(before), "the fused step's buffers go with Dispose")

[<Test>]
let ``a batch size first met in inference mode leaves buffers that training steps can still write`` () =
    use g = new Generator(5UL)
    use model = Layer.Sequential(Layer.Linear(6L), Layer.ReLU(), Layer.Linear(3L)).Build([| 4L |], g)
    use optimizer = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(model)
    use fused = FusedStep.Create(model, Losses.CrossEntropy(), optimizer)
    use x2 = torch.randn([| 2L; 4L |], generator = g)
    use y2 = torch.randint(0L, 3L, [| 2L |], ScalarType.Int64, generator = g)
    fused.Step(x2, y2) |> ignore
    // The trainer evaluates in inference mode; a larger batch makes new buffers, and more sizes make new views, there.
    for n in [ 9L; 7L; 5L; 3L; 1L; 8L; 6L; 4L; 10L ] do
        use x = torch.randn([| n; 4L |], generator = g)
        use y = torch.randint(0L, 3L, [| n |], ScalarType.Int64, generator = g)
        use inference = torch.inference_mode()
        fused.Evaluate(x, y) |> ignore
    for n in [ 2L; 9L; 10L ] do
        use x = torch.randn([| n; 4L |], generator = g)
        use y = torch.randint(0L, 3L, [| n |], ScalarType.Int64, generator = g)
        let loss = fused.Step(x, y)
        Assert.That(Double.IsFinite(loss.ToDouble()), $"a training step of {n} after evaluations in inference mode")

[<Test>]
let ``TryCreate says why for what it does not cover, so the trainer falls back to autograd`` () =
    use scope = torch.NewDisposeScope()
    let reasonFor (model: torch.nn.Module) (loss: Loss) (optimizer: Optimizer) =
        match FusedStep.TryCreate(model, loss, optimizer) with
        | null, reason -> reason
        | fused, _ ->
            fused.Dispose()
            "covered"
    let mlp () = Layer.Sequential(Layer.Flatten(), Layer.Linear(8L), Layer.ReLU(), Layer.Linear(3L)).Build([| 4L |])
    let ce = Losses.CrossEntropy()
    use model = mlp ()
    use sgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(model)
    Assert.That(reasonFor model ce sgd, Is.EqualTo "covered")
    Assert.That(reasonFor model (Losses.CrossEntropy Reduction.Sum) sgd, Is.EqualTo "covered")
    contains "CrossEntropy" (reasonFor model (Losses.MSE()) sgd)
    contains "CrossEntropy" (reasonFor model (Losses.CrossEntropy Reduction.None) sgd)
    contains "CrossEntropy" (reasonFor model (Loss(fun p t -> ce.Invoke(p, t))) sgd)
    use conv = Layer.Sequential(Layer.Conv2d(2L, 3L), Layer.Flatten(), Layer.Linear(3L)).Build([| 1L; 4L; 4L |])
    use convSgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(conv)
    contains "Conv2d" (reasonFor conv ce convSgd)
    use custom = new UserModel()
    use customSgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(custom)
    contains "not a Sequential" (reasonFor custom ce customSgd)
    // The library's own NeuralNetwork is covered: its forward is its children in order.
    use library = new Functional.Models.NeuralNetwork()
    use librarySgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(library)
    Assert.That(reasonFor library ce librarySgd, Is.EqualTo "covered")
    use other = mlp ()
    use otherSgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(other)
    contains "not bound" (reasonFor model ce otherSgd)
    use partial = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(Seq.take 2 (model.parameters()))
    contains "not bound" (reasonFor model ce partial)
    use extra = new TorchSharp.Modules.Parameter(torch.zeros(3L), true)
    use more = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(Seq.append (model.parameters()) [ extra ])
    contains "exactly the model's parameters" (reasonFor model ce more)
    use frozen = mlp ()
    use frozenSgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(frozen)
    (Seq.head (frozen.parameters())).requires_grad <- false
    contains "frozen" (reasonFor frozen ce frozenSgd)
    use flatten0 = torch.nn.Sequential(torch.nn.Flatten(0L), torch.nn.Linear(4L, 3L))
    use flatten0Sgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(flatten0)
    contains "Flatten(0, -1)" (reasonFor flatten0 ce flatten0Sgd)
    use empty = torch.nn.Sequential(torch.nn.ReLU())
    use emptySgd = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(empty)
    contains "no Linear" (reasonFor empty ce emptySgd)

[<Test>]
let ``the fused step keeps the optimizer's state: a run that switches paths midway equals a run on autograd alone`` () =
    // Adam with a scheduled learning rate: the moments, Adam's step, the schedule's step and the
    // optimizer's step count all carry over from one path to the other, as a checkpoint would carry them.
    let spec = Layer.Sequential(Layer.Linear(6L), Layer.ReLU(), Layer.Linear(3L))
    let transformation = Optimizers.AdamW(LearningRate.FromSchedule(Schedules.Cosine(1e-2, 8L)), weightDecay = 0.05)
    use scope = torch.NewDisposeScope()
    use g1 = new Generator(11UL)
    use g2 = new Generator(11UL)
    use reference = spec.Build([| 4L |], g1)
    use model = spec.Build([| 4L |], g2)
    use referenceOptimizer = transformation.Bind(reference)
    use optimizer = transformation.Bind(model)
    let loss = Losses.CrossEntropy()
    use fused = FusedStep.Create(model, loss, optimizer)
    use data = new Generator(12UL)
    let autogradStep (m: torch.nn.Module<Tensor, Tensor>) (o: Optimizer) x y =
        use stepScope = torch.NewDisposeScope()
        let value = loss.Invoke(m.forward x, y)
        o.ZeroGrad()
        value.backward()
        o.Step()
    for step in 0 .. 7 do
        use stepScope = torch.NewDisposeScope()
        let x = torch.randn([| 5L; 4L |], dtype = ScalarType.Float64, generator = data).``to``(ScalarType.Float32)
        let y = torch.randint(0L, 3L, [| 5L |], ScalarType.Int64, generator = data)
        autogradStep reference referenceOptimizer x y
        if step >= 2 && step < 6 then fused.Step(x, y) |> ignore else autogradStep model optimizer x y
    Assert.That(optimizer.StepCount, Is.EqualTo 8L)
    Assert.That(optimizer.CurrentLearningRate, Is.EqualTo referenceOptimizer.CurrentLearningRate)
    Assert.That((optimizer.StateOf<AdamState>()).Step, Is.EqualTo 8L)
    for (name, p), (_, q) in Seq.zip (model.named_parameters()) (reference.named_parameters()) do
        Assert.That(relative p q, Is.LessThan 1e-5, name)
    for (name, s), (_, t) in Seq.zip (optimizer.StateTensors()) (referenceOptimizer.StateTensors()) do
        Assert.That(relative s t, Is.LessThan 1e-5, name)

[<Test>]
let ``a batch that does not fit is refused with what was expected, before any parameter changes`` () =
    use scope = torch.NewDisposeScope()
    use model = Layer.Sequential(Layer.Flatten(), Layer.Linear(4L), Layer.ReLU(), Layer.Linear(3L)).Build([| 2L; 3L |])
    use optimizer = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(model)
    use fused = FusedStep.Create(model, Losses.CrossEntropy(), optimizer)
    let before = model.parameters() |> Seq.map (fun p -> p.clone()) |> List.ofSeq
    let y = torch.tensor([| 0L; 2L |])
    let refused (x: Tensor) (y: Tensor) = (throws<ArgumentException> (fun () -> fused.Step(x, y) |> ignore)).Message
    contains "Float64" (refused (torch.zeros([| 2L; 2L; 3L |], dtype = ScalarType.Float64)) y)
    contains "6 features" (refused (torch.zeros([| 2L; 5L |])) y)
    contains "empty" (refused (torch.zeros([| 0L; 6L |])) (torch.zeros([| 0L |], dtype = ScalarType.Int64)))
    contains "[2]" (refused (torch.zeros([| 2L; 6L |])) (torch.tensor([| 0L; 1L; 2L |])))
    contains "[2, 3]" (refused (torch.zeros([| 2L; 6L |])) (torch.zeros([| 2L; 4L |])))
    for p, q in Seq.zip (model.parameters()) before do
        Assert.That(same p q, "no parameter changed")
    Assert.That(optimizer.StepCount, Is.EqualTo 0L)
    // The optimizer owns the state the fused step updates: once it is disposed, the step refuses to run.
    optimizer.Dispose()
    throws<ObjectDisposedException> (fun () -> fused.Step(torch.zeros([| 2L; 6L |]), y) |> ignore) |> ignore

[<Test>]
let ``dropout masks come from the generator given, not the global one, and repeat with its seed`` () =
    use scope = torch.NewDisposeScope()
    let spec = Layer.Sequential(Layer.Linear(16L), Layer.ReLU(), Layer.Dropout(0.5), Layer.Linear(3L))
    let run (seed: uint64) =
        use g = new Generator(2UL)
        use model = spec.Build([| 4L |], g)
        use optimizer = Optimizers.Sgd(LearningRate.Constant 0.1).Bind(model)
        use dropout = new Generator(seed)
        use fused = FusedStep.TryCreate(model, Losses.CrossEntropy(), optimizer, dropout) |> fst
        use data = new Generator(3UL)
        let x = torch.randn([| 6L; 4L |], generator = data)
        let y = torch.randint(0L, 3L, [| 6L |], ScalarType.Int64, generator = data)
        let before = torch.get_rng_state()
        let losses = [ for _ in 1 .. 3 -> fused.Step(x, y).ToDouble() ]
        Assert.That(same (torch.get_rng_state()) before, "the global generator is untouched")
        losses
    Assert.That(run 7UL, Is.EqualTo<float list>(run 7UL))
    Assert.That(run 8UL, Is.Not.EqualTo<float list>(run 7UL))
