module Functional.PropertyTests.ModelFormatTests

open System
open System.Globalization
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Layers
open Functional.Models
open Functional.FSharp


[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

/// The printout in PyTorch's "Build the Neural Network" tutorial (print(model)).
let tutorialPrintout =
    "NeuralNetwork(\n" +
    "  (flatten): Flatten(start_dim=1, end_dim=-1)\n" +
    "  (linear_relu_stack): Sequential(\n" +
    "    (0): Linear(in_features=784, out_features=512, bias=True)\n" +
    "    (1): ReLU()\n" +
    "    (2): Linear(in_features=512, out_features=512, bias=True)\n" +
    "    (3): ReLU()\n" +
    "    (4): Linear(in_features=512, out_features=10, bias=True)\n" +
    "  )\n" +
    ")"

[<Test>]
let ``The hand-written NeuralNetwork prints exactly as in the PyTorch tutorial`` () =
    use model = new NeuralNetwork()
    Assert.That(Model.format model, equalTo(tutorialPrintout))

[<Test>]
let ``A built spec of the same layers prints the tutorial's Sequential`` () =
    use model = Model.build [ 784 ] (Layer.sequential [ Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ])
    let expected =
        "Sequential(\n" +
        "  (0): Linear(in_features=784, out_features=512, bias=True)\n" +
        "  (1): ReLU()\n" +
        "  (2): Linear(in_features=512, out_features=512, bias=True)\n" +
        "  (3): ReLU()\n" +
        "  (4): Linear(in_features=512, out_features=10, bias=True)\n" +
        ")"
    Assert.That(Model.format model, equalTo(expected))

// The expected strings are what PyTorch 2.x prints for the same constructor calls.
[<Test>]
let ``The standard layers print their PyTorch repr`` () =
    let cases : (torch.nn.Module * string) list =
        [ torch.nn.Linear(3L, 4L, hasBias = false), "Linear(in_features=3, out_features=4, bias=False)"
          torch.nn.ReLU(), "ReLU()"
          torch.nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"
          torch.nn.Dropout(), "Dropout(p=0.5, inplace=False)"
          torch.nn.Dropout(0.2), "Dropout(p=0.2, inplace=False)"
          torch.nn.Softmax(1L), "Softmax(dim=1)"
          torch.nn.LogSoftmax(1L), "LogSoftmax(dim=1)"
          torch.nn.GELU(), "GELU(approximate='none')"
          torch.nn.ELU(), "ELU(alpha=1.0)"
          torch.nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"
          torch.nn.Sigmoid(), "Sigmoid()"
          torch.nn.Tanh(), "Tanh()"
          torch.nn.SiLU(), "SiLU()"
          torch.nn.Identity(), "Identity()"
          torch.nn.Unflatten(1L, [| 1L; 28L; 28L |]), "Unflatten(dim=1, unflattened_size=(1, 28, 28))"
          torch.nn.AvgPool2d(2L), "AvgPool2d(kernel_size=2, stride=2, padding=0)"
          torch.nn.AdaptiveAvgPool2d(1L), "AdaptiveAvgPool2d(output_size=1)"
          torch.nn.LayerNorm(512L), "LayerNorm((512,), eps=1e-05, elementwise_affine=True)"
          torch.nn.Conv2d(1L, 4L, 3L, TorchSharp.Padding.Same), "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)"
          torch.nn.Conv2d(2L, 4L, 3L, dilation = 2L, groups = 2L, bias = false), "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=2, bias=False)"
          torch.nn.BatchNorm2d(3L, affine = false), "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=True)"
          torch.nn.Conv2d(1L, 32L, 3L), "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))"
          torch.nn.Conv2d(3L, 8L, 5L, stride = 2L, padding = 1L, bias = false), "Conv2d(3, 8, kernel_size=(5, 5), stride=(2, 2), padding=(1, 1), bias=False)"
          torch.nn.MaxPool2d(2L), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
          torch.nn.BatchNorm2d(32L), "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
          torch.nn.BatchNorm1d(10L), "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)" ]
    for m, expected in cases do
        Assert.That(Model.format m, equalTo(expected))
        m.Dispose()

[<Test>]
let ``An embedding built with a padding row prints it as PyTorch does`` () =
    // PyTorch 1.13.1: print(nn.Embedding(10, 3, padding_idx=-2)) gives "Embedding(10, 3, padding_idx=8)" (the index
    // stored non-negative); print(nn.Embedding(10, 3)) gives "Embedding(10, 3)".
    use padded = Model.build [ 4 ] (Functional.Layers.Layer.Embedding(10L, 3L, Nullable -2L))
    use plain = Model.build [ 4 ] (Functional.Layers.Layer.Embedding(10L, 3L))
    Assert.That(Model.format padded, equalTo "Embedding(10, 3, padding_idx=8)")
    Assert.That(Model.format plain, equalTo "Embedding(10, 3)")

[<Test>]
let ``Floats print as Python's repr prints them`` () =
    // Values of repr(x) in CPython 3.
    let cases =
        [ 1e-5, "1e-05"; 0.1, "0.1"; 1.0, "1.0"; 0.5, "0.5"; 100.0, "100.0"; 1e16, "1e+16"; 1.5e-7, "1.5e-07"
          0.0001, "0.0001"; 123456.789, "123456.789"; 2.5e-5, "2.5e-05"; -0.001, "-0.001"; 1e22, "1e+22"; 0.0, "0.0"
          1234567890123456.0, "1234567890123456.0" ]
    for x, expected in cases do Assert.That(ModelFormat.PythonFloat x, equalTo(expected), sprintf "%g" x)

[<Property(MaxTest = 200)>]
let ``A printed float reads back to the same double`` (x: NormalFloat) =
    let x = x.Get
    Double.Parse(ModelFormat.PythonFloat x, CultureInfo.InvariantCulture) = x

[<Test>]
let ``Named parameters have the tutorial's names and sizes`` () =
    use model = new NeuralNetwork()
    let rows = ModelFormat.NamedParameters model |> Seq.map (fun p -> p.Name, p.Size) |> List.ofSeq
    let expected =
        [ "linear_relu_stack.0.weight", "[512, 784]"; "linear_relu_stack.0.bias", "[512]"
          "linear_relu_stack.2.weight", "[512, 512]"; "linear_relu_stack.2.bias", "[512]"
          "linear_relu_stack.4.weight", "[10, 512]"; "linear_relu_stack.4.bias", "[10]" ]
    Assert.That(rows, equalTo(expected))

[<Test>]
let ``The summary counts parameters as the formula does and shows each layer's output shape`` () =
    use model = new NeuralNetwork()
    let summary = Model.summary [ 1; 28; 28 ] model
    // (784·512 + 512) + (512·512 + 512) + (512·10 + 10)
    Assert.That(summary.TotalParameters, equalTo(784L * 512L + 512L + 512L * 512L + 512L + 512L * 10L + 10L))
    Assert.That(summary.NonTrainableParameters, equalTo(0L))
    let rows = summary.Rows |> Seq.map (fun r -> r.Name, r.Type, List.ofArray r.OutputShape, r.Parameters) |> List.ofSeq
    Assert.That(rows.Head, equalTo(("flatten", "Flatten", [ -1L; 784L ], 0L)))
    Assert.That(rows.[1], equalTo(("linear_relu_stack.0", "Linear", [ -1L; 512L ], 401920L)))
    Assert.That(rows |> List.last, equalTo(("linear_relu_stack.4", "Linear", [ -1L; 10L ], 5130L)))
    let text = summary.ToString()
    contains "Total params: 669,706" text
    contains "Non-trainable params: 0" text

[<Test>]
let ``The summary's shapes agree with the spec's shape inference, and frozen parameters count as non-trainable`` () =
    let layers = [ Layer.conv2d 4 3; Layer.batchNorm2d; Layer.relu; Layer.maxPool2d 2; Layer.flatten; Layer.linear 6; Layer.softmax ]
    use model = Model.build [ 1; 10; 10 ] (Layer.sequential layers)
    model.train()
    let frozen = Model.namedParameters model |> List.find (fun (n, _) -> n = "5.weight") |> snd
    frozen.requires_grad <- false
    let summary = Model.summary [ 1; 10; 10 ] model
    let mutable shape = [ 1; 10; 10 ]
    for layer, row in List.zip layers (List.ofSeq summary.Rows) do
        shape <- Layer.outputShape shape layer
        Assert.That(row.OutputShape |> Array.skip 1 |> Array.map int |> List.ofArray, equalTo(shape), row.Name)
    Assert.That(summary.NonTrainableParameters, equalTo(frozen.numel()))
    Assert.That(summary.TrainableParameters + summary.NonTrainableParameters, equalTo(Model.parameterCount model))
    let text = summary.ToString()
    contains ($"Non-trainable params: {frozen.numel()}") (text)
    contains ($"Trainable params: {Model.parameterCount model - frozen.numel()}") (text)
    Assert.That(model.training, Is.True, "the summary restores training mode")

[<Test>]
let ``A summary for a shape the model cannot take says so`` () =
    use model = new NeuralNetwork()
    let e = throws<ArgumentException>(fun () -> Model.summary [ 3; 10 ] model |> ignore)
    contains "[3, 10]" e.Message

[<Test>]
let ``A spec of every layer type builds and prints PyTorch's repr of the same layers`` () =
    // What PyTorch 2.x prints for nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    // nn.Dropout(0.25), nn.Flatten(), nn.Linear(128, 10), nn.BatchNorm1d(10), nn.LogSoftmax(dim=1), nn.Softmax(dim=1)):
    // the sizes here are the ones the spec must infer from the input [1, 10, 10].
    let spec =
        Layer.sequential [ Layer.conv2d 8 3; Layer.batchNorm2d; Layer.relu; Layer.maxPool2d 2; Layer.dropout 0.25
                           Layer.flatten; Layer.linear 10; Layer.batchNorm1d; Layer.logSoftmax; Layer.softmax ]
    use model = Model.build [ 1; 10; 10 ] spec
    let expected =
        "Sequential(\n" +
        "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))\n" +
        "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n" +
        "  (2): ReLU()\n" +
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n" +
        "  (4): Dropout(p=0.25, inplace=False)\n" +
        "  (5): Flatten(start_dim=1, end_dim=-1)\n" +
        "  (6): Linear(in_features=128, out_features=10, bias=True)\n" +
        "  (7): BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n" +
        "  (8): LogSoftmax(dim=1)\n" +
        "  (9): Softmax(dim=1)\n" +
        ")"
    Assert.That(Model.format model, equalTo(expected))
    // Batch norm's running statistics are buffers, not parameters: they count in no total.
    let summary = Model.summary [ 1; 10; 10 ] model
    Assert.That(summary.TotalParameters, equalTo((8L * 9L + 8L) + (8L + 8L) + (128L * 10L + 10L) + (10L + 10L)))
