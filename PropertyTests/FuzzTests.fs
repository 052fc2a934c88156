/// The fuzz suite (issue 13): damaged and hostile IDX, PNG, JPEG, CSV, safetensors, `.pt`, model files (their JSON
/// spec and input shape) and command lines, each run through the real reader, against the contract of
/// FuzzHarness: a correct result or a clear refusal naming the input, within a time and memory bound.
/// More than 10,000 inputs a run; the counts and times are printed ("fuzz: ...").
module Functional.PropertyTests.FuzzTests

open System
open System.Buffers.Binary
open System.Collections.Generic
open System.IO
open System.IO.Compression
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open TorchSharp
open Functional
open Functional.Data
open Functional.Layers
open Functional.Serialization
open Functional.PropertyTests.FuzzHarness

let private isInvalidData (e: exn) = e :? InvalidDataException

let private randomBytes (length: int) = Gen.arrayOfLength length (Gen.choose (0, 255) |> Gen.map byte)

// ------------------------------------------------------------------ IDX

let private gzip (bytes: byte[]) =
    use output = new MemoryStream()
    (use z = new GZipStream(output, CompressionLevel.Fastest, leaveOpen = true)
     z.Write(bytes, 0, bytes.Length))
    output.ToArray()

/// A valid IDX file: 1 to 3 dimensions of 0 to 6, plain, gzipped, or gzipped in two members.
let private validIdx =
    gen {
        let! rank = Gen.choose (1, 3)
        let! dims = Gen.arrayOfLength rank (Gen.choose (0, 6))
        let! data = randomBytes (Array.fold (*) 1 dims)
        let plain = Idx.Encode(IdxArray(dims, data), false)
        let! packing = Gen.elements [ "plain"; "gzip"; "two members" ]
        let bytes =
            match packing with
            | "plain" -> plain
            | "gzip" -> gzip plain
            | _ -> let half = plain.Length / 2 in Array.append (gzip plain[.. half - 1]) (gzip plain[half..])
        return bytes, $"{packing} {Shapes.Text(dims)}"
    }

/// A hostile IDX header: any type code and rank, dimensions from the hostile values, a little data.
let private hostileIdx =
    gen {
        let! kind = Gen.elements [ 0x08uy; 0x08uy; 0x09uy; 0x0Buy; 0x0Duy; 0xFFuy ]
        let! rank = Gen.frequency [ 4, Gen.choose (1, 4); 1, Gen.elements [ 0; 255 ] ]
        let! dims = Gen.arrayOfLength rank (Gen.frequency [ 3, Gen.choose (0, 8) |> Gen.map int64; 2, Gen.elements hostileInts ])
        let! tail = Gen.choose (0, 64) |> Gen.bind randomBytes
        let header = Array.zeroCreate<byte> (4 + 4 * rank)
        header[2] <- kind
        header[3] <- byte rank
        for i in 0 .. rank - 1 do BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), int32 dims[i])
        let bytes = Array.append header tail
        let! wrap = Gen.elements [ false; false; true ]
        return (if wrap then gzip bytes else bytes), $"hostile header type 0x{kind:x2} rank {rank} dims {String.Join(',', dims)}"
    }

/// A gzip bomb: a valid header for 2 x 2 values, then 256 MiB of zeros, about 256 KB compressed (made once).
let private idxBomb =
    lazy
        (use output = new MemoryStream()
         do
             use z = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen = true)
             z.Write([| 0uy; 0uy; 8uy; 2uy; 0uy; 0uy; 0uy; 2uy; 0uy; 0uy; 0uy; 2uy |], 0, 12)
             let zeros = Array.zeroCreate<byte> (1 <<< 20)
             for _ in 1 .. 256 do z.Write(zeros, 0, zeros.Length)
         output.ToArray())

let private idxCases =
    Gen.frequency [
        1, Gen.constant () |> Gen.map (fun () -> idxBomb.Value, "gzip bomb: 2 x 2 declared, 256 MiB inflated")
        1, validIdx
        4, validIdx |> Gen.bind (fun (b, note) -> mutated b |> Gen.map (fun (m, n) -> m, note + ": " + n))
        2, hostileIdx
        1, hostileIdx |> Gen.bind (fun (b, note) -> mutated b |> Gen.map (fun (m, n) -> m, note + ": " + n))
    ]

[<Test>]
let ``fuzz IDX: damaged and hostile files are read correctly or refused naming the file`` () =
    let tally = Tally("IDX", seed)
    for bytes, note in sample 1UL 2500 idxCases do
        tally.Check(bytes, note, "fuzz.idx: ", isInvalidData, fun () ->
            let array = Idx.Parse(bytes, "fuzz.idx")
            if int64 array.Data.Length <> (array.Dimensions |> Array.fold (fun a d -> a * int64 d) 1L) then
                failwith "the values do not fill the dimensions"
            Accepted(int64 array.Data.Length))
    report tally

