module Functional.PropertyTests.TrainingTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Data
open Functional.Models
open Functional.Optim
open Functional.Training

/// Random Fashion-MNIST-shaped data: uint8 images [n, 1, 28, 28] and int64 labels in 0..9.
let private data (n: int) (seed: int64) =
    use g = new torch.Generator(uint64 seed, torch.CPU)
    let images = torch.randint(0L, 256L, [| int64 n; 1L; 28L; 28L |], torch.ScalarType.Byte, generator = g)
    let labels = torch.randint(0L, 10L, [| int64 n |], torch.ScalarType.Int64, generator = g)
    new TensorDataset(images, labels)

let private toFloat (x: torch.Tensor) = x.``to``(torch.ScalarType.Float32).div(255.0f.ToScalar())

let private loader (ds: TensorDataset) batch shuffle seed =
    DataLoader(ds, batch, shuffle = shuffle, seed = Nullable(int64 seed)).Map(Functional.Transforms.Transform.Lambda(Func<torch.Tensor, torch.Tensor> toFloat, true))

/// A run of the library's loop: losses of every batch, then the history.
let private fitLosses (seed: int64) epochs (ds: TensorDataset) (test: TensorDataset) =
    torch.manual_seed seed |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Sgd(1e-2).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Seed = Nullable seed, Progress = false))
    let losses = ResizeArray<float>()
    let record = Callback.Create(onBatchEnd = Action<TrainingContext>(fun e -> losses.Add e.Loss))
    let history = trainer.Fit(loader ds 16 true seed, loader test 16 false seed, epochs, [ record ])
    List.ofSeq losses, history

[<Test>]
let ``fit equals the tutorial's loop written on raw TorchSharp, batch for batch`` () =
    use ds = data 96 1L
    let ours, _ = fitLosses 7L 2 ds ds
    // The oracle: the tutorial's train_loop with TorchSharp's own SGD and CrossEntropyLoss, the same
    // initial weights (same seed, same module), the same permutations (randperm, same seed).
    torch.manual_seed 7L |> ignore
    use model = new NeuralNetwork()
    use sgd = torch.optim.SGD(model.parameters(), 1e-2)
    use lossFn = torch.nn.CrossEntropyLoss()
    use g = new torch.Generator(7UL, torch.CPU)
    let raw = ResizeArray<float>()
    for _ in 1 .. 2 do
        model.train() |> ignore
        use perm = torch.randperm(96L, torch.ScalarType.Int64, torch.CPU, false, g)
        for start in 0L .. 16L .. 95L do
            use scope = torch.NewDisposeScope()
            let index = perm.narrow(0L, start, 16L)
            let x = toFloat (ds.Features.index_select(0L, index))
            let y = ds.Labels.index_select(0L, index)
            let loss = lossFn.forward(model.forward x, y)
            raw.Add(loss.ToDouble())
            loss.backward()
            sgd.step() |> ignore
            sgd.zero_grad()
    Assert.That(ours.Length, Is.EqualTo 12)
    for i in 0 .. ours.Length - 1 do
        Assert.That(ours[i], Is.EqualTo(raw[i]).Within(1e-6), $"batch {i}")

[<Test>]
let ``a seed makes a CPU run repeat exactly`` () =
    use ds = data 64 2L
    let a, ha = fitLosses 3L 2 ds ds
    let b, hb = fitLosses 3L 2 ds ds
    let c, _ = fitLosses 4L 2 ds ds
    Assert.That(b, Is.EqualTo<float list>(a))                   // bit for bit
    Assert.That(hb.Epochs |> Seq.map (fun m -> m.TestLoss.Value) |> List.ofSeq, Is.EqualTo<float list>(ha.Epochs |> Seq.map (fun m -> m.TestLoss.Value) |> List.ofSeq))
    Assert.That(c, Is.Not.EqualTo<float list>(a))

