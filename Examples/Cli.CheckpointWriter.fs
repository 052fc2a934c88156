/// `write-checkpoints <folder> <count> [--start N]`: saves checkpoints N = start, start+1, ... to
/// <folder>/latest.safetensors, one after the other, and prints N after each completed save.
/// The kill test (Core.Tests/KillTests.cs) kills this process at random moments and checks that the
/// latest checkpoint always loads and is one that was completed: atomic saves, seen from outside.
module Functional.Examples.Cli.CheckpointWriter

open System
open System.Collections.Generic
open System.IO
open TorchSharp
open Functional
open Functional.Serialization

/// The recognisable content: 16 tensors w0..w15 of 65,536 float32 each (4 MB), all filled with N, so that a
/// save takes long enough, and is written in enough pieces, to be interrupted.
let tensorCount = 16
let tensorLength = 65_536L

/// Runs the command; returns the exit code.
let run (argv: string[]) : int =
    let folder, count, start =
        match List.ofArray argv with
        | [ folder; count ] -> folder, count, "1"
        | [ folder; count; "--start"; start ] -> folder, count, start
        | _ -> invalidArg (nameof argv) "usage: write-checkpoints <folder> <count> [--start N]"
    let parse (name: string) (text: string) =
        match Int64.TryParse text with
        | true, v when v >= 0L -> v
        | _ -> invalidArg name (sprintf "%s must be a non-negative integer, got '%s'" name text)
    let count = parse "count" count
    let start = parse "start" start
    if not (Directory.Exists folder) then invalidArg (nameof folder) (sprintf "the folder '%s' does not exist; create it first" folder)
    Native.EnsureLoaded()
    let path = Path.Combine(folder, "latest.safetensors")
    for n in start .. start + count - 1L do
        use _scope = torch.NewDisposeScope()
        let model = Dictionary<string, torch.Tensor>()
        for i in 0 .. tensorCount - 1 do
            model.[sprintf "w%d" i] <- torch.full([| tensorLength |], TorchSharp.Scalar.op_Implicit (float32 n), dtype = torch.float32)
        let metadata = Dictionary<string, string>()
        metadata.["step"] <- string n
        use checkpoint = new Checkpoint(Model = model, Epoch = n, Metadata = metadata)
        checkpoint.Save(path)
        printfn "%d" n
    0
