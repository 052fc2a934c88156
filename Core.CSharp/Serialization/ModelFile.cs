using System.Text.Json;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;

namespace Functional.Serialization;

/// <summary>The spec and weights read from a whole-model file. The tensors are fresh and belong to this object:
/// <see cref="Dispose"/> frees them.</summary>
internal sealed class ModelFileContent : IDisposable
{
    internal ModelFileContent(string spec, Dictionary<string, Tensor> stateDict, IReadOnlyDictionary<string, string> metadata)
    {
        Spec = spec;
        StateDict = stateDict;
        Metadata = metadata;
    }

    /// <summary>The layer spec, as the JSON text that was saved.</summary>
    public string Spec { get; }

    /// <summary>The weights: the model's state dict, under PyTorch's names.</summary>
    public Dictionary<string, Tensor> StateDict { get; }

    /// <summary>All of the file's metadata, the spec included (under <see cref="ModelFile.SpecKey"/>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Frees the weights.</summary>
    public void Dispose()
    {
        foreach (var t in StateDict.Values) t.Dispose();
        StateDict.Clear();
    }
}

/// <summary>
/// Whole-model files: one safetensors file that holds the model's layer spec (JSON, in the header's metadata) and its
/// weights (the state dict, under PyTorch's names). Loading rebuilds the model from the spec with a builder the
/// library provides, so no code of the user's is needed and none from the file is ever run, unlike pickled
/// PyTorch models. The weights part loads in any safetensors tool as an ordinary state dict.
/// </summary>
/// <remarks>A model of your own class (a <c>nn.Module&lt;Tensor, Tensor&gt;</c> subclass) is saved by the name it is
/// registered under with <see cref="Functional.Layers.LayerRegistry"/>, and rebuilt on load by the factory registered
/// under that name: the file names the class, and only factories your program registered run. A file that names a
/// class not registered in the loading program is refused in one line that names it and says how to register it.</remarks>
public static class ModelFile
{
    /// <summary>The metadata key under which the spec JSON is stored.</summary>
    public const string SpecKey = "functional.spec";

    /// <summary>The metadata key under which <see cref="Save(string, Functional.Layers.LayerSpec, IReadOnlyList{long}, Module, IReadOnlyDictionary{string, string}?)"/>
    /// stores the per-sample input shape the spec is built for, as JSON (<c>[1,28,28]</c>).</summary>
    public const string InputShapeKey = "functional.input_shape";

    const string FormatValue = "model";

    /// <summary>Saves a model built from <paramref name="spec"/> for inputs of the per-sample shape
    /// <paramref name="inputShape"/> (e.g. [1, 28, 28]), so that <see cref="Load(string, Device?)"/> can rebuild
    /// it with no code but the library's.</summary>
    /// <exception cref="ArgumentException">The spec does not fit the input shape, or a metadata key is reserved.</exception>
    public static void Save(string path, Functional.Layers.LayerSpec spec, IReadOnlyList<long> inputShape, Module model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(inputShape);
        spec.OutputShape(inputShape);   // throws ArgumentException when the spec does not fit the shape
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
            foreach (var (k, v) in metadata)
            {
                if (k == InputShapeKey) throw new ArgumentException($"The metadata key '{k}' is reserved for the model file itself; choose another.", nameof(metadata));
                meta[k] = v;
            }
        meta[InputShapeKey] = JsonSerializer.Serialize(inputShape.ToArray(), JsonContext.Default.Int64Array);
        CheckDescribes(spec, inputShape, model);
        Save(path, spec.ToJson(), model, meta);
    }

    /// <summary>Saves a model of your own class, registered with <see cref="Functional.Layers.LayerRegistry"/>, for
    /// inputs of the per-sample shape <paramref name="inputShape"/>: the file's spec is the registered name
    /// (<c>{"type":"NeuralNetwork"}</c>), so that <see cref="Load(string, Device?)"/> rebuilds it with the registered
    /// factory and loads the weights into it (PyTorch's <c>torch.save(model)</c>, without pickling).</summary>
    /// <example><code>
    /// LayerRegistry.Register("NeuralNetwork", () => new NeuralNetwork());
    /// ModelFile.Save("model.safetensors", model, [1, 28, 28]);
    /// var loaded = (NeuralNetwork)ModelFile.Load("model.safetensors");
    /// </code></example>
    /// <exception cref="ArgumentException">The model's class is not registered (the message says how to register it),
    /// the registered factory makes a module with other parameter names or shapes, the model cannot take
    /// <paramref name="inputShape"/>, or a metadata key is reserved.</exception>
    public static void Save(string path, nn.Module<Tensor, Tensor> model, IReadOnlyList<long> inputShape, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Save(path, Functional.Layers.Layer.Custom(Functional.Layers.LayerRegistry.NameOf(model.GetType())), inputShape, model, metadata);
    }

