using Functional.Serialization;
using System.Buffers.Binary;
using System.IO.Compression;

namespace Functional.Data;

/// <summary>The contents of an IDX file of unsigned bytes (the format of MNIST and Fashion-MNIST):
/// its dimensions and its values in row-major order.</summary>
internal sealed class IdxArray
{
    /// <summary>Wraps dimensions and values; the number of values must be the product of the dimensions.</summary>
    /// <exception cref="ArgumentException">A dimension is negative, or the value count does not match the dimensions.</exception>
    public IdxArray(int[] dimensions, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(data);
        if (dimensions.Length is 0 or > 255)
            throw new ArgumentException($"An IDX array has 1 to 255 dimensions, got {dimensions.Length}.", nameof(dimensions));
        long count = 1;
        foreach (var d in dimensions)
        {
            if (d < 0) throw new ArgumentException($"IDX dimensions are 0 or more, got {Shapes.Text(dimensions)}.", nameof(dimensions));
            count *= d;
        }
        if (count != data.LongLength)
            throw new ArgumentException(
                $"Dimensions {Shapes.Text(dimensions)} need {count} values, but {data.LongLength} were given.", nameof(data));
        Dimensions = (int[])dimensions.Clone();
        Data = data;
    }

    /// <summary>The size of each dimension, outermost first (for images: count, rows, columns).</summary>
    public int[] Dimensions { get; }

    /// <summary>The values in row-major order.</summary>
    public byte[] Data { get; }
}

