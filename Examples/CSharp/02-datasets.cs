// PyTorch "Learn the Basics", section "Datasets & DataLoaders" (data_tutorial), in C#: load
// Fashion-MNIST, look at samples, write a dataset for your own files (a CSV of labels and a folder of
// images), and iterate in batches.
// Run from the repository root:  dotnet run Examples/CSharp/02-datasets.cs
// With CI=true it writes 16 image files instead of 100 and iterates 20 batches instead of an epoch.
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using System.Diagnostics;
using System.Globalization;
using Functional;
using Functional.Data;
using Functional.Transforms;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

Native.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // numbers print as in Python, whatever the locale
var ci = Environment.GetEnvironmentVariable("CI") == "true";
static string Size(Tensor t) => "torch.Size([" + string.Join(", ", t.shape) + "])";

// Pictures and files go to Examples/out/ (ignored by git); `dotnet run file.cs` tells the app its folder.
var here = (string)AppContext.GetData("EntryPointFileDirectoryPath")!;
var output = Path.GetFullPath(Path.Combine(here, "..", "out"));
Directory.CreateDirectory(output);

// ---- Loading a dataset ---------------------------------------------------------------------------
// training_data = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
// The files are found in root, in the Debian package dataset-fashion-mnist, or (on a fresh machine
// with no network) in the small subset that ships in the repository; the printout says which.
using var trainingData = FashionMnist.Load(train: true, transform: Transform.ToTensor());
using var testData = FashionMnist.Load(train: false, transform: Transform.ToTensor());
Console.WriteLine($"{trainingData}\n");
Console.WriteLine($"{testData}\n");

// ---- Iterating and visualizing the dataset -------------------------------------------------------
// img, label = training_data[sample_idx]: a sample owns its tensors, so `using` frees them.
using (var sample = trainingData[0])
{
    var (image, label) = sample;
    Console.WriteLine($"training_data[0]: image {Size(image)} {Tensors.DTypeName(image.dtype)}, label {sample.ClassIndex} ({FashionMnist.Classes[sample.ClassIndex]}), a {Tensors.DTypeName(label.dtype)} scalar");
}

// The tutorial's figure: a 3x3 grid of random training samples titled with their class names.
var grid = Path.Combine(output, "02-samples.png");
var drawn = SamplePictures.SaveGrid(trainingData, grid, trainingData.ClassNames, rows: 3, columns: 3, seed: 0);
Console.WriteLine($"3x3 grid of samples [{string.Join(", ", drawn)}] written to {grid}");

// ---- Creating a custom dataset for your files ------------------------------------------------------
// The tutorial's CustomImageDataset reads a CSV of "file,label" lines and a folder of images. Make
// such files from real Fashion-MNIST test images: PNG files, and their labels as CSV.
var folder = Path.Combine(output, "02-custom");
Directory.CreateDirectory(folder);
var count = ci ? 16 : 100;
using var raw = FashionMnist.Load(train: false);                   // uint8 images, as image files hold them
var lines = new List<string> { "file,label" };
for (var i = 0; i < count; i++)
{
    using var s = raw[i];
    var name = $"{FashionMnist.Classes[s.ClassIndex].Replace(' ', '-').ToLowerInvariant()}-{i:000}.png";
    ImageFile.WriteTensor(Path.Combine(folder, name), s.Features);
    lines.Add($"{name},{s.ClassIndex}");
}
var annotations = Path.Combine(folder, "annotations.csv");
File.WriteAllLines(annotations, lines);

// The class written by hand, as in the tutorial (it is at the end of this file): Count is __len__,
// the indexer is __getitem__.
var byHand = new CustomImageDataset(annotations, folder, transform: Transform.ToTensor());
using (var first = byHand[0])
    Console.WriteLine($"\nCustomImageDataset: {byHand.Count} samples; [0] is {first}");

// The library's version of the same class, ImageFolderCsvDataset, also checks every CSV line and file
// up front (an error names the line), and lets a loader decode the images in worker threads.
var custom = new ImageFolderCsvDataset(annotations, folder, Transform.ToTensor());
Console.WriteLine($"\n{custom}");
using (var a = byHand[0])
using (var b = custom[0])
{
    var (firstFile, _) = custom.Entry(0);
    Console.WriteLine($"custom[0]: {b} (file {firstFile})");
    Console.WriteLine($"the hand-written class and ImageFolderCsvDataset give the same sample: {a.Features.equal(b.Features).all().item<bool>() && a.ClassIndex == b.ClassIndex}");
}

