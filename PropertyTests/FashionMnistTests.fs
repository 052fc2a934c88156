module Functional.PropertyTests.FashionMnistTests

open System
open System.IO
open System.Net
open System.Threading
open NUnit.Framework
open TorchSharp
open Functional.Data
open Functional.Transforms




let private debian = "/usr/share/datasets/fashion-mnist"


/// Writes a tiny split of `n` images (pixel value = image index) with the given labels.
let private writeSplit (dir: string) (train: bool) (n: int) (labels: byte[]) =
    let split = if train then "train" else "t10k"
    Idx.Write(Path.Combine(dir, split + "-images-idx3-ubyte.gz"), IdxArray([| n; 28; 28 |], Array.init (n * 784) (fun i -> byte (i / 784))))
    Idx.Write(Path.Combine(dir, split + "-labels-idx1-ubyte.gz"), IdxArray([| labels.Length |], labels))

let private subset () =
    match FashionMnist.FindShippedSubset() with
    | null -> Assert.Fail "the subset embedded in Functional.Core was not found"; ""
    | s -> s

[<Test>]
let ``the Debian package's training split loads with the known first labels`` () =
    // How fast it loads is measured by the loader benchmark, not here.
    if not (File.Exists(Path.Combine(debian, "train-images-idx3-ubyte.gz"))) then
        Assert.Ignore "the Debian package dataset-fashion-mnist is not installed on this machine"
    use train = new FashionMnist(null, train = true)
    Assert.That(train.Count, equalTo 60000)
    Assert.That(train.Source.Kind, equalTo DataSource.DebianPackage)
    // Zalando's README: the first training image is an ankle boot (9), the next a T-shirt (0).
    Assert.That(train.Labels[0L].item<int64>(), equalTo 9L)
    Assert.That(train.Labels[1L].item<int64>(), equalTo 0L)
    let text = train.ToString()
    Assert.That(text, Does.StartWith "Dataset FashionMNIST\n    Number of datapoints: 60000")
    Assert.That(text, Does.Contain "Split: Train")

[<Test>]
let ``the shipped subset is the first 10000 and 2000 samples of the real files`` () =
    if not (File.Exists(Path.Combine(debian, "train-images-idx3-ubyte.gz"))) then
        Assert.Ignore "the Debian package dataset-fashion-mnist is not installed, so there is nothing to compare the subset with"
    for train, n in [ true, 10000; false, 2000 ] do
        use small = new FashionMnist(null, train, fallback = subset (), searchSystem = false)
        Assert.That(small.Source.Kind, equalTo DataSource.ShippedSubset)
        Assert.That(small.Count, equalTo n)
        let split = if train then "train" else "t10k"
        let full = Idx.Read(Path.Combine(debian, split + "-images-idx3-ubyte.gz"))
        let mine = Idx.Read(small.ImagesPath)
        Assert.That(mine.Data, equalTo(full.Data[.. n * 784 - 1]))
        // A sample is an image and its label: the labels are the real ones too.
        let fullLabels = Idx.Read(Path.Combine(debian, split + "-labels-idx1-ubyte.gz"))
        let myLabels = Idx.Read(small.LabelsPath)
        Assert.That(myLabels.Data, equalTo(fullLabels.Data[.. n - 1]))
    Assert.That(File.ReadAllText(Path.Combine(subset (), "LICENSE")), Does.Contain "MIT")

[<Test>]
let ``root is searched directly and in TorchVision's FashionMNIST/raw layout`` () =
    let direct = tempFolder "fmnist"
    writeSplit direct true 3 [| 1uy; 2uy; 3uy |]
    use a = new FashionMnist(direct, train = true)
    Assert.That((a.Source.Kind, a.Source.Folder, a.Count), equalTo((DataSource.Root, direct, 3)))
    let root = tempFolder "fmnist"
    let raw = Path.Combine(root, "FashionMNIST", "raw")
    writeSplit raw false 2 [| 4uy; 5uy |]
    use b = new FashionMnist(root, train = false)
    Assert.That((b.Source.Kind, b.Source.Folder, b.Count), equalTo((DataSource.Root, raw, 2)))
    use sample = b[1]
    Assert.That(sample.Features.shape, equalTo([| 1L; 28L; 28L |]))
    Assert.That(sample.Features.dtype, equalTo torch.ScalarType.Byte)
    Assert.That(sample.Features[0L, 5L, 5L].item<byte>(), equalTo 1uy)
    Assert.That(sample.ClassIndex, equalTo 5)

