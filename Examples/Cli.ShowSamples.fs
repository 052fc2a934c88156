/// `show-samples`: the tutorial's picture of Fashion-MNIST samples, written to PNG.
///   dotnet run --project Examples -c Release -- show-samples --out samples.png [--seed 0] [--test] [--root DIR] [--index N]
module Functional.Examples.Cli.ShowSamples

open System
open Functional.Data
open Functional.FSharp
open Functional.Examples.Cli

let private command = "show-samples"

let private draw (args: string[]) : int =
    // The command line's shared parser: unknown options, missing values and bad numbers are named the same way as in train.
    let o = Options.parse command [ "out"; "seed"; "root"; "index" ] [ "test"; "train" ] args
    let options =
        {| Out = Options.string "out" o |> Option.defaultValue "samples.png"
           Seed = int64 (Options.int command "seed" 0 o)
           Train = not (Options.flag "test" o)
           Root = Options.folder command "root" o
           Index = Options.string "index" o |> Option.map (fun _ -> Options.int command "index" 0 o) |}
    use data = FashionMnist.load { FashionMnist.defaults with Train = options.Train; Root = options.Root }
    printfn "%O" data
    if data.Source.Kind = DataSource.ShippedSubset then
        printfn "(the small subset shipped with Functional; install dataset-fashion-mnist or pass --root for the full dataset)"
    match options.Index with
    | Some i ->
        Options.inRange command "index" 0 (data.Count - 1) $"0 to {data.Count - 1}" i
        use sample = data[i]
        let name = FashionMnist.className sample.ClassIndex
        Pictures.saveImage options.Out name sample.Features
        printfn "sample %d (%s) written to %s" i name options.Out
    | None ->
        let indices = Pictures.saveGrid options.Out options.Seed data
        let names = indices |> Array.map (fun i -> use s = data[i] in FashionMnist.className s.ClassIndex)
        printfn "samples %s (%s) written to %s" (String.Join(", ", indices)) (String.Join(", ", names)) options.Out
    if not SamplePictures.HasFont then eprintfn "note: no font was found, so the picture has no titles"
    0

/// Runs the command; returns the exit code (1 when the data is missing or damaged, with the reason).
let run (args: string[]) : int =
    try draw args
    with
    | :? DatasetNotFoundException as e -> eprintfn "%s" e.Message; 1
    | :? System.IO.InvalidDataException as e -> eprintfn "error: %s" e.Message; 1
