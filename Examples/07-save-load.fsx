// Save and load the model: PyTorch's "Save and Load the Model" tutorial (saveloadrun_tutorial),
// with Functional's files. Weights go to safetensors (data only: loading never runs code), whole
// models to a safetensors file that also holds the layer spec, training state to a checkpoint.
//   dotnet build Examples -c Release && dotnet fsi Examples/07-save-load.fsx
#load "Setup.fsx"

open System
open System.IO
open TorchSharp
open Functional
open Functional.Data
open Functional.Models
open Functional.Serialization
open Functional.Training
open Functional.Transforms
open Functional.FSharp

let ci = Environment.GetEnvironmentVariable "CI" = "true"
let size (t: torch.Tensor) = "[" + (t.shape |> Array.map string |> String.concat ", ") + "]"
let firstValues (t: torch.Tensor) =
    let values = t.flatten().narrow(0L, 0L, 3L).data<float32>().ToArray()
    "[" + (values |> Array.map (fun v -> v.ToString("F6", Globalization.CultureInfo.InvariantCulture)) |> String.concat ", ") + ", ...]"

// The files go to Examples/out/ (ignored by git).
let out = Path.Combine(__SOURCE_DIRECTORY__, "out", "07-save-load")
Directory.CreateDirectory out |> ignore

// The tutorial loads VGG16 with ImageNet weights, a 528 MB download. Offline, we use the tutorial's
// own network instead (Flatten, then Linear 784-512, ReLU, Linear 512-512, ReLU, Linear 512-10),
// built from its spec: the parameter names are PyTorch's, so the files read in PyTorch too.
let spec = NeuralNetwork.Spec()
let inputShape = [ 1; 28; 28 ]
let model = spec |> Model.buildWith (new torch.Generator(1UL)) inputShape

// ---- Saving and Loading Model Weights ----
// A model's learned parameters live in its state dict; torch.save(model.state_dict(), 'model_weights.pth')
// becomes Weights.save, to safetensors.
printfn "The model's state dict, before saving:"
for name, p in Model.namedParameters model do
    printfn "  %-26s %-10s %s" name (size p) (firstValues p)
let weightsPath = Path.Combine(out, "model_weights.safetensors")
model |> Weights.save weightsPath
printfn "\nSaved to %s (%d bytes)" (Path.GetFileName weightsPath) (FileInfo(weightsPath).Length)

// To load weights, first create an instance of the same model (here with other random weights),
// then load the parameters: model.load_state_dict(torch.load('model_weights.pth', weights_only=True)).
let fresh = spec |> Model.buildWith (new torch.Generator(2UL)) inputShape
let freshWeight = snd (Model.namedParameters fresh).Head
printfn "\nA fresh model: %s %s" (fst (Model.namedParameters fresh).Head) (firstValues freshWeight)
let report = fresh |> Weights.load weightsPath
printfn "%O" report
printfn "After loading:  %s %s" (fst (Model.namedParameters fresh).Head) (firstValues freshWeight)
let same =
    List.forall2 (fun (_, a: Modules.Parameter) (_, b: Modules.Parameter) -> a.equal(b).all().item<bool>())
        (Model.namedParameters model) (Model.namedParameters fresh)
printfn "Every tensor equal to the saved one: %b" same

// A load is strict: a model of another shape is refused with PyTorch's report, and left untouched.
let other = Layer.flatten --> Layer.linear 10 |> Model.build inputShape
match other |> Weights.tryLoad weightsPath with
| Ok _ -> printfn "\nunexpected: the weights loaded into another architecture"
| Error mismatch -> printfn "\nLoading them into Flatten --> Linear 10 instead:\n%O" mismatch

// Be sure to call model.eval() before inference: it sets dropout and batch normalisation layers to
// evaluation mode. Not doing so gives inconsistent inference results.
fresh.eval() |> ignore
Model.print fresh

// What eval() changes, on a small network with BatchNorm and Dropout: in train mode, dropout zeroes
// random activations (two calls differ) and batch norm normalises with the statistics of the batch
// (an image's output depends on the other images in it). In eval mode, dropout passes everything and
// batch norm uses its running mean and variance, buffers that are part of the state dict and are saved.
torch.manual_seed 0L |> ignore                                   // dropout draws from LibTorch's generator
let small = Layer.linear 6 --> Layer.batchNorm1d --> Layer.relu --> Layer.dropout 0.5 --> Layer.linear 3
let net = small |> Model.buildWith (new torch.Generator(3UL)) [ 4 ]
let batch = torch.rand([| 5L; 4L |], generator = new torch.Generator(4UL))
let agree (a: torch.Tensor) (b: torch.Tensor) = a.allclose(b, rtol = 1e-5, atol = 1e-6)
for mode, setMode in [ "train", (fun () -> net.train()); "eval", (fun () -> net.eval()) ] do
    setMode ()
    let once, twice = net.call batch, net.call batch
    let inPair = net.call (batch.narrow(0L, 0L, 2L))               // images 0 and 1 only
    printfn "\n%s mode: two calls agree: %b; image 0 gives the same output in a batch of 5 and of 2: %b"
        mode (agree once twice) (agree (once.narrow(0L, 0L, 1L)) (inPair.narrow(0L, 0L, 1L)))
printfn "BatchNorm's buffers in the state dict: %s"
    (net.state_dict().Keys |> Seq.filter (fun k -> k.Contains "running" || k.Contains "batches") |> String.concat ", ")

