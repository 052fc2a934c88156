using System.Collections.Concurrent;
using System.Text.Json;
using static TorchSharp.torch;

namespace Functional.Layers;

/// <summary>
/// Your own module classes, known to layer specs and whole-model files by a name: register a class once (at
/// start-up, before loading a file that names it), and a spec or a model file can hold it as
/// <c>{"type":"NeuralNetwork"}</c>, built on load by the factory you gave. This is what <c>torch.save(model)</c>
/// needs in PyTorch too (the class, importable by its name), without pickling: the file holds the name and the
/// options as data, and only factories that your program registered ever run.
/// </summary>
/// <remarks>
/// <para>A registered class is used three ways: a whole hand-written model
/// (<see cref="Functional.Serialization.ModelFile.Save(string, nn.Module{Tensor, Tensor}, IReadOnlyList{long}, IReadOnlyDictionary{string, string}?)"/>
/// then <see cref="Functional.Serialization.ModelFile.Load(string, Device?)"/>), a layer inside a spec
/// (<see cref="Layer.Custom(string)"/>, <see cref="Layer.Custom(string, string)"/>), and the spec's JSON
/// (<see cref="LayerSpec.FromJson"/>). A file that names a type that is neither built in nor registered is refused
/// in one line that names the type and this way to register it.</para>
/// <para>The factory makes a fresh, untrained module (a model file's weights are loaded into it afterwards); it
/// initialises its own weights as its constructor does. In a seeded build (<c>spec.Build(shape, generator)</c>) it
/// runs with LibTorch's global generator seeded from the build's generator, then restored: the same seed gives the
/// same weights, whatever the global generator's state. Registering a name again replaces its factory (a script
/// re-run in <c>dotnet fsi</c> redefines its classes). The names of the built-in layers (<c>Linear</c>,
/// <c>Sequential</c>, ...) cannot be registered. The registry is shared by the whole process and safe to use from
/// several threads.</para>
/// </remarks>
/// <example><code>
/// LayerRegistry.Register("NeuralNetwork", () => new NeuralNetwork());
/// ModelFile.Save("model.safetensors", model, inputShape: [1, 28, 28]);
/// var loaded = (NeuralNetwork)ModelFile.Load("model.safetensors");
///
/// // A layer with options, read from the spec's JSON ({"type":"Scale","options":{"factor":2}}):
/// LayerRegistry.Register("Scale", options => new Scale(options.GetProperty("factor").GetDouble()));
/// var spec = Layer.Sequential(Layer.Flatten(), Layer.Custom("Scale", """{"factor":2}"""), Layer.Linear(10));
/// </code></example>
public static class LayerRegistry
{
    sealed record Entry(Type ModuleType, Func<JsonElement, nn.Module<Tensor, Tensor>> Factory);

    static readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="factory"/> under <paramref name="type"/>: a model file or spec that names
    /// the type builds its module with it. Use the class's name, as PyTorch prints it (<c>NeuralNetwork</c>).</summary>
    /// <typeparam name="TModule">The module class the factory makes; <see cref="Functional.Serialization.ModelFile.Save(string, nn.Module{Tensor, Tensor}, IReadOnlyList{long}, IReadOnlyDictionary{string, string}?)"/>
    /// finds the name of a model of this class here.</typeparam>
    /// <exception cref="ArgumentException">The name is empty or that of a built-in layer.</exception>
    public static void Register<TModule>(string type, Func<TModule> factory) where TModule : nn.Module<Tensor, Tensor>
    {
        ArgumentNullException.ThrowIfNull(factory);
        Add(type, typeof(TModule), _ => factory());
    }

    /// <summary>Registers a factory that reads the layer's options, the JSON object stored beside the type
    /// (<c>{"type":"Scale","options":{"factor":2}}</c>; an empty object when there are none), as Keras'
    /// <c>from_config</c> does.</summary>
    /// <typeparam name="TModule">The module class the factory makes.</typeparam>
    /// <exception cref="ArgumentException">The name is empty or that of a built-in layer.</exception>
    public static void Register<TModule>(string type, Func<JsonElement, TModule> factory) where TModule : nn.Module<Tensor, Tensor>
    {
        ArgumentNullException.ThrowIfNull(factory);
        Add(type, typeof(TModule), options => factory(options));
    }

