using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;

namespace Functional.Serialization;

/// <summary>
/// Everything needed to resume training exactly where it stopped: the model's state dict, the optimizer's state,
/// the epoch, the random generators' states, the metric history and free-form metadata. All of it is plain data,
/// so any training loop and any optimizer can fill it and read it back.
/// </summary>
/// <remarks>
/// <para>A checkpoint is one safetensors file, written atomically by <see cref="Save"/> (see <see cref="AtomicFile"/>):
/// a process killed while saving leaves the previous checkpoint intact, so the latest file always loads. Tensors are
/// stored as <c>model.&lt;key&gt;</c>, <c>optimizer.&lt;key&gt;</c> and <c>generator.&lt;name&gt;</c>; the epoch,
/// the optimizer's scalars (a JSON object), the history (a JSON array of per-epoch metric objects) and the user's
/// metadata (<c>user.&lt;key&gt;</c>) go in the header's metadata. The file is readable by any safetensors tool.</para>
/// <para>Exact resume: restore the model (<see cref="RestoreModel"/>), the optimizer from <see cref="OptimizerState"/>
/// and <see cref="OptimizerScalars"/>, every generator with <c>generator.set_state(GeneratorStates[name])</c>, and
/// continue from <see cref="Epoch"/>. Doubles in the history are stored in round-trip form (NaN and infinities as
/// the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>), so they come back bit for bit.</para>
/// <para>Ownership: a checkpoint you build refers to your tensors (the model's own parameters, typically) and
/// <see cref="Dispose"/> leaves them alone; a checkpoint returned by <see cref="Load"/> owns fresh tensors, which
/// <see cref="Dispose"/> frees.</para>
/// </remarks>
/// <example><code>
/// new Checkpoint { Model = model.state_dict(), Epoch = epoch, GeneratorStates = new Dictionary&lt;string, Tensor&gt; { ["shuffle"] = generator.get_state() } }
///     .Save("checkpoints/latest.safetensors");
/// using var resumed = Checkpoint.Load("checkpoints/latest.safetensors");
/// resumed.RestoreModel(model);
/// </code></example>
public sealed class Checkpoint : IDisposable
{
    /// <summary>The metadata key that marks a file as a checkpoint; its value is <c>checkpoint</c>.</summary>
    public const string FormatKey = "functional.format";

    /// <summary>The checkpoint layout version this code writes and reads.</summary>
    public const int FormatVersion = 1;

    const string VersionKey = "functional.version";
    const string EpochKey = "epoch";
    const string OptimizerKey = "optimizer";
    const string HistoryKey = "history";
    const string ModelPrefix = "model.";
    const string OptimizerPrefix = "optimizer.";
    const string GeneratorPrefix = "generator.";
    const string UserPrefix = "user.";

    bool owned;

    static readonly IReadOnlyDictionary<string, Tensor> NoTensors = new Dictionary<string, Tensor>();
    static readonly IReadOnlyDictionary<string, string> NoStrings = new Dictionary<string, string>();

    /// <summary>The model's state dict (for example <c>model.state_dict()</c>).</summary>
    public IReadOnlyDictionary<string, Tensor> Model { get; init; } = NoTensors;

    /// <summary>The optimizer's tensors by name (moments, momentum buffers, ...), in whatever naming the optimizer uses.</summary>
    public IReadOnlyDictionary<string, Tensor> OptimizerState { get; init; } = NoTensors;

    /// <summary>The optimizer's non-tensor state (step counts, learning rates, hyperparameters) as strings; use
    /// round-trip formatting (<c>"R"</c>, or JSON) for numbers so that they resume exactly.</summary>
    public IReadOnlyDictionary<string, string> OptimizerScalars { get; init; } = NoStrings;

    /// <summary>The number of epochs completed; training resumes with the next one.</summary>
    public long Epoch { get; init; }

    /// <summary>Random generator states by name, each from <c>torch.Generator.get_state()</c> (a uint8 tensor);
    /// restore with <c>set_state</c>. They stay on the CPU, where LibTorch expects them.</summary>
    public IReadOnlyDictionary<string, Tensor> GeneratorStates { get; init; } = NoTensors;

    /// <summary>One dictionary of metrics per completed epoch (loss, accuracy, ...).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> History { get; init; } = [];

    /// <summary>Free-form string metadata (run name, configuration JSON, ...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = NoStrings;

