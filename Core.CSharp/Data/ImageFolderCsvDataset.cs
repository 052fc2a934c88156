using System.Text;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>The tutorial's custom dataset: a CSV annotations file of (image file name, label) lines and
/// a folder of images (PNG, JPEG, grayscale or colour), decoded with SkiaSharp into uint8 [C, H, W]
/// tensors, with <c>transform</c> and <c>target_transform</c>.</summary>
/// <remarks>
/// <para>The CSV is read and checked when the dataset is made: every line has a file name and an integer
/// label, and every file exists; otherwise an <see cref="InvalidDataException"/> names the CSV, the line
/// and what was expected. A first line whose label is not an integer is taken as a header (unless
/// <c>hasHeader</c> says otherwise). Images are decoded when a sample is asked for; an unreadable image
/// raises <see cref="InvalidDataException"/> naming the image and the CSV line.</para>
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
    /// <param name="hasHeader">Whether the first line is a header; null decides from its label field.</param>
    /// <exception cref="FileNotFoundException">The annotations file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The image folder does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is empty, lacks a field, has a bad label or names a missing file.</exception>
    public ImageFolderCsvDataset(string annotationsFile, string imageDirectory, Transform? transform = null,
        Transform? targetTransform = null, ImageReadMode mode = ImageReadMode.Unchanged, bool? hasHeader = null)
    {
        ArgumentNullException.ThrowIfNull(annotationsFile);
        ArgumentNullException.ThrowIfNull(imageDirectory);
        if (!File.Exists(annotationsFile)) throw new FileNotFoundException($"Annotations file not found: {annotationsFile}", annotationsFile);
        if (!Directory.Exists(imageDirectory)) throw new DirectoryNotFoundException($"Image folder not found: {imageDirectory}");
        AnnotationsFile = annotationsFile;
        ImageDirectory = imageDirectory;
        Transform = transform;
        TargetTransform = targetTransform;
        Mode = mode;
        entries = ParseAnnotations(annotationsFile, imageDirectory, hasHeader);
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
            throw new InvalidDataException($"{AnnotationsFile}, line {e.Line}: {err.Message}", err);
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

    static (string File, long Label, int Line)[] ParseAnnotations(string csv, string folder, bool? hasHeader)
    {
        var lines = File.ReadAllLines(csv, Encoding.UTF8);
        var result = new List<(string, long, int)>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            var number = i + 1;
            var line = lines[i];
            if (string.IsNullOrWhiteSpace(line))
                throw new InvalidDataException($"{csv}, line {number}: the line is empty; expected \"file name,label\".");
            var fields = SplitCsv(line, csv, number);
            if (fields.Count < 2)
                throw new InvalidDataException($"{csv}, line {number}: found {fields.Count} field \"{line}\"; expected \"file name,label\".");
            var file = fields[0].Trim();
            var labelText = fields[1].Trim();
            var isLabel = long.TryParse(labelText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var label);
            if (i == 0 && (hasHeader == true || (hasHeader is null && !isLabel))) continue;
            if (!isLabel)
                throw new InvalidDataException($"{csv}, line {number}: the label \"{labelText}\" is not an integer class index; expected \"file name,label\" with label 0, 1, 2, ...");
            if (label < 0)
                throw new InvalidDataException($"{csv}, line {number}: the label {label} is negative; expected a class index 0 or more.");
            if (file.Length == 0)
                throw new InvalidDataException($"{csv}, line {number}: the file name is empty; expected \"file name,label\".");
            var path = Path.Combine(folder, file);
            if (!File.Exists(path))
                throw new InvalidDataException($"{csv}, line {number}: image file {path} does not exist; expected it in {folder}.");
            result.Add((file, label, number));
        }
        return result.ToArray();
    }

    static List<string> SplitCsv(string line, string csv, int number)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"' && field.ToString().Trim().Length == 0) { field.Clear(); quoted = true; }
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        if (quoted) throw new InvalidDataException($"{csv}, line {number}: a quoted field is not closed; expected a closing \".");
        fields.Add(field.ToString());
        return fields;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = $"Dataset ImageFolderCsv\n    Number of datapoints: {Count}\n    Annotations: {AnnotationsFile}\n    Images: {ImageDirectory}";
        var transforms = TensorDataset.StandardTransformText(Transform, TargetTransform);
        return transforms.Length == 0 ? text : text + "\n    " + transforms;
    }
}
