module Functional.PropertyTests.OptimizersTests

open System
open System.Text.Json
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open TorchSharp.Modules
open Functional
open Functional.Optim
open Functional.FSharp


[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

let private shapes = [ [| 3L; 4L |]; [| 4L |]; [| 2L; 1L; 2L |] ]

let private makeParameters (g: torch.Generator) =
    shapes |> List.map (fun s -> torch.randn(s, generator = g))

/// A gradient that depends on the parameter (so weight decay and drift matter) plus noise.
let private gradientsFor (parameters: Parameter list) (noise: torch.Tensor list) =
    use _ = torch.no_grad ()
    List.zip parameters noise |> List.iter (fun (p, n) -> p.grad <- p.detach().mul(Scalar.op_Implicit 0.5).add(n))

/// Runs our optimizer and TorchSharp's on copies of the same parameters with the same gradients
/// for `steps` steps, calling `adjust step ours theirs` before each (0-based) step; true when the
/// parameters agree within float32 tolerance after every step.
let private agreesWithTorchSharpAdjusted
        (ours: GradientTransformation) (theirs: Parameter seq -> torch.optim.Optimizer)
        (adjust: int -> Optimizer -> torch.optim.Optimizer -> unit) (seed: int) (steps: int) =
    use scope = torch.NewDisposeScope()
    use g = new torch.Generator(uint64 seed)
    let init = makeParameters g
    let ps1 = init |> List.map (fun t -> new Parameter(t.clone(), true))
    let ps2 = init |> List.map (fun t -> new Parameter(t.clone(), true))
    use o1 = ours.Bind(ps1)
    use o2 = theirs ps2
    let mutable ok = true
    for step in 0 .. steps - 1 do
        adjust step o1 o2
        let noise = shapes |> List.map (fun s -> torch.randn(s, generator = g))
        gradientsFor ps1 noise
        gradientsFor ps2 noise
        o1.Step()
        o2.step() |> ignore
        o1.ZeroGrad()
        o2.zero_grad()
        for p1, p2 in List.zip ps1 ps2 do
            if not (p1.allclose(p2, rtol = 1e-5, atol = 1e-6)) then ok <- false
    ok

/// `agreesWithTorchSharpAdjusted` with the settings left as built.
let private agreesWithTorchSharp ours theirs seed steps = agreesWithTorchSharpAdjusted ours theirs (fun _ _ _ -> ()) seed steps

let private seeds = Gen.choose (0, 100000) |> Arb.fromGen

[<Property(MaxTest = 12)>]
let ``SGD matches torch.optim.SGD step for step (momentum, dampening, Nesterov, weight decay)`` () =
    let configs =
        [ 0.0, 0.0, 0.0, false; 0.9, 0.0, 0.0, false; 0.9, 0.3, 0.0, false; 0.9, 0.0, 0.0, true
          0.5, 0.0, 0.01, true; 0.0, 0.0, 0.1, false; 0.8, 0.2, 0.05, false ]
    Prop.forAll seeds (fun seed ->
        configs |> List.forall (fun (momentum, dampening, decay, nesterov) ->
            let ours = Optim.sgdWith { Momentum = momentum; Dampening = dampening; WeightDecay = decay; Nesterov = nesterov } 0.05
            agreesWithTorchSharp ours
                (fun ps -> torch.optim.SGD(ps, 0.05, momentum = momentum, dampening = dampening, weight_decay = decay, nesterov = nesterov))
                seed 20))

[<Property(MaxTest = 12)>]
let ``Adam matches torch.optim.Adam step for step (weight decay, AMSGrad)`` () =
    let configs = [ 0.9, 0.999, 0.0, false; 0.8, 0.99, 0.01, false; 0.9, 0.999, 0.0, true; 0.5, 0.9, 0.1, true ]
    Prop.forAll seeds (fun seed ->
        configs |> List.forall (fun (b1, b2, decay, amsgrad) ->
            let ours = Optim.adamWith { Beta1 = b1; Beta2 = b2; Eps = 1e-8; WeightDecay = decay; Amsgrad = amsgrad } 0.01
            agreesWithTorchSharp ours
                (fun ps -> torch.optim.Adam(ps, 0.01, beta1 = b1, beta2 = b2, eps = 1e-8, weight_decay = decay, amsgrad = amsgrad))
                seed 20))

[<Property(MaxTest = 12)>]
let ``AdamW matches torch.optim.AdamW step for step`` () =
    let configs = [ 0.9, 0.999, 0.01, false; 0.8, 0.99, 0.1, false; 0.9, 0.999, 0.05, true ]
    Prop.forAll seeds (fun seed ->
        configs |> List.forall (fun (b1, b2, decay, amsgrad) ->
            let ours = Optim.adamwWith { Beta1 = b1; Beta2 = b2; Eps = 1e-8; WeightDecay = decay; Amsgrad = amsgrad } 0.01
            agreesWithTorchSharp ours
                (fun ps -> torch.optim.AdamW(ps, 0.01, beta1 = b1, beta2 = b2, eps = 1e-8, weight_decay = decay, amsgrad = amsgrad))
                seed 20))

/// SGD settings for one step: momentum, dampening, weight decay.
let private sgdSettings =
    Gen.elements [ 0.0, 0.0, 0.0; 0.9, 0.0, 0.0; 0.5, 0.3, 0.0; 0.0, 0.0, 0.05; 0.9, 0.0, 0.05; 0.0, 0.3, 0.0 ]

let private settingRuns =
    gen {
        let! seed = Gen.choose (0, 100000)
        let! settings = Gen.listOfLength 12 sgdSettings
        return seed, settings }
    |> Arb.fromGen

/// Sets momentum, dampening and weight decay on our SGD (through its typed states) and on TorchSharp's (its param group).
let private setSgd (momentum, dampening, decay) (ours: Optimizer) (theirs: torch.optim.Optimizer) =
    let trace = Optim.stateOf<TraceState> ours
    trace.Momentum <- momentum
    trace.Dampening <- dampening
    (Optim.stateOf<AddDecayedWeightsState> ours).WeightDecay <- decay
    for group in (theirs :?> Modules.SGD).ParamGroups do
        let options = (group :?> Modules.SGD.ParamGroup).Options
        options.momentum <- Nullable momentum
        options.dampening <- Nullable dampening
        options.weight_decay <- Nullable decay

[<Property(MaxTest = 20)>]
let ``SGD whose momentum, dampening and weight decay change mid-run (from 0 and back) matches torch.optim.SGD step for step`` () =
    Prop.forAll settingRuns (fun (seed, settings) ->
        let settings = Array.ofList settings
        agreesWithTorchSharpAdjusted (Optim.sgd 0.05) (fun ps -> torch.optim.SGD(ps, 0.05))
            (fun step ours theirs -> setSgd settings.[step] ours theirs) seed settings.Length)

[<Test>]
let ``SGD built without momentum starts its buffer as PyTorch does when momentum is raised`` () =
    use scope = torch.NewDisposeScope()
    let lr, mu = 0.1, 0.9
    let p = new Parameter(torch.tensor([| 1.0f; -2.0f |]), true)
    use optimizer = (Optim.sgd lr).Bind([ p ])
    let grads = [ [| 0.5f; 1.0f |]; [| -1.0f; 2.0f |]; [| 2.0f; 0.0f |]; [| 1.0f; 1.0f |] ]
    let trace = Optim.stateOf<TraceState> optimizer
    // By hand, as torch.optim.SGD: plain steps, then buf = g at the first step with momentum, then buf = mu*buf + g.
    let expected = Array.copy [| 1.0f; -2.0f |]
    let mutable buffer : float32[] option = None
    for i, g in List.indexed grads do
        if i = 2 then trace.Momentum <- mu
        p.grad <- torch.tensor(g)
        optimizer.Step()
        let direction =
            if i < 2 then g
            else
                let b = match buffer with None -> Array.copy g | Some b -> Array.map2 (fun bi gi -> float32 mu * bi + gi) b g
                buffer <- Some b
                b
        for j in 0 .. 1 do expected.[j] <- expected.[j] - float32 lr * direction.[j]
        Assert.That(p.data<float32>().ToArray(), equalTo(expected).Within(1e-6), $"step {i}")
        Assert.That(isNull trace.MomentumBuffer, Is.EqualTo(i < 2), "no buffer until momentum is used")
    Assert.That(trace.MomentumBuffer.[0].data<float32>().ToArray(), equalTo(buffer.Value).Within(1e-6))

// ---- chain laws ----

let private links : (string * (unit -> GradientTransformation)) list =
    [ "trace", (fun () -> Optimizers.Trace(0.9))
      "nesterov", (fun () -> Optimizers.Trace(0.5, 0.0, true))
      "adam", (fun () -> Optimizers.ScaleByAdam())
      "clip", (fun () -> Optimizers.ClipByGlobalNorm(0.5))
      "decay", (fun () -> Optimizers.AddDecayedWeights(0.1))
      "lr", (fun () -> Optimizers.ScaleByLearningRate(0.3))
      "schedule", (fun () -> Optimizers.ScaleByLearningRate(Schedules.Exponential(0.3, 0.9)))
      "scale", (fun () -> Optimizers.Scale(2.0)) ]

let private chainCases =
    gen {
        let! n = Gen.choose (1, 4)
        let! picks = Gen.listOfLength n (Gen.elements links)
        let! seed = Gen.choose (0, 100000)
        return picks, seed }
    |> Arb.fromGen

let private allEqual (a: torch.Tensor seq) (b: torch.Tensor seq) = Seq.forall2 (fun (x: torch.Tensor) y -> (same x y)) a b

/// The same values (exactly) and the same scale.
let private sameUpdates (a: Updates) (b: Updates) = a.Scale = b.Scale && allEqual a.Values b.Values

[<Property(MaxTest = 40)>]
let ``A chain equals applying its links by hand, step after step`` () =
    Prop.forAll chainCases (fun (picks, seed) ->
        use scope = torch.NewDisposeScope()
        use g = new torch.Generator(uint64 seed)
        let ps = makeParameters g
        let chain = Optim.chain (picks |> List.map (fun (_, make) -> make ()))
        let byHand = picks |> List.map (fun (_, make) -> make ())
        use chainState = Optim.init ps chain
        let handStates = byHand |> List.map (Optim.init ps)
        let mutable ok = true
        for _ in 1 .. 4 do
            let grads = shapes |> List.map (fun s -> torch.randn(s, generator = g))
            let viaChain = Optim.update (Updates.ofList grads) chainState ps chain
            let viaHand = List.zip byHand handStates |> List.fold (fun u (t, s) -> Optim.update u s ps t) (Updates.ofList grads)
            if not (sameUpdates viaChain viaHand) then ok <- false
        handStates |> List.iter (fun s -> s.Dispose())
        ok)

[<Property(MaxTest = 20)>]
let ``A chain of one link is that link, and a chain leaves its input gradients alone`` () =
    Prop.forAll chainCases (fun (picks, seed) ->
        use scope = torch.NewDisposeScope()
        use g = new torch.Generator(uint64 seed)
        let ps = makeParameters g
        let _, make = picks.Head
        let single, chained = make (), Optim.chain [ make () ]
        use s1 = Optim.init ps single
        use s2 = Optim.init ps chained
        let mutable ok = true
        for _ in 1 .. 3 do
            let grads = shapes |> List.map (fun s -> torch.randn(s, generator = g))
            let copies = grads |> List.map (fun t -> t.clone())
            let a = Optim.update (Updates.ofList grads) s1 ps single
            let b = Optim.update (Updates.ofList grads) s2 ps chained
            if not (sameUpdates a b && allEqual grads copies) then ok <- false
        ok)

/// Wraps runs of the links in chains at random, to any depth: the same links, nested.
let rec private nestRandomly (rnd: Random) (links: GradientTransformation list) : GradientTransformation =
    match links with
    | [] -> Optim.chain []
    | [ single ] -> if rnd.Next 2 = 0 then single else Optim.chain [ single ]
    | _ ->
        let left, right = List.splitAt (rnd.Next(1, List.length links)) links
        Optim.chain [ nestRandomly rnd left; nestRandomly rnd right ]

/// The tensors (handles) one step creates.
let private tensorsMadeBy (step: unit -> unit) =
    let statistics = DisposeScopeManager.Statistics
    statistics.Reset()
    step ()
    statistics.TensorStatistics.CreatedInScopeCount + statistics.TensorStatistics.CreatedOutsideScopeCount

[<Property(MaxTest = 40)>]
let ``A nested chain steps exactly as the flat chain, the learning rate fused at any depth`` () =
    Prop.forAll chainCases (fun (picks, seed) ->
        use scope = torch.NewDisposeScope()
        use g = new torch.Generator(uint64 seed)
        let init = makeParameters g
        let flat = Optim.chain (picks |> List.map (fun (_, make) -> make ()))
        let nested = Optim.chain [ nestRandomly (Random seed) (picks |> List.map (fun (_, make) -> make ())) ]
        let ps1 = init |> List.map (fun t -> new Parameter(t.clone(), true))
        let ps2 = init |> List.map (fun t -> new Parameter(t.clone(), true))
        use o1 = flat.Bind(ps1)
        use o2 = nested.Bind(ps2)
        let mutable ok = true
        for _ in 1 .. 4 do
            let grads = shapes |> List.map (fun s -> torch.randn(s, generator = g))
            List.iter2 (fun (p: Parameter) (gr: torch.Tensor) -> p.grad <- gr.clone()) ps1 grads
            List.iter2 (fun (p: Parameter) (gr: torch.Tensor) -> p.grad <- gr.clone()) ps2 grads
            let made1 = tensorsMadeBy o1.Step
            let made2 = tensorsMadeBy o2.Step
            if made1 <> made2 || not (List.forall2 (fun (a: Parameter) b -> same a b) ps1 ps2) then ok <- false
        ok)

[<Test>]
let ``Step makes no full-size temporary beyond what the optimizer needs (SGD: none)`` () =
    use scope = torch.NewDisposeScope()
    use g = new torch.Generator(7UL)
    let count = List.length shapes
    // Per parameter: the gradient's handle (no storage) read from the parameter; momentum adds an alias
    // of its buffer (no storage); weight decay and Nesterov one tensor each, and Adam two, as PyTorch's do.
    let cases =
        [ "sgd", Optim.sgd 0.1, 1
          "sgd momentum", Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1, 2
          "sgd nested", Optim.chain [ Optim.chain [ Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1 ] ], 2
          "sgd scheduled", Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } (Schedule.cosine 0.1 10L), 2
          "sgd nesterov decay", Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9; Nesterov = true; WeightDecay = 0.01 } 0.1, 3
          "adam", Optim.adam 0.1, 3
          "adamw", Optim.adamw 0.1, 4 ]
    for name, t, perParameter in cases do
        let ps = makeParameters g |> List.map (fun t -> new Parameter(t, true))
        use optimizer = t.Bind(ps)
        for step in 1 .. 3 do
            for p in ps do p.grad <- torch.randn(p.shape, generator = g)
            let made = tensorsMadeBy optimizer.Step
            // The first step with momentum makes the buffer (PyTorch's start); from then on, nothing new.
            if step > 1 then Assert.That(made, equalTo(int64 (perParameter * count)), $"{name}, step {step}")

