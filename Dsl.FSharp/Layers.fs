namespace Functional.FSharp

open TorchSharp
open Functional.Layers

/// Layers as data: build a spec with these values and functions, compose it with
/// `Layer.sequential` (or `-->`), then turn it into a TorchSharp module with `Model.build`.
///
///     Layer.sequential [ Layer.flatten; Layer.linear 512; Layer.relu; Layer.linear 10 ]
///     |> Model.build [1; 28; 28]
///
/// Every setting has PyTorch's default. For settings without a function here, use the C# factory
/// with named arguments: `Functional.Layers.Layer.Conv2d(32L, 3L, stride = 2L, padding = 1L, groups = 2L)`,
/// `Functional.Layers.Layer.Conv2d(32L, 3L, padding = "same")`, `Functional.Layers.Layer.BatchNorm2d(affine = false)`.
[<RequireQualifiedAccess>]
module Layer =
    /// Flattens each sample to a vector (start_dim=1, end_dim=-1).
    let flatten : LayerSpec = Functional.Layers.Layer.Flatten()

    /// A fully connected layer to `outFeatures`; the input size is inferred from the previous layer.
    let linear (outFeatures: int) : LayerSpec = Functional.Layers.Layer.Linear(int64 outFeatures)

    /// A fully connected layer with an explicit input size (checked when the model is built).
    let linearFrom (inFeatures: int) (outFeatures: int) : LayerSpec = Functional.Layers.Layer.Linear(int64 inFeatures, int64 outFeatures)

    /// The rectified linear unit.
    let relu : LayerSpec = Functional.Layers.Layer.ReLU()

    /// Softmax over the classes (dim 1 of the batched tensor).
    let softmax : LayerSpec = Functional.Layers.Layer.Softmax()

    /// Softmax over dimension `dim` of the batched tensor.
    let softmaxDim (dim: int) : LayerSpec = Functional.Layers.Layer.Softmax(int64 dim)

    /// Log-softmax over the classes (dim 1); pairs with `Loss.nll`.
    let logSoftmax : LayerSpec = Functional.Layers.Layer.LogSoftmax()

    /// Dropout with probability `p` while training.
    let dropout (p: float) : LayerSpec = Functional.Layers.Layer.Dropout(p)

    /// A 2-d convolution with `outChannels` square `kernelSize` kernels, stride 1, no padding; input channels inferred.
    let conv2d (outChannels: int) (kernelSize: int) : LayerSpec = Functional.Layers.Layer.Conv2d(int64 outChannels, int64 kernelSize)

    /// 2-d max pooling with a square window, stride equal to the window.
    let maxPool2d (kernelSize: int) : LayerSpec = Functional.Layers.Layer.MaxPool2d(int64 kernelSize)

    /// Batch normalisation of [features] or [features, length] samples; features inferred.
    let batchNorm1d : LayerSpec = Functional.Layers.Layer.BatchNorm1d()

    /// Batch normalisation of [channels, height, width] samples; channels inferred.
    let batchNorm2d : LayerSpec = Functional.Layers.Layer.BatchNorm2d()

    /// The logistic sigmoid.
    let sigmoid : LayerSpec = Functional.Layers.Layer.Sigmoid()

    /// The hyperbolic tangent.
    let tanh : LayerSpec = Functional.Layers.Layer.Tanh()

    /// The Gaussian error linear unit (exact; `Functional.Layers.Layer.GELU("tanh")` for the approximation).
    let gelu : LayerSpec = Functional.Layers.Layer.GELU()

    /// The sigmoid linear unit (swish).
    let silu : LayerSpec = Functional.Layers.Layer.SiLU()

    /// The leaky ReLU with slope `negativeSlope` below zero (PyTorch's default is 0.01).
    let leakyRelu (negativeSlope: float) : LayerSpec = Functional.Layers.Layer.LeakyReLU(negativeSlope)

    /// The exponential linear unit with `alpha` (PyTorch's default is 1.0).
    let elu (alpha: float) : LayerSpec = Functional.Layers.Layer.ELU(alpha)

    /// log(1 + e^x), PyTorch's Softplus with beta 1 and threshold 20.
    let softplus : LayerSpec = Functional.Layers.Layer.Softplus()

    /// Passes its input through.
    let identity : LayerSpec = Functional.Layers.Layer.Identity()

    /// Splits dimension `dim` of the batched tensor into `sizes`: `unflatten 1 [1; 28; 28]`.
    let unflatten (dim: int) (sizes: int list) : LayerSpec =
        Functional.Layers.Layer.Unflatten(int64 dim, sizes |> List.map int64 |> Array.ofList)

    /// 2-d average pooling with a square window, stride equal to the window.
    let avgPool2d (kernelSize: int) : LayerSpec = Functional.Layers.Layer.AvgPool2d(int64 kernelSize)

    /// Average pooling to a fixed `outputSize` x `outputSize`.
    let adaptiveAvgPool2d (outputSize: int) : LayerSpec = Functional.Layers.Layer.AdaptiveAvgPool2d(int64 outputSize)

    /// Dropout of whole channels with probability `p` while training.
    let dropout2d (p: float) : LayerSpec = Functional.Layers.Layer.Dropout2d(p)

    /// Layer normalisation over the last dimension of each sample (inferred), eps 1e-5, with weight and bias.
    let layerNorm : LayerSpec = Functional.Layers.Layer.LayerNorm()

    /// A lookup table of `numEmbeddings` learned vectors of `embeddingDim` values, for int64 index inputs.
    let embedding (numEmbeddings: int) (embeddingDim: int) : LayerSpec =
        Functional.Layers.Layer.Embedding(int64 numEmbeddings, int64 embeddingDim)

    /// The layers applied in order (a TorchSharp Sequential with children 0, 1, 2, ...).
    let sequential (layers: LayerSpec list) : LayerSpec = Functional.Layers.Layer.Sequential(layers)

    /// Makes your own module class known to specs and model files under `name` (`LayerRegistry.Register`):
    /// a file or spec naming it builds it with `factory`. Register before loading a file that names it.
    ///
    ///     Layer.register "NeuralNetwork" (fun () -> new NeuralNetwork())
    ///     model |> ModelFile.saveRegistered "model.safetensors" [ 1; 28; 28 ]
    ///     let loaded = ModelFile.load "model.safetensors" :?> NeuralNetwork
    let register (name: string) (factory: unit -> 'Module) : unit when 'Module :> torch.nn.Module<torch.Tensor, torch.Tensor> =
        LayerRegistry.Register<'Module>(name, System.Func<'Module>(factory))

    /// `register` with a factory that reads the layer's options (the JSON object a spec stores beside its type).
    let registerWith (name: string) (factory: System.Text.Json.JsonElement -> 'Module) : unit when 'Module :> torch.nn.Module<torch.Tensor, torch.Tensor> =
        LayerRegistry.Register<'Module>(name, System.Func<System.Text.Json.JsonElement, 'Module>(factory))

    /// A module of your own class registered under `name` (see `register`), as a layer of a spec.
    let custom (name: string) : LayerSpec = Functional.Layers.Layer.Custom(name)

    /// A module of your own class made from `options`, a JSON object given to the factory of `registerWith`
    /// and stored in the spec: `Layer.customWith "Scale" """{"factor":2}"""`.
    let customWith (name: string) (options: string) : LayerSpec = Functional.Layers.Layer.Custom(name, options)

    /// The layers applied in order, each under its own name, as a module's fields name its children:
    /// `Layer.named [ "flatten", Layer.flatten; "linear_relu_stack", Layer.sequential [ ... ] ]` has the
    /// tutorial's NeuralNetwork's parameter names (`linear_relu_stack.0.weight`).
    let named (children: (string * LayerSpec) list) : LayerSpec =
        Functional.Layers.Layer.Named(children |> List.map (fun (name, layer) -> struct (name, layer)) |> Array.ofList)

    /// `first` then `second`, flattened into one sequence (associative; `-->` is this).
    let compose (first: LayerSpec) (second: LayerSpec) : LayerSpec = Functional.Layers.Layer.Compose(first, second)

    /// The per-sample output shape for a per-sample input shape (throws `ArgumentException` if it does not fit).
    let outputShape (inputShape: int list) (spec: LayerSpec) : int list =
        spec.OutputShape(inputShape |> List.map int64 |> Array.ofList) |> Array.map int |> List.ofArray

    /// `Some` output shape, or `None` when the input shape does not fit the spec.
    let tryOutputShape (inputShape: int list) (spec: LayerSpec) : int list option =
        try Some (outputShape inputShape spec) with :? System.ArgumentException -> None

    /// The spec as JSON (what a whole-model file stores).
    let toJson (spec: LayerSpec) : string = spec.ToJson()

    /// Reads a spec from JSON (throws `JsonException` with the path and the fix).
    let ofJson (json: string) : LayerSpec = LayerSpec.FromJson json

    /// `Some` spec, or `None` when the JSON is invalid or names an unknown layer.
    let tryOfJson (json: string) : LayerSpec option =
        try Some (LayerSpec.FromJson json) with :? System.Text.Json.JsonException -> None

