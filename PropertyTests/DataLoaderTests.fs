module Functional.PropertyTests.DataLoaderTests

open System
open System.Collections.Generic
open System.Threading
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Data
open Functional.Transforms
open Functional.FSharp




/// n samples: features [n, 1, 2, 2] uint8 where sample i is filled with i % 256, labels i.
let private numbered (n: int) =
    Native.EnsureLoaded()
    use x = torch.arange(int64 n).remainder(torch.tensor 256L).to_type(torch.ScalarType.Byte).reshape(int64 n, 1L, 1L, 1L).expand(int64 n, 1L, 2L, 2L).contiguous()
    use y = torch.arange(int64 n)
    new TensorDataset(x, y)

/// The labels of every batch of one epoch, in order.
let private epochLabels (loader: IEnumerable<Batch>) =
    [ for batch in loader -> batch.Labels.data<int64>().ToArray() ]

/// A dataset of (features, label) samples that is not in memory: made sample by sample.
type private Computed(n: int, ?failAt: int) =
    interface IDataset<Sample> with
        member _.Count = n
        member _.Item
            with get i =
                if Some i = failAt then raise (InvalidOperationException(sprintf "sample %d is broken" i))
                new Sample(torch.tensor([| int64 i; int64 i |], ReadOnlySpan [| 1L; 2L |]), torch.tensor(int64 i))

let private cases =
    gen {
        let! n = Gen.choose (0, 40)
        let! batchSize = Gen.choose (1, 12)
        let! dropLast = Gen.elements [ true; false ]
        let! shuffle = Gen.elements [ true; false ]
        let! seed = Gen.choose (0, 1000)
        return n, batchSize, dropLast, shuffle, int64 seed
    }
    |> Arb.fromGen

[<Property(MaxTest = 60)>]
let ``every epoch is a permutation of the dataset, less what dropLast drops`` () =
    Prop.forAll cases (fun (n, batchSize, dropLast, shuffle, seed) ->
        use data = numbered n
        let loader = DataLoader(data, batchSize, shuffle, seed, dropLast = dropLast)
        let epochs = [ epochLabels loader; epochLabels loader ]
        let kept = if dropLast then n / batchSize * batchSize else n
        epochs |> List.forall (fun batches ->
            let all = Array.concat batches
            let sizes = batches |> List.map Array.length
            all.Length = kept
            && Array.length (Array.distinct all) = kept
            && all |> Array.forall (fun l -> l >= 0L && l < int64 n)
            && List.length batches = loader.BatchCount
            && loader.SampleCount = kept
            && sizes |> List.forall (fun s -> s <= batchSize && s > 0)
            && (sizes |> List.take (max 0 (sizes.Length - 1)) |> List.forall ((=) batchSize))
            && (shuffle || all = Array.init kept int64)))

[<Property(MaxTest = 30)>]
let ``the same seed gives the same batches; features follow their labels`` () =
    Prop.forAll cases (fun (n, batchSize, dropLast, _, seed) ->
        use data = numbered n
        let a = DataLoader(data, batchSize, true, seed, dropLast = dropLast)
        let b = DataLoader(data, batchSize, true, seed, dropLast = dropLast)
        let featuresMatch =
            a |> Seq.forall (fun batch ->
                use first = batch.Features.select(1L, 0L).select(1L, 0L).select(1L, 0L).to_type(torch.ScalarType.Int64)
                use expected = batch.Labels.remainder(torch.tensor 256L)
                batch.Features.shape[1..] = [| 1L; 2L; 2L |] && same first expected)
        // featuresMatch used up a's first epoch: b's first epoch must be the same.
        let bFirst = epochLabels b
        let aFirst = epochLabels (DataLoader(data, batchSize, true, seed, dropLast = dropLast))
        featuresMatch && aFirst = bFirst && [ epochLabels a; epochLabels a ] = [ epochLabels b; epochLabels b ])

[<Test>]
let ``each epoch is a fresh permutation`` () =
    use data = numbered 50
    let loader = DataLoader(data, 50, true, 3L)
    let first = epochLabels loader
    let second = epochLabels loader
    Assert.That(first, Is.Not.EqualTo(box second))
    Assert.That(Array.sort first[0], equalTo(Array.sort second[0]))