[<Test>]
let ``Scaling links touch no tensor: only the scale changes`` () =
    use scope = torch.NewDisposeScope()
    use g = new torch.Generator(3UL)
    let ps = makeParameters g
    let grads = shapes |> List.map (fun s -> torch.randn(s, generator = g))
    for t, scale in [ Optim.scale 2.0, 2.0; Optim.scaleByLearningRate 0.1, -0.1; Optim.sgd 0.1, -0.1
                      Optim.chain [ Optim.scale 3.0; Optim.chain [ Optim.identity; Optim.scaleByLearningRate 0.5 ] ], -1.5 ] do
        use state = Optim.init ps t
        let u = Optim.update (Updates.ofList grads) state ps t
        Assert.That(u.Scale, equalTo(scale), t.Name)
        Assert.That(Seq.forall2 (fun (a: torch.Tensor) b -> Object.ReferenceEquals(a, b)) u.Values grads, Is.True, t.Name)
    let unscaled = Updates.ofList grads
    Assert.That(Seq.forall2 (fun (a: torch.Tensor) b -> Object.ReferenceEquals(a, b)) (Updates.toList unscaled) grads, Is.True)
    Assert.That(allEqual (Updates.toList (unscaled.Scaled 2.0)) (grads |> List.map (fun t -> t * 2.0)), Is.True)