// ------------------------------------------------------------------ PNG and JPEG

/// Small valid images written by the library itself: 1 to 4 channels, 1 to 9 pixels a side.
let private imageSeeds (scratch: Scratch) (extension: string) =
    let random = Random(int (seed % 1000003UL))
    [| for channels in 1 .. 4 do
        for size in [ 1; 3; 9 ] do
            let w, h = size, max 1 (size - 1 + channels % 2)
            let pixels = Array.init (channels * w * h) (fun _ -> byte (random.Next 256))
            let path = Path.Combine(scratch.Folder, $"seed-{channels}-{w}x{h}{extension}")
            ImageFile.Write(path, DecodedImage(pixels, channels, h, w), 90)
            yield File.ReadAllBytes path |] 

/// The chunks of a PNG: (type, data), or None when the framing is broken.
let private pngChunks (bytes: byte[]) =
    let rec go at acc =
        if at + 12 > bytes.Length then List.rev acc
        else
            let length = int (BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan(bytes, at, 4)))
            if length < 0 || at + 12 + length > bytes.Length then List.rev acc
            else go (at + 12 + length) ((Encoding.ASCII.GetString(bytes, at + 4, 4), bytes[at + 8 .. at + 7 + length]) :: acc)
    go 8 []

/// A PNG made of chunks, each with a correct CRC (so that a decoder reads on instead of stopping at the CRC).
let private pngOf (chunks: (string * byte[]) list) =
    use output = new MemoryStream()
    output.Write([| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy |], 0, 8)
    for kind, data in chunks do
        let typed = Array.append (Encoding.ASCII.GetBytes kind) data
        let length = Array.zeroCreate<byte> 4
        BinaryPrimitives.WriteUInt32BigEndian(length.AsSpan(), uint32 data.Length)
        output.Write(length, 0, 4)
        output.Write(typed, 0, typed.Length)
        let crc = Array.zeroCreate<byte> 4
        BinaryPrimitives.WriteUInt32BigEndian(crc.AsSpan(), Functional.Data.Crc32.Compute(ReadOnlySpan typed))
        output.Write(crc, 0, 4)
    output.ToArray()

let private zlibOf (size: int) =
    use output = new MemoryStream()
    do
        use z = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen = true)
        z.Write(Array.zeroCreate<byte> size, 0, size)
    output.ToArray()

/// A structural mutation of a PNG with the CRCs kept right: hostile sizes, depths and colour types in IHDR, a damaged
/// or inflated IDAT, a palette, chunks removed or repeated.
let private pngMutation (bytes: byte[]) : Gen<byte[] * string> =
    let chunks = pngChunks bytes
    let withChunk (kind: string) (f: byte[] -> byte[]) = chunks |> List.map (fun (k, d) -> if k = kind then k, f d else k, d)
    Gen.oneof [
        gen {
            let! w = Gen.frequency [ 3, Gen.elements hostileInts; 1, Gen.choose (1, 100000) |> Gen.map int64 ]
            let! h = Gen.frequency [ 3, Gen.elements hostileInts; 1, Gen.choose (1, 100000) |> Gen.map int64 ]
            let set (d: byte[]) = let c = Array.copy d in BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(), uint32 w); BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan 4, uint32 h); c
            return pngOf (withChunk "IHDR" set), $"IHDR {w} x {h}"
        }
        gen {
            let! depth = Gen.elements [ 0uy; 1uy; 2uy; 4uy; 8uy; 16uy; 3uy; 255uy ]
            let! colour = Gen.elements [ 0uy; 2uy; 3uy; 4uy; 6uy; 1uy; 7uy; 255uy ]
            let! interlace = Gen.elements [ 0uy; 1uy; 2uy ]
            let set (d: byte[]) = let c = Array.copy d in c[8] <- depth; c[9] <- colour; c[12] <- interlace; c
            return pngOf (withChunk "IHDR" set), $"IHDR depth {depth} colour {colour} interlace {interlace}"
        }
        gen {
            // A tiny IDAT that inflates to far more than any image: a decompression bomb.
            let! size = Gen.elements [ 1 <<< 16; 1 <<< 20; 1 <<< 23 ]
            let zlib = zlibOf size
            let! w = Gen.elements [ 64L; 4096L; 16384L ]
            let set (d: byte[]) = let c = Array.copy d in BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(), uint32 w); BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan 4, uint32 w); c
            let body = chunks |> List.filter (fun (k, _) -> k <> "IDAT") |> List.map (fun (k, d) -> if k = "IHDR" then k, set d else k, d)
            let idat = "IDAT", zlib
            return pngOf (List.take 1 body @ [ idat ] @ List.skip 1 body), $"IDAT of {zlib.Length} bytes inflating to {size}, IHDR {w} x {w}"
        }
        gen {
            let! mutation = chunks |> List.tryFind (fun (k, _) -> k = "IDAT") |> Option.map (snd >> mutated) |> Option.defaultValue (Gen.constant ([||], "none"))
            let data, note = mutation
            return pngOf (withChunk "IDAT" (fun _ -> data)), $"IDAT {note}"
        }
        gen {
            let! entries = Gen.elements [ 0; 1; 2; 255; 256; 300 ]
            let! trns = Gen.elements [ 0; 1; 300 ]
            let set (d: byte[]) = let c = Array.copy d in c[8] <- 8uy; c[9] <- 3uy; c
            let palette = [ "PLTE", Array.init (3 * entries) byte; "tRNS", Array.init trns byte ]
            let body = withChunk "IHDR" set
            return pngOf (List.take 1 body @ palette @ List.skip 1 body), $"palette of {entries}, tRNS of {trns}"
        }
        gen {
            let! which = Gen.elements [ "IHDR"; "IDAT"; "IEND" ]
            let! repeat = Gen.elements [ true; false ]
            let body = if repeat then chunks |> List.collect (fun (k, d) -> if k = which then [ k, d; k, d ] else [ k, d ]) else chunks |> List.filter (fun (k, _) -> k <> which)
            return pngOf body, (if repeat then $"{which} twice" else $"no {which}")
        }
    ]