    /// <summary>Throws when building <paramref name="spec"/> would not give <paramref name="model"/>'s state-dict names and
    /// shapes: such a file could not be loaded. Specs with custom layers are built to see (LibTorch's generator untouched).</summary>
    static void CheckDescribes(Functional.Layers.LayerSpec spec, IReadOnlyList<long> inputShape, Module model)
    {
        Native.EnsureLoaded();
        var expected = Functional.Layers.LayerState.Shapes(spec, inputShape);
        if (expected is null)
        {
            using var state = TorchSharp.torch.get_rng_state();
            try
            {
                using var built = spec.Build(inputShape);
                expected = built.state_dict().Select(e => (e.Key, e.Value.shape)).ToList();
            }
            finally
            {
                TorchSharp.torch.set_rng_state(state);
            }
        }
        var problems = Differences(expected, model.state_dict().ToDictionary(e => e.Key, e => e.Value.shape, StringComparer.Ordinal), "the model");
        if (problems.Count > 0)
            throw new ArgumentException(
                $"The spec does not describe the model, so the file could not be loaded: {problems[0]}{More(problems)}; " +
                "save the model with the spec it was built from (or, for your own class, make its registered factory build the same layers).", nameof(spec));
    }

    /// <summary>What a spec needs (<paramref name="expected"/>) against what <paramref name="holder"/> holds.</summary>
    static List<string> Differences(IEnumerable<(string Name, long[] Shape)> expected, Dictionary<string, long[]> held, string holder)
    {
        var problems = new List<string>();
        foreach (var (name, shape) in expected)
        {
            if (!held.Remove(name, out var actual))
                problems.Add($"it needs '{name}' of shape {Shapes.Text(shape)}, which {holder} does not hold");
            else if (!actual.SequenceEqual(shape))
                problems.Add($"it needs '{name}' of shape {Shapes.Text(shape)}, {holder} holds {Shapes.Text(actual)}");
        }
        foreach (var name in held.Keys.Order(StringComparer.Ordinal))
            problems.Add($"{holder} holds '{Printable.Escape(name)}', which the spec does not make");
        return problems;
    }

    static string More(List<string> problems) =>
        problems.Count > 1 ? $" (and {problems.Count - 1} more difference{(problems.Count > 2 ? "s" : "")})" : "";

    /// <summary>Rebuilds a model saved with its spec and input shape
    /// (<see cref="Save(string, Functional.Layers.LayerSpec, IReadOnlyList{long}, Module, IReadOnlyDictionary{string, string}?)"/>):
    /// reads the spec, builds it, loads the weights strictly and returns the model in eval mode (see
    /// <see cref="Load{TModule}(string, Func{string, TModule}, Device?)"/> for what eval mode changes). The file holds
    /// data only: the library's layers are built from it, and a layer of your own class by the factory your program
    /// registered for its name (<see cref="Functional.Layers.LayerRegistry"/>); cast the result to that class.</summary>
    /// <exception cref="InvalidDataException">The file is damaged, holds no spec or input shape, names a layer type that is
    /// neither built in nor registered, or its spec does not match its weights.</exception>
    /// <remarks>Before anything is built, the input shape is bounded (<see cref="MaxInputRank"/> dimensions,
    /// <see cref="MaxInputElements"/> values per sample) and the state dict the spec would build is compared, name by
    /// name and shape by shape, with the tensors the header lists: a spec that does not describe its own weights
    /// (a damaged or edited file) is refused in one line without allocating what it asks for.</remarks>
    public static nn.Module<Tensor, Tensor> Load(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var header = SafeTensors.ReadHeader(path);
        var shape = InputShape(header.Metadata, path);
        var spec = CheckedSpec(header, shape, path);
        return Load(path, _ => spec.Build(shape), device);
    }

    /// <summary>The most dimensions a stored per-sample input shape may have.</summary>
    internal const int MaxInputRank = 8;