[<Test>]
let ``live tensors do not grow across steps and epochs`` () =
    use ds = data 128 5L
    torch.manual_seed 0L |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Adam(1e-3).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    let afterBatch = ResizeArray<int64>()
    let afterEpoch = ResizeArray<int64>()
    let count = Callback.Create(onBatchEnd = Action<TrainingContext>(fun _ -> afterBatch.Add torch.Tensor.TotalCount),
                                onEpochEnd = Action<TrainingContext>(fun _ -> afterEpoch.Add torch.Tensor.TotalCount))
    let train = loader ds 16 true 0
    let test = loader ds 32 false 0
    Generators.settledTensorCount () |> ignore      // no finalizer of an earlier test's garbage runs mid-fit
    trainer.Fit(train, test, 4, [ count ]) |> ignore
    // Adam's state appears in the first step; from the second batch on the count is flat.
    let steady = afterBatch |> Seq.skip 1 |> Seq.distinct |> List.ofSeq
    Assert.That(steady.Length, Is.EqualTo 1, sprintf "live tensors after each batch: %A" (List.ofSeq afterBatch))
    Assert.That(afterEpoch |> Seq.distinct |> Seq.length, Is.EqualTo 1, sprintf "live tensors after each epoch: %A" (List.ofSeq afterEpoch))

[<Test>]
let ``callbacks see the events in order`` () =
    use ds = data 40 6L
    torch.manual_seed 0L |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Sgd(1e-3).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    let events = ResizeArray<string>()
    let log = Callback.Create(
                onFitBegin = Action<TrainingContext>(fun e -> events.Add $"fit {e.FirstEpoch}-{e.Epochs} {e.Batches}x {e.DatasetSize}"),
                onEpochBegin = Action<TrainingContext>(fun e -> events.Add $"epoch {e.Epoch}"),
                onBatchBegin = Action<TrainingContext>(fun e -> events.Add $"batch {e.Epoch}.{e.Batch} {e.BatchSize}"),
                onBatchEnd = Action<TrainingContext>(fun e -> events.Add $"end {e.Epoch}.{e.Batch} {e.SamplesBefore}/{e.DatasetSize}"),
                onEpochEnd = Action<TrainingContext>(fun e -> events.Add $"epoch end {e.Metrics.Epoch} {e.Metrics.TestAccuracy.HasValue}"),
                onFitEnd = Action<TrainingContext>(fun e -> events.Add $"fit end {e.History.Count}"))
    trainer.Fit(loader ds 16 false 0, loader ds 16 false 0, 2, [ log ]) |> ignore
    let epoch e =
        [ $"epoch {e}"
          $"batch {e}.0 16"; $"end {e}.0 0/40"
          $"batch {e}.1 16"; $"end {e}.1 16/40"
          $"batch {e}.2 8"; $"end {e}.2 32/40"
          $"epoch end {e} True" ]
    let expected = [ "fit 1-2 3x 40" ] @ epoch 1 @ epoch 2 @ [ "fit end 2" ]
    Assert.That(List.ofSeq events, Is.EqualTo<string list>(expected))

/// EarlyStopping's rule written out: the epoch after which it stops, or None.
let private expectedStop (values: float list) patience =
    let rec go epoch best waited rest =
        match rest with
        | [] -> None
        | v :: tail ->
            if Double.IsNaN best || v < best then go (epoch + 1) v 0 tail
            elif waited + 1 >= patience then Some epoch
            else go (epoch + 1) best (waited + 1) tail
    go 1 Double.NaN 0 values

[<Property(MaxTest = 200)>]
let ``early stopping stops exactly after its patience`` (values: NonEmptyArray<NormalFloat>) (PositiveInt patience) =
    let patience = 1 + patience % 4
    let values = values.Get |> Array.map (fun v -> Math.Round(v.Get, 1)) |> List.ofArray   // ties happen
    let stop = EarlyStopping(Monitor.TrainLoss, patience)
    use model = torch.nn.Linear(1L, 1L)
    use optimizer = Optimizers.Sgd(0.1).Bind(model)
    let context = TrainingContext(model, Stepper.OfLibrary(optimizer), Devices.Cpu, History(), 1, values.Length, 1, 1)
    stop.OnFitBegin(context)
    let mutable stoppedAfter = None
    values |> List.iteri (fun i v ->
        if stoppedAfter.IsNone then
            context.Epoch <- i + 1
            context.History.Add(EpochMetrics(i + 1, v, Nullable(), Nullable(), 0.1, 0.0))
            stop.OnEpochEnd(context)
            if context.StopReason <> null then stoppedAfter <- Some(i + 1))
    stoppedAfter = expectedStop values patience

