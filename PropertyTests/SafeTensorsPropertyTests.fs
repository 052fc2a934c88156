/// Corrupted safetensors files: whatever happens to the bytes, reading gives either a clean load or the
/// documented InvalidDataException that names the source; never another exception, a crash, a hang or a
/// huge allocation.
module Functional.PropertyTests.SafeTensorsPropertyTests

open System.Collections.Generic
open System.IO
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open TorchSharp
open Functional
open Functional.Serialization

let private dtypes =
    [| torch.ScalarType.Float64; torch.ScalarType.Float32; torch.ScalarType.Float16; torch.ScalarType.BFloat16
       torch.ScalarType.Int64; torch.ScalarType.Int32; torch.ScalarType.Int16; torch.ScalarType.Int8
       torch.ScalarType.Byte; torch.ScalarType.Bool |]

/// A small valid file: tensors of random dtypes and shapes (zero-size and scalars included), random metadata.
type FileSpec =
    { Tensors: (int * int list) list   // dtype index, shape
      Metadata: (string * string) list
      Seed: int }

let private fileSpec =
    gen {
        let! count = Gen.choose (1, 4)
        let! tensors =
            Gen.listOfLength count (Gen.zip (Gen.choose (0, dtypes.Length - 1)) (Gen.choose (0, 3) |> Gen.bind (fun rank -> Gen.listOfLength rank (Gen.choose (0, 4)))))
        let! metadata = Gen.listOf (Gen.zip (Gen.elements [ "format"; "epoch"; "note"; "spec" ]) (Gen.elements [ "pt"; "7"; "{\"a\":1}"; "" ])) |> Gen.map (List.distinctBy fst)
        let! seed = Gen.choose (0, 1_000_000)
        return { Tensors = tensors; Metadata = metadata; Seed = seed }
    }

let private bytesOf (spec: FileSpec) =
    Native.EnsureLoaded()
    use _scope = torch.NewDisposeScope()
    use g = new torch.Generator(uint64 spec.Seed)
    let tensors = Dictionary<string, torch.Tensor>()
    spec.Tensors
    |> List.iteri (fun i (d, shape) ->
        let r = torch.randn(shape |> List.map int64 |> Array.ofList, generator = g).mul(TorchSharp.Scalar.op_Implicit 50.0f)
        tensors.[sprintf "layer%d.weight" i] <- (if dtypes.[d] = torch.ScalarType.Bool then r.gt(TorchSharp.Scalar.op_Implicit 0.0f) else r.to_type dtypes.[d]))
    let metadata = Dictionary<string, string>()
    for k, v in spec.Metadata do metadata.[k] <- v
    use stream = new MemoryStream()
    SafeTensors.Write(stream, tensors, metadata)
    stream.ToArray()

type private Outcome =
    | Loaded of rewritten: byte[]
    | Rejected of message: string

/// Reads the bytes; a clean load is written back, to compare. Any exception other than InvalidDataException escapes
/// and fails the property.
let private read (bytes: byte[]) =
    use stream = new MemoryStream(bytes, false)
    try
        use content = SafeTensors.Read(stream, sourceName = "corrupt.safetensors")
        use out = new MemoryStream()
        SafeTensors.Write(out, content.Tensors, content.Metadata)
        Loaded(out.ToArray())
    with :? InvalidDataException as e -> Rejected e.Message

let private namesTheSource (message: string) = message.StartsWith "corrupt.safetensors: "

[<Property(MaxTest = 150)>]
let ``a valid file loads and writes back byte for byte`` () =
    Prop.forAll (Arb.fromGen fileSpec) (fun spec ->
        let bytes = bytesOf spec
        match read bytes with
        | Loaded rewritten -> rewritten = bytes
        | Rejected _ -> false)

[<Property(MaxTest = 150)>]
let ``a truncated file is always rejected with the documented exception`` () =
    let case = gen {
        let! spec = fileSpec
        let! cut = Gen.choose (0, System.Int32.MaxValue)
        return spec, cut }
    Prop.forAll (Arb.fromGen case) (fun (spec, cut) ->
        let bytes = bytesOf spec
        let truncated = bytes.[.. (cut % bytes.Length) - 1]
        match read truncated with
        | Rejected message -> namesTheSource message
        | Loaded _ -> false)

/// Flips bytes (XOR with a non-zero mask) at random positions.
[<Property(MaxTest = 300)>]
let ``byte flips give a clean load or the documented exception`` () =
    let case = gen {
        let! spec = fileSpec
        let! flips = Gen.listOfLength 3 (Gen.zip (Gen.choose (0, System.Int32.MaxValue)) (Gen.choose (1, 255))) |> Gen.bind (fun all -> Gen.choose (1, 3) |> Gen.map (fun k -> List.take k all))
        return spec, flips }
    Prop.forAll (Arb.fromGen case) (fun (spec, flips) ->
        let bytes = bytesOf spec
        let corrupted = Array.copy bytes
        let positions = flips |> List.map (fun (p, mask) -> let at = p % bytes.Length in corrupted.[at] <- corrupted.[at] ^^^ byte mask; at)
        use original = new MemoryStream(bytes, false)
        let header = SafeTensors.ReadHeader original
        let isNumericData at =
            header.Entries |> Seq.exists (fun e ->
                e.DType <> torch.ScalarType.Bool && int64 at >= header.DataStart + e.Begin && int64 at < header.DataStart + e.End)
        let dataOnly = positions |> List.forall isNumericData
        match read corrupted with
        // Flips inside the data of non-BOOL tensors cannot be detected (safetensors has no checksum): the file must
        // load, and hold exactly the flipped bytes.
        | Loaded rewritten when dataOnly -> rewritten = corrupted
        | Rejected _ when dataOnly -> false
        // Anywhere else a flip may still leave a valid file (a changed name, a metadata character): either outcome.
        | Loaded _ -> true
        | Rejected message -> namesTheSource message)

[<Property(MaxTest = 200)>]
let ``arbitrary bytes give a clean load or the documented exception`` (bytes: byte[]) =
    // Also behind a valid length prefix and a '{', so that the JSON parser is reached, not just the first checks.
    let header = Array.append [| byte '{' |] bytes
    let withLength = Array.append (System.BitConverter.GetBytes(uint64 header.Length)) header
    [ bytes; withLength ]
    |> List.forall (fun b ->
        match read b with
        | Loaded _ -> true
        | Rejected message -> namesTheSource message)
