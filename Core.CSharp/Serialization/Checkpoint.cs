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
/// <para>A checkpoint is one safetensors file, written atomically by <see cref="Save"/> (see a temporary file renamed over the target):
/// a process killed while saving leaves the previous checkpoint intact, so the latest file always loads. Tensors are
/// stored as <c>model.&lt;key&gt;</c>, <c>optimizer.&lt;key&gt;</c> and <c>generator.&lt;name&gt;</c>. Everything
/// else (the format version, the epoch and the batch inside it, the optimizer's typed scalars, the history, the user's metadata) is one
/// typed, versioned JSON record in the header's metadata under <c>functional.checkpoint</c>: one codec for all
/// of it, with no JSON inside JSON. The file is readable by any safetensors tool.</para>
/// <para>Exact resume (what <see cref="Training.TrainingCheckpoint.Restore"/> does): restore the model
/// (<see cref="RestoreModel"/>), the optimizer from <see cref="OptimizerState"/> and its typed scalars, every generator with <c>generator.set_state(GeneratorStates[name])</c>, and
/// continue from <see cref="Epoch"/> (and, for a checkpoint saved inside an epoch, from its <see cref="Batch"/>). Doubles are stored in round-trip form (NaN and infinities as the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>), so they come back bit for bit.</para>
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

    /// <summary>The checkpoint layout version this code writes (3: one typed record with the position inside an
    /// epoch; 2 had no such position, and is still read; 1 had string maps and JSON inside JSON).</summary>
    public const int FormatVersion = 3;

    /// <summary>The one older version still read: its record is a version 3 record without <c>Partial</c>.</summary>
    const int EpochOnlyVersion = 2;

    const string VersionKey = "functional.version";
    const string RecordKey = "functional.checkpoint";
    const string ModelPrefix = "model.";
    const string OptimizerPrefix = "optimizer.";
    const string GeneratorPrefix = "generator.";

    bool owned;

    static readonly IReadOnlyDictionary<string, Tensor> NoTensors = new Dictionary<string, Tensor>();
    static readonly IReadOnlyDictionary<string, string> NoStrings = new Dictionary<string, string>();

    /// <summary>Everything of a checkpoint but its tensors: the one record that its metadata holds. Every field is
    /// required (<c>Partial</c> is null for a checkpoint saved at an epoch's end).</summary>
    internal sealed record CheckpointRecord(int Version, long Epoch, PartialEpochRecord? Partial, Optim.OptimizerScalars? Optimizer,
        List<Training.EpochMetrics> History, Dictionary<string, string> User);

    /// <summary>The record of format version 2, read for compatibility: saved at epochs' ends only.</summary>
    internal sealed record EpochOnlyRecord(int Version, long Epoch, Optim.OptimizerScalars? Optimizer,
        List<Training.EpochMetrics> History, Dictionary<string, string> User);

    /// <summary>Where a checkpoint saved inside epoch <c>Epoch + 1</c> stopped: its batches done, the batches of an
    /// epoch, and the sum of the done batches' losses (round-trip, so that the epoch's mean comes back bit for bit).</summary>
    internal sealed record PartialEpochRecord(long Batch, long Batches, double LossSum);

    /// <summary>The model's state dict (for example <c>model.state_dict()</c>).</summary>
    public IReadOnlyDictionary<string, Tensor> Model { get; init; } = NoTensors;

    /// <summary>The optimizer's tensors by name (moments, momentum buffers, ...), in whatever naming the optimizer uses.</summary>
    public IReadOnlyDictionary<string, Tensor> OptimizerState { get; init; } = NoTensors;

    /// <summary>The optimizer's non-tensor state (its structure, step count and typed scalars:
    /// <see cref="Optim.Optimizer.StateScalars"/>); null when no optimizer was saved. Internal:
    /// <see cref="Training.TrainingCheckpoint"/> writes and reads it.</summary>
    internal Optim.OptimizerScalars? Optimizer { get; init; }

    /// <summary>The number of epochs completed; training resumes with the next one.</summary>
    public long Epoch { get; init; }

    /// <summary>For a checkpoint saved inside an epoch (every N batches: <see cref="Training.Callback.Checkpoint"/>),
    /// the batches of epoch <see cref="Epoch"/> + 1 already trained, from which a resume continues; 0 for one saved
    /// at an epoch's end.</summary>
    public long Batch => Partial?.Batch ?? 0;

    /// <summary>The position inside the epoch in progress, or null at an epoch's end. Internal:
    /// <see cref="Training.TrainingCheckpoint"/> writes and reads it.</summary>
    internal PartialEpochRecord? Partial { get; init; }

    /// <summary>Random generator states by name, each from <c>torch.Generator.get_state()</c> (a uint8 tensor);
    /// restore with <c>set_state</c>. They stay on the CPU, where LibTorch expects them.</summary>
    public IReadOnlyDictionary<string, Tensor> GeneratorStates { get; init; } = NoTensors;

    /// <summary>The metrics of every completed epoch.</summary>
    public Training.History History { get; init; } = new();

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

        foreach (var (k, v) in Metadata)
            if (v is null) throw new ArgumentException($"The metadata value of '{k}' is null.", nameof(Metadata));
        var record = new CheckpointRecord(FormatVersion, Epoch, Partial, Optimizer, History.Epochs.ToList(), new Dictionary<string, string>(Metadata, StringComparer.Ordinal));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [FormatKey] = "checkpoint",
            [VersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [RecordKey] = JsonSerializer.Serialize(record, JsonContext.Default.CheckpointRecord),
        };
        SafeTensors.Save(path, tensors, metadata);
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
                throw new InvalidDataException($"{path}: the metadata '{FormatKey}' is '{(format is null ? "(absent)" : Printable.Escape(format))}', not 'checkpoint'; load plain weights with LoadSafeTensors or model files with ModelFile.");
            var version = Need(VersionKey);
            if (version != FormatVersion.ToString(CultureInfo.InvariantCulture) && version != EpochOnlyVersion.ToString(CultureInfo.InvariantCulture))
                throw new InvalidDataException($"{path}: checkpoint format version '{Printable.Escape(version)}' is not supported; this code reads versions {EpochOnlyVersion} and {FormatVersion}. Resume it with the Functional version that wrote it, or start the run again.");
            int headerVersion = int.Parse(version, CultureInfo.InvariantCulture);
            CheckpointRecord record;
            try
            {
                record = headerVersion == FormatVersion
                    ? JsonSerializer.Deserialize(Need(RecordKey), JsonContext.Default.CheckpointRecord) ?? throw new JsonException("the record is null")
                    : JsonSerializer.Deserialize(Need(RecordKey), JsonContext.Default.EpochOnlyRecord) is { } old
                        ? new CheckpointRecord(old.Version, old.Epoch, null, old.Optimizer, old.History, old.User)
                        : throw new JsonException("the record is null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: the metadata '{RecordKey}' is not a checkpoint record (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {Printable.Escape(e.Message)}", e);
            }
            if (record.Version != headerVersion)
                throw new InvalidDataException($"{path}: the checkpoint record says version {record.Version}, the header {headerVersion}; the file is inconsistent.");
            if (record.Epoch < 0)
                throw new InvalidDataException($"{path}: the checkpoint's epoch is {record.Epoch}, not a non-negative integer.");
            if (record.Partial is { } partial && !(partial.Batch >= 1 && partial.Batch < partial.Batches && partial.Batches <= int.MaxValue))
                throw new InvalidDataException($"{path}: the checkpoint stopped after batch {partial.Batch} of an epoch of {partial.Batches}; expected 1 or more, and fewer than the epoch's batches.");

            foreach (var name in content.Tensors.Keys)
            {
                if (!name.StartsWith(GeneratorPrefix, StringComparison.Ordinal) && !name.StartsWith(ModelPrefix, StringComparison.Ordinal)
                    && !name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                    throw new InvalidDataException($"{path}: the tensor '{Printable.Escape(name)}' belongs to no part of a checkpoint (expected a prefix model., optimizer. or generator.).");
            }
            var target = device;
            var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var optimizer = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var generators = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, tensor) in content.Tensors)
            {
                if (name.StartsWith(GeneratorPrefix, StringComparison.Ordinal)) generators.Add(name[GeneratorPrefix.Length..], tensor);
                else if (name.StartsWith(ModelPrefix, StringComparison.Ordinal)) model.Add(name[ModelPrefix.Length..], Move(tensor, target));
                else optimizer.Add(name[OptimizerPrefix.Length..], Move(tensor, target));
            }
            content.Tensors.Clear();
            return new Checkpoint
            {
                Model = model, OptimizerState = optimizer, GeneratorStates = generators, Optimizer = record.Optimizer,
                Epoch = record.Epoch, Partial = record.Partial, History = new Training.History(record.History), Metadata = record.User, Source = path, owned = true,
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
