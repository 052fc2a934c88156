using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Serialization;

/// <summary>Where one tensor lives in a safetensors file, as its header says.</summary>
/// <param name="Name">The tensor's name (a state-dict key such as <c>0.weight</c>).</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="Begin">First byte of the tensor, relative to the start of the data buffer (after the header).</param>
/// <param name="End">One past the last byte, relative to the start of the data buffer.</param>
internal sealed record SafeTensorsEntry(string Name, ScalarType DType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>The number of bytes the tensor occupies: <c>End - Begin</c>.</summary>
    public long ByteCount => End - Begin;
}

/// <summary>A validated safetensors header: what a file holds, without reading any tensor data.
/// Useful to inspect a large file, or to read its metadata (a model spec, a checkpoint's epoch) cheaply.</summary>
internal sealed class SafeTensorsHeader
{
    internal SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string> metadata, long headerLength, long dataLength)
    {
        Entries = entries;
        Metadata = metadata;
        HeaderLength = headerLength;
        DataLength = dataLength;
    }

    /// <summary>The tensors, sorted by name (ordinal).</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    /// <summary>The string-to-string <c>__metadata__</c> of the file; empty when it has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The header's length in bytes (the N of the 8-byte prefix), padding included.</summary>
    public long HeaderLength { get; }

    /// <summary>The length of the data buffer that follows the header.</summary>
    public long DataLength { get; }

    /// <summary>The absolute file offset where the data buffer starts: <c>8 + HeaderLength</c>.</summary>
    public long DataStart => 8 + HeaderLength;
}

/// <summary>The tensors and metadata read from a safetensors file. The tensors are fresh and belong to
/// this object: <see cref="Dispose"/> frees them, so keep it alive (or take the tensors over) while you use them.</summary>
public sealed class SafeTensorsContent : IDisposable
{
    internal SafeTensorsContent(Dictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The tensors by name, in name order. Plain data: pass it to
    /// <see cref="StateDict.LoadStateDict"/> or read it directly.</summary>
    public Dictionary<string, Tensor> Tensors { get; }

    /// <summary>The file's <c>__metadata__</c> (string to string); empty when it has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Frees the native memory of every tensor read.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        Tensors.Clear();
    }
}

/// <summary>
/// Reads and writes the safetensors format of Hugging Face: an 8-byte little-endian header length N,
/// N bytes of UTF-8 JSON <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>,
/// then the raw little-endian tensor bytes. The format holds data only, so reading a file never runs code.
/// </summary>
/// <remarks>
/// <para>Files written here load in PyTorch (<c>safetensors.torch.load_file</c>) and Hugging Face
/// libraries and vice versa: the dtypes are F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL; tensors are
/// laid out in name order and the header is padded with spaces to a multiple of 8 bytes, as the reference
/// implementation does, so that the data buffer is 8-byte aligned.</para>
/// <para>Reading is strict: the header is capped at 100,000,000 bytes, and every size and offset is
/// checked against the file's length before anything is allocated; tensors must tile the data buffer exactly
/// (no overlap, no gap, nothing past the end), names must be unique, BOOL bytes must be 0 or 1. Any violation
/// raises an <see cref="InvalidDataException"/> that names the file, the tensor and the byte offset at fault.</para>
/// <para>Saving to a path is atomic: a reader sees the old file or the new one, never a part.</para>
/// </remarks>
public static class SafeTensors
{
    /// <summary>The largest header accepted (100,000,000 bytes, the reference implementation's limit): a corrupt
    /// length must not make the reader allocate gigabytes.</summary>
    internal const long MaxHeaderLength = 100_000_000;

    /// <summary>The most dimensions a tensor may have here (LibTorch's own practical limit); real tensors have a handful,
    /// and a corrupt shape must not reach LibTorch with millions.</summary>
    internal const int MaxRank = 64;

    /// <summary>The reserved header key that holds the string-to-string metadata.</summary>
    internal const string MetadataKey = "__metadata__";

    const int ChunkBytes = 1 << 24;

