/// ImageFile.Read against TorchVision's read_image: the channels of each PNG colour type and of JPEG in each
/// mode, the luma formulas, and the size bound that refuses damaged headers and decompression bombs.
module Functional.PropertyTests.ImageFileTests

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open System.Runtime.InteropServices
open NUnit.Framework
open SkiaSharp
open Functional
open Functional.Data

/// A PNG chunk: length, type, data and the CRC-32 of type and data (the internal Crc32 of the IDX reader).
let private chunk (out: Stream) (kind: string) (data: byte[]) =
    let word (v: uint32) = let b = Array.zeroCreate 4 in BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(), v); out.Write(b, 0, 4)
    word (uint32 data.Length)
    let typed = Array.append (Text.Encoding.ASCII.GetBytes kind) data
    out.Write(typed, 0, typed.Length)
    word (Crc32.Compute(ReadOnlySpan<byte>(typed)))

/// A PNG written byte by byte (SkiaSharp cannot write gray + alpha, palettes or 16 bits): the IHDR as given,
/// optional PLTE and tRNS, and the rows (each a filter byte 0 and the samples) deflated by `rows` into one IDAT.
let private png (width: uint32) (height: uint32) (depth: int) (colourType: int) (plte: byte[] option) (trns: byte[] option) (rows: Stream -> unit) =
    use out = new MemoryStream()
    out.Write([| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy |], 0, 8)
    let ihdr = Array.zeroCreate 13
    BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(0), width)
    BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height)
    ihdr[8] <- byte depth
    ihdr[9] <- byte colourType
    chunk out "IHDR" ihdr
    plte |> Option.iter (chunk out "PLTE")
    trns |> Option.iter (chunk out "tRNS")
    use deflated = new MemoryStream()
    (use z = new ZLibStream(deflated, CompressionLevel.SmallestSize, true)
     rows z)
    chunk out "IDAT" (deflated.ToArray())
    chunk out "IEND" [||]
    out.ToArray()

/// A small PNG of the given rows of samples (each row without its filter byte).
let private smallPng width height depth colourType plte trns (samples: byte[][]) =
    png width height depth colourType plte trns (fun z -> for row in samples do z.WriteByte 0uy; z.Write(row, 0, row.Length))

let private write (bytes: byte[]) =
    let path = Path.Combine(tempFolder "imagefile", "image.png")
    File.WriteAllBytes(path, bytes)
    path

/// Reads a file in a mode: channels and the pixels channel by channel.
let private read mode path =
    let image = ImageFile.Read(path, mode)
    image.Channels, image.Pixels

// libpng's rgb_to_gray, as TorchVision's decode_png calls it (png_set_rgb_to_gray(png, 1, 0.2989, 0.587)):
// coefficients 9794, 19234 and 32768 - 9794 - 19234 = 3740 over 2^15, truncated (libpng 1.6, pngrtran.c,
// png_set_rgb_to_gray_fixed and png_do_rgb_to_gray). Pure red, green and blue therefore give these values:
let private pngGrayOfRed, pngGrayOfGreen, pngGrayOfBlue = 76uy, 149uy, 29uy

[<Test>]
let ``a gray + alpha PNG is 2 channels unchanged, as read_image gives, and converts in every mode`` () =
    // 2 x 1: (gray 10, alpha 200), (gray 250, alpha 0).
    let path = write (smallPng 2u 1u 8 4 None None [| [| 10uy; 200uy; 250uy; 0uy |] |])
    Assert.That(read ImageReadMode.Unchanged path, equalTo (2, [| 10uy; 250uy; 200uy; 0uy |]))
    Assert.That(read ImageReadMode.Gray path, equalTo (1, [| 10uy; 250uy |]))
    Assert.That(read ImageReadMode.GrayAlpha path, equalTo (2, [| 10uy; 250uy; 200uy; 0uy |]))
    Assert.That(read ImageReadMode.Rgb path, equalTo (3, [| 10uy; 250uy; 10uy; 250uy; 10uy; 250uy |]))
    Assert.That(read ImageReadMode.RgbAlpha path, equalTo (4, [| 10uy; 250uy; 10uy; 250uy; 10uy; 250uy; 200uy; 0uy |]))
    Native.EnsureLoaded()
    use t = ImageFile.ReadTensor(path)
    Assert.That(t.shape, equalTo [| 2L; 1L; 2L |])

