using System.Collections;
using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;
using static TorchSharp.torch;

namespace Functional.Serialization;

/// <summary>
/// Reads what <c>torch.save</c> writes, in both of its layouts, following PyTorch's
/// <c>torch/serialization.py</c>:
/// <list type="bullet">
/// <item>the zip layout (<c>_save</c>, PyTorch 1.6 and later): <c>&lt;name&gt;/data.pkl</c> is the pickled object, whose
/// persistent ids <c>('storage', torch.FloatStorage, key, location, numel)</c> name the raw little-endian bytes in
/// <c>&lt;name&gt;/data/&lt;key&gt;</c>;</item>
/// <item>the legacy layout (<c>_legacy_save</c>: before 1.6, or <c>_use_new_zipfile_serialization=False</c>): a sequence
/// of pickles, the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, the system info, the object (persistent
/// ids <c>('storage', type, key, location, numel, view_metadata)</c>), the sorted list of storage keys, then each storage
/// as an 8-byte element count followed by its bytes.</item>
/// </list>
/// Tensors are <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)</c>: views into a storage, which
/// several tensors may share; each is copied out of its storage into a fresh contiguous tensor, after its extent is
/// checked against the storage.
/// </summary>
/// <remarks>
/// The pickles are read by Razorvine.Pickle, which interprets the opcodes itself and runs no Python: a global is only
/// ever a name. Three names are given a meaning here (tensors, parameters, ordered dictionaries); any other global stays
/// an inert record (<see cref="ClassDict"/>), so a pickled object is recognised and refused with a line that says how to
/// re-save the file.
/// </remarks>
internal static class TorchSaveFormat
{
    static readonly BigInteger MagicNumber = BigInteger.Parse("01950A86A20F9469CFC6C", NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    const long ProtocolVersion = 1001;
    const string ReSave = "in PyTorch, re-save the weights with torch.save(model.state_dict(), path)";

    /// <summary>The globals this reader gives a meaning to; every other one is an inert name.</summary>
    static readonly string[] Known =
    [
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "collections.OrderedDict",
    ];

    static readonly object Gate = new();

    /// <summary>Reads the object saved in the file, with fresh CPU tensors in place of PyTorch's tensors; dictionaries
    /// are <see cref="Hashtable"/>s, tuples and lists object arrays and lists, other objects <see cref="ClassDict"/>s.</summary>
    /// <exception cref="InvalidDataException">The file is not in either layout, is damaged, or holds what cannot be read
    /// (the message is one line that names the file and says how to re-save it).</exception>
    internal static object Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> head = stackalloc byte[512];
        int length = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..length];
        stream.Position = 0;
        if (head.StartsWith("PK\x03\x04"u8)) return ReadZip(stream, path);
        if (head.Length >= 262 && head.Slice(257, 5).SequenceEqual("ustar"u8))
            throw Bad(path, $"a tar archive, the torch.save format of PyTorch before 0.4, which this reader does not read; {ReSave} in a newer PyTorch.");
        if (head.Length >= 2 && head[0] == 0x80) return ReadLegacy(stream, path);
        throw Bad(path, "neither a zip archive (torch.save) nor a sequence of pickles (torch.save before PyTorch 1.6), so not a torch.save file.");
    }

    static object ReadZip(FileStream stream, string path)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1);
        if (pickle is null)
        {
            if (archive.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal) || e.FullName.Contains("/code/", StringComparison.Ordinal)))
                throw Bad(path, $"a TorchScript archive (torch.jit.save), which holds code, not a state dict; {ReSave}.");
            throw Bad(path, "a zip archive without the data.pkl record of torch.save.");
        }
        var prefix = pickle.FullName[..^"data.pkl".Length];
        var byteOrder = archive.GetEntry(prefix + "byteorder");
        if (byteOrder is not null)
        {
            using var reader = new StreamReader(byteOrder.Open(), Encoding.ASCII);
            var order = reader.ReadToEnd();
            if (order != "little")
                throw Bad(path, $"the byteorder record says '{order}'; only little-endian files are read. Re-save the file on a little-endian machine.");
        }
        using var context = new Context(path);
        var root = context.Unpickle(ReadEntry(pickle, path));
        foreach (var storage in context.Storages.Values)
        {
            var entry = archive.GetEntry($"{prefix}data/{storage.Key}")
                ?? throw Bad(path, $"the storage '{storage.Key}' has no record {prefix}data/{storage.Key} in the archive (truncated or damaged).");
            CheckDeclaredLength(entry, path);
            long expected = checked(storage.Count * ElementSize(storage.DType));
            if (entry.Length != expected)
                throw Bad(path, $"the record {entry.FullName} holds {entry.Length} bytes where {storage.Count} elements of {storage.DType} take {expected}.");
            using var bytes = entry.Open();
            storage.Fill(bytes, path);
        }
        return context.Materialize(root);
    }

    /// <summary>The deflate format expands data at most 1032 times: a zip record that declares more than that of its
    /// compressed size is damaged or a decompression bomb, refused before anything is allocated for it.</summary>
    const long MaxDeflateRatio = 1032;

    static void CheckDeclaredLength(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > entry.CompressedLength * MaxDeflateRatio + (1 << 16))
            throw Bad(path, $"the record {entry.FullName} declares {entry.Length} bytes from {entry.CompressedLength} compressed ones, more than deflate can give (the archive is damaged, or a decompression bomb).");
    }

    /// <summary>A zip record's bytes, read with its declared length checked first.</summary>
    static byte[] ReadEntry(ZipArchiveEntry entry, string path)
    {
        CheckDeclaredLength(entry, path);
        if (entry.Length > Array.MaxLength)
            throw Bad(path, $"the record {entry.FullName} declares {entry.Length} bytes, more than a pickle of a state dict holds (the archive is damaged).");
        using var data = entry.Open();
        var bytes = new byte[entry.Length];
        var read = data.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read < bytes.Length)
            throw Bad(path, $"the record {entry.FullName} ends after {read} of its {entry.Length} bytes (truncated or damaged).");
        return bytes;
    }

    static object ReadLegacy(FileStream stream, string path)
    {
        using var context = new Context(path);
        // The pickles follow one another at the start of the file, before the storages; they are read from memory
        // (see Context.Unpickle), at most the whole file.
        var file = new byte[stream.Length];
        stream.ReadExactly(file);
        var at = 0;
        object? Next()
        {
            var value = context.UnpickleFirst(file.AsMemory(at), out var length);
            at += length;
            return value;
        }
        var magic = Next();
        if (!(magic is BigInteger b && b == MagicNumber))
            throw Bad(path, "a pickle, but not one written by torch.save (no magic number 0x1950a86a20f9469cfc6c first).");
        var protocol = Next();
        if (!(IsInteger(protocol) && AsLong(protocol!) == ProtocolVersion))
            throw Bad(path, $"torch.save's legacy protocol version {protocol} is not the known {ProtocolVersion}.");
        if (Next() is Hashtable info && info["little_endian"] is false)
            throw Bad(path, "written on a big-endian machine; only little-endian files are read. Re-save the file on a little-endian machine.");
        var root = Next() ?? throw Bad(path, "the object saved is None, not a state dict.");
        if (Next() is not IList keys)
            throw Bad(path, $"the list of storage keys after the object is missing (byte {at}).");
        stream.Position = at;
        Span<byte> count = stackalloc byte[8];
        foreach (var key in keys)
        {
            if (key is not string name || !context.Storages.TryGetValue(name, out var storage))
                throw Bad(path, $"the storage key '{key}' at byte {stream.Position} names no storage of the object.");
            if (stream.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8)
                throw Bad(path, $"the file ends at byte {stream.Position}, before the element count of storage '{name}'.");
            long elements = BitConverter.ToInt64(count);
            if (elements != storage.Count)
                throw Bad(path, $"storage '{name}' at byte {stream.Position - 8} has {elements} elements where the object says {storage.Count}.");
            if (checked(elements * ElementSize(storage.DType)) > stream.Length - stream.Position)
                throw Bad(path, $"storage '{name}' of {elements} elements of {storage.DType} runs past the end of the {stream.Length}-byte file (truncated).");
            storage.Fill(stream, path);
        }
        foreach (var storage in context.Storages.Values)
            if (!storage.Filled)
                throw Bad(path, $"the storage '{storage.Key}' is used by the object but not listed after it.");
        return context.Materialize(root);
    }

    /// <summary>One read: its storages, by key, and the unpickler's hooks.</summary>
    sealed class Context(string path) : IDisposable
    {
        public void Dispose()
        {
            foreach (var storage in Storages.Values) storage.Dispose();
        }

        public readonly Dictionary<string, Storage> Storages = new(StringComparer.Ordinal);
        public string Path { get; } = path;

        /// <summary>The pickle that <paramref name="bytes"/> holds.</summary>
        /// <remarks>Razorvine reads a pickle held in memory as slices of it, so a length field that claims gigabytes
        /// fails at the end of the data instead of allocating what it claims (reading from a stream, it allocates
        /// first).</remarks>
        public object Unpickle(byte[] bytes) => Load(bytes);

        /// <summary>The first of the pickles that follow one another in <paramref name="bytes"/>, and how many bytes it
        /// takes. A pickle ends at its STOP opcode, which Razorvine does not report: the length is found as the
        /// shortest prefix that unpickles (a prefix that stops short of STOP fails; the parse of a prefix is the
        /// parse of the whole up to where it stops), by a doubling search and then bisection, so that each attempt
        /// copies about as much as the pickle itself.</summary>
        public object UnpickleFirst(ReadOnlyMemory<byte> bytes, out int length)
        {
            bool Unpickles(int n, out object? value)
            {
                try
                {
                    value = Load(bytes[..n].ToArray());
                    return true;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    value = null;
                    return false;
                }
            }
            int high = Math.Min(64, bytes.Length), low = 1;
            object? found;
            while (!Unpickles(high, out found))
            {
                if (high == bytes.Length)
                {
                    Load(bytes.ToArray());   // fails: let its own exception say why
                    throw Bad(Path, "a pickle that does not end.");
                }
                low = high + 1;
                high = (int)Math.Min(2L * high, bytes.Length);
            }
            while (low < high)
            {
                var middle = low + (high - low) / 2;
                if (Unpickles(middle, out var value)) { high = middle; found = value; }
                else low = middle + 1;
            }
            length = high;
            return found!;
        }

        object Load(byte[] bytes)
        {
            Install();
            var previous = Current;
            Current = this;
            try
            {
                using var reader = new Reader(this);
                return reader.loads(bytes);
            }
            catch (PickleException e) when (Regex.Match(e.Message, @"construction of ClassDict \(for ([^)]+)\)") is { Success: true } match)
            {
                throw Bad(Path, WholeObject(match.Groups[1].Value));
            }
            finally
            {
                Current = previous;
            }
        }

        /// <summary>A tensor from the pickle: a view (offset, size, stride) of a storage.</summary>
        public object Construct(string global, object[] args)
        {
            switch (global)
            {
                case "torch._utils._rebuild_tensor_v2":
                case "torch._utils._rebuild_tensor":
                    if (args.Length < 4 || args[0] is not StorageView view)
                        throw Bad(Path, $"{global} with arguments ({Describe(args)}) instead of (storage, offset, size, stride, ...).");
                    return new TensorView(view, Integer(args[1], "storage offset"), Integers(args[2], "size"), Integers(args[3], "stride"));
                case "torch._utils._rebuild_parameter":
                case "torch._utils._rebuild_parameter_with_state":
                    // nn.Parameter(data): the data is the tensor.
                    if (args.Length < 1 || args[0] is not TensorView data)
                        throw Bad(Path, $"{global} with arguments ({Describe(args)}) instead of a tensor first.");
                    return data;
                case "collections.OrderedDict":
                    var dictionary = new PickledDictionary();
                    if (args.Length == 1 && args[0] is IEnumerable pairs)
                        foreach (var pair in pairs)
                            if (pair is object[] { Length: 2 } kv) dictionary[kv[0]] = kv[1];
                    return dictionary;
                default:
                    throw Bad(Path, WholeObject(global));
            }
        }

        public object PersistentLoad(object pid)
        {
            if (pid is not object[] { Length: >= 5 } id || Text(id[0]) is not { } kind)
                throw Bad(Path, $"a persistent id ({Describe(pid)}) that torch.save does not write.");
            if (kind == "module")
                throw Bad(Path, WholeObject(id[1] is ClassDictConstructor c ? $"{c.module}.{c.name}" : "a module"));
            if (kind != "storage")
                throw Bad(Path, $"a persistent id of kind '{kind}' that torch.save does not write for tensors.");
            var type = id[1] as ClassDictConstructor;
            var dtype = type is null ? null : StorageType(type.name);
            if (dtype is null)
                throw Bad(Path, $"a storage of type {(type is null ? Describe(id[1]) : $"{type.module}.{type.name}")}, which is not one of PyTorch's typed storages read here.");
            var key = Text(id[2]) ?? throw Bad(Path, $"a storage key {Describe(id[2])} that is not a string.");
            long count = Integer(id[4], "storage size");
            if (!Storages.TryGetValue(key, out var storage))
                Storages[key] = storage = new Storage(key, dtype.Value, count);
            else if (storage.DType != dtype || storage.Count != count)
                throw Bad(Path, $"the storage '{key}' is described twice, as {storage.Count} × {storage.DType} and {count} × {dtype}.");
            // The legacy layout's view_metadata (view key, offset, size): a storage that is a slice of another (PyTorch before 1.0).
            if (id.Length > 5 && id[5] is object[] { Length: 3 } slice)
            {
                long offset = Integer(slice[1], "storage view offset"), size = Integer(slice[2], "storage view size");
                if (offset < 0 || size < 0 || offset + size > count)
                    throw Bad(Path, $"a view [{offset}, {offset + size}) of the {count}-element storage '{key}' runs outside it.");
                return new StorageView(storage, offset, size);
            }
            return new StorageView(storage, 0, count);
        }

        /// <summary>The object with each tensor view replaced by a fresh tensor (copied out of its storage).</summary>
        public object Materialize(object root)
        {
            var made = new List<Tensor>();
            try
            {
                return Replace(root, made, new Dictionary<TensorView, Tensor>(ReferenceEqualityComparer.Instance));
            }
            catch
            {
                foreach (var t in made) t.Dispose();
                throw;
            }
        }

        object Replace(object value, List<Tensor> made, Dictionary<TensorView, Tensor> seen)
        {
            switch (value)
            {
                case TensorView view:
                    // The same pickled tensor twice (memoized) is one tensor in PyTorch: here an alias of it.
                    var tensor = seen.TryGetValue(view, out var known) ? known.alias() : view.Copy(Path);
                    made.Add(tensor);
                    seen[view] = tensor;
                    return tensor;
                case Hashtable table:
                    foreach (var key in table.Keys.Cast<object>().ToList())
                        table[key] = Replace(table[key]!, made, seen);
                    return table;
                case object[] items:
                    for (int i = 0; i < items.Length; i++) items[i] = Replace(items[i], made, seen);
                    return items;
                case IList list when value is not Array:
                    for (int i = 0; i < list.Count; i++) list[i] = Replace(list[i]!, made, seen);
                    return list;
                default:
                    return value;
            }
        }

        long Integer(object? value, string what) =>
            IsInteger(value) ? AsLong(value!) : throw Bad(Path, $"a tensor's {what} is {Describe(value)}, not an integer.");

        long[] Integers(object? value, string what) =>
            value is object[] items ? items.Select(v => Integer(v, what)).ToArray() : throw Bad(Path, $"a tensor's {what} is {Describe(value)}, not a tuple of integers.");
    }

    [ThreadStatic] static Context? Current;

    /// <summary>Razorvine looks globals up in one process-wide table. The few names given a meaning here go
    /// through this constructor, which serves the read under way on this thread and otherwise hands over to
    /// what was registered before (TorchSharp.PyBridge registers the same names), or to an inert record.</summary>
    sealed class Dispatcher(string global, IObjectConstructor? fallback) : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (Current is { } context) return context.Construct(global, args);
            if (fallback is not null) return fallback.construct(args);
            var dot = global.LastIndexOf('.');
            return new ClassDictConstructor(global[..dot], global[(dot + 1)..]).construct(args);
        }
    }

    static void Install()
    {
        lock (Gate)
        {
            foreach (var global in Known)
            {
                Reader.Table.TryGetValue(global, out var existing);
                if (existing is Dispatcher) continue;
                var dot = global.LastIndexOf('.');
                Unpickler.registerConstructor(global[..dot], global[(dot + 1)..], new Dispatcher(global, existing));
            }
        }
    }

    sealed class Reader(Context context) : Unpickler
    {
        public static IDictionary<string, IObjectConstructor> Table => objectConstructors;
        protected override object persistentLoad(object pid) => context.PersistentLoad(pid);
    }

    /// <summary>collections.OrderedDict: a dictionary whose pickled attributes (a state dict's <c>_metadata</c>) are dropped.</summary>
    sealed class PickledDictionary : Hashtable
    {
        public void __setstate__(Hashtable state) { }
    }

    /// <summary>One storage of the file: its elements, read once, shared by the tensors that view it.</summary>
    sealed class Storage(string key, ScalarType dtype, long count) : IDisposable
    {
        Tensor? data;
        public string Key { get; } = key;
        public ScalarType DType { get; } = dtype;
        public long Count { get; } = count;
        public bool Filled => data is not null;
        public Tensor Data => data ?? throw new InvalidOperationException("The storage was not read.");

        public void Fill(Stream source, string path)
        {
            if (Count < 0) throw Bad(path, $"the storage '{Key}' has a negative size {Count}.");
            var tensor = empty([Count], DType, CPU);
            try
            {
                long step = Math.Max(1, (1 << 24) / ElementSize(DType));
                for (long start = 0; start < Count; start += step)
                {
                    using var part = tensor.narrow(0, start, Math.Min(step, Count - start));
                    var span = part.bytes;
                    if (source.ReadAtLeast(span, span.Length, throwOnEndOfStream: false) < span.Length)
                        throw Bad(path, $"the storage '{Key}' ends early (truncated).");
                }
            }
            catch
            {
                tensor.Dispose();
                throw;
            }
            data = tensor;
        }

        public void Dispose()
        {
            data?.Dispose();
            data = null;
        }
    }

    /// <summary>The most elements a view that repeats its storage's elements (overlapping strides) may have when it is
    /// copied out: 2^24 (64 MiB of float32). A view within its storage's size is never limited.</summary>
    internal const long MaxRepeatedElements = 1L << 24;

    /// <summary>A storage, or the slice [Offset, Offset + Count) of one (the legacy layout's view_metadata).</summary>
    sealed record StorageView(Storage Storage, long Offset, long Count);

    /// <summary>_rebuild_tensor_v2's view: elements Offset + Σ iₖ·Stride[k] of the storage view, for iₖ &lt; Size[k].</summary>
    sealed class TensorView(StorageView storage, long offset, long[] size, long[] stride)
    {
        public Tensor Copy(string path)
        {
            if (size.Length != stride.Length || size.Any(s => s < 0) || stride.Any(s => s < 0) || offset < 0)
                throw Bad(path, $"a tensor of size {Shapes.Text(size)}, stride {Shapes.Text(stride)} and storage offset {offset}, which is not a valid view.");
            bool empty = size.Any(s => s == 0);
            long last = offset;
            for (int k = 0; k < size.Length && !empty; k++) last = checked(last + (size[k] - 1) * stride[k]);
            if (!empty && last >= storage.Count)
                throw Bad(path, $"a tensor of size {Shapes.Text(size)}, stride {Shapes.Text(stride)} and storage offset {offset} reaches element {last} of its {storage.Count}-element storage '{storage.Storage.Key}'.");
            // Strides that overlap (0 for an expanded tensor) make a view of more elements than its storage holds.
            // PyTorch keeps such a view; here it is copied out, so a few bytes of file could ask for gigabytes.
            long elements = 1;
            foreach (var s in size) elements = s == 0 ? 0 : elements > long.MaxValue / s ? long.MaxValue : elements * s;
            if (elements > storage.Count && elements > MaxRepeatedElements)
                throw Bad(path, $"a tensor of size {Shapes.Text(size)} and stride {Shapes.Text(stride)} reads its {storage.Count}-element storage '{storage.Storage.Key}' " +
                                $"with overlapping strides (an expanded tensor): copied out it would take {elements} elements, above the limit of {MaxRepeatedElements}. In PyTorch, save it with .contiguous() or .clone().");
            var result = zeros(size, storage.Storage.DType, CPU);
            if (empty) return result;
            using var view = storage.Storage.Data.as_strided(size, stride, storage.Offset + offset);
            result.copy_(view);
            return result;
        }
    }

    static ScalarType? StorageType(string name) => name switch
    {
        "DoubleStorage" => ScalarType.Float64,
        "FloatStorage" => ScalarType.Float32,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        "ComplexFloatStorage" => ScalarType.ComplexFloat32,
        "ComplexDoubleStorage" => ScalarType.ComplexFloat64,
        _ => null,
    };

    static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.ComplexFloat64 => 16,
        _ => 1,
    };

    static bool IsInteger(object? value) => value switch
    {
        int or long or short or byte or sbyte => true,
        BigInteger big => big >= long.MinValue && big <= long.MaxValue,
        _ => false,
    };

    static long AsLong(object value) => value is BigInteger big ? (long)big : Convert.ToInt64(value, CultureInfo.InvariantCulture);

    static string? Text(object? value) => value switch
    {
        string s => s,
        byte[] bytes => Encoding.ASCII.GetString(bytes),
        _ => null,
    };

    static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        object[] items => "(" + string.Join(", ", items.Select(Describe)) + ")",
        ClassDictConstructor c => $"{c.module}.{c.name}",
        _ => value.GetType().Name,
    };

    internal static string WholeObject(string type) =>
        $"holds a pickled Python object of class {type} (torch.save(model) saves the whole object, which needs its Python code), not a state dict of tensors; {ReSave}.";

    static InvalidDataException Bad(string path, string message)
    {
        // Names, keys and classes come from the file: control characters in them are printed escaped.
        var e = new InvalidDataException($"{path}: {Printable.Escape(message)}");
        e.Data[Marker] = true;
        return e;
    }

    const string Marker = "Functional.Serialization.TorchSaveFormat";

    /// <summary>Whether this reader threw <paramref name="e"/>, with its one-line account of the file (as opposed to a
    /// failure underneath, such as the zip reader's, which the caller words).</summary>
    internal static bool IsAccount(Exception e) => e is InvalidDataException && e.Data.Contains(Marker);
}