    /// <summary>The most values a stored per-sample input shape may describe (2^28: 1 GiB of float32 per sample).</summary>
    internal const long MaxInputElements = 1L << 28;

    /// <summary>The spec of a model file, parsed and checked against its input shape and the stored tensors' shapes,
    /// from the header alone.</summary>
    /// <exception cref="InvalidDataException">The spec is not valid, does not fit the input shape, or does not match the stored tensors.</exception>
    internal static Functional.Layers.LayerSpec CheckedSpec(SafeTensorsHeader header, long[] inputShape, string path)
    {
        Functional.Layers.LayerSpec spec;
        List<(string Name, long[] Shape)>? expected;
        try
        {
            spec = Functional.Layers.LayerSpec.FromJson(Spec(header.Metadata, path));
        }
        catch (JsonException e)
        {
            // An unknown type is the usual case: the message names it and says how to register a class of that name.
            throw new InvalidDataException($"{path}: the model spec could not be read: {Printable.Escape(e.Message)}", e);
        }
        try
        {
            expected = Functional.Layers.LayerState.Shapes(spec, inputShape);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: the model spec could not be built for the input shape {Shapes.Text(inputShape)}: {Printable.Escape(e.Message)}", e);
        }
        if (expected is null) return spec;   // a layer whose state only building tells (a custom one): StateDict.Load checks after
        var problems = Differences(expected, header.Entries.ToDictionary(e => e.Name, e => e.Shape.ToArray(), StringComparer.Ordinal), "the file");
        if (problems.Count > 0)
            throw new InvalidDataException(
                $"{path}: the model spec does not match the weights stored with it: {problems[0]}{More(problems)}" +
                "; the file is damaged or was edited: save the model again.");
        return spec;
    }

    /// <summary>The per-sample input shape stored beside the spec (the shape the spec is built for), read
    /// from the header only, without the weights.</summary>
    /// <exception cref="InvalidDataException">The file is damaged, or its metadata has no input shape or one that is
    /// not a JSON array of integers.</exception>
    public static long[] ReadInputShape(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return InputShape(SafeTensors.ReadHeader(path).Metadata, path);
    }

    static long[] InputShape(IReadOnlyDictionary<string, string> metadata, string path)
    {
        long[] shape;
        try
        {
            shape = metadata.TryGetValue(InputShapeKey, out var text)
                ? JsonSerializer.Deserialize(text, JsonContext.Default.Int64Array) ?? throw new JsonException("the value is null")
                : throw new InvalidDataException($"{path}: the metadata has no '{InputShapeKey}'; save the model with its spec and input shape, or rebuild it with Load(path, build).");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the metadata '{InputShapeKey}' is not a JSON array of integers: {Printable.Escape(e.Message)}", e);
        }
        if (shape.Length is 0 or > MaxInputRank || shape.Any(d => d < 1))
            throw new InvalidDataException(
                $"{path}: the metadata '{InputShapeKey}' is {Shapes.Text(shape)}; expected 1 to {MaxInputRank} dimensions of 1 or more (such as [1, 28, 28]). The file is damaged or was edited.");
        double elements = 1;   // no overflow: 8 factors below 2^63 stay far below double's range
        foreach (var d in shape) elements *= d;
        if (elements > MaxInputElements)
            throw new InvalidDataException(
                $"{path}: the metadata '{InputShapeKey}' is {Shapes.Text(shape)}, {elements} values per sample, above the limit of {MaxInputElements}. The file is damaged or was edited.");
        return shape;
    }

