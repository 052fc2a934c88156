module Functional.PropertyTests.SchedulesTests

open System
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

[<Test>]
let ``Schedules equal their formulas at hand-picked steps`` () =
    let at s step = Schedule.at step s
    let cos = Schedule.cosine 1.0 10L
    Assert.That(at cos 0L, equalTo(1.0))
    Assert.That(at cos 5L, equalTo(0.5).Within(1e-15))
    Assert.That(at cos 10L, equalTo(0.0).Within(1e-15))
    Assert.That(at cos 25L, equalTo(0.0).Within(1e-15))
    Assert.That(at (Schedule.cosineTo 0.1 1.0 10L) 5L, equalTo(0.55).Within(1e-15))
    let step = Schedule.step 1.0 3L 0.5
    Assert.That([ 0L .. 7L ] |> List.map (at step), equalTo([ 1.0; 1.0; 1.0; 0.5; 0.5; 0.5; 0.25; 0.25 ]))
    Assert.That(at (Schedule.exponential 2.0 0.5) 3L, equalTo(0.25))
    Assert.That([ 0L .. 4L ] |> List.map (at (Schedule.linear 1.0 0.0 4L)), equalTo([ 1.0; 0.75; 0.5; 0.25; 0.0 ]))
    let warm = Schedule.linearWarmup 0.8 4L (Schedule.constant 0.3)
    Assert.That([ 0L .. 5L ] |> List.map (at warm), equalTo([ 0.0; 0.2; 0.4; 0.6; 0.3; 0.3 ]).Within(1e-15))
    let warmCos = Schedule.linearWarmup 1.0 2L (Schedule.cosine 1.0 4L)
    Assert.That(at warmCos 2L, equalTo(1.0))
    Assert.That(at warmCos 4L, equalTo(0.5).Within(1e-15))
    // One cycle, max 1, 100 steps: starts at 1/25, peaks at step 29 (0.3·100 - 1), ends at 1/25/1e4 at step 99.
    let one = Schedule.oneCycle 1.0 100L
    Assert.That(at one 0L, equalTo(0.04).Within(1e-15))
    Assert.That(at one 29L, equalTo(1.0).Within(1e-15))
    Assert.That(at one 99L, equalTo(4e-6).Within(1e-15))
    Assert.That(at one 64L, equalTo((1.0 + 4e-6) / 2.0).Within(1e-12))  // half way down: cos(π/2) = 0
    let joined = Schedule.join [ Schedule.constant 1.0; Schedule.exponential 0.5 0.5 ] [ 3L ]
    Assert.That([ 0L .. 4L ] |> List.map (at joined), equalTo([ 1.0; 1.0; 1.0; 0.5; 0.25 ]))

/// The learning rate TorchSharp's scheduler sets for each of `steps` steps.
let private torchRates (makeScheduler: torch.optim.Optimizer -> torch.optim.lr_scheduler.LRScheduler) (lr: float) (steps: int) =
    use p = new Parameter(torch.zeros(1L), true)
    use opt = torch.optim.SGD([ p ], lr)
    let scheduler = makeScheduler opt
    [ for _ in 1 .. steps do
        yield (opt.ParamGroups |> Seq.head).LearningRate
        scheduler.step() ]

let private closeLists (expected: float list) (actual: float list) =
    List.length expected = List.length actual
    && List.forall2 (fun e a -> abs (e - a) <= 1e-9 * max 1.0 (abs e)) expected actual

let private params' = Gen.map3 (fun a b c -> a, b, c) (Gen.choose (1, 10)) (Gen.choose (1, 9)) (Gen.choose (1, 100)) |> Arb.fromGen

[<Property(MaxTest = 20)>]
let ``Step, exponential and cosine schedules equal TorchSharp's StepLR, ExponentialLR and CosineAnnealingLR`` () =
    Prop.forAll params' (fun (stepSize, g10, lr100) ->
        let lr, gamma = float lr100 / 100.0, float g10 / 10.0
        let n = 30
        let ours s = [ for t in 0L .. int64 n - 1L -> Schedule.at t s ]
        closeLists (torchRates (fun o -> torch.optim.lr_scheduler.StepLR(o, stepSize, gamma)) lr n) (ours (Schedule.step lr (int64 stepSize) gamma))
        && closeLists (torchRates (fun o -> torch.optim.lr_scheduler.ExponentialLR(o, gamma)) lr n) (ours (Schedule.exponential lr gamma))
        && closeLists (torchRates (fun o -> torch.optim.lr_scheduler.CosineAnnealingLR(o, float (stepSize + 10))) lr 10)
                      [ for t in 0L .. 9L -> Schedule.at t (Schedule.cosine lr (int64 stepSize + 10L)) ])

[<Property(MaxTest = 20)>]
let ``OneCycle equals TorchSharp's OneCycleLR (learning rate, two phases, cosine)`` () =
    Prop.forAll params' (fun (a, b, c) ->
        let total = 10 + c
        let maxLr = float a / 10.0
        let pct = 0.1 + float b / 20.0
        let theirs = torchRates (fun o -> torch.optim.lr_scheduler.OneCycleLR(o, maxLr, total, pct_start = pct, cycle_momentum = false)) 1.0 total
        let ours = [ for t in 0L .. int64 total - 1L -> Schedule.at t (Schedules.OneCycle(maxLr, int64 total, pct)) ]
        closeLists theirs ours)

[<Property(MaxTest = 30)>]
let ``A cosine schedule decreases and stays between its minimum and its start`` () =
    Prop.forAll params' (fun (a, b, c) ->
        let s = Schedule.cosineTo (float b / 100.0) (float a) (int64 c)
        let values = [ for t in 0L .. int64 c + 2L -> Schedule.at t s ]
        values |> List.pairwise |> List.forall (fun (x, y) -> y <= x + 1e-12)
        && values |> List.forall (fun v -> v >= float b / 100.0 - 1e-12 && v <= float a + 1e-12))
