module Functional.PropertyTests.TransformTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Transforms
open Functional.FSharp




let private bytes (shape: int64[]) (values: byte[]) =
    Native.EnsureLoaded()
    torch.tensor(values, ReadOnlySpan shape, torch.ScalarType.Byte)

/// uint8 images [C, H, W] with C in 1..3 and H, W in 1..6, and their values.
let private images =
    gen {
        let! c = Gen.choose (1, 3)
        let! h = Gen.choose (1, 6)
        let! w = Gen.choose (1, 6)
        let! values = Gen.arrayOfLength (c * h * w) (Gen.choose (0, 255) |> Gen.map byte)
        return [| int64 c; int64 h; int64 w |], values
    }
    |> Arb.fromGen

[<Test>]
let ``ToTensor divides every uint8 value by exactly 255`` () =
    let all = [| 0uy .. 255uy |]
    use x = bytes [| 1L; 16L; 16L |] all
    use y = ToTensor().Apply x
    Assert.That(y.dtype, equalTo torch.ScalarType.Float32)
    let expected = all |> Array.map (fun b -> float32 b / 255.0f)
    Assert.That(y.data<float32>().ToArray(), equalTo expected)
    Assert.That(y[0L, 15L, 15L].item<float32>(), equalTo 1.0f)

[<Property(MaxTest = 40)>]
let ``ToTensor's values lie in 0..1 and keep the CHW shape; a batch equals its samples`` () =
    Prop.forAll images (fun (shape, values) ->
        use x = bytes shape values
        // A second, different sample (255 - v), so that a batch that mixed up its rows would show.
        use x2 = bytes shape (values |> Array.map (fun b -> 255uy - b))
        use y = ToTensor().Apply x
        use y2 = ToTensor().Apply x2
        let v = y.data<float32>().ToArray()
        use batch = torch.stack([| x; x2 |])
        use yb = ToTensor().ApplyBatch batch
        use y0 = yb[0L]
        use y1 = yb[1L]
        v |> Array.forall (fun f -> f >= 0.0f && f <= 1.0f)
        && v = (values |> Array.map (fun b -> float32 b / 255.0f))
        && y.shape = shape
        && yb.shape = Array.append [| 2L |] shape
        && same y0 y
        && same y1 y2)

[<Test>]
let ``ToTensor: HW gets a channel, HWC is permuted to CHW`` () =
    use hw = bytes [| 2L; 3L |] [| 0uy .. 5uy |]
    use a = ToTensor().Apply hw
    Assert.That(a.shape, equalTo [| 1L; 2L; 3L |])
    // [H=1, W=2, C=3]: pixel 0 = (0, 1, 2), pixel 1 = (3, 4, 5); channel 0 is (0, 3).
    use hwc = bytes [| 1L; 2L; 3L |] [| 0uy .. 5uy |]
    use b = ToTensor(ImageLayout.Hwc).Apply hwc
    Assert.That(b.shape, equalTo [| 3L; 1L; 2L |])
    Assert.That(b.data<float32>().ToArray() |> Array.map (fun f -> int (round (f * 255.0f))), equalTo [| 0; 3; 1; 4; 2; 5 |])
    use f = torch.zeros(1L, 2L, 2L)
    throws<ArgumentException>(fun () -> ToTensor().Apply f |> ignore) |> ignore

[<Test>]
let ``Normalize computes (x - mean) / std per channel`` () =
    use x = torch.arange(12.0f).reshape(2L, 2L, 3L)
    use y = Normalize([ 1.0; 2.0 ], [ 2.0; 4.0 ]).Apply x
    let expected = Array.init 12 (fun i -> if i < 6 then (float32 i - 1.0f) / 2.0f else (float32 i - 2.0f) / 4.0f)
    Assert.That(y.data<float32>().ToArray(), equalTo expected)
    use batch = x.unsqueeze(0L)
    use yb = Normalize([ 1.0; 2.0 ], [ 2.0; 4.0 ]).ApplyBatch batch
    Assert.That(yb.data<float32>().ToArray(), equalTo expected)
    throws<ArgumentException>(fun () -> Normalize([ 0.5 ], [ 0.0 ]) |> ignore) |> ignore

[<Property(MaxTest = 40)>]
let ``OneHot: one 1 per row, at the label, zeros elsewhere, float32`` () =
    let cases =
        gen {
            let! classes = Gen.choose (1, 12)
            let! n = Gen.choose (0, 10)
            let! labels = Gen.arrayOfLength n (Gen.choose (0, classes - 1) |> Gen.map int64)
            return classes, labels
        }
    Prop.forAll (Arb.fromGen cases) (fun (classes, labels) ->
        use y = torch.tensor(labels)
        use hot = OneHot(classes).ApplyBatch y
        let v = if labels.Length = 0 then [||] else hot.data<float32>().ToArray()
        hot.dtype = torch.ScalarType.Float32
        && hot.shape = [| int64 labels.Length; int64 classes |]
        && labels |> Array.mapi (fun i l -> Array.init classes (fun c -> v[i * classes + c] = (if int64 c = l then 1.0f else 0.0f)) |> Array.forall id) |> Array.forall id)

