/// Tensor.fs: creation, *Like, host memory, MathNet, attributes, printing, operations, autograd basics.
module Functional.PropertyTests.TensorTests

open System
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.FSharp
open Functional.PropertyTests.Generators

let private isTrue (condition: bool) = Assert.That(condition, Is.True)

[<OneTimeSetUp>]
let load () = Functional.Native.EnsureLoaded()

let shapeOf (t: torch.Tensor) = t.shape |> List.ofArray

// ---- creation ---------------------------------------------------------------------------------

[<Test>]
let ``tensor infers PyTorch dtypes from F# lists`` () =
    use a = tensor [ [ 1; 2 ]; [ 3; 4 ] ]
    use b = tensor [ 1.0; 2.0 ]
    use c = tensor [ true; false ]
    use d = tensor [ [ [ 1uy ] ]; [ [ 2uy ] ] ]
    use e = tensor 2.5
    use f = tensor ([]: int list)
    use g = tensor [| [| 1L; 2L |]; [| 3L; 4L |] |]
    use h = tensor (array2D [ [ 1.0f; 2.0f ] ])
    use i = tensorOf torch.float64 [ 1; 2 ]
    equal (torch.int64) (a.dtype)
    equal ([ 2L; 2L ]) (shapeOf a)
    equal (3) (Tensor.item<int> a.[1, 0])
    equal (torch.float32) (b.dtype)
    equal (torch.ScalarType.Bool) (c.dtype)
    equal ((torch.int64, [ 2L; 1L; 1L ])) ((d.dtype, shapeOf d))
    equal ((0L, 2.5)) ((e.dim(), Tensor.item<float> e))
    equal ((torch.int64, [ 0L ])) ((f.dtype, shapeOf f))
    equal ([| 2L; 2L |]) (g.shape)
    equal ((torch.float32, [ 1L; 2L ])) ((h.dtype, shapeOf h))
    equal (torch.float64) (i.dtype)

[<Test>]
let ``ragged lists are an error naming both rows`` () =
    let e = throws<ArgumentException> (fun () -> tensor [ [ 1; 2 ]; [ 3 ] ] |> ignore)
    contains "[2]" e.Message
    contains "[1]" e.Message

[<Property(MaxTest = 60, Arbitrary = [| typeof<Arbitraries> |])>]
let ``nested lists round trip through tensor`` (data: TensorData) =
    // Build the nested F# list of the data's shape (as ints or floats), and compare values and shape.
    let rec nest (dims: int64 list) (values: float[]) : obj =
        match dims with
        | [] -> box values.[0]
        | d :: rest ->
            let inner = rest |> List.fold (fun n x -> n * int x) 1
            [ for k in 0 .. int d - 1 -> nest rest values.[k * inner .. (k + 1) * inner - 1] ] |> box
    let dims = List.ofArray data.Shape
    (Array.isEmpty data.Values |> not) ==> lazy (
        use t = tensor (nest dims data.Values)
        shapeOf t = dims && t.dtype = torch.float32 && (Tensor.toArray<float> t = (data.Values |> Array.map (float32 >> float))))

[<Property(MaxTest = 60, Arbitrary = [| typeof<Arbitraries> |])>]
let ``*Like keeps shape, dtype and device, and takes an override`` (data: TensorData) (other: torch.ScalarType) =
    use t = data.ToTensor()
    use z = Tensor.zerosLike t
    use o = Tensor.onesLikeAs other t
    use f = Tensor.fullLike 1.0 t
    use e = Tensor.emptyLike t
    shapeOf z = shapeOf t && z.dtype = t.dtype && string (Tensor.device z) = string (Tensor.device t)
    && shapeOf o = shapeOf t && o.dtype = other
    && shapeOf f = shapeOf t && f.dtype = t.dtype && (t.numel() = 0L || (use s = f.sum() in Tensor.item<float> (s.``to``(torch.float64)) = float (t.numel())))
    && shapeOf e = shapeOf t && e.dtype = t.dtype