/// The JPEG markers' segments start after 0xFF <marker> <16-bit length>: a mutation of one segment's bytes, a SOF's
/// sizes or component count, or the entropy-coded data.
let private jpegMutation (bytes: byte[]) : Gen<byte[] * string> =
    let sof = [ 0 .. bytes.Length - 10 ] |> List.tryFind (fun i -> bytes[i] = 0xFFuy && (bytes[i + 1] = 0xC0uy || bytes[i + 1] = 0xC2uy))
    Gen.oneof [
        gen {
            match sof with
            | Some at ->
                let! h = Gen.elements (hostileInts @ [ 1L; 8L; 4096L; 8192L; 16384L; 65500L ])
                let! w = Gen.elements (hostileInts @ [ 1L; 8L; 4096L; 8192L; 16384L; 65500L ])
                return writeInt (writeInt bytes (at + 5) 2 true h) (at + 7) 2 true w, $"SOF {w} x {h}"
            | None -> return bytes, "no SOF"
        }
        gen {
            match sof with
            | Some at ->
                let! components = Gen.elements [ 0uy; 1uy; 2uy; 3uy; 4uy; 255uy ]
                let! sampling = Gen.elements [ 0x11uy; 0x22uy; 0x44uy; 0x00uy; 0xFFuy; 0x41uy ]
                let copy = Array.copy bytes
                copy[at + 9] <- components
                if at + 11 < copy.Length then copy[at + 11] <- sampling
                return copy, $"SOF components {components} sampling 0x{sampling:x2}"
            | None -> return bytes, "no SOF"
        }
        gen {
            // Mostly the middle of the file, where the tables and the scan are.
            let! start = Gen.choose (2, max 2 (bytes.Length - 2))
            let! mutation = mutated bytes[start..]
            let tail, note = mutation
            return Array.append bytes[.. start - 1] tail, $"from {start}: {note}"
        }
    ]

let private imageCases (seeds: byte[][]) (structural: byte[] -> Gen<byte[] * string>) =
    let seedGen = Gen.elements seeds
    Gen.frequency [
        1, seedGen |> Gen.map (fun b -> b, "valid")
        4, seedGen |> Gen.bind structural
        3, seedGen |> Gen.bind mutated
        1, seedGen |> Gen.bind structural |> Gen.bind (fun (b, n) -> mutated b |> Gen.map (fun (m, n2) -> m, n + "; " + n2))
    ]