// ---- convergence ----

let private optimizers : (string * GradientTransformation * int) list =
    [ "sgd", Optim.sgd 1e-3, 20000
      "sgd momentum", Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 1e-3, 5000
      "sgd nesterov", Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9; Nesterov = true } 1e-3, 5000
      "adam", Optim.adam 0.02, 5000
      "adamw", Optim.adamwWith { Optim.adamwDefaults with WeightDecay = 0.0 } 0.02, 5000
      "clipped sgd", Optim.chain [ Optim.clipByGlobalNorm 1.0; Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 1e-3 ], 5000 ]

/// Minimises f from x0 by calling Update with the analytic gradient; returns the final point.
let private minimise (transformation: GradientTransformation) (steps: int) (gradient: float[] -> float[]) (x0: float[]) =
    let x = torch.tensor(x0, torch.float64)
    use state = Optim.init [ x ] transformation
    for _ in 1 .. steps do
        use scope = torch.NewDisposeScope()
        let gr = torch.tensor(gradient (x.data<float>().ToArray()), torch.float64)
        let u = Optim.update (Updates.ofList [ gr ]) state [ x ] transformation
        x.add_(u.Values.[0], alpha = u.Scale) |> ignore
    let result = x.data<float>().ToArray()
    x.Dispose()
    result

[<Test>]
let ``Every optimizer converges on a parabola`` () =
    let centre = [| 1.0; -2.0; 0.5 |]
    let gradient (x: float[]) = Array.map2 (fun xi ci -> 2.0 * (xi - ci)) x centre
    for name, t, _ in optimizers do
        let steps = if name = "sgd" then 5000 else 3000
        let x = minimise t steps gradient [| 0.0; 0.0; 0.0 |]
        Assert.That(x, equalTo(centre).Within(1e-2), name)

