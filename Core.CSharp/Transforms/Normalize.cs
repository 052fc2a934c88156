using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>Normalizes each channel of a float image: <c>(x - mean[c]) / std[c]</c>, as in PyTorch.</summary>
/// <remarks>The channel dimension is the third from the end ([C, H, W] or [N, C, H, W]), so the same
/// transform works on a sample and on a batch; one mean and one std apply to every channel.</remarks>
sealed class Normalize : Transform
{
    readonly double[] mean;
    readonly double[] std;

    /// <summary>Creates the transform; <paramref name="mean"/> and <paramref name="std"/> have one value per channel (or one for all).</summary>
    /// <exception cref="ArgumentException">The lists are empty, differ in length, or a std is not positive.</exception>
    internal Normalize(IEnumerable<double> mean, IEnumerable<double> std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        this.mean = mean.ToArray();
        this.std = std.ToArray();
        if (this.mean.Length == 0 || this.mean.Length != this.std.Length)
            throw new ArgumentException($"Normalize needs as many means as stds, at least one: got {this.mean.Length} means and {this.std.Length} stds.", nameof(std));
        if (this.std.Any(s => !(s > 0)))
            throw new ArgumentException($"Normalize divides by std: every std must be positive, got {Shapes.Text(this.std)}.", nameof(std));
    }

    /// <summary>The per-channel means.</summary>
    public IReadOnlyList<double> Mean => mean;

    /// <summary>The per-channel standard deviations.</summary>
    public IReadOnlyList<double> Std => std;

    /// <inheritdoc />
    public override bool IsBatched => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample) => Run(sample, nameof(sample));

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch) => Run(batch, nameof(batch));

    Tensor Run(Tensor x, string name)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.is_floating_point())
            throw new ArgumentException($"Normalize takes a float image, got dtype {x.dtype}; put ToTensor before it.", name);
        if (x.dim() < 3)
            throw new ArgumentException($"Normalize takes [C, H, W] or [N, C, H, W], got shape {Shapes.Text(x.shape)}.", name);
        var channels = x.shape[^3];
        if (mean.Length != 1 && mean.Length != channels)
            throw new ArgumentException($"Normalize has {mean.Length} means and stds, but the image has {channels} channels (shape {Shapes.Text(x.shape)}).", name);
        using var scope = NewDisposeScope();
        var m = tensor(mean, dtype: x.dtype, device: x.device).reshape(mean.Length, 1, 1);
        var s = tensor(std, dtype: x.dtype, device: x.device).reshape(std.Length, 1, 1);
        return x.sub(m).div_(s).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override string ToString() => $"Normalize(mean={Shapes.Text(mean)}, std={Shapes.Text(std)})";
}