[<Test>]
let ``early stopping ends fit after patience epochs without improvement`` () =
    use ds = data 32 8L
    torch.manual_seed 0L |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Sgd(0.0).Bind(model)          // learning rate 0: the test loss never changes
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    let history = trainer.Fit(loader ds 16 false 0, loader ds 16 false 0, 10, [ Callback.EarlyStopping(Monitor.TestLoss, 3) ])
    Assert.That(history.Count, Is.EqualTo 4)                  // epoch 1 sets the best; 2, 3, 4 do not improve

[<Test>]
let ``a non-finite loss stops before the step, naming the epoch and batch`` () =
    use ds = data 48 9L
    // Batch 2 of epoch 1 holds a NaN pixel.
    let images = ds.Features.``to``(torch.ScalarType.Float32)
    images.view(-1L).narrow(0L, 40L * 784L, 1L).fill_(Double.NaN.ToScalar()) |> ignore
    use bad = new TensorDataset(images, ds.Labels)
    torch.manual_seed 0L |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Sgd(1e-2).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    let snapshot = ResizeArray<torch.Tensor>()
    let keep = Callback.Create(onBatchEnd = Action<TrainingContext>(fun e ->
        if e.Batch = 1 then for p in model.parameters() do snapshot.Add(p.detach().clone().MoveToOuterDisposeScope())))
    let train = DataLoader(bad, 16).Map(Functional.Transforms.Transform.Lambda(Func<torch.Tensor, torch.Tensor>(fun x -> x.div(255.0f.ToScalar())), true))
    let e = Assert.Throws<NonFiniteLossException>(Action(fun () -> trainer.Fit(train, null, 3, [ keep ]) |> ignore))
    Assert.That(e.Epoch, Is.EqualTo 1)
    Assert.That(e.Batch, Is.EqualTo 2)
    Assert.That(e.Message, Does.Contain("epoch 1, batch 2").And.Contain("learning rate"))
    Seq.zip (model.parameters()) snapshot |> Seq.iter (fun (p, s) -> Assert.That(p.allclose(s, 0.0, 0.0), Is.True, "weights changed by the bad step"))

[<Test>]
let ``evaluate is the tutorial's test_loop`` () =
    use ds = data 50 10L
    torch.manual_seed 0L |> ignore
    use model = new NeuralNetwork()
    use optimizer = Optimizers.Sgd(1e-3).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    let result = trainer.Evaluate(loader ds 16 false 0)
    // By hand: mean of per-batch mean losses; correct predictions over all samples.
    use _ = torch.no_grad()
    let mutable lossSum = 0.0
    let mutable correct = 0L
    for start in 0L .. 16L .. 49L do
        let n = min 16L (50L - start)
        use x = toFloat (ds.Features.narrow(0L, start, n))
        use y = ds.Labels.narrow(0L, start, n)
        use logits = model.forward x
        use l = torch.nn.functional.cross_entropy(logits, y)
        lossSum <- lossSum + l.ToDouble()
        use hits = logits.argmax(1L).eq(y).sum()
        correct <- correct + hits.ToInt64()
    Assert.That(result.AverageLoss, Is.EqualTo(lossSum / 4.0).Within(1e-6))
    Assert.That(result.Accuracy, Is.EqualTo(float correct / 50.0))
    Assert.That((result.Samples, result.Batches), Is.EqualTo((50, 4)))

/// Records whether each forward ran in training mode.
type private ModeSpy() as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("ModeSpy")
    let linear = torch.nn.Linear(784L, 10L)
    do this.RegisterComponents()
    member val Modes = ResizeArray<bool>()
    override this.forward(x) =
        this.Modes.Add this.training
        linear.forward(x.flatten(1L))