let private fuzzImages (format: string) (extension: string) (salt: uint64) (count: int) (structural: byte[] -> Gen<byte[] * string>) =
    use scratch = new Scratch("fuzz-" + format)
    let seeds = imageSeeds scratch extension
    let tally = Tally(format, seed)
    let modes = [| ImageReadMode.Unchanged; ImageReadMode.Gray; ImageReadMode.GrayAlpha; ImageReadMode.Rgb; ImageReadMode.RgbAlpha |]
    for i, (bytes, note) in sample salt count (imageCases seeds structural) |> Array.indexed do
        let path = scratch.File("case", extension, bytes)
        let mode = modes[i % modes.Length]
        tally.Check(bytes, $"{note}, {mode}", path + ": ", isInvalidData, fun () ->
            let image = ImageFile.Read(path, mode)
            if image.Pixels.LongLength <> int64 image.Channels * int64 image.Height * int64 image.Width || image.Channels < 1 || image.Channels > 4 then
                failwith $"a decoded image of {image.Channels} x {image.Height} x {image.Width} with {image.Pixels.Length} values"
            Accepted image.Pixels.LongLength)
        File.Delete path
    report tally

[<Test>]
let ``fuzz PNG: damaged and hostile images decode or are refused naming the file`` () =
    fuzzImages "PNG" ".png" 2UL 1500 pngMutation

[<Test>]
let ``fuzz JPEG: damaged and hostile images decode or are refused naming the file`` () =
    fuzzImages "JPEG" ".jpg" 3UL 1000 jpegMutation

// ------------------------------------------------------------------ CSV image datasets

let private csvCell =
    Gen.frequency [
        30, Gen.elements [ "img0.png"; "img1.png"; "img2.png" ]
        1, Gen.elements [ "bad.png"; "missing.png"; ""; " "; "../img0.png"; "/etc/passwd"; "img0.png\u0000"; "im\u001bg.png"; "\u202eimg.png"
                          "\"img0.png\""; "\"img,0.png\""; "\"unterminated"; "a\"b"; String('x', 300); "img0.png "; "\ufeffimg0.png" ]
    ]

let private csvLabel =
    Gen.frequency [
        30, Gen.choose (0, 9) |> Gen.map string
        1, Gen.elements [ "-1"; "10"; "NaN"; "1e3"; " 3 "; "+4"; "9223372036854775807"; "9223372036854775808"; "-9223372036854775808"
                          "0x1"; "\u0661"; ""; "3.0"; "label"; "\"5\""; "5\u0000"; "１" ]
    ]

let private csvLine =
    Gen.frequency [
        30, Gen.map2 (fun f l -> f + "," + l) csvCell csvLabel
        1, Gen.map3 (fun f l x -> f + "," + l + "," + x) csvCell csvLabel csvLabel
        1, Gen.elements [ ""; ","; "img0.png"; ",,"; "\"a\nb\",1"; "img0.png;1"; "img0.png\t1" ]
    ]

let private csvCases =
    gen {
        let! header = Gen.elements [ Some "file,label"; Some "image,class"; None ]
        let! lines = Gen.frequency [ 1, Gen.constant []; 8, Gen.listOf csvLine |> Gen.map (List.truncate 6) ]
        let! ending = Gen.elements [ "\n"; "\r\n"; "\r" ]
        let! bom = Gen.frequency [ 5, Gen.constant ""; 1, Gen.constant "\ufeff" ]
        let! finalNewline = Gen.elements [ true; false ]
        let! hasHeader = Gen.frequency [ 3, Gen.constant header.IsSome; 1, Gen.constant header.IsNone ]
        let! classCount = Gen.elements [ None; Some 10; Some 10; Some 3 ]
        let text = bom + String.Join(ending, (Option.toList header) @ lines) + (if finalNewline then ending else "")
        let bytes = Encoding.UTF8.GetBytes text
        let! damaged = Gen.frequency [ 6, Gen.constant (bytes, ""); 1, mutated bytes ]
        let data, note = damaged
        return data, hasHeader, classCount, $"header {header}, hasHeader {hasHeader}, classes {classCount} {note}"
    }

[<Test>]
let ``fuzz CSV: damaged and hostile annotation files are read strictly or refused naming the file and line`` () =
    use scratch = new Scratch("fuzz-csv")
    let images = Path.Combine(scratch.Folder, "images")
    Directory.CreateDirectory images |> ignore
    for i in 0 .. 2 do ImageFile.Write(Path.Combine(images, $"img{i}.png"), DecodedImage(Array.init 4 byte, 1, 2, 2))
    File.WriteAllBytes(Path.Combine(images, "bad.png"), [| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy; 0uy |])
    let tally = Tally("CSV", seed)
    for bytes, hasHeader, classCount, note in sample 4UL 1500 csvCases do
        let csv = scratch.File("annotations", ".csv", bytes)
        tally.Check(bytes, note, csv, isInvalidData, fun () ->
            let dataset = new ImageFolderCsvDataset(csv, images, hasHeader = hasHeader, classCount = Option.toNullable classCount)
            let mutable size = 0L
            for i in 0 .. dataset.Count - 1 do
                let struct (_, label) = dataset.Entry i
                if label < 0L || (classCount.IsSome && label >= int64 classCount.Value) then failwith $"label {label} accepted"
                let image = dataset.ReadImage i
                size <- size + image.Pixels.LongLength
            Accepted size)
        File.Delete csv
    report tally

