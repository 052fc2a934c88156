module Functional.PropertyTests.ImageDatasetTests

open System
open System.IO
open System.Runtime.InteropServices
open NUnit.Framework
open SkiaSharp
open TorchSharp
open Functional
open Functional.Data
open Functional.Transforms



/// Encodes pixels with SkiaSharp directly: gray (1 byte per pixel) or RGBA (4 bytes per pixel, interleaved).
let private encode (path: string) (width: int) (height: int) (gray: bool) (opaque: bool) (pixels: byte[]) =
    let info =
        if gray then SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque)
        else SKImageInfo(width, height, SKColorType.Rgba8888, (if opaque then SKAlphaType.Opaque else SKAlphaType.Unpremul))
    use bitmap = new SKBitmap(info)
    Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length)
    let format = if path.EndsWith ".png" then SKEncodedImageFormat.Png else SKEncodedImageFormat.Jpeg
    use data = bitmap.Encode(format, 100)
    File.WriteAllBytes(path, data.ToArray())

// 4 x 3 test pictures: a gray ramp, and a colour one whose channels differ (R = 10 * p, G = 200 - 10 * p, B = 7).
let private grayPixels = Array.init 12 (fun p -> byte (p * 20))
let private rgbaPixels = Array.init 12 (fun p -> [| byte (10 * p); byte (200 - 10 * p); 7uy; 255uy |]) |> Array.concat

/// A folder with gray and colour PNG and JPEG files and an annotations CSV (with a header line).
let private makeFolder () =
    let dir = tempFolder "images"
    encode (Path.Combine(dir, "gray.png")) 4 3 true true grayPixels
    encode (Path.Combine(dir, "colour.png")) 4 3 false true rgbaPixels
    encode (Path.Combine(dir, "flat-gray.jpg")) 4 3 true true (Array.create 12 90uy)
    encode (Path.Combine(dir, "flat-colour.jpg")) 4 3 false true (Array.init 12 (fun _ -> [| 200uy; 40uy; 120uy; 255uy |]) |> Array.concat)
    File.WriteAllLines(Path.Combine(dir, "labels.csv"), [ "file,label"; "gray.png,3"; "colour.png, 1"; "flat-gray.jpg,0"; "\"flat-colour.jpg\",7" ])
    dir

let private bytesOf (t: torch.Tensor) = t.data<byte>().ToArray()

[<Test>]
let ``PNG and JPEG, gray and colour, become uint8 [C, H, W] with their labels`` () =
    let dir = makeFolder ()
    let data = ImageFolderCsvDataset(Path.Combine(dir, "labels.csv"), dir)
    Assert.That(data.Count, equalTo 4)
    use gray = data[0]
    Assert.That(gray.Features.shape, equalTo [| 1L; 3L; 4L |])
    Assert.That(gray.Features.dtype, equalTo torch.ScalarType.Byte)
    Assert.That(bytesOf gray.Features, equalTo grayPixels)
    Assert.That(gray.ClassIndex, equalTo 3)
    use colour = data[1]
    Assert.That(colour.Features.shape, equalTo [| 3L; 3L; 4L |])
    let planes = Array.init 3 (fun c -> Array.init 12 (fun p -> rgbaPixels[4 * p + c])) |> Array.concat
    Assert.That(bytesOf colour.Features, equalTo planes)
    Assert.That(colour.ClassIndex, equalTo 1)
    use jpegGray = data[2]
    Assert.That(jpegGray.Features.shape, equalTo [| 1L; 3L; 4L |])
    Assert.That(bytesOf jpegGray.Features |> Array.forall (fun b -> abs (int b - 90) <= 2), Is.True)
    use jpegColour = data[3]
    Assert.That(jpegColour.Features.shape, equalTo [| 3L; 3L; 4L |])
    let v = bytesOf jpegColour.Features
    for c, expected in [ 0, 200; 1, 40; 2, 120 ] do
        Assert.That(v[c * 12 .. c * 12 + 11] |> Array.forall (fun b -> abs (int b - expected) <= 4), Is.True, sprintf "channel %d" c)
    Assert.That(jpegColour.ClassIndex, equalTo 7)

