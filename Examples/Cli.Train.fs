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

/// Where the data came from, in a sentence (each split's source when they differ).
let describeSource (train: FashionMnist) (test: FashionMnist) =
    if train.Source = test.Source then
        $"Fashion-MNIST: {train.Count} training and {test.Count} test images from {sourceKind train}, {train.Source.Folder}"
    else
        $"Fashion-MNIST: {train.Count} training images from {sourceKind train}, {train.Source.Folder}, and {test.Count} test images from {sourceKind test}, {test.Source.Folder}"

/// Where the test split came from, in a sentence (for commands that read only that split).
let describeTestSource (test: FashionMnist) =
    $"Fashion-MNIST: {test.Count} test images from {sourceKind test}, {test.Source.Folder}"

/// A split of Fashion-MNIST: from the folder given with --data and from nowhere else (a split it lacks is an
/// error naming the missing file), or without it from the usual search (Debian package, then the shipped subset).
let loadSplit (data: string option) (train: bool) =
    match data with
    | Some root -> new FashionMnist(root, train = train, searchSystem = false)
    | None -> FashionMnist.Load(null, train = train)

/// The options of `train`, parsed; `validate` checks them whatever parsed them.
type TrainOptions =
    { Epochs: int
      BatchSize: int
      LearningRate: float
      Optimizer: string
      Seed: int64 option
      Data: string option
      Save: string option
      Plot: string option
      ExtraReLU: bool }

/// The bounds of the numeric options: past them a run is a mistake (a batch size that overflows the
/// epoch's arithmetic, a learning rate that makes every weight infinite).
[<RequireQualifiedAccess>]
module Bounds =
    let epochs = 1, 100_000
    let batchSize = 1, 1 <<< 20
    let learningRate = 1e-12, 10.0

/// Checks the options against their bounds; a UsageError (exit 2) names the first that is out.
let validate (o: TrainOptions) =
    Options.inRange "train" "epochs" (fst Bounds.epochs) (snd Bounds.epochs) $"1 or more (at most {snd Bounds.epochs})" o.Epochs
    Options.inRange "train" "batch-size" (fst Bounds.batchSize) (snd Bounds.batchSize) $"1 or more (at most {snd Bounds.batchSize})" o.BatchSize
    Options.inRange "train" "lr" (fst Bounds.learningRate) (snd Bounds.learningRate) "positive, 1e-12 to 10" o.LearningRate
    match o.Optimizer.ToLowerInvariant() with
    | "sgd" | "adam" | "adamw" -> ()
    | other -> Options.usage $"train: --optimizer expects sgd, adam or adamw, got '{other}'."

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
    let options =
        { Epochs = Options.int "train" "epochs" 10 o
          BatchSize = Options.int "train" "batch-size" 64 o
          LearningRate = Options.float "train" "lr" 1e-3 o
          Optimizer = defaultArg (Options.string "optimizer" o) "sgd"
          Seed = Options.string "seed" o |> Option.map (fun _ -> int64 (Options.int "train" "seed" 0 o))
          Data = Options.folder "train" "data" o
          Save = Options.string "save" o
          Plot = Options.string "plot" o
          ExtraReLU = Options.flag "extra-relu" o }
    validate options
    let device = Options.device "train" o

    // Every output path is checked before training (writable, a file, not the same as another), so a bad
    // --save or --plot path fails now, not after the epochs.
    let outputs = Options.outputs "train" [ "save", options.Save; "plot", options.Plot ]
    let savePath = outputs.TryFind "save"
    let plotPath = outputs.TryFind "plot"

    let train = loadSplit options.Data true
    let test = loadSplit options.Data false
    printfn "%s" (describeSource train test)
    printfn "Using %O device" device

    options.Seed |> Option.iter (fun s -> torch.manual_seed s |> ignore)
    let model = new NeuralNetwork(finalReLU = options.ExtraReLU)
    let lr = options.LearningRate
    let transformation =
        match options.Optimizer.ToLowerInvariant() with
        | "adam" -> Optimizers.Adam(lr)
        | "adamw" -> Optimizers.AdamW(lr)
        | _ -> Optimizers.Sgd(lr)
    // The trainer moves the model to the device, binds the optimizer, seeds the run and prints the tutorial's lines.
    use trainer = new Trainer(model, Losses.CrossEntropy(), transformation, TrainerOptions(Device = device, Seed = Option.toNullable options.Seed))
    let trainLoader = DataLoader(train, options.BatchSize, shuffle = true, seed = Option.toNullable options.Seed, device = device).Map(Transform.ToTensor())
    let testLoader = DataLoader(test, options.BatchSize, device = device).Map(Transform.ToTensor())
    let history = trainer.Fit(trainLoader, testLoader, options.Epochs)

    savePath |> Option.iter (fun full ->
        ModelFile.Save(full, NeuralNetwork.Spec(options.ExtraReLU), [| 1L; 28L; 28L |], model)
        printfn "Saved PyTorch Model State to %s (weights as safetensors, with the layer spec to rebuild the model)" full)
    plotPath |> Option.iter (fun path -> printfn "Plot written to %s" (plot path history))
    0
