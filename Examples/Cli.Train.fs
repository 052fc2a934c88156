/// `train`: the main job. Trains the tutorial's network (784-512-512-10 with ReLU) on Fashion-MNIST
/// and prints exactly what the tutorial prints; checkpoints, resumes, and keeps records of the run.
module Functional.Examples.Cli.Train

open System
open System.Collections.Generic
open System.Globalization
open System.IO
open System.Text.Json
open TorchSharp
open Functional
open Functional.Data
open Functional.Models
open Functional.Optim
open Functional.Serialization
open Functional.Training
open Functional.Transforms

/// Where a split came from, in words.
let private sourceKind (data: FashionMnist) =
    match data.Source.Kind with
    | k when k = DataSource.ShippedSubset -> "the subset shipped with Functional (the full data set was not found: apt-get install dataset-fashion-mnist, or pass --data <folder>)"
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

/// The bounds of the numeric options: past them a run is a mistake (a batch size that overflows the
/// epoch's arithmetic, a learning rate that makes every weight infinite).
[<RequireQualifiedAccess>]
module Bounds =
    let epochs = 1, 100_000
    let batchSize = 1, 1 <<< 20
    let learningRate = 1e-12, 10.0

/// Checks --batch-size against its bounds (train and eval).
let checkBatchSize (value: int) =
    Options.inRange "--batch-size" (fst Bounds.batchSize) (snd Bounds.batchSize) $"1 or more (at most {snd Bounds.batchSize})" value

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
    let png = plt.GetImageBytes(900, 540, ScottPlot.ImageFormat.Png)
    AtomicFile.Write(full, fun stream -> stream.Write(png, 0, png.Length))
    full

/// The command's options, as parsed.
type Args =
    { Epochs: int
      BatchSize: int
      LearningRate: float
      Optimizer: string
      Seed: int64 option
      Device: string
      Data: string option
      ExtraReLU: bool
      Save: string option
      Plot: string option
      CheckpointDir: string option
      /// Also checkpoint after every this many batches of an epoch.
      CheckpointEvery: int option
      Resume: string option
      TensorBoard: string option
      Log: string option
      Distributed: bool
      Timeout: int
      /// The options typed on the command line (the others are defaults), by name.
      Given: Set<string> }

let private epochs = Options.int "--epochs" "Epochs to train (the last epoch, when resuming)" 10
let private batchSize = Options.batchSize ()
let private lr = Options.float "--lr" "Learning rate" 1e-3
let private optimizer = Options.textOr "--optimizer" "sgd|adam|adamw" "The optimizer" "sgd"
let private seed = Options.int64 "--seed" "Seeds the weights, dropout and shuffling: a CPU run then repeats exactly [default: none]"
let private device = Options.device ()
let private data = Options.data ()
let private extraReLU = Options.flag "--extra-relu" "Add the older tutorial's final ReLU"
let private save = Options.text "--save" "file" "Save the trained model (spec, weights and how it was trained) to this file"
let private plotOption = Options.text "--plot" "png" "Draw loss and accuracy per epoch to this PNG file"
let private checkpointDir = Options.text "--checkpoint-dir" "folder" "Save a checkpoint to this folder after every epoch (and every --checkpoint-every batches), atomically"
let private checkpointEvery =
    Options.optionalInt "--checkpoint-every" "Also save a checkpoint after every N batches of an epoch, from which --resume continues inside the epoch (with --checkpoint-dir; a resumed run keeps it) [default: at epochs' ends only]"
let private resume = Options.text "--resume" "folder" "Continue the run saved in this checkpoint folder, with its settings (give --epochs to train longer)"
let private tensorBoard = Options.text "--tensorboard" "folder" "Write TensorBoard event files to this folder (tensorboard --logdir DIR)"
let private log = Options.text "--log" "csv" "Write one CSV row per epoch to this file (epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds)"
let private distributed =
    Options.flag "--distributed"
        "Train on all processes of an MPI launch (mpiexec.mpich -n N dotnet <program>.dll train --distributed): each takes its share of every epoch, --batch-size samples a step, and the gradients are averaged; rank 0 prints and writes"
let private timeout =
    Options.int "--timeout" "With --distributed: seconds a process may wait for the others before it ends the job (one died, hung or was stopped)" 300

let private all : Options.CliOption list =
    [ epochs; batchSize; lr; optimizer; seed; device; data; extraReLU; save; plotOption; checkpointDir; checkpointEvery; resume; tensorBoard; log; distributed; timeout ]