[<Test>]
let ``the loop switches train and eval modes and restores them`` () =
    use ds = data 32 11L
    use model = new ModeSpy()
    use optimizer = Optimizers.Sgd(1e-3).Bind(model)
    let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
    model.eval() |> ignore
    trainer.Fit(loader ds 16 false 0, loader ds 16 false 0, 1) |> ignore
    // First the checks of both loaders (one forward each, in eval mode), then two training and two test batches.
    Assert.That(List.ofSeq model.Modes, Is.EqualTo<bool list>([ false; false; true; true; false; false ]))
    model.train() |> ignore
    use p = trainer.Predict(toFloat (ds.Features.narrow(0L, 0L, 3L)))
    Assert.That(model.Modes[model.Modes.Count - 1], Is.False)
    Assert.That(model.training, Is.True, "mode restored after Predict")
    use sums = p.Probabilities.sum(1L)
    Assert.That(sums.allclose(torch.ones(3L)), Is.True)
    Assert.That(p.Classes.shape, Is.EqualTo<int64[]>([| 3L |]))

/// A small model with dropout, so that resuming must restore LibTorch's generator too.
let private dropoutModel () =
    let m (x: torch.nn.Module<torch.Tensor, torch.Tensor>) = x
    torch.nn.Sequential(
        [| struct ("flatten", m (torch.nn.Flatten()))
           struct ("hidden", m (torch.nn.Linear(784L, 32L)))
           struct ("relu", m (torch.nn.ReLU()))
           struct ("dropout", m (torch.nn.Dropout(0.3)))
           struct ("out", m (torch.nn.Linear(32L, 10L))) |])

[<Test>]
let ``fit resumed from a checkpoint continues exactly as an uninterrupted run`` () =
    use ds = data 64 12L
    let path = IO.Path.Combine(IO.Path.GetTempPath(), $"functional-resume-{Guid.NewGuid():N}.ckpt")
    let run (epochs: int) (callbacks: (TorchSharp.Modules.Sequential -> Optimizer -> IDataLoader -> Callback list)) (restore: bool) =
        torch.manual_seed (if restore then 999L else 5L) |> ignore        // a resumed run starts from other weights
        use model = dropoutModel ()
        use optimizer = Optimizers.Adam(1e-2).Bind(model :> torch.nn.Module)
        let train = loader ds 16 true 21
        let test = loader ds 32 false 0
        let trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Seed = Nullable 5L, Progress = false))
        let losses = ResizeArray<float>()
        let record = Callback.Create(onBatchEnd = Action<TrainingContext>(fun e -> losses.Add e.Loss))
        let resume = if restore then TrainingCheckpoint.Restore(path, model, optimizer, train) else null
        let history = trainer.Fit(train, test, epochs, record :: callbacks model optimizer train, resume)
        List.ofSeq losses, history
    let whole, wholeHistory = run 4 (fun _ _ _ -> []) false
    let first, _ = run 2 (fun _ _ train -> [ Callback.Checkpoint(path, train) ]) false
    let rest, restHistory = run 4 (fun _ _ _ -> []) true
    Assert.That(first @ rest, Is.EqualTo<float list>(whole))                      // bit for bit
    Assert.That(restHistory.Count, Is.EqualTo 4)
    Assert.That(restHistory.Epochs |> Seq.map (fun m -> m.TestLoss.Value) |> List.ofSeq,
                Is.EqualTo<float list>(wholeHistory.Epochs |> Seq.map (fun m -> m.TestLoss.Value) |> List.ofSeq))
    IO.File.Delete path

/// Stands for a process killed in the middle of a run.
exception private Killed

/// The weights of a model as the bytes of a safetensors file.
let private weightBytes (model: torch.nn.Module) =
    let file = IO.Path.Combine(IO.Path.GetTempPath(), $"functional-weights-{Guid.NewGuid():N}.safetensors")
    try
        Functional.Serialization.StateDict.SaveSafeTensors(model, file)
        IO.File.ReadAllBytes file
    finally
        IO.File.Delete file

/// One epoch's figures, to compare bit for bit (the time aside).
let private figures (history: History) =
    [ for m in history.Epochs -> m.Epoch, m.TrainLoss, m.TestLoss.Value, m.TestAccuracy.Value, m.LearningRate ]

