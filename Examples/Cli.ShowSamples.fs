/// `show-samples`: the tutorial's picture of Fashion-MNIST samples, written to PNG.
module Functional.Examples.Cli.ShowSamples

open System
open Functional.Data
open Functional.FSharp

/// The command's options, as parsed.
type Args = { Out: string; Seed: int64; Test: bool; Data: string option; Index: int option }

let private out = Options.textOr "--out" "png" "The PNG file to write" "samples.png"
let private seed = Options.int64 "--seed" "Seeds the choice of the nine samples [default: 0]"
let private test = Options.flag "--test" "Draw from the test split instead of the training split"
let private data = Options.data ()
let private index = Options.optionalInt "--index" "Draw this one sample instead of a grid [default: a 3x3 grid]"

let private read (r: System.CommandLine.ParseResult) =
    { Out = r.GetValue out
      Seed = r.GetValue seed |> Option.ofNullable |> Option.defaultValue 0L
      Test = r.GetValue test
      Data = Options.tryValue data r
      Index = r.GetValue index |> Option.ofNullable }

let private validate (a: Args) = Options.checkFolder "--data" a.Data

let private run (a: Args) =
    let out = Options.outputFile "show-samples" "--out" a.Out
    use data = FashionMnist.load { FashionMnist.defaults with Train = not a.Test; Root = a.Data }
    printfn "%O" data
    if data.Source.Kind = DataSource.ShippedSubset then
        printfn "(the small subset shipped with Functional; install dataset-fashion-mnist or pass --data for the full dataset)"
    match a.Index with
    | Some i ->
        Options.inRange "--index" 0 (data.Count - 1) $"0 to {data.Count - 1}" i
        use sample = data[i]
        let name = FashionMnist.className sample.ClassIndex
        Pictures.saveImage out name sample.Features
        printfn "sample %d (%s) written to %s" i name out
    | None ->
        let indices = Pictures.saveGrid out a.Seed data
        let names = indices |> Array.map (fun i -> use s = data[i] in FashionMnist.className s.ClassIndex)
        printfn "samples %s (%s) written to %s" (String.Join(", ", indices)) (String.Join(", ", names)) out
    if not SamplePictures.HasFont then eprintfn "note: no font was found, so the picture has no titles"
    0

/// The command.
let command =
    System.CommandLine.Command("show-samples", "Draw a 3x3 grid of Fashion-MNIST samples (or one sample) to PNG")
    |> Options.withOptions [ out; seed; test; data; index ]
    |> Options.setAction read validate run