[<Test>]
let ``an explicit generator drives the shuffling`` () =
    use data = numbered 30
    use g1 = new torch.Generator(5UL, torch.CPU)
    use g2 = new torch.Generator(5UL, torch.CPU)
    Assert.That(epochLabels (DataLoader(data, 7, true, generator = g1)), equalTo(epochLabels (DataLoader(data, 7, true, generator = g2))))
    // Seed reports the seed of a generator the loader made, never one it ignored.
    use g3 = new torch.Generator(5UL, torch.CPU)
    Assert.That(DataLoader(data, 7, true, 99L, generator = g3).Seed, Is.Null)
    Assert.That(DataLoader(data, 7, true, 99L).Seed, equalTo(Nullable 99L))
    Assert.That(DataLoader(data, 7, false, 99L).Seed, Is.Null)

[<Property(MaxTest = 15)>]
let ``workers give the same batches in the same order`` () =
    Prop.forAll cases (fun (n, batchSize, dropLast, shuffle, seed) ->
        use data = numbered n
        let inline' = DataLoader(data, batchSize, shuffle, seed, dropLast = dropLast)
        let threaded = DataLoader(data, batchSize, shuffle, seed, dropLast = dropLast, workers = 2, prefetch = 3)
        let computed = Computed n
        let sampleWise = DataLoader(computed, batchSize, shuffle, seed, dropLast = dropLast, workers = 3)
        let expected = epochLabels inline'
        epochLabels threaded = expected && epochLabels sampleWise = expected)

[<Test>]
let ``batches are typed: features [64, 1, 28, 28] float32 and labels [64] after ToTensor`` () =
    use images = torch.randint(0L, 256L, [| 100L; 1L; 28L; 28L |], torch.ScalarType.Byte)
    // Label i for sample i, so that each row of a shuffled batch says which sample it is.
    use labels = torch.arange(100L)
    use data = new TensorDataset(images, labels, ToTensor())
    use batch = DataLoader(data, 64, true, 0L).Peek()
    Assert.That(batch.Features.shape, equalTo [| 64L; 1L; 28L; 28L |])
    Assert.That(batch.Features.dtype, equalTo torch.ScalarType.Float32)
    Assert.That(batch.Labels.shape, equalTo [| 64L |])
    Assert.That(batch.Count, equalTo 64)
    Assert.That(batch.IsKept, Is.True)
    // The batch-wise transform (one gather, one ToTensor) equals the per-sample path, row by row.
    let indices = batch.Labels.data<int64>().ToArray()
    Assert.That(Array.distinct indices |> Array.length, equalTo 64)
    for row in 0 .. 63 do
        use sample = data[int indices[row]]
        use fromBatch = batch.Features[int64 row]
        Assert.That(same fromBatch sample.Features, Is.True, sprintf "row %d (sample %d)" row indices[row])

[<Test>]
let ``a Batch counts its rows and refuses labels that do not match them`` () =
    Native.EnsureLoaded()
    use ok = new Batch(torch.zeros(3L, 2L), torch.arange(3L))
    Assert.That(ok.Count, equalTo 3)
    use x = torch.zeros(3L, 2L)
    use y = torch.arange(4L)
    let e = throws<ArgumentException>(fun () -> new Batch(x, y) |> ignore)
    Assert.That(e.Message, Does.Contain "[3, 2]")
    Assert.That(e.Message, Does.Contain "[4]")
    use scalar = torch.tensor 1L
    throws<ArgumentException>(fun () -> new Batch(x, scalar) |> ignore) |> ignore

[<Test>]
let ``Collate.Samples stacks the samples and leaves them to the caller`` () =
    Native.EnsureLoaded()
    use a = new Sample(torch.tensor([| 1L; 2L |]), torch.tensor 0L)
    use b = new Sample(torch.tensor([| 3L; 4L |]), torch.tensor 1L)
    let struct (features, labels) = Collate.Samples([| a; b |])
    use features = features
    use labels = labels
    Assert.That(features.data<int64>().ToArray(), equalTo [| 1L; 2L; 3L; 4L |])
    Assert.That(labels.data<int64>().ToArray(), equalTo [| 0L; 1L |])
    Assert.That(a.Features.data<int64>().ToArray(), equalTo [| 1L; 2L |])
    Assert.That(b.Label.item<int64>(), equalTo 1L)