    /// <summary>Saves a model's spec and weights atomically: a killed save leaves the previous file.</summary>
    /// <param name="path">The file to write (conventionally <c>*.safetensors</c>); its folder must exist.</param>
    /// <param name="specJson">The model's layer spec as JSON; it must describe <paramref name="model"/>, so that building it gives the same state-dict keys and shapes.</param>
    /// <param name="model">The model whose state dict is saved.</param>
    /// <param name="metadata">Extra string metadata, or null.</param>
    /// <exception cref="ArgumentException"><paramref name="specJson"/> is not valid JSON, or a metadata key is reserved.</exception>
    public static void Save(string path, string specJson, Module model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(specJson);
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            using var _ = JsonDocument.Parse(specJson);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The model spec is not valid JSON ({e.Message}); pass the spec's JSON serialisation.", nameof(specJson), e);
        }
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
            {
                if (k == SpecKey || k == Checkpoint.FormatKey)
                    throw new ArgumentException($"The metadata key '{k}' is reserved for the model file itself; choose another.", nameof(metadata));
                meta[k] = v;
            }
        }
        meta.TryAdd("format", "pt");
        meta[Checkpoint.FormatKey] = FormatValue;
        meta[SpecKey] = specJson;
        Native.EnsureLoaded();
        SafeTensors.Save(path, model.state_dict(), meta);
    }

    /// <summary>Reads only the spec JSON of a model file, without reading the weights.</summary>
    /// <param name="path">The model file.</param>
    /// <exception cref="InvalidDataException">The file is not valid safetensors or holds no spec.</exception>
    public static string ReadSpec(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Spec(SafeTensors.ReadHeader(path).Metadata, path);
    }

    static string Spec(IReadOnlyDictionary<string, string> metadata, string path) =>
        metadata.TryGetValue(SpecKey, out var spec) ? spec
            : throw new InvalidDataException($"{path}: the metadata has no '{SpecKey}'; this is a weights-only file. Build the model in code and load it with LoadSafeTensors.");

    /// <summary>Reads the spec and the weights of a model file.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="device">Where to put the weights; null for the CPU.</param>
    /// <returns>The spec JSON and the state dict; dispose it when done.</returns>
    /// <exception cref="InvalidDataException">The file is not valid safetensors or holds no spec.</exception>
    internal static ModelFileContent Read(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var content = SafeTensors.Read(path, device);
        try
        {
            var spec = Spec(content.Metadata, path);
            var tensors = new Dictionary<string, Tensor>(content.Tensors, StringComparer.Ordinal);
            content.Tensors.Clear();
            return new ModelFileContent(spec, tensors, content.Metadata);
        }
        finally
        {
            content.Dispose();
        }
    }

    /// <summary>
    /// Rebuilds a model from a model file: builds it from the spec with <paramref name="build"/>, loads the weights
    /// strictly, and returns it in evaluation mode, ready to predict.
    /// </summary>
    /// <remarks>
    /// Evaluation mode (<c>eval()</c>, the opposite of <c>train()</c>) changes what some layers compute, not the
    /// weights: Dropout stops zeroing activations and passes its input through unchanged, and BatchNorm normalises
    /// with the running mean and variance it learned (saved in the file) instead of the statistics of the current
    /// batch. A loaded model therefore gives deterministic outputs that do not depend on the rest of the batch, the
    /// same as the original model in eval mode. Call <c>train()</c> on the result to fine-tune it.
    /// </remarks>
    /// <typeparam name="TModule">The module type the builder returns (for example <c>Module&lt;Tensor, Tensor&gt;</c>).</typeparam>
    /// <param name="path">The model file.</param>
    /// <param name="build">Builds an untrained model from the spec JSON (the layer-spec builder); it runs the
    /// library's code only, on data from the file.</param>
    /// <param name="device">Where to put the model; null leaves it where <paramref name="build"/> made it.</param>
    /// <exception cref="InvalidDataException">The file is not valid, holds no spec, the spec cannot be built, or the spec
    /// does not match the weights (the message then holds the <see cref="LoadReport"/>, and the inner
    /// <see cref="StateDictMismatchException"/> the report itself); the message names the file.</exception>
    public static TModule Load<TModule>(string path, Func<string, TModule> build, Device? device = null) where TModule : Module
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(build);
        using var content = Read(path);
        TModule model;
        try
        {
            model = build(content.Spec) ?? throw new InvalidOperationException("the builder returned null");
        }
        catch (Exception e) when (e is ArgumentException or JsonException or FormatException or InvalidOperationException or NotSupportedException
                                   or KeyNotFoundException or System.Runtime.InteropServices.ExternalException)
        {
            throw new InvalidDataException($"{path}: the model spec could not be built: {Printable.Escape(e.Message)}", e);
        }
        try
        {
            if (device is not null) TorchSharp.ModuleExtensionMethods.to(model, device);
            try
            {
                StateDict.Load(model, content.StateDict, strict: true, path);
            }
            catch (StateDictMismatchException e)
            {
                throw new InvalidDataException($"{path}: the model spec does not match the weights stored with it.\n{e.Report}", e);
            }
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