[<Test>]
let ``RGB and RGBA PNGs: gray is libpng's luma, alpha is dropped or 255 where there is none`` () =
    let rgb = write (smallPng 3u 1u 8 2 None None [| [| 255uy; 0uy; 0uy; 0uy; 255uy; 0uy; 0uy; 0uy; 255uy |] |])
    Assert.That(read ImageReadMode.Unchanged rgb, equalTo (3, [| 255uy; 0uy; 0uy; 0uy; 255uy; 0uy; 0uy; 0uy; 255uy |]))
    Assert.That(read ImageReadMode.Gray rgb, equalTo (1, [| pngGrayOfRed; pngGrayOfGreen; pngGrayOfBlue |]))
    Assert.That(read ImageReadMode.GrayAlpha rgb, equalTo (2, [| pngGrayOfRed; pngGrayOfGreen; pngGrayOfBlue; 255uy; 255uy; 255uy |]))
    let rgba = write (smallPng 2u 1u 8 6 None None [| [| 255uy; 0uy; 0uy; 7uy; 9uy; 9uy; 9uy; 255uy |] |])
    Assert.That(read ImageReadMode.Unchanged rgba, equalTo (4, [| 255uy; 9uy; 0uy; 9uy; 0uy; 9uy; 7uy; 255uy |]))
    Assert.That(read ImageReadMode.Gray rgba, equalTo (1, [| pngGrayOfRed; 9uy |]))
    Assert.That(read ImageReadMode.Rgb rgba, equalTo (3, [| 255uy; 9uy; 0uy; 9uy; 0uy; 9uy |]))

[<Test>]
let ``a palette PNG is its indices unchanged, as read_image gives, and its colours with tRNS alpha otherwise`` () =
    // Palette: 0 = (1, 2, 3) with alpha 128, 1 = (255, 0, 0), 2 = (0, 0, 255); 3 x 1 pixels 2, 0, 1.
    let palette = [| 1uy; 2uy; 3uy; 255uy; 0uy; 0uy; 0uy; 0uy; 255uy |]
    let path = write (smallPng 3u 1u 8 3 (Some palette) (Some [| 128uy |]) [| [| 2uy; 0uy; 1uy |] |])
    Assert.That(read ImageReadMode.Unchanged path, equalTo (1, [| 2uy; 0uy; 1uy |]))
    Assert.That(read ImageReadMode.Rgb path, equalTo (3, [| 0uy; 1uy; 255uy; 0uy; 2uy; 0uy; 255uy; 3uy; 0uy |]))
    Assert.That(read ImageReadMode.RgbAlpha path, equalTo (4, [| 0uy; 1uy; 255uy; 0uy; 2uy; 0uy; 255uy; 3uy; 0uy; 255uy; 128uy; 255uy |]))
    // (1, 2, 3): (9794 + 2 * 19234 + 3 * 3740) >> 15 = 1.
    Assert.That(read ImageReadMode.Gray path, equalTo (1, [| pngGrayOfBlue; 1uy; pngGrayOfRed |]))
    // Indices of a 4-bit palette image, two pixels to a byte.
    let packed = write (smallPng 3u 1u 4 3 (Some palette) None [| [| 0x20uy; 0x10uy |] |])
    Assert.That(read ImageReadMode.Unchanged packed, equalTo (1, [| 2uy; 0uy; 1uy |]))

[<Test>]
let ``a gray PNG's tRNS is ignored, as libpng does for read_image: alpha is 255`` () =
    let path = write (smallPng 2u 1u 8 0 None (Some [| 0uy; 10uy |]) [| [| 10uy; 20uy |] |])
    Assert.That(read ImageReadMode.Unchanged path, equalTo (1, [| 10uy; 20uy |]))
    Assert.That(read ImageReadMode.GrayAlpha path, equalTo (2, [| 10uy; 20uy; 255uy; 255uy |]))
    Assert.That(read ImageReadMode.RgbAlpha path, equalTo (4, [| 10uy; 20uy; 10uy; 20uy; 10uy; 20uy; 255uy; 255uy |]))