[<Test>]
let ``a batch is disposed when the next arrives, unless kept; the last one at the end of the epoch`` () =
    use data = numbered 10
    let loader = DataLoader(data, 3)
    let seen = List<Batch>()
    for batch in loader do
        seen.Add batch
        if seen.Count = 2 then batch.Keep() |> ignore
    Assert.That(seen |> Seq.map (fun b -> b.IsDisposed) |> List.ofSeq, equalTo [ true; false; true; true ])
    seen[1].Dispose()

[<Test>]
let ``stopping early leaves the current batch to the caller: First() works`` () =
    use data = numbered 10
    use first = DataLoader(data, 4) |> Seq.head
    Assert.That(first.IsDisposed, Is.False)
    Assert.That(first.Labels.data<int64>().ToArray(), equalTo [| 0L; 1L; 2L; 3L |])

[<Test>]
let ``the live tensor count does not grow across epochs`` () =
    use data = new TensorDataset(torch.zeros(50L, 1L, 4L, 4L, dtype = torch.ScalarType.Byte), torch.arange(50L), ToTensor(), OneHot 50)
    let loader = DataLoader(data, 8, true, 1L)
    let mapped = loader.Map(Normalize([ 0.5 ], [ 0.5 ]))
    let run () =
        for _ in 1 .. 3 do
            for batch in loader do batch.Features.shape |> ignore
            for batch in mapped do batch.Features.shape |> ignore
            for batch in DataLoader(data, 8, true, 1L, workers = 2) do batch.Features.shape |> ignore
    run ()
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let before = Generators.settledTensorCount ()
    run ()
    Assert.That(torch.Tensor.TotalCount, Is.LessThanOrEqualTo before)

[<Test>]
let ``an exception in a worker surfaces at its batch and nothing hangs`` () =
    let loader = DataLoader(Computed(20, failAt = 13), 4, workers = 2)
    let received = List<int64[]>()
    let run () =
        for batch in loader do received.Add(batch.Labels.data<int64>().ToArray())
    let task = Tasks.Task.Run run
    let finished = task.ContinueWith(fun (_: Tasks.Task) -> ()).Wait(TimeSpan.FromSeconds 20.0)
    Assert.That(finished, Is.True, "the loader hung")
    let e = task.Exception.InnerException
    Assert.That(e, Is.InstanceOf<InvalidOperationException>())
    Assert.That(e.Message, equalTo "sample 13 is broken")
    Assert.That(received.Count, equalTo 3)

[<Test>]
let ``breaking out of a worker loader stops its threads`` () =
    let loader = DataLoader(Computed 200, 2, workers = 2, prefetch = 2)
    let before = Diagnostics.Process.GetCurrentProcess().Threads.Count
    for _ in 1 .. 5 do
        use first = loader |> Seq.head
        ()
    // Threads end shortly after the loop is left; wait for that (10 s is a bound on a hang, not a timing).
    let threads () = Diagnostics.Process.GetCurrentProcess().Threads.Count
    SpinWait.SpinUntil((fun () -> threads () <= before + 1), TimeSpan.FromSeconds 10.0) |> ignore
    Assert.That(threads (), Is.LessThanOrEqualTo(before + 1))

/// A record type of the user's.
type private Pair = { Left: int; Right: string }

[<Test>]
let ``the user's own records are batched through IDataset<Sample>, in order or shuffled with workers`` () =
    let records = Array.init 7 (fun i -> { Left = i; Right = string (char (int 'a' + i)) })
    // Each record as a (features, label) sample, its letter's code as the label.
    let data =
        { new IDataset<Sample> with
            member _.Count = records.Length
            member _.Item with get i = new Sample(torch.tensor([| int64 records[i].Left |]), torch.tensor(int64 records[i].Right[0])) }
    let letters (batch: Batch) = batch.Labels.data<int64>().ToArray() |> Array.map (char >> string) |> String.concat ""
    let loader = DataLoader(data, 3)
    Assert.That([ for b in loader -> letters b ], equalTo [ "abc"; "def"; "g" ])
    let shuffled = DataLoader(data, 3, true, 9L, workers = 2)
    let all = [ for b in shuffled -> letters b ] |> String.concat "" |> Seq.sort |> Array.ofSeq
    Assert.That(String all, equalTo "abcdefg")
    Assert.That(shuffled.BatchCount, equalTo 3)

