using System.Buffers.Binary;
using System.Text;
using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>A temporary folder per test, deleted afterwards.</summary>
public abstract class FileTestBase
{
    protected string Folder = "";

    [SetUp]
    public void MakeFolder()
    {
        Native.EnsureLoaded();
        Folder = Path.Combine(Path.GetTempPath(), "functional-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }

    protected string FilePath(string name) => Path.Combine(Folder, name);

    /// <summary>8-byte little-endian length, the header text, the data: a safetensors file assembled by hand.</summary>
    protected static byte[] Assemble(string header, byte[] data)
    {
        var text = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + text.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)text.Length);
        text.CopyTo(file, 8);
        data.CopyTo(file, 8 + text.Length);
        return file;
    }

    protected static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.That(actual.dtype, Is.EqualTo(expected.dtype));
        Assert.That(actual.shape, Is.EqualTo(expected.shape));
        using var a = expected.contiguous();
        using var b = actual.contiguous();
        Assert.That(b.bytes.ToArray(), Is.EqualTo(a.bytes.ToArray()));
    }
}

public class SafeTensorsTests : FileTestBase
{
    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Test]
    public void HandWrittenFileLoads()
    {
        // Two tensors and metadata, offsets computed by hand: a = F32 [2] = {1.5, -2} (8 bytes), b = I64 scalar 7 (8 bytes).
        var header = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
                   + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        var data = Concat(BitConverter.GetBytes(1.5f), BitConverter.GetBytes(-2f), BitConverter.GetBytes(7L));
        var path = FilePath("hand.safetensors");
        File.WriteAllBytes(path, Assemble(header, data));

        using var content = SafeTensors.Read(path);
        Assert.That(content.Tensors.Keys, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(content.Tensors["a"].dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(content.Tensors["a"].data<float>().ToArray(), Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(content.Tensors["b"].shape, Is.Empty);
        Assert.That(content.Tensors["b"].item<long>(), Is.EqualTo(7L));
        Assert.That(content.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt" }));
    }

    [Test]
    public void LiteralBytesLoad()
    {
        // {"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}} is 5 + 14 + 12 + 20 + 2 = 53 = 0x35 bytes, counted by hand.
        var bytes = new byte[] { 0x35, 0, 0, 0, 0, 0, 0, 0 }
            .Concat(Encoding.ASCII.GetBytes("{\"x\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}"))
            .Concat(new byte[] { 10, 20, 255 }).ToArray();
        Assert.That(bytes.Length, Is.EqualTo(8 + 53 + 3));
        var path = FilePath("literal.safetensors");
        File.WriteAllBytes(path, bytes);
        using var content = SafeTensors.Read(path);
        Assert.That(content.Tensors["x"].dtype, Is.EqualTo(ScalarType.Byte));
        Assert.That(content.Tensors["x"].data<byte>().ToArray(), Is.EqualTo(new byte[] { 10, 20, 255 }));
        Assert.That(content.Metadata, Is.Empty);
    }

    [Test]
    public void WriterOutputMatchesAHandComputedLayout()
    {
        var path = FilePath("written.safetensors");
        using var w = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using var b = tensor(new sbyte[] { -1, 5 });
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = w, ["b"] = b }, new Dictionary<string, string> { ["k"] = "v" });

        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.EqualTo(0), "the header is padded to a multiple of 8 bytes");
        var header = Encoding.UTF8.GetString(bytes, 8, n);
        // Names sorted, data in name order: b (2 bytes) first, then w (16 bytes).
        const string expected = "{\"__metadata__\":{\"k\":\"v\"},\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                              + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[2,18]}}";
        Assert.That(header.TrimEnd(' '), Is.EqualTo(expected));
        Assert.That(header[expected.Length..], Is.EqualTo(new string(' ', n - expected.Length)));
        var data = bytes[(8 + n)..];
        var expectedData = Concat([0xFF, 0x05], BitConverter.GetBytes(1f), BitConverter.GetBytes(2f), BitConverter.GetBytes(3f), BitConverter.GetBytes(4f));
        Assert.That(data, Is.EqualTo(expectedData));
    }

    static IEnumerable<ScalarType> AllTypes() =>
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    static Tensor Sample(ScalarType type, long[] shape, Generator g)
    {
        using var r = randn(shape, generator: g) * 100;
        return type == ScalarType.Bool ? r.gt(0) : r.to_type(type);
    }

    [TestCaseSource(nameof(AllTypes))]
    public void EveryDTypeRoundTripsBitForBit(ScalarType type)
    {
        using var g = new Generator(7);
        var shapes = new long[][] { [3, 5], [], [0], [2, 0, 3], [17] };
        var tensors = shapes.Select((s, i) => (Name: $"t{i}", Tensor: Sample(type, s, g))).ToDictionary(p => p.Name, p => p.Tensor);
        try
        {
            var path = FilePath("all.safetensors");
            SafeTensors.Save(path, tensors);
            using var read = SafeTensors.Read(path);
            Assert.That(read.Tensors.Keys, Is.EquivalentTo(tensors.Keys));
            foreach (var (name, t) in tensors) AssertSame(t, read.Tensors[name]);
            var header = SafeTensors.ReadHeader(path);
            Assert.That(header.Entries.Select(e => e.DType), Is.All.EqualTo(type));
            Assert.That(header.Entries[0].Name, Is.EqualTo("t0"));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Test]
    public void DTypeCodesAreTheSafeTensorsNames()
    {
        var codes = AllTypes().Select(SafeTensors.DTypeCode);
        Assert.That(codes, Is.EqualTo(new[] { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" }));
    }

    [Test]
    public void NonContiguousTensorsAreWrittenInLogicalOrder()
    {
        using var m = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var t = m.t();
        Assert.That(t.is_contiguous(), Is.False);
        var path = FilePath("t.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["t"] = t });
        using var read = SafeTensors.Read(path);
        Assert.That(read.Tensors["t"].data<float>().ToArray(), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
    }

    [Test]
    public void PyBridgeReadsOurFilesAndWeReadItsFiles()
    {
        // TorchSharp.PyBridge has its own safetensors implementation: an independent reader and writer to check against.
        using var g = new Generator(3);
        using var a = randn([4, 3], generator: g);
        using var b = randint(0, 100, [5], dtype: ScalarType.Int64, generator: g);
        var dict = new Dictionary<string, Tensor> { ["layer.weight"] = a, ["layer.index"] = b };

        var ours = FilePath("ours.safetensors");
        SafeTensors.Save(ours, dict, new Dictionary<string, string> { ["format"] = "pt" });
        var byPyBridge = TorchSharp.PyBridge.Safetensors.LoadStateDict(ours);
        try
        {
            foreach (var (k, v) in dict) AssertSame(v, byPyBridge[k]);
        }
        finally
        {
            foreach (var t in byPyBridge.Values) t.Dispose();
        }

        var theirs = FilePath("theirs.safetensors");
        TorchSharp.PyBridge.Safetensors.SaveStateDict(theirs, dict);
        using var read = SafeTensors.Read(theirs);
        foreach (var (k, v) in dict) AssertSame(v, read.Tensors[k]);
    }

    [Test]
    public void ReadingIntoADeviceGivesTensorsThere()
    {
        var path = FilePath("d.safetensors");
        using var a = ones(3);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        using var read = SafeTensors.Read(path, Devices.Cpu);
        Assert.That(read.Tensors["a"].device_type, Is.EqualTo(DeviceType.CPU));
    }

    [Test]
    public void WriterRejectsReservedNamesAndUnsupportedTypes()
    {
        using var a = ones(2);
        using var c = complex(ones(2), zeros(2));
        var path = FilePath("bad.safetensors");
        var e1 = Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = a }));
        Assert.That(e1!.Message, Does.Contain("reserved"));
        var e2 = Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["c"] = c }));
        Assert.That(e2!.Message, Does.Contain("ComplexFloat32"));
        Assert.That(File.Exists(path), Is.False);
        Assert.That(Directory.GetFiles(Folder), Is.Empty, "no temporary file is left behind");
    }

    [Test]
    public void NativeTensorCountIsFlatAcrossSavesAndReads()
    {
        var path = FilePath("flat.safetensors");
        using var a = randn(8, 8);
        using var b = randn(3).t();
        var dict = new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b };
        SafeTensors.Save(path, dict);
        using (SafeTensors.Read(path)) { }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();   // earlier garbage is finalized now, not mid-measurement
        var before = Tensor.TotalCount;
        for (int i = 0; i < 20; i++)
        {
            SafeTensors.Save(path, dict);
            using var read = SafeTensors.Read(path);
        }
        Assert.That(Tensor.TotalCount, Is.EqualTo(before));
    }

    // ------------------------------------------------------------------ bad input

    string WriteBad(byte[] bytes)
    {
        var path = FilePath("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    void AssertBad(byte[] bytes, params string[] fragments)
    {
        var path = WriteBad(bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path).Dispose());
        Assert.That(e!.Message, Does.StartWith(path + ":"), "the message names the file");
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    static readonly byte[] EightBytes = new byte[8];

    static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{shape}],\"data_offsets\":[{begin},{end}]}}";

    [Test]
    public void TooShortForTheLengthPrefix() => AssertBad([1, 0, 0], "3 bytes long", "too short");

    [Test]
    public void HeaderLengthPastTheEnd()
    {
        var bytes = Assemble("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        AssertBad(bytes, "header length at byte 0 is 1000", "past the end of the 10-byte file");
    }

    [Test]
    public void HeaderLengthAboveTheCapIsRefusedBeforeAllocating()
    {
        var bytes = Assemble("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        AssertBad(bytes, "above the limit of 100000000");
    }

    [Test]
    public void ControlCharactersInATensorNameArePrintedEscaped()
    {
        // The name "w<ESC>[2J<LF>x" (a terminal's clear-screen and a line break) with an unknown dtype.
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(WriteBad(Assemble(
            "{\"w\\u001b[2J\\nx\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,8]}}", EightBytes))).Dispose());
        Assert.That(e!.Message, Does.Contain("tensor 'w\\u001b[2J\\nx' has the unknown or unsupported dtype 'Q9'"));
        Assert.That(e.Message.Any(char.IsControl), Is.False, "no raw control character reaches a terminal");
    }

    [Test]
    public void HeaderThatIsNotJson() => AssertBad(Assemble("{\"a\": nope}", []), "not valid JSON");

    [Test]
    public void HeaderThatIsNotAnObject() => AssertBad(Assemble("[1, 2]   ", []), "does not start with '{'");

    [Test]
    public void HeaderThatIsNotUtf8()
    {
        var bytes = Assemble("{\"ab\":{}}", []);
        bytes[8 + 3] = 0xF1; // inside the name "ab"
        AssertBad(bytes, "not valid UTF-8 (at byte 11)");
    }

    [Test]
    public void DuplicateNames() =>
        AssertBad(Assemble("{" + Entry("a", "U8", "1", 0, 1) + "," + Entry("a", "U8", "1", 1, 2) + "}", [1, 2]), "names 'a' twice");

    [Test]
    public void UnknownDType() =>
        AssertBad(Assemble("{" + Entry("a", "F128", "1", 0, 16) + "}", new byte[16]), "tensor 'a'", "unknown or unsupported dtype 'F128'");

    [Test]
    public void OverlappingOffsets() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "2", 0, 8) + "," + Entry("b", "F32", "1", 4, 8) + "}", EightBytes),
                  "tensor 'b' has data_offsets [4, 8], which overlaps the end of tensor 'a' (8)");

    [Test]
    public void OffsetsOutsideTheData() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "4", 0, 16) + "}", EightBytes), "tensor 'a'", "past the end of the 8-byte data buffer");

    [Test]
    public void GapBetweenTensors() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "1", 4, 8) + "}", EightBytes), "tensor 'a'", "leaves a gap after the start of the data buffer");

    [Test]
    public void TrailingBytesAfterTheTensors() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "1", 0, 4) + "}", EightBytes), "cover 4 bytes of data but the file holds 8");

    [Test]
    public void ShapeThatDisagreesWithTheOffsets() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "3", 0, 8) + "}", EightBytes), "tensor 'a'", "so 12 bytes", "span 8 bytes");

    [Test]
    public void ShapeWhoseSizeOverflows() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "4294967296,4294967296,16", 0, 8) + "}", EightBytes), "tensor 'a'", "overflows");

    [Test]
    public void TooManyDimensions() =>
        AssertBad(Assemble("{" + Entry("a", "U8", string.Join(",", Enumerable.Repeat("1", 65)), 0, 1) + "}", [0]), "tensor 'a' has 65 dimensions; at most 64");

    [Test]
    public void NegativeDimension() =>
        AssertBad(Assemble("{" + Entry("a", "F32", "-2", 0, 8) + "}", EightBytes), "tensor 'a'", "not a non-negative 64-bit integer");

    [Test]
    public void BoolBytesOtherThanZeroOrOne()
    {
        var header = "{" + Entry("m", "BOOL", "3", 0, 3) + "}";
        var dataStart = 8 + Encoding.UTF8.GetByteCount(header);
        AssertBad(Assemble(header, [1, 0, 7]), "tensor 'm'", "byte 7", $"file offset {dataStart + 2}");
    }

    [Test]
    public void MetadataValuesMustBeStrings() =>
        AssertBad(Assemble("{\"__metadata__\":{\"epoch\":3}}", []), "metadata 'epoch'", "must be strings");

    [Test]
    public void MissingFileIsFileNotFound()
    {
        var path = FilePath("absent.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensors.Read(path));
        Assert.That(e!.Message, Does.Contain(path));
    }
}
