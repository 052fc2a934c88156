using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>Pictures of samples written to PNG: the tutorial's 3x3 grid of random training images
/// titled with their class names, and a single image.</summary>
/// <remarks>Drawn with SkiaSharp. Pixels are shown as they are (uint8 0..255, or float 0..1 scaled by
/// 255; no contrast stretching), each enlarged by an integer factor without smoothing. Titles use the
/// first usable system font (DejaVu Sans, Liberation Sans, Arial, Helvetica...); when a system has no
/// font at all, <see cref="HasFont"/> is false and the pictures are drawn without titles.</remarks>
public static class SamplePictures
{
    static readonly Lazy<SKTypeface?> Typeface = new(FindTypeface);

    /// <summary>Whether a font was found to draw titles with.</summary>
    public static bool HasFont => Typeface.Value is not null;

    static SKTypeface? FindTypeface()
    {
        var preferred = new[] { "DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc", "NotoSans-Regular.ttf" };
        var folders = new[] { "/usr/share/fonts", "/usr/local/share/fonts", "/System/Library/Fonts", "/Library/Fonts",
            Environment.GetFolderPath(Environment.SpecialFolder.Fonts) };
        foreach (var name in preferred)
            foreach (var folder in folders)
            {
                if (string.IsNullOrEmpty(folder) || !Directory.Exists(folder)) continue;
                var hit = Directory.EnumerateFiles(folder, name, SearchOption.AllDirectories).FirstOrDefault();
                var face = hit is null ? null : SKTypeface.FromFile(hit);
                if (face is not null) return face;
            }
        var fallback = SKTypeface.Default;
        using var font = new SKFont(fallback);
        return font.ContainsGlyphs("Ag") ? fallback : null;
    }

    /// <summary>Draws <paramref name="rows"/> x <paramref name="columns"/> random samples of a dataset
    /// (drawn with replacement from a generator seeded with <paramref name="seed"/>, as the tutorial's
    /// <c>torch.randint</c>) titled with their class names, and writes the picture as PNG.</summary>
    /// <returns>The indices of the samples drawn, row by row.</returns>
    public static int[] SaveGrid(IDataset<Sample> dataset, string path, IReadOnlyList<string>? classNames = null,
        int rows = 3, int columns = 3, long seed = 0, int scale = 6)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(path);
        if (rows < 1 || columns < 1) throw new ArgumentException($"A grid has at least 1 row and 1 column, got {rows} x {columns}.", nameof(rows));
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale is 1 or more.");
        if (dataset.Count == 0) throw new ArgumentException("The dataset is empty: there is nothing to draw.", nameof(dataset));
        Native.EnsureLoaded();
        int[] indices;
        using (var generator = new Generator(unchecked((ulong)seed), CPU))
        using (var draw = randint(0, dataset.Count, new long[] { rows * columns }, ScalarType.Int64, CPU, false, generator))
            indices = draw.data<long>().ToArray().Select(i => (int)i).ToArray();
        var cells = new List<(DecodedImage Image, string Title)>();
        foreach (var index in indices)
        {
            using var sample = dataset[index];
            cells.Add((ToPixels(sample.Features), TitleOf(sample.Label, classNames)));
        }
        Draw(path, cells, rows, columns, scale);
        return indices;
    }

    /// <summary>Writes one image (uint8 or float in [0, 1]; [C, H, W] or [H, W]) as PNG, with an optional title above it.</summary>
    public static void SaveImage(Tensor image, string path, string? title = null, int scale = 8)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(path);
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale is 1 or more.");
        Draw(path, [(ToPixels(image), title ?? "")], 1, 1, scale);
    }

    static string TitleOf(Tensor label, IReadOnlyList<string>? classNames)
    {
        if (label.dim() != 0 || label.is_floating_point())
        {
            // A one-hot (or probability) vector: its largest entry is the class.
            if (label.dim() != 1) return "";
            using var arg = label.argmax();
            return Name(arg.item<long>());
        }
        using var l = label.to_type(ScalarType.Int64);
        return Name(l.item<long>());

        string Name(long i) => classNames is not null && i >= 0 && i < classNames.Count ? classNames[(int)i] : i.ToString();
    }

    static DecodedImage ToPixels(Tensor image)
    {
        if (image.dtype == ScalarType.Byte) return ImageFile.FromTensor(image);
        if (!image.is_floating_point())
            throw new ArgumentException($"An image to draw is uint8 (0..255) or float (0..1), got {image.dtype}.", nameof(image));
        using var scope = NewDisposeScope();
        using var zero = 0.ToScalar();          // scalars kept through the calls (see KeptScalars)
        using var top = 255.ToScalar();
        var bytes = image.detach().cpu().mul(top).round().clamp(zero, top).to_type(ScalarType.Byte);
        return ImageFile.FromTensor(bytes);
    }

    static void Draw(string path, IReadOnlyList<(DecodedImage Image, string Title)> cells, int rows, int columns, int scale)
    {
        var cellWidth = cells.Max(c => c.Image.Width) * scale;
        var cellHeight = cells.Max(c => c.Image.Height) * scale;
        var face = Typeface.Value;
        var hasTitles = face is not null && cells.Any(c => c.Title.Length > 0);
        var fontSize = Math.Max(12f, Math.Min(28f, cellWidth / 8f));
        var titleHeight = hasTitles ? (int)(fontSize * 1.6f) : 0;
        const int margin = 12;
        var width = margin + columns * (cellWidth + margin);
        var height = margin + rows * (titleHeight + cellHeight + margin);
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = face is null ? null : new SKFont(face, fontSize);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        for (int k = 0; k < cells.Count; k++)
        {
            var (image, title) = cells[k];
            int r = k / columns, c = k % columns;
            var left = margin + c * (cellWidth + margin);
            var top = margin + r * (titleHeight + cellHeight + margin);
            if (font is not null && title.Length > 0)
            {
                var textWidth = font.MeasureText(title);
                canvas.DrawText(title, left + (cellWidth - textWidth) / 2, top + fontSize * 1.1f, SKTextAlign.Left, font, ink);
            }
            using var bitmap = ImageFile.ToBitmap(image);
            using var picture = SKImage.FromBitmap(bitmap);
            var target = new SKRect(left, top + titleHeight, left + image.Width * scale, top + titleHeight + image.Height * scale);
            canvas.DrawImage(picture, target, new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
        }
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        Serialization.AtomicFile.Write(full, png.SaveTo);
    }
}