/// Reads the parse result.
let read (r: System.CommandLine.ParseResult) =
    { Epochs = r.GetValue epochs
      BatchSize = r.GetValue batchSize
      LearningRate = r.GetValue lr
      Optimizer = r.GetValue(optimizer).ToLowerInvariant()
      Seed = r.GetValue seed |> Option.ofNullable
      Device = r.GetValue device
      Data = Options.tryValue data r
      ExtraReLU = r.GetValue extraReLU
      Save = Options.tryValue save r
      Plot = Options.tryValue plotOption r
      CheckpointDir = Options.tryValue checkpointDir r
      CheckpointEvery = r.GetValue checkpointEvery |> Option.ofNullable
      Resume = Options.tryValue resume r
      TensorBoard = Options.tryValue tensorBoard r
      Log = Options.tryValue log r
      Distributed = r.GetValue distributed
      Timeout = r.GetValue timeout
      Given = all |> List.filter (fun o -> Options.given o r) |> List.map (fun o -> o.Name) |> Set.ofList }

/// The checkpoint in a checkpoint folder.
let checkpointFile (folder: string) = Path.Combine(folder, "checkpoint.ckpt")

/// The settings of the run, beside the checkpoint: `--resume` continues with them.
let runFile (folder: string) = Path.Combine(folder, "run.json")

/// Checks the options, without touching the data or the model: every usage error is found before any work.
let validate (a: Args) =
    Options.inRange "--epochs" (fst Bounds.epochs) (snd Bounds.epochs) $"1 or more (at most {snd Bounds.epochs})" a.Epochs
    checkBatchSize a.BatchSize
    Options.inRange "--lr" (fst Bounds.learningRate) (snd Bounds.learningRate) "positive, 1e-12 to 10" a.LearningRate
    if not (List.contains a.Optimizer [ "sgd"; "adam"; "adamw" ]) then
        Options.usageError $"--optimizer expects sgd, adam or adamw, got '{a.Optimizer}'."
    Options.checkDevice a.Device
    Options.checkFolder "--data" a.Data
    Options.inRange "--timeout" 1 86_400 "1 to 86400 seconds" a.Timeout
    if a.Given.Contains "--timeout" && not a.Distributed then
        Options.usageError "--timeout applies to a distributed run: give --distributed too."
    a.CheckpointEvery |> Option.iter (fun n ->
        Options.inRange "--checkpoint-every" 1 Int32.MaxValue "1 or more (batches)" n
        if a.CheckpointDir.IsNone && a.Resume.IsNone then
            Options.usageError "--checkpoint-every needs --checkpoint-dir (the folder to save the checkpoints in), or --resume.")
    a.Resume |> Option.iter (fun folder ->
        if not (File.Exists(checkpointFile folder) && File.Exists(runFile folder)) then
            Options.usageError $"--resume expects a folder written by --checkpoint-dir, got '{folder}' (it has no {Path.GetFileName(checkpointFile folder)} and {Path.GetFileName(runFile folder)}).")

/// The run's settings, by name, as text: saved beside checkpoints, in the model file and in TensorBoard.
let hyperparameters (a: Args) =
    let r (x: float) = x.ToString("R", CultureInfo.InvariantCulture)
    [ "epochs", string a.Epochs
      "batch_size", string a.BatchSize
      "learning_rate", r a.LearningRate
      "optimizer", a.Optimizer
      "seed", (match a.Seed with Some s -> string s | None -> "none")
      "extra_relu", (if a.ExtraReLU then "true" else "false")
      "data", (match a.Data with Some d -> Path.GetFullPath d | None -> "") ]

/// The key in run.json of --checkpoint-every: how the run checkpoints, not how it trains, so not a hyperparameter.
let private checkpointEveryKey = "checkpoint_every"