    static void Add(string type, Type moduleType, Func<JsonElement, nn.Module<Tensor, Tensor>> factory)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (string.IsNullOrWhiteSpace(type) || type.Any(char.IsControl))
            throw new ArgumentException($"A registered layer type needs a name such as \"NeuralNetwork\", found \"{Printable.Escape(type)}\".", nameof(type));
        if (LayerJson.IsBuiltIn(type))
            throw new ArgumentException(
                $"\"{type}\" is a built-in layer type; register your class under another name (its own class name, say).", nameof(type));
        entries[type] = new Entry(moduleType, factory);
    }

    /// <summary>Removes a registration; true when <paramref name="type"/> was registered.</summary>
    internal static bool Unregister(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return entries.TryRemove(type, out _);
    }

    /// <summary>Whether <paramref name="type"/> is registered.</summary>
    internal static bool IsRegistered(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return entries.ContainsKey(type);
    }

    /// <summary>A new module of the registered <paramref name="type"/>, made from <paramref name="options"/>
    /// (a JSON object's text, or null for none).</summary>
    /// <exception cref="ArgumentException">The type is not registered, or the factory failed or returned null.</exception>
    internal static nn.Module<Tensor, Tensor> Create(string type, string? options)
    {
        if (!entries.TryGetValue(type, out var entry))
            throw new ArgumentException($"Unknown layer type \"{Printable.Escape(type)}\": {NotRegistered(type)}.", nameof(type));
        using var document = JsonDocument.Parse(options ?? "{}");
        nn.Module<Tensor, Tensor>? module;
        try
        {
            module = entry.Factory(document.RootElement);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or JsonException or ArgumentException)
        {
            throw new ArgumentException($"The factory registered for the layer type \"{type}\" failed with options {options ?? "{}"}: {Printable.OneLine(e)}", nameof(options), e);
        }
        return module ?? throw new ArgumentException($"The factory registered for the layer type \"{type}\" returned null.", nameof(type));
    }

    /// <summary>The name <paramref name="moduleType"/> was registered under (the latest when several).</summary>
    /// <exception cref="ArgumentException">The class is not registered, or under several names.</exception>
    internal static string NameOf(Type moduleType)
    {
        var names = entries.Where(e => e.Value.ModuleType == moduleType).Select(e => e.Key).Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0 && moduleType.Namespace == typeof(TorchSharp.Modules.Linear).Namespace)
            throw new ArgumentException(
                $"A TorchSharp {moduleType.Name} is not a class of yours to register: save it with the layer spec it was built from, " +
                "ModelFile.Save(path, spec, inputShape, model).", "model");
        return names.Count switch
        {
            1 => names[0],
            0 => throw new ArgumentException(
                $"The class {moduleType.Name} is not registered, so a model file could not name it: call " +
                $"LayerRegistry.Register(\"{moduleType.Name}\", () => new {moduleType.Name}()) first (F#: Layer.register), " +
                "or save the model with a layer spec that builds it.", "model"),
            _ => throw new ArgumentException(
                $"The class {moduleType.Name} is registered under several names ({string.Join(", ", names)}); unregister all but one, " +
                "or save the model with Layer.Custom(name) as its spec.", "model"),
        };
    }

    /// <summary>The one-line fix for a type that is neither built in nor registered.</summary>
    internal static string NotRegistered(string type) =>
        "it is neither a built-in layer nor a registered one; if it is a class of yours, register it before loading: " +
        $"LayerRegistry.Register(\"{Printable.Escape(type)}\", () => new {Identifier(type)}()) (F#: Layer.register \"{Printable.Escape(type)}\" (fun () -> new {Identifier(type)}()))";

    /// <summary>The type as a class name for the example in a message (the name comes from a file: only letters,
    /// digits and underscores are kept).</summary>
    static string Identifier(string type)
    {
        var kept = new string(type.Where(c => char.IsLetterOrDigit(c) || c == '_').ToArray());
        return kept.Length == 0 ? "YourModule" : kept;
    }
}