[<Test>]
let ``Every optimizer converges on Rosenbrock`` () =
    // f(x, y) = (1 - x)² + 100 (y - x²)², minimum at (1, 1).
    let gradient (v: float[]) =
        let x, y = v.[0], v.[1]
        [| -2.0 * (1.0 - x) - 400.0 * x * (y - x * x); 200.0 * (y - x * x) |]
    for name, t, steps in optimizers do
        let x = minimise t steps gradient [| -1.0; 1.0 |]
        Assert.That(x, equalTo([| 1.0; 1.0 |]).Within(0.05), name)

// ---- the facade ----

let private smallModel (seed: int) =
    use g = new torch.Generator(uint64 seed)
    Layer.sequential [ Layer.linear 8; Layer.relu; Layer.linear 3 ] |> Model.buildWith g [ 4 ]

let private trainStep (model: torch.nn.Module<torch.Tensor, torch.Tensor>) (optimizer: Optimizer) (x: torch.Tensor) (y: torch.Tensor) =
    use scope = torch.NewDisposeScope()
    let loss = Loss.apply Loss.crossEntropy (model.call x) y
    loss.backward()
    optimizer.Step()
    optimizer.ZeroGrad()

[<Test>]
let ``Training steps do not leak tensors`` () =
    use model = smallModel 1
    let t = Optim.chain [ Optim.clipByGlobalNorm 1.0; Optim.adamwWith Optim.adamwDefaults (Schedule.cosine 0.01 100L) ]
    use optimizer = Optim.bind model t
    use x = torch.randn(16L, 4L)
    use y = torch.randint(3L, [| 16L |])
    for _ in 1 .. 3 do trainStep model optimizer x y
    let before = Generators.settledTensorCount ()
    for _ in 1 .. 20 do trainStep model optimizer x y
    Assert.That(torch.Tensor.TotalCount, equalTo(before))

