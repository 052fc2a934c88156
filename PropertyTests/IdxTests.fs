module Functional.PropertyTests.IdxTests

open System
open System.IO
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
open Functional.Data





/// Small IDX arrays: 1 to 3 dimensions of 0..6, random bytes, gzipped or not.
let private arrays =
    gen {
        let! rank = Gen.choose (1, 3)
        let! dims = Gen.arrayOfLength rank (Gen.choose (0, 6))
        let count = dims |> Array.fold (*) 1
        let! data = Gen.arrayOfLength count (Gen.choose (0, 255) |> Gen.map byte)
        let! gzip = Gen.elements [ true; false ]
        return IdxArray(dims, data), gzip
    }
    |> Arb.fromGen

/// The bytes of an IDX file written by hand from the format's definition (the oracle for the writer).
let private byHand (dims: int[]) (data: byte[]) =
    [| yield 0uy; yield 0uy; yield 8uy; yield byte dims.Length
       for d in dims do yield! [| byte (d >>> 24); byte (d >>> 16); byte (d >>> 8); byte d |]
       yield! data |]

[<Property(MaxTest = 60)>]
let ``IDX write then read gives back the dimensions and values`` () =
    Prop.forAll arrays (fun (array, gzip) ->
        let bytes = Idx.Encode(array, gzip)
        let back = Idx.Parse(bytes, "generated.idx")
        back.Dimensions = array.Dimensions && back.Data = array.Data)

[<Property(MaxTest = 60)>]
let ``the plain encoding is the IDX format byte for byte`` () =
    Prop.forAll arrays (fun (array, _) -> Idx.Encode(array, false) = byHand array.Dimensions array.Data)

[<Test>]
let ``Write and Read go through a file, gzipped by extension`` () =
    let dir = tempFolder "idx"
    let array = IdxArray([| 2; 3 |], [| 1uy .. 6uy |])
    Idx.Write(Path.Combine(dir, "a-idx2-ubyte.gz"), array)
    Idx.Write(Path.Combine(dir, "a-idx2-ubyte"), array)
    let gz = File.ReadAllBytes(Path.Combine(dir, "a-idx2-ubyte.gz"))
    Assert.That((gz[0], gz[1]), equalTo((0x1fuy, 0x8buy)))
    for name in [ "a-idx2-ubyte.gz"; "a-idx2-ubyte" ] do
        let back = Idx.Read(Path.Combine(dir, name))
        Assert.That(back.Dimensions, equalTo([| 2; 3 |]))
        Assert.That(back.Data, equalTo([| 1uy .. 6uy |]))

/// A non-empty array (so that its files have data to damage).
let private nonEmpty =
    gen {
        let! dims = Gen.arrayOfLength 2 (Gen.choose (1, 6))
        let! data = Gen.arrayOfLength (dims[0] * dims[1]) (Gen.choose (0, 255) |> Gen.map byte)
        return IdxArray(dims, data)
    }

let private raises name (bytes: byte[]) =
    try
        Idx.Parse(bytes, name) |> ignore
        false
    with :? InvalidDataException as e -> e.Message.Contains name && e.Message.Contains "byte offset"

[<Property(MaxTest = 80)>]
let ``a truncated file always raises InvalidDataException naming the file and offset`` () =
    let cases =
        gen {
            let! array = nonEmpty
            let! gzip = Gen.elements [ true; false ]
            let bytes = Idx.Encode(array, gzip)
            let! cut = Gen.choose (0, bytes.Length - 1)
            return bytes[.. cut - 1]
        }
    Prop.forAll (Arb.fromGen cases) (raises "cut.idx")

[<Property(MaxTest = 80)>]
let ``a flipped byte in a plain header always raises`` () =
    let cases =
        gen {
            let! array = nonEmpty
            let bytes = Idx.Encode(array, false)
            let! at = Gen.choose (0, 4 + 4 * array.Dimensions.Length - 1)
            let! mask = Gen.choose (1, 255)
            let damaged = Array.copy bytes
            damaged[at] <- damaged[at] ^^^ byte mask
            return damaged
        }
    Prop.forAll (Arb.fromGen cases) (raises "flipped.idx")

