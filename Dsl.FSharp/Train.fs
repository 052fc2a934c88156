namespace Functional.FSharp

open System
open System.IO
open TorchSharp
open Functional
open Functional.Data
open Functional.Optim
open Functional.Training

/// Callbacks for `Train.fit`: they receive the loop's events (fit, epoch and batch begin and end),
/// each with the fit's `TrainingContext` (model, optimizer, epoch, batch, loss, history).
/// Each function returns a new callback, so one can be given to one fit only when it keeps state
/// (early stopping, progress); make another for the next fit.
///
///     { Train.defaults with Callbacks = [ Callback.earlyStopping Monitor.TestLoss 3
///                                         Callback.onBatchEnd (fun e -> losses.Add e.Loss) ] }
[<RequireQualifiedAccess>]
module Callback =
    /// The tutorial's printout on the console: `Epoch 1`, `loss: 2.306926  [    0/60000]` every 100
    /// batches, `Test Error: ` / ` Accuracy: 52.3%, Avg loss: 2.200312 ` and `Done!` (with a progress
    /// bar between the lines on an interactive terminal). `Train.defaults` already adds one.
    let progress () : Callback = Callback.Progress()

    /// The tutorial's printout to `output`, a loss line every `every` batches, without a progress bar.
    let progressTo (every: int) (output: TextWriter) : Callback =
        if isNull output then nullArg (nameof output)
        Callback.Progress(output, every, false)

    /// Stops training when the watched figure (`Monitor.TestLoss`, `Monitor.TestAccuracy` or
    /// `Monitor.TrainLoss`, from Functional.Training) has not improved for `patience` epochs in a row.
    let earlyStopping (monitor: Monitor) (patience: int) : Callback = Callback.EarlyStopping(monitor, patience)

    /// Early stopping where a change counts as an improvement only when it is larger than `minDelta`.
    let earlyStoppingWith (minDelta: float) (monitor: Monitor) (patience: int) : Callback =
        Callback.EarlyStopping(monitor, patience, minDelta)

    /// Saves a training checkpoint (weights, optimizer state, epoch, generators, history) to `path`
    /// after every epoch. Pass the training loader so that its shuffling is saved too; resume with
    /// `{ options with Resume = Some path }`.
    let checkpoint (path: string) (loader: IDataLoader) : Callback = Callback.Checkpoint(path, loader)

    /// Saves a training checkpoint after every `every`-th epoch.
    let checkpointEvery (every: int) (path: string) (loader: IDataLoader) : Callback = Callback.Checkpoint(path, loader, every)

    /// Saves a training checkpoint after every epoch and after every `batches`-th batch inside each epoch;
    /// a run resumed from one saved inside an epoch (`{ options with Resume = Some path }`) continues
    /// that epoch at its next batch, in the same batch order.
    let checkpointEveryBatches (batches: int) (path: string) (loader: IDataLoader) : Callback =
        Callback.Checkpoint(path, loader, everyBatches = Nullable batches)

    /// Writes TensorBoard event files into `logDir` (`tensorboard --logdir logDir`): the loss of every
    /// step, and per epoch the test loss and accuracy and the learning rate (`Callback.TensorBoard`).
    let tensorBoard (logDir: string) : Callback = Callback.TensorBoard(logDir)

    /// `tensorBoard` that also writes the hyperparameters, as a text summary (`hparams`).
    let tensorBoardWith (hyperparameters: (string * string) list) (logDir: string) : Callback =
        Callback.TensorBoard(logDir, dict hyperparameters |> Collections.Generic.Dictionary)

    /// Writes the history to a CSV file after every epoch, atomically: one row per epoch under the
    /// header `epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds` (`Callback.MetricsCsv`).
    let metricsCsv (path: string) : Callback = Callback.MetricsCsv(path)

    /// Sets the learning rate at the start of each epoch from the 1-based epoch (PyTorch's epoch-wise
    /// lr_scheduler); per-step schedules belong in the optimizer (`Optim.sgd (Schedule.cosine 0.1 1000L)`).
    let learningRate (byEpoch: int -> float) : Callback = Callback.LearningRate(Func<int, float> byEpoch)

    /// Calls `f` once before the first epoch.
    let onFitBegin (f: TrainingContext -> unit) : Callback = Callback.Create(onFitBegin = Action<TrainingContext> f)

    /// Calls `f` before each epoch.
    let onEpochBegin (f: TrainingContext -> unit) : Callback = Callback.Create(onEpochBegin = Action<TrainingContext> f)

    /// Calls `f` before each training batch's forward pass.
    let onBatchBegin (f: TrainingContext -> unit) : Callback = Callback.Create(onBatchBegin = Action<TrainingContext> f)

    /// Calls `f` after each training batch's optimizer step, with the batch's loss (`e.Loss`).
    let onBatchEnd (f: TrainingContext -> unit) : Callback = Callback.Create(onBatchEnd = Action<TrainingContext> f)

    /// Calls `f` after each epoch's training and evaluation, with its metrics (`e.Metrics`).
    /// Call `e.RequestStop reason` to end training there.
    let onEpochEnd (f: TrainingContext -> unit) : Callback = Callback.Create(onEpochEnd = Action<TrainingContext> f)

    /// Calls `f` once after the last epoch, or after a stop.
    let onFitEnd (f: TrainingContext -> unit) : Callback = Callback.Create(onFitEnd = Action<TrainingContext> f)