// ------------------------------------------------------------------ safetensors

let private safetensorsDtypes = [| "F64"; "F32"; "F16"; "BF16"; "I64"; "I32"; "I16"; "I8"; "U8"; "BOOL" |]

/// A small valid safetensors file.
let private validSafetensors =
    gen {
        let! count = Gen.choose (0, 3)
        let! shapes = Gen.listOfLength count (Gen.choose (0, 3) |> Gen.bind (fun r -> Gen.listOfLength r (Gen.choose (0, 4))))
        let! kinds = Gen.listOfLength count (Gen.choose (0, safetensorsDtypes.Length - 1))
        let! metadata = Gen.elements [ []; [ "format", "pt" ]; [ "note", "x"; "functional.spec", "{}" ] ]
        Native.EnsureLoaded()
        use _scope = torch.NewDisposeScope()
        let types = [| torch.ScalarType.Float64; torch.ScalarType.Float32; torch.ScalarType.Float16; torch.ScalarType.BFloat16; torch.ScalarType.Int64
                       torch.ScalarType.Int32; torch.ScalarType.Int16; torch.ScalarType.Int8; torch.ScalarType.Byte; torch.ScalarType.Bool |]
        let tensors = Dictionary<string, torch.Tensor>()
        List.zip shapes kinds |> List.iteri (fun i (shape, k) ->
            tensors[$"t{i}"] <- torch.ones(shape |> List.map int64 |> Array.ofList, dtype = types[k]))
        let meta = Dictionary<string, string>()
        for k, v in metadata do meta[k] <- v
        use stream = new MemoryStream()
        SafeTensors.Write(stream, tensors, meta)
        return stream.ToArray()
    }

let private hostileJson : Gen<JsonNode> =
    Gen.elements [
        (fun () -> JsonValue.Create 1e308 :> JsonNode); (fun () -> JsonValue.Create -1); (fun () -> JsonValue.Create Int64.MaxValue)
        (fun () -> JsonValue.Create 0); (fun () -> JsonValue.Create 2147483648L); (fun () -> JsonValue.Create 3.5)
        (fun () -> JsonValue.Create "NaN"); (fun () -> JsonValue.Create "x\u0000\u001b[31m"); (fun () -> null)
        (fun () -> JsonValue.Create true); (fun () -> JsonObject()); (fun () -> JsonArray())
        (fun () -> JsonArray(JsonValue.Create 1000000, JsonValue.Create 1000000, JsonValue.Create 1000000))
        (fun () -> JsonArray([| for _ in 1 .. 70 -> JsonValue.Create 1 :> JsonNode |]))
        (fun () -> JsonArray(JsonValue.Create -1, JsonValue.Create 4)); (fun () -> JsonValue.Create 1e-300)
        (fun () -> JsonValue.Create 1000000); (fun () -> JsonValue.Create 16385); (fun () -> JsonValue.Create "same")
    ] |> Gen.map (fun make -> make ())

/// Every value in a JSON tree, with a way to replace it.
let rec private slots (node: JsonNode) : (JsonNode option -> unit) list =
    match node with
    | :? JsonObject as o ->
        [ for KeyValue(k, v) in List.ofSeq o do
            yield (fun (r: JsonNode option) -> match r with Some n -> o[k] <- n | None -> o.Remove k |> ignore)
            if not (isNull v) then yield! slots v ]
    | :? JsonArray as a ->
        [ for i in 0 .. a.Count - 1 do
            let v = a[i]
            yield (fun (r: JsonNode option) -> match r with Some n -> a[i] <- n | None -> a[i] <- null)
            if not (isNull v) then yield! slots v ]
    | _ -> []

/// The JSON with one value replaced by a hostile one (or removed), or a key renamed with control characters.
let private jsonMutation (text: string) : Gen<string * string> =
    gen {
        let root = JsonNode.Parse text
        let places = slots root
        if places.IsEmpty then return text, "no values"
        else
            let! at = Gen.choose (0, places.Length - 1)
            let! replacement = Gen.frequency [ 6, hostileJson |> Gen.map Some; 1, Gen.constant None ]
            places[at] (replacement |> Option.map (fun n -> if isNull n then null else n))
            let shown = replacement |> Option.map (fun n -> if isNull n then "null" else n.ToJsonString()) |> Option.defaultValue "removed"
            return root.ToJsonString(), $"value {at} -> {shown}"
    }