[<Property(MaxTest = 80)>]
let ``a flipped byte in a gzip file's stream or trailer raises naming the file and offset, or changes nothing`` () =
    // Bytes 3..9 of a gzip header (flags, time, extra flags, OS) are not covered by any checksum.
    // Inside the deflate stream a flip almost always breaks the stream or the CRC-32; the rare flip
    // of a padding bit after the final block decodes to the very same data, which is then returned.
    let cases =
        gen {
            let! array = nonEmpty
            let bytes = Idx.Encode(array, true)
            let! at = Gen.oneof [ Gen.choose (0, 2); Gen.choose (10, bytes.Length - 1) ]
            let! mask = Gen.choose (1, 255)
            let damaged = Array.copy bytes
            damaged[at] <- damaged[at] ^^^ byte mask
            return array, damaged
        }
    Prop.forAll (Arb.fromGen cases) (fun (original: IdxArray, bytes) ->
        try
            let back = Idx.Parse(bytes, "flipped.gz")
            back.Dimensions = original.Dimensions && back.Data = original.Data
        with :? InvalidDataException as e -> e.Message.Contains "flipped.gz" && e.Message.Contains "byte offset")

[<Test>]
let ``wrong magic number, type and extra bytes name what was expected`` () =
    let check (bytes: byte[]) (expected: string) =
        let e = throws<InvalidDataException>(fun () -> Idx.Parse(bytes, "bad.idx") |> ignore)
        Assert.That(e.Message, Does.Contain "bad.idx")
        Assert.That(e.Message, Does.Contain expected)
    check [| 1uy; 0uy; 8uy; 1uy; 0uy; 0uy; 0uy; 0uy |] "wrong magic number at byte offset 0"
    check [| 0uy; 0uy; 0x0Duy; 1uy; 0uy; 0uy; 0uy; 0uy |] "expected 0x08"
    check (Array.append (byHand [| 2 |] [| 7uy; 8uy |]) [| 9uy |]) "unexpected bytes after byte offset 10"
    check (byHand [| 3 |] [| 7uy; 8uy |]) "need 11 bytes"

[<Test>]
let ``a missing file raises FileNotFoundException`` () =
    throws<FileNotFoundException>(fun () -> Idx.Read(Path.Combine(tempFolder "idx", "none.gz")) |> ignore) |> ignore

/// gzip bytes of `data` as one member.
let private gzipMember (data: byte[]) =
    use output = new MemoryStream()
    (use z = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, true)
     z.Write(data, 0, data.Length))
    output.ToArray()

[<Property(MaxTest = 40)>]
let ``a multi-member gzip file, cat a.gz b.gz, reads as the concatenation, as gzip does`` () =
    Prop.forAll (Arb.fromGen (Gen.zip nonEmpty (Gen.choose (1, 4)))) (fun (array: IdxArray, members) ->
        let plain = Idx.Encode(array, false)
        // Split the plain bytes into `members` pieces (some may be empty) and gzip each on its own.
        let cuts = [ 0 ] @ [ for k in 1 .. members - 1 -> plain.Length * k / members ] @ [ plain.Length ]
        let bytes = cuts |> List.pairwise |> List.map (fun (a, b) -> gzipMember plain[a .. b - 1]) |> Array.concat
        let back = Idx.Parse(bytes, "cat.gz")
        back.Dimensions = array.Dimensions && back.Data = array.Data)

[<Test>]
let ``a damaged CRC in either member of a two-member gzip file, a cut or trailing bytes name the file`` () =
    let array = IdxArray([| 3; 4 |], Array.init 12 byte)
    let plain = Idx.Encode(array, false)
    let first, second = gzipMember plain[.. 9], gzipMember plain[10 ..]
    let check (bytes: byte[]) =
        let e = throws<InvalidDataException> (fun () -> Idx.Parse(bytes, "/data/two.gz") |> ignore)
        Assert.That(e.Message, Does.StartWith "/data/two.gz: ")
        Assert.That(e.Message, Does.Contain "byte offset")
        e.Message
    let flip at (bytes: byte[]) = let copy = Array.copy bytes in copy[at] <- copy[at] ^^^ 1uy; copy
    Assert.That(check (Array.append (flip (first.Length - 8) first) second), Does.Contain "CRC-32")
    Assert.That(check (Array.append first (flip (second.Length - 8) second)), Does.Contain "CRC-32")
    check (Array.append first second[.. second.Length - 3]) |> ignore
    check (Array.concat [ first; second; [| 0uy; 0uy |] ]) |> ignore
