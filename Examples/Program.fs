module Functional.Examples.Program

open Functional

[<EntryPoint>]
let main argv =
    Native.EnsureLoaded()
    let t = TorchSharp.torch.ones(2L, 3L)
    printfn "%s" (t.ToString(TorchSharp.TensorStringStyle.Julia))
    0
