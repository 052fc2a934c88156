using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>How many channels a decoded image gets: TorchVision's <c>ImageReadMode</c>, with its numbering.</summary>
/// <remarks>
/// What each mode gives follows TorchVision's <c>read_image</c> (libpng and libjpeg underneath), see
/// <see cref="ImageFile.ReadTensor"/>.
/// </remarks>
public enum ImageReadMode
{
    /// <summary>As stored: 1 channel for grayscale, 2 for grayscale with alpha, 3 for colour, 4 for colour with
    /// alpha; a palette PNG gives its palette indices (1 channel), as TorchVision does.</summary>
    Unchanged = 0,
    /// <summary>1 channel; colour is converted to luma (for PNG libpng's weights 0.2989, 0.587, 0.1141, for other
    /// formats the ITU-R BT.601 weights 0.299, 0.587, 0.114); alpha is dropped.</summary>
    Gray = 1,
    /// <summary>2 channels, luma and alpha (alpha 255 when the image has none).</summary>
    GrayAlpha = 2,
    /// <summary>3 channels, red, green, blue; alpha is dropped.</summary>
    Rgb = 3,
    /// <summary>4 channels, red, green, blue, alpha (unpremultiplied; 255 when the image has none).</summary>
    RgbAlpha = 4,
}

/// <summary>A decoded image in .NET memory: uint8 pixels, channels first ([C, H, W], row-major).</summary>
/// <param name="Pixels">The values, channel by channel, row by row.</param>
/// <param name="Channels">1 to 4.</param>
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

/// <summary>What a PNG's header (IHDR) and palette say, read before any pixel is decoded.</summary>
/// <param name="Width">Columns, as stored (up to 2^31 - 1).</param>
/// <param name="Height">Rows, as stored.</param>
/// <param name="BitDepth">1, 2, 4, 8 or 16.</param>
/// <param name="ColorType">0 gray, 2 RGB, 3 palette, 4 gray and alpha, 6 RGBA.</param>
/// <param name="Palette">The palette's colours as RGBA (alpha from tRNS, else 255); empty unless <paramref name="ColorType"/> is 3.</param>
internal sealed record PngHeader(long Width, long Height, int BitDepth, int ColorType, uint[] Palette)
{
    /// <summary>The bytes of compressed image data (all IDAT chunks) that the file holds.</summary>
    public long CompressedBytes { get; init; }

    /// <summary>Deflate expands data at most 1032 times (a 258-byte match for each pair of bits, at best).</summary>
    internal const long MaxDeflateRatio = 1032;

    /// <summary>The fewest bytes the decompressed image data of this header can take: every pixel's bits (filter bytes
    /// and the padding of rows not counted, so this holds for interlaced images too). Zero for a colour type or bit
    /// depth that is not PNG's: the decoder refuses those.</summary>
    public decimal LeastRawBytes
    {
        get
        {
            var samples = ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
            if (BitDepth is not (1 or 2 or 4 or 8 or 16)) return 0;
            return Math.Ceiling((decimal)Width * Height * samples * BitDepth / 8m);
        }
    }

    static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>The header of PNG bytes, or null when they are not a PNG (or too short to say).</summary>
    /// <remarks>Only the chunk framing is read here (length, type, data); decoding stays with SkiaSharp.</remarks>
    internal static PngHeader? TryRead(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 8 + 8 + 13 || !bytes[..8].SequenceEqual(Signature)) return null;
        if (!bytes.Slice(12, 4).SequenceEqual("IHDR"u8)) return null;
        var ihdr = bytes.Slice(16, 13);
        var header = new PngHeader(BinaryPrimitives.ReadUInt32BigEndian(ihdr), BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]), ihdr[8], ihdr[9], []);
        // The palette (PLTE) and its transparency (tRNS) come before the first IDAT chunk; the IDAT chunks are counted.
        byte[]? plte = null, trns = null;
        long at = 8, compressed = 0;
        while (at + 8 <= bytes.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(bytes[(int)at..]);
            var type = bytes.Slice((int)at + 4, 4);
            var present = Math.Min(length, bytes.Length - (at + 8));   // a chunk cut by the end of the file counts what is there
            if (type.SequenceEqual("IDAT"u8)) compressed += present;
            else if (at + 12 + length <= bytes.Length && compressed == 0)
            {
                var data = bytes.Slice((int)at + 8, (int)length);
                if (type.SequenceEqual("PLTE"u8)) plte = data.ToArray();
                else if (type.SequenceEqual("tRNS"u8)) trns = data.ToArray();
            }
            at += 12 + length;
        }
        header = header with { CompressedBytes = compressed };
        if (header.ColorType != 3 || plte is null) return header;
        var palette = new uint[plte.Length / 3];
        for (int i = 0; i < palette.Length; i++)
            palette[i] = Rgba(plte[3 * i], plte[3 * i + 1], plte[3 * i + 2], trns is not null && i < trns.Length ? trns[i] : (byte)255);
        return header with { Palette = palette };
    }

    internal static uint Rgba(byte r, byte g, byte b, byte a) => (uint)(r << 24 | g << 16 | b << 8 | a);
}