[<Test>]
let ``a sample goes through transform and targetTransform`` () =
    let root = tempFolder "fmnist"
    writeSplit root true 3 [| 1uy; 2uy; 3uy |]
    use data = new FashionMnist(root, true, transform = ToTensor(), targetTransform = OneHot 10)
    use sample = data[2]
    Assert.That(sample.Features.dtype, equalTo torch.ScalarType.Float32)
    Assert.That(sample.Features[0L, 0L, 0L].item<float32>(), equalTo(2.0f / 255.0f))
    Assert.That(sample.Label.data<float32>().ToArray(), equalTo([| 0.f; 0.f; 0.f; 1.f; 0.f; 0.f; 0.f; 0.f; 0.f; 0.f |]))
    Assert.That(data.ToString(), Does.Contain "Transform: ToTensor()\nTarget transform: OneHot(10)")

[<Test>]
let ``the summary prints as the tutorial's, from C# and from F#`` () =
    let root = tempFolder "fmnist"
    writeSplit root true 3 [| 1uy; 2uy; 3uy |]
    // TorchVision's VisionDataset and StandardTransform layout (the tutorial's printout), with the
    // source of the files as one more line among the dataset's own lines, after Split.
    let expected =
        String.Join("\n",
            [ "Dataset FashionMNIST"
              "    Number of datapoints: 3"
              "    Root location: " + root
              "    Split: Train"
              "    Source: root (" + root + ")"
              "    StandardTransform"
              "Transform: ToTensor()" ])
    use fromCSharp = new FashionMnist(root, true, transform = ToTensor())
    Assert.That(fromCSharp.ToString(), equalTo expected)
    use fromFSharp =
        Functional.FSharp.FashionMnist.load
            { Functional.FSharp.FashionMnist.defaults with Root = Some root; Transform = Some Functional.FSharp.Transform.toTensor }
    Assert.That(fromFSharp.ToString(), equalTo expected)
    // A multi-line transform is indented under its heading, as StandardTransform does; the target transform follows.
    use composed = new FashionMnist(root, true, transform = Compose(ToTensor(), Normalize([ 0.5 ], [ 0.5 ])), targetTransform = OneHot 10)
    let tail =
        String.Join("\n",
            [ "    StandardTransform"
              "Transform: Compose("
              "               ToTensor()"
              "               Normalize(mean=[0.5], std=[0.5])"
              "           )"
              "Target transform: OneHot(10)" ])
    Assert.That(composed.ToString(), Does.EndWith tail)

[<Test>]
let ``nothing found offline: the error names the places searched and the ways to get the data`` () =
    let root = tempFolder "fmnist"
    let e = throws<DatasetNotFoundException>(fun () -> new FashionMnist(root, searchSystem = false) |> ignore)
    // The root was the only place to look: the first line names its missing files.
    Assert.That(e.Message.Split('\n')[0], Does.StartWith(root + " holds no FashionMNIST training files: " + Path.Combine(root, "train-images-idx3-ubyte") + "[.gz]"))
    Assert.That(e.Message, Does.Contain root)
    Assert.That(e.Message, Does.Contain "apt-get install dataset-fashion-mnist")
    Assert.That(e.Message, Does.Contain "download = true")
    Assert.That(e.Message, Does.Contain "fashion-mnist-subset")
    Assert.That(e.Message, Does.Contain "FindShippedSubset()")

