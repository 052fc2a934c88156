/// `info`: what this program runs on (the library, LibTorch, the devices) and, with `--model FILE`, what a
/// model file holds: how it was trained, its final figures, the printed model and its parameter counts.
module Functional.Examples.Cli.Info

open System
open System.IO
open TorchSharp
open Functional
open Functional.Layers
open Functional.Serialization

/// The command's options, as parsed.
type Args = { Model: string option }

let private model = Options.text "--model" "file" "A model file written by train --save: print how it was trained, the model and its parameters"

let private read (r: System.CommandLine.ParseResult) = { Model = Options.tryValue model r }

let private validate (a: Args) =
    a.Model |> Option.iter (fun path ->
        if not (File.Exists path) then Options.usageError $"the model file '{path}' does not exist; write one with: train --save {path}")

/// The library, LibTorch and where it was loaded from, a product computed by LibTorch, the devices.
let private describeEnvironment () =
    Native.EnsureLoaded()
    use a = torch.ones(2L, 3L)
    use b = a.matmul(a.t())
    printfn "Functional %s, TorchSharp %O" (Train.libraryVersion ()) (typeof<torch>.Assembly.GetName().Version)
    printfn "LibTorch %s loaded from %s" torch.__version__ (defaultArg (Option.ofObj Native.LoadedFrom) "TorchSharp's own search")
    printfn "ones(2, 3) @ ones(3, 2) = %s" (b.ToString(TensorStringStyle.Numpy))
    printfn "%s" (Devices.Describe())

/// The model file's training record (metadata), the printed model and its parameters.
let private describeModel (path: string) =
    use content = SafeTensors.Read path
    use net = ModelFile.Load path
    let metadata = content.Metadata
    printfn ""
    printfn "Model file: %s" (Path.GetFullPath path)
    let section (title: string) (prefix: string) =
        let rows = metadata |> Seq.filter (fun kv -> kv.Key.StartsWith prefix) |> Seq.sortBy (fun kv -> kv.Key) |> List.ofSeq
        if not rows.IsEmpty then
            printfn "%s:" title
            for kv in rows do printfn "  %-16s %s" (kv.Key.Substring prefix.Length) kv.Value
    let single (title: string) key =
        match metadata.TryGetValue key with
        | true, v -> printfn "%s: %s" title v
        | _ -> ()
    single "Saved by" "library"
    single "Data" "data_source"
    section "Hyperparameters" "hparams."
    section "Final metrics" "metrics."
    if not (metadata.ContainsKey "library") then
        printfn "(no training record: the file was not written by train --save)"
    printfn "%s" (ModelFormat.Format net)
    let parameters = ModelFormat.NamedParameters net
    printfn "Parameters:"
    for p in parameters do printfn "  %-28s %-12s %10s" p.Name p.Size (p.Count.ToString("N0", Globalization.CultureInfo.InvariantCulture))
    let total = parameters |> Seq.sumBy (fun p -> p.Count)
    let trainable = parameters |> Seq.filter (fun p -> p.Value.requires_grad) |> Seq.sumBy (fun p -> p.Count)
    printfn "Total: %s parameters (%s trainable)" (total.ToString("N0", Globalization.CultureInfo.InvariantCulture)) (trainable.ToString("N0", Globalization.CultureInfo.InvariantCulture))

let private run (a: Args) =
    describeEnvironment ()
    a.Model |> Option.iter describeModel
    0

/// The command.
let command =
    System.CommandLine.Command("info", "The library, LibTorch and devices this program runs on; with --model, what a model file holds")
    |> Options.withOptions [ model ]
    |> Options.setAction read validate run
