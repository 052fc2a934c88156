using System.Text;
using CsvHelper;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>The tutorial's custom dataset: a CSV annotations file of (image file name, label) lines and
/// a folder of images (PNG, JPEG, grayscale or colour), decoded with SkiaSharp into uint8 [C, H, W]
/// tensors, with <c>transform</c> and <c>target_transform</c>.</summary>
/// <remarks>
/// <para>The CSV (RFC 4180, read with CsvHelper) is read and checked when the dataset is made, strictly: a header
/// line <c>file,label</c> (any names) comes first unless <c>hasHeader</c> is false, as <c>pandas.read_csv</c> in the
/// tutorial expects; then every line has exactly two fields, an existing image file and an integer label 0 or
/// more (below <c>classCount</c> when it is given), and there is at least one such line. Otherwise an
/// <see cref="InvalidDataException"/> names the CSV, the line and what was expected: nothing is guessed or
/// skipped. Images are decoded when a sample is asked for; an unreadable image raises
/// <see cref="InvalidDataException"/> naming the image and the CSV line.</para>
/// <para>With a <see cref="DataLoader"/> that has workers, images are decoded in the workers (no LibTorch
/// there) and made into one tensor per batch on the consuming thread; each transform then runs on the
/// batch (once for a batched transform, per sample for a per-sample one). A batch of images of different
/// sizes is transformed image by image, as PyTorch's <c>Dataset</c> does, then stacked: the transform
/// must make them one size (a crop, say).</para>
/// </remarks>
public sealed class ImageFolderCsvDataset : IDataset<Sample>, IBatchProducer
{
    readonly (string File, long Label, int Line)[] entries;

