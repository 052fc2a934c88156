using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;

namespace Functional.Serialization;

/// <summary>A state-dict entry whose name matches the model but whose shape or element type does not.</summary>
/// <param name="Key">The state-dict name (for example <c>fc.weight</c>).</param>
/// <param name="ModelShape">The shape of the model's tensor.</param>
/// <param name="ModelDType">The element type of the model's tensor.</param>
/// <param name="LoadedShape">The shape of the tensor being loaded.</param>
/// <param name="LoadedDType">The element type of the tensor being loaded.</param>
internal sealed record TensorMismatch(string Key, IReadOnlyList<long> ModelShape, ScalarType ModelDType, IReadOnlyList<long> LoadedShape, ScalarType LoadedDType)
{
    static string Size(IReadOnlyList<long> shape) => $"torch.Size({Shapes.Text(shape)})";

    /// <summary>The problem in PyTorch's words, e.g. <c>size mismatch for fc.weight: copying a param with shape
    /// torch.Size([10, 5]) from checkpoint, the shape in current model is torch.Size([10, 4]).</c></summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (!ModelShape.SequenceEqual(LoadedShape))
            parts.Add($"size mismatch for {Printable.Escape(Key)}: copying a param with shape {Size(LoadedShape)} from checkpoint, the shape in current model is {Size(ModelShape)}.");
        if (ModelDType != LoadedDType)
            parts.Add($"dtype mismatch for {Printable.Escape(Key)}: copying a param with dtype {LoadedDType} from checkpoint, the dtype in current model is {ModelDType}.");
        return string.Join(" ", parts);
    }
}

/// <summary>
/// What a state-dict load found: the model's keys the source lacks, the source's keys the model lacks, and the
/// keys whose shape or element type differ. <see cref="ToString"/> reads like PyTorch's report, and a clean
/// load prints <c>&lt;All keys matched successfully&gt;</c> as PyTorch does.
/// </summary>
public sealed class LoadReport
{
    /// <summary>The message of a clean load, as PyTorch prints it.</summary>
    public const string AllKeysMatchedMessage = "<All keys matched successfully>";

    internal LoadReport(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<TensorMismatch> mismatches, IReadOnlyList<string> loaded)
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        Mismatches = mismatches;
        LoadedKeys = loaded;
    }

    /// <summary>Keys of the model's state dict that the source does not have (their tensors keep their values), in the model's order.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Keys of the source that the model does not have (ignored), sorted.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys present on both sides whose shape or element type differ (not loaded), in the model's order.</summary>
    internal IReadOnlyList<TensorMismatch> Mismatches { get; }

    /// <summary>Keys present on both sides whose shape or element type differ (not loaded), in the model's
    /// order; <see cref="ToString"/> prints both shapes and types of each.</summary>
    public IReadOnlyList<string> MismatchedKeys => Mismatches.Select(m => m.Key).ToList();

    /// <summary>Keys whose values were copied into the model (none when a strict load failed), in the model's order.</summary>
    public IReadOnlyList<string> LoadedKeys { get; }

    /// <summary>True when every key matched in name, shape and element type.</summary>
    public bool AllKeysMatched => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && Mismatches.Count == 0;

    /// <summary><c>&lt;All keys matched successfully&gt;</c>, or PyTorch's <c>Error(s) in loading state_dict</c> text listing
    /// the missing keys, the unexpected keys and each mismatch on its own line.</summary>
    public override string ToString()
    {
        if (AllKeysMatched) return AllKeysMatchedMessage;
        static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => $"\"{Printable.Escape(k)}\""));
        var text = new StringBuilder("Error(s) in loading state_dict:");
        if (MissingKeys.Count > 0) text.Append($"\n\tMissing key(s) in state_dict: {Quote(MissingKeys)}. ");
        if (UnexpectedKeys.Count > 0) text.Append($"\n\tUnexpected key(s) in state_dict: {Quote(UnexpectedKeys)}. ");
        foreach (var m in Mismatches) text.Append($"\n\t{m}");
        return text.ToString();
    }
}

