/// Train.fs: the F# face of training (Train.fit, Train.evaluate, Train.predict, Callback).
module Functional.PropertyTests.TrainTests

open System
open System.IO
open NUnit.Framework
open TorchSharp
open Functional
open Functional.Data
open Functional.Optim
open Functional.Training
open Functional.FSharp

[<OneTimeSetUp>]
let load () = Functional.Native.EnsureLoaded()

/// Random Fashion-MNIST-shaped data: uint8 images [n, 1, 28, 28] and int64 labels in 0..9.
let private data (n: int) (seed: int64) =
    use g = new torch.Generator(uint64 seed, torch.CPU)
    let images = torch.randint(0L, 256L, [| int64 n; 1L; 28L; 28L |], torch.ScalarType.Byte, generator = g)
    let labels = torch.randint(0L, 10L, [| int64 n |], torch.ScalarType.Int64, generator = g)
    Dataset.ofTensors images labels

/// A small network with dropout, so that the seed (and a resume's generator state) matters.
let private spec = Layer.sequential [ Layer.flatten; Layer.linear 32; Layer.relu; Layer.dropout 0.3; Layer.linear 10 ]

let private model (seed: uint64) =
    use g = new torch.Generator(seed, torch.CPU)
    Model.buildWith g [ 1; 28; 28 ] spec

/// The DSL's options without console output, on the CPU.
let private quiet = { Train.defaults with Progress = false; Device = Devices.Cpu }

let private testLosses (h: History) = h.Epochs |> Seq.map (fun m -> m.TestLoss.Value, m.TestAccuracy.Value) |> List.ofSeq

[<Test>]
let ``Train.fit equals the C# Trainer's fit bit for bit`` () =
    use ds = data 80 1L
    let optimizer () = Optim.chain [ Optim.clipByGlobalNorm 1.0; Optim.adam 1e-2 ]
    // The core's Trainer, given the unbound optimizer (it binds it) and a loader made with another seed:
    // one Seed seeds LibTorch and the shuffling, in C# as in F#.
    let csharp =
        use m = model 3UL
        use trainer = new Trainer(m, Losses.CrossEntropy(), optimizer (), TrainerOptions(Device = Devices.Cpu, Seed = Nullable 5L, Progress = false))
        let losses = ResizeArray<float>()
        let train = DataLoader(ds, 16, shuffle = true, seed = Nullable 99L).Map(Functional.Transforms.ToTensor())
        let test = DataLoader(ds, 32).Map(Functional.Transforms.ToTensor())
        let history = trainer.Fit(train, test, 3, [ Callback.Create(onBatchEnd = Action<TrainingContext>(fun e -> losses.Add e.Loss)) ])
        List.ofSeq losses, testLosses history
    // The DSL, with a loader whose shuffling seed is drawn at random: Seed overrides it.
    let fsharp =
        use m = model 3UL
        let losses = ResizeArray<float>()
        let history =
            Train.fit { quiet with Epochs = 3; Seed = Some 5L; Callbacks = [ Callback.onBatchEnd (fun e -> losses.Add e.Loss) ] }
                (Loader.create 16 true ds |> Loader.map Transform.toTensor)
                (Loader.create 32 false ds |> Loader.map Transform.toTensor)
                Loss.crossEntropy (optimizer ()) m
        List.ofSeq losses, testLosses history
    Assert.That((fst fsharp).Length, Is.EqualTo 15)
    Assert.That(fst fsharp, Is.EqualTo<float list>(fst csharp))
    Assert.That(snd fsharp, Is.EqualTo<(float * float) list>(snd csharp))

[<Test>]
let ``the same seed repeats a run and another seed does not`` () =
    use ds = data 48 2L
    let run seed =
        use m = model 4UL
        let losses = ResizeArray<float>()
        Train.fit { quiet with Epochs = 2; Seed = Some seed; Callbacks = [ Callback.onBatchEnd (fun e -> losses.Add e.Loss) ] }
            (Loader.create 16 true ds |> Loader.map Transform.toTensor)
            (Loader.create 16 false ds |> Loader.map Transform.toTensor)
            Loss.crossEntropy (Optim.sgd 1e-2) m |> ignore
        List.ofSeq losses
    let a = run 7L
    Assert.That(run 7L, Is.EqualTo<float list>(a))
    Assert.That(run 8L, Is.Not.EqualTo<float list>(a))

[<Test>]
let ``early stopping through the DSL ends fit after its patience`` () =
    use ds = data 32 3L
    use m = model 0UL
    let stops = ResizeArray<string>()
    let history =
        Train.fit { quiet with Epochs = 10; Callbacks = [ Callback.earlyStopping Monitor.TestLoss 3
                                                          Callback.onFitEnd (fun e -> stops.Add e.StopReason) ] }
            (Loader.create 16 false ds |> Loader.map Transform.toTensor)
            (Loader.create 16 false ds |> Loader.map Transform.toTensor)
            Loss.crossEntropy (Optim.sgd 0.0) m      // learning rate 0: the test loss never improves after epoch 1
    Assert.That(history.Count, Is.EqualTo 4)
    Assert.That(stops.Count, Is.EqualTo 1)
    Assert.That(stops[0], Does.Contain "early stopping")

