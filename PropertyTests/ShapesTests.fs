/// Shapes.cs: the one broadcasting rule, against LibTorch's own as the oracle.
module Functional.PropertyTests.ShapesTests

open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open TorchSharp
open Functional

[<OneTimeSetUp>]
let load () = Native.EnsureLoaded()

/// Shapes of rank 0 to 3 with sizes 1 to 3: small, and dense in the cases that matter (1 against n).
let private shapes =
    Gen.choose (0, 3) |> Gen.bind (fun rank -> Gen.arrayOfLength rank (Gen.choose (1, 3) |> Gen.map int64))

let private libTorchBroadcasts (a: int64[]) (b: int64[]) =
    use x = torch.zeros(a)
    use y = torch.zeros(b)
    try
        let results = torch.broadcast_tensors(x, y)
        for r in results do r.Dispose()
        true
    with _ -> false

let private libTorchExpands (source: int64[]) (target: int64[]) =
    use x = torch.zeros(source)
    try
        use e = x.expand(target)
        e.shape = target
    with _ -> false

[<Test>]
let ``Broadcastable agrees with LibTorch's broadcast_tensors`` () =
    Prop.forAll (Arb.fromGen (Gen.zip shapes shapes)) (fun (a, b) ->
        Shapes.Broadcastable(a, b) = libTorchBroadcasts a b)
    |> Check.QuickThrowOnFailure

[<Test>]
let ``BroadcastsTo agrees with LibTorch's expand to the target`` () =
    Prop.forAll (Arb.fromGen (Gen.zip shapes shapes)) (fun (source, target) ->
        Shapes.BroadcastsTo(source, target) = libTorchExpands source target)
    |> Check.QuickThrowOnFailure
