using System.Runtime.InteropServices;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>How many channels a decoded image gets (TorchVision's <c>ImageReadMode</c>).</summary>
public enum ImageReadMode
{
    /// <summary>As stored: 1 channel for grayscale, 3 for colour, 4 for colour with transparency.</summary>
    Unchanged,
    /// <summary>1 channel; colour is converted with the ITU-R BT.601 luma weights (0.299, 0.587, 0.114).</summary>
    Gray,
    /// <summary>3 channels, red, green, blue.</summary>
    Rgb,
    /// <summary>4 channels, red, green, blue, alpha (unpremultiplied).</summary>
    RgbAlpha,
}

/// <summary>A decoded image in .NET memory: uint8 pixels, channels first ([C, H, W], row-major).</summary>
/// <param name="Pixels">The values, channel by channel, row by row.</param>
/// <param name="Channels">1, 3 or 4.</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
internal sealed record DecodedImage(byte[] Pixels, int Channels, int Height, int Width)
{
    /// <summary>The image as a uint8 [C, H, W] tensor (a copy; the caller owns it).</summary>
    public Tensor ToTensor()
    {
        Native.EnsureLoaded();
        return tensor(Pixels, new long[] { Channels, Height, Width }, ScalarType.Byte);
    }
}

/// <summary>Reads and writes image files (PNG, JPEG, and whatever else SkiaSharp decodes) as
/// channels-first uint8 pixels.</summary>
public static class ImageFile
{
    /// <summary>Decodes an image file. Needs no LibTorch, so it can run on any thread.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an image SkiaSharp can decode, or its data is incomplete.</exception>
    internal static DecodedImage Read(string path, ImageReadMode mode = ImageReadMode.Unchanged)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Image file not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        using var stream = new MemoryStream(bytes, writable: false);
        using var codec = SKCodec.Create(stream, out var created);
        if (codec is null)
            throw new InvalidDataException($"{path}: not a readable image ({created}); expected a PNG, JPEG, GIF, BMP or WebP file.");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0)
            throw new InvalidDataException($"{path}: the image has size {info.Width} x {info.Height}; expected at least 1 x 1.");
        var sourceGray = info.ColorType == SKColorType.Gray8;
        var sourceAlpha = !sourceGray && info.AlphaType != SKAlphaType.Opaque;
        var channels = mode switch
        {
            ImageReadMode.Gray => 1,
            ImageReadMode.Rgb => 3,
            ImageReadMode.RgbAlpha => 4,
            _ => sourceGray ? 1 : sourceAlpha ? 4 : 3,
        };
        int w = info.Width, h = info.Height, plane = w * h;
        var pixels = new byte[channels * plane];
        if (sourceGray && channels == 1)
        {
            Decode(codec, new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque), pixels, w, path);
            return new DecodedImage(pixels, 1, h, w);
        }
        var rgba = new byte[4 * plane];
        Decode(codec, new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul), rgba, 4 * w, path);
        if (channels == 1)
        {
            for (int p = 0; p < plane; p++)
            {
                var luma = 0.299 * rgba[4 * p] + 0.587 * rgba[4 * p + 1] + 0.114 * rgba[4 * p + 2];
                pixels[p] = (byte)Math.Clamp((int)Math.Round(luma), 0, 255);
            }
        }
        else
        {
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                    pixels[c * plane + p] = rgba[4 * p + c];
        }
        return new DecodedImage(pixels, channels, h, w);
    }

    static void Decode(SKCodec codec, SKImageInfo target, byte[] buffer, int rowBytes, string path)
    {
        var handle = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(target, handle.AddrOfPinnedObject(), rowBytes, new SKCodecOptions(SKZeroInitialized.Yes));
            if (result != SKCodecResult.Success)
                throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                    ? $"{path}: the image data is incomplete (the file is truncated or damaged); expected a complete {codec.EncodedFormat} image of {codec.Info.Width} x {codec.Info.Height}."
                    : $"{path}: the {codec.EncodedFormat} image could not be decoded ({result}).");
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Reads an image file straight into a uint8 [C, H, W] tensor (TorchVision's <c>read_image</c>).</summary>
    public static Tensor ReadTensor(string path, ImageReadMode mode = ImageReadMode.Unchanged) => Read(path, mode).ToTensor();

    /// <summary>Writes a uint8 [C, H, W] (1, 3 or 4 channels) or [H, W] tensor as a PNG or JPEG file,
    /// chosen by the extension (.png, .jpg/.jpeg); TorchVision's <c>write_png</c>/<c>write_jpeg</c>.</summary>
    /// <param name="path">The file to write; its folder is created when missing.</param>
    /// <param name="image">A uint8 image; scale a float image in [0, 1] with <c>(x * 255).round().to(uint8)</c> first.</param>
    /// <param name="quality">The JPEG quality, 0 to 100 (ignored for PNG).</param>
    public static void WriteTensor(string path, Tensor image, int quality = 95) => Write(path, FromTensor(image), quality);

    /// <summary>Encodes channels-first uint8 pixels (1, 3 or 4 channels) as a PNG or JPEG file,
    /// chosen by the extension (.png, .jpg/.jpeg).</summary>
    internal static void Write(string path, DecodedImage image, int quality = 95)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(image);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var format = ext switch
        {
            ".png" => SKEncodedImageFormat.Png,
            ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
            _ => throw new ArgumentException($"Cannot tell the image format of '{path}': use .png, .jpg or .jpeg.", nameof(path)),
        };
        using var bitmap = ToBitmap(image);
        using var encoded = bitmap.Encode(format, quality);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = File.Create(path);
        encoded.SaveTo(file);
    }

    /// <summary>A SkiaSharp bitmap of channels-first uint8 pixels (1 channel: grayscale; 3 or 4: colour).</summary>
    internal static SKBitmap ToBitmap(DecodedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int w = image.Width, h = image.Height, plane = w * h;
        if (image.Channels is not (1 or 3 or 4) || image.Pixels.Length != image.Channels * plane)
            throw new ArgumentException($"An image has 1, 3 or 4 channels and C*H*W values; got {image.Channels} channels, {h} x {w}, {image.Pixels.Length} values.", nameof(image));
        SKBitmap bitmap;
        if (image.Channels == 1)
        {
            bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque));
            Marshal.Copy(image.Pixels, 0, bitmap.GetPixels(), plane);
            return bitmap;
        }
        bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, image.Channels == 4 ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        var rgba = new byte[4 * plane];
        for (int p = 0; p < plane; p++)
        {
            rgba[4 * p] = image.Pixels[p];
            rgba[4 * p + 1] = image.Pixels[plane + p];
            rgba[4 * p + 2] = image.Pixels[2 * plane + p];
            rgba[4 * p + 3] = image.Channels == 4 ? image.Pixels[3 * plane + p] : (byte)255;
        }
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    /// <summary>The pixels of a uint8 [C, H, W] or [H, W] tensor, for writing or drawing.</summary>
    internal static DecodedImage FromTensor(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dtype != ScalarType.Byte)
            throw new ArgumentException($"FromTensor takes a uint8 image; got {image.dtype}. Scale a float image in [0, 1] with (x * 255).round().to(uint8) first.", nameof(image));
        using var scope = NewDisposeScope();
        var chw = image.dim() == 2 ? image.unsqueeze(0) : image.alias();
        if (chw.dim() != 3)
            throw new ArgumentException($"FromTensor takes [C, H, W] or [H, W], got {Shapes.Text(image.shape)}.", nameof(image));
        var cpu = chw.cpu().contiguous();
        return new DecodedImage(cpu.data<byte>().ToArray(), (int)chw.shape[0], (int)chw.shape[1], (int)chw.shape[2]);
    }
}