    /// <summary>The file this checkpoint was loaded from; null for one built in memory.</summary>
    public string? Source { get; private init; }

    /// <summary>Saves the checkpoint atomically: the file at <paramref name="path"/> is either the previous one or
    /// this one, even if the process is killed while saving.</summary>
    /// <param name="path">The file to write (conventionally <c>*.safetensors</c>); its folder must exist.</param>
    /// <exception cref="ArgumentException">A tensor has an element type safetensors cannot store, or a name or value is null.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        void Add(string prefix, IReadOnlyDictionary<string, Tensor> source, string what)
        {
            foreach (var (k, v) in source)
            {
                if (v is null) throw new ArgumentException($"The {what} tensor '{k}' is null.", what);
                tensors.Add(prefix + k, v);
            }
        }
        Add(ModelPrefix, Model, nameof(Model));
        Add(OptimizerPrefix, OptimizerState, nameof(OptimizerState));
        Add(GeneratorPrefix, GeneratorStates, nameof(GeneratorStates));

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [FormatKey] = "checkpoint",
            [VersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [EpochKey] = Epoch.ToString(CultureInfo.InvariantCulture),
            [OptimizerKey] = WriteJson(json =>
            {
                json.WriteStartObject();
                foreach (var (k, v) in OptimizerScalars.OrderBy(p => p.Key, StringComparer.Ordinal))
                    json.WriteString(k, v ?? throw new ArgumentException($"The optimizer scalar '{k}' is null.", nameof(OptimizerScalars)));
                json.WriteEndObject();
            }),
            [HistoryKey] = WriteJson(json =>
            {
                json.WriteStartArray();
                foreach (var epoch in History)
                {
                    json.WriteStartObject();
                    foreach (var (k, v) in epoch)
                    {
                        json.WritePropertyName(k);
                        if (double.IsFinite(v)) json.WriteNumberValue(v);
                        else json.WriteStringValue(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
                    }
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }),
        };
        foreach (var (k, v) in Metadata)
            metadata[UserPrefix + k] = v ?? throw new ArgumentException($"The metadata value of '{k}' is null.", nameof(Metadata));
        SafeTensors.Save(path, tensors, metadata);
    }

    static string WriteJson(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(json);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Loads a checkpoint saved by <see cref="Save"/>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="device">Where to put the model and optimizer tensors (null: the CPU); generator states stay on the CPU.</param>
    /// <returns>A checkpoint that owns its tensors: dispose it when done.</returns>
    /// <exception cref="InvalidDataException">The file is not valid safetensors or not a checkpoint; the message names the file and the fault.</exception>
    public static Checkpoint Load(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var content = SafeTensors.Read(path);
        try
        {
            var meta = content.Metadata;
            string Need(string key) => meta.TryGetValue(key, out var v) ? v
                : throw new InvalidDataException($"{path}: the metadata lacks '{key}'; this is not a checkpoint written by Functional.");
            if (!meta.TryGetValue(FormatKey, out var format) || format != "checkpoint")
                throw new InvalidDataException($"{path}: the metadata '{FormatKey}' is '{format ?? "(absent)"}', not 'checkpoint'; load plain weights with LoadSafeTensors or model files with ModelFile.");
            if (Need(VersionKey) != FormatVersion.ToString(CultureInfo.InvariantCulture))
                throw new InvalidDataException($"{path}: checkpoint version '{meta[VersionKey]}' is not supported; this code reads version {FormatVersion}.");
            if (!long.TryParse(Need(EpochKey), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
                throw new InvalidDataException($"{path}: the metadata '{EpochKey}' is '{meta[EpochKey]}', not a non-negative integer.");
            var scalars = ParseScalars(Need(OptimizerKey), path);
            var history = ParseHistory(Need(HistoryKey), path);

            foreach (var name in content.Tensors.Keys)
            {
                if (!name.StartsWith(GeneratorPrefix, StringComparison.Ordinal) && !name.StartsWith(ModelPrefix, StringComparison.Ordinal)
                    && !name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                    throw new InvalidDataException($"{path}: the tensor '{name}' belongs to no part of a checkpoint (expected a prefix model., optimizer. or generator.).");
            }
            var target = device?.ToTorch();
            var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var optimizer = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var generators = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, tensor) in content.Tensors)
            {
                if (name.StartsWith(GeneratorPrefix, StringComparison.Ordinal)) generators.Add(name[GeneratorPrefix.Length..], tensor);
                else if (name.StartsWith(ModelPrefix, StringComparison.Ordinal)) model.Add(name[ModelPrefix.Length..], Move(tensor, target));
                else optimizer.Add(name[OptimizerPrefix.Length..], Move(tensor, target));
            }
            var user = meta.Where(p => p.Key.StartsWith(UserPrefix, StringComparison.Ordinal))
                           .ToDictionary(p => p.Key[UserPrefix.Length..], p => p.Value, StringComparer.Ordinal);
            content.Tensors.Clear();
            return new Checkpoint
            {
                Model = model, OptimizerState = optimizer, GeneratorStates = generators, OptimizerScalars = scalars,
                Epoch = epoch, History = history, Metadata = user, Source = path, owned = true,
            };
        }
        finally
        {
            content.Dispose();
        }
    }

    static Tensor Move(Tensor tensor, TorchSharp.torch.Device? target)
    {
        if (target is null || target.type == TorchSharp.DeviceType.CPU) return tensor;
        var moved = tensor.to(target);
        tensor.Dispose();
        return moved;
    }

    static Dictionary<string, string> ParseScalars(string text, string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = ParseJson(text, path, OptimizerKey);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: the metadata '{OptimizerKey}' is JSON {doc.RootElement.ValueKind}, not an object of strings.");
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}: the optimizer scalar '{p.Name}' is JSON {p.Value.ValueKind}, not a string.");
            if (!result.TryAdd(p.Name, p.Value.GetString()!))
                throw new InvalidDataException($"{path}: the optimizer scalar '{p.Name}' appears twice.");
        }
        return result;
    }

    static List<IReadOnlyDictionary<string, double>> ParseHistory(string text, string path)
    {
        var result = new List<IReadOnlyDictionary<string, double>>();
        using var doc = ParseJson(text, path, HistoryKey);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: the metadata '{HistoryKey}' is JSON {doc.RootElement.ValueKind}, not an array of per-epoch objects.");
        int index = 0;
        foreach (var epoch in doc.RootElement.EnumerateArray())
        {
            if (epoch.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: history entry {index} is JSON {epoch.ValueKind}, not an object of metrics.");
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var p in epoch.EnumerateObject())
            {
                double value = p.Value.ValueKind switch
                {
                    JsonValueKind.Number when p.Value.TryGetDouble(out var d) => d,
                    JsonValueKind.String => p.Value.GetString() switch
                    {
                        "NaN" => double.NaN,
                        "Infinity" => double.PositiveInfinity,
                        "-Infinity" => double.NegativeInfinity,
                        var s => throw new InvalidDataException($"{path}: history entry {index}, metric '{p.Name}' is the string '{s}', not a number."),
                    },
                    _ => throw new InvalidDataException($"{path}: history entry {index}, metric '{p.Name}' is JSON {p.Value.ValueKind}, not a number."),
                };
                if (!metrics.TryAdd(p.Name, value))
                    throw new InvalidDataException($"{path}: history entry {index} names the metric '{p.Name}' twice.");
            }
            result.Add(metrics);
            index++;
        }
        return result;
    }

    static JsonDocument ParseJson(string text, string path, string key)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the metadata '{key}' is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {e.Message}", e);
        }
    }

    /// <summary>Copies <see cref="Model"/> into a model with the strict checks of <see cref="StateDict.LoadStateDict"/>;
    /// a mismatch names the checkpoint file.</summary>
    /// <param name="model">The model to restore (built the same way as the one saved).</param>
    /// <param name="strict">Throw on any mismatch (default), or load what fits and report the rest.</param>
    /// <exception cref="StateDictMismatchException">Strict, and the checkpoint's weights do not match the model.</exception>
    public LoadReport RestoreModel(Module model, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        return StateDict.Load(model, Model, strict, Source);
    }

    /// <summary>Frees the tensors of a checkpoint returned by <see cref="Load"/>; does nothing to the tensors of one
    /// you built yourself, which belong to you.</summary>
    public void Dispose()
    {
        if (!owned) return;
        owned = false;
        foreach (var t in Model.Values.Concat(OptimizerState.Values).Concat(GeneratorStates.Values)) t.Dispose();
    }
}
