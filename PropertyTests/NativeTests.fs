module Functional.PropertyTests.NativeTests

open NUnit.Framework
open Functional

[<Test>]
let ``LibTorch loads and computes`` () =
    Native.EnsureLoaded()
    use t = TorchSharp.torch.ones(2L, 3L)
    Assert.That(t.sum().item<float32>(), Is.EqualTo(6.0f))
