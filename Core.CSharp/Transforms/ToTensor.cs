using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>How the pixels of an image tensor are laid out.</summary>
public enum ImageLayout
{
    /// <summary>Channels first, [C, H, W] (a batch: [N, C, H, W]); what the datasets of Functional give and what convolutions take.</summary>
    Chw,
    /// <summary>Channels last, [H, W, C] (a batch: [N, H, W, C]), as decoded images and NumPy arrays usually are.</summary>
    Hwc,
}

/// <summary>Turns a uint8 image into float32 values in [0, 1], channels first: each value is divided
/// by exactly 255 (so 255 becomes 1.0; TorchVision's MNIST example divides by 256).</summary>
/// <remarks>A [H, W] image becomes [1, H, W]; with <see cref="ImageLayout.Hwc"/> a [H, W, C] image becomes
/// [C, H, W]. Element-wise: a batch is converted in one call.</remarks>
/// <example><code>
/// using var x = Transform.ToTensor().Apply(image);   // uint8 [1, 28, 28] -> float32 [1, 28, 28] in [0, 1]
/// </code></example>
sealed class ToTensor : Transform
{
    /// <summary>Creates the transform for images laid out as <paramref name="layout"/> says.</summary>
    internal ToTensor(ImageLayout layout = ImageLayout.Chw) => Layout = layout;

    /// <summary>The layout of the input images.</summary>
    public ImageLayout Layout { get; }

    /// <inheritdoc />
    public override bool IsBatched => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        CheckByte(sample, nameof(sample));
        return sample.dim() switch
        {
            2 => Scale(sample, s => s.unsqueeze(0)),
            3 => Scale(sample, s => Layout == ImageLayout.Hwc ? s.permute(2, 0, 1) : s.alias()),
            _ => throw new ArgumentException(
                $"ToTensor takes one image as [H, W] or {(Layout == ImageLayout.Hwc ? "[H, W, C]" : "[C, H, W]")}, got shape {Shapes.Text(sample.shape)}. " +
                "For a batch, use ApplyBatch.", nameof(sample)),
        };
    }

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckByte(batch, nameof(batch));
        return batch.dim() switch
        {
            3 => Scale(batch, s => s.unsqueeze(1)),
            4 => Scale(batch, s => Layout == ImageLayout.Hwc ? s.permute(0, 3, 1, 2) : s.alias()),
            _ => throw new ArgumentException(
                $"ToTensor.ApplyBatch takes images as [N, H, W] or {(Layout == ImageLayout.Hwc ? "[N, H, W, C]" : "[N, C, H, W]")}, got shape {Shapes.Text(batch.shape)}.",
                nameof(batch)),
        };
    }

    static void CheckByte(Tensor t, string name)
    {
        if (t.dtype != ScalarType.Byte)
            throw new ArgumentException($"ToTensor converts uint8 images (0..255); got dtype {t.dtype}. A float image is already converted: leave ToTensor out.", name);
    }

    static Tensor Scale(Tensor input, Func<Tensor, Tensor> arrange)
    {
        using var view = arrange(input);
        var result = view.to_type(ScalarType.Float32, copy: true);
        if (!result.is_contiguous())
        {
            var packed = result.contiguous();
            result.Dispose();
            result = packed;
        }
        result.DivInPlace(255.0);
        return result;
    }

    /// <inheritdoc />
    public override string ToString() => Layout == ImageLayout.Chw ? "ToTensor()" : "ToTensor(layout=Hwc)";
}
