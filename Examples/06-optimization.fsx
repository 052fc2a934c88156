// Optimizing model parameters: PyTorch's "Learn the Basics" tutorial optimization_tutorial, in F#.
// Hyperparameters, the loss function and the optimizer; the tutorial's train_loop and test_loop
// written by hand with the library; then the same training in one call, Train.fit.
//   dotnet build Examples -c Release && dotnet fsi Examples/06-optimization.fsx
// With CI=true it trains on a 2,000-image slice of each split for 1 epoch.
#load "Setup.fsx"

open System
open TorchSharp
open Functional
open Functional.Data
open Functional.Training
open Functional.Models
open Functional.Optim
open Functional.FSharp

let ci = Environment.GetEnvironmentVariable "CI" = "true"

// ---- Prerequisite code: the data, the loaders and the model of the previous sections --------------
let trainingData = FashionMnist.load { FashionMnist.defaults with Train = true }
let testData = FashionMnist.load { FashionMnist.defaults with Train = false }
printfn "Fashion-MNIST from %O" trainingData.Source

/// Under CI, the first `count` samples only (views of the loaded tensors, nothing copied).
let slice (count: int) (dataset: TensorDataset) : TensorDataset =
    if ci && dataset.Count > count then
        Dataset.ofTensors (dataset.Features.narrow(0L, 0L, int64 count)) (dataset.Labels.narrow(0L, 0L, int64 count))
    else dataset

let device = Devices.Auto
printfn "Using %O device" device

// ---- Hyperparameters ----------------------------------------------------------------------------
// Number of epochs: how many times to iterate over the dataset. Batch size: samples seen before the
// parameters are updated. Learning rate: how much to update them at each batch.
let learningRate = 1e-3
let batchSize = 64
let epochs = if ci then 1 else 2
if ci then
    printfn "CI=true: training on the first 2,000 training and 2,000 test images for 1 epoch (the tutorial uses all 60,000 training and 10,000 test images, for 10 epochs)."
else
    printfn "%d epochs here to keep the example short; the tutorial runs 10. For the full run: dotnet run --project Examples -c Release -- train" epochs

// DataLoader(training_data, batch_size=64, shuffle=True): ToTensor runs once per batch (uint8 -> float / 255).
let trainDataloader =
    slice 2000 trainingData
    |> Loader.createWith { Loader.defaults with BatchSize = batchSize; Shuffle = true; Seed = Some 0L; Device = device }
    |> Loader.map Transform.toTensor
let testDataloader =
    slice 2000 testData
    |> Loader.createWith { Loader.defaults with BatchSize = batchSize; Device = device }
    |> Loader.map Transform.toTensor

// model = NeuralNetwork(): the tutorial's 784-512-512-10 network, its weights drawn from a seeded generator.
let newModel () =
    let model = new NeuralNetwork(generator = new torch.Generator(0UL))
    model.``to``(device) |> ignore
    model

let model = newModel ()

// ---- Loss function ------------------------------------------------------------------------------
// nn.CrossEntropyLoss(): LogSoftmax and NLL of the logits, averaged over the batch.
let lossFn = Loss.crossEntropy

// ---- Optimizer ----------------------------------------------------------------------------------
// torch.optim.SGD(model.parameters(), lr=learning_rate): a gradient transformation bound to the
// model's parameters, giving the PyTorch-style Step() and ZeroGrad().
let optimizer = Optim.sgd learningRate |> Optim.bind model

// ---- Full implementation: the tutorial's train_loop and test_loop -------------------------------
let trainLoop (dataloader: IDataLoader) (model: torch.nn.Module<torch.Tensor, torch.Tensor>) (lossFn: Loss) (optimizer: Optimizer) =
    let size = dataloader.SampleCount
    let losses = ResizeArray<float>()
    // Set the model to training mode: important for batch normalization and dropout layers.
    model.train()
    for batch, b in Seq.indexed dataloader do
        // The step's tensors (prediction, loss, gradients' temporaries) are freed at the end of the step.
        use scope = torch.NewDisposeScope()
        let X, y = b.Features, b.Labels
        // Compute prediction and loss
        let pred = model.call X
        let loss = Loss.apply lossFn pred y
        // Backpropagation
        loss.backward()
        optimizer.Step()
        optimizer.ZeroGrad()
        let value = float (loss.item<float32>())
        losses.Add value
        if batch % 100 = 0 then
            let current = batch * int X.shape[0]
            printfn "loss: %7f  [%5d/%5d]" value current size
    List.ofSeq losses

let testLoop (dataloader: IDataLoader) (model: torch.nn.Module<torch.Tensor, torch.Tensor>) (lossFn: Loss) =
    // Evaluation mode, and no gradients: nothing is kept for a backward pass.
    model.eval()
    let size = dataloader.SampleCount
    let numBatches = dataloader.BatchCount
    let mutable testLoss = 0.0
    let mutable correct = 0.0
    use noGrad = torch.no_grad()
    for b in dataloader do
        use scope = torch.NewDisposeScope()
        let X, y = b.Features, b.Labels
        let pred = model.call X
        testLoss <- testLoss + float ((Loss.apply lossFn pred y).item<float32>())
        correct <- correct + pred.argmax(1L).eq(y).``to``(torch.float32).sum().ToDouble()
    testLoss <- testLoss / float numBatches
    correct <- correct / float size
    printfn "Test Error: \n Accuracy: %0.1f%%, Avg loss: %8f \n" (100.0 * correct) testLoss
    correct, testLoss

let watch = Diagnostics.Stopwatch.StartNew()
let byHand =
    [ for t in 0 .. epochs - 1 do
        printfn "Epoch %d\n-------------------------------" (t + 1)
        let losses = trainLoop trainDataloader model lossFn optimizer
        let accuracy, testLoss = testLoop testDataloader model lossFn
        yield losses, (accuracy, testLoss) ]
printfn "Done!"
printfn "(the loop by hand: %.1f s)\n" watch.Elapsed.TotalSeconds

// ---- The same training with Train.fit -----------------------------------------------------------
// Train.fit runs exactly these two loops each epoch (train and eval modes, no_grad, a dispose scope per
// step) and prints the same lines. A model with the same initial weights, the optimizer given unbound
// (fit binds it to the model), and Seed = 0 restarting the loader's shuffling as the loop above saw it.
let model2 = newModel ()
let batchLosses = ResizeArray<float>()
watch.Restart()
let history =
    Train.fit { Train.defaults with Epochs = epochs; Seed = Some 0L; Device = device
                                    Callbacks = [ Callback.onBatchEnd (fun e -> batchLosses.Add e.Loss) ] }
        trainDataloader testDataloader Loss.crossEntropy (Optim.sgd learningRate) model2
printfn "(Train.fit: %.1f s)\n" watch.Elapsed.TotalSeconds
printfn "%O" history

let sameLosses = List.ofSeq batchLosses = List.collect fst byHand
let sameTests = [ for m in history.Epochs -> m.TestAccuracy.Value, m.TestLoss.Value ] = List.map snd byHand
printfn "\nTrain.fit saw the same batch losses as the loop by hand: %b; the same test figures: %b" sameLosses sameTests
optimizer.Dispose()
