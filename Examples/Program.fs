/// The command line of the examples: `dotnet run --project Examples -c Release -- <command> [options]`.
/// Each command lives in its own file (Cli.*.fs) and is registered in `commands` below.
module Functional.Examples.Program

open System
open Functional

/// A command: its name, a one-line description, and its entry point (arguments after the name).
type Command = { Name: string; Summary: string; Run: string[] -> int }

/// Touches LibTorch: makes a tensor, multiplies, prints where it ran.
let smoke (_: string[]) =
    Native.EnsureLoaded()
    use a = TorchSharp.torch.ones(2L, 3L)
    use b = a.matmul(a.t())
    printfn "LibTorch %s loaded from %s" TorchSharp.torch.__version__ (defaultArg (Option.ofObj Native.LoadedFrom) "TorchSharp's own search")
    printfn "ones(2, 3) @ ones(3, 2) = %s" (b.ToString(TorchSharp.TensorStringStyle.Numpy))
    printfn "%s" (Devices.Describe())
    0

let commands : Command list =
    [
      { Name = "train"; Summary = "train the tutorial's network on Fashion-MNIST (the main job)"; Run = Cli.Train.run }
      { Name = "eval"; Summary = "accuracy and average loss of a saved model on the test split (--model FILE)"; Run = Cli.Evaluate.runEval }
      { Name = "predict"; Summary = "class and probabilities of test image N (--model FILE --index N)"; Run = Cli.Evaluate.runPredict }
      { Name = "smoke"; Summary = "load LibTorch and multiply two small matrices"; Run = smoke }
      { Name = "show-samples"; Summary = "draw a 3x3 grid of Fashion-MNIST samples to PNG (--out FILE)"; Run = Cli.ShowSamples.run }
    ]

let usage () =
    eprintfn "usage: dotnet run --project Examples -c Release -- <command> [options]"
    eprintfn "commands:"
    for c in commands do eprintfn "  %-14s %s" c.Name c.Summary

/// An ArgumentException's message without .NET's " (Parameter 'x')" suffix: the CLI's messages
/// already name the option.
let withoutParameterName (e: ArgumentException) =
    match e.ParamName with
    | null -> e.Message
    | name -> e.Message.Replace($" (Parameter '{name}')", "")

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | [] -> usage (); 2
    | ("-h" | "--help" | "help") :: _ -> usage (); 0
    | name :: rest ->
        match commands |> List.tryFind (fun c -> c.Name = name) with
        | Some c ->
            try c.Run (Array.ofList rest)
            with
            | :? ArgumentException as e -> eprintfn "error: %s" (withoutParameterName e); 2
            | :? NativeLoadException as e -> eprintfn "%s" e.Message; 3
            // A damaged or missing file (model, checkpoint, data): the message names the file.
            | :? IO.InvalidDataException
            | :? IO.IOException
            | :? UnauthorizedAccessException as e -> eprintfn "error: %s" e.Message; 1
            // What the machine or the run cannot do: CUDA asked for without CUDA, a loss that became NaN.
            | :? InvalidOperationException as e -> eprintfn "error: %s" e.Message; 1
        | None -> eprintfn "unknown command '%s'" name; usage (); 2