/// A safetensors file whose header JSON has one hostile value; the length prefix is kept right.
let private safetensorsHeaderMutation (bytes: byte[]) =
    gen {
        let length = int (BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(bytes, 0, 8)))
        let header = Encoding.UTF8.GetString(bytes, 8, length)
        let! json, note = jsonMutation header
        let text = Encoding.UTF8.GetBytes json
        let prefix = Array.zeroCreate<byte> 8
        BinaryPrimitives.WriteUInt64LittleEndian(prefix.AsSpan(), uint64 text.Length)
        return Array.concat [ prefix; text; bytes[8 + length ..] ], "header " + note
    }

[<Test>]
let ``fuzz safetensors: damaged and hostile files load or are refused naming the source`` () =
    let cases =
        Gen.frequency [
            1, validSafetensors |> Gen.map (fun b -> b, "valid")
            3, validSafetensors |> Gen.bind mutated
            4, validSafetensors |> Gen.bind safetensorsHeaderMutation
            1, validSafetensors |> Gen.bind safetensorsHeaderMutation |> Gen.bind (fun (b, n) -> mutated b |> Gen.map (fun (m, n2) -> m, n + "; " + n2))
        ]
    let tally = Tally("safetensors", seed)
    for bytes, note in sample 5UL 1500 cases do
        tally.Check(bytes, note, "fuzz.safetensors: ", isInvalidData, fun () ->
            use stream = new MemoryStream(bytes, false)
            use content = SafeTensors.Read(stream, sourceName = "fuzz.safetensors")
            Accepted(content.Tensors.Values |> Seq.sumBy (fun t -> t.NumberOfElements * int64 t.ElementSize)))
    report tally

// ------------------------------------------------------------------ .pt (torch.save)

/// Small state dicts written in torch.save's zip layout by TorchSharp.PyBridge (an independent writer).
let private ptSeeds (scratch: Scratch) =
    Native.EnsureLoaded()
    [| for i in 0 .. 5 do
        use _scope = torch.NewDisposeScope()
        let d = Dictionary<string, torch.Tensor>()
        for k in 0 .. i % 3 do
            d[$"layer{k}.weight"] <- torch.arange(int64 (k + i + 1), dtype = (if i % 2 = 0 then torch.ScalarType.Float32 else torch.ScalarType.Int64))
        let path = Path.Combine(scratch.Folder, $"seed{i}.pt")
        (use file = File.Create path
         TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(file, d))
        yield File.ReadAllBytes path |]

let private zipEntries (bytes: byte[]) =
    use input = new MemoryStream(bytes)
    use archive = new ZipArchive(input, ZipArchiveMode.Read)
    [ for e in archive.Entries ->
        use s = e.Open()
        use m = new MemoryStream()
        s.CopyTo m
        e.FullName, m.ToArray() ]

let private zipOf (entries: (string * byte[]) list) =
    use output = new MemoryStream()
    do
        use zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen = true)
        for name, data in entries do
            let entry = zip.CreateEntry(name, CompressionLevel.NoCompression)
            use s = entry.Open()
            s.Write(data, 0, data.Length)
    output.ToArray()

/// The same state dict in torch.save's legacy layout (PyTorch before 1.6): the magic number, the protocol version and
/// the system information as pickles (written by Razorvine's pickler), the object pickle of the zip layout (its
/// persistent ids are the legacy ones without view metadata), the sorted storage keys, then each storage as an
/// 8-byte element count and its bytes.
let private legacyOf (zip: byte[]) =
    let entries = zipEntries zip
    let dump (value: obj) = (new Razorvine.Pickle.Pickler()).dumps value
    let pickle = entries |> List.find (fun (n, _) -> n.EndsWith "data.pkl") |> snd
    let storages = entries |> List.filter (fun (n, _) -> n.Contains "/data/") |> List.map (fun (n, d) -> n.Substring(n.LastIndexOf '/' + 1), d) |> List.sortBy fst
    let info = Collections.Hashtable()
    info["protocol_version"] <- box 1001
    info["little_endian"] <- box true
    let keys = Collections.ArrayList(storages |> List.map (fst >> box) |> Array.ofList)
    use output = new MemoryStream()
    // The magic number 0x1950a86a20f9469cfc6c as Python pickles it (protocol 2, LONG1 of 10 little-endian bytes).
    let magic = [| 0x80uy; 2uy; 0x8Auy; 10uy; 0x6Cuy; 0xFCuy; 0x9Cuy; 0x46uy; 0xF9uy; 0x20uy; 0x6Auy; 0xA8uy; 0x50uy; 0x19uy; byte '.' |]
    for part in [ magic; dump (box 1001L); dump (box info); pickle; dump (box keys) ] do
        output.Write(part, 0, part.Length)
    for key, data in storages do
        // The element count: the storage's bytes over its element size, read from the pickle's storage type.
        let size = if Encoding.ASCII.GetString(pickle).Contains "LongStorage" then 8L else 4L
        output.Write(BitConverter.GetBytes(int64 data.Length / size), 0, 8)
        output.Write(data, 0, data.Length)
    output.ToArray()