[<Test>]
let ``a 16-bit PNG gives its high bytes: read_image's uint16 after to_dtype(uint8, scale=True), a shift by 8`` () =
    let rgb = write (smallPng 1u 1u 16 2 None None [| [| 0x12uy; 0x34uy; 0x56uy; 0x78uy; 0x9auy; 0xbcuy |] |])
    Assert.That(read ImageReadMode.Unchanged rgb, equalTo (3, [| 0x12uy; 0x56uy; 0x9auy |]))
    let gray = write (smallPng 2u 1u 16 0 None None [| [| 0xffuy; 0x01uy; 0x01uy; 0xffuy |] |])
    Assert.That(read ImageReadMode.Unchanged gray, equalTo (1, [| 0xffuy; 0x01uy |]))
    let grayAlpha = write (smallPng 1u 1u 16 4 None None [| [| 0x40uy; 0x00uy; 0x80uy; 0xffuy |] |])
    Assert.That(read ImageReadMode.Unchanged grayAlpha, equalTo (2, [| 0x40uy; 0x80uy |]))

[<Test>]
let ``a colour JPEG in Gray mode is the BT.601 luma, within JPEG's loss`` () =
    let path = Path.Combine(tempFolder "imagefile", "flat.jpg")
    let info = SKImageInfo(8, 8, SKColorType.Rgba8888, SKAlphaType.Opaque)
    use bitmap = new SKBitmap(info)
    let pixels = Array.init 64 (fun _ -> [| 200uy; 40uy; 120uy; 255uy |]) |> Array.concat
    Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length)
    (use data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100)
     File.WriteAllBytes(path, data.ToArray()))
    let channels, gray = read ImageReadMode.Gray path
    Assert.That(channels, equalTo 1)
    // 0.299 * 200 + 0.587 * 40 + 0.114 * 120 = 96.96
    Assert.That(gray |> Array.forall (fun v -> abs (int v - 97) <= 2), Is.True, sprintf "%A" gray)
    Assert.That(fst (read ImageReadMode.Unchanged path), equalTo 3)
    Assert.That(fst (read ImageReadMode.GrayAlpha path), equalTo 2)

/// The one-line error of a refused size, with the file, the size, the bound and the fix.
let private assertRefused (path: string) (size: string) =
    let e = throws<InvalidDataException> (fun () -> ImageFile.Read path |> ignore)
    Assert.That(e.Message, Does.StartWith(path + ":"))
    Assert.That(e.Message, Does.Contain(size))
    Assert.That(e.Message, Does.Contain(string ImageFile.MaxPixels).And.Contain("ImageFile.MaxPixels"))
    Assert.That(e.Message, Does.Not.Contain("\n"))

[<Test>]
let ``a forged header of 50000 x 50000 or 2^32 - 1 squared is refused in one line before anything is allocated`` () =
    // A real small PNG whose IHDR (with a correct CRC) claims the size: one row of data follows.
    let forged = write (smallPng 50000u 50000u 8 0 None None [| Array.zeroCreate 16 |])
    let before = GC.GetAllocatedBytesForCurrentThread()
    assertRefused forged "50000 x 50000"
    Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1_000_000L), "refused from the header")
    assertRefused (write (smallPng UInt32.MaxValue UInt32.MaxValue 8 6 None None [| Array.zeroCreate 16 |])) "4294967295 x 4294967295"

[<Test>]
let ``a decompression bomb, a small file of a huge all-zero image, is refused in one line`` () =
    // 16500 x 16500 gray pixels (272 million, above the default 2^28): 272 MB deflated into a file of a few hundred KB.
    let side = 16500
    let row = Array.zeroCreate (side + 1)
    let bytes = png (uint32 side) (uint32 side) 8 0 None None (fun z -> for _ in 1 .. side do z.Write(row, 0, row.Length))
    Assert.That(bytes.Length, Is.LessThan(1_000_000), "a bomb: the file is small")
    let path = write bytes
    let before = GC.GetAllocatedBytesForCurrentThread()
    assertRefused path "16500 x 16500 = 272250000 pixels"
    Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(10L * int64 bytes.Length), "nothing decoded")

[<Test>]
let ``MaxPixels bounds every image and takes 1 to 500 million`` () =
    let path = write (smallPng 4u 3u 8 0 None None (Array.init 3 (fun _ -> Array.zeroCreate 4)))
    Assert.That(fst (read ImageReadMode.Unchanged path), equalTo 1)
    let saved = ImageFile.MaxPixels
    try
        ImageFile.MaxPixels <- 11L
        assertRefused path "4 x 3 = 12 pixels"
    finally
        ImageFile.MaxPixels <- saved
    Assert.That(ImageFile.MaxPixels, equalTo ImageFile.DefaultMaxPixels)
    throws<ArgumentOutOfRangeException> (fun () -> ImageFile.MaxPixels <- 0L) |> ignore
    throws<ArgumentOutOfRangeException> (fun () -> ImageFile.MaxPixels <- 500_000_001L) |> ignore