/// The optimisation loop: `Train.fit` runs the tutorial's train_loop and test_loop for each epoch
/// through the core's `Trainer` (one dispose scope per step, train and eval modes switched for you,
/// typed events for callbacks).
///
///     let history =
///         Train.fit { Train.defaults with Epochs = 10; Seed = Some 0L }
///             (Loader.create 64 true train |> Loader.map Transform.toTensor)
///             (Loader.create 64 false test |> Loader.map Transform.toTensor)
///             Loss.crossEntropy (Optim.sgd 1e-3) model
[<RequireQualifiedAccess>]
module Train =
    /// How `Train.fit` runs.
    type Options =
        { /// The last epoch to run (1-based, inclusive); a resumed run continues up to it.
          Epochs: int
          /// Seeds LibTorch's generator (dropout) and the training loader's shuffling at the start, so
          /// that the same seed gives the same run bit for bit on the CPU, whatever seed the loader was
          /// made with. It does not touch the model's initial weights (see `Model.buildWith`). Not
          /// applied when resuming: the checkpoint's generator states are.
          Seed: int64 option
          /// Where the model and the batches go; the model is moved there before the optimizer is bound.
          Device: torch.Device
          /// Receive the loop's events, after the progress printout and before the checkpoint.
          Callbacks: Callback list
          /// Print the tutorial's lines on the console (`Callback.progress`).
          Progress: bool
          /// Throw `NonFiniteLossException` when a batch's loss is NaN or infinite, before its step.
          StopOnNonFiniteLoss: bool
          /// Save a training checkpoint to this file after every epoch (`Callback.checkpoint`).
          Checkpoint: string option
          /// Also save the `Checkpoint` after every this many batches inside each epoch
          /// (`Callback.checkpointEveryBatches`); `None` saves at epochs' ends only.
          CheckpointEveryBatches: int option
          /// Restore weights, optimizer state, generators and history from this checkpoint (written by
          /// `Checkpoint` or `Callback.checkpoint`) and continue at the epoch after it, or inside the epoch
          /// where it was saved, at its next batch.
          Resume: string option
          /// Data parallelism: `GradientSync.Mpi()` under an MPI launcher averages the gradients of all ranks
          /// between backward and the step (give each rank `Loader.distributed`); `GradientSync.None` for one process.
          GradientSync: GradientSync }

    /// 10 epochs, no seed, `Devices.Auto`, the tutorial's printout, stop on a non-finite loss, no checkpoint, one process.
    let defaults =
        { Epochs = 10
          Seed = None
          Device = Devices.Auto
          Callbacks = []
          Progress = true
          StopOnNonFiniteLoss = true
          Checkpoint = None
          CheckpointEveryBatches = None
          Resume = None
          GradientSync = GradientSync.None }

    /// Like `fit`, and also returns the optimizer bound to the model, with its state after the last step
    /// (to continue training by hand, read its learning rate, or save it). Dispose the optimizer when done.
    let fitWith
        (options: Options)
        (train: IDataLoader)
        (test: IDataLoader)
        (loss: Loss)
        (optimizer: GradientTransformation)
        (model: #torch.nn.Module<torch.Tensor, torch.Tensor>)
        : History * Optimizer =
        if isNull train then nullArg (nameof train)
        if isNull test then nullArg (nameof test)
        if isNull (box loss) then nullArg (nameof loss)
        if isNull optimizer then nullArg (nameof optimizer)
        if isNull (box model) then nullArg (nameof model)
        if options.Epochs < 0 then
            invalidArg (nameof options) (sprintf "Train.fit: Epochs is %d; use 0 or more." options.Epochs)
        if isNull (box options.Device) then
            invalidArg (nameof options) "Train.fit: torch.Device is null; use Devices.Auto, Devices.Cpu or Devices.Cuda n."
        if isNull (box options.Callbacks) then
            invalidArg (nameof options) "Train.fit: Callbacks is null; use [] for none."
        // The core's trainer does it all (move, bind, seed, progress, checkpoint, resume): this is its F# face.
        let trainerOptions =
            TrainerOptions(Device = options.Device, Seed = Option.toNullable options.Seed, Progress = options.Progress,
                           StopOnNonFiniteLoss = options.StopOnNonFiniteLoss,
                           Checkpoint = Option.toObj options.Checkpoint, Resume = Option.toObj options.Resume,
                           CheckpointEveryBatches = Option.toNullable options.CheckpointEveryBatches,
                           GradientSync = options.GradientSync)
        let trainer = new Trainer(model, loss, optimizer, trainerOptions)
        try
            let history = trainer.Fit(train, test, options.Epochs, options.Callbacks)
            history, trainer.Optimizer
        with _ ->
            trainer.Dispose()
            reraise ()

    /// Trains `model` for `options.Epochs` epochs on `train`, evaluating on `test` after each, with
    /// `loss` and `optimizer` (an unbound gradient transformation such as `Optim.sgd 1e-3`, bound here
    /// to the model's parameters after the model is moved to `options.Device`). Returns the metrics of
    /// every epoch. The model is any TorchSharp module, built from a spec or hand-written.
    let fit
        (options: Options)
        (train: IDataLoader)
        (test: IDataLoader)
        (loss: Loss)
        (optimizer: GradientTransformation)
        (model: #torch.nn.Module<torch.Tensor, torch.Tensor>)
        : History =
        let history, bound = fitWith options train test loss optimizer model
        bound.Dispose()
        history

    /// The tutorial's test_loop: the mean batch loss and the accuracy of `model` over `loader`, in eval
    /// mode under no_grad, on the device of the model's parameters (the model's mode is restored).
    let evaluate (loss: Loss) (loader: IDataLoader) (model: #torch.nn.Module<torch.Tensor, torch.Tensor>) : Evaluation =
        Trainer.Evaluate(model, loss, loader)

    /// Class probabilities (softmax over dimension 1) and the most probable class of each row of
    /// `input`, in eval mode under no_grad. The input is not disposed; dispose the prediction.
    let predict (input: torch.Tensor) (model: #torch.nn.Module<torch.Tensor, torch.Tensor>) : Prediction =
        Trainer.Predict(model, input)
