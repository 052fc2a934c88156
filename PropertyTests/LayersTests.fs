module Functional.PropertyTests.LayersTests

open System
open System.Text.Json
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Layers
open Functional.FSharp


[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

/// A random image-like input shape [c; h; w] and a random stack of layers that fits it:
/// convolutions and pooling while the image is big enough, then flatten and linear layers.
let private imageStacks =
    gen {
        let! c = Gen.choose (1, 3)
        let! h = Gen.choose (6, 12)
        let! w = Gen.choose (6, 12)
        let! convs = Gen.choose (0, 2)
        let! convLayers =
            Gen.listOfLength convs (gen {
                let! out = Gen.choose (1, 4)
                let! k = Gen.choose (1, 3)
                let! extra = Gen.elements [ []; [ Layer.relu ]; [ Layer.batchNorm2d ]; [ Layer.dropout 0.3 ] ]
                return Layer.conv2d out k :: extra })
        let! pool = Gen.elements [ []; [ Layer.maxPool2d 2 ] ]
        let! hidden = Gen.listOf (Gen.choose (1, 8)) |> Gen.map (List.truncate 3)
        let! head = Gen.elements [ []; [ Layer.softmax ]; [ Layer.logSoftmax ]; [ Layer.batchNorm1d ] ]
        let dense = hidden |> List.collect (fun n -> [ Layer.linear n; Layer.relu ])
        let spec = Layer.sequential (List.concat convLayers @ pool @ [ Layer.flatten ] @ dense @ [ Layer.linear 3 ] @ head)
        return [ c; h; w ], spec }
    |> Arb.fromGen

[<Property(MaxTest = 30)>]
let ``The inferred output shape is the shape the built module produces`` () =
    Prop.forAll imageStacks (fun (shape, spec) ->
        use model = Model.build shape spec
        model.eval()
        use x = torch.randn(Array.ofList (2 :: shape |> List.map int64))
        use y = model.call x
        let actual = y.shape |> Array.skip 1 |> Array.map int |> List.ofArray
        actual = Layer.outputShape shape spec)

[<Property(MaxTest = 40)>]
let ``A spec round-trips through JSON`` () =
    Prop.forAll imageStacks (fun (_, spec) ->
        let back = Layer.ofJson (Layer.toJson spec)
        back = spec && Layer.toJson back = Layer.toJson spec)

[<Test>]
let ``Every layer type round-trips through JSON with non-default settings`` () =
    let spec =
        LayerSpec.Sequential(
            [ LayerSpec.Flatten(2L, 3L) :> LayerSpec; LayerSpec.Linear(7L, Nullable(5L), false); LayerSpec.ReLU(); LayerSpec.Softmax(2L)
              LayerSpec.LogSoftmax(-1L); LayerSpec.Dropout(0.25); LayerSpec.Conv2d(4L, 3L, 2L, 1L, Nullable(3L), false)
              LayerSpec.MaxPool2d(3L, Nullable(2L), 1L); LayerSpec.BatchNorm1d(Nullable(6L), 1e-3, 0.2)
              LayerSpec.BatchNorm2d(Nullable(8L), 2e-5, 0.05); LayerSpec.Sequential([ LayerSpec.ReLU() :> LayerSpec ]) ])
    let back = LayerSpec.FromJson(spec.ToJson())
    Assert.That(back, equalTo(spec))
    Assert.That(back.ToJson(), equalTo(spec.ToJson()))

[<Test>]
let ``Invalid JSON and unknown layer types raise a clear JsonException`` () =
    let notJson = throws<JsonException>(fun () -> Layer.ofJson "{ not json" |> ignore)
    contains "not valid JSON" notJson.Message
    let unknown = throws<JsonException>(fun () -> Layer.ofJson """{"type":"Sequential","layers":[{"type":"Transformer"}]}""" |> ignore)
    contains "Transformer" unknown.Message
    contains "$.layers[0]" unknown.Message
    contains "Linear" unknown.Message
    let missing = throws<JsonException>(fun () -> Layer.ofJson """{"type":"Linear"}""" |> ignore)
    contains "outFeatures" missing.Message
    let wrongKind = throws<JsonException>(fun () -> Layer.ofJson """{"type":"Linear","outFeatures":"ten"}""" |> ignore)
    contains "integer" wrongKind.Message
    throws<JsonException>(fun () -> Layer.ofJson """[1, 2]""" |> ignore) |> ignore
    Assert.That(Layer.tryOfJson "{", equalTo(None))

[<Test>]
let ``A built Sequential names its parameters as PyTorch does`` () =
    let spec = Layer.sequential [ Layer.flatten; Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ]
    use model = Model.build [ 1; 28; 28 ] spec
    let names = Model.namedParameters model |> List.map (fun (n, p) -> n, List.ofArray p.shape)
    let expected =
        [ "1.weight", [ 512L; 784L ]; "1.bias", [ 512L ]; "3.weight", [ 512L; 512L ]; "3.bias", [ 512L ]
          "5.weight", [ 10L; 512L ]; "5.bias", [ 10L ] ]
    Assert.That(names, equalTo(expected))
    let nested = Layer.sequential [ Layer.flatten; Layer.sequential [ Layer.linear 4; Layer.relu; Layer.linear 2 ] ]
    use m2 = Model.build [ 3 ] nested
    Assert.That(Model.namedParameters m2 |> List.map fst, equalTo([ "1.0.weight"; "1.0.bias"; "1.2.weight"; "1.2.bias" ]))

[<Test>]
let ``The operator is sugar for compose, which is associative and flattens sequences`` () =
    let a, b, c = Layer.flatten, Layer.linear 4, Layer.relu
    Assert.That((a --> b) --> c, equalTo(a --> (b --> c)))
    Assert.That(a --> b --> c, equalTo(Layer.sequential [ a; b; c ]))
    Assert.That(Layer.compose a b, equalTo(a --> b))

[<Test>]
let ``A size that does not fit is refused with the shapes and the fix`` () =
    let e = throws<ArgumentException>(fun () -> Layer.outputShape [ 1; 28; 28 ] (Layer.sequential [ Layer.flatten; Layer.linearFrom 100 10 ]) |> ignore)
    contains "[784]" e.Message
    contains "100" e.Message
    contains "layer 1" e.Message
    let conv = throws<ArgumentException>(fun () -> Layer.outputShape [ 784 ] (Layer.conv2d 4 3) |> ignore)
    contains "[channels, height, width]" conv.Message
    Assert.That(Layer.tryOutputShape [ 2; 2 ] (Layer.conv2d 1 3), equalTo(None))

[<Test>]
let ``Building with a generator is reproducible and uses PyTorch's initialisation bounds`` () =
    let spec = Layer.sequential [ Layer.conv2d 4 3; Layer.flatten; Layer.linear 5 ]
    let build seed =
        use g = new torch.Generator(uint64 seed)
        Model.buildWith g [ 2; 6; 6 ] spec
    use m1 = build 1
    use m2 = build 1
    use m3 = build 2
    let values (m: torch.nn.Module<torch.Tensor, torch.Tensor>) = Model.namedParameters m |> List.map snd
    Assert.That(List.forall2 (fun (p: Modules.Parameter) q -> (same p q)) (values m1) (values m2), Is.True)
    Assert.That(List.forall2 (fun (p: Modules.Parameter) q -> (same p q)) (values m1) (values m3), Is.False)
    // fan-in: conv 2*3*3 = 18, linear 4*4*4 = 64; PyTorch draws from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    let bounds = [ 18.0; 18.0; 64.0; 64.0 ] |> List.map (fun f -> 1.0 / sqrt f)
    for (p: Modules.Parameter), bound in List.zip (values m1) bounds do
        Assert.That(p.abs().max().item<float32>() |> float, Is.LessThanOrEqualTo(bound))

[<Test>]
let ``The hand-written NeuralNetwork and the built spec compute the same function once they share weights`` () =
    use hand = new Functional.Models.NeuralNetwork()
    let spec = Layer.sequential [ Layer.flatten; Layer.sequential [ Layer.linear 512; Layer.relu; Layer.linear 512; Layer.relu; Layer.linear 10 ] ]
    use built = Model.build [ 1; 28; 28 ] spec
    let handParams = Model.namedParameters hand
    let builtParams = Model.namedParameters built
    Assert.That(builtParams |> List.map (fun (_, p) -> List.ofArray p.shape), equalTo(handParams |> List.map (fun (_, p) -> List.ofArray p.shape)))
    using (torch.no_grad ()) (fun _ ->
        for (_, target: Modules.Parameter), (_, source) in List.zip builtParams handParams do target.copy_(source) |> ignore)
    use x = torch.rand(3L, 1L, 28L, 28L)
    use a = hand.call x
    use b = built.call x
    Assert.That((same a b), Is.True)
    Assert.That((Model.summary [ 1; 28; 28 ] hand).TotalParameters, equalTo((Model.summary [ 1; 28; 28 ] built).TotalParameters))

[<Test>]
let ``The optional final ReLU of the tutorial's network makes the logits non-negative`` () =
    use net = new Functional.Models.NeuralNetwork(true)
    use y = net.call (torch.randn(4L, 1L, 28L, 28L))
    Assert.That(y.min().item<float32>(), Is.GreaterThanOrEqualTo(0.0f))
    Assert.That(Model.namedParameters net |> List.length, equalTo(6))
    contains ("(5): ReLU()") (Model.format net)

[<Test>]
let ``named sequences name parameters as a module's fields do: the tutorial's spec matches its class`` () =
    use handWritten = new Models.NeuralNetwork()
    use built = Models.NeuralNetwork.Spec().Build([| 1L; 28L; 28L |])
    let shapes (m: torch.nn.Module) =
        m.state_dict() |> Seq.map (fun kv -> kv.Key, List.ofArray kv.Value.shape) |> List.ofSeq
    Assert.That(shapes built, Is.EqualTo<(string * int64 list) list>(shapes handWritten))
    Assert.That(shapes built |> List.map fst,
                Is.EqualTo<string list>([ "linear_relu_stack.0.weight"; "linear_relu_stack.0.bias"; "linear_relu_stack.2.weight"
                                          "linear_relu_stack.2.bias"; "linear_relu_stack.4.weight"; "linear_relu_stack.4.bias" ]))

[<Test>]
let ``named sequences round-trip through JSON and refuse bad names`` () =
    let spec = Models.NeuralNetwork.Spec(finalReLU = true)
    let back = LayerSpec.FromJson(spec.ToJson())
    Assert.That(back, Is.EqualTo spec)
    Assert.That(back.ToJson(), Is.EqualTo(spec.ToJson()))
    let e = throws<ArgumentException> (fun () -> Layer.Named(struct ("a", Layer.ReLU()), struct ("a", Layer.ReLU())) |> ignore)
    contains "'a' is used twice" e.Message
    let e = throws<ArgumentException> (fun () -> Layer.Named(struct ("a.b", Layer.ReLU())) |> ignore)
    contains "contain no dot" e.Message
    let bad = """{"type":"Sequential","layers":[{"type":"ReLU"}],"names":["x","y"]}"""
    let e = throws<JsonException> (fun () -> LayerSpec.FromJson bad |> ignore)
    contains "2 names for 1 layers" e.Message

[<Property(MaxTest = 30)>]
let ``The state a spec says it builds, from the spec alone, is the built module's state dict, name by name and shape by shape`` () =
    Prop.forAll imageStacks (fun (shape, spec) ->
        use model = Model.build shape spec
        // Compared as sets: TorchSharp lists buffers (running_mean, ...) after all parameters.
        let built = [ for KeyValue(name, t) in model.state_dict() -> name, t.shape ] |> List.sort
        let said = Functional.Layers.LayerState.Shapes(spec, shape |> List.map int64 |> Array.ofList)
        let saidList = if isNull said then [] else [ for struct (name, s) in said -> name, s ] |> List.sort
        (said <> null && saidList = built) |> Prop.label (sprintf "said %A built %A" saidList built))

// ---- PyTorch's options and the layers a tutorial reader writes next (issue: PyTorch fidelity) ----

[<Test>]
let ``The new layer types and options round-trip through JSON`` () =
    let spec =
        Functional.Layers.Layer.Sequential(
            [ Functional.Layers.Layer.Conv2d(4L, 3L, stride = 2L, padding = 1L, bias = false, dilation = 2L, groups = 1L)
              Functional.Layers.Layer.Conv2d(4L, 3L, "same", groups = 2L)
              Functional.Layers.Layer.BatchNorm2d(1e-3, 0.2, affine = false)
              Functional.Layers.Layer.AvgPool2d(3L, Nullable 2L, 1L); Functional.Layers.Layer.AdaptiveAvgPool2d(2L, 3L)
              Functional.Layers.Layer.Dropout2d(0.1); Functional.Layers.Layer.Sigmoid(); Functional.Layers.Layer.Tanh()
              Functional.Layers.Layer.GELU("tanh"); Functional.Layers.Layer.SiLU(); Functional.Layers.Layer.LeakyReLU(0.2)
              Functional.Layers.Layer.ELU(0.5); Functional.Layers.Layer.Softplus(2.0, 10.0); Functional.Layers.Layer.Identity()
              Functional.Layers.Layer.Flatten(); Functional.Layers.Layer.Unflatten(1L, 2L, 3L)
              Functional.Layers.Layer.LayerNorm([| 2L; 3L |], 1e-4, false); Functional.Layers.Layer.LayerNorm()
              Functional.Layers.Layer.Embedding(7L, 3L, Nullable 0L) ])
    let back = LayerSpec.FromJson(spec.ToJson())
    Assert.That(back, equalTo(spec))
    Assert.That(back.ToJson(), equalTo(spec.ToJson()))
    Assert.That(Functional.Layers.Layer.GELU("tanh"), Is.Not.EqualTo(Functional.Layers.Layer.GELU()))
    Assert.That(Functional.Layers.Layer.Unflatten(1L, 2L, 3L), Is.Not.EqualTo(Functional.Layers.Layer.Unflatten(1L, 3L, 2L)))

/// Output shapes by PyTorch's formulas (torch.nn.Conv2d, AvgPool2d and AdaptiveAvgPool2d documentation):
/// out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1.
[<Property(MaxTest = 60)>]
let ``Convolution and pooling options give PyTorch's output sizes, and the built module agrees`` () =
    let cases =
        gen {
            let! groups = Gen.elements [ 1; 2 ]
            let! c = Gen.choose (1, 2) |> Gen.map (fun c -> c * groups)
            let! h = Gen.choose (7, 12)
            let! w = Gen.choose (7, 12)
            let! out = Gen.choose (1, 2) |> Gen.map (fun o -> o * groups)
            let! k = Gen.choose (1, 3)
            let! stride = Gen.choose (1, 3)
            let! padding = Gen.choose (0, 2)
            let! dilation = Gen.choose (1, 2)
            let! same = Gen.elements [ false; true ]
            let! pool = Gen.elements [ "avg"; "adaptive"; "none" ]
            return groups, c, h, w, out, k, stride, padding, dilation, same, pool }
        |> Arb.fromGen
    Prop.forAll cases (fun (groups, c, h, w, out, k, stride, padding, dilation, same, pool) ->
        let conv =
            if same then Functional.Layers.Layer.Conv2d(int64 out, int64 k, "same", dilation = int64 dilation, groups = int64 groups)
            else Functional.Layers.Layer.Conv2d(int64 out, int64 k, int64 stride, int64 padding, dilation = int64 dilation, groups = int64 groups)
        let size n = if same then n else (n + 2 * padding - dilation * (k - 1) - 1) / stride + 1
        let convH, convW = size h, size w
        if convH < 1 || convW < 1 then true else
        let poolLayer, expected =
            match pool with
            | "avg" when convH >= 2 && convW >= 2 -> [ Functional.Layers.Layer.AvgPool2d(2L) ], [ out; convH / 2; convW / 2 ]
            | "adaptive" -> [ Functional.Layers.Layer.AdaptiveAvgPool2d(2L, 1L) ], [ out; 2; 1 ]
            | _ -> [], [ out; convH; convW ]
        let spec = Layer.sequential (conv :: poolLayer)
        use model = Model.build [ c; h; w ] spec
        use x = torch.randn(2L, int64 c, int64 h, int64 w)
        use y = model.call x
        Layer.outputShape [ c; h; w ] spec = expected && (y.shape |> Array.skip 1 |> Array.map int |> List.ofArray) = expected)

[<Test>]
let ``New layers build the modules PyTorch would, with its parameter names and shapes`` () =
    let named spec shape = (use m = Model.build shape spec in Model.namedParameters m |> List.map (fun (n, p) -> n, List.ofArray p.shape))
    Assert.That(named (Functional.Layers.Layer.LayerNorm(512L)) [ 4; 512 ], equalTo [ "weight", [ 512L ]; "bias", [ 512L ] ])
    Assert.That(named (Functional.Layers.Layer.LayerNorm(512L, elementwiseAffine = false)) [ 512 ], equalTo ([] : (string * int64 list) list))
    Assert.That(named (Functional.Layers.Layer.Embedding(10L, 3L)) [ 5 ], equalTo [ "weight", [ 10L; 3L ] ])
    Assert.That(named (Functional.Layers.Layer.BatchNorm2d(affine = false)) [ 3; 4; 4 ], equalTo ([] : (string * int64 list) list))
    Assert.That(named (Functional.Layers.Layer.Conv2d(4L, 3L, bias = false, groups = 2L)) [ 2; 5; 5 ], equalTo [ "weight", [ 4L; 1L; 3L; 3L ] ])
    // Embedding: [length] indices -> [length, dim]; the padding row is zero.
    use g = new torch.Generator(1UL)
    use embedding = Model.buildWith g [ 5 ] (Functional.Layers.Layer.Embedding(10L, 3L, Nullable 0L))
    use indices = torch.tensor([| 0L; 3L; 9L; 0L; 1L |]).unsqueeze(0L)
    use looked = embedding.call indices
    Assert.That(looked.shape, equalTo [| 1L; 5L; 3L |])
    Assert.That(looked.[0L, 0L].abs().sum().item<float32>(), equalTo 0.0f)
    // Unflatten is the inverse of Flatten: [N, 784] -> [N, 1, 28, 28].
    use unflatten = Model.build [ 784 ] (Layer.unflatten 1 [ 1; 28; 28 ])
    use flat = torch.randn(2L, 784L)
    use images = unflatten.call flat
    Assert.That(images.shape, equalTo [| 2L; 1L; 28L; 28L |])
    Assert.That(images.flatten(1L).allclose(flat, 0.0, 0.0), Is.True)

/// Values by the definitions in PyTorch's documentation of each activation, computed in float64 here.
[<Test>]
let ``The activations compute PyTorch's definitions`` () =
    let xs = [| -3.0; -1.0; -0.25; 0.0; 0.5; 2.0; 25.0 |]
    let check (spec: LayerSpec) (f: float -> float) =
        use m = Model.build [ xs.Length ] spec
        use x = torch.tensor(xs).unsqueeze(0L)
        use y = m.call x
        let actual = y.squeeze(0L).data<float>().ToArray()
        Array.iteri2 (fun i (a: float) (e: float) -> Assert.That(a, Is.EqualTo(e).Within(1e-12), sprintf "%s at x=%g" (string spec) xs.[i])) actual (Array.map f xs)
    let erf (x: float) = MathNet.Numerics.SpecialFunctions.Erf x
    check Layer.sigmoid (fun x -> 1.0 / (1.0 + exp -x))
    check Layer.tanh Math.Tanh
    check Layer.gelu (fun x -> 0.5 * x * (1.0 + erf (x / sqrt 2.0)))
    check (Functional.Layers.Layer.GELU("tanh")) (fun x -> 0.5 * x * (1.0 + Math.Tanh(sqrt (2.0 / Math.PI) * (x + 0.044715 * x ** 3.0))))
    check Layer.silu (fun x -> x / (1.0 + exp -x))
    check (Layer.leakyRelu 0.2) (fun x -> if x >= 0.0 then x else 0.2 * x)
    check (Layer.elu 0.7) (fun x -> if x > 0.0 then x else 0.7 * (exp x - 1.0))
    check Layer.softplus (fun x -> if x > 20.0 then x else log (1.0 + exp x))
    check Layer.identity id

[<Test>]
let ``Settings PyTorch refuses are refused with the reason`` () =
    let e = throws<ArgumentException>(fun () -> Functional.Layers.Layer.Conv2d(4L, 3L, "full") |> ignore)
    contains "same" e.Message
    let strided = throws<ArgumentException>(fun () -> Layer.outputShape [ 1; 8; 8 ] (Functional.Layers.Layer.Sequential([ Functional.Layers.Layer.Conv2d(4L, 3L, "same"); Functional.Layers.Layer.Conv2d(4L, 3L, 2L, groups = 3L) ])) |> ignore)
    contains "groups=3" strided.Message
    let unflatten = throws<ArgumentException>(fun () -> Layer.outputShape [ 784 ] (Layer.unflatten 1 [ 1; 28; 27 ]) |> ignore)
    contains "756" unflatten.Message
    let norm = throws<ArgumentException>(fun () -> Layer.outputShape [ 4; 10 ] (Functional.Layers.Layer.LayerNorm(512L)) |> ignore)
    contains "[512]" norm.Message