[<Test>]
let ``F#: Loader.create, Loader.map and Loader.peek`` () =
    use images = torch.randint(0L, 256L, [| 70L; 1L; 28L; 28L |], torch.ScalarType.Byte)
    use labels = torch.randint(0L, 10L, [| 70L |], torch.ScalarType.Int64)
    use data = Dataset.ofTensors images labels
    let toInput = Transform.toTensor >-> Transform.normalize [ 0.5 ] [ 0.5 ]
    let loader = Loader.create 64 true data |> Loader.map toInput |> Loader.mapLabels (Transform.oneHot 10)
    Assert.That((Loader.batchCount loader, Loader.sampleCount loader), equalTo((2, 70)))
    use batch = Loader.peek loader
    Assert.That(batch.Features.shape, equalTo [| 64L; 1L; 28L; 28L |])
    Assert.That(batch.Labels.shape, equalTo [| 64L; 10L |])
    use low = batch.Features.min()
    use high = batch.Features.max()
    Assert.That(low.item<float32>(), Is.GreaterThanOrEqualTo -1.0f)
    Assert.That(high.item<float32>(), Is.LessThanOrEqualTo 1.0f)
    let sizes = [ for b in loader -> b.Count ]
    Assert.That(sizes, equalTo [ 64; 6 ])

/// Counts the samples read so far (from any thread).
type private Counting(n: int) =
    let mutable read = 0
    member _.Read = Volatile.Read &read
    interface IDataset<Sample> with
        member _.Count = n
        member _.Item
            with get i =
                Interlocked.Increment &read |> ignore
                new Sample(torch.zeros(2L), torch.tensor(int64 i))

[<Test>]
let ``workers read ahead, but never more than prefetch batches`` () =
    let data = Counting 64
    let batchSize, prefetch = 4, 3
    let loader = DataLoader(data, batchSize, workers = 2, prefetch = prefetch)
    let mutable ahead = 0
    let mutable i = 0
    for _ in loader do
        let consumed = (i + 1) * batchSize
        // Wait, as a training step would, until the workers have read as far ahead as they may
        // (10 s bounds a hang; no timing is asserted).
        let allowed = min 64 (consumed + prefetch * batchSize)
        SpinWait.SpinUntil((fun () -> data.Read >= allowed), TimeSpan.FromSeconds 10.0) |> ignore
        Assert.That(data.Read, Is.LessThanOrEqualTo(consumed + prefetch * batchSize), sprintf "batch %d" i)
        ahead <- max ahead (data.Read - consumed)
        i <- i + 1
    Assert.That(i, equalTo 16)
    Assert.That(ahead, equalTo (prefetch * batchSize), "the workers filled the prefetch queue")

[<Test>]
let ``C# and F# give the same [N, 1, 28, 28] batches of Fashion-MNIST after ToTensor`` () =
    use train = Functional.Data.FashionMnist.Load(train = true)
    // As the IDX files lay the images out (and as torchvision's `dataset.data` is): [N, 28, 28].
    use images = train.Features.narrow(0L, 0L, 200L).squeeze(1L)
    use labels = train.Labels.narrow(0L, 0L, 200L)
    for data in [ new TensorDataset(images, labels); new TensorDataset(images.unsqueeze(1L), labels) ] do
        use data = data
        use csharp = DataLoader(data, 64, true, 3L).Map(ToTensor()).Peek()
        use fsharp = Loader.createWith { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 3L } data |> Loader.map Transform.toTensor |> Loader.peek
        Assert.That(csharp.Features.shape, equalTo [| 64L; 1L; 28L; 28L |])
        Assert.That(fsharp.Features.shape, equalTo [| 64L; 1L; 28L; 28L |])
        Assert.That(same fsharp.Features csharp.Features, Is.True)
        Assert.That(same fsharp.Labels csharp.Labels, Is.True)