[<Test>]
let ``OneHot of a scalar is the tutorial's scatter, and bad labels are refused`` () =
    use y = torch.tensor(3L)
    use hot = OneHot(10).Apply y
    use expected = torch.zeros(10L).scatter_(0L, torch.tensor([| 3L |]), torch.ones(1L))
    Assert.That(same hot expected, Is.True)
    use bad = torch.tensor([| 0L; 10L |])
    let e = throws<ArgumentException>(fun () -> OneHot(10).ApplyBatch bad |> ignore)
    Assert.That(e.Message, Does.Contain "labels 0 to 9")

[<Test>]
let ``Compose applies in order and frees its intermediates`` () =
    use x = bytes [| 1L; 2L; 2L |] [| 0uy; 51uy; 102uy; 255uy |]
    let composed = Compose(ToTensor(), Normalize([ 0.5 ], [ 0.5 ]))
    use warm = composed.Apply x
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let before = Generators.settledTensorCount ()
    use y = composed.Apply x
    Assert.That(torch.Tensor.TotalCount - before, equalTo 1L)
    Assert.That(y.data<float32>().ToArray(), equalTo([| 0uy; 51uy; 102uy; 255uy |] |> Array.map (fun b -> (float32 b / 255.0f - 0.5f) / 0.5f)))
    Assert.That(composed.IsBatched, Is.True)
    Assert.That(composed.ToString(), Does.Contain "ToTensor()")

[<Test>]
let ``Compose frees the intermediate result when a later step refuses it`` () =
    use x = bytes [| 1L; 2L; 2L |] [| 0uy; 51uy; 102uy; 255uy |]
    // Three channels of mean and std for a one-channel image: Normalize refuses ToTensor's result.
    let composed = Compose(ToTensor(), Normalize([ 0.5; 0.5; 0.5 ], [ 0.5; 0.5; 0.5 ]))
    let before = Generators.settledTensorCount ()
    throws<ArgumentException>(fun () -> composed.Apply x |> ignore) |> ignore
    // Read without collecting: a leaked intermediate is still counted until a finalizer runs.
    Assert.That(torch.Tensor.TotalCount, Is.LessThanOrEqualTo before)

[<Test>]
let ``F# transforms compose with >-> and agree with the C# ones`` () =
    use x = bytes [| 2L; 1L; 2L; 2L |] [| 0uy .. 7uy |]
    let toInput = Transform.toTensor >-> Transform.normalize [ 0.5 ] [ 0.5 ]
    use y = Transform.applyBatch toInput x
    use expected = Compose(ToTensor(), Normalize([ 0.5 ], [ 0.5 ])).ApplyBatch x
    Assert.That(same y expected, Is.True)
    use one = x[0L]
    use y0 = Transform.apply toInput one
    use expected0 = expected[0L]
    Assert.That(same y0 expected0, Is.True)
    use labels = torch.tensor([| 1L; 0L |])
    use hot = Transform.applyBatch (Transform.oneHot 3) labels
    Assert.That(hot.data<float32>().ToArray(), equalTo [| 0.f; 1.f; 0.f; 1.f; 0.f; 0.f |])

[<Test>]
let ``F# transforms are the core's transforms: they print as PyTorch's, and say how they run`` () =
    Assert.That(Transform.toTensor, Is.InstanceOf<ToTensor>())
    Assert.That(string (Transform.oneHot 10), equalTo "OneHot(10)")
    use g = Transform.generator 3L
    Assert.That(Transform.randomHorizontalFlip 0.5 g, Is.InstanceOf<RandomHorizontalFlip>())
    let composed = Transform.toTensor >-> Transform.normalize [ 0.5 ] [ 0.5 ]
    Assert.That(composed, Is.InstanceOf<Compose>())
    Assert.That(string composed, equalTo "Compose(\n    ToTensor()\n    Normalize(mean=[0.5], std=[0.5])\n)")
    Assert.That(Transform.compose [ Transform.toTensor; Transform.normalize [ 0.5 ] [ 0.5 ] ] |> string, equalTo (string composed))
    Assert.That(composed.IsBatched, Is.True)
    let perSample = Transform.lambda id
    Assert.That((string perSample, perSample.IsBatched), equalTo (("Lambda()", false)))
    let batched = Transform.batched id
    Assert.That((string batched, batched.IsBatched), equalTo (("Lambda(batched)", true)))
    Assert.That((composed >-> perSample).IsBatched, Is.False, "one per-sample step makes the composition per sample")