[<Test>]
let ``randLike of an integer tensor names the dtype and the fix`` () =
    use x = tensor [ [ 1; 2 ]; [ 3; 4 ] ]
    use gen = new torch.Generator(0UL)
    let e = throws<ArgumentException> (fun () -> Tensor.randLike gen x |> ignore)
    contains "torch.int64" e.Message
    contains "Pass a floating dtype" e.Message
    use r = Tensor.randLikeAs torch.float32 gen x
    equal ((torch.float32, [ 2L; 2L ])) ((r.dtype, shapeOf r))
    isTrue (Tensor.item<float> (r.min()) >= 0.0 && Tensor.item<float> (r.max()) < 1.0)

[<Test>]
let ``randnLike is reproducible from the generator`` () =
    use x = Tensor.zeros [ 3; 2 ]
    use a = Tensor.randnLike (new torch.Generator(7UL)) x
    use b = Tensor.randnLike (new torch.Generator(7UL)) x
    use c = Tensor.randnLike (new torch.Generator(8UL)) x
    equal (Tensor.toArray<float32> b) (Tensor.toArray<float32> a)
    Assert.That(box (Tensor.toArray<float32> a), Is.Not.EqualTo(box (Tensor.toArray<float32> c)))

// ---- host memory --------------------------------------------------------------------------------

[<Property(MaxTest = 50)>]
let ``share: writes through the tensor are seen in the array, and the other way round`` (values: NonEmptyArray<int>) (pick: PositiveInt) (x: int) =
    let array = Array.map float values.Get
    let k = pick.Get % array.Length
    use t = Tensor.share array
    use view = t.[k]
    view.fill_((float x).ToScalar()) |> ignore
    let seenInArray = array.[k] = float x
    array.[(k + 1) % array.Length] <- float x + 1.0
    use other = t.[(k + 1) % array.Length]
    seenInArray && Tensor.item<float> other = float x + 1.0 && t.dtype = torch.float64

[<Property(MaxTest = 50)>]
let ``shareAs shares a float32 array with a shape`` (rows: PositiveInt) (cols: PositiveInt) =
    let r, c = rows.Get % 5 + 1, cols.Get % 5 + 1
    let array = Array.zeroCreate<float32> (r * c)
    use t = Tensor.shareAs [ r; c ] array
    t.[*, c - 1] <- 3.0
    Array.sum array = 3.0f * float32 r && array.[c - 1] = 3.0f && shapeOf t = [ int64 r; int64 c ]

[<Property(MaxTest = 60, Arbitrary = [| typeof<Arbitraries> |])>]
let ``copyTo copies: later writes to the tensor do not reach the array`` (data: TensorData) =
    use t = data.ToTensor()
    let out = Array.zeroCreate<float> (int (t.numel()))
    Tensor.copyTo out t
    let before = Array.copy out
    if t.numel() > 0L && t.dtype <> torch.ScalarType.Bool then t.add_((1).ToScalar()) |> ignore
    out = data.Values && out = before

[<Property(MaxTest = 50)>]
let ``asSpan: the tensor's own memory, writes seen both ways`` (values: NonEmptyArray<float32>) (pick: PositiveInt) =
    let values = values.Get |> Array.map (fun v -> if Single.IsFinite v then v else 0.0f)
    let k = pick.Get % values.Length
    use t = tensor values
    let span = Tensor.asSpan<float32> t
    let sameValues = span.ToArray() = values
    span.[k] <- 123.0f
    use element = t.[k]
    let seenInTensor = Tensor.item<float32> element = 123.0f
    Tensor.fillInPlace -1.0 t
    sameValues && seenInTensor && span.[k] = -1.0f

[<Test>]
let ``asSpan refuses what it cannot share`` () =
    use t = tensor [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]
    use transposed = t.t()
    let spanLength (dtypeIsDouble: bool) (x: torch.Tensor) =
        if dtypeIsDouble then (Tensor.asSpan<float> x).Length else (Tensor.asSpan<float32> x).Length
    throws<ArgumentException> (fun () -> spanLength false transposed |> ignore) |> ignore
    throws<ArgumentException> (fun () -> spanLength true t |> ignore) |> ignore

