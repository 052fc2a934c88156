namespace Functional.FSharp

open System
open TorchSharp
open Functional

/// PyTorch's `...` (Ellipsis) and `None` (a new axis) for F# indexing; use the values `ellipsis` and
/// `newAxis` (from `TensorSlicing`): `t[ellipsis, 0]` is PyTorch's `t[..., 0]`, `t[*, newAxis]` is `t[:, None]`.
[<Sealed>]
type IndexMarker internal (index: torch.TensorIndex, isEllipsis: bool) =
    member internal _.Index = index
    member internal _.IsEllipsis = isEllipsis
    /// `...` or `newAxis`.
    override _.ToString() = if isEllipsis then "..." else "newAxis"

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

    /// One position of an F# index: a number, an inclusive range, or a marker (`ellipsis`, `newAxis`).
    type Position =
        | Fixed of int
        | Span of int option * int option
        | Marker of IndexMarker

    /// PyTorch's indices for positions that may hold `ellipsis` (as many full slices as the tensor
    /// needs, at most one) and `newAxis` (a dimension of size 1, consuming none of the tensor's).
    let positions (t: torch.Tensor) (items: Position[]) : torch.TensorIndex[] =
        let ellipses = items |> Array.filter (function Marker m -> m.IsEllipsis | _ -> false) |> Array.length
        if ellipses > 1 then
            invalidArg (nameof items) "An index can hold at most one ellipsis (PyTorch's ...), as in PyTorch."
        let consumed = items |> Array.filter (function Fixed _ | Span _ -> true | Marker _ -> false) |> Array.length
        let rank = int (t.dim())
        if consumed > rank then
            raise (IndexOutOfRangeException(String.Format("{0} indices (besides ellipsis and newAxis) were given for a tensor of shape [{1}].", consumed, String.Join(", ", t.shape))))
        let mutable dim = 0
        [| for item in items do
            match item with
            | Fixed i -> yield index t dim i; dim <- dim + 1
            | Span (lo, hi) -> yield range t dim lo hi; dim <- dim + 1
            | Marker m ->
                yield m.Index
                if m.IsEllipsis then dim <- dim + rank - consumed |]

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
        use s = value.ToScalar()     // disposed after the call, so alive through it (a finalizer could free a temporary mid-call)
        view.fill_(s) |> ignore

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
/// - `ellipsis` and `newAxis` are PyTorch's `...` and `None`: `t[ellipsis, 0]`, `t[*, newAxis]`, `t[newAxis, ellipsis, 0..1]`
///   (up to four positions, numbers and ranges mixed in).
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

        // PyTorch's `...` and `None`: `m` is `ellipsis` or `newAxis` (any mix with numbers and ranges, up to four positions).
        /// t[m], and t[m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0 |])
            and set (m0: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0 |]) value
        /// t[i, m], and t[i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1 |])
            and set (i0: int, m1: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1 |]) value
        /// t[a..b, m]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1 |])
        /// t[a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1 |]) value
        /// t[m, i], and t[m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1 |])
            and set (m0: IndexMarker, i1: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1 |]) value
        /// t[m, a..b]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b) |])
        /// t[m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b) |]) value
        /// t[m, m], and t[m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1 |])
            and set (m0: IndexMarker, m1: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1 |]) value
        /// t[i, i, m], and t[i, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, i1: int, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2 |])
            and set (i0: int, i1: int, m2: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2 |]) value
        /// t[i, a..b, m]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2 |])
        /// t[i, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2 |]) value
        /// t[i, m, i], and t[i, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, i2: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2 |])
            and set (i0: int, m1: IndexMarker, i2: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2 |]) value
        /// t[i, m, a..b]
        member t.GetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b) |])
        /// t[i, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b) |]) value
        /// t[i, m, m], and t[i, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2 |])
            and set (i0: int, m1: IndexMarker, m2: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2 |]) value
        /// t[a..b, i, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2 |])
        /// t[a..b, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2 |]) value
        /// t[a..b, a..b, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2 |])
        /// t[a..b, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2 |]) value
        /// t[a..b, m, i]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2 |])
        /// t[a..b, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2 |]) value
        /// t[a..b, m, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b) |])
        /// t[a..b, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b) |]) value
        /// t[a..b, m, m]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2 |])
        /// t[a..b, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2 |]) value
        /// t[m, i, i], and t[m, i, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, i2: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2 |])
            and set (m0: IndexMarker, i1: int, i2: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2 |]) value
        /// t[m, i, a..b]
        member t.GetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b) |])
        /// t[m, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b) |]) value
        /// t[m, i, m], and t[m, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2 |])
            and set (m0: IndexMarker, i1: int, m2: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2 |]) value
        /// t[m, a..b, i]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2 |])
        /// t[m, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2 |]) value
        /// t[m, a..b, a..b]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b) |])
        /// t[m, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b) |]) value
        /// t[m, a..b, m]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2 |])
        /// t[m, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2 |]) value
        /// t[m, m, i], and t[m, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, i2: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2 |])
            and set (m0: IndexMarker, m1: IndexMarker, i2: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2 |]) value
        /// t[m, m, a..b]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b) |])
        /// t[m, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b) |]) value
        /// t[m, m, m], and t[m, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2 |])
            and set (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2 |]) value
        /// t[i, i, i, m], and t[i, i, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, i1: int, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |])
            and set (i0: int, i1: int, i2: int, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[i, i, a..b, m]
        member t.GetSlice(i0: int, i1: int, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[i, i, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[i, i, m, i], and t[i, i, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, i1: int, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |])
            and set (i0: int, i1: int, m2: IndexMarker, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[i, i, m, a..b]
        member t.GetSlice(i0: int, i1: int, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[i, i, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1: int, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[i, i, m, m], and t[i, i, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, i1: int, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |])
            and set (i0: int, i1: int, m2: IndexMarker, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[i, a..b, i, m]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |])
        /// t[i, a..b, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2: int, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[i, a..b, a..b, m]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[i, a..b, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[i, a..b, m, i]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |])
        /// t[i, a..b, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[i, a..b, m, a..b]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[i, a..b, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[i, a..b, m, m]
        member t.GetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |])
        /// t[i, a..b, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[i, m, i, i], and t[i, m, i, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, i2: int, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |])
            and set (i0: int, m1: IndexMarker, i2: int, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |]) value
        /// t[i, m, i, a..b]
        member t.GetSlice(i0: int, m1: IndexMarker, i2: int, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |])
        /// t[i, m, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |]) value
        /// t[i, m, i, m], and t[i, m, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |])
            and set (i0: int, m1: IndexMarker, i2: int, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[i, m, a..b, i]
        member t.GetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |])
        /// t[i, m, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |]) value
        /// t[i, m, a..b, a..b]
        member t.GetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |])
        /// t[i, m, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |]) value
        /// t[i, m, a..b, m]
        member t.GetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[i, m, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[i, m, m, i], and t[i, m, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |])
            and set (i0: int, m1: IndexMarker, m2: IndexMarker, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[i, m, m, a..b]
        member t.GetSlice(i0: int, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[i, m, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0: int, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[i, m, m, m], and t[i, m, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (i0: int, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |])
            and set (i0: int, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Fixed i0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[a..b, i, i, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |])
        /// t[a..b, i, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2: int, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[a..b, i, a..b, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[a..b, i, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[a..b, i, m, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |])
        /// t[a..b, i, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[a..b, i, m, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[a..b, i, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[a..b, i, m, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |])
        /// t[a..b, i, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1: int, m2: IndexMarker, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[a..b, a..b, i, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |])
        /// t[a..b, a..b, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2: int, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[a..b, a..b, a..b, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[a..b, a..b, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[a..b, a..b, m, i]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |])
        /// t[a..b, a..b, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[a..b, a..b, m, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[a..b, a..b, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[a..b, a..b, m, m]
        member t.GetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |])
        /// t[a..b, a..b, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[a..b, m, i, i]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |])
        /// t[a..b, m, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |]) value
        /// t[a..b, m, i, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |])
        /// t[a..b, m, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |]) value
        /// t[a..b, m, i, m]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |])
        /// t[a..b, m, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2: int, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[a..b, m, a..b, i]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |])
        /// t[a..b, m, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |]) value
        /// t[a..b, m, a..b, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |])
        /// t[a..b, m, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |]) value
        /// t[a..b, m, a..b, m]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[a..b, m, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[a..b, m, m, i]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |])
        /// t[a..b, m, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[a..b, m, m, a..b]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[a..b, m, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[a..b, m, m, m]
        member t.GetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |])
        /// t[a..b, m, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(i0a: int option, i0b: int option, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Span(i0a, i0b); Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[m, i, i, i], and t[m, i, i, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, i2: int, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Fixed i3 |])
            and set (m0: IndexMarker, i1: int, i2: int, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Fixed i3 |]) value
        /// t[m, i, i, a..b]
        member t.GetSlice(m0: IndexMarker, i1: int, i2: int, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |])
        /// t[m, i, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, i, i, m], and t[m, i, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |])
            and set (m0: IndexMarker, i1: int, i2: int, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[m, i, a..b, i]
        member t.GetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |])
        /// t[m, i, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |]) value
        /// t[m, i, a..b, a..b]
        member t.GetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |])
        /// t[m, i, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |]) value
        /// t[m, i, a..b, m]
        member t.GetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[m, i, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[m, i, m, i], and t[m, i, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |])
            and set (m0: IndexMarker, i1: int, m2: IndexMarker, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[m, i, m, a..b]
        member t.GetSlice(m0: IndexMarker, i1: int, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[m, i, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1: int, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, i, m, m], and t[m, i, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, i1: int, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |])
            and set (m0: IndexMarker, i1: int, m2: IndexMarker, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Fixed i1; Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[m, a..b, i, i]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Fixed i3 |])
        /// t[m, a..b, i, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Fixed i3 |]) value
        /// t[m, a..b, i, a..b]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Span(i3a, i3b) |])
        /// t[m, a..b, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, a..b, i, m]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |])
        /// t[m, a..b, i, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2: int, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[m, a..b, a..b, i]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Fixed i3 |])
        /// t[m, a..b, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Fixed i3 |]) value
        /// t[m, a..b, a..b, a..b]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |])
        /// t[m, a..b, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |]) value
        /// t[m, a..b, a..b, m]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[m, a..b, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[m, a..b, m, i]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |])
        /// t[m, a..b, m, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[m, a..b, m, a..b]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[m, a..b, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, a..b, m, m]
        member t.GetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |])
        /// t[m, a..b, m, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, i1a: int option, i1b: int option, m2: IndexMarker, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Span(i1a, i1b); Slicing.Marker m2; Slicing.Marker m3 |]) value
        /// t[m, m, i, i], and t[m, m, i, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, i2: int, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |])
            and set (m0: IndexMarker, m1: IndexMarker, i2: int, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Fixed i3 |]) value
        /// t[m, m, i, a..b]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, i2: int, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |])
        /// t[m, m, i, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, i2: int, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, m, i, m], and t[m, m, i, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, i2: int, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |])
            and set (m0: IndexMarker, m1: IndexMarker, i2: int, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Fixed i2; Slicing.Marker m3 |]) value
        /// t[m, m, a..b, i]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |])
        /// t[m, m, a..b, i] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, i3: int, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Fixed i3 |]) value
        /// t[m, m, a..b, a..b]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |])
        /// t[m, m, a..b, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Span(i3a, i3b) |]) value
        /// t[m, m, a..b, m]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |])
        /// t[m, m, a..b, m] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, i2a: int option, i2b: int option, m3: IndexMarker, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Span(i2a, i2b); Slicing.Marker m3 |]) value
        /// t[m, m, m, i], and t[m, m, m, i] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, i3: int) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |])
            and set (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, i3: int) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Fixed i3 |]) value
        /// t[m, m, m, a..b]
        member t.GetSlice(m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |])
        /// t[m, m, m, a..b] <- value (a tensor, broadcast, or a number)
        member t.SetSlice(m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, i3a: int option, i3b: int option, value: obj) = Slicing.assign t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Span(i3a, i3b) |]) value
        /// t[m, m, m, m], and t[m, m, m, m] <- value (a tensor, broadcast)
        member t.TensorItems
            with get (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker) = Slicing.get t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |])
            and set (m0: IndexMarker, m1: IndexMarker, m2: IndexMarker, m3: IndexMarker) (value: torch.Tensor) = Slicing.set t (Slicing.positions t [| Slicing.Marker m0; Slicing.Marker m1; Slicing.Marker m2; Slicing.Marker m3 |]) value

    /// PyTorch's `...` in an index: as many full slices (`*`) as the tensor has dimensions left; `t[ellipsis, 0]` is `t[..., 0]`.
    let ellipsis = IndexMarker(torch.TensorIndex.Ellipsis, true)

    /// PyTorch's `None` in an index: a new dimension of size 1 there; `t[*, newAxis]` is `t[:, None]` (`t.unsqueeze(1)` for a matrix).
    let newAxis = IndexMarker(torch.TensorIndex.None, false)
