namespace Functional.FSharp

open System.IO
open TorchSharp
open Functional
open Functional.Data
open Functional.Layers
open Functional.Optim
open Functional.Serialization
open Functional.Training

/// A model's weights (its state dict: parameters and persistent buffers under PyTorch's names) in a file.
///
///     model |> Weights.save "model_weights.safetensors"
///     let report = fresh |> Weights.load "model_weights.safetensors"   // <All keys matched successfully>
///
/// Safetensors files hold data only, so loading one never runs code; PyTorch reads them with
/// `safetensors.torch.load_file` under the same names. Loads are strict unless said otherwise: a
/// missing, unexpected or mis-shaped key throws `StateDictMismatchException` (its `Report` says
/// which) and leaves the model untouched.
[<RequireQualifiedAccess>]
module Weights =
    /// Saves the model's state dict as safetensors, atomically (a killed save leaves the previous file).
    let save (path: string) (model: #torch.nn.Module) : unit =
        model.SaveSafeTensors(path)

    /// Saves the state dict with extra string metadata (run name, configuration, ...) in the header.
    let saveWith (metadata: (string * string) list) (path: string) (model: #torch.nn.Module) : unit =
        model.SaveSafeTensors(path, readOnlyDict metadata)

    /// Loads a safetensors state dict strictly and returns the report (all keys matched). Throws
    /// `StateDictMismatchException` when the weights do not fit the model, `InvalidDataException`
    /// (naming the file and the byte offset) when the file is damaged, `FileNotFoundException` when it is absent.
    let load (path: string) (model: #torch.nn.Module) : LoadReport =
        model.LoadSafeTensors(path, true)

    /// Copies the tensors that fit and returns the report of the rest (PyTorch's `strict=False`):
    /// for fine-tuning a model whose head differs from the saved one, say.
    let loadNonStrict (path: string) (model: #torch.nn.Module) : LoadReport =
        model.LoadSafeTensors(path, false)

    /// A strict load that reports a mismatch instead of throwing: `Ok report` when the weights were
    /// loaded, `Error report` (missing, unexpected and mis-shaped keys) when they do not fit, and then
    /// the model is untouched. A missing or damaged file still throws: that is not a mismatch.
    let tryLoad (path: string) (model: #torch.nn.Module) : Result<LoadReport, LoadReport> =
        try Ok (model.LoadSafeTensors(path, true))
        with :? StateDictMismatchException as e -> Error e.Report

    /// What a strict load would report, without changing the model (reads the whole file).
    let compare (path: string) (model: #torch.nn.Module) : LoadReport =
        use content = SafeTensors.Read path
        StateDict.Compare(model, content.Tensors)

    /// Loads a PyTorch `.pt`/`.pth` state dict (`torch.save(model.state_dict(), path)`) strictly. The
    /// unpickler rebuilds tensors and dictionaries only and runs no code from the file.
    let loadPyTorch (path: string) (model: #torch.nn.Module) : LoadReport =
        model.LoadPyTorch(path, true)

    /// `loadPyTorch` that copies what fits and reports the rest.
    let loadPyTorchNonStrict (path: string) (model: #torch.nn.Module) : LoadReport =
        model.LoadPyTorch(path, false)

    /// Saves in TorchSharp's own format, for TorchSharp programs that call `module.load`.
    let saveTorchSharp (path: string) (model: #torch.nn.Module) : unit =
        model.SaveTorchSharp(path)

    /// Loads a file written by TorchSharp's `module.save` strictly, with the same report as `load`.
    let loadTorchSharp (path: string) (model: #torch.nn.Module) : LoadReport =
        model.LoadTorchSharp(path, true)

    /// True when a load found every key with the right shape and element type.
    let allKeysMatched (report: LoadReport) : bool = report.AllKeysMatched

/// Whole-model files: the layer spec (JSON) and the weights in one safetensors file, so that the
/// model comes back from the file alone, without its definition in code.
///
///     model |> ModelFile.save "model.safetensors" spec [1; 28; 28]
///     let loaded = ModelFile.load "model.safetensors"     // in eval mode, ready to predict
///
/// Unlike PyTorch's `torch.save(model)`, which pickles the class and needs its code to load (and can
/// run code from the file), loading here only builds the library's own layers from data.
[<RequireQualifiedAccess>]
module ModelFile =
    /// Saves a model built from `spec` for samples of `inputShape` (no batch dimension, e.g.
    /// `[1; 28; 28]`), atomically. Throws `ArgumentException` when the spec does not fit the shape.
    let save (path: string) (spec: LayerSpec) (inputShape: int list) (model: #torch.nn.Module) : unit =
        Functional.Serialization.ModelFile.Save(path, spec, inputShape |> List.map int64 |> Array.ofList, model)

    /// Saves a model of your own class, registered with `Layer.register`, for samples of `inputShape`: the
    /// file's spec is the registered name, and `load` rebuilds the model with the registered factory (cast the
    /// result to your class). Throws `ArgumentException` when the class is not registered (saying how).
    let saveRegistered (path: string) (inputShape: int list) (model: #torch.nn.Module<torch.Tensor, torch.Tensor>) : unit =
        Functional.Serialization.ModelFile.Save(path, (model :> torch.nn.Module<torch.Tensor, torch.Tensor>), inputShape |> List.map int64 |> Array.ofList)

    /// Rebuilds the model from the file alone, loads its weights strictly and returns it in eval mode
    /// (dropout off, batch norm on its running statistics), on the CPU. Throws `InvalidDataException`
    /// naming the file when it is damaged, holds no spec, or its spec does not match its weights.
    let load (path: string) : torch.nn.Module<torch.Tensor, torch.Tensor> =
        Functional.Serialization.ModelFile.Load(path, Devices.Cpu)

    /// `load` onto `device` (`Devices.Auto` for CUDA when present).
    let loadTo (device: torch.Device) (path: string) : torch.nn.Module<torch.Tensor, torch.Tensor> =
        Functional.Serialization.ModelFile.Load(path, device)

    /// `Some` model, or `None` when the file is absent, damaged, or not a whole-model file.
    let tryLoad (path: string) : torch.nn.Module<torch.Tensor, torch.Tensor> option =
        try Some (Functional.Serialization.ModelFile.Load(path, Devices.Cpu))
        with
        | :? InvalidDataException
        | :? FileNotFoundException
        | :? DirectoryNotFoundException -> None

    /// The layer spec stored in the file, read from its header only (the weights are not read).
    let readSpec (path: string) : LayerSpec =
        LayerSpec.FromJson(Functional.Serialization.ModelFile.ReadSpec path)

    /// The per-sample input shape the stored spec was built for.
    let readInputShape (path: string) : int list =
        Functional.Serialization.ModelFile.ReadInputShape path |> Array.map int |> List.ofArray

/// Training checkpoints for exact resume: the model's weights, the optimizer's state, the epoch, the
/// random generators (LibTorch's and the training loader's shuffle) and the history, in one
/// safetensors file written atomically.
///
///     model |> Checkpoint.save "run.ckpt" trainLoader optimizer epoch history
///     // later, with a freshly built model, optimizer and loader:
///     let history = model |> Checkpoint.restore "run.ckpt" trainLoader optimizer
///     // then continue: trainer.Fit(trainLoader, testLoader, epochs, resume = history)
///
/// To save after every epoch while training, use `Callback.checkpoint`, or the `Checkpoint` field of
/// `Train.Options`, which also resumes.
[<RequireQualifiedAccess>]
module Checkpoint =
    /// Saves the state after `epoch` (1 for the first). The training loader's shuffling generator is
    /// saved with it (when it shuffles), so that the next epoch draws the order it would have drawn.
    let save (path: string) (train: #IDataLoader) (optimizer: Optimizer) (epoch: int) (history: History) (model: #torch.nn.Module) : unit =
        TrainingCheckpoint.Save(path, model, optimizer, epoch, history, train)

    /// Restores the weights (strictly), the optimizer's state and the generators into freshly built
    /// objects, and returns the history of the epochs the checkpoint holds (its `Count` is the last
    /// epoch done; for a checkpoint saved inside an epoch, `Partial` says after which batch of the next):
    /// pass it as `resume` to `Trainer.Fit`, which continues where the checkpoint stopped. Throws `InvalidDataException` naming the file
    /// and the part that does not fit.
    let restore (path: string) (train: #IDataLoader) (optimizer: Optimizer) (model: #torch.nn.Module) : History =
        TrainingCheckpoint.Restore(path, model, optimizer, train)

    /// The number of epochs a checkpoint holds, read without touching any model or optimizer.
    let epoch (path: string) : int =
        use checkpoint = Functional.Serialization.Checkpoint.Load path
        int checkpoint.Epoch
