namespace Functional.FSharp

open System
open System.Runtime.InteropServices
open TorchSharp
open Functional

/// Tensor creation and the no-grad scope, available after `open Functional.FSharp`.
[<AutoOpen>]
module TensorCreation =
    /// A tensor from a scalar, an F# list/array/sequence (nested for more dimensions) or a .NET
    /// array, with PyTorch's dtype inference: integers give int64, floats give float32, bools give
    /// bool. The data is copied. `tensor [[1;2];[3;4]]` is an int64 tensor of shape [2, 2].
    let tensor (data: 'T) : torch.Tensor =
        match box data with
        | null -> invalidArg (nameof data) "Cannot make a tensor from null."
        | :? torch.Tensor as t -> (use d = t.detach() in d.clone())
        | value -> Tensors.Create(value)

    /// A tensor from nested data with the given dtype, e.g. `tensorOf torch.float64 [1; 2]`.
    let tensorOf (dtype: torch.ScalarType) (data: 'T) : torch.Tensor =
        match box data with
        | null -> invalidArg (nameof data) "Cannot make a tensor from null."
        | :? torch.Tensor as t -> (use d = t.detach() in d.``to``(dtype, copy = true))
        | value -> Tensors.Create(value, Nullable dtype)

    /// A scope in which autograd records nothing, PyTorch's `with torch.no_grad():`.
    /// `use _ = noGrad ()` keeps it until the end of the enclosing block.
    let noGrad () : IDisposable = Autograd.NoGrad()

/// Functions on `torch.Tensor`, subject last so that they pipe: `t |> Tensor.reshape [2; 3]`.
[<RequireQualifiedAccess>]
module Tensor =
    let private shapeText (shape: int64[]) = Tensors.ShapeText shape

    let private dims (shape: int list) = shape |> List.map int64 |> Array.ofList

    /// Runs a native operation; a LibTorch error (shapes were checked before, so usually dtypes or
    /// devices) becomes an ArgumentException that names the operation, both shapes and dtypes, and LibTorch's reason.
    let private binary (name: string) (a: torch.Tensor) (b: torch.Tensor) (op: unit -> torch.Tensor) =
        try op ()
        with :? ExternalException as e ->
            invalidArg "b" (String.Format("{0} of shapes {1} and {2} (dtypes {3} and {4}) failed: {5}", name, shapeText a.shape, shapeText b.shape,
                                          Tensors.DTypeName a.dtype, Tensors.DTypeName b.dtype, e.Message.Split('\n').[0]))

    let private broadcastable (a: int64[]) (b: int64[]) = Tensors.AreBroadcastable(a, b)

    let private elementwise (name: string) (op: torch.Tensor -> torch.Tensor -> torch.Tensor) (b: torch.Tensor) (a: torch.Tensor) =
        if not (broadcastable a.shape b.shape) then
            invalidArg "b" (String.Format("{0}: shapes {1} and {2} cannot be broadcast together: each dimension, from the last, must be equal or 1.", name, shapeText a.shape, shapeText b.shape))
        binary name a b (fun () -> op a b)

    // ---- attributes ---------------------------------------------------------------------------

    /// The shape, PyTorch's `t.shape`.
    let shape (t: torch.Tensor) : int64[] = t.shape

    /// The element type, PyTorch's `t.dtype`.
    let dtype (t: torch.Tensor) : torch.ScalarType = t.dtype

    /// The device the tensor lives on.
    let device (t: torch.Tensor) : torch.Device = t.device

    /// The number of elements.
    let numel (t: torch.Tensor) : int64 = t.numel()

    /// The number of dimensions.
    let dim (t: torch.Tensor) : int = int (t.dim())

    /// The tensor on another device (a copy unless it is already there), PyTorch's `t.to(device)`.
    let toDevice (device: torch.Device) (t: torch.Tensor) : torch.Tensor = t.To(device)

    /// The tensor converted to another dtype (a copy).
    let toDtype (dtype: torch.ScalarType) (t: torch.Tensor) : torch.Tensor = t.``to``(dtype, copy = true)

    // ---- printing -----------------------------------------------------------------------------

    /// The values as PyTorch prints them: `tensor([[1, 2],\n        [3, 4]])`.
    let format (t: torch.Tensor) : string = Tensors.Format t

    /// Prints the values as Python's `print(t)` does.
    let print (t: torch.Tensor) : unit = Tensors.Print t

    // ---- creation -----------------------------------------------------------------------------

    /// Zeros of the given shape (float32).
    let zeros (shape: int list) : torch.Tensor = Native.ensureLoaded (); torch.zeros(dims shape)

    /// Ones of the given shape (float32).
    let ones (shape: int list) : torch.Tensor = Native.ensureLoaded (); torch.ones(dims shape)

    /// A tensor of the given shape filled with a value (float32).
    let full (shape: int list) (value: float) : torch.Tensor =
        Native.ensureLoaded ()
        use s = value.ToScalar()
        torch.full(dims shape, s)

    /// Uniform random numbers in [0, 1) of the given shape (float32), from the generator.
    let rand (generator: torch.Generator) (shape: int list) : torch.Tensor =
        Native.ensureLoaded (); torch.rand(dims shape, generator = generator)

    /// Standard normal random numbers of the given shape (float32), from the generator.
    let randn (generator: torch.Generator) (shape: int list) : torch.Tensor =
        Native.ensureLoaded (); torch.randn(dims shape, generator = generator)

    /// Zeros with the shape, dtype and device of `like`.
    let zerosLike (like: torch.Tensor) : torch.Tensor = Tensors.ZerosLike(like)
    /// Zeros with the shape and device of `like` and the given dtype.
    let zerosLikeAs (dtype: torch.ScalarType) (like: torch.Tensor) : torch.Tensor = Tensors.ZerosLike(like, Nullable dtype)
    /// Ones with the shape, dtype and device of `like`.
    let onesLike (like: torch.Tensor) : torch.Tensor = Tensors.OnesLike(like)
    /// Ones with the shape and device of `like` and the given dtype.
    let onesLikeAs (dtype: torch.ScalarType) (like: torch.Tensor) : torch.Tensor = Tensors.OnesLike(like, Nullable dtype)
    /// A tensor filled with `value`, with the shape, dtype and device of `like`.
    let fullLike (value: float) (like: torch.Tensor) : torch.Tensor = Tensors.FullLike(like, value)
    /// A tensor filled with `value`, with the shape and device of `like` and the given dtype.
    let fullLikeAs (dtype: torch.ScalarType) (value: float) (like: torch.Tensor) : torch.Tensor = Tensors.FullLike(like, value, Nullable dtype)
    /// An uninitialised tensor with the shape, dtype and device of `like`.
    let emptyLike (like: torch.Tensor) : torch.Tensor = Tensors.EmptyLike(like)
    /// An uninitialised tensor with the shape and device of `like` and the given dtype.
    let emptyLikeAs (dtype: torch.ScalarType) (like: torch.Tensor) : torch.Tensor = Tensors.EmptyLike(like, Nullable dtype)
    /// Uniform random numbers in [0, 1) shaped like `like` (which must be floating-point; else use randLikeAs).
    let randLike (generator: torch.Generator) (like: torch.Tensor) : torch.Tensor = Tensors.RandLike(like, generator)
    /// Uniform random numbers in [0, 1) shaped like `like`, of the given floating dtype.
    let randLikeAs (dtype: torch.ScalarType) (generator: torch.Generator) (like: torch.Tensor) : torch.Tensor = Tensors.RandLike(like, generator, Nullable dtype)
    /// Standard normal random numbers shaped like `like` (which must be floating-point; else use randnLikeAs).
    let randnLike (generator: torch.Generator) (like: torch.Tensor) : torch.Tensor = Tensors.RandnLike(like, generator)
    /// Standard normal random numbers shaped like `like`, of the given floating dtype.
    let randnLikeAs (dtype: torch.ScalarType) (generator: torch.Generator) (like: torch.Tensor) : torch.Tensor = Tensors.RandnLike(like, generator, Nullable dtype)

    // ---- host memory --------------------------------------------------------------------------

    /// A CPU tensor over the array itself (no copy): writes through either are seen by the other.
    let share<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> System.ValueType> (array: 'T[]) : torch.Tensor = Tensors.Share<'T>(array)

    /// A CPU tensor of the given shape over the array itself (no copy).
    let shareAs<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> System.ValueType> (shape: int list) (array: 'T[]) : torch.Tensor = Tensors.Share<'T>(array, dims shape)

    /// A span over a contiguous CPU tensor's own memory (no copy), PyTorch's `t.numpy()`; valid while the tensor lives.
    let asSpan<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> System.ValueType> (t: torch.Tensor) : Span<'T> = Tensors.AsSpan<'T>(t)

    /// Copies the elements (row-major, converted to 'T) into the array. C#'s `t.CopyTo(span)` takes a Span.
    let copyTo<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> System.ValueType> (destination: 'T[]) (t: torch.Tensor) : unit = Tensors.CopyTo<'T>(t, destination)

    /// A new array with a copy of the elements in row-major order, converted to 'T.
    let toArray<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> System.ValueType> (t: torch.Tensor) : 'T[] = Tensors.ToArray<'T>(t)

    /// A 1-D tensor with a copy of a MathNet vector (float32 or float64).
    let ofVector (v: MathNet.Numerics.LinearAlgebra.Vector<'T>) : torch.Tensor = MathNetInterop.ToTensor(v)

    /// A 2-D tensor with a copy of a MathNet matrix (float32 or float64).
    let ofMatrix (m: MathNet.Numerics.LinearAlgebra.Matrix<'T>) : torch.Tensor = MathNetInterop.ToTensor(m)

    /// A tensor over a dense MathNet vector's storage (no copy).
    let shareVector (v: MathNet.Numerics.LinearAlgebra.Vector<'T>) : torch.Tensor = MathNetInterop.AsTensor(v)

    /// A tensor over a dense MathNet matrix's storage (no copy; a transposed, non-contiguous view).
    let shareMatrix (m: MathNet.Numerics.LinearAlgebra.Matrix<'T>) : torch.Tensor = MathNetInterop.AsTensor(m)

    /// A new MathNet vector with a copy of the elements.
    let toVector<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> ValueType and 'T :> IEquatable<'T> and 'T :> IFormattable> (t: torch.Tensor) =
        MathNetInterop.ToVector<'T>(t)

    /// A new MathNet matrix with a copy of a 2-D tensor.
    let toMatrix<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> ValueType and 'T :> IEquatable<'T> and 'T :> IFormattable> (t: torch.Tensor) =
        MathNetInterop.ToMatrix<'T>(t)

    // ---- values -------------------------------------------------------------------------------

    /// The value of a one-element tensor as 'T: float or float32 for floating dtypes; int, int64 (or
    /// float) for integer dtypes; bool for bool. Another 'T is an error that names the dtype.
    let item<'T> (t: torch.Tensor) : 'T =
        if t.numel() <> 1L then
            invalidArg (nameof t) (String.Format("item needs a tensor with one element, but the shape is {0}. Index or reduce it first (t.[0], Tensor.sum).", shapeText t.shape))
        let target = typeof<'T>
        let fail (right: string) =
            invalidArg (nameof t) (String.Format("item<{0}> does not fit a tensor of dtype {1}: use item<{2}>.", target.Name, Tensors.DTypeName t.dtype, right))
        use detached = t.detach()
        use cpu = detached.cpu()
        let value : obj =
            if t.dtype = torch.ScalarType.Bool then
                if target = typeof<bool> then box (cpu.item<bool>()) else fail "bool"
            elif Tensors.IsFloatingPoint t.dtype then
                use d = cpu.``to``(torch.ScalarType.Float64)
                let v = d.item<float>()
                if target = typeof<float> then box v
                elif target = typeof<float32> then box (float32 v)
                else fail "float"
            else
                use l = cpu.``to``(torch.ScalarType.Int64)
                let v = l.item<int64>()
                if target = typeof<int64> then box v
                elif target = typeof<int> then box (Checked.int32 v)
                elif target = typeof<float> then box (float v)
                elif target = typeof<int16> then box (Checked.int16 v)
                elif target = typeof<byte> then box (Checked.byte v)
                else fail "int64"
        unbox<'T> value

    /// The value of a one-element floating tensor as a float, PyTorch's `t.item()`.
    let toFloat (t: torch.Tensor) : float = item<float> t

    // ---- shape operations ---------------------------------------------------------------------

    /// A view (or copy when needed) with a new shape; one size may be -1.
    let reshape (shape: int list) (t: torch.Tensor) : torch.Tensor =
        try t.reshape(dims shape)
        with :? ExternalException as e ->
            invalidArg (nameof shape) (String.Format("reshape: cannot view shape {0} ({1} elements) as {2}: {3}", shapeText t.shape, t.numel(), shapeText (dims shape), e.Message.Split('\n').[0]))

    /// Concatenates tensors along an existing dimension: shapes must agree except in `dim`.
    let cat (dim: int) (tensors: torch.Tensor seq) : torch.Tensor =
        let ts = Array.ofSeq tensors
        if ts.Length = 0 then invalidArg (nameof tensors) "cat needs at least one tensor."
        let first = ts.[0].shape
        let rank = first.Length
        if dim < -rank || dim >= max rank 1 then
            invalidArg (nameof dim) (String.Format("cat: dim {0} is out of range for tensors of shape {1}.", dim, shapeText first))
        let d = if dim < 0 then dim + rank else dim
        ts |> Array.iteri (fun i t ->
            let s = t.shape
            if s.Length <> rank || Seq.exists (fun k -> k <> d && s.[k] <> first.[k]) (seq { 0 .. rank - 1 }) then
                invalidArg (nameof tensors) (String.Format("cat along dim {0}: tensor {1} has shape {2} but tensor 0 has shape {3}; all sizes except dim {0} must match.", dim, i, shapeText s, shapeText first)))
        torch.cat(ts, int64 d)

    /// Stacks tensors of the same shape along a new dimension.
    let stack (dim: int) (tensors: torch.Tensor seq) : torch.Tensor =
        let ts = Array.ofSeq tensors
        if ts.Length = 0 then invalidArg (nameof tensors) "stack needs at least one tensor."
        let first = ts.[0].shape
        if dim < -(first.Length + 1) || dim > first.Length then
            invalidArg (nameof dim) (String.Format("stack: dim {0} is out of range for tensors of shape {1}.", dim, shapeText first))
        ts |> Array.iteri (fun i t ->
            if t.shape <> first then
                invalidArg (nameof tensors) (String.Format("stack: tensor {0} has shape {1} but tensor 0 has shape {2}; stacked tensors must have the same shape.", i, shapeText t.shape, shapeText first)))
        torch.stack(ts, int64 dim)

    /// Swaps two dimensions.
    let transpose (dim0: int) (dim1: int) (t: torch.Tensor) : torch.Tensor = t.transpose(int64 dim0, int64 dim1)

    // ---- arithmetic ---------------------------------------------------------------------------

    /// The matrix product `a @ b` (PyTorch's matmul, with its broadcasting), shapes checked first
    /// (TorchSharp's own matmul aborts the process on a shape error). Note the argument order
    /// when piping: `a |> Tensor.matmul b` is b @ a.
    let matmul (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = Tensors.MatMul(a, b)

    /// Element-wise a + b with broadcasting.
    let add (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = elementwise "add" (fun x y -> x.add(y)) b a
    /// Element-wise a - b with broadcasting.
    let sub (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = elementwise "sub" (fun x y -> x.sub(y)) b a
    /// Element-wise a * b with broadcasting.
    let mul (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = elementwise "mul" (fun x y -> x.mul(y)) b a
    /// Element-wise a / b with broadcasting.
    let div (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = elementwise "div" (fun x y -> x.div(y)) b a
    /// Element-wise a ** b with broadcasting.
    let pow (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor = elementwise "pow" (fun x y -> x.pow(y)) b a

    /// Element-wise -x.
    let neg (t: torch.Tensor) : torch.Tensor = t.neg()
    /// Element-wise e^x.
    let exp (t: torch.Tensor) : torch.Tensor = t.exp()
    /// Element-wise natural logarithm.
    let log (t: torch.Tensor) : torch.Tensor = t.log()
    /// Element-wise sine.
    let sin (t: torch.Tensor) : torch.Tensor = t.sin()
    /// Element-wise cosine.
    let cos (t: torch.Tensor) : torch.Tensor = t.cos()
    /// Element-wise hyperbolic tangent.
    let tanh (t: torch.Tensor) : torch.Tensor = t.tanh()
    /// Element-wise logistic sigmoid.
    let sigmoid (t: torch.Tensor) : torch.Tensor = t.sigmoid()
    /// Element-wise max(x, 0).
    let relu (t: torch.Tensor) : torch.Tensor = t.relu()
    /// Element-wise square root.
    let sqrt (t: torch.Tensor) : torch.Tensor = t.sqrt()
    /// Element-wise x².
    let square (t: torch.Tensor) : torch.Tensor = t.square()
    /// Element-wise |x|.
    let abs (t: torch.Tensor) : torch.Tensor = t.abs()
    /// Element-wise log(1 + e^x), a smooth relu.
    let softplus (t: torch.Tensor) : torch.Tensor = torch.nn.functional.softplus(t)
    /// Softmax along a dimension.
    let softmax (dim: int) (t: torch.Tensor) : torch.Tensor = torch.nn.functional.softmax(t, int64 dim)
    /// Log-softmax along a dimension.
    let logSoftmax (dim: int) (t: torch.Tensor) : torch.Tensor = torch.nn.functional.log_softmax(t, int64 dim)
    /// The sum of all elements (a scalar tensor).
    let sum (t: torch.Tensor) : torch.Tensor = t.sum()
    /// The sums along a dimension (which is removed).
    let sumDim (dim: int) (t: torch.Tensor) : torch.Tensor = t.sum(int64 dim)
    /// The mean of all elements (a scalar tensor).
    let mean (t: torch.Tensor) : torch.Tensor = t.mean()
    /// The inner product of two vectors.
    let dot (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor =
        if a.shape <> b.shape || a.dim() <> 1L then
            invalidArg "b" (String.Format("dot needs two vectors of the same length, got shapes {0} and {1}.", shapeText a.shape, shapeText b.shape))
        a.dot(b)

    // ---- in place -----------------------------------------------------------------------------

    /// Adds a value to every element in place, PyTorch's `t.add_(value)`.
    /// (Its scalars are made here and disposed after the call, which keeps them alive through it: TorchSharp's own
    /// temporaries, as in `t.add_(scalar)`, can be freed by a finalizer while LibTorch reads them.)
    let addInPlace (value: float) (t: torch.Tensor) : unit =
        use s = value.ToScalar()
        use alpha = (1.0).ToScalar()
        t.add_(s, alpha) |> ignore
    /// Multiplies every element by a value in place, PyTorch's `t.mul_(value)`.
    let mulInPlace (value: float) (t: torch.Tensor) : unit =
        use s = value.ToScalar()
        t.mul_(s) |> ignore
    /// Sets every element to a value in place, PyTorch's `t.fill_(value)`.
    let fillInPlace (value: float) (t: torch.Tensor) : unit =
        use s = value.ToScalar()
        t.fill_(s) |> ignore
    /// Copies `source` into `t` in place (broadcasting `source`), PyTorch's `t.copy_(source)`.
    let copyInPlace (source: torch.Tensor) (t: torch.Tensor) : unit =
        if not (Tensors.BroadcastsTo(source.shape, t.shape)) then
            invalidArg (nameof source) (String.Format("copyInPlace: a source of shape {0} cannot be broadcast to {1}.", shapeText source.shape, shapeText t.shape))
        t.copy_(source) |> ignore

    // ---- autograd -----------------------------------------------------------------------------

    /// Sets whether autograd records operations on the tensor, PyTorch's `t.requires_grad_(value)`; returns it.
    let setRequiresGrad (value: bool) (t: torch.Tensor) : torch.Tensor = t.requires_grad_(value)

    /// A tensor sharing the data but cut from the graph, PyTorch's `t.detach()`.
    let detach (t: torch.Tensor) : torch.Tensor = t.detach()

    /// Backward from a scalar; the graph is freed, so a second backward fails (see backwardRetain).
    let backward (t: torch.Tensor) : unit = Autograd.Backward(t, false)

    /// Backward from a non-scalar with an explicit output gradient (the vector of a vector-Jacobian
    /// product), PyTorch's `t.backward(gradient, retain_graph=retainGraph)`.
    let backwardWith (gradient: torch.Tensor) (retainGraph: bool) (t: torch.Tensor) : unit = Autograd.Backward(t, gradient, retainGraph)

    /// Backward from a scalar keeping the graph, PyTorch's `t.backward(retain_graph=True)`.
    let backwardRetain (t: torch.Tensor) : unit = Autograd.Backward(t, true)

    /// The accumulated gradient of a leaf, or None before any backward reached it. Each call returns a
    /// new handle (TorchSharp's `t.grad` does): dispose it when done; the leaf keeps its gradient.
    let grad (t: torch.Tensor) : torch.Tensor option = Option.ofObj t.grad

    /// Zeros the `.grad` of each tensor in place (before the next backward, as gradients accumulate).
    let zeroGrad (tensors: torch.Tensor seq) : unit = Autograd.ZeroGrad(Array.ofSeq tensors)

    /// Whether the tensor was produced by a recorded operation (PyTorch: `t.grad_fn is not None`).
    /// The node's name (`AddBackward0`) is not reachable through TorchSharp 0.107.
    let hasGradFn (t: torch.Tensor) : bool = Autograd.HasGradFn t

    /// Whether autograd records operations on this tensor, PyTorch's `t.requires_grad`.
    let requiresGrad (t: torch.Tensor) : bool = t.requires_grad
