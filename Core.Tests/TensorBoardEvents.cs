using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>
/// Reads TensorBoard event files as TensorBoard does: TFRecord framing (length as u64 little-endian, the masked
/// CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data), each record a <c>tensorboard.Event</c>
/// protobuf (the generated types that ship in TorchSharp). Every checksum is checked here, with a CRC-32C
/// written from its definition rather than TorchSharp's.
/// </summary>
internal static class TensorBoardEvents
{
    /// <summary>One scalar: tag, step, value.</summary>
    public sealed record Scalar(string Tag, long Step, float Value, double WallTime);

    /// <summary>The events of one file, in order.</summary>
    public static List<Tensorboard.Event> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<Tensorboard.Event>();
        int at = 0;
        while (at < bytes.Length)
        {
            Assert.That(bytes.Length - at, Is.GreaterThanOrEqualTo(12), $"{path}: a record header cut at offset {at}");
            var header = bytes.AsSpan(at, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8, 4)), Is.EqualTo(MaskedCrc(header)), $"{path}: the length's checksum at offset {at}");
            Assert.That((long)length, Is.LessThanOrEqualTo(bytes.Length - at - 16), $"{path}: a record longer than the file at offset {at}");
            var data = bytes.AsSpan(at + 12, (int)length);
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + (int)length, 4)), Is.EqualTo(MaskedCrc(data)), $"{path}: the data's checksum at offset {at}");
            events.Add(Tensorboard.Event.Parser.ParseFrom(data.ToArray()));
            at += 16 + (int)length;
        }
        return events;
    }

    /// <summary>The scalar summaries of the events, in order.</summary>
    public static List<Scalar> Scalars(IEnumerable<Tensorboard.Event> events) =>
        events.Where(e => e.Summary is not null)
              .SelectMany(e => e.Summary.Value.Where(v => v.ValueCase == Tensorboard.Summary.Types.Value.ValueOneofCase.SimpleValue)
                                              .Select(v => new Scalar(v.Tag, e.Step, v.SimpleValue, e.WallTime)))
              .ToList();

    /// <summary>The text summaries (the text plugin's string tensors), by tag.</summary>
    public static Dictionary<string, string> Texts(IEnumerable<Tensorboard.Event> events) =>
        events.Where(e => e.Summary is not null)
              .SelectMany(e => e.Summary.Value.Where(v => v.Tensor is not null && v.Tensor.StringVal.Count > 0))
              .ToDictionary(v => v.Tag, v => Encoding.UTF8.GetString(v.Tensor.StringVal[0].ToByteArray()));

    static readonly uint[] Table = MakeTable();

    static uint[] MakeTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;   // Castagnoli, reflected
            table[n] = c;
        }
        return table;
    }

    /// <summary>CRC-32C (Castagnoli).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    /// <summary>TFRecord's masked CRC: rotated right by 15 bits, plus a constant.</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
