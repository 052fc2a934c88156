namespace Functional.FSharp

open Functional

/// Native loading and devices, for F# scripts and programs.
[<RequireQualifiedAccess>]
module Native =
    /// Loads LibTorch once (see Functional.Native.EnsureLoaded); every DSL function that touches
    /// tensors calls it, so a script rarely needs to.
    let ensureLoaded () = Functional.Native.EnsureLoaded()