/// The zip with its data.pkl mutated (the archive itself stays valid), so that the unpickler sees the damage.
let private pickleMutation (bytes: byte[]) =
    let entries = zipEntries bytes
    gen {
        let! mutation = entries |> List.find (fun (n, _) -> n.EndsWith "data.pkl") |> snd |> mutated
        let pickle, note = mutation
        return zipOf (entries |> List.map (fun (n, d) -> n, (if n.EndsWith "data.pkl" then pickle else d))), "data.pkl " + note
    }

[<Test>]
let ``fuzz pt: damaged and hostile torch.save files are read or refused naming the file`` () =
    use scratch = new Scratch("fuzz-pt")
    let seeds = ptSeeds scratch
    let legacy = seeds |> Array.map legacyOf
    let cases =
        Gen.frequency [
            1, Gen.elements seeds |> Gen.map (fun b -> b, "valid")
            1, Gen.elements legacy |> Gen.map (fun b -> b, "valid legacy")
            3, Gen.elements seeds |> Gen.bind mutated
            3, Gen.elements legacy |> Gen.bind mutated |> Gen.map (fun (b, n) -> b, "legacy " + n)
            5, Gen.elements seeds |> Gen.bind pickleMutation
        ]
    let tally = Tally("pt", seed)
    // The legacy seeds must read as the zip ones do (the generator is checked before it is used).
    for zip, old in Array.zip seeds legacy do
        let a = scratch.File("zip", ".pt", zip)
        let b = scratch.File("legacy", ".pt", old)
        let x = PyTorchImport.ReadStateDict a
        let y = PyTorchImport.ReadStateDict b
        Assert.That(y.Keys, Is.EquivalentTo x.Keys)
        for KeyValue(k, t) in x do Assert.That(same t y[k], Is.True, k)
        for t in Seq.append x.Values y.Values do t.Dispose()
    for bytes, note in sample 6UL 1500 cases do
        let path = scratch.File("case", ".pt", bytes)
        tally.Check(bytes, note, path + ": ", isInvalidData, fun () ->
            let tensors = PyTorchImport.ReadStateDict path
            try Accepted(tensors.Values |> Seq.sumBy (fun t -> t.NumberOfElements * int64 t.ElementSize))
            finally for t in tensors.Values do t.Dispose())
        File.Delete path
    report tally

// ------------------------------------------------------------------ model files (spec JSON and input shape)

let private modelSeeds (scratch: Scratch) =
    Native.EnsureLoaded()
    let specs =
        [ Layer.Sequential(Layer.Flatten(), Layer.Linear(4L), Layer.ReLU(), Layer.Linear(3L)), [| 1L; 2L; 2L |]
          Layer.Sequential(Layer.Conv2d(2L, 3L, padding = 1L), Layer.BatchNorm2d(), Layer.ReLU(), Layer.MaxPool2d(2L), Layer.Flatten(), Layer.Linear(3L)), [| 1L; 4L; 4L |]
          Layer.Sequential(Layer.Flatten(), Layer.LayerNorm(), Layer.Dropout(0.5), Layer.Linear(2L), Layer.Softmax()), [| 3L |]
          Layer.Sequential(Layer.Unflatten(1L, 1L, 2L, 2L), Layer.AvgPool2d(2L), Layer.Flatten(), Layer.Linear(1L, 2L)), [| 4L |] ]
    [| for spec, shape in specs ->
        let path = Path.Combine(scratch.Folder, "seed.safetensors")
        (use model = spec.Build shape
         ModelFile.Save(path, spec, shape, model))
        File.ReadAllBytes path |]

/// A model file with one hostile value in its spec JSON or its input shape; the weights stay as saved.
let private modelMutation (bytes: byte[]) =
    gen {
        use stream = new MemoryStream(bytes, false)
        use content = SafeTensors.Read(stream)
        let metadata = Dictionary<string, string>(content.Metadata)
        let! key = Gen.frequency [ 4, Gen.constant ModelFile.SpecKey; 1, Gen.constant ModelFile.InputShapeKey ]
        let! mutation = jsonMutation metadata[key]
        let json, note = mutation
        metadata[key] <- json
        use output = new MemoryStream()
        SafeTensors.Write(output, content.Tensors, metadata)
        return output.ToArray(), $"{key}: {note}"
    }

