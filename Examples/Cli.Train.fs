/// `train`: the main job. Trains the tutorial's network (784-512-512-10 with ReLU) on Fashion-MNIST
/// and prints exactly what the tutorial prints.
module Functional.Examples.Cli.Train

open System
open TorchSharp
open Functional
open Functional.Data
open Functional.Models
open Functional.Optim
open Functional.Serialization
open Functional.Training
open Functional.Transforms

let private valued = [ "epochs"; "batch-size"; "lr"; "optimizer"; "seed"; "device"; "data"; "save"; "plot" ]
let private flags = [ "extra-relu" ]

/// The usage text of the command.
let usage =
    "train [--epochs 10] [--batch-size 64] [--lr 1e-3] [--optimizer sgd|adam|adamw] [--seed N] [--device auto|cpu|cuda[:N]]\n" +
    "      [--data <root>] [--save <model.safetensors>] [--plot <png>] [--extra-relu]"

/// Where a split came from, in words.
let private sourceKind (data: FashionMnist) =
    match data.Source.Kind with
    | k when k = DataSource.ShippedSubset -> "the subset shipped with Functional (the full data set was not found: apt-get install dataset-fashion-mnist, or pass --data <root>)"
    | k when k = DataSource.DebianPackage -> "the Debian package dataset-fashion-mnist"
    | k when k = DataSource.Downloaded -> "a download"
    | _ -> "the given root"

/// Where the data came from, in a sentence.
let describeSource (train: FashionMnist) (test: FashionMnist) =
    $"Fashion-MNIST: {train.Count} training and {test.Count} test images from {sourceKind train}, {train.Source.Folder}"

/// Where the test split came from, in a sentence (for commands that read only that split).
let describeTestSource (test: FashionMnist) =
    $"Fashion-MNIST: {test.Count} test images from {sourceKind test}, {test.Source.Folder}"

/// Draws train and test loss (left axis) and test accuracy (right axis) per epoch.
let plot (path: string) (history: History) =
    let epochs = history.Epochs |> Seq.map (fun m -> float m.Epoch) |> Array.ofSeq
    use plt = new ScottPlot.Plot()
    let trainLoss = plt.Add.Scatter(epochs, history.Epochs |> Seq.map (fun m -> m.TrainLoss) |> Array.ofSeq)
    trainLoss.LegendText <- "train loss"
    let tested = history.Epochs |> Seq.forall (fun m -> m.TestLoss.HasValue)
    if tested then
        let testLoss = plt.Add.Scatter(epochs, history.Epochs |> Seq.map (fun m -> m.TestLoss.Value) |> Array.ofSeq)
        testLoss.LegendText <- "test loss"
        let accuracy = plt.Add.Scatter(epochs, history.Epochs |> Seq.map (fun m -> 100.0 * m.TestAccuracy.Value) |> Array.ofSeq)
        accuracy.LegendText <- "test accuracy (%)"
        accuracy.Axes.YAxis <- plt.Axes.Right
        plt.Axes.Right.Label.Text <- "accuracy (%)"
    plt.Axes.Bottom.Label.Text <- "epoch"
    plt.Axes.Left.Label.Text <- "loss"
    plt.Title "Fashion-MNIST: loss and accuracy per epoch"
    plt.ShowLegend() |> ignore
    let full = IO.Path.GetFullPath path
    match IO.Path.GetDirectoryName full with
    | null | "" -> ()
    | folder -> IO.Directory.CreateDirectory folder |> ignore
    plt.SavePng(full, 900, 540) |> ignore
    full

/// Runs the command.
let run (args: string[]) =
    let o = Options.parse "train" valued flags args
    let epochs = Options.int "train" "epochs" 10 o
    let batchSize = Options.int "train" "batch-size" 64 o
    let lr = Options.float "train" "lr" 1e-3 o
    if epochs < 1 then invalidArg "epochs" $"train: --epochs must be 1 or more, got {epochs}."
    if batchSize < 1 then invalidArg "batch-size" $"train: --batch-size must be 1 or more, got {batchSize}."
    if not (lr > 0.0) then invalidArg "lr" $"train: --lr must be positive, got {lr}."
    let device = Options.device "train" o
    let seed = Options.string "seed" o |> Option.map (fun _ -> int64 (Options.int "train" "seed" 0 o))

    // The output folders are made before training, so a bad --save or --plot path fails now, not after the epochs.
    let outputPath name =
        Options.string name o |> Option.map (fun (path: string) ->
            let full = IO.Path.GetFullPath path
            match IO.Path.GetDirectoryName full with
            | null | "" -> ()
            | folder -> IO.Directory.CreateDirectory folder |> ignore
            full)
    let savePath = outputPath "save"
    let plotPath = outputPath "plot"

    let root = Options.folder "train" "data" o |> Option.toObj
    let train = FashionMnist.Load(root, train = true)
    let test = FashionMnist.Load(root, train = false)
    printfn "%s" (describeSource train test)
    printfn "Using %O device" device

    seed |> Option.iter (fun s -> torch.manual_seed s |> ignore)
    let model = new NeuralNetwork(finalReLU = Options.flag "extra-relu" o)
    let transformation =
        match (defaultArg (Options.string "optimizer" o) "sgd").ToLowerInvariant() with
        | "sgd" -> Optimizers.Sgd(lr)
        | "adam" -> Optimizers.Adam(lr)
        | "adamw" -> Optimizers.AdamW(lr)
        | other -> invalidArg "optimizer" $"train: --optimizer expects sgd, adam or adamw, got '{other}'."
    // The trainer moves the model to the device, binds the optimizer, seeds the run and prints the tutorial's lines.
    use trainer = new Trainer(model, Losses.CrossEntropy(), transformation, TrainerOptions(Device = device, Seed = Option.toNullable seed))
    let trainLoader = DataLoader(train, batchSize, shuffle = true, seed = Option.toNullable seed, device = device).Map(Transform.ToTensor())
    let testLoader = DataLoader(test, batchSize, device = device).Map(Transform.ToTensor())
    let history = trainer.Fit(trainLoader, testLoader, epochs)

    savePath |> Option.iter (fun full ->
        ModelFile.Save(full, NeuralNetwork.Spec(Options.flag "extra-relu" o), [| 1L; 28L; 28L |], model)
        printfn "Saved PyTorch Model State to %s (weights as safetensors, with the layer spec to rebuild the model)" full)
    plotPath |> Option.iter (fun path -> printfn "Plot written to %s" (plot path history))
    0