[<Test>]
let ``the tutorial's NumPy bridge: memory shared with an array`` () =
    let n = Array.create 5 1.0
    use t = Tensor.share n
    Tensor.addInPlace 1.0 t
    equal (Array.create 5 2.0) (n)
    equal ("tensor([2., 2., 2., 2., 2.], dtype=torch.float64)") (Tensor.format t)

[<Property(MaxTest = 40)>]
let ``MathNet matrices and vectors round trip, and share when asked`` (rows: PositiveInt) (cols: PositiveInt) (seed: int) =
    let r, c = rows.Get % 4 + 2, cols.Get % 4 + 2
    let m = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Random(r, c, seed)
    let original = m.Clone()
    use t = Tensor.ofMatrix m
    let back = Tensor.toMatrix<float> t
    use shared = Tensor.shareMatrix m
    shared.[r - 1, c - 1] <- 42.0
    m.[0, 0] <- -7.0
    let v = MathNet.Numerics.LinearAlgebra.Vector<float32>.Build.Random(c, seed)
    use tv = Tensor.ofVector v
    let sv = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.Dense(r)
    use tsv = Tensor.shareVector sv
    (use first = tsv.[0] in Tensor.fillInPlace 5.0 first)
    sv.[r - 1] <- -3.0
    use last = tsv.[r - 1]
    shapeOf t = [ int64 r; int64 c ] && back.Equals original
    && sv.[0] = 5.0 && Tensor.item<float> last = -3.0
    && m.[r - 1, c - 1] = 42.0 && Tensor.item<float> shared.[0, 0] = -7.0
    && Tensor.item<float> t.[r - 1, c - 1] = original.[r - 1, c - 1]
    && Tensor.toVector<float32> tv = v

// ---- attributes and printing ----------------------------------------------------------------------

[<Test>]
let ``attributes: shape, dtype, device and toDevice`` () =
    use t = Tensor.ones [ 3; 4 ]
    equal ([| 3L; 4L |]) (Tensor.shape t)
    equal (torch.float32) (Tensor.dtype t)
    // torch.Device compares by reference; its text is the device.
    equal "cpu" (string (Tensor.device t))
    use c = Tensor.toDevice Devices.Cpu t
    equal "cpu" (string (Tensor.device c))
    throws<InvalidOperationException> (fun () -> Tensor.toDevice (Devices.Cuda 0) t |> ignore) |> ignore

[<Test>]
let ``printing matches PyTorch`` () =
    use a = tensor [ [ 1; 2 ]; [ 3; 4 ] ]
    use b = tensor [ [ 0.3374; -1.0 ]; [ 12.5; 0.0 ] ]
    use c = Tensor.ones [ 2 ] |> Tensor.setRequiresGrad true
    use d = tensorOf torch.float64 [ 1.5 ]
    equal ("tensor([[1, 2],\n        [3, 4]])") (Tensor.format a)
    equal ("tensor([[ 0.3374, -1.0000],\n        [12.5000,  0.0000]])") (Tensor.format b)
    equal ("tensor([1., 1.], requires_grad=True)") (Tensor.format c)
    equal ("tensor([1.5000], dtype=torch.float64)") (Tensor.format d)
    // Worked out by hand from PyTorch's _tensor_str.py: one width for all elements (the widest
    // text, minus sign included), whole floats as `1.` with the width counting the dot, dtype before
    // requires_grad, and summaries of both rows and columns beyond 1000 elements.
    use negatives = tensor [ [ -1; 2 ]; [ 3; -40 ] ]
    use whole = tensor [ 1.0; -2.0; 30.0 ]
    use tracked = tensorOf torch.float64 [ 0.25; -1.0 ] |> Tensor.setRequiresGrad true
    use large = Tensor.zeros [ 100; 100 ]
    equal ("tensor([[ -1,   2],\n        [  3, -40]])") (Tensor.format negatives)
    equal ("tensor([ 1., -2., 30.])") (Tensor.format whole)
    equal ("tensor([ 0.2500, -1.0000], dtype=torch.float64, requires_grad=True)") (Tensor.format tracked)
    let row = "[0., 0., 0.,  ..., 0., 0., 0.]"
    equal ("tensor([" + String.Join(",\n        ", [ row; row; row; "..."; row; row; row ]) + "])") (Tensor.format large)