[<TestCase(true, TestName = "fit killed inside an epoch and resumed from its batch checkpoint equals the uninterrupted run (fused step)")>]
[<TestCase(false, TestName = "fit killed inside an epoch and resumed from its batch checkpoint equals the uninterrupted run (autograd)")>]
let ``fit killed inside an epoch and resumed from its batch checkpoint equals the uninterrupted run`` (fused: bool) =
    use ds = data 100 13L                 // 13 batches of 8 an epoch, the last of 4
    let path = IO.Path.Combine(IO.Path.GetTempPath(), $"functional-resume-batch-{Guid.NewGuid():N}.ckpt")
    /// A run of 3 epochs: the batches it trained (epoch, batch, samples before, loss), its history (None when
    /// killed), the weights it ended with, and the position each epoch began at (epoch, first batch).
    let run (checkpoint: bool) (killAt: (int * int) option) (resume: bool) =
        // A resumed process builds its model and its loader from other seeds: the checkpoint's state wins.
        torch.manual_seed (if resume then 999L else 5L) |> ignore
        use model = dropoutModel ()
        use optimizer = Optimizers.Adam(1e-2).Bind(model :> torch.nn.Module)
        let train = loader ds 8 true (if resume then 77 else 21)
        let test = loader ds 32 false 0
        let options =
            TrainerOptions(Device = Devices.Cpu, Seed = Nullable 5L, Progress = false, Fused = Nullable fused,
                           Checkpoint = (if checkpoint then path else null), CheckpointEveryBatches = (if checkpoint then Nullable 5 else Nullable()))
        use trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, options)
        Assert.That(trainer.StepPath, Does.StartWith(if fused then "fused: " else "autograd: "))
        let batches = ResizeArray<int * int * int * float>()
        let starts = ResizeArray<int * int>()
        let events =
            [ Callback.Create(
                onEpochBegin = Action<TrainingContext>(fun e -> starts.Add((e.Epoch, e.FirstBatch))),
                onBatchBegin = Action<TrainingContext>(fun e -> if Some(e.Epoch, e.Batch) = killAt then raise Killed),
                onBatchEnd = Action<TrainingContext>(fun e -> batches.Add((e.Epoch, e.Batch, e.SamplesBefore, e.Loss)))) ]
        let restored = if resume then TrainingCheckpoint.Restore(path, model, optimizer, train) else null
        let history = try Some(trainer.Fit(train, test, 3, events, restored)) with Killed -> None
        List.ofSeq batches, history, weightBytes model, List.ofSeq starts
    try
        let whole, wholeHistory, wholeWeights, _ = run false None false
        // Killed at the start of batch 7 of epoch 2: the latest checkpoint is the one after its 5th batch.
        let killed, killedHistory, _, _ = run true (Some(2, 7)) false
        Assert.That(killedHistory, Is.Null)
        Assert.That(List.length killed, Is.EqualTo(13 + 7))
        using (Functional.Serialization.Checkpoint.Load path) (fun saved ->
            Assert.That((saved.Epoch, saved.Batch), Is.EqualTo((1L, 5L)), "epoch 1 done, 5 batches of epoch 2"))
        let rest, restHistory, restWeights, starts = run false None true
        Assert.That(starts, Is.EqualTo<(int * int) list>([ 2, 5; 3, 0 ]), "epoch 2 resumes at batch 5, epoch 3 starts at 0")
        let expected = whole |> List.filter (fun (epoch, batch, _, _) -> (epoch, batch) >= (2, 5))
        Assert.That(rest, Is.EqualTo<(int * int * int * float) list>(expected), "the same batches, sample counts and losses, bit for bit")
        Assert.That(figures restHistory.Value, Is.EqualTo<(int * float * float * float * float) list>(figures wholeHistory.Value),
                    "the same history, the resumed epoch's mean training loss included")
        Assert.That(restWeights, Is.EqualTo<byte[]>(wholeWeights), "the final weights, byte for byte")
    finally
        IO.File.Delete path

