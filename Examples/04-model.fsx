// Build the neural network: PyTorch's "Build the Neural Network" tutorial (buildmodel_tutorial),
// step by step, with Functional's layers and TorchSharp modules.
//   dotnet build Examples -c Release && dotnet fsi Examples/04-model.fsx
#load "Setup.fsx"

open TorchSharp
open Functional
open Functional.FSharp

// Tensor values print as PyTorch prints them (Tensor.format); sizes as PyTorch's torch.Size.
let size (t: torch.Tensor) = "torch.Size([" + (t.shape |> Array.map string |> String.concat ", ") + "])"

// Every random draw comes from this generator: the same seed prints the same numbers.
let generator = new torch.Generator(42UL)

// ---- Get the device for training ----
let device = Devices.Auto
printfn "Using %O device" device

// ---- Define the class ----
// The tutorial's NeuralNetwork(nn.Module), written by hand in F#: the `let` fields carry Python's names,
// which RegisterComponents turns into the names PyTorch prints and the parameter names
// (linear_relu_stack.0.weight). PyTorch's default initialisation (uniform in ±1/sqrt(in_features)) is
// drawn from the generator, so that a seed gives the same network.
type NeuralNetwork(generator: torch.Generator) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("NeuralNetwork")
    let flatten = torch.nn.Flatten()
    let linear_relu_stack =
        torch.nn.Sequential(
            torch.nn.Linear(28L * 28L, 512L), torch.nn.ReLU(),
            torch.nn.Linear(512L, 512L), torch.nn.ReLU(),
            torch.nn.Linear(512L, 10L))
    do
        this.RegisterComponents()
        use _ = torch.no_grad()
        for child in linear_relu_stack.children() do
            match child with
            | :? Modules.Linear as linear ->
                let bound = 1.0 / sqrt (float linear.in_features)
                linear.weight.uniform_(-bound, bound, generator) |> ignore
                linear.bias.uniform_(-bound, bound, generator) |> ignore
            | _ -> ()

    // forward(x): the intermediate flat tensor is freed as soon as the stack has used it.
    override _.forward x =
        use flat = flatten.call x
        linear_relu_stack.call flat

// Create an instance, move it to the device, and print its structure as PyTorch's print(model) does.
let model = new NeuralNetwork(generator)
model.``to``(device) |> ignore
Model.print model

// The same architecture as data, built by inferring each layer's input size; the children are named
// as the class's fields, so the parameters have the same names (Layer.flatten --> Layer.linear 512 --> ...
// composes the layers into one Sequential with children 0, 1, 2, ... instead).
let spec =
    Layer.named [ "flatten", Layer.flatten
                  "linear_relu_stack", Layer.sequential [ Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ] ]
let built = Model.buildWith generator [ 1; 28; 28 ] spec
printfn "\nThe same network built from a spec:"
Model.print built
// From the same seed, the spec and the hand-written class give the same parameters, names and values alike.
let sameParameters (a: torch.nn.Module) (b: torch.nn.Module) =
    List.forall2 (fun (n, x: Modules.Parameter) (m, y) -> n = m && x.equal(y).all().item<bool>()) (Model.namedParameters a) (Model.namedParameters b)
printfn "Same parameter names and values as the hand-written class: %b"
    (sameParameters (new NeuralNetwork(new torch.Generator(7UL))) (Model.buildWith (new torch.Generator(7UL)) [ 1; 28; 28 ] spec))
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

// ---- The functional forms ----
// Each layer has a function that takes the weights instead of holding them, torch.nn.functional (F in
// PyTorch code, F here too): the same computation, for a forward written by hand.
let layer2 = Layer.linearFrom 20 10 |> Model.buildWith generator [ 20 ]
let byLayers = layer2.call (hidden1Relu)
let weight = snd (Model.namedParameters layer2).[0] :> torch.Tensor
let bias = snd (Model.namedParameters layer2).[1] :> torch.Tensor
let byFunctions = hidden1 |> F.relu |> F.linear weight (Some bias) |> F.logSoftmax 1
printfn "\nF.relu, F.linear and F.logSoftmax agree with the layers: %b"
    (byFunctions.allclose(torch.nn.functional.log_softmax(byLayers, 1L)))
