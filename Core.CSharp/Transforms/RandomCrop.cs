using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>Pads an image by <see cref="Padding"/> pixels of <see cref="Fill"/> on every side, then
/// cuts a <see cref="Height"/> x <see cref="Width"/> window at a random place drawn from the
/// generator it was given (the usual augmentation for small images: <c>RandomCrop(28, padding: 4)</c>).</summary>
/// <remarks>Works on the last two dimensions of [..., H, W]. On a batch the padding is one call and each
/// sample draws its own window, the same draw it would make alone.</remarks>
sealed class RandomCrop : Transform
{
    readonly Generator generator;

    /// <summary>Creates the transform drawing from <paramref name="generator"/> (a CPU generator).</summary>
    internal RandomCrop(int height, int width, Generator generator, int padding = 0, double fill = 0)
    {
        ArgumentNullException.ThrowIfNull(generator);
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "The crop height is 1 or more.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "The crop width is 1 or more.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "The padding is 0 or more.");
        Height = height;
        Width = width;
        Padding = padding;
        Fill = fill;
        this.generator = generator;
    }

    /// <summary>Creates a square crop with its own generator seeded with <paramref name="seed"/>.</summary>
    internal RandomCrop(int size, long seed, int padding = 0, double fill = 0)
        : this(size, size, Functional.Transforms.RandomHorizontalFlip.Seeded(seed), padding, fill) { }

    /// <summary>The height of the window.</summary>
    public int Height { get; }

    /// <summary>The width of the window.</summary>
    public int Width { get; }

    /// <summary>The pixels added on each side before cropping.</summary>
    public int Padding { get; }

    /// <summary>The value of the added pixels.</summary>
    public double Fill { get; }

    /// <inheritdoc />
    public override bool IsBatched => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.dim() < 2) throw new ArgumentException($"RandomCrop takes an image [..., H, W], got shape {Shapes.Text(sample.shape)}.", nameof(sample));
        using var scope = NewDisposeScope();
        var padded = Pad(sample, nameof(sample));
        var (tops, lefts) = Windows(padded, 1);
        return padded.narrow(-2, tops[0], Height).narrow(-1, lefts[0], Width).clone().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() < 3) throw new ArgumentException($"RandomCrop.ApplyBatch takes images [N, ..., H, W], got shape {Shapes.Text(batch.shape)}.", nameof(batch));
        using var scope = NewDisposeScope();
        var padded = Pad(batch, nameof(batch));
        var n = batch.shape[0];
        var (tops, lefts) = Windows(padded, n);
        var crops = new Tensor[n];
        for (long i = 0; i < n; i++) crops[i] = padded[i].narrow(-2, tops[i], Height).narrow(-1, lefts[i], Width);
        return (n == 0 ? padded.narrow(-2, 0, 0).clone() : stack(crops)).MoveToOuterDisposeScope();
    }

    Tensor Pad(Tensor x, string name)
    {
        var h = x.shape[^2] + 2L * Padding;
        var w = x.shape[^1] + 2L * Padding;
        if (h < Height || w < Width)
            throw new ArgumentException(
                $"RandomCrop({Height}, {Width}, padding={Padding}) needs an image of at least {Height - 2 * Padding} x {Width - 2 * Padding}, got shape {Shapes.Text(x.shape)}.", name);
        return Padding == 0 ? x.alias() : nn.functional.pad(x, new long[] { Padding, Padding, Padding, Padding }, PaddingModes.Constant, Fill);
    }

    // One draw per sample, over all the windows: n samples cut from a batch take the same draws, in the
    // same order, as the same n samples cut one by one, so ApplyBatch equals Apply per sample.
    (long[] Tops, long[] Lefts) Windows(Tensor padded, long n)
    {
        if (n == 0) return ([], []);
        var rows = padded.shape[^2] - Height + 1;
        var columns = padded.shape[^1] - Width + 1;
        using var drawn = randint(0, rows * columns, new[] { n }, ScalarType.Int64, CPU, false, generator);
        var windows = drawn.data<long>();
        var tops = new long[n];
        var lefts = new long[n];
        for (int i = 0; i < n; i++)
        {
            tops[i] = windows[i] / columns;
            lefts[i] = windows[i] % columns;
        }
        return (tops, lefts);
    }

    /// <inheritdoc />
    public override string ToString() => $"RandomCrop(size=({Height}, {Width}), padding={Padding})";
}
