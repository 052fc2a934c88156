/// `show-samples`: the tutorial's picture of Fashion-MNIST samples, written to PNG.
///   dotnet run --project Examples -c Release -- show-samples --out samples.png [--seed 0] [--test] [--root DIR] [--index N]
module Functional.Examples.Cli.ShowSamples

open System
open Functional.Data
open Functional.FSharp

let private usage =
    "show-samples [--out FILE.png] [--seed N] [--test] [--root DIR] [--index N]\n" +
    "  draws a 3x3 grid of random Fashion-MNIST samples titled with their classes (or, with --index, one sample)"

type private Options = { Out: string; Seed: int64; Train: bool; Root: string option; Index: int option }

let rec private parse (options: Options) (args: string list) =
    let number name (text: string) parser =
        match parser text with
        | true, v -> v
        | _ -> invalidArg name (sprintf "%s takes a number, got '%s'.\nusage: %s" name text usage)
    match args with
    | [] -> options
    | "--out" :: path :: rest -> parse { options with Out = path } rest
    | "--seed" :: n :: rest -> parse { options with Seed = number "--seed" n Int64.TryParse } rest
    | "--test" :: rest -> parse { options with Train = false } rest
    | "--train" :: rest -> parse { options with Train = true } rest
    | "--root" :: dir :: rest -> parse { options with Root = Some dir } rest
    | "--index" :: n :: rest -> parse { options with Index = Some (number "--index" n Int32.TryParse) } rest
    | other :: _ -> invalidArg "args" (sprintf "unknown or incomplete option '%s'.\nusage: %s" other usage)

let private draw (args: string[]) : int =
    let options = parse { Out = "samples.png"; Seed = 0L; Train = true; Root = None; Index = None } (List.ofArray args)
    use data = FashionMnist.load { FashionMnist.defaults with Train = options.Train; Root = options.Root }
    printfn "%O" data
    if data.Source.Kind = DataSource.ShippedSubset then
        printfn "(the small subset shipped with Functional; install dataset-fashion-mnist or pass --root for the full dataset)"
    match options.Index with
    | Some i ->
        if i < 0 || i >= data.Count then invalidArg "--index" (sprintf "--index is 0 to %d, got %d." (data.Count - 1) i)
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
