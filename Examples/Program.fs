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

/// A message fit to print: LibTorch's C++ frames ("Exception raised from ..." and what follows, TorchSharp's
/// ExternalException) cut off, and control characters (from file or tensor names) escaped; line breaks of a
/// message written with several lines stay.
let printable (message: string) =
    let cut = message.IndexOf("Exception raised from", StringComparison.Ordinal)
    let message = (if cut >= 0 then message.Substring(0, cut) else message).TrimEnd()
    message
    |> String.collect (fun c ->
        if c = '\n' then "\n"
        elif Char.IsControl c then sprintf "\\u%04x" (int c)
        else string c)

/// The error line(s) and the exit code of what a command raised: 2 for a usage error, 1 for everything that
/// went wrong after the command line was understood (bad data, a model that does not fit, a failed save).
let report (e: exn) =
    match e with
    | Cli.Options.UsageError message -> $"error: {printable message}", 2
    | :? NativeLoadException as e -> printable e.Message, 3
    // LibTorch's own errors: their first line only.
    | :? Runtime.InteropServices.ExternalException as e ->
        let first = (printable e.Message).Split('\n')[0]
        $"error: {first}", 1
    | :? ArgumentException as e -> $"error: {printable (withoutParameterName e)}", 1
    // Its first line says what is missing where; the lines after it list every way to get the data.
    | :? Data.DatasetNotFoundException as e -> $"error: {(printable e.Message).Split('\n')[0]}", 1
    | e -> $"error: {printable e.Message}", 1

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | [] -> usage (); 2
    | ("-h" | "--help" | "help") :: _ -> usage (); 0
    | name :: rest ->
        match commands |> List.tryFind (fun c -> c.Name = name) with
        | Some c ->
            try c.Run (Array.ofList rest)
            with e ->
                let message, code = report e
                eprintfn "%s" message
                code
        | None -> eprintfn "unknown command '%s'" name; usage (); 2