[<Test>]
let ``A saved and loaded optimizer state resumes bit for bit`` () =
    let make () = Optim.chain [ Optim.clipByGlobalNorm 0.5; Optim.adamwWith { Optim.adamwDefaults with Amsgrad = true } (Schedule.cosine 0.05 50L) ]
    let momentumSgd () = Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9; Nesterov = true; WeightDecay = 0.01 } 0.1
    let adjustments : (Optimizer -> unit) list =
        [ (fun o -> (Optim.stateOf<ClipByGlobalNormState> o).MaxNorm <- 0.7)
          (fun o -> (Optim.stateOf<TraceState> o).Momentum <- 0.8) ]
    for build, adjust in List.zip [ make; momentumSgd ] adjustments do
        use x = torch.randn(16L, 4L)
        use y = torch.randint(3L, [| 16L |])
        use a = smallModel 7
        use optA = Optim.bind a (build ())
        adjust optA
        for _ in 1 .. 5 do trainStep a optA x y
        // save: weights, the optimizer's tensors (copied) and its scalars through JSON
        let weights = a.parameters() |> Seq.map (fun p -> p.detach().clone()) |> List.ofSeq
        let saved = optA.StateTensors() |> Seq.map (fun struct (n, v) -> struct (n, v.clone())) |> List.ofSeq
        let json = JsonSerializer.Serialize(optA.StateScalars())
        // load into a fresh model and optimizer
        use b = smallModel 99
        using (torch.no_grad ()) (fun _ -> for p, w in Seq.zip (b.parameters()) weights do p.copy_(w) |> ignore)
        use optB = Optim.bind b (build ())
        optB.LoadState(JsonSerializer.Deserialize<OptimizerScalars>(json), saved)
        Assert.That(optB.StepCount, equalTo(5L))
        // the hyperparameters as adjusted, the counters and the buffers' presence came back
        Assert.That(JsonSerializer.Serialize(optB.StateScalars()), equalTo(json))
        for _ in 1 .. 5 do
            trainStep a optA x y
            trainStep b optB x y
        for p, q in Seq.zip (a.parameters()) (b.parameters()) do Assert.That((same p q), Is.True)

[<Test>]
let ``Loading state that does not fit is refused with the names`` () =
    use model = smallModel 1
    use opt = Optim.bind model (Optim.adam 1e-3)
    let scalars = opt.StateScalars()
    let tensors = opt.StateTensors() |> List.ofSeq
    let e = throws<ArgumentException>(fun () -> opt.LoadState(scalars, tensors |> List.tail))
    let struct (firstName, _) = tensors.Head
    contains ("missing '" + firstName + "'") (e.Message)
    let wrong = struct (firstName, torch.zeros(1L)) :: List.tail tensors
    let e2 = throws<ArgumentException>(fun () -> opt.LoadState(scalars, wrong))
    contains "has shape [1]" e2.Message
    use other = Optim.bind model (Optim.sgd 1e-3)
    throws<ArgumentException>(fun () -> other.LoadState(opt.StateScalars(), [])) |> ignore

