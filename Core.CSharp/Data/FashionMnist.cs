using Functional.Transforms;

namespace Functional.Data;

/// <summary>Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test grayscale
/// 28x28 images of clothing in 10 classes, as uint8 [1, 28, 28] images and int64 labels.</summary>
/// <remarks>
/// The files are looked for, in order: in <c>root</c> (the four files directly, or TorchVision's
/// <c>root/FashionMNIST/raw/</c>), in the Debian package's folder, then downloaded into
/// <c>root/FashionMNIST/raw/</c> when <c>download</c> is true, then in the fallback folder (the small
/// subset that ships with Functional). <see cref="Source"/> says which was used. Plain and gzipped files
/// are both read. Everything is read and checked before the dataset exists: a damaged file raises
/// <see cref="InvalidDataException"/> naming the file and the byte offset. <see cref="Load"/> is the
/// usual entry point: it also falls back to the small subset that ships with Functional.
/// </remarks>
/// <example><code>
/// var train = FashionMnist.Load(root: "data", train: true, transform: Transform.ToTensor());
/// Console.WriteLine(train);                      // Dataset FashionMNIST, Number of datapoints: 60000, ...
/// var (image, label) = train[0];                 // float32 [1, 28, 28], int64 scalar
/// Console.WriteLine(FashionMnist.Classes[(int)label.item&lt;long&gt;()]);
/// </code></example>
public sealed class FashionMnist : TensorDataset
{
    /// <summary>The class names, indexed by label (the tutorial's <c>labels_map</c>).</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["T-Shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle Boot"];

    /// <summary>Names, files, mirrors and checksums of Fashion-MNIST.</summary>
    internal static IdxDatasetInfo Info { get; } = new(
        "FashionMNIST",
        Classes,
        [new Uri("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")],
        new Dictionary<string, string>
        {
            ["train-images-idx3-ubyte.gz"] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            ["train-labels-idx1-ubyte.gz"] = "25c81989df183df01b3e8a0aad5dffbe",
            ["t10k-images-idx3-ubyte.gz"] = "bef4ecab320f06d8554ea6380940ec79",
            ["t10k-labels-idx1-ubyte.gz"] = "bb300cfdad3c16e7a12a480ee83fd310",
        },
        "/usr/share/datasets/fashion-mnist",
        "dataset-fashion-mnist",
        "fashion-mnist-subset");

    /// <summary>Loads a split of Fashion-MNIST with the tutorial's parameters.</summary>
    /// <param name="root">A folder holding the files (directly or under FashionMNIST/raw/), or to download into; may be null.</param>
    /// <param name="train">The training split (60,000 images) or the test split (10,000).</param>
    /// <param name="download">Download the official files into root when they are found nowhere else.</param>
    /// <param name="transform">Applied to each image (by a loader, to the batch: see <see cref="Transform"/>), e.g. <see cref="ToTensor"/>.</param>
    /// <param name="targetTransform">Applied to each label, e.g. <see cref="OneHot"/>.</param>
    /// <param name="fallback">A folder to use when nothing else has the files, e.g. the shipped subset (<see cref="FindShippedSubset()"/>).</param>
    /// <param name="searchSystem">Whether to look in the Debian package's folder.</param>
    /// <param name="log">Where download progress goes (default: standard error).</param>
    /// <param name="mirrors">Where to download from, tried in order (default: the official locations); each gets the file name appended.</param>
    /// <exception cref="DatasetNotFoundException">The files are nowhere and could not be downloaded; the message says how to get them.</exception>
    /// <exception cref="InvalidDataException">A file is damaged; the message names it and the byte offset.</exception>
    public FashionMnist(string? root, bool train = true, Transform? transform = null, Transform? targetTransform = null,
        bool download = false, string? fallback = null, bool searchSystem = true, TextWriter? log = null,
        IReadOnlyList<Uri>? mirrors = null)
        : this(MnistDataset.Load(mirrors is null ? Info : Info with { Mirrors = mirrors }, root, train, download, fallback, searchSystem, log),
            root, train, transform, targetTransform) { }

    FashionMnist(MnistDataset.Loaded data, string? root, bool train, Transform? transform, Transform? targetTransform)
        : base(data.Images, data.Labels, transform, targetTransform)
    {
        data.Images.Dispose();
        data.Labels.Dispose();
        Root = root;
        Train = train;
        Source = data.Source;
        ImagesPath = data.ImagesPath;
        LabelsPath = data.LabelsPath;
    }

    /// <summary>The root folder the caller gave (may be null).</summary>
    public string? Root { get; }

    /// <summary>True for the training split, false for the test split.</summary>
    public bool Train { get; }

    /// <summary>Where the files were found.</summary>
    public DataSource Source { get; }

    /// <summary>The class names, indexed by label (the same as <see cref="Classes"/>).</summary>
    public IReadOnlyList<string> ClassNames => Classes;

    /// <summary>The images file that was read.</summary>
    internal string ImagesPath { get; }

    /// <summary>The labels file that was read.</summary>
    internal string LabelsPath { get; }

    /// <summary>Prints as TorchVision does (name, size, root, split, transforms) plus where the files came from.</summary>
    public override string ToString() => MnistDataset.Describe(Info.Name, Count, Root, Train, Source, TransformsText());

    /// <summary>Loads a split from root, the Debian package, a download (when asked), or the subset that
    /// ships with Functional, in that order; <see cref="Source"/> says which.</summary>
    public static FashionMnist Load(string? root = null, bool train = true, Transform? transform = null,
        Transform? targetTransform = null, bool download = false) =>
        new(root, train, transform, targetTransform, download, FindShippedSubset());

    /// <summary>The folder of the Fashion-MNIST subset that ships with Functional, or null when it is not found.</summary>
    public static string? FindShippedSubset() => MnistDataset.FindShippedSubset(Info);
}