/// A resumed run takes its settings from the checkpoint folder; an option typed now must agree with them
/// (except --epochs, which may grow to train longer).
let resumed (a: Args) =
    match a.Resume with
    | None -> a
    | Some folder ->
        let file = runFile folder
        let damaged (reason: string) : 'T = raise (InvalidDataException $"{file}: {reason}; it is written by train --checkpoint-dir.")
        let saved =
            try JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText file)
            with :? JsonException as e -> damaged $"not the settings of a run ({e.Message})"
        if isNull saved then damaged "not the settings of a run (null)"
        let get key = match saved.TryGetValue key with | true, v when not (isNull v) -> v | _ -> damaged $"no '{key}' setting"
        let number parse key = try parse (get key) with :? FormatException | :? OverflowException -> damaged $"the '{key}' setting is not a number"
        let now = dict (hyperparameters a)
        let check option key =
            if a.Given.Contains option && now[key] <> get key then
                Options.usageError $"{option} {now[key]} differs from the run in {folder} ({get key}): leave it out to continue that run."
        [ "--batch-size", "batch_size"; "--lr", "learning_rate"; "--optimizer", "optimizer"; "--seed", "seed"; "--extra-relu", "extra_relu"; "--data", "data" ]
        |> List.iter (fun (o, k) -> check o k)
        let savedEvery =
            match saved.TryGetValue checkpointEveryKey with
            | true, v when not (isNull v) && v <> "none" -> Some(number (fun s -> Int32.Parse(s, CultureInfo.InvariantCulture)) checkpointEveryKey)
            | _ -> None
        { a with
            Epochs = if a.Given.Contains "--epochs" then a.Epochs else number (fun s -> Int32.Parse(s, CultureInfo.InvariantCulture)) "epochs"
            CheckpointEvery = if a.Given.Contains "--checkpoint-every" then a.CheckpointEvery else savedEvery
            BatchSize = number (fun s -> Int32.Parse(s, CultureInfo.InvariantCulture)) "batch_size"
            LearningRate = number (fun s -> Double.Parse(s, CultureInfo.InvariantCulture)) "learning_rate"
            Optimizer = get "optimizer"
            Seed = (match get "seed" with "none" -> None | _ -> Some(number (fun s -> Int64.Parse(s, CultureInfo.InvariantCulture)) "seed"))
            ExtraReLU = (get "extra_relu" = "true")
            Data = (match get "data" with "" -> None | d -> Some d)
            CheckpointDir = Some(defaultArg a.CheckpointDir folder) }

/// Writes a small text file atomically (the library's AtomicFile: a temporary file renamed over it).
let private writeAtomically (path: string) (text: string) =
    let bytes = Text.Encoding.UTF8.GetBytes text
    AtomicFile.Write(path, fun stream -> stream.Write(bytes, 0, bytes.Length))

/// Writes one output of a finished run with `write`; when that fails now (a folder that became read-only, a full
/// disk, a path taken meanwhile), the same content goes to a fallback file beside it, or else in the temporary
/// folder, so that the run is not lost. Returns the line to report when the path asked for was not written.
let keep (name: string) (full: string) (what: string) (checkpoint: string option) (write: string -> unit) : string option =
    let failed (e: exn) = e :? IOException || e :? UnauthorizedAccessException
    try
        write full
        None
    with e when failed e ->
        let stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)
        let file = $"{Path.GetFileNameWithoutExtension full}.unsaved-{stamp}-{Environment.ProcessId}{Path.GetExtension full}"
        let candidates =
            [ match Path.GetDirectoryName full with
              | null | "" -> ()
              | folder -> Path.Combine(folder, file)
              Path.Combine(Path.GetTempPath(), file) ]
        let rec attempt (reasons: string list) = function
            | [] -> Error(List.rev reasons)
            | (c: string) :: rest ->
                try
                    write c
                    Ok c
                with e when failed e -> attempt (e.Message :: reasons) rest
        let reason = e.Message.TrimEnd('.')
        match attempt [] candidates with
        | Ok fallback -> Some $"could not write {name} {full} ({reason}); {what} was written to {fallback} instead: move it where you want it."
        | Error _ ->
            let still =
                match checkpoint with
                | Some c -> $"; the run's last checkpoint, {c}, still holds it (train --resume {Path.GetDirectoryName c} --save FILE writes it out)"
                | None -> ""
            Some $"could not write {name} {full} ({reason}), nor a copy beside it or in {Path.GetTempPath()}: {what} was not saved{still}."