[<Property(MaxTest = 25)>]
let ``RandomHorizontalFlip: each sample is itself or its mirror; the same seed flips the same samples`` () =
    Prop.forAll (Arb.fromGen (Gen.choose (1, 12))) (fun n ->
        use batch = torch.arange(int64 (n * 6)).reshape(int64 n, 1L, 2L, 3L)
        use a = RandomHorizontalFlip(7L).ApplyBatch batch
        use b = RandomHorizontalFlip(7L).ApplyBatch batch
        use mirrored = batch.flip(-1L)
        let each =
            [ for i in 0L .. int64 n - 1L ->
                use ai = a[i]
                use xi = batch[i]
                use mi = mirrored[i]
                same ai xi || same ai mi ]
        same a b && List.forall id each)

[<Test>]
let ``RandomHorizontalFlip with p = 0 and p = 1`` () =
    use x = torch.arange(6L).reshape(1L, 2L, 3L)
    use never = RandomHorizontalFlip(1L, 0.0).Apply x
    use always = RandomHorizontalFlip(1L, 1.0).Apply x
    Assert.That(same never x, Is.True)
    Assert.That(always.data<int64>().ToArray(), equalTo [| 2L; 1L; 0L; 5L; 4L; 3L |])
    use batch = torch.stack([| x; x; x |])
    use flipped = RandomHorizontalFlip(1L, 1.0).ApplyBatch batch
    use expected = batch.flip(-1L)
    Assert.That(same flipped expected, Is.True)

[<Test>]
let ``RandomHorizontalFlip draws a coin for each sample of a batch, not one for the batch`` () =
    // The seed is fixed, so this cannot flake; 64 fair coins all landing the same way would be a 2^-63 event.
    use batch = torch.arange(384L).reshape(64L, 1L, 2L, 3L)
    use flipped = RandomHorizontalFlip(5L).ApplyBatch batch
    use mirrored = batch.flip(-1L)
    let isMirrored (i: int64) =
        use f = flipped[i]
        use m = mirrored[i]
        same f m
    let kinds = [ for i in 0L .. 63L -> isMirrored i ]
    Assert.That(List.contains true kinds, Is.True, "some samples are flipped")
    Assert.That(List.contains false kinds, Is.True, "some samples are not")

[<Property(MaxTest = 25)>]
let ``RandomCrop cuts a window of the zero-padded image; the same seed cuts the same`` () =
    let cases = Gen.zip (Gen.choose (1, 5)) (Gen.choose (0, 3)) |> Arb.fromGen
    Prop.forAll cases (fun (n, padding) ->
        use batch = torch.arange(1L, int64 (n * 16) + 1L).reshape(int64 n, 1L, 4L, 4L)
        use a = RandomCrop(3, 11L, padding).ApplyBatch batch
        use b = RandomCrop(3, 11L, padding).ApplyBatch batch
        use padded = torch.nn.functional.pad(batch, [| int64 padding; int64 padding; int64 padding; int64 padding |])
        let side = 4 + 2 * padding
        let windowOf (i: int64) =
            [ for top in 0L .. int64 side - 3L do
                for left in 0L .. int64 side - 3L do
                    use p = padded[i]
                    use w = p.narrow(-2L, top, 3L).narrow(-1L, left, 3L)
                    use ai = a[i]
                    yield same ai w ]
            |> List.exists id
        same a b && a.shape = [| int64 n; 1L; 3L; 3L |] && List.forall windowOf [ 0L .. int64 n - 1L ])

[<Test>]
let ``RandomCrop of the full size without padding is the identity`` () =
    use x = torch.arange(16L).reshape(1L, 4L, 4L)
    use y = RandomCrop(4, 3L).Apply x
    Assert.That(same y x, Is.True)
    throws<ArgumentException>(fun () -> RandomCrop(5, 3L).Apply x |> ignore) |> ignore

[<Test>]
let ``Lambda runs per sample unless it is batched`` () =
    let mutable calls = 0
    let perSample = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (t: torch.Tensor) -> calls <- calls + 1; t.mul(torch.tensor 2L)))
    use batch = torch.ones(3L, 2L, dtype = torch.ScalarType.Int64)
    use y = perSample.ApplyBatch batch
    Assert.That(calls, equalTo 3)
    Assert.That(y.sum().item<int64>(), equalTo 12L)
    let batched = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (t: torch.Tensor) -> calls <- calls + 1; t.mul(torch.tensor 2L)), true)
    use z = batched.ApplyBatch batch
    Assert.That(calls, equalTo 4)
    Assert.That(same z y, Is.True)