[<Test>]
let ``checkpoint then resume through the DSL gives the losses of an uninterrupted run`` () =
    use ds = data 48 4L
    let path = Path.Combine(Path.GetTempPath(), $"functional-dsl-resume-{Guid.NewGuid():N}.ckpt")
    try
        let run (initSeed: uint64) options =
            use m = model initSeed
            let losses = ResizeArray<float>()
            let history =
                Train.fit { options with Seed = Some 11L; Callbacks = [ Callback.onBatchEnd (fun e -> losses.Add e.Loss) ] }
                    (Loader.create 16 true ds |> Loader.map Transform.toTensor)
                    (Loader.create 24 false ds |> Loader.map Transform.toTensor)
                    Loss.crossEntropy (Optim.adam 1e-2) m
            List.ofSeq losses, history
        let whole, wholeHistory = run 1UL { quiet with Epochs = 4 }
        let first, _ = run 1UL { quiet with Epochs = 2; Checkpoint = Some path }
        // A new process would build the model with other weights: the checkpoint replaces them.
        let rest, restHistory = run 99UL { quiet with Epochs = 4; Resume = Some path }
        Assert.That(first.Length, Is.EqualTo 6)
        Assert.That(rest.Length, Is.EqualTo 6)
        Assert.That(first @ rest, Is.EqualTo<float list>(whole))
        Assert.That(restHistory.Count, Is.EqualTo 4)
        Assert.That(testLosses restHistory, Is.EqualTo<(float * float) list>(testLosses wholeHistory))
    finally
        File.Delete path

exception private Killed

[<Test>]
let ``a run killed inside an epoch resumes at its next batch through the DSL`` () =
    use ds = data 48 6L                   // 3 batches of 16 an epoch
    let path = Path.Combine(Path.GetTempPath(), $"functional-dsl-resume-batch-{Guid.NewGuid():N}.ckpt")
    try
        let run (initSeed: uint64) options (extra: IDataLoader -> Callback list) =
            use m = model initSeed
            let losses = ResizeArray<float>()
            let train = Loader.create 16 true ds |> Loader.map Transform.toTensor
            let history =
                try
                    Some(Train.fit { options with Seed = Some 11L; Callbacks = Callback.onBatchEnd (fun e -> losses.Add e.Loss) :: extra train }
                            train (Loader.create 24 false ds |> Loader.map Transform.toTensor) Loss.crossEntropy (Optim.adam 1e-2) m)
                with Killed -> None
            List.ofSeq losses, history
        let whole, wholeHistory = run 1UL { quiet with Epochs = 3 } (fun _ -> [])
        // Saved after every batch; killed before batch 2 of epoch 2 (so after its batches 0 and 1).
        let killer = Callback.onBatchBegin (fun e -> if (e.Epoch, e.Batch) = (2, 2) then raise Killed)
        let _, killed = run 1UL { quiet with Epochs = 3 } (fun train -> [ killer; Callback.checkpointEveryBatches 1 path train ])
        Assert.That(killed, Is.EqualTo None)
        Assert.That(Checkpoint.epoch path, Is.EqualTo 1)
        let rest, restHistory = run 99UL { quiet with Epochs = 3; Resume = Some path } (fun _ -> [])
        Assert.That(rest, Is.EqualTo<float list>(List.skip (3 + 2) whole))
        Assert.That(restHistory.Value.Epochs |> Seq.map (fun m -> m.TrainLoss) |> List.ofSeq,
                    Is.EqualTo<float list>(wholeHistory.Value.Epochs |> Seq.map (fun m -> m.TrainLoss) |> List.ofSeq))
        Assert.That(testLosses restHistory.Value, Is.EqualTo<(float * float) list>(testLosses wholeHistory.Value))
    finally
        File.Delete path

