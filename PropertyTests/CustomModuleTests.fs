/// A model class written by the user in F#, the tutorial's NeuralNetwork, works wherever a composed one does:
/// Train.fit / evaluate / predict, the summary, PyTorch's printout, state dicts, and whole-model files through
/// the layer registry (Layers.fs `Layer.register`, `Layer.custom`; Serialization.fs `ModelFile.saveRegistered`).
module Functional.PropertyTests.CustomModuleTests

open System
open System.IO
open NUnit.Framework
open TorchSharp
open Functional
open Functional.Data
open Functional.Layers
open Functional.Optim
open Functional.Training
open Functional.FSharp

/// The tutorial's class ("Build the Neural Network") as an F# user writes it. The `let` fields carry Python's names,
/// which RegisterComponents turns into the module and parameter names. With a generator, the weights are PyTorch's
/// default initialisation (uniform ±1/√in_features, weight then bias) drawn from it, as `Model.buildWith` draws them.
type NeuralNetwork(generator: torch.Generator option) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("NeuralNetwork")
    let flatten = torch.nn.Flatten()
    let linear_relu_stack =
        torch.nn.Sequential(
            torch.nn.Linear(28L * 28L, 512L), torch.nn.ReLU(),
            torch.nn.Linear(512L, 512L), torch.nn.ReLU(),
            torch.nn.Linear(512L, 10L))
    do
        this.RegisterComponents()
        generator |> Option.iter (fun g ->
            use _ = torch.no_grad()
            for child in linear_relu_stack.children() do
                match child with
                | :? Modules.Linear as linear ->
                    let bound = 1.0 / sqrt (float linear.in_features)
                    linear.weight.uniform_(-bound, bound, g) |> ignore
                    linear.bias.uniform_(-bound, bound, g) |> ignore
                | _ -> ())

    new() = new NeuralNetwork(None)

    override _.forward x =
        use flat = flatten.call x
        linear_relu_stack.call flat

/// A layer with a setting: x · factor.
type Scale(factor: float) =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("Scale")
    member _.Factor = factor
    override _.forward x = x * factor

/// A class no test registers.
type Unregistered() as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("Unregistered")
    let head = torch.nn.Linear(4L, 2L)
    do this.RegisterComponents()
    override _.forward x = head.call x

[<OneTimeSetUp>]
let setup () =
    Native.EnsureLoaded()
    Layer.register "NeuralNetwork" (fun () -> new NeuralNetwork())
    Layer.registerWith "Scale" (fun options -> new Scale(options.GetProperty("factor").GetDouble()))

[<OneTimeTearDown>]
let teardown () =
    LayerRegistry.Unregister "NeuralNetwork" |> ignore
    LayerRegistry.Unregister "Scale" |> ignore

let private image = [ 1; 28; 28 ]

/// The tutorial's architecture as a spec, with the class's child names.
let private composed () =
    Layer.named [ "flatten", Layer.flatten
                  "linear_relu_stack", Layer.sequential [ Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ] ]

let private sameParameters (a: torch.nn.Module) (b: torch.nn.Module) =
    let pa, pb = Model.namedParameters a, Model.namedParameters b
    Assert.That(List.map fst pa, equalTo (List.map fst pb))
    for (name, x), (_, y) in List.zip pa pb do
        Assert.That(same x y, Is.True, name)

/// What PyTorch 1.13.1 prints for the tutorial's class (`print(NeuralNetwork())`), the tutorial's own printout too;
/// the script is in Core.Tests/CustomModuleTests.cs.
let private pytorchPrintout =
    "NeuralNetwork(\n  (flatten): Flatten(start_dim=1, end_dim=-1)\n  (linear_relu_stack): Sequential(\n" +
    "    (0): Linear(in_features=784, out_features=512, bias=True)\n    (1): ReLU()\n" +
    "    (2): Linear(in_features=512, out_features=512, bias=True)\n    (3): ReLU()\n" +
    "    (4): Linear(in_features=512, out_features=10, bias=True)\n  )\n)"

[<Test>]
let ``The F# class prints, names its parameters and counts them as PyTorch does`` () =
    use model = new NeuralNetwork()
    Assert.That(Model.format model, equalTo pytorchPrintout)
    // PyTorch 1.13.1: [(k, list(v.shape)) for k, v in model.state_dict().items()] and sum(p.numel() for p in model.parameters()).
    let names = Model.namedParameters model |> List.map (fun (n, p) -> n, List.ofArray p.shape)
    Assert.That(names, equalTo [ "linear_relu_stack.0.weight", [ 512L; 784L ]; "linear_relu_stack.0.bias", [ 512L ]
                                 "linear_relu_stack.2.weight", [ 512L; 512L ]; "linear_relu_stack.2.bias", [ 512L ]
                                 "linear_relu_stack.4.weight", [ 10L; 512L ]; "linear_relu_stack.4.bias", [ 10L ] ])
    let summary = Model.summary image model
    Assert.That(summary.TotalParameters, equalTo 669706L)
    Assert.That(List.ofSeq summary.OutputShape, equalTo [ -1L; 10L ])
    contains "linear_relu_stack.2 (Linear)" (string summary)