/// Reads a PyTorch-printed tensor back: its shape and its numbers in row-major order.
let parsePrinted (text: string) : int64 list * float list =
    let body = text.Substring("tensor(".Length)
    let mutable depth, maxDepth, i = 0, 0, 0
    let counts = Collections.Generic.Dictionary<int, int>()
    let numbers = ResizeArray<float>()
    let mutable stop = false
    let firstCounts = Collections.Generic.Dictionary<int, int>()
    while not stop && i < body.Length do
        match body.[i] with
        | '[' ->
            depth <- depth + 1
            maxDepth <- max maxDepth depth
            counts.[depth] <- 0
            i <- i + 1
        | ']' ->
            if not (firstCounts.ContainsKey depth) then firstCounts.[depth] <- counts.[depth]
            depth <- depth - 1
            if depth > 0 then counts.[depth] <- counts.[depth] + 1
            i <- i + 1
            if depth = 0 then stop <- true
        | ch when Char.IsDigit ch || ch = '-' ->
            let start = i
            while i < body.Length && (Char.IsDigit body.[i] || "-+.e".Contains body.[i]) do i <- i + 1
            numbers.Add(Double.Parse(body.Substring(start, i - start).TrimEnd('.'), Globalization.CultureInfo.InvariantCulture))
            counts.[depth] <- counts.[depth] + 1
        | _ -> i <- i + 1
    let shape = [ for k in 1 .. maxDepth -> int64 firstCounts.[k] ]
    shape, List.ofSeq numbers

[<Property(MaxTest = 60)>]
let ``printing round trips for integer tensors`` () =
    let data = tensorDataWith (nonEmptyShapeWith 3 5) (Gen.elements [ torch.int64; torch.int32 ])
    Prop.forAll (Arb.fromGen data) (fun data ->
        use t = data.ToTensor()
        let shape, values = parsePrinted (Tensor.format t)
        shape = List.ofArray data.Shape && values = List.ofArray data.Values)

[<Property(MaxTest = 60)>]
let ``printing round trips for floats to four decimals`` () =
    let data = tensorDataWith (nonEmptyShapeWith 2 4) (Gen.constant torch.float32)
    Prop.forAll (Arb.fromGen data) (fun data ->
        use t = data.ToTensor()
        let shape, values = parsePrinted (Tensor.format t)
        shape = List.ofArray data.Shape
        && List.forall2 (fun (p: float) (v: float) -> abs (p - v) <= 5e-5 * max 1.0 (abs v)) values (List.ofArray data.Values))

[<Test>]
let ``large tensors print with an ellipsis`` () =
    use t = torch.arange(2000L)
    equal ("tensor([   0,    1,    2,  ..., 1997, 1998, 1999])") (Tensor.format t)

// ---- indexing, slicing, ops --------------------------------------------------------------------------

[<Test>]
let ``indexing and slicing with F# syntax`` () =
    use t = tensor [ [ 1; 2; 3 ]; [ 4; 5; 6 ] ]
    equal ([| 1L; 2L; 3L |]) (Tensor.toArray<int64> t.[0])
    equal ([| 1L; 4L |]) (Tensor.toArray<int64> t.[*, 0])
    equal ([| 3L; 6L |]) (Tensor.toArray<int64> t.[*, -1])
    equal ([| 5L; 6L |]) (Tensor.toArray<int64> t.[1, 1..])
    equal (4) (Tensor.toArray<int64> t.[*, 0..1] |> Array.length)
    equal ([| 1L; 2L; 4L; 5L |]) (Tensor.toArray<int64> t.[*, .. -2])
    equal (6L) (Tensor.item<int64> t.[1, 2])
    t.[*, 1] <- 0
    equal ([| 1L; 0L; 3L; 4L; 0L; 6L |]) (Tensor.toArray<int64> t)
    use column = tensor [ 7; 8 ]
    t.[*, 2] <- column
    equal ([| 7L; 8L |]) (Tensor.toArray<int64> t.[*, 2])
    t.[0, 0..1] <- 2.5
    equal ([| 2L; 2L; 7L |]) (Tensor.toArray<int64> t.[0])
    use wrong = tensor [ 1; 2; 3 ]
    let e = throws<ArgumentException> (fun () -> t.[*, 0] <- wrong)
    contains "[3]" e.Message
    contains "[2]" e.Message
    throws<ArgumentException> (fun () -> t.[*, 0] <- "x") |> ignore
    throws<IndexOutOfRangeException> (fun () -> t.[*, 3] |> ignore) |> ignore

