using System.Text;
using static TorchSharp.torch;

namespace Functional.Serialization;

/// <summary>
/// A strict reader of TorchSharp's own state-dict format (what <c>module.save</c> writes): a LEB128 count, then per
/// entry a length-prefixed UTF-8 name, the LEB128 element type, rank and dimensions, and the raw bytes.
/// TorchSharp's <c>module.load</c> copies straight into a model and stops at the first mismatch; reading into a
/// dictionary first lets <see cref="StateDict"/> give the same report as for safetensors.
/// </summary>
internal static class TorchSharpFormat
{
    static readonly Dictionary<ScalarType, int> Sizes = new()
    {
        [ScalarType.Byte] = 1, [ScalarType.Int8] = 1, [ScalarType.Int16] = 2, [ScalarType.Int32] = 4,
        [ScalarType.Int64] = 8, [ScalarType.Float16] = 2, [ScalarType.Float32] = 4, [ScalarType.Float64] = 8,
        [ScalarType.ComplexFloat32] = 8, [ScalarType.ComplexFloat64] = 16, [ScalarType.Bool] = 1, [ScalarType.BFloat16] = 2,
    };

    internal static Dictionary<string, Tensor> Read(string path)
    {
        Native.EnsureLoaded();
        using var stream = SafeTensors.OpenRead(path);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            long count = Decode(stream, path, "the entry count");
            if (count > stream.Length)
                throw new InvalidDataException($"{path}: the entry count {count} at byte 0 exceeds the file's length; not a TorchSharp state dict.");
            for (long i = 0; i < count; i++)
            {
                long at = stream.Position;
                var name = ReadName(stream, path);
                if (tensors.ContainsKey(name))
                    throw new InvalidDataException($"{path}: the name '{name}' at byte {at} appears twice.");
                tensors.Add(name, ReadTensor(stream, path, name));
            }
            if (stream.Position != stream.Length)
                throw new InvalidDataException($"{path}: {stream.Length - stream.Position} unexpected bytes after the last tensor, at byte {stream.Position}.");
            return tensors;
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    static long Decode(Stream stream, string path, string what)
    {
        long at = stream.Position;
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            int b = stream.ReadByte();
            if (b < 0) throw new InvalidDataException($"{path}: the file ends inside {what} at byte {at} (truncated).");
            value |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (value < 0) throw new InvalidDataException($"{path}: {what} at byte {at} is negative.");
                return value;
            }
        }
        throw new InvalidDataException($"{path}: {what} at byte {at} is not a valid LEB128 number.");
    }

    static string ReadName(Stream stream, string path)
    {
        long at = stream.Position;
        // BinaryWriter.Write(string): a 7-bit-encoded int32 byte length, then UTF-8.
        long length = Decode(stream, path, "a name's length");
        if (length > int.MaxValue || length > stream.Length - stream.Position)
            throw new InvalidDataException($"{path}: the name at byte {at} claims {length} bytes, past the end of the file.");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{path}: the name at byte {at} is not valid UTF-8.", e);
        }
    }

    static Tensor ReadTensor(Stream stream, string path, string name)
    {
        long at = stream.Position;
        long code = Decode(stream, path, $"the element type of '{name}'");
        if (code > int.MaxValue || !Sizes.TryGetValue((ScalarType)code, out var size))
            throw new InvalidDataException($"{path}: tensor '{name}' has the unknown element type code {code} at byte {at}.");
        long rank = Decode(stream, path, $"the rank of '{name}'");
        if (rank > 64)
            throw new InvalidDataException($"{path}: tensor '{name}' claims rank {rank} at byte {at}; LibTorch allows at most 64.");
        var shape = new long[rank];
        long bytes = size;
        try
        {
            for (int d = 0; d < rank; d++)
            {
                shape[d] = Decode(stream, path, $"a dimension of '{name}'");
                bytes = checked(bytes * shape[d]);
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{path}: tensor '{name}' at byte {at} has a shape whose size overflows 64 bits.");
        }
        if (bytes > stream.Length - stream.Position)
            throw new InvalidDataException($"{path}: tensor '{name}' of shape {Shapes.Text(shape)} needs {bytes} bytes from byte {stream.Position}, past the end of the {stream.Length}-byte file (truncated).");
        var tensor = empty(shape, (ScalarType)code, CPU);
        try
        {
            if (bytes == 0) return tensor;
            using var flat = tensor.view(-1);
            long total = flat.numel();
            long step = Math.Max(1, (1 << 24) / size);
            for (long start = 0; start < total; start += step)
            {
                using var part = flat.narrow(0, start, Math.Min(step, total - start));
                stream.ReadExactly(part.bytes);
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }
}