/// <summary>A strict state-dict load found missing or unexpected keys, or tensors of the wrong shape or type: the
/// weights do not fit this model (PyTorch raises its RuntimeError here). The model was not changed.
/// <see cref="Report"/> holds the details; load with <c>strict: false</c> to take what fits.</summary>
public sealed class StateDictMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception from a report, naming the file the state dict came from, if any.</summary>
    public StateDictMismatchException(LoadReport report, string? path)
        : base((path is null ? "The state dict does not match the model.\n" : $"{path}: the weights do not match the model.\n")
               + (report ?? throw new ArgumentNullException(nameof(report))))
    {
        Report = report;
        Path = path;
    }

    /// <summary>What did not match.</summary>
    public LoadReport Report { get; }

    /// <summary>The file the state dict was read from, or null for one in memory.</summary>
    public string? Path { get; }
}

/// <summary>
/// Saving and loading a module's state dict (its parameters and persistent buffers, such as BatchNorm's
/// <c>running_mean</c>, <c>running_var</c> and <c>num_batches_tracked</c>, under the names PyTorch gives them),
/// as safetensors, in TorchSharp's own format, or from a plain dictionary.
/// </summary>
/// <remarks>
/// Loading is strict by default, as in PyTorch: every key must match in name, shape and element type, otherwise
/// a <see cref="StateDictMismatchException"/> carries the <see cref="LoadReport"/> and the model is left unchanged.
/// With <c>strict: false</c> the matching tensors are copied and the report of the rest is returned. Values are
/// copied into the model's own tensors, so they land on the model's device whatever device saved them.
/// </remarks>
public static class StateDict
{
    /// <summary>Compares a state dict to a model without changing anything: the report a load would give.</summary>
    /// <param name="model">The model.</param>
    /// <param name="stateDict">Name to tensor, as read from a file or taken from another model.</param>
    public static LoadReport Compare(Module model, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stateDict);
        return Check(Ordered(model), stateDict, []);
    }

    /// <summary>The model's state dict in PyTorch's order: each module's own parameters, then its persistent buffers,
    /// then its children, depth first (TorchSharp lists all parameters before all buffers). Reports list keys in this
    /// order, as PyTorch does. Keys the walk does not reach (a module with a custom state dict) follow in TorchSharp's order.</summary>
    internal static Dictionary<string, Tensor> Ordered(Module model)
    {
        var all = model.state_dict();
        var ordered = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        void Walk(Module module, string prefix)
        {
            foreach (var (name, _) in module.named_parameters(recurse: false)) Take(prefix + name);
            foreach (var (name, _) in module.named_buffers(recurse: false, include_nonpersistent: false)) Take(prefix + name);
            foreach (var (name, child) in module.named_children()) Walk(child, prefix + name + ".");
        }
        void Take(string key)
        {
            if (all.TryGetValue(key, out var t)) ordered.TryAdd(key, t);
        }
        Walk(model, "");
        foreach (var (k, t) in all) ordered.TryAdd(k, t);
        return ordered;
    }

    static LoadReport Check(Dictionary<string, Tensor> own, IReadOnlyDictionary<string, Tensor> source, IReadOnlyList<string> loaded)
    {
        var missing = new List<string>();
        var mismatches = new List<TensorMismatch>();
        foreach (var (key, target) in own)
        {
            if (!source.TryGetValue(key, out var value) || value is null)
            {
                missing.Add(key);
                continue;
            }
            if (!target.shape.SequenceEqual(value.shape) || target.dtype != value.dtype)
                mismatches.Add(new TensorMismatch(key, target.shape, target.dtype, value.shape, value.dtype));
        }
        var unexpected = source.Keys.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        return new LoadReport(missing, unexpected, mismatches, loaded);
    }

    /// <summary>Copies a state dict into a model, checking keys, shapes and element types.</summary>
    /// <param name="model">The model to fill; its tensors keep their identity and device.</param>
    /// <param name="stateDict">Name to tensor. The tensors are read, not kept or disposed; they may be on any device.</param>
    /// <param name="strict">True (the default): any missing or unexpected key or mismatch throws and nothing is
    /// copied. False: copy what matches and report the rest.</param>
    /// <returns>The report; <see cref="LoadReport.AllKeysMatched"/> after a successful strict load.</returns>
    /// <exception cref="StateDictMismatchException">Strict, and the state dict does not match the model.</exception>
    public static LoadReport LoadStateDict(this Module model, IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stateDict);
        return Load(model, stateDict, strict, null);
    }

    internal static LoadReport Load(Module model, IReadOnlyDictionary<string, Tensor> stateDict, bool strict, string? path)
    {
        Native.EnsureLoaded();
        var own = Ordered(model);
        var report = Check(own, stateDict, []);
        if (strict && !report.AllKeysMatched) throw new StateDictMismatchException(report, path);
        var bad = report.Mismatches.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var loaded = new List<string>();
        using (no_grad())
        {
            foreach (var (key, target) in own)
            {
                if (bad.Contains(key) || !stateDict.TryGetValue(key, out var value) || value is null) continue;
                target.copy_(value);
                loaded.Add(key);
            }
        }
        return new LoadReport(report.MissingKeys, report.UnexpectedKeys, report.Mismatches, loaded);
    }

    /// <summary>Saves the model's state dict as safetensors, atomically. The file loads in PyTorch with
    /// <c>safetensors.torch.load_file</c> under the same names, and in Hugging Face tools.</summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The file to write (conventionally <c>*.safetensors</c>); its folder must exist.</param>
    /// <param name="metadata">Extra string metadata; <c>format: pt</c> is added unless given, since Hugging Face
    /// loaders look for it.</param>
    public static void SaveSafeTensors(this Module model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        Native.EnsureLoaded();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        SafeTensors.Save(path, model.state_dict(), meta);
    }

    /// <summary>Loads a safetensors state dict into the model (see <see cref="LoadStateDict"/> for the checks).</summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="path">A safetensors file, ours or one written by PyTorch or Hugging Face.</param>
    /// <param name="strict">Throw on any mismatch (default), or load what fits and report the rest.</param>
    /// <exception cref="InvalidDataException">The file is not valid safetensors.</exception>
    /// <exception cref="StateDictMismatchException">Strict, and the weights do not match the model; the message names the file.</exception>
    public static LoadReport LoadSafeTensors(this Module model, string path, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var content = SafeTensors.Read(path);
        return Load(model, content.Tensors, strict, path);
    }

    /// <summary>Saves the model in TorchSharp's own format (what <c>module.save</c> writes), atomically; use it to
    /// exchange weights with TorchSharp programs that call <c>module.load</c>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The file to write; its folder must exist.</param>
    public static void SaveTorchSharp(this Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        Native.EnsureLoaded();
        AtomicFile.Write(path, stream =>
        {
            // module.save(Stream) closes the stream; a writer that leaves it open lets AtomicFile flush it to disk.
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            model.save(writer);
        });
    }

    /// <summary>Loads a file in TorchSharp's own format (written by <c>module.save</c>) with the same strict checks and
    /// report as a safetensors load, which TorchSharp's <c>module.load</c> does not give.</summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="path">The file.</param>
    /// <param name="strict">Throw on any mismatch (default), or load what fits and report the rest.</param>
    /// <exception cref="InvalidDataException">The file is not a valid TorchSharp state dict.</exception>
    /// <exception cref="StateDictMismatchException">Strict, and the weights do not match the model.</exception>
    public static LoadReport LoadTorchSharp(this Module model, string path, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var tensors = TorchSharpFormat.Read(path);
        try
        {
            return Load(model, tensors, strict, path);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
