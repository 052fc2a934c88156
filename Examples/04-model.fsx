// Build the neural network: PyTorch's "Build the Neural Network" tutorial (buildmodel_tutorial),
// step by step, with Functional's layers and TorchSharp modules.
//   dotnet build Examples -c Release && dotnet fsi Examples/04-model.fsx
#load "Setup.fsx"

open TorchSharp
open Functional
open Functional.Models
open Functional.FSharp

// Tensor values print as PyTorch prints them (Tensor.format); sizes as PyTorch's torch.Size.
let size (t: torch.Tensor) = "torch.Size([" + (t.shape |> Array.map string |> String.concat ", ") + "])"

// Every random draw comes from this generator: the same seed prints the same numbers.
let generator = new torch.Generator(42UL)

// ---- Get the device for training ----
let device = Devices.Auto
printfn "Using %O device" device

// ---- Define the class ----
// The tutorial's NeuralNetwork, hand-written as a TorchSharp module (Functional.Models.NeuralNetwork).
let model = new NeuralNetwork(generator = generator)
model.``to``(device) |> ignore
Model.print model

// The same architecture as data, built by inferring each layer's input size:
let spec =
    Layer.flatten
    --> Layer.sequential [ Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ]
let built = Model.buildWith generator [ 1; 28; 28 ] spec
printfn "\nThe same network built from a spec:"
Model.print built
printfn "\n%O" (Model.summary [ 1; 28; 28 ] model)

// To use the model, pass it the input data; never call forward directly.
let X = torch.rand([| 1L; 28L; 28L |], generator = generator).``to``(device)
let logits = model.call X
let predProbab = torch.nn.Softmax(1L).call logits
let yPred = predProbab.argmax(1L)
printfn "\nPredicted class: %s" (Tensor.format yPred)

// ---- Model layers ----
// A sample minibatch of 3 images of size 28x28.
let inputImage = torch.rand([| 3L; 28L; 28L |], generator = generator)
printfn "\n%s" (size inputImage)

// nn.Flatten: each 2D 28x28 image becomes a contiguous array of 784 pixel values.
let flatten = Layer.flatten |> Model.build [ 28; 28 ]
let flatImage = flatten.call inputImage
printfn "%s" (size flatImage)

// nn.Linear: a linear transformation with its stored weights and biases.
let layer1 = Layer.linearFrom (28 * 28) 20 |> Model.buildWith generator [ 784 ]
let hidden1 = layer1.call flatImage
printfn "%s" (size hidden1)

// nn.ReLU: the non-linear activation between the linear layers.
printfn "Before ReLU: %s\n\n" (Tensor.format hidden1)
let hidden1Relu = (Layer.relu |> Model.build [ 20 ]).call hidden1
printfn "After ReLU: %s" (Tensor.format hidden1Relu)

// nn.Sequential: an ordered container of modules; data passes through them in that order.
let seqModules = Layer.flatten --> Layer.linearFrom 784 20 --> Layer.relu --> Layer.linear 10 |> Model.buildWith generator [ 28; 28 ]
let seqLogits = seqModules.call (torch.rand([| 3L; 28L; 28L |], generator = generator))

// nn.Softmax: logits scaled to [0, 1], the predicted probabilities for each class (dim 1 sums to 1).
let seqProbab = (Layer.softmax |> Model.build [ 10 ]).call seqLogits
printfn "\nSoftmax row sums: %s" (Tensor.format (seqProbab.sum(1L)))

// ---- Model parameters ----
printfn "\nModel structure: %s\n\n" (Model.format model)
for name, param in Model.namedParameters model do
    printfn "Layer: %s | Size: %s | Values : %s \n" name (size param) (Tensor.format (param.narrow(0L, 0L, 2L)))