[<Test>]
let ``Callback.on* see the loop's events in order`` () =
    use ds = data 40 5L
    use m = model 0UL
    let events = ResizeArray<string>()
    let callbacks =
        [ Callback.onFitBegin (fun e -> events.Add $"fit {e.FirstEpoch}-{e.Epochs}")
          Callback.onEpochBegin (fun e -> events.Add $"epoch {e.Epoch}")
          Callback.onBatchBegin (fun e -> events.Add $"begin {e.Epoch}.{e.Batch}")
          Callback.onBatchEnd (fun e -> events.Add $"end {e.Epoch}.{e.Batch} {e.SamplesBefore}/{e.DatasetSize}")
          Callback.onEpochEnd (fun e -> events.Add $"epoch end {e.Metrics.Epoch}")
          Callback.onFitEnd (fun e -> events.Add $"fit end {e.History.Count}") ]
    Train.fit { quiet with Epochs = 2; Callbacks = callbacks }
        (Loader.create 16 false ds |> Loader.map Transform.toTensor)
        (Loader.create 16 false ds |> Loader.map Transform.toTensor)
        Loss.crossEntropy (Optim.sgd 1e-3) m |> ignore
    let epoch e =
        [ $"epoch {e}"
          $"begin {e}.0"; $"end {e}.0 0/40"
          $"begin {e}.1"; $"end {e}.1 16/40"
          $"begin {e}.2"; $"end {e}.2 32/40"
          $"epoch end {e}" ]
    Assert.That(List.ofSeq events, Is.EqualTo<string list>([ "fit 1-2" ] @ epoch 1 @ epoch 2 @ [ "fit end 2" ]))

[<Test>]
let ``Callback.learningRate sets the rate of each epoch`` () =
    use ds = data 16 6L
    use m = model 0UL
    let seen = ResizeArray<float>()
    let history, optimizer =
        Train.fitWith { quiet with Epochs = 3
                                   Callbacks = [ Callback.learningRate (fun epoch -> 0.1 / float epoch)
                                                 Callback.onBatchEnd (fun e -> seen.Add e.Optimizer.CurrentLearningRate) ] }
            (Loader.create 8 false ds |> Loader.map Transform.toTensor)
            (Loader.create 8 false ds |> Loader.map Transform.toTensor)
            Loss.crossEntropy (Optim.sgd 1.0) m
    use optimizer = optimizer
    Assert.That(List.ofSeq seen, Is.EqualTo<float list>([ 0.1; 0.1; 0.05; 0.05; 0.1 / 3.0; 0.1 / 3.0 ]))
    Assert.That(history.Epochs |> Seq.map (fun e -> e.LearningRate) |> List.ofSeq, Is.EqualTo<float list>([ 0.1; 0.05; 0.1 / 3.0 ]))
    Assert.That(Optim.learningRate optimizer, Is.EqualTo(0.1 / 3.0))
    Assert.That(optimizer.StepCount, Is.EqualTo 6L)

[<Test>]
let ``Callback.progressTo prints the tutorial's lines`` () =
    use ds = data 40 7L
    use m = model 0UL
    use output = new StringWriter()
    let losses = ResizeArray<float>()
    let history =
        Train.fit { quiet with Epochs = 1; Callbacks = [ Callback.progressTo 2 output; Callback.onBatchEnd (fun e -> losses.Add e.Loss) ] }
            (Loader.create 16 false ds |> Loader.map Transform.toTensor)
            (Loader.create 16 false ds |> Loader.map Transform.toTensor)
            Loss.crossEntropy (Optim.sgd 1e-3) m
    // Python's f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]" with current = batch * len(X) (so the
    // last, short batch 2 of 8 samples shows 16), and
    // f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n", by hand.
    let f6 (x: float) = x.ToString("F6", Globalization.CultureInfo.InvariantCulture)
    let f1 (x: float) = x.ToString("F1", Globalization.CultureInfo.InvariantCulture)
    let metrics = history.Epochs[0]
    let expected =
        [ "Epoch 1"; "-------------------------------"
          $"loss: {f6 losses[0]}  [    0/   40]"
          $"loss: {f6 losses[2]}  [   16/   40]"
          "Test Error: "
          $" Accuracy: {f1 (100.0 * metrics.TestAccuracy.Value)}%%, Avg loss: {f6 metrics.TestLoss.Value} "
          ""; "Done!" ]
    let lines = output.ToString().Replace("\r\n", "\n").TrimEnd('\n').Split('\n') |> List.ofArray
    Assert.That(lines, Is.EqualTo<string list>(expected))

[<Test>]
let ``fit moves a model to the device and leaves no live tensors behind`` () =
    use ds = data 32 8L
    use m = model 0UL
    let train = Loader.create 16 true ds |> Loader.map Transform.toTensor
    let test = Loader.create 16 false ds |> Loader.map Transform.toTensor
    let fit () = Train.fit { quiet with Epochs = 2; Seed = Some 0L } train test Loss.crossEntropy (Optim.adam 1e-3) m |> ignore
    // Each fit binds Adam (state made) and frees it again; the model keeps its gradients between
    // fits, which TorchSharp's Module.to would duplicate if fit moved a model already in place.
    Generators.settledTensorCount () |> ignore      // no finalizer of an earlier test's garbage runs mid-fit
    let counts = [ for _ in 1 .. 3 -> fit (); torch.Tensor.TotalCount ]
    Assert.That(counts |> List.distinct |> List.length, Is.EqualTo 1, sprintf "live tensors after each fit: %A" counts)
    Assert.That(m.parameters() |> Seq.forall (fun p -> p.device_type = DeviceType.CPU), Is.True)