[<Test>]
let ``modes: Gray uses libpng's luma of colour PNGs, RgbAlpha adds alpha`` () =
    let dir = makeFolder ()
    let image = ImageFile.Read(Path.Combine(dir, "colour.png"), ImageReadMode.Gray)
    // libpng's fixed-point rgb_to_gray with TorchVision's coefficients (see ImageFileTests).
    let expected = Array.init 12 (fun p -> byte ((9794 * (10 * p) + 19234 * (200 - 10 * p) + 3740 * 7) >>> 15))
    Assert.That(image.Pixels, equalTo expected)
    let rgba = ImageFile.Read(Path.Combine(dir, "gray.png"), ImageReadMode.RgbAlpha)
    Assert.That(rgba.Channels, equalTo 4)
    Assert.That(rgba.Pixels[0 .. 11], equalTo grayPixels)
    Assert.That(rgba.Pixels[36 .. 47] |> Array.forall ((=) 255uy), Is.True)
    let translucent = Path.Combine(dir, "alpha.png")
    encode translucent 4 3 false false (Array.init 12 (fun p -> [| 50uy; 60uy; 70uy; byte (20 * p) |]) |> Array.concat)
    let unchanged = ImageFile.Read translucent
    Assert.That(unchanged.Channels, equalTo 4)
    Assert.That(unchanged.Pixels[36 .. 47], equalTo (Array.init 12 (fun p -> byte (20 * p))))

[<Test>]
let ``transform and targetTransform apply to each sample`` () =
    let dir = makeFolder ()
    let data = ImageFolderCsvDataset(Path.Combine(dir, "labels.csv"), dir, ToTensor(), OneHot 10)
    use s = data[0]
    Assert.That(s.Features.data<float32>().ToArray(), equalTo (grayPixels |> Array.map (fun b -> float32 b / 255.0f)))
    Assert.That(s.Label.data<float32>().ToArray(), equalTo [| 0.f; 0.f; 0.f; 1.f; 0.f; 0.f; 0.f; 0.f; 0.f; 0.f |])
    Assert.That(data.ToString(), Does.Contain "Transform: ToTensor()")

/// n gray 4 x 3 images i.png filled with value 10 * i, labelled i % 5, without a header line.
let private grayFolder n =
    let dir = tempFolder "images"
    for i in 0 .. n - 1 do encode (Path.Combine(dir, sprintf "%d.png" i)) 4 3 true true (Array.create 12 (byte (10 * i)))
    File.WriteAllLines(Path.Combine(dir, "a.csv"), [ for i in 0 .. n - 1 -> sprintf "%d.png,%d" i (i % 5) ])
    dir