/// A tensor of rank 1 to 4 (sizes 1 to 4) with distinct values, an index into its first and last
/// dimensions, and an inclusive range on its last dimension.
let private indexCases =
    gen {
        let! rank = Gen.choose (1, 4)
        let! shape = Gen.listOfLength rank (Gen.choose (1, 4))
        let last = List.last shape
        let! i = Gen.choose (-shape.Head, shape.Head - 1)
        let! j = Gen.choose (-last, last - 1)
        let! lo = Gen.choose (0, last - 1)
        let! hi = Gen.choose (lo, last - 1)
        return shape, i, j, lo, hi
    } |> Arb.fromGen

let private sameValues (expected: torch.Tensor) (actual: torch.Tensor) =
    use e = expected
    use a = actual
    same e a

[<Property(MaxTest = 60)>]
let ``ellipsis and newAxis index as PyTorch's ... and None: as the explicit indices and unsqueeze`` () =
    Prop.forAll indexCases (fun (shape, i, j, lo, hi) ->
        let dims = shape |> List.map int64 |> Array.ofList
        use t = torch.arange((Array.reduce (*) dims).ToScalar(), torch.ScalarType.Int64).reshape(dims)
        let r = t.dim()
        let resolve (k: int) (size: int64) = if k < 0 then int64 k + size else int64 k
        let lastSize = dims.[dims.Length - 1]
        // PyTorch: t[..., j] is t.select(-1, j); t[..., lo:hi+1] is t.narrow(-1, lo, hi-lo+1); t[None] is
        // t.unsqueeze(0); t[..., None] is t.unsqueeze(-1); t[:, None] is t.unsqueeze(1); t[i, ...] is t[i].
        [ sameValues (t.select(-1L, resolve j lastSize)) t[ellipsis, j]
          sameValues (t.narrow(-1L, int64 lo, int64 (hi - lo + 1))) t[ellipsis, lo..hi]
          sameValues (t.alias()) t[ellipsis]
          sameValues (t.unsqueeze(0L)) t[newAxis]
          sameValues (t.unsqueeze(0L)) t[newAxis, ellipsis]
          sameValues (t.unsqueeze(r)) t[ellipsis, newAxis]
          sameValues (t.unsqueeze(1L)) t[*, newAxis]
          sameValues (t.select(0L, resolve i dims.[0])) t[i, ellipsis]
          sameValues (t.unsqueeze(0L).unsqueeze(r + 1L)) t[newAxis, ellipsis, newAxis]
          sameValues (t.select(0L, resolve i dims.[0]).unsqueeze(0L)) t[newAxis, i, ellipsis]
          sameValues (t.unsqueeze(0L).narrow(-1L, int64 lo, int64 (hi - lo + 1))) t[newAxis, ellipsis, lo..hi]
          // and as TorchSharp's own TensorIndex.Ellipsis / TensorIndex.None (LibTorch's indexing)
          sameValues (t.index([| torch.TensorIndex.None; torch.TensorIndex.Ellipsis; torch.TensorIndex.Single(int64 j) |])) t[newAxis, ellipsis, j] ]
        |> List.forall id)

[<Property(MaxTest = 30)>]
let ``writing through ellipsis and newAxis writes where the explicit index does`` () =
    Prop.forAll indexCases (fun (shape, _, j, lo, hi) ->
        let dims = shape |> List.map int64 |> Array.ofList
        use ours = torch.zeros(dims)
        use theirs = torch.zeros(dims)
        let lastSize = dims.[dims.Length - 1]
        let jj = if j < 0 then int64 j + lastSize else int64 j
        ours[ellipsis, lo..hi] <- 2.0
        (use v = theirs.narrow(-1L, int64 lo, int64 (hi - lo + 1)) in v.fill_((2.0).ToScalar()) |> ignore)
        use seven = torch.tensor(7.0f)
        ours[ellipsis, j] <- seven
        (use v = theirs.select(-1L, jj) in v.fill_((7.0).ToScalar()) |> ignore)
        same theirs ours)