    static readonly (string Code, ScalarType Type, int Size)[] DTypes =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    static string SupportedCodes => string.Join(", ", DTypes.Select(d => d.Code));

    /// <summary>The safetensors dtype code of a TorchSharp element type (<c>F32</c> for Float32), as the header spells it.</summary>
    /// <exception cref="ArgumentException">The type has no safetensors code here (complex and quantized types).</exception>
    internal static string DTypeCode(ScalarType type)
    {
        foreach (var d in DTypes) if (d.Type == type) return d.Code;
        throw new ArgumentException($"The element type {type} cannot be stored in safetensors; supported: {SupportedCodes}. Convert the tensor first (for example with .to(ScalarType.Float32)).", nameof(type));
    }

    static bool TryParseCode(string code, out ScalarType type, out int size)
    {
        foreach (var d in DTypes)
        {
            if (d.Code == code)
            {
                type = d.Type;
                size = d.Size;
                return true;
            }
        }
        type = default;
        size = 0;
        return false;
    }

    static int ElementSize(ScalarType type)
    {
        foreach (var d in DTypes) if (d.Type == type) return d.Size;
        throw new ArgumentException($"The element type {type} cannot be stored in safetensors; supported: {SupportedCodes}.", nameof(type));
    }

    static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors stores little-endian bytes; this reader and writer copy tensor memory as is and need a little-endian machine.");
    }

    // ------------------------------------------------------------------ writing

    /// <summary>Saves tensors (and optional metadata) to <paramref name="path"/> atomically: the file is
    /// written beside the target under a temporary name, flushed to disk and renamed over it.</summary>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <param name="tensors">Name to tensor. Tensors may live on any device and need not be contiguous; they are copied to the CPU to be written and are not modified.</param>
    /// <param name="metadata">Free-form string-to-string metadata stored in <c>__metadata__</c> (for example <c>format: pt</c>, which Hugging Face expects); null for none.</param>
    /// <exception cref="ArgumentException">A name is the reserved <c>__metadata__</c>, or a tensor's element type has no safetensors code.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        CheckArguments(tensors, metadata);
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>Writes tensors (and optional metadata) in safetensors format to a stream, from its current
    /// position. Not atomic by itself: use <see cref="Save"/> for files.</summary>
    /// <param name="stream">A writable stream; it is left open.</param>
    /// <param name="tensors">Name to tensor; see <see cref="Save"/>.</param>
    /// <param name="metadata">String-to-string metadata, or null.</param>
    /// <exception cref="ArgumentException">A name is reserved, or an element type is not supported.</exception>
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        CheckArguments(tensors, metadata);
        RequireLittleEndian();
        Native.EnsureLoaded();

        var names = tensors.Keys.OrderBy(n => n, StringComparer.Ordinal).ToArray();
        var header = BuildHeader(names, tensors, metadata);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var name in names) WriteData(stream, tensors[name]);
        stream.Flush();
    }

    static void CheckArguments(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        foreach (var (name, tensor) in tensors)
        {
            if (name == MetadataKey)
                throw new ArgumentException($"The tensor name '{MetadataKey}' is reserved by the safetensors format for metadata; rename the tensor.", nameof(tensors));
            if (tensor is null)
                throw new ArgumentException($"The tensor '{name}' is null.", nameof(tensors));
            if (!TryCode(tensor.dtype, out _))
                throw new ArgumentException($"The tensor '{name}' has element type {tensor.dtype}, which safetensors cannot store; supported: {SupportedCodes}. Convert it first.", nameof(tensors));
        }
        if (metadata is null) return;
        foreach (var (key, value) in metadata)
        {
            if (value is null)
                throw new ArgumentException($"The metadata value of '{key}' is null; safetensors metadata maps strings to strings.", nameof(metadata));
        }
    }

    static bool TryCode(ScalarType type, out string code)
    {
        foreach (var d in DTypes)
        {
            if (d.Type == type)
            {
                code = d.Code;
                return true;
            }
        }
        code = "";
        return false;
    }

    static byte[] BuildHeader(string[] names, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names and JSON specs readable; the file is never embedded in HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var key in metadata.Keys.OrderBy(k => k, StringComparer.Ordinal))
                    json.WriteString(key, metadata[key]);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in names)
            {
                var t = tensors[name];
                long bytes = checked(t.numel() * ElementSize(t.dtype));
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeCode(t.dtype));
                json.WriteStartArray("shape");
                foreach (var d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        var length = buffer.Length;
        var padded = (length + 7) / 8 * 8;
        for (var i = length; i < padded; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static void WriteData(Stream stream, Tensor tensor)
    {
        if (tensor.numel() == 0) return;
        using var scope = NewDisposeScope();
        var source = tensor.detach();
        if (source.device_type != DeviceType.CPU) source = source.cpu();
        if (!source.is_contiguous()) source = source.contiguous();
        var flat = source.reshape(-1);
        long total = flat.numel();
        long step = Math.Max(1, ChunkBytes / ElementSize(tensor.dtype));
        for (long start = 0; start < total; start += step)
        {
            using var part = flat.narrow(0, start, Math.Min(step, total - start));
            stream.Write(part.bytes);
        }
    }

    // ------------------------------------------------------------------ reading

    /// <summary>Reads and validates the header of a safetensors file without reading tensor data.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message names the file and what is wrong where.</exception>
    internal static SafeTensorsHeader ReadHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads and validates the header of safetensors data held in a seekable stream, from position 0.</summary>
    /// <param name="stream">A readable, seekable stream; it is left open.</param>
    /// <param name="sourceName">The name used in error messages (a file name, say); null for "stream".</param>
    /// <exception cref="InvalidDataException">The data is not valid safetensors.</exception>
    internal static SafeTensorsHeader ReadHeader(Stream stream, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanSeek)
            throw new ArgumentException("The stream must be readable and seekable, so that sizes can be checked before anything is allocated; copy it into a MemoryStream or a file first.", nameof(stream));
        return ParseHeader(stream, sourceName ?? "stream");
    }

    /// <summary>Reads every tensor and the metadata of a safetensors file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="device">Where to put the tensors; null for the CPU. Files saved from any device load anywhere.</param>
    /// <returns>The tensors (fresh, owned by the result) and the metadata.</returns>
    /// <exception cref="InvalidDataException">The file is not valid safetensors; the message names the file, the tensor and the offset.</exception>
    public static SafeTensorsContent Read(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = OpenRead(path);
        return Read(stream, device, path);
    }

    /// <summary>Reads every tensor and the metadata of safetensors data in a seekable stream, from position 0.</summary>
    /// <param name="stream">A readable, seekable stream; it is left open.</param>
    /// <param name="device">Where to put the tensors; null for the CPU.</param>
    /// <param name="sourceName">The name used in error messages; null for "stream".</param>
    /// <exception cref="InvalidDataException">The data is not valid safetensors.</exception>
    public static SafeTensorsContent Read(Stream stream, Device? device = null, string? sourceName = null)
    {
        var source = sourceName ?? "stream";
        var header = ReadHeader(stream, source);
        RequireLittleEndian();
        Native.EnsureLoaded();
        var target = device;
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in header.Entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                var tensor = ReadTensor(stream, header, entry, source);
                if (target is not null && target.type != DeviceType.CPU)
                {
                    var moved = tensor.to(target);
                    tensor.Dispose();
                    tensor = moved;
                }
                tensors.Add(entry.Name, tensor);
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        var ordered = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in header.Entries) ordered.Add(e.Name, tensors[e.Name]);
        return new SafeTensorsContent(ordered, header.Metadata);
    }

    internal static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"No safetensors file at '{path}'.", path, e);
        }
    }

    static Tensor ReadTensor(Stream stream, SafeTensorsHeader header, SafeTensorsEntry entry, string source)
    {
        Tensor tensor;
        try
        {
            tensor = empty(entry.Shape.ToArray(), entry.DType, CPU);
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            throw Bad(source, $"LibTorch cannot make tensor '{entry.Name}' of shape {Shapes.Text(entry.Shape)}: {e.Message}");
        }
        try
        {
            if (entry.ByteCount == 0) return tensor;
            stream.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
            using var flat = tensor.view(-1);
            long total = flat.numel();
            int size = ElementSize(entry.DType);
            long step = Math.Max(1, ChunkBytes / size);
            for (long start = 0; start < total; start += step)
            {
                using var part = flat.narrow(0, start, Math.Min(step, total - start));
                var span = part.bytes;
                int read = stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false);
                if (read < span.Length)
                    throw new InvalidDataException($"{source}: the data of tensor '{entry.Name}' ends early at byte {stream.Position} (the file changed while it was read, or is truncated).");
                if (entry.DType == ScalarType.Bool)
                {
                    var bad = span.IndexOfAnyExcept((byte)0, (byte)1);
                    if (bad >= 0)
                        throw new InvalidDataException($"{source}: tensor '{entry.Name}' is BOOL but holds the byte {span[bad]} at file offset {header.DataStart + entry.Begin + start + bad}; BOOL bytes must be 0 or 1.");
                }
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    static SafeTensorsHeader ParseHeader(Stream stream, string source)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{source}: the file is {fileLength} bytes long, too short for the 8-byte header length of a safetensors file (truncated, or not safetensors).");
        stream.Seek(0, SeekOrigin.Begin);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared > MaxHeaderLength)
            throw new InvalidDataException($"{source}: the header length at byte 0 is {declared} bytes, above the limit of {MaxHeaderLength} (corrupt, or not safetensors).");
        long headerLength = (long)declared;
        if (8 + headerLength > fileLength)
            throw new InvalidDataException($"{source}: the header length at byte 0 is {headerLength} bytes, past the end of the {fileLength}-byte file (truncated, or not safetensors).");
        if (headerLength < 2)
            throw new InvalidDataException($"{source}: the header length at byte 0 is {headerLength}; a header is at least the 2 bytes of '{{}}'.");
        var bytes = new byte[headerLength];
        stream.ReadExactly(bytes);
        if (bytes[0] != (byte)'{')
            throw new InvalidDataException($"{source}: the header at byte 8 does not start with '{{' (found byte 0x{bytes[0]:X2}); not a safetensors file.");

        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            int at = 0;
            try
            {
                new UTF8Encoding(false, true).GetCharCount(bytes);
            }
            catch (DecoderFallbackException e)
            {
                at = e.Index;
            }
            throw new InvalidDataException($"{source}: the header is not valid UTF-8 (at byte {8 + at}).");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the header (bytes 8 to {8 + headerLength}) is not valid JSON: line {e.LineNumber + 1}, byte {e.BytePositionInLine} of that line: {Printable.Escape(e.Message)}", e);
        }
        using (document)
        {
            return Interpret(document.RootElement, source, headerLength, fileLength - 8 - headerLength);
        }
    }

    // Names and fields come from the file: control characters in them are printed escaped.
    static InvalidDataException Bad(string source, string what) => new($"{source}: {Printable.Escape(what)}");

    static SafeTensorsHeader Interpret(JsonElement root, string source, long headerLength, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"the header is JSON {root.ValueKind}, not an object of tensors.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<SafeTensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            var name = property.Name;
            if (!seen.Add(name))
                throw Bad(source, $"the header names '{name}' twice; names must be unique.");
            if (name == MetadataKey)
            {
                ReadMetadata(property.Value, source, metadata);
                continue;
            }
            entries.Add(ReadEntry(name, property.Value, source));
        }

        // The tensors must tile the data buffer exactly, as the reference implementation requires:
        // this rules out overlaps, gaps and anything outside the buffer in one pass.
        long expected = 0;
        SafeTensorsEntry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
            {
                var where = previous is null ? "the start of the data buffer (0)" : $"the end of tensor '{previous.Name}' ({previous.End})";
                var problem = e.Begin < expected ? "overlaps" : "leaves a gap after";
                throw Bad(source, $"tensor '{e.Name}' has data_offsets [{e.Begin}, {e.End}], which {problem} {where}; tensors must tile the data buffer without overlaps or gaps.");
            }
            if (e.End > dataLength)
                throw Bad(source, $"tensor '{e.Name}' has data_offsets [{e.Begin}, {e.End}] (file bytes {8 + headerLength + e.Begin} to {8 + headerLength + e.End}), past the end of the {dataLength}-byte data buffer (the file is truncated or the offsets are wrong).");
            expected = e.End;
            previous = e;
        }
        if (expected != dataLength)
            throw Bad(source, $"the tensors cover {expected} bytes of data but the file holds {dataLength} bytes after the header (starting at byte {8 + headerLength}); the file is corrupt or has trailing bytes.");
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new SafeTensorsHeader(entries, metadata, headerLength, dataLength);
    }

    static void ReadMetadata(JsonElement value, string source, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"'{MetadataKey}' is JSON {value.ValueKind}; it must be an object of strings.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(source, $"metadata '{item.Name}' is JSON {item.Value.ValueKind}; safetensors metadata values must be strings.");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Bad(source, $"metadata names '{item.Name}' twice; keys must be unique.");
        }
    }

    static SafeTensorsEntry ReadEntry(string name, JsonElement value, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"the entry of tensor '{name}' is JSON {value.ValueKind}; it must be an object with dtype, shape and data_offsets.");
        string? code = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype" when code is null:
                    if (field.Value.ValueKind != JsonValueKind.String)
                        throw Bad(source, $"tensor '{name}' has a dtype that is JSON {field.Value.ValueKind}, not a string.");
                    code = field.Value.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(field.Value, name, "shape", source);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(field.Value, name, "data_offsets", source);
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw Bad(source, $"tensor '{name}' has the field '{field.Name}' twice.");
                default:
                    throw Bad(source, $"tensor '{name}' has an unknown field '{field.Name}'; expected dtype, shape and data_offsets.");
            }
        }
        if (code is null || shape is null || offsets is null)
            throw Bad(source, $"tensor '{name}' lacks {(code is null ? "dtype" : shape is null ? "shape" : "data_offsets")}; each tensor needs dtype, shape and data_offsets.");
        if (!TryParseCode(code, out var type, out var size))
            throw Bad(source, $"tensor '{name}' has the unknown or unsupported dtype '{code}'; supported: {SupportedCodes}.");
        if (shape.Count > MaxRank)
            throw Bad(source, $"tensor '{name}' has {shape.Count} dimensions; at most {MaxRank} are supported.");
        if (offsets.Count != 2)
            throw Bad(source, $"tensor '{name}' has {offsets.Count} data_offsets; expected [begin, end].");
        long begin = offsets[0], end = offsets[1];
        if (end < begin)
            throw Bad(source, $"tensor '{name}' has data_offsets [{begin}, {end}] with end before begin.");
        long elements = 1;
        try
        {
            foreach (var d in shape) elements = checked(elements * d);
            long expectedBytes = checked(elements * size);
            if (expectedBytes != end - begin)
                throw Bad(source, $"tensor '{name}' is {code} with shape {Shapes.Text(shape)}, so {expectedBytes} bytes, but its data_offsets [{begin}, {end}] span {end - begin} bytes.");
        }
        catch (OverflowException)
        {
            throw Bad(source, $"tensor '{name}' has shape {Shapes.Text(shape)}, whose size overflows 64 bits.");
        }
        return new SafeTensorsEntry(name, type, shape.AsReadOnly(), begin, end);
    }

    static List<long> ReadIntegers(JsonElement value, string name, string field, string source)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw Bad(source, $"tensor '{name}' has a {field} that is JSON {value.ValueKind}, not an array of integers.");
        var list = new List<long>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var n) || n < 0)
                throw Bad(source, $"tensor '{name}' has a {field} entry '{item.GetRawText()}' that is not a non-negative 64-bit integer.");
            list.Add(n);
        }
        return list;
    }
}