// ---- Preparing your data for training with DataLoaders ---------------------------------------------
// train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True); the seed makes the
// shuffling repeat from run to run.
var trainDataloader = new DataLoader(trainingData, batchSize: 64, shuffle: true, seed: 0);

// train_features, train_labels = next(iter(train_dataloader)): Peek gives a batch the caller owns.
using (var batch = trainDataloader.Peek())
{
    Console.WriteLine($"\nFeature batch shape: {Size(batch.Features)}");
    Console.WriteLine($"Labels batch shape: {Size(batch.Labels)}");
    using var img = batch.Features[0].squeeze();
    var label = (int)batch.Labels[0].item<long>();
    var single = Path.Combine(output, "02-first-of-batch.png");
    SamplePictures.SaveImage(img, single, FashionMnist.Classes[label]);
    Console.WriteLine($"Label: {label} ({FashionMnist.Classes[label]}); the image is in {single}");
}

// One epoch: the loader frees each batch when the next arrives, so memory stays flat. A batch the
// loop stops on (break) is the caller's to free. Under CI, a few batches.
var watch = Stopwatch.StartNew();
var limit = ci ? 20 : int.MaxValue;
int samples = 0, batches = 0;
foreach (var b in trainDataloader)
{
    samples += b.Count;
    if (++batches == limit) { b.Dispose(); break; }
}
Console.WriteLine($"{(ci ? "first batches" : "one epoch")}: {samples} samples in {batches} batches of up to 64, " +
    $"{watch.Elapsed.TotalSeconds:F2} s{(ci ? " (CI=true: only 20 batches)" : "")}");

// Any IDataset<Sample> goes into a DataLoader: the hand-written class is read sample by sample and stacked.
var byHandLoader = new DataLoader(byHand, batchSize: 8, shuffle: true, seed: 1);
using (var firstBatch = byHandLoader.Peek())
    Console.WriteLine($"\nthe hand-written dataset in a DataLoader: {byHandLoader.BatchCount} batches, the first {Size(firstBatch.Features)}");

// Image files decode in worker threads when asked; tensors are still made where the batches are used.
var customLoader = new DataLoader(custom, batchSize: 8, shuffle: true, seed: 1, workers: 2);
var sizes = customLoader.Select(b => b.Count).ToList();
Console.WriteLine($"custom dataset with 2 workers: {sizes.Count} batches, sizes [{string.Join(", ", sizes)}]");

/// <summary>The tutorial's CustomImageDataset: labels from a CSV of "file,label" lines (after a header
/// line), images from a folder, read as uint8 [C, H, W] tensors (TorchVision's read_image), with the
/// optional transform and target transform. Implementing IDataset is all a DataLoader needs.</summary>
sealed class CustomImageDataset(string annotationsFile, string imgDir, Transform? transform = null, Transform? targetTransform = null)
    : IDataset<Sample>
{
    // self.img_labels = pd.read_csv(annotations_file): one (file, label) pair per line after the header.
    readonly (string File, long Label)[] imgLabels = File.ReadLines(annotationsFile).Skip(1)
        .Select(line => line.Split(','))
        .Select(fields => (fields[0], long.Parse(fields[1], CultureInfo.InvariantCulture)))
        .ToArray();

    // __len__
    public int Count => imgLabels.Length;

    // __getitem__: the intermediate tensors die with the dispose scope; the sample's two move out of it.
    public Sample this[int idx]
    {
        get
        {
            using var scope = torch.NewDisposeScope();
            var (file, label) = imgLabels[idx];
            var image = ImageFile.ReadTensor(Path.Combine(imgDir, file));
            var target = torch.tensor(label);
            if (transform is not null) image = transform.Apply(image);
            if (targetTransform is not null) target = targetTransform.Apply(target);
            return new Sample(image.MoveToOuterDisposeScope(), target.MoveToOuterDisposeScope());
        }
    }
}