[<Test>]
let ``ellipsis and newAxis: PyTorch's examples and errors`` () =
    use t = tensor [ [ 1; 2; 3 ]; [ 4; 5; 6 ] ]
    // x[..., 0] is the first column, x[:, None] has shape [2, 1, 3], x[..., None] [2, 3, 1].
    equal ([| 1L; 4L |]) (Tensor.toArray<int64> t[ellipsis, 0])
    equal ([ 2L; 1L; 3L ]) (shapeOf t[*, newAxis])
    equal ([ 2L; 3L; 1L ]) (shapeOf t[ellipsis, newAxis])
    equal ([ 1L; 2L; 1L; 3L ]) (shapeOf t[newAxis, *, newAxis, *])
    equal ([| 3L; 6L |]) (Tensor.toArray<int64> t[ellipsis, -1])
    equal "..." (string ellipsis)
    // PyTorch: "an index can only have a single ellipsis"; more indices than dimensions is an IndexError.
    throws<ArgumentException> (fun () -> t[ellipsis, 0, ellipsis] |> ignore) |> ignore
    throws<IndexOutOfRangeException> (fun () -> t[0, 0, ellipsis, 0] |> ignore) |> ignore
    throws<IndexOutOfRangeException> (fun () -> t[ellipsis, 3] |> ignore) |> ignore

[<Test>]
let ``the tutorial's in-place add`` () =
    use t = Tensor.ones [ 4; 4 ]
    t.[*, 1] <- 0.0
    Tensor.addInPlace 5.0 t
    equal ([| 6.0f; 5.0f; 6.0f; 6.0f |]) (Tensor.toArray<float32> t.[0])

[<Test>]
let ``item returns the F# type that fits the dtype`` () =
    use f = tensor [ 2.5 ]
    use i = tensor 3
    use b = tensor true
    equal (2.5) (Tensor.item<float> f)
    equal (2.5f) (Tensor.item<float32> f)
    equal (3) (Tensor.item<int> i)
    equal (3L) (Tensor.item<int64> i)
    Assert.That(Tensor.item<bool> b, Is.True)
    let e = throws<ArgumentException> (fun () -> Tensor.item<int> f |> ignore)
    contains "torch.float32" e.Message
    use two = tensor [ 1; 2 ]
    throws<ArgumentException> (fun () -> Tensor.item<int> two |> ignore) |> ignore

[<Test>]
let ``shape mistakes name both shapes`` () =
    use a = Tensor.ones [ 2; 3 ]
    use b = Tensor.ones [ 2; 2 ]
    use c = Tensor.ones [ 4 ]
    let cases =
        [ (fun () -> Tensor.add a b), "[2, 2]"; (fun () -> Tensor.matmul a a), "[2, 3]"; (fun () -> Tensor.cat 1 [ a; c ]), "[4]"
          (fun () -> Tensor.stack 0 [ a; b ]), "[2, 2]"; (fun () -> Tensor.dot a b), "[2, 2]"; (fun () -> Tensor.reshape [ 4 ] a), "[4]" ]
    for f, other in cases do
        let e = throws<ArgumentException> (fun () -> f () |> ignore)
        contains "[2, 3]" e.Message
        contains other (e.Message)
    // What LibTorch refuses after the shapes passed is reported with both shapes and dtypes too.
    use flags = tensor [ true; false ]
    let e = throws<ArgumentException> (fun () -> Tensor.sub flags flags |> ignore)
    contains "sub of shapes [2] and [2] (dtypes torch.bool and torch.bool) failed" e.Message
    let e = throws<ArgumentException> (fun () -> Tensor.copyInPlace a c)
    contains "[2, 3]" e.Message
    contains "[4]" e.Message

