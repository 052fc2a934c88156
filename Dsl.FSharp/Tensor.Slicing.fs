namespace Functional.FSharp

open System
open TorchSharp
open Functional

/// How F# slicing syntax maps onto PyTorch indexing.
/// - `t[i]`, `t[i, j]`: TorchSharp's own indexers (an index removes its dimension).
/// - `t[a..b]`: F# ranges are INCLUSIVE, so `t[0..1]` is PyTorch's `t[0:2]`; `t[a..]`, `t[..b]`, `t[*]` as in F#.
/// - A negative index or bound counts from the end, as in PyTorch: `t[*, -1]` is the last column.
/// - Mixed forms such as `t[*, 0]` or `t[1.., 2]` work up to four dimensions; setters take a tensor
///   (broadcast) or a number: `t[*, 1] <- 0`.
/// - F#'s `^` from-the-end syntax needs `--langversion:preview`, so the last column is `t[*, -1]`.
/// (The helpers behind the slicing members of `TensorSlicing`; internal.)
[<RequireQualifiedAccess>]
module internal Slicing =
    let private resolve (size: int64) (i: int) =
        let r = if i < 0 then int64 i + size else int64 i
        r

    /// The PyTorch index of an F# index.
    let index (t: torch.Tensor) (dim: int) (i: int) : torch.TensorIndex =
        let size = t.shape.[dim]
        let r = resolve size i
        if r < 0L || r >= size then
            raise (IndexOutOfRangeException(String.Format("Index {0} is out of range for dimension {1} of size {2} (shape [{3}]).", i, dim, size, String.Join(", ", t.shape))))
        torch.TensorIndex.Single r

    /// The PyTorch slice of an inclusive F# range.
    let range (t: torch.Tensor) (dim: int) (lo: int option) (hi: int option) : torch.TensorIndex =
        let size = t.shape.[dim]
        let start = lo |> Option.map (resolve size >> max 0L >> min size) |> Option.defaultValue 0L
        let stop = hi |> Option.map (fun h -> resolve size h + 1L |> max 0L |> min size) |> Option.defaultValue size
        torch.TensorIndex.Slice(Nullable start, Nullable (max start stop))

    let internal check (t: torch.Tensor) (rank: int) =
        if int (t.dim()) < rank then
            raise (IndexOutOfRangeException(String.Format("{0} indices were given for a tensor of shape [{1}].", rank, String.Join(", ", t.shape))))

    /// Reads a slice.
    let get (t: torch.Tensor) (indices: torch.TensorIndex[]) : torch.Tensor = t.index(indices)

    /// Writes a tensor (broadcast) into a slice.
    let set (t: torch.Tensor) (indices: torch.TensorIndex[]) (value: torch.Tensor) : unit =
        use view = t.index(indices)
        let vs, ts = (value: torch.Tensor).shape, view.shape
        if not (Functional.Tensors.BroadcastsTo(vs, ts)) then
            invalidArg (nameof value) (String.Format("A value of shape {0} cannot be written into a slice of shape {1}: it must broadcast to the slice.", Functional.Tensors.ShapeText vs, Functional.Tensors.ShapeText ts))
        view.copy_(value) |> ignore

    /// Writes a number into every element of a slice.
    let fill (t: torch.Tensor) (indices: torch.TensorIndex[]) (value: float) : unit =
        use view = t.index(indices)
        view.fill_(value.ToScalar()) |> ignore

    /// Writes a tensor (broadcast) or a number (int, float, bool, ...) into a slice.
    let assign (t: torch.Tensor) (indices: torch.TensorIndex[]) (value: obj) : unit =
        match value with
        | :? torch.Tensor as v -> set t indices v
        | :? bool as b -> fill t indices (if b then 1.0 else 0.0)
        | :? IConvertible as c when (match c.GetTypeCode() with TypeCode.String | TypeCode.Char | TypeCode.DateTime | TypeCode.Empty | TypeCode.DBNull | TypeCode.Object -> false | _ -> true) ->
            fill t indices (c.ToDouble(Globalization.CultureInfo.InvariantCulture))
        | null -> invalidArg (nameof value) "Cannot write null into a tensor slice: pass a tensor or a number."
        | other -> invalidArg (nameof value) (String.Format("Cannot write a {0} into a tensor slice: pass a tensor or a number.", other.GetType().Name))