/// A record of the run (--log, --tensorboard) whose file stops being writable once training runs (a full disk, a
/// folder made read-only) does not stop the training: the record stops there, and the line to report at the end
/// (which then exits 1) is added to `failures`. A path that cannot be written at the start still fails at once
/// (OnFitBegin is not guarded), before any epoch.
type private Record(inner: Callback, name: string, path: string, failures: ResizeArray<string>) =
    inherit Callback()
    let mutable live = true
    let unwritable (e: exn) = e :? IOException || e :? UnauthorizedAccessException
    let stop (context: TrainingContext) (e: exn) =
        if live then
            live <- false
            failures.Add $"could not write {name} {path} ({e.Message.TrimEnd('.')}) in epoch {context.Epoch}; the record stops there, the training went on."
    let guard (context: TrainingContext) (hook: unit -> unit) =
        if live then
            try hook () with e when unwritable e -> stop context e
    override _.OnFitBegin c = inner.OnFitBegin c
    override _.OnEpochBegin c = guard c (fun () -> inner.OnEpochBegin c)
    override _.OnBatchBegin c = guard c (fun () -> inner.OnBatchBegin c)
    override _.OnBatchEnd c = guard c (fun () -> inner.OnBatchEnd c)
    override _.OnEpochEnd c = guard c (fun () -> inner.OnEpochEnd c)
    // Always, stopped or not: it frees what the record holds (a failure already reported is not reported again).
    override _.OnFitEnd c =
        try inner.OnFitEnd c with e when unwritable e -> stop c e

/// The version of the library, from its informational version (without the source revision).
let libraryVersion () =
    let attribute =
        typeof<Trainer>.Assembly.GetCustomAttributes(typeof<Reflection.AssemblyInformationalVersionAttribute>, false)
        |> Seq.cast<Reflection.AssemblyInformationalVersionAttribute> |> Seq.tryHead
    match attribute with
    | Some a -> a.InformationalVersion.Split('+')[0]
    | None -> string (typeof<Trainer>.Assembly.GetName().Version)

/// The metadata a saved model carries: how it was trained, its final figures, the library and the data.
let metadata (a: Args) (history: History) (source: string) =
    let r (x: float) = x.ToString("R", CultureInfo.InvariantCulture)
    let last = history.Last
    readOnlyDict [
        yield! hyperparameters a |> List.map (fun (k, v) -> "hparams." + k, v)
        if not (isNull (box last)) then
            yield "metrics.epoch", string last.Epoch
            yield "metrics.train_loss", r last.TrainLoss
            if last.TestLoss.HasValue then yield "metrics.test_loss", r last.TestLoss.Value
            if last.TestAccuracy.HasValue then yield "metrics.test_accuracy", r last.TestAccuracy.Value
        yield "library", $"Functional {libraryVersion ()} (TorchSharp {typeof<torch>.Assembly.GetName().Version}, LibTorch {torch.__version__})"
        yield "data_source", source ]