/// The layer-composition operator.
[<AutoOpen>]
module LayerOperators =
    /// `a --> b` is `Layer.compose a b`: `Layer.flatten --> Layer.linear 512 --> Layer.relu`.
    let (-->) (first: LayerSpec) (second: LayerSpec) : LayerSpec = Layer.compose first second

/// Models: building specs, and inspecting any TorchSharp module (built or hand-written).
[<RequireQualifiedAccess>]
module Model =
    let private shape (inputShape: int list) = inputShape |> List.map int64 |> Array.ofList

    /// Builds the spec for samples of `inputShape` (no batch dimension), e.g. `[1; 28; 28]`.
    let build (inputShape: int list) (spec: LayerSpec) : torch.nn.Module<torch.Tensor, torch.Tensor> =
        spec.Build(shape inputShape)

    /// Builds the spec with weights drawn from `generator`: the same seed gives the same model, bit for bit.
    let buildWith (generator: torch.Generator) (inputShape: int list) (spec: LayerSpec) : torch.nn.Module<torch.Tensor, torch.Tensor> =
        spec.Build(shape inputShape, generator)

    /// PyTorch's printout of the model (`NeuralNetwork(\n  (flatten): Flatten(...)...`).
    let format (model: #torch.nn.Module) : string = ModelFormat.Format model

    /// Prints `format model`.
    let print (model: #torch.nn.Module) : unit = printfn "%s" (ModelFormat.Format model)

    /// Output shapes and parameter counts per layer for samples of `inputShape`; print it for the table.
    let summary (inputShape: int list) (model: torch.nn.Module<torch.Tensor, torch.Tensor>) : ModelSummary =
        ModelSummary.Of(model, shape inputShape)

    /// The parameters with PyTorch's dotted names (`linear_relu_stack.0.weight`), in order.
    let namedParameters (model: #torch.nn.Module) : (string * Modules.Parameter) list =
        ModelFormat.NamedParameters model |> Seq.map (fun p -> p.Name, p.Value) |> List.ofSeq

    /// The number of parameter elements.
    let parameterCount (model: #torch.nn.Module) : int64 =
        model.parameters() |> Seq.sumBy (fun p -> p.numel())
