using System.IO.Compression;
using System.Text;
using Functional.Serialization;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>
/// torch.save files in both layouts, with tensors that view a larger storage. PyTorch is not available here, so the
/// files are written byte for byte by <see cref="TorchSaveWriter"/> below, following PyTorch's torch/serialization.py
/// (<c>_legacy_save</c> and <c>_save</c>) and Python's pickle protocol 2 (Lib/pickle.py), as PyTorch's own pickler
/// would emit them for <c>torch.save(model.state_dict(), path)</c>. The expected values are PyTorch's view rule
/// (element <c>offset + Σ iₖ·stride[k]</c> of the storage), computed by hand or with LibTorch's as_strided on an
/// independent tensor.
/// </summary>
public class PyTorchImportTests
{
    string folder = "";

    [OneTimeSetUp]
    public void Load() => Native.EnsureLoaded();

    [SetUp]
    public void CreateFolder() => folder = Directory.CreateTempSubdirectory("functional-pt-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    static readonly float[] Twelve = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();

    /// <summary>One storage of 12 floats viewed four ways (offset, transpose, whole, stride 2), and one of int64.</summary>
    static TorchSaveWriter.Entry[] Views() =>
    [
        new("slice", "0", 2, [2, 3], [3, 1]),        // storage[2:8].view(2, 3): a storage offset
        new("transposed", "0", 0, [3, 2], [1, 3]),   // storage[:6].view(2, 3).t(): not contiguous
        new("whole", "0", 0, [12], [1]),             // the same storage, shared
        new("strided", "0", 1, [3], [2]),            // storage[1::2][:3]
        new("steps", "1", 0, [2], [1]),
    ];

    static Dictionary<string, TorchSaveWriter.StorageData> Storages() => new()
    {
        ["0"] = TorchSaveWriter.StorageData.Floats(Twelve),
        ["1"] = TorchSaveWriter.StorageData.Longs([7, -3]),
    };

    static void AssertViews(Dictionary<string, Tensor> read)
    {
        using var storage = torch.tensor(Twelve);
        Assert.Multiple(() =>
        {
            Assert.That(read.Keys, Is.EquivalentTo(new[] { "slice", "transposed", "whole", "strided", "steps" }));
            Assert.That(read["slice"].shape, Is.EqualTo(new long[] { 2, 3 }));
            Assert.That(read["slice"].data<float>().ToArray(), Is.EqualTo(new float[] { 2, 3, 4, 5, 6, 7 }));
            Assert.That(read["transposed"].data<float>().ToArray(), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
            Assert.That(read["whole"].data<float>().ToArray(), Is.EqualTo(Twelve));
            Assert.That(read["strided"].data<float>().ToArray(), Is.EqualTo(new float[] { 1, 3, 5 }));
            Assert.That(read["steps"].dtype, Is.EqualTo(ScalarType.Int64));
            Assert.That(read["steps"].data<long>().ToArray(), Is.EqualTo(new long[] { 7, -3 }));
            foreach (var e in Views().Where(e => e.Storage == "0"))
            {
                using var expected = storage.as_strided(e.Size, e.Stride, e.Offset);
                Assert.That(read[e.Name].equal(expected).all().item<bool>(), Is.True, e.Name);
            }
        });
        // Each tensor is its own copy: writing one does not change another that shared its storage.
        read["slice"].fill_(-1);
        Assert.That(read["whole"][2].item<float>(), Is.EqualTo(2f));
        foreach (var t in read.Values) t.Dispose();
    }

    [Test]
    public void LegacyLayoutWithViewsReads()
    {
        var path = Path.Combine(folder, "legacy.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Legacy(Views(), Storages()));
        AssertViews(PyTorchImport.ReadStateDict(path));
    }

    [Test]
    public void ZipLayoutWithViewsReads()
    {
        // Before: TorchSharp.PyBridge's reader allocated only the view's elements and failed in LibTorch's as_strided.
        var path = Path.Combine(folder, "zip.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Zip(Views(), Storages()));
        AssertViews(PyTorchImport.ReadStateDict(path));
    }

    [Test]
    public void LegacyStateDictLoadsIntoAModel()
    {
        using var model = torch.nn.Linear(3, 2);
        var weights = new float[] { 1, 2, 3, 4, 5, 6 };
        var bias = new float[] { -1, 1 };
        // Parameters in one storage each, as state_dict() gives them; keys are str(storage._cdata), sorted.
        var path = Path.Combine(folder, "linear.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Legacy(
            [new("weight", "94000000000001", 0, [2, 3], [3, 1]), new("bias", "94000000000002", 0, [2], [1])],
            new() { ["94000000000001"] = TorchSaveWriter.StorageData.Floats(weights), ["94000000000002"] = TorchSaveWriter.StorageData.Floats(bias) }));
        var report = model.LoadPyTorch(path);
        Assert.That(report.ToString(), Is.EqualTo(LoadReport.AllKeysMatchedMessage));
        Assert.That(model.weight!.data<float>().ToArray(), Is.EqualTo(weights));
        Assert.That(model.bias!.data<float>().ToArray(), Is.EqualTo(bias));
    }

    [Test]
    public void ReadsAndFailedReadsLeaveNoTensorBehind()
    {
        var good = Path.Combine(folder, "good.pt");
        var bad = Path.Combine(folder, "bad.pt");
        File.WriteAllBytes(good, TorchSaveWriter.Legacy(Views(), Storages()));
        File.WriteAllBytes(bad, TorchSaveWriter.Zip([new("ok", "0", 0, [2], [1]), new("w", "0", 10, [2, 3], [3, 1])], new() { ["0"] = TorchSaveWriter.StorageData.Floats(Twelve) }));
        void Run()
        {
            foreach (var t in PyTorchImport.ReadStateDict(good).Values) t.Dispose();
            Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(bad));
        }
        Run();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        var before = Tensor.TotalCount;
        for (int i = 0; i < 5; i++) Run();
        Assert.That(Tensor.TotalCount, Is.EqualTo(before));
    }

    [Test]
    public void LegacyStorageViewMetadataReads()
    {
        // PyTorch before 1.0 saved a storage slice as view_metadata (view key, offset, size) in the persistent id.
        var path = Path.Combine(folder, "view.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Legacy(
            [new("tail", "0", 1, [2], [1]) { View = ("0v", 8, 4) }],
            new() { ["0"] = TorchSaveWriter.StorageData.Floats(Twelve) }));
        var read = PyTorchImport.ReadStateDict(path);
        Assert.That(read["tail"].data<float>().ToArray(), Is.EqualTo(new float[] { 9, 10 }));
        read["tail"].Dispose();
    }

    [Test]
    public void AViewOutsideItsStorageIsInvalidDataNotALibTorchTrace()
    {
        var path = Path.Combine(folder, "outside.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Zip([new("w", "0", 10, [2, 3], [3, 1])], new() { ["0"] = TorchSaveWriter.StorageData.Floats(Twelve) }));
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.StartWith(path + ": ").And.Contain("reaches element 15 of its 12-element storage"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void AnExpandedTensorIsCopiedOutUnlessItWouldTakeFarMoreThanTheFile()
    {
        // A stride of 0 repeats the storage's elements: PyTorch keeps a view, the reader copies it.
        var path = Path.Combine(folder, "expanded.pt");
        File.WriteAllBytes(path, TorchSaveWriter.Zip([new("small", "0", 0, [4, 12], [0, 1])], new() { ["0"] = TorchSaveWriter.StorageData.Floats(Twelve) }));
        var read = PyTorchImport.ReadStateDict(path);
        Assert.That(read["small"].shape, Is.EqualTo(new long[] { 4, 12 }));
        Assert.That(read["small"][3].data<float>().ToArray(), Is.EqualTo(Twelve));
        foreach (var t in read.Values) t.Dispose();

        // 2^32 elements from one stored float: refused in one line, before anything is allocated.
        File.WriteAllBytes(path, TorchSaveWriter.Zip([new("huge", "0", 0, [65536, 65536], [0, 0])], new() { ["0"] = TorchSaveWriter.StorageData.Floats([1f]) }));
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.StartWith(path + ": a tensor of size [65536, 65536] and stride [0, 0] reads its 1-element storage '0' with overlapping strides").And.Contain(".contiguous()"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void ATruncatedLegacyFileIsInvalidData()
    {
        var path = Path.Combine(folder, "short.pt");
        var bytes = TorchSaveWriter.Legacy(Views(), Storages());
        File.WriteAllBytes(path, bytes[..^5]);
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.StartWith(path + ": "));
    }

    [Test]
    public void AWholePickledModelGetsOneLineSayingHowToReSave()
    {
        // torch.save(model) with protocol 2: NEWOBJ of the user's class, then BUILD with its __dict__.
        var path = Path.Combine(folder, "model.pt");
        var p = new TorchSaveWriter.Pickle();
        p.Proto().Global("__main__", "NeuralNetwork").Op(0x29 /* EMPTY_TUPLE */).Op(0x81 /* NEWOBJ */)
         .Op(0x7d /* EMPTY_DICT */).Str("training").Op(0x88 /* NEWTRUE */).Op(0x73 /* SETITEM */).Op(0x62 /* BUILD */).Stop();
        File.WriteAllBytes(path, TorchSaveWriter.LegacyOf(p.Bytes(), []));
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Is.EqualTo($"{path}: {TorchSaveFormat.WholeObject("__main__.NeuralNetwork")}"));
        Assert.That(e.Message, Does.Contain("torch.save(model.state_dict(), path)"));
    }

    [Test]
    public void AGlobalWithArgumentsIsNeverCalled()
    {
        // os.system('touch <file>') in a pickle: a name only, never run; the read is refused in one line.
        var marker = Path.Combine(folder, "ran");
        var p = new TorchSaveWriter.Pickle();
        p.Proto().Global("os", "system").Str($"touch {marker}").Op(0x85 /* TUPLE1 */).Op(0x52 /* REDUCE */).Stop();
        var path = Path.Combine(folder, "evil.pt");
        File.WriteAllBytes(path, TorchSaveWriter.LegacyOf(p.Bytes(), []));
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.Contain("class os.system").And.Contain("torch.save(model.state_dict(), path)"));
        Assert.That(File.Exists(marker), Is.False);
    }

    [Test]
    public void ATorchScriptArchiveSaysWhatItIs()
    {
        var path = Path.Combine(folder, "script.pt");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var w = new StreamWriter(zip.CreateEntry("model/code/__torch__.py").Open()))
                w.Write("class Model: pass");
            zip.CreateEntry("model/constants.pkl");
        }
        var e = Assert.Throws<InvalidDataException>(() => PyTorchImport.ReadStateDict(path));
        Assert.That(e!.Message, Does.StartWith($"{path}: a TorchScript archive (torch.jit.save)"));
    }
}

/// <summary>
/// Writes torch.save files byte for byte, without Python: Python's pickle protocol 2 opcodes (Lib/pickle.py), in the
/// order PyTorch's torch/serialization.py has Python's pickler emit them for a state dict (an OrderedDict of
/// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())</c>, each storage a
/// persistent id), in the legacy layout (<c>_legacy_save</c>) or the zip layout (<c>_save</c>).
/// </summary>
static class TorchSaveWriter
{
    internal sealed record Entry(string Name, string Storage, long Offset, long[] Size, long[] Stride)
    {
        /// <summary>The legacy layout's view_metadata (view key, offset, size), or none.</summary>
        public (string Key, long Offset, long Size)? View { get; init; }
    }