[<Test>]
let ``a loader decodes in 0, 1 or 2 workers and gives the same batches, transformed once per batch`` () =
    let dir = grayFolder 11
    let data = ImageFolderCsvDataset(Path.Combine(dir, "a.csv"), dir, ToTensor(), hasHeader = false)
    let epoch workers =
        [ for b in DataLoader(data, 4, true, 5L, workers = workers) ->
            b.Features.shape, b.Features.data<float32>().ToArray(), b.Labels.data<int64>().ToArray() ]
    let inline' = epoch 0
    Assert.That(epoch 1, equalTo inline')
    Assert.That(epoch 2, equalTo inline')
    let shape, values, labels = inline'[0]
    Assert.That(shape, equalTo [| 4L; 1L; 3L; 4L |])
    // Each image is filled with 10 * i and labelled i % 5: features follow labels.
    for k in 0 .. 3 do
        let i = int (round (values[k * 12] * 255.0f)) / 10
        Assert.That(labels[k], equalTo (int64 (i % 5)))
        Assert.That(values[k * 12], equalTo (float32 (10 * i) / 255.0f))

[<Test>]
let ``images of different sizes in one batch are refused with both names`` () =
    let dir = grayFolder 2
    encode (Path.Combine(dir, "1.png")) 5 3 true true (Array.zeroCreate 15)
    let data = ImageFolderCsvDataset(Path.Combine(dir, "a.csv"), dir, hasHeader = false)
    let e = throws<InvalidDataException> (fun () -> for _ in DataLoader(data, 2) do ())
    Assert.That(e.Message, Does.Contain "0.png (line 1)")
    Assert.That(e.Message, Does.Contain "1.png (line 2)")

[<Test>]
let ``images of different sizes are transformed one by one, as PyTorch does, when the transform makes them one size`` () =
    let dir = grayFolder 5
    // 1.png and 3.png are 5 wide and 4 high, the others 4 x 3; the values say which pixel is where.
    for i in [ 1; 3 ] do encode (Path.Combine(dir, sprintf "%d.png" i)) 5 4 true true (Array.init 20 (fun p -> byte (10 * i + p)))
    // The user's per-sample function: the top-left 4 x 3 window of the image [C, H, W].
    let crop = Functional.Transforms.Transform.Lambda(Func<_, _>(fun (x: torch.Tensor) -> x.narrow(1L, 0L, 3L).narrow(2L, 0L, 4L).contiguous()))
    let data = ImageFolderCsvDataset(Path.Combine(dir, "a.csv"), dir, Compose(crop, ToTensor()), OneHot 5, hasHeader = false)
    for workers in [ 0; 2 ] do
        let batches = [ for b in DataLoader(data, 2, workers = workers) -> b.Features.clone(), b.Labels.clone() ]
        Assert.That(batches |> List.map (fun (x, y) -> x.shape, y.shape),
                    equalTo [ [| 2L; 1L; 3L; 4L |], [| 2L; 5L |]; [| 2L; 1L; 3L; 4L |], [| 2L; 5L |]; [| 1L; 1L; 3L; 4L |], [| 1L; 5L |] ])
        // Row for row what the dataset gives sample by sample.
        batches |> List.iteri (fun b (x, y) ->
            for r in 0L .. x.shape[0] - 1L do
                use sample = data[2 * b + int r]
                use xr = x[r]
                use yr = y[r]
                Assert.That(same xr sample.Features && same yr sample.Label, Is.True, sprintf "workers %d, sample %d" workers (2 * b + int r)))
        for x, y in batches do
            x.Dispose()
            y.Dispose()

/// The message of the InvalidDataException that reading `lines` as annotations raises; it must name the CSV.
let private csvErrorWith (hasHeader: bool) (classCount: Nullable<int>) (lines: string list) =
    let dir = grayFolder 2
    let csv = Path.Combine(dir, "bad.csv")
    File.WriteAllText(csv, String.concat "\n" lines)
    let e = throws<InvalidDataException> (fun () -> ImageFolderCsvDataset(csv, dir, hasHeader = hasHeader, classCount = classCount) |> ignore)
    Assert.That(e.Message, Does.StartWith csv)
    Assert.That(e.Message, Does.Not.Contain "\n", "one line")
    e.Message

let private csvError = csvErrorWith false (Nullable())

[<Test>]
let ``CSV errors name the file, the line and what was expected`` () =
    let missing = csvError [ "0.png,0"; "missing.png,1" ]
    Assert.That(missing, Does.Contain "line 2: image file")
    Assert.That(missing, Does.Contain "missing.png does not exist")
    Assert.That(csvErrorWith true (Nullable()) [ "file,label"; "0.png,zero" ], Does.Contain "line 2: the label \"zero\" is not an integer")
    Assert.That(csvError [ "0.png,0"; ""; "1.png,1" ], Does.Contain "line 2: the line is empty")
    Assert.That(csvError [ "0.png,0"; "1.png" ], Does.Contain "line 2: found 1 field")
    Assert.That(csvError [ "0.png,-1" ], Does.Contain "line 1: the label -1 is negative")

[<Test>]
let ``the CSV is strict: extra columns, labels outside the classes, an empty file and broken quotes are refused by line`` () =
    Assert.That(csvError [ "0.png,0"; "1.png,1,extra" ], Does.Contain "line 2: found 3 fields")
    Assert.That(csvErrorWith false (Nullable 5) [ "0.png,4"; "1.png,5" ], Does.Contain "line 2: the label 5 is not a class index 0 to 4")
    Assert.That(csvError [], Does.Contain "no samples")
    Assert.That(csvErrorWith true (Nullable()) [ "file,label" ], Does.Contain "no samples after its header line")
    Assert.That(csvError [ "0.png,0"; "\"1.png,1" ], Does.Contain "line 2: the CSV quoting is broken")
    // A control character in a file name is printed escaped, never raw.
    let bell = csvError [ "0.png,0"; "1\u0007\u001b[2J.png,1" ]
    Assert.That(bell, Does.Contain("line 2: image file").And.Contain("1\\u0007\\u001b[2J.png"))
    Assert.That(bell |> Seq.exists Char.IsControl, Is.False)
    // Quoted fields with commas and doubled quotes are RFC 4180, not errors (the file is then missing).
    Assert.That(csvError [ "\"a, \"\"b\"\".png\",1" ], Does.Contain "a, \"b\".png does not exist")

[<Test>]
let ``the header is explicit: expected by default, as pandas.read_csv does, and never taken from a sample line`` () =
    let dir = grayFolder 2
    let csv = Path.Combine(dir, "h.csv")
    File.WriteAllLines(csv, [ "file,label"; "0.png,0"; "1.png,1" ])
    Assert.That(ImageFolderCsvDataset(csv, dir).Count, equalTo 2)
    let e = throws<InvalidDataException> (fun () -> ImageFolderCsvDataset(csv, dir, hasHeader = false) |> ignore)
    Assert.That(e.Message, Does.Contain("line 1: the label \"label\" is not an integer").And.Contain("hasHeader: true"))
    File.WriteAllLines(csv, [ "0.png,0"; "1.png,1" ])
    Assert.That(ImageFolderCsvDataset(csv, dir, hasHeader = false).Count, equalTo 2)
    let e = throws<InvalidDataException> (fun () -> ImageFolderCsvDataset(csv, dir) |> ignore)
    Assert.That(e.Message, Does.Contain("line 1: a header was expected, but the line is a sample").And.Contain("hasHeader: false"))

[<Test>]
let ``an unreadable or truncated image raises InvalidDataException naming it and its line`` () =
    let dir = grayFolder 3
    File.WriteAllText(Path.Combine(dir, "1.png"), "this is not a picture")
    let png = File.ReadAllBytes(Path.Combine(dir, "2.png"))
    File.WriteAllBytes(Path.Combine(dir, "2.png"), png[.. png.Length / 2])
    let data = ImageFolderCsvDataset(Path.Combine(dir, "a.csv"), dir, hasHeader = false)
    use ok = data[0]
    let e = throws<InvalidDataException> (fun () -> data[1] |> ignore)
    Assert.That(e.Message, Does.Contain(Path.Combine(dir, "1.png")))
    Assert.That(e.Message, Does.Contain "line 2")
    let e = throws<InvalidDataException> (fun () -> data[2] |> ignore)
    Assert.That(e.Message, Does.Contain(Path.Combine(dir, "2.png")))
    Assert.That(e.Message, Does.Contain "line 3")
    // Through loader workers too, without hanging.
    let e = throws<InvalidDataException> (fun () -> for _ in DataLoader(data, 1, workers = 2) do ())
    Assert.That(e.Message, Does.Contain "1.png")

[<Test>]
let ``the 3x3 grid is a PNG of 9 titled cells; the same seed draws the same samples`` () =
    Native.EnsureLoaded()
    use x = torch.randint(0L, 256L, [| 20L; 1L; 28L; 28L |], torch.ScalarType.Byte)
    use y = torch.randint(0L, 10L, [| 20L |], torch.ScalarType.Int64)
    use data = new TensorDataset(x, y, ToTensor())
    let path = Path.Combine(tempFolder "images", "grid.png")
    let a = SamplePictures.SaveGrid(data, path, FashionMnist.Classes, seed = 4L, scale = 2)
    let b = SamplePictures.SaveGrid(data, path, FashionMnist.Classes, seed = 4L, scale = 2)
    Assert.That(a, equalTo b)
    Assert.That(a.Length, equalTo 9)
    Assert.That(a |> Array.forall (fun i -> i >= 0 && i < 20), Is.True)
    use codec = SKCodec.Create path
    Assert.That(codec.EncodedFormat, equalTo SKEncodedImageFormat.Png)
    Assert.That(codec.Info.Width, equalTo (12 + 3 * (56 + 12)))
    // The cell of the first sample shows its pixels, enlarged 2x: compare one pixel.
    use bitmap = SKBitmap.Decode path
    let titleHeight = (bitmap.Height - 12 - 3 * (56 + 12)) / 3
    use first = data[a[0]]
    let expected = int (round (first.Features[0L, 5L, 7L].item<float32>() * 255.0f))
    let pixel = bitmap.GetPixel(12 + 7 * 2, 12 + titleHeight + 5 * 2)
    Assert.That(int pixel.Red, equalTo expected)
    // The title: dark ink in the strip above the first cell (on a machine with a font; without one
    // the grid is drawn untitled, as documented).
    if SamplePictures.HasFont then
        Assert.That(titleHeight, Is.GreaterThan 0, "a strip for the titles")
        let ink =
            [ for x in 12 .. 12 + 56 - 1 do
                for y in 12 .. 12 + titleHeight - 1 do
                    if bitmap.GetPixel(x, y).Red < 128uy then yield x, y ]
        Assert.That(ink, Is.Not.Empty, "the first cell's title is drawn")
    else Assert.That(titleHeight, equalTo 0)
    let one = Path.Combine(tempFolder "images", "one.png")
    SamplePictures.SaveImage(first.Features, one, "T-Shirt")
    use single = SKCodec.Create one
    Assert.That(single.Info.Width, equalTo (12 + 28 * 8 + 12))