/// F# slicing members on torch.Tensor, with PyTorch's meaning:
/// - `t[i]`, `t[i, j]`: TorchSharp's own indexers (an index removes its dimension).
/// - `t[a..b]`: F# ranges are INCLUSIVE, so `t[0..1]` is PyTorch's `t[0:2]`; `t[a..]`, `t[..b]`, `t[*]` as in F#.
/// - A negative index or bound counts from the end, as in PyTorch: `t[*, -1]` is the last column.
/// - Mixed forms such as `t[*, 0]` or `t[1.., 2]` work up to four dimensions; setters take a tensor
///   (broadcast) or a number: `t[*, 1] <- 0`.
/// - F#'s `^` from-the-end syntax needs `--langversion:preview`, so the last column is `t[*, -1]`.
[<AutoOpen>]
module TensorSlicing =
    type torch.Tensor with
        /// t[a..b]
        member t.GetSlice(i0a: int option, i0b: int option) = Slicing.check t 1; Slicing.get t [| Slicing.range t 0 i0a i0b |]
        /// t[a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, value: obj) = Slicing.check t 1; Slicing.assign t [| Slicing.range t 0 i0a i0b |] value
        /// t[i, a..b]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option) = Slicing.check t 2; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b |]
        /// t[i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, value: obj) = Slicing.check t 2; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b |] value
        /// t[a..b, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int) = Slicing.check t 2; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1 |]
        /// t[a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, value: obj) = Slicing.check t 2; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1 |] value
        /// t[a..b, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option) = Slicing.check t 2; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b |]
        /// t[a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, value: obj) = Slicing.check t 2; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b |] value
        /// t[i, i, a..b]
        member t.GetSlice(i0: int, i1: int, i2a: int option, i2b: int option) = Slicing.check t 3; Slicing.get t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b |]
        /// t[i, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, i2a: int option, i2b: int option, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b |] value
        /// t[i, a..b, i]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2: int) = Slicing.check t 3; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2 |]
        /// t[i, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2: int, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2 |] value
        /// t[i, a..b, a..b]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option) = Slicing.check t 3; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b |]
        /// t[i, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b |] value
        /// t[a..b, i, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2: int) = Slicing.check t 3; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2 |]
        /// t[a..b, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2: int, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2 |] value
        /// t[a..b, i, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option) = Slicing.check t 3; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b |]
        /// t[a..b, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b |] value
        /// t[a..b, a..b, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int) = Slicing.check t 3; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2 |]
        /// t[a..b, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2 |] value
        /// t[a..b, a..b, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option) = Slicing.check t 3; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b |]
        /// t[a..b, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, value: obj) = Slicing.check t 3; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b |] value
        /// t[i, i, i, a..b]
        member t.GetSlice(i0: int, i1: int, i2: int, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |]
        /// t[i, i, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |] value
        /// t[i, i, a..b, i]
        member t.GetSlice(i0: int, i1: int, i2a: int option, i2b: int option, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |]
        /// t[i, i, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |] value
        /// t[i, i, a..b, a..b]
        member t.GetSlice(i0: int, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |]
        /// t[i, i, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |] value
        /// t[i, a..b, i, i]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2: int, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.index t 3 i3 |]
        /// t[i, a..b, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2: int, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.index t 3 i3 |] value
        /// t[i, a..b, i, a..b]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |]
        /// t[i, a..b, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |] value
        /// t[i, a..b, a..b, i]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |]
        /// t[i, a..b, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |] value
        /// t[i, a..b, a..b, a..b]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |]
        /// t[i, a..b, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.index t 0 i0; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |] value
        /// t[a..b, i, i, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2: int, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.index t 3 i3 |]
        /// t[a..b, i, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2: int, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.index t 3 i3 |] value
        /// t[a..b, i, i, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2: int, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |]
        /// t[a..b, i, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |] value
        /// t[a..b, i, a..b, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |]
        /// t[a..b, i, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |] value
        /// t[a..b, i, a..b, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |]
        /// t[a..b, i, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.index t 1 i1; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |] value
        /// t[a..b, a..b, i, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.index t 3 i3 |]
        /// t[a..b, a..b, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.index t 3 i3 |] value
        /// t[a..b, a..b, i, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |]
        /// t[a..b, a..b, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.index t 2 i2; Slicing.range t 3 i3a i3b |] value
        /// t[a..b, a..b, a..b, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |]
        /// t[a..b, a..b, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.index t 3 i3 |] value
        /// t[a..b, a..b, a..b, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.check t 4; Slicing.get t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |]
        /// t[a..b, a..b, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.check t 4; Slicing.assign t [| Slicing.range t 0 i0a i0b; Slicing.range t 1 i1a i1b; Slicing.range t 2 i2a i2b; Slicing.range t 3 i3a i3b |] value
