// Datasets and DataLoaders, after PyTorch's "learn the basics" data tutorial (data_tutorial.py):
// load Fashion-MNIST, look at samples, write a dataset of your own (a CSV of labels and a folder of
// images), and iterate it in batches.
//   dotnet build Examples -c Release && dotnet fsi Examples/02-datasets.fsx
#load "Setup.fsx"

open System
open System.IO
open TorchSharp
open Functional.Data
open Functional.FSharp

let ci = Environment.GetEnvironmentVariable "CI" = "true"
let show (t: torch.Tensor) = "[" + String.Join(", ", t.shape) + "]"
let out = Path.Combine(__SOURCE_DIRECTORY__, "out")
Directory.CreateDirectory out |> ignore

// --- Loading a dataset ----------------------------------------------------------------------------
// training_data = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
// The files are found in root, in the Debian package dataset-fashion-mnist, or (on a fresh machine
// with no network) in the small subset that ships in the repository; `Source` says which.
let trainingData = FashionMnist.load { FashionMnist.defaults with Train = true; Transform = Some Transform.toTensor }
let testData = FashionMnist.load { FashionMnist.defaults with Train = false; Transform = Some Transform.toTensor }
printfn "%O\n" trainingData
printfn "%O\n" testData

// --- Indexing and visualizing ---------------------------------------------------------------------
// img, label = training_data[sample_idx]
let image, label =
    use sample = Dataset.item 0 trainingData
    sample.Features.clone(), sample.ClassIndex
printfn "training_data[0]: image %s %O, label %d (%s)" (show image) image.dtype label (FashionMnist.className label)

// The tutorial's figure: a 3x3 grid of random training samples titled with their class names.
let grid = Path.Combine(out, "02-samples.png")
let drawn = Pictures.saveGrid grid 0L trainingData
printfn "3x3 grid of samples %A written to %s" drawn grid

// --- A custom dataset: a CSV of (file, label) lines and a folder of images ------------------------
// Write a few Fashion-MNIST test images as PNG files and their labels as CSV, then read them back
// as the tutorial's CustomImageDataset does (read_image -> uint8 [C, H, W]).
let folder = Path.Combine(out, "02-custom")
Directory.CreateDirectory folder |> ignore
let count = if ci then 16 else 100
let raw = FashionMnist.load { FashionMnist.defaults with Train = false }
let lines =
    [ yield "file,label"
      for i in 0 .. count - 1 do
          use s = Dataset.item i raw
          let name = sprintf "%s-%03d.png" ((FashionMnist.className s.ClassIndex).Replace(' ', '-').ToLowerInvariant()) i
          ImageFile.WriteTensor(Path.Combine(folder, name), s.Features)
          yield sprintf "%s,%d" name s.ClassIndex ]
File.WriteAllLines(Path.Combine(folder, "annotations.csv"), lines)
let custom = new ImageFolderCsvDataset(Path.Combine(folder, "annotations.csv"), folder, Transform.toTensor)
printfn "\n%O" custom
let first = Dataset.item 0 custom
let struct (firstFile, _) = custom.Entry 0
printfn "custom[0]: %O (file %s)" first firstFile

// --- Iterating with a DataLoader ------------------------------------------------------------------
// train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
// train_features, train_labels = next(iter(train_dataloader))
let trainDataloader = Loader.createWith { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 0L } trainingData
let batch = Loader.peek trainDataloader
printfn "\nFeature batch shape: %s" (show batch.Features)
printfn "Labels batch shape: %s" (show batch.Labels)
let img = batch.Features[0L].squeeze()
let lbl = int (batch.Labels[0L].item<int64>())
let single = Path.Combine(out, "02-first-of-batch.png")
Pictures.saveImage single (FashionMnist.className lbl) img
printfn "Label: %d (%s); the image is in %s" lbl (FashionMnist.className lbl) single
batch.Dispose()

// One epoch: each batch is freed when the next arrives, so memory stays flat. Under CI, a few batches.
let watch = Diagnostics.Stopwatch.StartNew()
let limit = if ci then 20 else Int32.MaxValue
let mutable samples = 0
for b in trainDataloader |> Seq.truncate limit do samples <- samples + b.Count
printfn "%s: %d samples in %d batches of up to 64, %.2f s%s"
    (if ci then "first batches" else "one epoch") samples (min limit trainDataloader.BatchCount) watch.Elapsed.TotalSeconds
    (if ci then " (CI=true: only 20 batches)" else "")

// Image files decode in worker threads when asked; tensors are still made where the batches are used.
let customLoader = Loader.createWith { Loader.defaults with BatchSize = 8; Shuffle = true; Seed = Some 1L; Workers = 2 } custom
let shapes = [ for b in customLoader -> b.Features.shape[0] ]
printfn "custom dataset with 2 workers: %d batches, sizes %A" shapes.Length shapes
