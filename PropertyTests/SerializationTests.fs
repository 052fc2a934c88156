module Functional.PropertyTests.SerializationTests

open System
open System.IO
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Data
open Functional.Layers
open Functional.Serialization
open Functional.Training
open Functional.FSharp


[<OneTimeSetUp>]
let setup () = Native.EnsureLoaded()

/// A fresh temporary folder for one test, deleted afterwards.
let private withFolder (f: string -> 'a) : 'a =
    let folder = Path.Combine(Path.GetTempPath(), "functional-fs-serialization-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory folder |> ignore
    try f folder finally Directory.Delete(folder, true)

/// Every state-dict tensor (parameters and buffers) of `a` equals the one of `b` under the same name.
let private sameState (a: torch.nn.Module) (b: torch.nn.Module) =
    let sa, sb = a.state_dict(), b.state_dict()
    sa.Count = sb.Count
    && sa |> Seq.forall (fun kv ->
        match sb.TryGetValue kv.Key with
        | true, t -> t.shape = kv.Value.shape && t.dtype = kv.Value.dtype && t.equal(kv.Value).all().item<bool>()
        | _ -> false)

let private copies (model: torch.nn.Module) =
    model.state_dict() |> Seq.map (fun kv -> kv.Key, kv.Value.clone()) |> Map.ofSeq

/// Small stacks for [features] samples, with batch norm (buffers) and dropout (mode-dependent).
let private stacks =
    gen {
        let! features = Gen.choose (1, 6)
        let! hidden = Gen.listOf (Gen.choose (1, 6)) |> Gen.map (List.truncate 3)
        let! extras = Gen.listOfLength hidden.Length (Gen.elements [ []; [ Layer.batchNorm1d ]; [ Layer.dropout 0.5 ]; [ Layer.relu ] ])
        let body = List.map2 (fun n extra -> Layer.linear n :: extra) hidden extras |> List.concat
        let! seeds = Gen.two (Gen.choose (0, 10000))
        return features, Layer.sequential (body @ [ Layer.linear 3 ]), seeds }
    |> Arb.fromGen

/// Trains a model a little so that BatchNorm's running statistics differ from their initial values.
let private warm (features: int) (model: torch.nn.Module<torch.Tensor, torch.Tensor>) =
    model.train()
    use g = new torch.Generator(9UL)
    for _ in 1 .. 2 do
        use x = torch.randn([| 4L; int64 features |], generator = g)
        use _ = model.call x
        ()
    model.eval()

[<Property(MaxTest = 25)>]
let ``weights saved by one model load into another built from the same spec, buffers included`` () =
    Prop.forAll stacks (fun (features, spec, (s1, s2)) ->
        withFolder (fun folder ->
            use source = spec |> Model.buildWith (new torch.Generator(uint64 s1)) [ features ]
            warm features source
            use target = spec |> Model.buildWith (new torch.Generator(uint64 s2 + 20000UL)) [ features ]
            let path = Path.Combine(folder, "w.safetensors")
            source |> Weights.save path
            let report = target |> Weights.load path
            Weights.allKeysMatched report
            && report.LoadedKeys.Count = source.state_dict().Count
            && sameState source target))

[<Property(MaxTest = 25)>]
let ``a whole-model file comes back from the path alone, in eval mode, computing the same outputs`` () =
    Prop.forAll stacks (fun (features, spec, (s1, _)) ->
        withFolder (fun folder ->
            use model = spec |> Model.buildWith (new torch.Generator(uint64 s1)) [ features ]
            warm features model
            let path = Path.Combine(folder, "model.safetensors")
            model |> ModelFile.save path spec [ features ]
            use loaded = ModelFile.load path
            use x = torch.randn([| 5L; int64 features |], generator = new torch.Generator(uint64 s1))
            use expected = model.call x
            use actual = loaded.call x
            not loaded.training
            && actual.equal(expected).all().item<bool>()
            && ModelFile.readSpec path = spec
            && ModelFile.readInputShape path = [ features ]
            && sameState model loaded))

let private head3 = Layer.sequential [ Layer.linear 4; Layer.relu; Layer.linear 3 ]
let private head2 = Layer.sequential [ Layer.linear 4; Layer.relu; Layer.linear 2 ]
let private other = Layer.sequential [ Layer.linear 4; Layer.relu; Layer.linear 4; Layer.relu; Layer.linear 3 ]

[<Test>]
let ``a strict load of weights that do not fit throws, tryLoad returns the report, and the model is untouched`` () =
    withFolder (fun folder ->
        let path = Path.Combine(folder, "w.safetensors")
        use source = head3 |> Model.buildWith (new torch.Generator(1UL)) [ 5 ]
        source |> Weights.save path
        use target = other |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        let before = copies target
        let e = throws<StateDictMismatchException> (fun () -> target |> Weights.load path |> ignore)
        Assert.That(e.Message, Does.Contain(path))
        match target |> Weights.tryLoad path with
        | Ok _ -> Assert.Fail "the weights of another architecture loaded"
        | Error report ->
            Assert.That(report.MissingKeys, Is.EquivalentTo [ "4.weight"; "4.bias" ])
            Assert.That(report.Mismatches |> Seq.map (fun m -> m.Key), Is.EquivalentTo [ "2.weight"; "2.bias" ])
            Assert.That(report.UnexpectedKeys, Is.Empty)
            Assert.That((target |> Weights.compare path).ToString(), Is.EqualTo(report.ToString()), "compare predicts the load's report")
        for KeyValue (k, t) in target.state_dict() do
            Assert.That(t.equal(before[k]).all().item<bool>(), Is.True, k))

[<Test>]
let ``tryLoad of weights that fit loads them`` () =
    withFolder (fun folder ->
        let path = Path.Combine(folder, "w.safetensors")
        use source = head3 |> Model.buildWith (new torch.Generator(1UL)) [ 5 ]
        source |> Weights.save path
        use target = head3 |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        match target |> Weights.tryLoad path with
        | Ok report -> Assert.That(report.ToString(), Is.EqualTo LoadReport.AllKeysMatchedMessage)
        | Error report -> Assert.Fail(report.ToString())
        Assert.That(sameState source target, Is.True))

[<Test>]
let ``a non-strict load copies the layers that fit and keeps the others (fine-tuning a new head)`` () =
    withFolder (fun folder ->
        let path = Path.Combine(folder, "w.safetensors")
        use source = head3 |> Model.buildWith (new torch.Generator(1UL)) [ 5 ]
        source |> Weights.save path
        use target = head2 |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        let before = copies target
        let report = target |> Weights.loadNonStrict path
        Assert.That(report.LoadedKeys, Is.EquivalentTo [ "0.weight"; "0.bias" ])
        Assert.That(report.Mismatches |> Seq.map (fun m -> m.Key), Is.EquivalentTo [ "2.weight"; "2.bias" ])
        let s, t = source.state_dict(), target.state_dict()
        Assert.That(t["0.weight"].equal(s["0.weight"]).all().item<bool>(), Is.True)
        Assert.That(t["2.weight"].equal(before["2.weight"]).all().item<bool>(), Is.True, "the new head is left as built"))

[<Test>]
let ``saveWith stores the metadata beside PyTorch's format tag`` () =
    withFolder (fun folder ->
        let path = Path.Combine(folder, "w.safetensors")
        use model = head3 |> Model.build [ 5 ]
        model |> Weights.saveWith [ "run", "nightly" ] path
        let metadata = (SafeTensors.ReadHeader path).Metadata
        Assert.That(metadata["run"], Is.EqualTo "nightly")
        Assert.That(metadata["format"], Is.EqualTo "pt"))

[<Test>]
let ``TorchSharp's own format round-trips through saveTorchSharp and loadTorchSharp`` () =
    withFolder (fun folder ->
        let path = Path.Combine(folder, "w.dat")
        use source = head3 |> Model.buildWith (new torch.Generator(1UL)) [ 5 ]
        source |> Weights.saveTorchSharp path
        use target = head3 |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        Assert.That(Weights.allKeysMatched (target |> Weights.loadTorchSharp path), Is.True)
        Assert.That(sameState source target, Is.True))

[<Test>]
let ``a PyTorch .pt state dict loads strictly, and non-strictly into a model with another head`` () =
    withFolder (fun folder ->
        // No Python here: TorchSharp.PyBridge's pickler writes torch.save's zip layout.
        let path = Path.Combine(folder, "net.pt")
        use source = head3 |> Model.buildWith (new torch.Generator(1UL)) [ 5 ]
        TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(path, source.state_dict())
        use target = head3 |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        Assert.That(Weights.allKeysMatched (target |> Weights.loadPyTorch path), Is.True)
        Assert.That(sameState source target, Is.True)
        use other = head2 |> Model.buildWith (new torch.Generator(2UL)) [ 5 ]
        throws<StateDictMismatchException> (fun () -> other |> Weights.loadPyTorch path |> ignore) |> ignore
        let report = other |> Weights.loadPyTorchNonStrict path
        Assert.That(report.LoadedKeys, Is.EquivalentTo [ "0.weight"; "0.bias" ]))

[<Test>]
let ``ModelFile.tryLoad is None for a missing, weights-only or truncated file`` () =
    withFolder (fun folder ->
        use model = head3 |> Model.build [ 5 ]
        let weights = Path.Combine(folder, "weights.safetensors")
        model |> Weights.save weights
        let whole = Path.Combine(folder, "model.safetensors")
        model |> ModelFile.save whole head3 [ 5 ]
        let cut = Path.Combine(folder, "cut.safetensors")
        let bytes = File.ReadAllBytes whole
        File.WriteAllBytes(cut, bytes[.. bytes.Length - 9])
        Assert.That(ModelFile.tryLoad (Path.Combine(folder, "absent.safetensors")), Is.EqualTo(None: torch.nn.Module<torch.Tensor, torch.Tensor> option))
        Assert.That((ModelFile.tryLoad weights).IsNone, Is.True, "a weights-only file has no spec")
        Assert.That((ModelFile.tryLoad cut).IsNone, Is.True)
        Assert.That((ModelFile.tryLoad whole).IsSome, Is.True)
        let e = throws<InvalidDataException> (fun () -> ModelFile.load cut |> ignore)
        Assert.That(e.Message, Does.StartWith(cut)))

[<Test>]
let ``a model file whose input shape is missing or not an array of integers is refused naming the file`` () =
    withFolder (fun folder ->
        let write name (shape: string option) =
            let path = Path.Combine(folder, name)
            let metadata = Collections.Generic.Dictionary<string, string>()
            metadata[Functional.Serialization.ModelFile.SpecKey] <- Layer.toJson head3
            shape |> Option.iter (fun s -> metadata[Functional.Serialization.ModelFile.InputShapeKey] <- s)
            use w = torch.zeros(3L, 5L)
            use stream = File.Create path
            SafeTensors.Write(stream, readOnlyDict [ "0.weight", w ], metadata)
            path
        for name, shape, problem in [ "none", None, "has no"; "null", Some "null", "not a JSON array"; "text", Some "\"5\"", "not a JSON array" ] do
            let path = write (name + ".safetensors") shape
            for read in [ (fun () -> ModelFile.readInputShape path |> ignore); (fun () -> ModelFile.load path |> ignore) ] do
                let e = throws<InvalidDataException> read
                Assert.That(e.Message, Does.StartWith(path + ": the metadata").And.Contain(problem), name))

/// A model file holding `weights` with `spec` and `inputShape` in its header, as a damaged or edited file could.
let private forged (path: string) (spec: string) (inputShape: string) (weights: (string * torch.Tensor) list) =
    let metadata = Collections.Generic.Dictionary<string, string>()
    metadata[Functional.Serialization.ModelFile.SpecKey] <- spec
    metadata[Functional.Serialization.ModelFile.InputShapeKey] <- inputShape
    use stream = File.Create path
    SafeTensors.Write(stream, readOnlyDict weights, metadata)

[<Test>]
let ``a model file whose spec asks for more than its stored weights is refused in one line before anything is built`` () =
    withFolder (fun folder ->
        use w = torch.zeros(10L, 784L)
        use b = torch.zeros(10L)
        let path = Path.Combine(folder, "huge.safetensors")
        // 440 bytes of header saying Linear(1000000): building it would allocate 784 million float32, 3.1 GB.
        forged path (Layer.toJson (Layer.sequential [ Layer.flatten; Layer.linear 1000000 ])) "[1,28,28]" [ "1.weight", w; "1.bias", b ]
        let e = throws<InvalidDataException> (fun () -> ModelFile.load path |> ignore)
        Assert.That(e.Message, Does.StartWith(path + ": the model spec does not match the weights stored with it: "))
        Assert.That(e.Message, Does.Contain("'1.weight' of shape [1000000, 784], the file holds [10, 784]").And.Contain("1 more difference"))
        Assert.That(e.Message, Does.Not.Contain("\n"))
        // A tensor the spec does not make, with a control character in its name, is named escaped.
        let extra = Path.Combine(folder, "extra.safetensors")
        forged extra (Layer.toJson (Layer.sequential [ Layer.flatten; Layer.linear 10 ])) "[1,28,28]" [ "1.weight", w; "1.bias", b; "x\u001b[31m", b ]
        let e = throws<InvalidDataException> (fun () -> ModelFile.load extra |> ignore)
        Assert.That(e.Message, Does.Contain("the file holds 'x\\u001b[31m', which the spec does not make"))
        // An input shape that asks for too much, or is not a shape, is refused from the header.
        for shape, problem in [ "[1,100000,100000]", "values per sample, above the limit"; "[]", "expected 1 to 8 dimensions"; "[1,-28,28]", "expected 1 to 8 dimensions" ] do
            let bad = Path.Combine(folder, "shape.safetensors")
            forged bad (Layer.toJson (Layer.sequential [ Layer.flatten; Layer.linear 10 ])) shape [ "1.weight", w; "1.bias", b ]
            let e = throws<InvalidDataException> (fun () -> ModelFile.load bad |> ignore)
            Assert.That(e.Message, Does.StartWith(bad + ": the metadata").And.Contain(problem), shape))

[<Test>]
let ``ModelFile.save refuses a spec that does not fit the input shape`` () =
    withFolder (fun folder ->
        use model = head3 |> Model.build [ 5 ]
        let spec = Layer.sequential [ Layer.conv2d 2 3 ]
        throws<ArgumentException> (fun () -> model |> ModelFile.save (Path.Combine(folder, "m.safetensors")) spec [ 5 ]) |> ignore)

/// Random classification data for [6] samples.
let private data () =
    use g = new torch.Generator(3UL)
    new TensorDataset(torch.randn([| 40L; 6L |], generator = g), torch.randint(0L, 3L, [| 40L |], torch.ScalarType.Int64, generator = g))

[<Test>]
let ``Checkpoint.save then restore into fresh objects continues exactly as an uninterrupted run`` () =
    withFolder (fun folder ->
        use ds = data ()
        let spec = Layer.sequential [ Layer.linear 8; Layer.relu; Layer.dropout 0.2; Layer.linear 3 ]
        let run () =
            let model = spec |> Model.buildWith (new torch.Generator(4UL)) [ 6 ]
            let optimizer = Optim.adam 1e-2 |> Optim.bind model
            let loader = DataLoader(ds, 8, shuffle = true, seed = Nullable 6L)
            model, optimizer, loader, new Trainer(model, Loss.crossEntropy, optimizer, TrainerOptions(Device = Devices.Cpu, Seed = Nullable 7L, Progress = false))
        let straight, _, loaderA, trainerA = run ()
        trainerA.Fit(loaderA, epochs = 3) |> ignore

        let path = Path.Combine(folder, "run.ckpt")
        let first, optimizerB, loaderB, trainerB = run ()
        let history = trainerB.Fit(loaderB, epochs = 1)
        first |> Checkpoint.save path loaderB optimizerB 1 history
        Assert.That(Checkpoint.epoch path, Is.EqualTo 1)
        // Some other work with LibTorch's generator and the loader's, as a new process would not have done.
        trainerB.Fit(loaderB, epochs = 2, resume = history) |> ignore

        let resumed, optimizerC, loaderC, trainerC = run ()
        let restored = resumed |> Checkpoint.restore path loaderC optimizerC
        Assert.That(restored.Count, Is.EqualTo 1)
        Assert.That(sameState first resumed, Is.False, "the restored weights are epoch 1's, not those of the first run, which went on to epoch 2")
        trainerC.Fit(loaderC, epochs = 3, resume = restored) |> ignore
        Assert.That(sameState straight resumed, Is.True))