[<Test>]
let ``a download that cannot reach any mirror fails with the ways to get the data`` () =
    let root = tempFolder "fmnist"
    let log = new StringWriter()
    let mirrors = [| Uri "http://127.0.0.1:1/" |]
    let e = throws<DatasetNotFoundException>(fun () ->
        new FashionMnist(root, download = true, searchSystem = false, log = log, mirrors = mirrors) |> ignore)
    Assert.That(e.Message, Does.Contain "The download failed: http://127.0.0.1:1/train-images-idx3-ubyte.gz")
    Assert.That(e.Message, Does.Contain "apt-get install dataset-fashion-mnist")
    Assert.That(log.ToString(), Does.Contain "Downloading http://127.0.0.1:1/train-images-idx3-ubyte.gz")
    Assert.That(Directory.GetFiles(root, "*", SearchOption.AllDirectories), Is.Empty)

/// Serves the files of `folder` over HTTP on a free local port until disposed.
let private serve (folder: string) =
    let listener = new HttpListener()
    let port = Random.Shared.Next(20000, 60000)
    listener.Prefixes.Add(sprintf "http://127.0.0.1:%d/" port)
    listener.Start()
    let worker =
        Thread((fun () ->
            try
                while listener.IsListening do
                    let context = listener.GetContext()
                    let path = Path.Combine(folder, context.Request.Url.AbsolutePath.TrimStart '/')
                    if File.Exists path then
                        let bytes = File.ReadAllBytes path
                        context.Response.ContentLength64 <- int64 bytes.Length
                        context.Response.OutputStream.Write(bytes, 0, bytes.Length)
                    else context.Response.StatusCode <- 404
                    context.Response.Close()
            with _ -> ()), IsBackground = true)
    worker.Start()
    Uri(sprintf "http://127.0.0.1:%d/" port), { new IDisposable with member _.Dispose() = listener.Stop(); listener.Close() }

[<Test>]
let ``a downloaded file whose checksum is not the official one is rejected and deleted`` () =
    // The subset's files are real Fashion-MNIST data but not the official .gz files, so their MD5 differs.
    let url, server = serve (subset ())
    use _ = server
    let root = tempFolder "fmnist"
    let log = new StringWriter()
    let e = throws<InvalidDataException>(fun () ->
        new FashionMnist(root, false, download = true, searchSystem = false, log = log, mirrors = [| url |]) |> ignore)
    Assert.That(e.Message, Does.Contain "MD5 checksum")
    Assert.That(e.Message, Does.Contain "bef4ecab320f06d8554ea6380940ec79")
    Assert.That(e.Message, Does.Contain(string (Uri(url, "t10k-images-idx3-ubyte.gz"))))
    Assert.That(e.Message, Does.Contain "was deleted")
    Assert.That(log.ToString(), Does.Contain "MB")
    Assert.That(Directory.GetFiles(root, "*", SearchOption.AllDirectories), Is.Empty)

[<Test>]
let ``Download.ToFile shows progress, checks the MD5 and moves the file into place`` () =
    let folder = tempFolder "fmnist"
    File.WriteAllText(Path.Combine(folder, "abc.txt"), "abc")
    let url, server = serve folder
    use _ = server
    let target = Path.Combine(tempFolder "fmnist", "got.txt")
    let log = new StringWriter()
    // MD5("abc") from RFC 1321's test suite.
    Download.ToFile(Uri(url, "abc.txt"), target, "900150983cd24fb0d6963f7d28e17f72", log)
    Assert.That(File.ReadAllText target, equalTo "abc")
    Assert.That(log.ToString(), Does.Contain "got.txt")

[<Test>]
let ``VerifyMd5 accepts the right checksum of a local file and rejects a damaged one`` () =
    let path = Path.Combine(tempFolder "fmnist", "abc.txt")
    File.WriteAllText(path, "abc")
    Download.VerifyMd5(path, "900150983cd24fb0d6963f7d28e17f72")
    File.WriteAllText(path, "abd")
    let e = throws<InvalidDataException>(fun () -> Download.VerifyMd5(path, "900150983cd24fb0d6963f7d28e17f72"))
    Assert.That(e.Message, Does.Contain path)