[<Test>]
let ``The F# class trains as the composed model does, step for step`` () =
    use all = new FashionMnist(null, true, fallback = FashionMnist.FindShippedSubset(), searchSystem = false)
    use ds = Dataset.ofTensors (all.Features.narrow(0L, 0L, 192L).clone()) (all.Labels.narrow(0L, 0L, 192L).clone())
    let train () = Loader.createWith { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 1L } ds |> Loader.map Transform.toTensor
    let test = Loader.create 96 false ds |> Loader.map Transform.toTensor
    let figures (h: History) = h.Epochs |> Seq.map (fun e -> e.TrainLoss, e.TestLoss.Value, e.TestAccuracy.Value) |> List.ofSeq
    use handWritten = new NeuralNetwork(Some (new torch.Generator(3UL)))
    let history, optimizer =
        Train.fitWith { Train.defaults with Epochs = 2; Seed = Some 7L; Progress = false; Device = Devices.Cpu }
            (train ()) test Loss.crossEntropy (Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.05) handWritten
    optimizer.Dispose()
    // The composed model on the same path (autograd, through the core's Trainer): the same numbers bit for bit.
    use built = composed () |> Model.buildWith (new torch.Generator(3UL)) image
    let reference =
        use trainer = new Trainer(built, Losses.CrossEntropy(), Optim.sgdWith { Optim.sgdDefaults with Momentum = 0.9 } 0.05,
                                  TrainerOptions(Device = Devices.Cpu, Seed = Nullable 7L, Progress = false, Fused = Nullable false))
        trainer.Fit(train (), test, 2)
    Assert.That(figures history, equalTo (figures reference))
    sameParameters handWritten built
    Assert.That(Train.evaluate Loss.crossEntropy test handWritten, equalTo (Train.evaluate Loss.crossEntropy test built))
    use x = Transform.applyBatch Transform.toTensor (all.Features.narrow(0L, 0L, 4L))
    use p = Train.predict x handWritten
    use q = Train.predict x built
    Assert.That(same p.Probabilities q.Probabilities && same p.Classes q.Classes, Is.True)

[<Test>]
let ``A registered F# class round-trips through a model file, alone or as a layer with options`` () =
    let folder = tempFolder "custom"
    try
        use model = new NeuralNetwork(Some (new torch.Generator(5UL)))
        let path = Path.Combine(folder, "model.safetensors")
        model |> ModelFile.saveRegistered path image
        Assert.That(Functional.Serialization.ModelFile.ReadSpec path, equalTo """{"type":"NeuralNetwork"}""")
        use loaded = ModelFile.load path
        Assert.That(loaded, Is.InstanceOf<NeuralNetwork>())
        sameParameters model loaded
        // As layers of a spec: the class, then a Scale made from the options stored in the spec.
        let spec = Layer.sequential [ Layer.custom "NeuralNetwork"; Layer.customWith "Scale" """{"factor":0.5}"""; Layer.logSoftmax ]
        Assert.That(Layer.ofJson (Layer.toJson spec), equalTo spec)
        Assert.That(Layer.outputShape image spec, equalTo [ 10 ])
        use net = spec |> Model.build image
        let composite = Path.Combine(folder, "composite.safetensors")
        net |> ModelFile.save composite spec image
        use back = ModelFile.load composite
        sameParameters net back
        net.eval()
        use x = torch.rand([| 2L; 1L; 28L; 28L |], generator = new torch.Generator(6UL))
        use a = net.call x
        use b = back.call x
        Assert.That(same a b, Is.True)
        Assert.That(Model.format back, Does.Contain("(1): Scale()"))
    finally
        Directory.Delete(folder, true)

[<Test>]
let ``A file naming a class this program did not register is refused in one line that says how to register it`` () =
    let folder = tempFolder "custom"
    try
        Layer.register "Unknown1" (fun () -> new NeuralNetwork())
        let path = Path.Combine(folder, "model.safetensors")
        use model = new NeuralNetwork()
        model |> ModelFile.save path (Layer.custom "Unknown1") image
        LayerRegistry.Unregister "Unknown1" |> ignore
        let e = throws<InvalidDataException> (fun () -> ModelFile.load path |> ignore)
        Assert.That(e.Message, Does.StartWith(path + ": the model spec could not be read: Unknown layer type \"Unknown1\""))
        contains "Layer.register \"Unknown1\" (fun () -> new Unknown1())" e.Message
        Assert.That(e.Message, Does.Not.Contain("\n"))
        Assert.That(ModelFile.tryLoad path, equalTo (None: torch.nn.Module<torch.Tensor, torch.Tensor> option))
        Assert.That(Layer.tryOfJson """{"type":"Unknown1"}""", equalTo (None: LayerSpec option))
        // Saving a class that is not registered says how to register it; a built model, which spec to save with.
        use unregistered = new Unregistered()
        let e = throws<ArgumentException> (fun () -> unregistered |> ModelFile.saveRegistered (Path.Combine(folder, "x.safetensors")) [ 4 ])
        contains "LayerRegistry.Register(\"Unregistered\", () => new Unregistered())" e.Message
        use built = Layer.linear 2 |> Model.build [ 4 ]
        let e = throws<ArgumentException> (fun () -> built |> ModelFile.saveRegistered (Path.Combine(folder, "x.safetensors")) [ 4 ])
        contains "save it with the layer spec it was built from" e.Message
        Assert.That(File.Exists(Path.Combine(folder, "x.safetensors")), Is.False)
    finally
        Directory.Delete(folder, true)