/// <summary>Reads and writes IDX files (http://yann.lecun.com/exdb/mnist/), plain or gzipped, with
/// errors that name the file, the byte offset and what was expected.</summary>
/// <remarks>Only the unsigned-byte element type (0x08), the one MNIST and Fashion-MNIST use, is supported.
/// A file is read completely and checked (magic number, dimensions, exact length, and for gzip the
/// trailer's CRC-32 and size) before anything is returned, so a damaged file never yields half an array.
/// A gzip file of several members (what <c>cat a.gz b.gz</c> makes) is read whole, as gzip reads it.</remarks>
internal static class Idx
{
    /// <summary>The element type code of unsigned bytes in an IDX header.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>Reads an IDX file, decompressing it first when it starts with the gzip magic bytes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or not an unsigned-byte IDX file;
    /// the message names the file, the byte offset and what was expected.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        var raw = File.ReadAllBytes(path);
        return Parse(raw, path);
    }

    /// <summary>Parses the bytes of an IDX file (gzipped or plain); <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid unsigned-byte IDX file.</exception>
    public static IdxArray Parse(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(name);
        var isGzip = bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
        var data = isGzip ? Gunzip(bytes, name) : bytes;
        var where = isGzip ? "of the decompressed data " : "";
        if (data.Length < 4)
            throw new InvalidDataException($"{name}: the IDX header is cut off at byte offset {data.Length} {where}(expected at least 4 bytes: 0, 0, type, dimension count).");
        if (data[0] != 0 || data[1] != 0)
            throw new InvalidDataException(
                $"{name}: wrong magic number at byte offset 0 {where}(expected an IDX header 0x00 0x00 <type> <dims>, found 0x{data[0]:x2} 0x{data[1]:x2}); is this an IDX file?");
        if (data[2] != UnsignedByte)
            throw new InvalidDataException($"{name}: element type 0x{data[2]:x2} at byte offset 2 {where}is not supported (expected 0x08, unsigned byte).");
        int rank = data[3];
        if (rank == 0) throw new InvalidDataException($"{name}: dimension count 0 at byte offset 3 {where}(expected 1 or more).");
        int headerLength = 4 + 4 * rank;
        if (data.Length < headerLength)
            throw new InvalidDataException($"{name}: the IDX header is cut off at byte offset {data.Length} {where}(expected {headerLength} header bytes for {rank} dimensions).");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4 + 4 * i));
            if (d < 0) throw new InvalidDataException($"{name}: dimension {i} at byte offset {4 + 4 * i} {where}is {d} (expected 0 or more).");
            dims[i] = d;
            count *= d;
            if (count > Array.MaxLength)
                throw new InvalidDataException($"{name}: dimensions [{string.Join(", ", dims[..(i + 1)])}...] at byte offset 4 {where}describe more than {Array.MaxLength} values; the header is corrupt.");
        }
        long expected = headerLength + count;
        if (data.LongLength != expected)
            throw new InvalidDataException(data.LongLength < expected
                ? $"{name}: the data ends at byte offset {data.LongLength} {where}but dimensions {Shapes.Text(dims)} need {expected} bytes; the file is truncated."
                : $"{name}: {data.LongLength - expected} unexpected bytes after byte offset {expected} {where}(dimensions {Shapes.Text(dims)} need exactly {expected} bytes).");
        var values = data.AsSpan(headerLength).ToArray();
        return new IdxArray(dims, values);
    }

    static byte[] Gunzip(byte[] bytes, string name)
    {
        byte[] data;
        using var input = new MemoryStream(bytes, writable: false);
        try
        {
            using var gzip = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
            using var output = new MemoryStream((int)Math.Min(bytes.Length * 4L, 1 << 24));
            // Decompressed no further than the header asks for: a small file that inflates to gigabytes (a
            // decompression bomb) is refused once it passes what its dimensions need, not after it filled memory.
            var buffer = new byte[1 << 16];
            long? limit = null;
            int read;
            while ((read = gzip.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                limit ??= DeclaredLength(output.GetBuffer().AsSpan(0, (int)output.Length));
                if (limit is { } declared && output.Length > declared)
                {
                    if (declared == 0)
                        return output.ToArray()[..(int)Math.Min(output.Length, 1024)];   // a bad header: Parse says what is wrong with it
                    throw new InvalidDataException(
                        $"{name}: the gzip data decompresses to more than the {declared} bytes its IDX header declares (byte offset {declared} of the decompressed data); " +
                        "the file is corrupt, or a decompression bomb.");
                }
            }
            data = output.ToArray();
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(name + ":", StringComparison.Ordinal))
        {
            // The decompressor reads ahead in blocks, so where it stopped bounds the damage from above. .NET checks
            // each member's CRC-32 and size itself, and then says only "unsupported compression method".
            throw new InvalidDataException(
                $"{name}: the gzip data is corrupt at or before byte offset {input.Position} of {bytes.Length}: a member's deflate data is damaged, " +
                "or its CRC-32 or size does not match its data; expected a gzip-compressed IDX file.", e);
        }
        // GZipStream reads every member (what `cat a.gz b.gz` makes) and checks each complete trailer, but it stops
        // without a word where the file ends early or where bytes that are not gzip follow. The last member's
        // trailer, the file's last 8 bytes, is therefore checked here against the last member's data: a file cut
        // anywhere, or with anything after its last member, fails this.
        if (bytes.Length < 18)
            throw new InvalidDataException($"{name}: the gzip file ends at byte offset {bytes.Length} (expected a 10-byte header, data and an 8-byte trailer).");
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 8));
        var size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4));
        if (size > data.LongLength)
            throw new InvalidDataException(
                $"{name}: the gzip trailer at byte offset {bytes.Length - 4} gives a size of {size} bytes, but {data.LongLength} were decompressed; the file is truncated or corrupt.");
        var actual = Crc32.Compute(data.AsSpan(data.Length - (int)size));
        if (crc != actual)
            throw new InvalidDataException(
                $"{name}: the gzip trailer at byte offset {bytes.Length - 8} gives CRC-32 0x{crc:x8}, but the last {size} decompressed bytes have 0x{actual:x8}; the file is truncated or corrupt.");
        return data;
    }

    /// <summary>The whole length an IDX file's header declares (header and values), once <paramref name="start"/> holds
    /// the header; for a header that is not valid, the length read so far (so that reading stops there and the parser
    /// names the fault); null while the header is incomplete.</summary>
    static long? DeclaredLength(ReadOnlySpan<byte> start)
    {
        if (start.Length < 4) return null;
        if (start[0] != 0 || start[1] != 0 || start[2] != UnsignedByte || start[3] == 0) return 0;
        int rank = start[3];
        if (start.Length < 4 + 4 * rank) return null;
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadInt32BigEndian(start[(4 + 4 * i)..]);
            if (d < 0) return 0;
            count *= d;
            if (count > Array.MaxLength) return 0;
        }
        return 4 + 4 * rank + count;
    }

    /// <summary>Encodes an array as IDX bytes (header, big-endian dimensions, values), gzipped when asked.</summary>
    public static byte[] Encode(IdxArray array, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(array);
        var rank = array.Dimensions.Length;
        var plain = new byte[4 + 4 * rank + array.Data.Length];
        plain[2] = UnsignedByte;
        plain[3] = (byte)rank;
        for (int i = 0; i < rank; i++) BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(4 + 4 * i), array.Dimensions[i]);
        array.Data.CopyTo(plain, 4 + 4 * rank);
        if (!gzip) return plain;
        using var output = new MemoryStream();
        using (var z = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(plain);
        return output.ToArray();
    }

    /// <summary>Writes an IDX file, gzipped when the path ends in ".gz" (or when <paramref name="gzip"/> says so).
    /// The file is written to a temporary name and moved into place, so readers never see half a file.</summary>
    public static void Write(string path, IdxArray array, bool? gzip = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(array);
        var bytes = Encode(array, gzip ?? path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase));
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        AtomicFile.Write(full, stream => stream.Write(bytes));
    }
}

/// <summary>CRC-32 (IEEE 802.3, the polynomial of gzip), to check gzip trailers.</summary>
static class Crc32
{
    static readonly uint[] Table = MakeTable();

    static uint[] MakeTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