[<Test>]
let ``fuzz model files: hostile specs and input shapes build the model or are refused naming the file`` () =
    use scratch = new Scratch("fuzz-model")
    let seeds = modelSeeds scratch
    let cases =
        Gen.frequency [
            1, Gen.elements seeds |> Gen.map (fun b -> b, "valid")
            6, Gen.elements seeds |> Gen.bind modelMutation
            2, Gen.elements seeds |> Gen.bind modelMutation |> Gen.bind (fun (b, n) -> modelMutation b |> Gen.map (fun (m, n2) -> m, n + "; " + n2))
            1, Gen.elements seeds |> Gen.bind mutated
        ]
    let tally = Tally("model", seed)
    for bytes, note in sample 7UL 1000 cases do
        let path = scratch.File("case", ".safetensors", bytes)
        tally.Check(bytes, note, path + ": ", isInvalidData, fun () ->
            use model = ModelFile.Load path
            Accepted(model.parameters() |> Seq.sumBy (fun p -> p.NumberOfElements * int64 p.ElementSize)))
        File.Delete path
    report tally

// ------------------------------------------------------------------ checkpoints

/// Checkpoints of a small model, as the trainer writes them: weights, an optimizer's state and scalars, a generator,
/// the history and user metadata.
let private checkpointSeeds (scratch: Scratch) =
    Native.EnsureLoaded()
    [| for optimizer in [ Functional.Optim.Optimizers.Sgd(0.1, momentum = 0.9); Functional.Optim.Optimizers.Adam(1e-3) ] ->
        let path = Path.Combine(scratch.Folder, "seed.ckpt")
        let spec = Layer.Sequential(Layer.Flatten(), Layer.Linear(3L))
        use model = spec.Build [| 2L; 2L |]
        let options = Functional.Training.TrainerOptions(Progress = false, Seed = Nullable 1L)
        use trainer = new Functional.Training.Trainer(model, Functional.Training.Losses.CrossEntropy(), optimizer, options)
        use x = torch.randn(8L, 2L, 2L)
        use y = torch.tensor([| 0L; 1L; 2L; 0L; 1L; 2L; 0L; 1L |])
        use data = new TensorDataset(x, y)
        let history = trainer.Fit(DataLoader(data, 4), null, 1)
        Functional.Training.TrainingCheckpoint.Save(path, model, trainer.Optimizer, 1, history)
        File.ReadAllBytes path |]

/// A checkpoint with one hostile value in its JSON record; the tensors stay as saved.
let private checkpointMutation (bytes: byte[]) =
    gen {
        use stream = new MemoryStream(bytes, false)
        use content = SafeTensors.Read(stream)
        let metadata = Dictionary<string, string>(content.Metadata)
        let! key = Gen.elements (List.ofSeq metadata.Keys)
        let! mutation =
            if metadata[key].StartsWith "{" then jsonMutation metadata[key]
            else Gen.elements [ "3"; "-1"; ""; "NaN"; "99999999999999999999"; "checkpoint"; "model"; "\u0000" ] |> Gen.map (fun v -> v, $"'{v}'")
        let value, note = mutation
        metadata[key] <- value
        use output = new MemoryStream()
        SafeTensors.Write(output, content.Tensors, metadata)
        return output.ToArray(), $"{key}: {note}"
    }

[<Test>]
let ``fuzz checkpoints: damaged and hostile checkpoints load or are refused naming the file`` () =
    use scratch = new Scratch("fuzz-checkpoint")
    let seeds = checkpointSeeds scratch
    let cases =
        Gen.frequency [
            1, Gen.elements seeds |> Gen.map (fun b -> b, "valid")
            6, Gen.elements seeds |> Gen.bind checkpointMutation
            2, Gen.elements seeds |> Gen.bind mutated
        ]
    let tally = Tally("checkpoint", seed)
    for bytes, note in sample 9UL 1000 cases do
        let path = scratch.File("case", ".ckpt", bytes)
        tally.Check(bytes, note, path + ": ", isInvalidData, fun () ->
            use checkpoint = Checkpoint.Load path
            let tensors = Seq.concat [ checkpoint.Model.Values; checkpoint.OptimizerState.Values; checkpoint.GeneratorStates.Values ]
            Accepted(tensors |> Seq.sumBy (fun t -> t.NumberOfElements * int64 t.ElementSize)))
        File.Delete path
    report tally