[<Test>]
let ``The learning rate is readable and adjustable while training`` () =
    use model = smallModel 3
    use opt = Optim.bind model (Optim.sgd 0.1)
    Assert.That(Optim.learningRate opt, equalTo(0.1))
    opt |> Optim.setLearningRate 0.0
    let before = model.parameters() |> Seq.map (fun p -> p.detach().clone()) |> List.ofSeq
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    trainStep model opt x y
    for p, q in Seq.zip (model.parameters()) before do Assert.That((same p q), Is.True, "a zero learning rate leaves the weights")
    opt.LearningRate <- 0.5
    trainStep model opt x y
    Assert.That(Seq.exists2 (fun (p: Parameter) (q: torch.Tensor) -> not ((same p q))) (model.parameters()) before, Is.True)
    // The typed property is the one the step reads: the learning-rate link's state.
    Assert.That(opt.LearningRate.Value, equalTo(Nullable 0.5))
    Assert.That((Optim.stateOf<ScaleByLearningRateState> opt).LearningRate, Is.SameAs(opt.LearningRate))

[<Test>]
let ``A scheduled learning rate follows its schedule and cannot be set by hand`` () =
    use model = smallModel 3
    let schedule = Schedule.step 0.1 2L 0.5
    use opt = Optim.bind model (Optim.adamWith Optim.adamDefaults schedule)
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    for step in 0L .. 5L do
        trainStep model opt x y
        Assert.That(Optim.learningRate opt, equalTo(Schedule.at step schedule))
    throws<InvalidOperationException>(fun () -> opt.LearningRate <- 1.0) |> ignore
    // The step counter is read-only by type now; the schedule is still the one given.
    Assert.That((Optim.stateOf<ScaleByLearningRateState> opt).Step, equalTo(6L))
    Assert.That(opt.LearningRate.Schedule, Is.SameAs(schedule))

[<Test>]
let ``Momentum can be changed while training`` () =
    use model = smallModel 3
    use opt = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1)
    (Optim.stateOf<TraceState> opt).Momentum <- 0.5
    Assert.That((Optim.stateOf<TraceState> opt).Momentum, equalTo(0.5))
    // The steps use the new value: the same steps as an optimizer built with momentum 0.5.
    use oracle = smallModel 3
    use oracleOpt = Optim.bind oracle (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.5 } 0.1)
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    for _ in 1 .. 3 do
        trainStep model opt x y
        trainStep oracle oracleOpt x y
    for p, q in Seq.zip (model.parameters()) (oracle.parameters()) do Assert.That((same p q), Is.True)
    use unchanged = smallModel 3
    use unchangedOpt = Optim.bind unchanged (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1)
    for _ in 1 .. 3 do trainStep unchanged unchangedOpt x y
    Assert.That(Seq.exists2 (fun (p: Parameter) q -> not (same p q)) (model.parameters()) (unchanged.parameters()), Is.True,
                "momentum 0.9 would have given other weights")

[<Test>]
let ``One learning-rate type: a constant or a schedule, which replace each other as documented`` () =
    use model = smallModel 3
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    // A flat schedule steps exactly as the constant.
    use twin = smallModel 3
    use constant = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.05)
    use scheduled = Optim.bind twin (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } (Schedule.constant 0.05))
    for _ in 1 .. 3 do
        trainStep model constant x y
        trainStep twin scheduled x y
    for p, q in Seq.zip (model.parameters()) (twin.parameters()) do Assert.That((same p q), Is.True)
    Assert.That(constant.LearningRate.Value, equalTo(Nullable 0.05))
    Assert.That(not scheduled.LearningRate.Value.HasValue && not (isNull scheduled.LearningRate.Schedule), Is.True)
    // A schedule may replace a constant; it is asked for the step count so far (3), not restarted.
    constant |> Optim.setLearningRate (Schedule.exponential 1.0 0.5)
    trainStep model constant x y
    Assert.That(Optim.learningRate constant, equalTo(0.125))
    // A schedule may replace a schedule; a constant may not, and leaves it as it was.
    constant |> Optim.setLearningRate (Schedule.constant 0.3)
    trainStep model constant x y
    Assert.That(Optim.learningRate constant, equalTo(0.3))
    let e = throws<InvalidOperationException>(fun () -> constant |> Optim.setLearningRate 0.1)
    contains "Schedules.Constant" e.Message
    Assert.That(Optim.learningRate constant, equalTo(0.3))
    // A bad constant is refused where it is used, and changes nothing.
    use plain = Optim.bind twin (Optim.sgd 0.1)
    throws<ArgumentException>(fun () -> plain |> Optim.setLearningRate -1.0) |> ignore
    throws<ArgumentException>(fun () -> plain |> Optim.setLearningRate nan) |> ignore
    Assert.That(Optim.learningRate plain, equalTo(0.1))
    throws<InvalidOperationException>(fun () -> (Optim.bind twin (Optim.chain [ Optim.trace 0.9 false ])).LearningRate |> ignore) |> ignore