/// <summary>Reads and writes image files (PNG, JPEG, and whatever else SkiaSharp decodes) as
/// channels-first uint8 pixels.</summary>
public static class ImageFile
{
    /// <summary>The default of <see cref="MaxPixels"/>: 2^28 = 268,435,456 pixels (16384 x 16384), 1 GiB as RGBA.</summary>
    public const long DefaultMaxPixels = 1L << 28;

    /// <summary>The largest value <see cref="MaxPixels"/> takes: the RGBA buffer of the decode must fit one .NET array.</summary>
    internal const long MaxPixelsLimit = 500_000_000;

    static long maxPixels = DefaultMaxPixels;

    /// <summary>The most pixels (width x height) an image may have to be decoded; larger ones are refused from
    /// their header, before anything is allocated (Pillow's <c>Image.MAX_IMAGE_PIXELS</c>). It guards against
    /// damaged headers and decompression bombs (a small file that declares a huge image). Default
    /// <see cref="DefaultMaxPixels"/>; at most 500,000,000.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above 500,000,000.</exception>
    public static long MaxPixels
    {
        get => Interlocked.Read(ref maxPixels);
        set
        {
            if (value < 1 || value > MaxPixelsLimit)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"ImageFile.MaxPixels is 1 to {MaxPixelsLimit}.");
            Interlocked.Exchange(ref maxPixels, value);
        }
    }

    /// <summary>Refuses a size that is empty or above <see cref="MaxPixels"/>, in one line.</summary>
    internal static void CheckSize(string path, long width, long height)
    {
        if (width <= 0 || height <= 0)
            throw new InvalidDataException($"{path}: the image has size {width} x {height}; expected at least 1 x 1.");
        var bound = MaxPixels;
        var pixels = (decimal)width * height;   // a forged header may give 2^32 - 1 each: no long holds the product
        if (pixels > bound)
            throw new InvalidDataException(
                $"{path}: the header declares {width} x {height} = {pixels} pixels, above the limit of {bound} (ImageFile.MaxPixels); " +
                "the file is damaged or a decompression bomb. If the image is genuine, raise ImageFile.MaxPixels.");
    }

    // The layout of the stored pixels, which decides the channels of ImageReadMode.Unchanged.
    enum Layout { Gray, GrayAlpha, Rgb, RgbAlpha, Palette }

    /// <summary>Decodes an image file. Needs no LibTorch, so it can run on any thread.</summary>
    /// <remarks>The channels follow TorchVision's <c>read_image</c>; see <see cref="ReadTensor"/>.</remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an image SkiaSharp can decode, its data is incomplete,
    /// or its header declares more than <see cref="MaxPixels"/> pixels.</exception>
    internal static DecodedImage Read(string path, ImageReadMode mode = ImageReadMode.Unchanged)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "An ImageReadMode is Unchanged, Gray, GrayAlpha, Rgb or RgbAlpha.");
        if (!File.Exists(path)) throw new FileNotFoundException($"Image file not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        var png = PngHeader.TryRead(bytes);
        if (png is not null)
        {
            CheckSize(path, png.Width, png.Height);   // before SkiaSharp sees the file
            // A small file that declares a large image cannot fill it: refused before its buffers are allocated.
            var least = png.LeastRawBytes;
            if (least > (decimal)png.CompressedBytes * PngHeader.MaxDeflateRatio + 1024)
                throw new InvalidDataException(
                    $"{path}: the header declares {png.Width} x {png.Height} pixels ({least} bytes of image data at least), but the file holds " +
                    $"{png.CompressedBytes} bytes of compressed data, which deflate cannot expand that far; the file is truncated, damaged, or a decompression bomb.");
        }
        using var stream = new MemoryStream(bytes, writable: false);
        using var codec = SKCodec.Create(stream, out var created);
        if (codec is null)
            throw new InvalidDataException($"{path}: not a readable image ({created}); expected a PNG, JPEG, GIF, BMP or WebP file.");
        var info = codec.Info;
        CheckSize(path, info.Width, info.Height);
        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && !JpegIsArithmeticCoded(bytes)
            && (decimal)info.Width * info.Height > JpegPixelsPerByte * bytes.Length + 65536)
            throw new InvalidDataException(
                $"{path}: the header declares {info.Width} x {info.Height} pixels, but a JPEG of {bytes.Length} bytes cannot encode that many " +
                $"(at least one bit per 8 x 8 block: {JpegPixelsPerByte} pixels per byte at most); the file is truncated, damaged, or a decompression bomb.");
        var layout = png is not null
            ? png.ColorType switch
            {
                0 => Layout.Gray,
                2 => Layout.Rgb,
                3 => Layout.Palette,
                4 => Layout.GrayAlpha,
                6 => Layout.RgbAlpha,
                _ => throw new InvalidDataException($"{path}: PNG colour type {png.ColorType} at byte offset 25 is not one of 0, 2, 3, 4, 6; the file is damaged."),
            }
            : info.ColorType == SKColorType.Gray8 ? Layout.Gray
            : info.AlphaType == SKAlphaType.Opaque ? Layout.Rgb : Layout.RgbAlpha;
        var channels = mode switch
        {
            ImageReadMode.Gray => 1,
            ImageReadMode.GrayAlpha => 2,
            ImageReadMode.Rgb => 3,
            ImageReadMode.RgbAlpha => 4,
            _ => layout switch { Layout.Gray or Layout.Palette => 1, Layout.GrayAlpha => 2, Layout.Rgb => 3, _ => 4 },
        };
        int w = info.Width, h = info.Height, plane = w * h;   // at most MaxPixelsLimit
        var pixels = new byte[(long)channels * plane];
        if (layout == Layout.Gray && info.ColorType == SKColorType.Gray8 && channels == 1)
        {
            Decode(codec, new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque), pixels, w, path);
            return new DecodedImage(pixels, 1, h, w);
        }
        var rgba = new byte[4L * plane];
        Decode(codec, new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul), rgba, 4 * w, path);
        // TorchVision ignores a tRNS chunk of a gray or RGB PNG (libpng expands it only for palettes): alpha is 255.
        var hasAlpha = layout is Layout.GrayAlpha or Layout.RgbAlpha or Layout.Palette;
        if (mode == ImageReadMode.Unchanged && layout == Layout.Palette)
            return new DecodedImage(PaletteIndices(rgba, png!.Palette, path), 1, h, w);
        var isPng = png is not null;
        for (int p = 0; p < plane; p++)
        {
            byte r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2], a = hasAlpha ? rgba[4 * p + 3] : (byte)255;
            switch (channels)
            {
                case 1:
                    pixels[p] = Luma(r, g, b, isPng);
                    break;
                case 2:
                    pixels[p] = Luma(r, g, b, isPng);
                    pixels[plane + p] = a;
                    break;
                default:
                    pixels[p] = r;
                    pixels[plane + p] = g;
                    pixels[2 * plane + p] = b;
                    if (channels == 4) pixels[3 * plane + p] = a;
                    break;
            }
        }
        return new DecodedImage(pixels, channels, h, w);
    }

    /// <summary>The most pixels a byte of Huffman-coded JPEG data can give: every 8 x 8 block of every component costs at
    /// least one bit (its DC code) in the first scan that covers it, so 64 pixels per bit.</summary>
    internal const int JpegPixelsPerByte = 512;

    /// <summary>Whether a JPEG's frame (its SOF marker, read from the marker segments before the first scan) is
    /// arithmetic-coded (SOF9 to SOF15), which can spend less than a bit on a block. A Huffman-coded frame, and a file
    /// whose framing cannot be followed (damaged), give false: the bound of <see cref="JpegPixelsPerByte"/> holds for them.</summary>
    internal static bool JpegIsArithmeticCoded(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;
        int at = 2;
        while (at + 4 <= bytes.Length)
        {
            if (bytes[at] != 0xFF) return false;
            var marker = bytes[at + 1];
            if (marker == 0xFF) { at++; continue; }                                   // fill byte
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC)) return marker >= 0xC9;
            if (marker == 0xDA) return false;                                         // a scan before any frame
            at += 2 + BinaryPrimitives.ReadUInt16BigEndian(bytes[(at + 2)..]);
        }
        return false;
    }

    /// <summary>The luma TorchVision's decoders give: libpng's <c>png_set_rgb_to_gray(1, 0.2989, 0.587)</c> in its
    /// fixed-point form (coefficients 9794, 19234, 3740 over 2^15, truncated) for PNG; libjpeg's BT.601 fixed point
    /// (19595, 38470, 7471 over 2^16, rounded) otherwise. Equal channels stay as they are.</summary>
    internal static byte Luma(byte r, byte g, byte b, bool png) =>
        png ? (byte)((9794 * r + 19234 * g + 3740 * b) >> 15)
            : (byte)((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);

    /// <summary>The palette index of each decoded pixel (the first entry of that colour), for a palette PNG read
    /// unchanged: TorchVision gives the indices, SkiaSharp the colours.</summary>
    static byte[] PaletteIndices(byte[] rgba, uint[] palette, string path)
    {
        var index = new Dictionary<uint, byte>();
        for (int i = palette.Length - 1; i >= 0; i--) index[palette[i]] = (byte)i;
        var plane = rgba.Length / 4;
        var result = new byte[plane];
        for (int p = 0; p < plane; p++)
        {
            var colour = PngHeader.Rgba(rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], rgba[4 * p + 3]);
            if (!index.TryGetValue(colour, out result[p]))
                throw new InvalidDataException($"{path}: pixel {p} has a colour that is not in the PNG's palette; the file is damaged. Read it with ImageReadMode.Rgb or RgbAlpha.");
        }
        return result;
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
    /// <remarks>
    /// <para>The channels are those of <c>torchvision.io.read_image</c>. Unchanged: a gray PNG or JPEG gives 1 channel, gray
    /// with alpha 2, RGB 3, RGBA 4, and a palette PNG its palette indices (1 channel). Gray gives luma, GrayAlpha luma
    /// and alpha, Rgb red, green and blue, RgbAlpha those and alpha; alpha is 255 where the file has none, and a
    /// palette's transparency (tRNS) is its alpha, while that of a gray or RGB PNG is ignored, as libpng does for
    /// TorchVision. Luma is libpng's fixed-point formula for PNG (equal to TorchVision's), and libjpeg's BT.601
    /// formula over the decoded RGB for other formats (TorchVision takes a JPEG's own Y plane: within 1 of it).</para>
    /// <para>A 16-bit PNG gives its high bytes, which is TorchVision's uint16 result after
    /// <c>to_dtype(image, torch.uint8, scale=True)</c>: TorchSharp 0.107 has no uint16 tensors.</para>
    /// <para>An image of more than <see cref="MaxPixels"/> pixels is refused from its header, before decoding.</para>
    /// </remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image, is truncated, or is larger than <see cref="MaxPixels"/>; the message names it.</exception>
    public static Tensor ReadTensor(string path, ImageReadMode mode = ImageReadMode.Unchanged) => Read(path, mode).ToTensor();

    /// <summary>Writes a uint8 [C, H, W] (1 to 4 channels) or [H, W] tensor as a PNG or JPEG file,
    /// chosen by the extension (.png, .jpg/.jpeg); TorchVision's <c>write_png</c>/<c>write_jpeg</c>.</summary>
    /// <param name="path">The file to write, atomically (see <see cref="Serialization.AtomicFile.Write"/>); its folder is created when missing.</param>
    /// <param name="image">A uint8 image; scale a float image in [0, 1] with <c>(x * 255).round().to(uint8)</c> first.</param>
    /// <param name="quality">The JPEG quality, 0 to 100 (ignored for PNG).</param>
    public static void WriteTensor(string path, Tensor image, int quality = 95) => Write(path, FromTensor(image), quality);

    /// <summary>Encodes channels-first uint8 pixels (1 to 4 channels; 2 is gray and alpha) as a PNG or JPEG file,
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
        Serialization.AtomicFile.Write(path, encoded.SaveTo);
    }

    /// <summary>A SkiaSharp bitmap of channels-first uint8 pixels (1 channel: grayscale; 2: gray and alpha; 3 or 4: colour).</summary>
    internal static SKBitmap ToBitmap(DecodedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int w = image.Width, h = image.Height, plane = w * h;
        if (image.Channels is not (1 or 2 or 3 or 4) || image.Pixels.Length != image.Channels * plane)
            throw new ArgumentException($"An image has 1 to 4 channels and C*H*W values; got {image.Channels} channels, {h} x {w}, {image.Pixels.Length} values.", nameof(image));
        SKBitmap bitmap;
        if (image.Channels == 1)
        {
            bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque));
            Marshal.Copy(image.Pixels, 0, bitmap.GetPixels(), plane);
            return bitmap;
        }
        var alpha = image.Channels is 2 or 4;
        bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, alpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        var rgba = new byte[4 * plane];
        // Gray and alpha is drawn as RGBA with equal colour channels.
        int g = image.Channels == 2 ? 0 : plane, b = image.Channels == 2 ? 0 : 2 * plane, a = (image.Channels - 1) * plane;
        for (int p = 0; p < plane; p++)
        {
            rgba[4 * p] = image.Pixels[p];
            rgba[4 * p + 1] = image.Pixels[g + p];
            rgba[4 * p + 2] = image.Pixels[b + p];
            rgba[4 * p + 3] = alpha ? image.Pixels[a + p] : (byte)255;
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