/// Trains on the processes of `sync` (one, or the ranks of an MPI launch): every rank trains on its share, rank 0
/// alone prints, checks and writes outputs, checkpoints and records.
let private trainOn (sync: GradientSync) (a: Args) =
    let main = sync.IsMain
    let device = Devices.Check(Devices.Parse a.Device)
    // Every output path is checked before training (writable, a file, not the same as another), so a bad
    // path fails now, not after the epochs.
    let outputs =
        if main then
            Options.outputs "train"
                [ "--save", a.Save; "--plot", a.Plot; "--log", a.Log
                  "--checkpoint-dir", a.CheckpointDir |> Option.map checkpointFile ]
        else Map.empty
    let savePath = outputs.TryFind "--save"
    let plotPath = outputs.TryFind "--plot"
    let logPath = outputs.TryFind "--log"
    if main then
        a.CheckpointDir |> Option.iter (Directory.CreateDirectory >> ignore)
        a.TensorBoard |> Option.iter (Directory.CreateDirectory >> ignore)

    let train = loadSplit a.Data true
    let test = loadSplit a.Data false
    let source = describeSource train test
    if main then
        printfn "%s" source
        printfn "Using %O device" device
        if sync.WorldSize > 1 then
            printfn "Distributed: %d processes, %d samples a step each, %d in all; this is %O" sync.WorldSize a.BatchSize (a.BatchSize * sync.WorldSize) sync

    a.Seed |> Option.iter (fun s -> torch.manual_seed s |> ignore)
    let model = new NeuralNetwork(finalReLU = a.ExtraReLU)
    let transformation =
        match a.Optimizer with
        | "adam" -> Optimizers.Adam(a.LearningRate)
        | "adamw" -> Optimizers.AdamW(a.LearningRate)
        | _ -> Optimizers.Sgd(a.LearningRate)
    let checkpoint = a.CheckpointDir |> Option.map checkpointFile
    if main then
        a.CheckpointDir |> Option.iter (fun folder ->
            let settings = hyperparameters a @ [ checkpointEveryKey, (match a.CheckpointEvery with Some n -> string n | None -> "none") ]
            writeAtomically (runFile folder) (JsonSerializer.Serialize(dict settings, JsonSerializerOptions(WriteIndented = true))))
    let options =
        TrainerOptions(Device = device, Seed = Option.toNullable a.Seed, Progress = false, GradientSync = sync,
                       Checkpoint = Option.toObj checkpoint, CheckpointEveryBatches = Option.toNullable a.CheckpointEvery)
    // The trainer moves the model to the device, binds the optimizer, seeds the run and (distributed) gives every
    // rank rank 0's model and optimizer state.
    use trainer = new Trainer(model, Losses.CrossEntropy(), transformation, options)
    let trainLoader, testLoader =
        if sync.WorldSize > 1 then
            // Each rank its share: PyTorch's DistributedSampler (a seed drawn on rank 0 and shared when none is given).
            DataLoader(train, a.BatchSize, device = device, sampler = DistributedSampler(train.Count, sync, shuffle = true, seed = Option.toNullable a.Seed)).Map(Transform.ToTensor()),
            DataLoader(test, a.BatchSize, device = device, sampler = DistributedSampler(test.Count, sync, shuffle = false)).Map(Transform.ToTensor())
        else
            DataLoader(train, a.BatchSize, shuffle = true, seed = Option.toNullable a.Seed, device = device).Map(Transform.ToTensor()),
            DataLoader(test, a.BatchSize, device = device).Map(Transform.ToTensor())
    // Which step runs (issue 15): the fused step, or autograd and why.
    if main then printfn "Training step: %s" trainer.StepPath
    // A resume restores the weights, the optimizer's state, the generators and the history, and says where it continues.
    let resumeFrom =
        a.Resume |> Option.map (fun folder ->
            let file = checkpointFile folder
            let history = TrainingCheckpoint.Restore(file, model, trainer.Optimizer, trainLoader)
            if main then
                match history.Partial with
                | null -> printfn "Resuming after epoch %d from %s" history.Count file
                | p -> printfn "Resuming epoch %d after batch %d of %d from %s" p.Epoch p.BatchesDone p.BatchesPerEpoch file
            history)
    let recordFailures = ResizeArray<string>()
    let records : Callback list =
        [ yield! a.TensorBoard |> Option.filter (fun _ -> main)
                 |> Option.map (fun dir -> Record(Callback.TensorBoard(dir, Dictionary<string, string>(dict (hyperparameters a))), "--tensorboard", dir, recordFailures) :> Callback)
                 |> Option.toList
          yield! logPath |> Option.map (fun path -> Record(Callback.MetricsCsv path, "--log", path, recordFailures) :> Callback) |> Option.toList ]
    let history =
        if main then Progress.run (fun progress -> trainer.Fit(trainLoader, testLoader, a.Epochs, progress :: records, Option.toObj resumeFrom))
        else trainer.Fit(trainLoader, testLoader, a.Epochs, records, Option.toObj resumeFrom)

    // Training is done: from here a failed write must not lose it (see keep).
    let saved =
        savePath |> Option.bind (fun full ->
            keep "--save" full "the trained model" checkpoint (fun path ->
                ModelFile.Save(path, NeuralNetwork.Spec(a.ExtraReLU), [| 1L; 28L; 28L |], model, metadata a history source)
                if path = full then
                    printfn "Saved PyTorch Model State to %s (weights as safetensors, with the layer spec to rebuild the model)" full))
    let plotted =
        plotPath |> Option.bind (fun full ->
            keep "--plot" full "the plot" None (fun path ->
                plot path history |> ignore
                if path = full then printfn "Plot written to %s" full))
    match List.ofSeq recordFailures @ List.choose id [ saved; plotted ] with
    | [] -> 0
    | lines ->
        for line in lines do eprintfn "error: train: %s" (Options.printable line)
        1

/// Runs the command: on one process, or with --distributed on every process of an MPI launch. An error on one rank
/// of several is raised as RankFailed, so that the program prints it and ends the whole job; MPI is finalized only
/// after a run that every rank finished.
let run (given: Args) =
    let a = resumed given
    if not a.Distributed then trainOn GradientSync.None a
    else
        let sync = GradientSync.Mpi(TimeSpan.FromSeconds(float a.Timeout))
        let code =
            try trainOn sync a
            with e when sync.WorldSize > 1 -> raise (Options.RankFailed(sync, e))
        sync.Dispose()
        code

/// The command.
let command =
    System.CommandLine.Command("train", "Train the tutorial's network on Fashion-MNIST (the main job)")
    |> Options.withOptions all
    |> Options.setAction read validate run
