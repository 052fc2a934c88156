using Functional.Transforms;

namespace Functional.Data;

/// <summary>MNIST (Yann LeCun, Corinna Cortes, Christopher Burges): 60,000 training and 10,000 test
/// grayscale 28x28 images of handwritten digits, as uint8 [1, 28, 28] images and int64 labels.</summary>
/// <remarks>Internal: the IDX reader's second dataset, kept for the tests of the search order; see
/// <see cref="FashionMnist"/> for where the files are looked for.</remarks>
internal sealed class Mnist : TensorDataset
{
    /// <summary>The class names, indexed by label (as TorchVision names them).</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"];

    /// <summary>Names, files, mirrors and checksums of MNIST.</summary>
    public static IdxDatasetInfo Info { get; } = new(
        "MNIST",
        Classes,
        [new Uri("https://ossci-datasets.s3.amazonaws.com/mnist/"), new Uri("http://yann.lecun.com/exdb/mnist/")],
        new Dictionary<string, string>
        {
            ["train-images-idx3-ubyte.gz"] = "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            ["train-labels-idx1-ubyte.gz"] = "d53e105ee54ea40749a09fcbcd1e9432",
            ["t10k-images-idx3-ubyte.gz"] = "9fb629c4189551a2d022fa330f9573f3",
            ["t10k-labels-idx1-ubyte.gz"] = "ec29112dd5afa0611ce80d1b7f02629c",
        },
        null,
        null,
        null);

    /// <summary>Loads a split of MNIST with the tutorial's parameters (see <see cref="FashionMnist(string?, bool, Transform?, Transform?, bool, string?, bool, TextWriter?, IReadOnlyList{Uri}?)"/>).</summary>
    public Mnist(string? root, bool train = true, Transform? transform = null, Transform? targetTransform = null,
        bool download = false, string? fallback = null, bool searchSystem = true, TextWriter? log = null,
        IReadOnlyList<Uri>? mirrors = null)
        : this(MnistDataset.Load(mirrors is null ? Info : Info with { Mirrors = mirrors }, root, train, download, fallback, searchSystem, log),
            root, train, transform, targetTransform) { }

    Mnist(MnistDataset.Loaded data, string? root, bool train, Transform? transform, Transform? targetTransform)
        : base(data.Images, data.Labels, transform, targetTransform)
    {
        data.Images.Dispose();
        data.Labels.Dispose();
        Root = root;
        Train = train;
        Source = data.Source;
    }

    public string? Root { get; }
    public bool Train { get; }
    public DataSource Source { get; }
    public IReadOnlyList<string> ClassNames => Classes;

    public override string ToString() => MnistDataset.Describe(Info.Name, Count, Root, Train, Source, TransformsText());
}