[<Test>]
let ``a batched Lambda runs on one sample as a batch of one, and must keep the batch dimension`` () =
    // A function that needs the batch dimension: flatten each sample.
    let flatten = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (t: torch.Tensor) -> t.flatten(1L)), true)
    use sample = torch.arange(6L).reshape(1L, 2L, 3L)
    use flat = flatten.Apply sample
    Assert.That(flat.shape, equalTo [| 6L |])
    let total = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (t: torch.Tensor) -> t.sum()), true)
    let e = throws<InvalidOperationException>(fun () -> total.Apply sample |> ignore)
    Assert.That(e.Message, Does.Contain "[1, 1, 2, 3]")

[<Test>]
let ``the tutorial's per-sample one-hot Lambda gives a batch of one-hot rows`` () =
    // target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    let oneHot = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (y: torch.Tensor) -> torch.zeros(10L).scatter_(0L, y, torch.tensor 1.0f)))
    use labels = torch.tensor([| 3L; 0L; 9L |])
    use hot = oneHot.ApplyBatch labels
    use expected = OneHot(10).ApplyBatch labels
    Assert.That(same hot expected, Is.True)
    let mismatched = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (y: torch.Tensor) -> torch.zeros(y.item<int64>() + 1L)))
    let e = throws<ArgumentException>(fun () -> mismatched.ApplyBatch labels |> ignore)
    Assert.That(e.Message, Does.Contain("Lambda()").And.Contain("sample 1 gives"))

/// Samples along dimension 0, each given to `transform.Apply`, stacked: what `ApplyBatch` must equal.
let private perSampleStacked (transform: Transform) (batch: torch.Tensor) =
    use scope = torch.NewDisposeScope()
    torch.stack([| for i in 0L .. batch.shape[0] - 1L -> transform.Apply(batch[i]) |]).MoveToOuterDisposeScope()

/// A batch of 1..5 uint8 images [N, C, H, W] (C 1..3, H and W 1..6) and a seed.
let private imageBatches =
    gen {
        let! n = Gen.choose (1, 5)
        let! c = Gen.choose (1, 3)
        let! h = Gen.choose (1, 6)
        let! w = Gen.choose (1, 6)
        let! values = Gen.arrayOfLength (n * c * h * w) (Gen.choose (0, 255) |> Gen.map byte)
        let! seed = Gen.choose (0, 1000)
        return [| int64 n; int64 c; int64 h; int64 w |], values, int64 seed
    }
    |> Arb.fromGen

[<Property(MaxTest = 40)>]
let ``each library transform on a batch equals the transform per sample, stacked`` () =
    Prop.forAll imageBatches (fun (shape, values, seed) ->
        use images = bytes shape values
        let c, h, w = int shape[1], int shape[2], int shape[3]
        use floats = ToTensor().ApplyBatch images
        use labels = torch.tensor(values |> Array.take (int shape[0]) |> Array.map (fun v -> int64 v % 10L))
        use hwc = images.permute(0L, 2L, 3L, 1L).contiguous()
        use hw = images.select(1L, 0L)
        let padding = int seed % 3
        // Each case makes its transform twice: a random one then draws the same from a fresh generator.
        let cases : (string * (unit -> Transform) * torch.Tensor) list =
            [ "ToTensor", (fun () -> ToTensor()), images
              "ToTensor of [H, W, C]", (fun () -> ToTensor(ImageLayout.Hwc)), hwc
              "ToTensor of [H, W]", (fun () -> ToTensor()), hw
              "Normalize", (fun () -> Normalize(List.init c (fun i -> 0.1 * float i), List.init c (fun i -> 0.5 + float i))), floats
              "OneHot", (fun () -> OneHot 10), labels
              "RandomHorizontalFlip", (fun () -> RandomHorizontalFlip(seed)), images
              "RandomCrop", (fun () -> RandomCrop(min h w, seed, padding)), images
              "Compose", (fun () -> Compose(ToTensor(), RandomHorizontalFlip(seed), RandomCrop(min h w, seed + 1L, padding), Normalize([ 0.5 ], [ 0.5 ]))), images
              "Lambda.Batched", (fun () -> Functional.Transforms.Transform.Lambda(Func<_, _>(fun (x: torch.Tensor) -> x.flatten(1L)), true)), images
              "Lambda", (fun () -> Functional.Transforms.Transform.Lambda(Func<_, _>(fun (x: torch.Tensor) -> x.sum(0L)))), images ]
        let failures =
            cases
            |> List.filter (fun (_, make, input) ->
                use batched = make().ApplyBatch input
                use perSample = perSampleStacked (make ()) input
                not (same batched perSample))
            |> List.map (fun (name, _, _) -> name)
        failures.IsEmpty |> Prop.label ("batch differs from per sample: " + String.concat ", " failures))
