// A user's F# script, outside the repository: the packages only (run by Consumers/run with the
// version it packed). One epoch of the tutorial's network on a slice of Fashion-MNIST.
#r "nuget: Functional.FSharp, __VERSION__"
#r "nuget: TorchSharp-cpu, 0.107.0"

open Functional.FSharp

let train = FashionMnist.load { FashionMnist.defaults with Train = true }
let test = FashionMnist.load { FashionMnist.defaults with Train = false }
printfn "Fashion-MNIST from %O" train.Source
printfn "LibTorch loaded from %s" Functional.Native.LoadedFrom

let slice count (dataset: Functional.Data.TensorDataset) =
    Dataset.ofTensors (dataset.Features.narrow(0L, 0L, int64 count)) (dataset.Labels.narrow(0L, 0L, int64 count))
let trainLoader = slice 6000 train |> Loader.createWith { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 0L } |> Loader.map Transform.toTensor
let testLoader = slice 2000 test |> Loader.create 64 false |> Loader.map Transform.toTensor

let model =
    Layer.sequential [ Layer.flatten; Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ]
    |> Model.build [ 1; 28; 28 ]

let before = Train.evaluate Loss.crossEntropy testLoader model
let history =
    Train.fit { Train.defaults with Epochs = 1; Seed = Some 0L; Progress = false }
        trainLoader testLoader Loss.crossEntropy (Optim.sgd 1e-2) model
let last = history.Last
printfn "loss: %f -> %f, accuracy: %.1f%%" before.AverageLoss last.TestLoss.Value (100.0 * last.TestAccuracy.Value)
if not (last.TestLoss.Value < before.AverageLoss) then
    eprintfn "error: training did not lower the test loss (%f before, %f after)" before.AverageLoss last.TestLoss.Value
    exit 1