    internal sealed record StorageData(string Type, long Count, byte[] Bytes)
    {
        public static StorageData Floats(float[] values) => new("FloatStorage", values.Length, values.SelectMany(BitConverter.GetBytes).ToArray());
        public static StorageData Longs(long[] values) => new("LongStorage", values.Length, values.SelectMany(BitConverter.GetBytes).ToArray());
    }

    /// <summary>Pickle protocol 2 opcodes.</summary>
    /// <remarks>Like Python's pickler, each global and string is memoized (BINPUT) when first written and fetched
    /// (BINGET) when written again, so a storage shared by several tensors repeats its persistent id through the memo.</remarks>
    internal sealed class Pickle
    {
        readonly MemoryStream bytes = new();
        readonly Dictionary<string, int> memo = new(StringComparer.Ordinal);

        /// <summary>BINGET of what was memoized under <paramref name="key"/>, or false after writing BINPUT's slot for it.</summary>
        bool Memo(string key, Action write)
        {
            if (memo.TryGetValue(key, out var slot))
            {
                Op((byte)'h').Op((byte)slot);
                return true;
            }
            write();
            slot = memo.Count;
            memo[key] = slot;
            Op((byte)'q').Op((byte)slot);
            return false;
        }
        public Pickle Op(byte code) { bytes.WriteByte(code); return this; }
        public Pickle Raw(ReadOnlySpan<byte> data) { bytes.Write(data); return this; }
        public Pickle Proto() => Op(0x80).Op(2);
        public Pickle Stop() => Op((byte)'.');
        public Pickle Mark() => Op((byte)'(');
        public Pickle Global(string module, string name)
        {
            Memo($"global {module}.{name}", () => Op((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n")));
            return this;
        }
        public Pickle Str(string s)
        {
            var utf8 = Encoding.UTF8.GetBytes(s);
            Memo("str " + s, () => Op((byte)'X').Raw(BitConverter.GetBytes(utf8.Length)).Raw(utf8));
            return this;
        }
        /// <summary>Python's save_long: BININT1, BININT2, BININT, else LONG1.</summary>
        public Pickle Int(long v)
        {
            if (v >= 0 && v < 256) return Op((byte)'K').Op((byte)v);
            if (v >= 0 && v < 65536) return Op((byte)'M').Raw(BitConverter.GetBytes((ushort)v));
            if (v >= int.MinValue && v <= int.MaxValue) return Op((byte)'J').Raw(BitConverter.GetBytes((int)v));
            var b = new System.Numerics.BigInteger(v).ToByteArray();
            return Op(0x8a).Op((byte)b.Length).Raw(b);
        }
        /// <summary>Python's save_tuple: EMPTY_TUPLE, TUPLE1-3, else MARK ... TUPLE.</summary>
        public Pickle Tuple(params long[] items)
        {
            if (items.Length == 0) return Op((byte)')');
            if (items.Length > 3) Mark();
            foreach (var i in items) Int(i);
            return items.Length switch { 1 => Op(0x85), 2 => Op(0x86), 3 => Op(0x87), _ => Op((byte)'t') };
        }
        public byte[] Bytes() => bytes.ToArray();
    }

    /// <summary>The state dict's pickle: OrderedDict() with SETITEMS of the tensors, then BUILD of its __dict__
    /// ({'_metadata': OrderedDict()}), as save_reduce orders them.</summary>
    static byte[] StateDict(Entry[] entries, Dictionary<string, StorageData> storages, bool legacy)
    {
        var p = new Pickle();
        p.Proto().Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R').Mark();
        foreach (var e in entries)
        {
            var s = storages[e.Storage];
            p.Str(e.Name).Global("torch._utils", "_rebuild_tensor_v2").Mark();
            // persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel[, view_metadata])
            p.Mark().Str("storage").Global("torch", s.Type).Str(e.Storage).Str("cpu").Int(s.Count);
            if (legacy)
            {
                if (e.View is { } v) p.Str(v.Key).Int(v.Offset).Int(v.Size).Op(0x87);
                else p.Op((byte)'N');
            }
            p.Op((byte)'t').Op((byte)'Q');
            p.Int(e.Offset).Tuple(e.Size).Tuple(e.Stride).Op(0x89 /* NEWFALSE */)
             .Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R')
             .Op((byte)'t').Op((byte)'R');
        }
        p.Op((byte)'u');
        p.Op((byte)'}').Str("_metadata").Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R').Op((byte)'s').Op((byte)'b');
        return p.Stop().Bytes();
    }

    /// <summary>_legacy_save: magic number, protocol version, sys info, the object, the sorted storage keys, then each
    /// storage as its element count (int64, little-endian) and its bytes.</summary>
    internal static byte[] LegacyOf(byte[] objectPickle, Dictionary<string, StorageData> storages)
    {
        using var file = new MemoryStream();
        // MAGIC_NUMBER = 0x1950a86a20f9469cfc6c as LONG1 (10 bytes, little-endian).
        file.Write(new Pickle().Proto().Op(0x8a).Op(10).Raw(new byte[] { 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 }).Stop().Bytes());
        file.Write(new Pickle().Proto().Int(1001).Stop().Bytes());
        var info = new Pickle().Proto().Op((byte)'}').Mark().Str("protocol_version").Int(1001).Str("little_endian").Op(0x88)
            .Str("type_sizes").Op((byte)'}').Mark().Str("short").Int(2).Str("int").Int(4).Str("long").Int(4).Op((byte)'u').Op((byte)'u').Stop();
        file.Write(info.Bytes());
        file.Write(objectPickle);
        var keys = storages.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var list = new Pickle().Proto().Op((byte)']');
        if (keys.Length > 0)
        {
            list.Mark();
            foreach (var k in keys) list.Str(k);
            list.Op((byte)'e');
        }
        file.Write(list.Stop().Bytes());
        foreach (var k in keys)
        {
            file.Write(BitConverter.GetBytes(storages[k].Count));
            file.Write(storages[k].Bytes);
        }
        return file.ToArray();
    }

    internal static byte[] Legacy(Entry[] entries, Dictionary<string, StorageData> storages) =>
        LegacyOf(StateDict(entries, storages, legacy: true), storages);

    /// <summary>_save: archive/data.pkl, archive/byteorder, archive/data/&lt;key&gt;, archive/version.</summary>
    internal static byte[] Zip(Entry[] entries, Dictionary<string, StorageData> storages)
    {
        using var file = new MemoryStream();
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Record(string name, byte[] data)
            {
                using var s = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
            Record("data.pkl", StateDict(entries, storages, legacy: false));
            Record("byteorder", "little"u8.ToArray());
            foreach (var (key, s) in storages) Record("data/" + key, s.Bytes);
            Record("version", "3\n"u8.ToArray());
        }
        return file.ToArray();
    }
}