[<Test>]
let ``F#: the tutorial's per-sample one-hot target works unchanged, in the dataset and in Loader.mapLabels`` () =
    // target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    let oneHot = Transform.lambda (fun y -> torch.zeros(10L).scatter_(0L, y, torch.tensor 1.0f))
    let options = { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 0L }
    use train = FashionMnist.load { FashionMnist.defaults with Transform = Some Transform.toTensor; TargetTransform = Some oneHot }
    use batch = Loader.createWith options train |> Loader.peek
    Assert.That(batch.Features.shape, equalTo [| 64L; 1L; 28L; 28L |])
    Assert.That(batch.Labels.shape, equalTo [| 64L; 10L |])
    // The oracle: the class indices of the same batch (same seed), through the batched OneHot.
    use raw = FashionMnist.load FashionMnist.defaults
    use rawBatch = Loader.createWith options raw |> Loader.peek
    use expected = OneHot(10).ApplyBatch rawBatch.Labels
    Assert.That(same batch.Labels expected, Is.True)
    use mapped = Loader.createWith options raw |> Loader.map Transform.toTensor |> Loader.mapLabels oneHot |> Loader.peek
    Assert.That(same mapped.Labels expected, Is.True)
    Assert.That(same mapped.Features batch.Features, Is.True)

[<Property(MaxTest = 20)>]
let ``in-memory data: a batched transform runs once per batch, a per-sample one once per sample, with the same batches`` () =
    Prop.forAll cases (fun (n, batchSize, dropLast, shuffle, seed) ->
        use data = numbered n
        let mutable batchCalls = 0
        let mutable sampleCalls = 0
        let double (x: torch.Tensor) = x.mul(torch.tensor 2uy)
        let batched = Functional.Transforms.Transform.Lambda(Func<_, _>(fun x -> batchCalls <- batchCalls + 1; double x), true)
        let perSample = Functional.Transforms.Transform.Lambda(Func<_, _>(fun x -> sampleCalls <- sampleCalls + 1; double x))
        let loader = DataLoader(data, batchSize, shuffle, seed, dropLast = dropLast)
        let features (l: DataLoader) = [ for b in l -> b.Features.data<byte>().ToArray() ]
        let a = features (loader.Map batched)
        let b = features (DataLoader(data, batchSize, shuffle, seed, dropLast = dropLast).Map perSample)
        a = b && batchCalls = loader.BatchCount && sampleCalls = loader.SampleCount)

[<Test>]
let ``Map leaves its loader as it was, and maps after what came before`` () =
    use images = torch.randint(0L, 256L, [| 10L; 1L; 2L; 2L |], torch.ScalarType.Byte)
    use labels = torch.arange(10L)
    use data = new TensorDataset(images, labels, ToTensor())
    let loader = DataLoader(data, 4)
    let mapped = loader.Map(Normalize([ 0.5 ], [ 0.5 ])).Map(Functional.Transforms.Transform.Lambda(Func<_, _>(fun x -> x.neg()), true)).MapLabels(OneHot 10)
    use plain = loader.Peek()
    use both = mapped.Peek()
    use expected = plain.Features.sub(torch.tensor 0.5f).div(torch.tensor 0.5f).neg()
    Assert.That(same both.Features expected, Is.True)
    Assert.That(both.Labels.shape, equalTo [| 4L; 10L |])
    Assert.That(plain.Labels.shape, equalTo [| 4L |])
    Assert.That(string mapped, Does.Contain("transform=Compose(").And.Contain("targetTransform=OneHot(10)"))

[<Test>]
let ``an epoch started at batch k draws the whole epoch's order and reads only the batches from k on`` () =
    let data = Counting 50
    let make () = DataLoader(data, 8, true, 3L, workers = 0)
    let whole = make ()
    let first = epochLabels whole                 // 7 batches: 6 of 8 and one of 2
    let resumed = make ()
    let before = data.Read
    let tail =
        use epoch = resumed.GetEnumerator 3
        [ while epoch.MoveNext() do yield epoch.Current.Labels.data<int64>().ToArray() ]
    Assert.That(tail, equalTo first[3..], "the same order, from batch 3 on")
    Assert.That(data.Read - before, equalTo (50 - 3 * 8), "the skipped batches' samples are not read")
    Assert.That(epochLabels resumed, equalTo (epochLabels whole), "the generator moved on as for a whole epoch")