[<Test>]
let ``The momentum buffer is saved once it exists, and a load brings or drops it`` () =
    use x = torch.randn(16L, 4L)
    use y = torch.randint(3L, [| 16L |])
    let sgd momentum = Optim.sgdWith { Optim.sgdDefaults with Momentum = momentum } 0.1
    let copyWeights (source: torch.nn.Module) (target: torch.nn.Module) =
        using (torch.no_grad ()) (fun _ -> for p, w in Seq.zip (target.parameters()) (source.parameters()) do p.copy_(w) |> ignore)
    let save (o: Optimizer) = o.StateScalars(), o.StateTensors() |> List.ofSeq |> List.map (fun struct (n, v) -> struct (n, v.clone()))
    for savedMomentum, loadedMomentum in [ 0.9, 0.0; 0.0, 0.9 ] do
        use a = smallModel 5
        use optA = Optim.bind a (sgd savedMomentum)
        for _ in 1 .. 3 do trainStep a optA x y
        let scalars, tensors = save optA
        let names = tensors |> List.map (fun struct (n, _) -> n)
        if savedMomentum = 0.0 then Assert.That(names, Is.Empty)
        else Assert.That(names |> List.take 2, equalTo([ "1.momentum_buffer.0"; "1.momentum_buffer.1" ]))
        // The loading optimizer was built (and stepped) with the other momentum: same structure, other buffer state.
        use b = smallModel 6
        use optB = Optim.bind b (sgd loadedMomentum)
        trainStep b optB x y
        copyWeights a b
        optB.LoadState(scalars, tensors)
        Assert.That((Optim.stateOf<TraceState> optB).Momentum, equalTo(savedMomentum))
        Assert.That(isNull (Optim.stateOf<TraceState> optB).MomentumBuffer, equalTo(savedMomentum = 0.0))
        for _ in 1 .. 3 do
            trainStep a optA x y
            trainStep b optB x y
        for p, q in Seq.zip (a.parameters()) (b.parameters()) do Assert.That((same p q), Is.True)

[<Test>]
let ``A refused load changes nothing, and every problem is named`` () =
    use model = smallModel 2
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    use opt = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1)
    trainStep model opt x y
    let scalars = opt.StateScalars()
    let before = JsonSerializer.Serialize(scalars)
    let buffers = opt.StateTensors() |> Seq.map (fun struct (_, v) -> v.clone()) |> List.ofSeq
    // Momentum 0.5 in the saved scalars, but a buffer missing and one tensor too many: nothing is loaded.
    let edited = JsonSerializer.Deserialize<OptimizerScalars>(before.Replace("\"Momentum\":0.9", "\"Momentum\":0.5"))
    let tensors = opt.StateTensors() |> List.ofSeq |> List.tail |> List.append [ struct ("7.extra.0", torch.zeros(1L)) ]
    let e = throws<ArgumentException>(fun () -> opt.LoadState(edited, tensors))
    contains "missing '1.momentum_buffer.0'" e.Message
    contains "unexpected '7.extra.0'" e.Message
    Assert.That(JsonSerializer.Serialize(opt.StateScalars()), equalTo(before))
    Assert.That(allEqual (opt.StateTensors() |> Seq.map (fun struct (_, v) -> v)) buffers, Is.True)
    // Scalars of another kind of learning rate are refused too.
    use scheduled = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } (Schedule.constant 0.1))
    let e2 = throws<ArgumentException>(fun () -> scheduled.LoadState(scalars, opt.StateTensors()))
    contains "schedule" e2.Message

[<Test>]
let ``A state owns its tensors: they outlive the scope that made them and go with Dispose`` () =
    use g = new torch.Generator(1UL)
    let ps = makeParameters g
    let state = using (torch.NewDisposeScope()) (fun _ -> Optim.init ps (Optim.adam 0.1))
    let adam = (state :?> ChainState).Links.[1] :?> AdamState
    Assert.That(adam.ExpAvg |> Seq.forall (fun t -> not t.IsInvalid), Is.True)
    state.Dispose()
    Assert.That(Seq.append adam.ExpAvg adam.ExpAvgSq |> Seq.forall (fun t -> t.IsInvalid), Is.True)
    // The momentum buffer, made inside a step's scope, is the state's too.
    use model = smallModel 1
    let opt = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.1)
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    trainStep model opt x y
    let buffer = (Optim.stateOf<TraceState> opt).MomentumBuffer
    Assert.That(buffer |> Seq.forall (fun t -> not t.IsInvalid), Is.True)
    opt.Dispose()
    Assert.That(buffer |> Seq.forall (fun t -> t.IsInvalid), Is.True)
    ps |> List.iter (fun p -> p.Dispose())