[<Test>]
let ``fit refuses bad options with the reason`` () =
    use ds = data 8 9L
    use m = model 0UL
    let loader = Loader.create 8 false ds
    let e = Assert.Throws<ArgumentException>(Action(fun () ->
        Train.fit { quiet with Epochs = -1 } loader loader Loss.crossEntropy (Optim.sgd 0.1) m |> ignore))
    Assert.That(e.Message, Does.Contain "Epochs is -1")
    let missing = Path.Combine(Path.GetTempPath(), $"functional-missing-{Guid.NewGuid():N}.ckpt")
    Assert.Throws(Is.InstanceOf<IOException>(), Action(fun () ->
        Train.fit { quiet with Epochs = 1; Resume = Some missing } loader loader Loss.crossEntropy (Optim.sgd 0.1) m |> ignore)) |> ignore

[<Test>]
let ``evaluate is the tutorial's test_loop and predict its softmax and argmax`` () =
    use ds = data 20 10L
    use m = model 2UL
    let result = Train.evaluate Loss.crossEntropy (Loader.create 8 false ds |> Loader.map Transform.toTensor) m
    // By hand: the mean of the per-batch mean losses, and correct predictions over all samples.
    use _ = torch.no_grad()
    m.eval() |> ignore
    let batches = [ 0L, 8L; 8L, 8L; 16L, 4L ]
    let mutable lossSum = 0.0
    let mutable correct = 0L
    for start, n in batches do
        use scope = torch.NewDisposeScope()
        let x = ds.Features.narrow(0L, start, n).``to``(torch.ScalarType.Float32).div(255.0f.ToScalar())
        let y = ds.Labels.narrow(0L, start, n)
        let logits = m.forward x
        lossSum <- lossSum + torch.nn.functional.cross_entropy(logits, y).ToDouble()
        correct <- correct + logits.argmax(1L).eq(y).sum().ToInt64()
    Assert.That(result.AverageLoss, Is.EqualTo(lossSum / 3.0).Within(1e-6))
    Assert.That(result.Accuracy, Is.EqualTo(float correct / 20.0))
    Assert.That((result.Samples, result.Batches), Is.EqualTo((20, 3)))
    m.train() |> ignore
    use input = ds.Features.narrow(0L, 0L, 5L).``to``(torch.ScalarType.Float32).div(255.0f.ToScalar())
    use prediction = Train.predict input m
    Assert.That(m.training, Is.True, "mode restored")
    m.eval() |> ignore
    use logits = m.forward input
    use expected = logits.softmax(1L)
    Assert.That(prediction.Probabilities.allclose(expected, 1e-6, 1e-7), Is.True)
    use classes = expected.argmax(1L)
    use same = prediction.Classes.eq(classes).all()
    Assert.That(same.item<bool>(), Is.True)


[<Test>]
let ``the DSL's run records: a CSV row per epoch and a TensorBoard event file with the settings`` () =
    use ds = data 48 3L
    let folder = Path.Combine(Path.GetTempPath(), "functional-fsharp-records-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory folder |> ignore
    try
        use m = model 5UL
        let csv = Path.Combine(folder, "metrics.csv")
        let board = Path.Combine(folder, "runs")
        let history =
            Train.fit { quiet with Epochs = 2; Seed = Some 1L
                                   Callbacks = [ Callback.metricsCsv csv; Callback.tensorBoardWith [ "lr", "0.01" ] board ] }
                (Loader.create 16 true ds |> Loader.map Transform.toTensor)
                (Loader.create 16 false ds |> Loader.map Transform.toTensor)
                Loss.crossEntropy (Optim.sgd 1e-2) m
        let lines = File.ReadAllLines csv
        Assert.That(lines[0], Is.EqualTo "epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds")
        let trainLosses = lines[1..] |> Array.map (fun l -> Double.Parse(l.Split(',')[1], Globalization.CultureInfo.InvariantCulture))
        Assert.That(trainLosses, Is.EqualTo<float array>(history.Epochs |> Seq.map (fun e -> e.TrainLoss) |> Array.ofSeq))
        let events = Directory.GetFiles(board, "events.out.tfevents.*")
        Assert.That(events, Has.Length.EqualTo 1)
        // The full read-back (framing, checksums, every value) is Core.Tests' TensorBoardCallbackTests; here: the tags are there.
        let text = Text.Encoding.UTF8.GetString(File.ReadAllBytes events[0])
        for tag in [ "loss/train"; "loss/test"; "accuracy/test"; "learning_rate"; "hparams"; "| lr | 0.01 |" ] do
            Assert.That(text, Does.Contain tag, tag)
    finally
        Directory.Delete(folder, true)