    /// <summary>Reads the annotations and checks that every image file exists.</summary>
    /// <param name="annotationsFile">CSV lines "file name,label" (file names relative to <paramref name="imageDirectory"/>).</param>
    /// <param name="imageDirectory">The folder of the images.</param>
    /// <param name="transform">Applied to each image tensor (uint8 [C, H, W]).</param>
    /// <param name="targetTransform">Applied to each label (an int64 scalar).</param>
    /// <param name="mode">How many channels the images get.</param>
    /// <param name="hasHeader">Whether the first line is a header (default true, as <c>pandas.read_csv</c>); a header
    /// whose second field is an integer is refused as a sample line, so that no sample is dropped silently.</param>
    /// <param name="classCount">The number of classes: labels must be 0 to <c>classCount - 1</c>; null accepts any label 0 or more.</param>
    /// <exception cref="FileNotFoundException">The annotations file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The image folder does not exist.</exception>
    /// <exception cref="InvalidDataException">The file has no samples, or a line is empty, has other than two fields, has a
    /// bad or out-of-range label, names a missing file, or breaks the quoting rules; the message names the line.</exception>
    public ImageFolderCsvDataset(string annotationsFile, string imageDirectory, Transform? transform = null,
        Transform? targetTransform = null, ImageReadMode mode = ImageReadMode.Unchanged, bool hasHeader = true, int? classCount = null)
    {
        if (classCount is < 1) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "The number of classes is 1 or more (or null for no bound).");
        ArgumentNullException.ThrowIfNull(annotationsFile);
        ArgumentNullException.ThrowIfNull(imageDirectory);
        if (!File.Exists(annotationsFile)) throw new FileNotFoundException($"Annotations file not found: {annotationsFile}", annotationsFile);
        if (!Directory.Exists(imageDirectory)) throw new DirectoryNotFoundException($"Image folder not found: {imageDirectory}");
        AnnotationsFile = annotationsFile;
        ImageDirectory = imageDirectory;
        Transform = transform;
        TargetTransform = targetTransform;
        Mode = mode;
        entries = ParseAnnotations(annotationsFile, imageDirectory, hasHeader, classCount);
    }

    /// <summary>The CSV annotations file.</summary>
    public string AnnotationsFile { get; }

    /// <summary>The folder of the images.</summary>
    public string ImageDirectory { get; }

    /// <summary>Applied to each image.</summary>
    public Transform? Transform { get; }

    /// <summary>Applied to each label.</summary>
    public Transform? TargetTransform { get; }

    /// <summary>How many channels the images get.</summary>
    public ImageReadMode Mode { get; }

    /// <inheritdoc />
    public int Count => entries.Length;

    /// <summary>The image file (full path) and label of sample <paramref name="index"/>, without decoding it.</summary>
    public (string Path, long Label) Entry(int index)
    {
        var e = entries[CheckIndex(index)];
        return (Path.Combine(ImageDirectory, e.File), e.Label);
    }

    int CheckIndex(int index) =>
        (uint)index < (uint)entries.Length ? index
            : throw new ArgumentOutOfRangeException(nameof(index), index, $"The dataset has {entries.Length} samples: an index is 0 to {entries.Length - 1}.");

    /// <summary>Decodes image <paramref name="index"/> without LibTorch (any thread).</summary>
    /// <exception cref="InvalidDataException">The image cannot be decoded; the message names it and its CSV line.</exception>
    internal DecodedImage ReadImage(int index)
    {
        var e = entries[CheckIndex(index)];
        var path = Path.Combine(ImageDirectory, e.File);
        try
        {
            return ImageFile.Read(path, Mode);
        }
        catch (InvalidDataException err)
        {
            throw new InvalidDataException($"{AnnotationsFile}, line {e.Line}: {Printable.Escape(err.Message)}", err);
        }
        catch (FileNotFoundException err)
        {
            throw new InvalidDataException($"{AnnotationsFile}, line {e.Line}: image file {path} has disappeared since the dataset was made.", err);
        }
    }

    /// <inheritdoc />
    public Sample this[int index]
    {
        get
        {
            var image = ReadImage(index);
            using var scope = NewDisposeScope();
            var x = image.ToTensor();
            var y = tensor(entries[index].Label);
            var fx = Transform is null ? x : Transform.Apply(x);
            var fy = TargetTransform is null ? y : TargetTransform.Apply(y);
            return new Sample(fx.DetachFromDisposeScope(), fy.DetachFromDisposeScope());
        }
    }

    // Images of one size, packed into one buffer: one tensor per batch, the transforms applied to the batch.
    sealed record HostBatch(byte[] Pixels, long[] Shape, long[] Labels);

    // Images of different sizes: each transformed alone, then stacked, as PyTorch's Dataset and collate do.
    sealed record MixedBatch(DecodedImage[] Images, int[] Indices);

    object IBatchProducer.Prepare(int[] indices)
    {
        var images = new DecodedImage[indices.Length];
        var labels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            images[i] = ReadImage(indices[i]);
            labels[i] = entries[indices[i]].Label;
        }
        if (images.Length == 0) return new HostBatch([], [0, 1, 0, 0], labels);
        var first = images[0];
        foreach (var image in images)
            if (image.Channels != first.Channels || image.Height != first.Height || image.Width != first.Width)
                return new MixedBatch(images, indices);
        var size = first.Pixels.Length;
        var pixels = new byte[(long)images.Length * size];
        for (int i = 0; i < images.Length; i++) Buffer.BlockCopy(images[i].Pixels, 0, pixels, i * size, size);
        return new HostBatch(pixels, [images.Length, first.Channels, first.Height, first.Width], labels);
    }

    (Tensor Features, Tensor Labels) IBatchProducer.Finish(object prepared)
    {
        if (prepared is MixedBatch mixed) return FinishMixed(mixed);
        var host = (HostBatch)prepared;
        Tensor x, y;
        using (var scope = NewDisposeScope())
        {
            x = tensor(host.Pixels, host.Shape, ScalarType.Byte).DetachFromDisposeScope();
            y = tensor(host.Labels, ScalarType.Int64).DetachFromDisposeScope();
        }
        return Transform.ApplyBatchToOwned(Transform, TargetTransform, x, y);
    }

    (Tensor Features, Tensor Labels) FinishMixed(MixedBatch batch)
    {
        using var scope = NewDisposeScope();
        var n = batch.Images.Length;
        var features = new Tensor[n];
        var labels = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var x = batch.Images[i].ToTensor();
            var y = tensor(entries[batch.Indices[i]].Label);
            features[i] = Transform is null ? x : Transform.Apply(x);
            labels[i] = TargetTransform is null ? y : TargetTransform.Apply(y);
        }
        for (int i = 1; i < n; i++)
            if (!features[i].shape.SequenceEqual(features[0].shape))
            {
                var a = entries[batch.Indices[0]];
                var b = entries[batch.Indices[i]];
                throw new InvalidDataException(
                    $"{AnnotationsFile}: images in a batch must have the same size to be stacked: {a.File} (line {a.Line}) gives {Shapes.Text(features[0].shape)}, " +
                    $"{b.File} (line {b.Line}) gives {Shapes.Text(features[i].shape)}{(Transform is null ? "" : $" after {Transform}")}. " +
                    "Give the dataset a transform that makes every image the same size (such as a crop), resize the images, or use a loader with batch size 1.");
            }
        var stackedFeatures = Collate.Stack(features, Transform);
        var stackedLabels = Collate.Stack(labels, TargetTransform);
        return (stackedFeatures.DetachFromDisposeScope(), stackedLabels.DetachFromDisposeScope());
    }

    void IBatchProducer.Discard(object prepared) { }

    const string Expected = "expected \"file name,label\"";

    static (string File, long Label, int Line)[] ParseAnnotations(string csv, string folder, bool hasHeader, int? classCount)
    {
        var options = new CsvReaderOptions
        {
            Separator = ',',
            Mode = CsvMode.Rfc4180,
            HasHeader = false,                 // the header is checked here, to refuse a sample line taken for one
            SkipEmptyLines = false,
            TrimWhitespace = true,
            TrackLineNumbers = true,
            MalformedData = CsvMalformedDataHandling.Throw,
            MaxRecordSize = 1 << 20,
            Encoding = Encoding.UTF8,
        };
        var result = new List<(string, long, int)>();
        try
        {
            using var reader = CsvReader.FromFile(csv, options);
            var first = true;
            while (reader.Read())
            {
                var line = checked((int)reader.LineNumber);
                var fields = new string[reader.FieldCount];
                for (int i = 0; i < fields.Length; i++) fields[i] = reader.GetString(i) ?? "";
                if (fields.Length == 1 && fields[0].Length == 0)
                    throw new InvalidDataException($"{csv}, line {line}: the line is empty; {Expected}.");
                if (fields.Length != 2)
                    throw new InvalidDataException(
                        $"{csv}, line {line}: found {fields.Length} field{(fields.Length == 1 ? "" : "s")}; {Expected}, two fields{(fields.Length > 2 ? " (no extra columns)" : "")}.");
                var isLabel = long.TryParse(fields[1], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var label);
                if (first)
                {
                    first = false;
                    if (hasHeader)
                    {
                        if (isLabel)
                            throw new InvalidDataException(
                                $"{csv}, line {line}: a header was expected, but the line is a sample ({Printable.Escape(fields[0])}, label {label}); " +
                                "pass hasHeader: false for a file without a header line.");
                        continue;
                    }
                }
                if (!isLabel)
                    throw new InvalidDataException(
                        $"{csv}, line {line}: the label \"{Printable.Escape(fields[1])}\" is not an integer class index; {Expected} with label 0, 1, 2, ...{(line == 1 ? " If the line is a header, pass hasHeader: true." : "")}");
                if (label < 0)
                    throw new InvalidDataException($"{csv}, line {line}: the label {label} is negative; expected a class index 0 or more.");
                if (classCount is { } classes && label >= classes)
                    throw new InvalidDataException($"{csv}, line {line}: the label {label} is not a class index 0 to {classes - 1} ({classes} classes).");
                var file = fields[0];
                if (file.Length == 0)
                    throw new InvalidDataException($"{csv}, line {line}: the file name is empty; {Expected}.");
                var path = Path.Combine(folder, file);
                if (!File.Exists(path))
                    throw new InvalidDataException($"{csv}, line {line}: image file {Printable.Escape(path)} does not exist; expected it in {folder}.");
                result.Add((file, label, line));
            }
        }
        catch (CsvFormatException e)
        {
            throw new InvalidDataException(
                $"{csv}, line {(e.LineNumber > 0 ? e.LineNumber : e.RecordNumber)}: the CSV quoting is broken ({Printable.Escape(e.Message)}); a quoted field starts and ends with \" and doubles any \" inside.", e);
        }
        if (result.Count == 0)
            throw new InvalidDataException($"{csv}: the file has no samples{(hasHeader ? " after its header line" : "")}; {Expected} lines.");
        return result.ToArray();
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = $"Dataset ImageFolderCsv\n    Number of datapoints: {Count}\n    Annotations: {AnnotationsFile}\n    Images: {ImageDirectory}";
        var transforms = TensorDataset.StandardTransformText(Transform, TargetTransform);
        return transforms.Length == 0 ? text : text + "\n    " + transforms;
    }
}