[<Test>]
let ``bad files: wrong dimensions, differing counts, bad labels are named`` () =
    let dir = tempFolder "fmnist"
    Idx.Write(Path.Combine(dir, "train-images-idx3-ubyte.gz"), IdxArray([| 2; 784 |], Array.zeroCreate 1568))
    Idx.Write(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), IdxArray([| 2 |], [| 0uy; 1uy |]))
    let e = throws<InvalidDataException>(fun () -> new FashionMnist(dir, searchSystem = false) |> ignore)
    Assert.That(e.Message, Does.Contain "train-images-idx3-ubyte.gz")
    Assert.That(e.Message, Does.Contain "3 dimensions")
    writeSplit dir true 3 [| 1uy; 2uy |]
    let e = throws<InvalidDataException>(fun () -> new FashionMnist(dir, searchSystem = false) |> ignore)
    Assert.That(e.Message, Does.Contain "holds 3 images but")
    Assert.That(e.Message, Does.Contain "holds 2 labels")
    writeSplit dir true 3 [| 1uy; 12uy; 3uy |]
    let e = throws<InvalidDataException>(fun () -> new FashionMnist(dir, searchSystem = false) |> ignore)
    Assert.That(e.Message, Does.Contain "label 12 at byte offset 9")

[<Test>]
let ``a truncated gzip file in root is reported, not half loaded`` () =
    let dir = tempFolder "fmnist"
    writeSplit dir true 5 [| 1uy; 2uy; 3uy; 4uy; 5uy |]
    let path = Path.Combine(dir, "train-images-idx3-ubyte.gz")
    let bytes = File.ReadAllBytes path
    File.WriteAllBytes(path, bytes[.. bytes.Length / 2])
    let e = throws<InvalidDataException>(fun () -> new FashionMnist(dir, searchSystem = false) |> ignore)
    Assert.That(e.Message, Does.Contain path)

[<Test>]
let ``another IDX dataset (no Debian package, its own mirrors) is searched and reported by the same code`` () =
    // MNIST's layout and names: the search order takes any IdxDatasetInfo, and one without a
    // system package must not tell the user to apt-get it.
    let mnist =
        IdxDatasetInfo("MNIST", [ for d in 0 .. 9 -> string d ], [ Uri "http://yann.lecun.com/exdb/mnist/" ],
                       readOnlyDict [], null, null, null)
    let root = tempFolder "fmnist"
    writeSplit (Path.Combine(root, "MNIST", "raw")) false 2 [| 7uy; 1uy |]
    let loaded = MnistDataset.Load(mnist, root, false, false, null, true, null)
    use _images = loaded.Images
    use _labels = loaded.Labels
    Assert.That(loaded.Labels.shape, equalTo [| 2L |])
    Assert.That(loaded.Source.Kind, equalTo DataSource.Root)
    let e = throws<DatasetNotFoundException> (fun () -> MnistDataset.Load(mnist, tempFolder "fmnist", true, false, null, true, null) |> ignore)
    Assert.That(e.Message, Does.Not.Contain "apt-get")
    Assert.That(e.Message, Does.Contain "yann.lecun.com")

[<Test>]
let ``images of 27 x 28 are refused when the split is read, naming the file`` () =
    let dir = Path.Combine(Path.GetTempPath(), $"functional-fmnist-{Guid.NewGuid():N}")
    Directory.CreateDirectory dir |> ignore
    let images = Path.Combine(dir, "t10k-images-idx3-ubyte.gz")
    Idx.Write(images, IdxArray([| 2; 27; 28 |], Array.zeroCreate (2 * 27 * 28)))
    Idx.Write(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), IdxArray([| 2 |], [| 0uy; 1uy |]))
    let e = Assert.Throws<InvalidDataException>(Action(fun () -> new FashionMnist(dir, train = false, searchSystem = false) |> ignore))
    Assert.That(e.Message, Does.StartWith(images + ": the header at byte offset 8 gives images of 27 x 28"))