[<Test>]
let ``ZeroGrad drops the gradients, and a step without gradients is a step with zero gradients`` () =
    use model = smallModel 3
    use opt = Optim.bind model (Optim.sgd 0.1)
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    (Loss.apply Loss.crossEntropy (model.call x) y).backward()
    Assert.That(model.parameters() |> Seq.forall (fun p -> not (isNull p.grad)), Is.True)
    opt.ZeroGrad()
    Assert.That(model.parameters() |> Seq.forall (fun p -> isNull p.grad), Is.True)
    let before = model.parameters() |> Seq.map (fun p -> p.detach().clone()) |> List.ofSeq
    opt.Step()
    for p, q in Seq.zip (model.parameters()) before do Assert.That((same p q), Is.True)

[<Test>]
let ``Invalid settings are refused as PyTorch refuses them`` () =
    throws<ArgumentException>(fun () -> Optim.sgdWith { Optim.sgdDefaults with Nesterov = true } 0.1 |> ignore) |> ignore
    throws<ArgumentException>(fun () -> Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9; Dampening = 0.1; Nesterov = true } 0.1 |> ignore) |> ignore
    throws<ArgumentException>(fun () -> Optim.sgd -1.0 |> ignore) |> ignore
    throws<ArgumentException>(fun () -> Optim.adamWith { Optim.adamDefaults with Beta1 = 1.0 } 0.1 |> ignore) |> ignore
    throws<ArgumentException>(fun () -> Optim.clipByGlobalNorm 0.0 |> ignore) |> ignore

[<Test>]
let ``ClipByGlobalNorm bounds the global norm and leaves small updates alone`` () =
    use scope = torch.NewDisposeScope()
    let ps = [ torch.zeros(3L); torch.zeros(2L) ]
    let big = [ torch.tensor([| 3.0f; 0.0f; 0.0f |]); torch.tensor([| 0.0f; 4.0f |]) ]  // norm 5
    let t = Optim.clipByGlobalNorm 1.0
    use s = Optim.init ps t
    let clipped = Optim.update (Updates.ofList big) s ps t |> Updates.toList
    Assert.That(Optimizers.GlobalNorm clipped, equalTo(1.0).Within(1e-6))
    Assert.That(clipped.Head.data<float32>().ToArray(), equalTo([| 0.6f; 0.0f; 0.0f |]).Within(1e-6))
    let small = [ torch.tensor([| 0.3f; 0.0f; 0.0f |]); torch.tensor([| 0.0f; 0.4f |]) ]
    Assert.That(allEqual (Optim.update (Updates.ofList small) s ps t |> Updates.toList) small, Is.True)

[<Property(MaxTest = 30)>]
let ``The facade's step adds the transformation's updates (the fused learning rate included)`` () =
    Prop.forAll chainCases (fun (picks, seed) ->
        use scope = torch.NewDisposeScope()
        use g = new torch.Generator(uint64 seed)
        let init = makeParameters g
        let transformation () = Optim.chain (picks |> List.map (fun (_, make) -> make ()))
        let ps = init |> List.map (fun t -> new Parameter(t.clone(), true))
        let manual = init |> List.map (fun t -> t.clone())
        use optimizer = (transformation ()).Bind(ps)
        let byHand = transformation ()
        use state = Optim.init manual byHand
        let mutable ok = true
        for _ in 1 .. 4 do
            let grads = shapes |> List.map (fun s -> torch.randn(s, generator = g))
            List.zip ps grads |> List.iter (fun (p, gr) -> p.grad <- gr.clone())
            optimizer.Step()
            // The fused add_(u, alpha) rounds once, the update by hand twice: compare within float32 rounding.
            let u = Optim.update (Updates.ofList grads) state manual byHand |> Updates.toList
            using (torch.no_grad ()) (fun _ -> List.iter2 (fun (m: torch.Tensor) (d: torch.Tensor) -> m.add_(d) |> ignore) manual u)
            if not (List.forall2 (fun (p: Parameter) (m: torch.Tensor) -> p.allclose(m, rtol = 1e-5, atol = 1e-6)) ps manual) then ok <- false
        ok)

[<Test>]
let ``A frozen parameter is left unchanged by the step`` () =
    use model = smallModel 4
    let frozen = Model.namedParameters model |> List.find (fun (n, _) -> n = "0.weight") |> snd
    frozen.requires_grad <- false
    let before = frozen.detach().clone()
    use opt = Optim.bind model (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9; WeightDecay = 0.1 } 0.1)
    use x = torch.randn(8L, 4L)
    use y = torch.randint(3L, [| 8L |])
    for _ in 1 .. 3 do trainStep model opt x y
    Assert.That(same frozen before, Is.True)
    let trained = Model.namedParameters model |> List.find (fun (n, _) -> n = "2.weight") |> snd
    Assert.That(trained.requires_grad, Is.True)