[<Test>]
let ``a checkpoint saved inside an epoch is refused for a loader of another number of batches`` () =
    use ds = data 40 14L
    let path = IO.Path.Combine(IO.Path.GetTempPath(), $"functional-resume-batches-{Guid.NewGuid():N}.ckpt")
    try
        torch.manual_seed 1L |> ignore
        use model = dropoutModel ()
        use optimizer = Optimizers.Sgd(1e-2).Bind(model :> torch.nn.Module)
        let stop = Callback.Create(onBatchBegin = Action<TrainingContext>(fun e -> if e.Batch = 3 then raise Killed))
        use trainer = new Trainer(model, Losses.CrossEntropy(), optimizer, TrainerOptions(Device = Devices.Cpu, Progress = false))
        try trainer.Fit(loader ds 8 true 1, epochs = 1, callbacks = [ Callback.Checkpoint(path, everyBatches = 2); stop ]) |> ignore with Killed -> ()
        let e = Assert.Throws<IO.InvalidDataException>(Action(fun () -> TrainingCheckpoint.Restore(path, model, optimizer, loader ds 16 true 1) |> ignore))
        Assert.That(e.Message, Does.StartWith(path + ": the checkpoint stopped after batch 2 of epoch 1, of 5 batches an epoch, but the training loader gives 3"))
        // Restored without a loader, the position is checked when the history reaches Fit.
        let history = TrainingCheckpoint.Restore(path, model, optimizer)
        let p = history.Partial
        Assert.That((p.Epoch, p.BatchesDone, p.BatchesPerEpoch), Is.EqualTo((1, 2, 5)))
        Assert.Throws<IO.InvalidDataException>(Action(fun () -> trainer.Fit(loader ds 16 true 1, epochs = 1, resume = history) |> ignore)) |> ignore
        Assert.Throws<ArgumentOutOfRangeException>(Action(fun () -> Callback.Checkpoint(path, everyBatches = 0) |> ignore)) |> ignore
        let needsFile = TrainerOptions(Progress = false, Device = Devices.Cpu, CheckpointEveryBatches = Nullable 10)
        use other = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-2), needsFile)
        let a = Assert.Throws<ArgumentException>(Action(fun () -> other.Fit(loader ds 8 true 1, epochs = 1) |> ignore))
        Assert.That(a.Message, Does.Contain("TrainerOptions.Checkpoint"))
    finally
        IO.File.Delete path

[<Test>]
let ``a checkpoint restored into another optimizer or model is refused naming the file and the part`` () =
    let path = IO.Path.Combine(IO.Path.GetTempPath(), $"functional-restore-{Guid.NewGuid():N}.ckpt")
    try
        torch.manual_seed 1L |> ignore
        use model = dropoutModel ()
        use adam = Optimizers.Adam(1e-2).Bind(model :> torch.nn.Module)
        TrainingCheckpoint.Save(path, model, adam, 0, History([]))
        // A refused restore changes nothing: the other model's weights stay as built.
        torch.manual_seed 2L |> ignore
        use fresh = dropoutModel ()
        let before = fresh.parameters() |> Seq.map (fun p -> p.detach().clone()) |> List.ofSeq
        let unchanged () = Seq.forall2 (fun (p: Modules.Parameter) (b: torch.Tensor) -> p.equal(b).all().item<bool>()) (fresh.parameters()) before
        Assert.That(unchanged (), Is.True)
        use sgd = Optimizers.Sgd(1e-2, momentum = 0.9).Bind(fresh :> torch.nn.Module)
        let e = Assert.Throws<IO.InvalidDataException>(Action(fun () -> TrainingCheckpoint.Restore(path, fresh, sgd) |> ignore))
        Assert.That(e.Message, Does.StartWith(path + ": the checkpoint's optimizer state does not fit"))
        Assert.That(unchanged (), Is.True, "the weights were restored although the optimizer state was refused")
        Assert.That(sgd.StepCount, Is.EqualTo 0L)
        use sgdPlain = Optimizers.Sgd(0.5).Bind(fresh :> torch.nn.Module)
        let e2 = Assert.Throws<IO.InvalidDataException>(Action(fun () -> TrainingCheckpoint.Restore(path, fresh, sgdPlain) |> ignore))
        Assert.That(e2.Message, Does.Contain(adam.Transformation.Name).And.Contain(sgdPlain.Transformation.Name))
        Assert.That(sgdPlain.CurrentLearningRate, Is.EqualTo 0.5)
        Assert.That(unchanged (), Is.True)
        use other = torch.nn.Sequential([| struct ("out", torch.nn.Linear(784L, 10L) :> torch.nn.Module<torch.Tensor, torch.Tensor>) |])
        use otherAdam = Optimizers.Adam(1e-2).Bind(other :> torch.nn.Module)
        let m = Assert.Throws<Functional.Serialization.StateDictMismatchException>(Action(fun () -> TrainingCheckpoint.Restore(path, other, otherAdam) |> ignore))
        Assert.That(m.Message, Does.Contain(path).And.Contain("hidden.weight"))
    finally
        IO.File.Delete path