[<Test>]
let ``the tutorial's cat and stack shapes`` () =
    use t = Tensor.ones [ 4; 4 ]
    let shapes =
        [ Tensor.cat 0 [ t; t ]; Tensor.cat 1 [ t; t ]; Tensor.stack 0 [ t; t ]; Tensor.stack 1 [ t; t ]; Tensor.stack 2 [ t; t ] ]
        |> List.map (fun r -> use r = r in shapeOf r)
    equal ([ [ 8L; 4L ]; [ 4L; 8L ]; [ 2L; 4L; 4L ]; [ 4L; 2L; 4L ]; [ 4L; 4L; 2L ] ]) (shapes)

[<Property(MaxTest = 60)>]
let ``cat and stack shape laws`` () =
    let g =
        gen {
            let! shape = nonEmptyShapeWith 3 3
            let! k = Gen.choose (1, 3)
            let! dim = Gen.choose (-shape.Length, shape.Length - 1)
            let! sizes = Gen.arrayOfLength k (Gen.choose (0, 3))
            return shape, k, dim, sizes
        }
    Prop.forAll (Arb.fromGen g) (fun (shape, k, dim, sizes) ->
        let d = if dim < 0 then dim + shape.Length else dim
        // cat: tensors that differ only along d; the result's size along d is the sum.
        let parts = sizes |> Array.map (fun s -> let sh = Array.copy shape in sh.[d] <- int64 s; torch.zeros(sh))
        use catted = Tensor.cat dim parts
        let catOk = catted.shape = (let sh = Array.copy shape in sh.[d] <- int64 (Array.sum sizes); sh)
        parts |> Array.iter (fun p -> p.Dispose())
        // stack: k tensors of one shape; a new dimension of size k at dim (0..rank).
        let same = Array.init k (fun _ -> torch.zeros(shape))
        let sdim = if dim < 0 then dim + shape.Length + 1 else dim
        use stacked = Tensor.stack sdim same
        let stackOk = stacked.shape = Array.concat [ shape.[.. sdim - 1]; [| int64 k |]; shape.[sdim ..] ]
        same |> Array.iter (fun p -> p.Dispose())
        catOk && stackOk)

[<Test>]
let ``element-wise, matrix product and in-place ops`` () =
    use a = tensor [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]
    use p = Tensor.matmul a a
    equal ([| 7.0f; 10.0f; 15.0f; 22.0f |]) (Tensor.toArray<float32> p)
    use m = Tensor.mul a a
    equal ([| 1.0f; 4.0f; 9.0f; 16.0f |]) (Tensor.toArray<float32> m)
    use s = a + a * 2.0
    equal ([| 3.0f; 6.0f; 9.0f; 12.0f |]) (Tensor.toArray<float32> s)
    Tensor.mulInPlace 2.0 a
    Tensor.copyInPlace (a + 1.0) a
    equal ([| 3.0f; 5.0f; 7.0f; 9.0f |]) (Tensor.toArray<float32> a)

// ---- autograd ------------------------------------------------------------------------------------------

[<Test>]
let ``backward, retainGraph, accumulation, noGrad and detach`` () =
    use w = tensor [ 1.0; 2.0 ] |> Tensor.setRequiresGrad true
    use loss = (w * w).sum()
    isTrue (Tensor.hasGradFn loss && not (Tensor.hasGradFn w))
    Tensor.backwardRetain loss
    equal ([| 2.0f; 4.0f |]) (Tensor.toArray<float32> (Tensor.grad w).Value)
    Tensor.backward loss
    equal ([| 4.0f; 8.0f |]) (Tensor.toArray<float32> (Tensor.grad w).Value)
    let e = throws<InvalidOperationException> (fun () -> Tensor.backward loss |> ignore)
    contains "retainGraph" e.Message
    Tensor.zeroGrad [ w ]
    equal ([| 0.0f; 0.0f |]) (Tensor.toArray<float32> (Tensor.grad w).Value)
    do
        use _ = noGrad ()
        use z = w * 2.0
        Assert.That(Tensor.requiresGrad z, Is.False)
    use z = w * 2.0
    Assert.That(Tensor.requiresGrad z, Is.True)
    use d = Tensor.detach z
    Assert.That(Tensor.requiresGrad d, Is.False)