// ---- Saving and Loading Models with Shapes ----
// torch.save(model, 'model.pth') pickles the class, so loading needs its code (and may run code from
// the file). Here the model's structure is saved as data: its layer spec and input shape go into the
// safetensors header beside the weights.
let modelPath = Path.Combine(out, "model.safetensors")
fresh |> ModelFile.save modelPath spec inputShape
printfn "\nSaved the whole model to %s; its spec:\n%s" (Path.GetFileName modelPath) (Layer.toJson (ModelFile.readSpec modelPath))

// Loading needs the file and nothing else: no NeuralNetwork, no spec in code. The model comes back in
// eval mode. (model = torch.load('model.pth', weights_only=False))
let loadAndPredict (path: string) (images: torch.Tensor) =
    use loaded = ModelFile.load path
    Model.print loaded
    loaded.call images
let test = FashionMnist.Load(Path.Combine(__SOURCE_DIRECTORY__, "..", "Data", "fashion-mnist-subset"), train = false)
let images = test.Features.narrow(0L, 0L, 5L).to_type(torch.ScalarType.Float32).div(torch.tensor 255.0f)
let fromFile = loadAndPredict modelPath images
let fromMemory = fresh.call images
printfn "Outputs of the loaded model and of the one in memory identical: %b" (fromFile.equal(fromMemory).all().item<bool>())
printfn "Predicted (untrained, so mostly wrong): %s"
    (fromFile.argmax(1L).data<int64>().ToArray() |> Array.map (fun c -> FashionMnist.Classes[int c]) |> String.concat ", ")

// A model of your own class (an nn.Module subclass, such as the tutorial's NeuralNetwork; here the library's
// copy of it) is saved under the name it is registered with, and rebuilt on load by the registered factory:
// as torch.save(model) needs the class importable by its name, but the file holds only the name and the
// weights, and only factories this program registered ever run. An unregistered name in a file is refused
// in one line that says how to register it.
Layer.register "NeuralNetwork" (fun () -> new NeuralNetwork())
let ownPath = Path.Combine(out, "own-class.safetensors")
let sameWeights (a: torch.nn.Module) (b: torch.nn.Module) =
    List.forall2 (fun (_, x: Modules.Parameter) (_, y) -> x.equal(y).all().item<bool>()) (Model.namedParameters a) (Model.namedParameters b)
do
    use own = new NeuralNetwork(generator = new torch.Generator(6UL))
    own |> ModelFile.saveRegistered ownPath inputShape
    use back = ModelFile.load ownPath :?> NeuralNetwork
    printfn "\nA class of your own: the file's spec is %s; loaded as a %s with the same weights: %b"
        (Functional.Serialization.ModelFile.ReadSpec ownPath) (back.GetType().Name) (sameWeights own back)

// ---- Saving and loading a training checkpoint ----
// To resume training exactly, a checkpoint holds the weights, the optimizer's state, the epoch, the
// random generators (LibTorch's and the loader's shuffling) and the history. Here: run A trains 2
// epochs straight; run B trains 1 epoch, saves a checkpoint, and a brand-new model, optimizer and
// loader restore it and train the 2nd epoch. Both end with the same weights, bit for bit.
let train = FashionMnist.Load(Path.Combine(__SOURCE_DIRECTORY__, "..", "Data", "fashion-mnist-subset"), train = true)
let count = if ci then 2000L else 10000L
let data = new TensorDataset(train.Features.narrow(0L, 0L, count), train.Labels.narrow(0L, 0L, count))
printfn "\nTraining on %d images, 2 epochs%s" count (if ci then " (CI=true: 2,000 images)" else "")

/// A fresh run: same seeds, so both runs start from the same weights and shuffle the same way.
let newRun () =
    let m = spec |> Model.buildWith (new torch.Generator(5UL)) inputShape
    let optimizer = Optim.sgd 1e-3 |> Optim.bind m
    let loader = DataLoader(data, 64, shuffle = true, seed = 7L).Map(Transform.toTensor)
    m, optimizer, loader, new Trainer(m, Loss.crossEntropy, optimizer, TrainerOptions(Device = Devices.Cpu, Seed = 11L, Progress = false))

let printHistory (name: string) (history: History) =
    for e in history.Epochs do printfn "  %s epoch %d: train loss %.6f" name e.Epoch e.TrainLoss

let modelA, _, loaderA, trainerA = newRun ()
printHistory "A" (trainerA.Fit(loaderA, epochs = 2))

let checkpointPath = Path.Combine(out, "checkpoint.safetensors")
let modelB, optimizerB, loaderB, trainerB = newRun ()
let historyB = trainerB.Fit(loaderB, epochs = 1)
printHistory "B" historyB
modelB |> Checkpoint.save checkpointPath loaderB optimizerB 1 historyB
printfn "  checkpoint saved after epoch %d" (Checkpoint.epoch checkpointPath)

let modelC, optimizerC, loaderC, trainerC = newRun ()        // as in a new process
let resumed = modelC |> Checkpoint.restore checkpointPath loaderC optimizerC
// Fit returns the whole run's history: the epochs read from the checkpoint, then the ones trained now.
let historyC = trainerC.Fit(loaderC, epochs = 2, resume = resumed)
for e in historyC.Epochs do
    printfn "  B (resumed) epoch %d: train loss %.6f%s" e.Epoch e.TrainLoss
        (if e.Epoch <= resumed.Count then "  (from the checkpoint's history, not trained again)" else "")
let identical =
    List.forall2 (fun (_, a: Modules.Parameter) (_, b: Modules.Parameter) -> a.equal(b).all().item<bool>())
        (Model.namedParameters modelA) (Model.namedParameters modelC)
printfn "Resumed run ends with the same weights as the straight one: %b" identical