/// Fit with `model` on Fashion-MNIST-shaped data (images `rows` x 28): the exception it raises, if any, and
/// whether the model's parameters are still the initial ones.
let private fitMismatch (model: torch.nn.Module<torch.Tensor, torch.Tensor>) rows =
    use g = new torch.Generator(3UL, torch.CPU)
    use images = torch.randint(0L, 256L, [| 40L; 1L; int64 rows; 28L |], torch.ScalarType.Byte, generator = g)
    use labels = torch.arange(40L, dtype = torch.ScalarType.Int64).remainder(10L.ToScalar())
    use ds = new TensorDataset(images, labels)
    let before = [ for p in model.parameters() -> p.clone() ]
    use trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-2), TrainerOptions(Device = Devices.Cpu, Progress = false))
    let e = throws<InvalidOperationException> (fun () -> trainer.Fit(loader ds 16 true 1, epochs = 1) |> ignore)
    let untouched = Seq.forall2 (fun (a: torch.Tensor) b -> same a b) before (model.parameters())
    Assert.That(e.Message, Does.Not.Contain("\n").And.Not.Contain("Exception raised from"), "one line, no native frames")
    Assert.That(untouched, Is.True, "nothing was trained")
    e.Message

[<Test>]
let ``a model without Flatten is refused before training, naming the batch shape`` () =
    use model = torch.nn.Sequential(("0", torch.nn.Linear(784L, 10L) :> torch.nn.Module<torch.Tensor, torch.Tensor>))
    let message = fitMismatch model 28
    Assert.That(message, Does.StartWith("The model cannot take the training data: for a batch of shape [8, 1, 28, 28]"))
    Assert.That(message, Does.Contain("Flatten"))

[<Test>]
let ``images of 27 x 28 for a model of 784 inputs are refused before training, naming the batch shape`` () =
    use model = new NeuralNetwork()
    Assert.That(fitMismatch model 27, Does.Contain("[8, 1, 27, 28]").And.Contain("forward pass fails"))

[<Test>]
let ``a model whose output is not [N, classes] is refused before training`` () =
    use model = torch.nn.Sequential(("0", torch.nn.Linear(28L, 10L) :> torch.nn.Module<torch.Tensor, torch.Tensor>))
    Assert.That(fitMismatch model 28, Does.Contain("is [8, 1, 28, 10]; a classifier gives [N, classes]"))

[<Test>]
let ``a model of 5 classes on 10-class data is refused before training and before evaluating`` () =
    let fiveClasses () =
        torch.nn.Sequential(torch.nn.Flatten() :> torch.nn.Module<torch.Tensor, torch.Tensor>, torch.nn.Linear(784L, 5L))
    use model = fiveClasses ()
    // Labels 0..9 over the whole dataset, though the first samples (0..7) would hide label 8 and 9.
    Assert.That(fitMismatch model 28, Is.EqualTo("The model gives 5 class scores per sample, but the training data has label 9: the model's last layer needs 10 or more outputs, one per class."))
    use other = fiveClasses ()
    use ds = data 20 4L
    let e = throws<InvalidOperationException> (fun () -> Trainer.Evaluate(other, Losses.CrossEntropy(), loader ds 10 false 0) |> ignore)
    Assert.That(e.Message, Does.Contain("but the test data has label 9"))
