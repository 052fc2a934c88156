using System.Text.Json;
using System.Text.Json.Serialization;
using Functional.Layers;
using static TorchSharp.torch;

namespace Functional.Optim;

/// <summary>
/// One state's part of a saved optimizer state, as <see cref="TransformState.PrepareLoad"/> reads it:
/// the scalars it saved, its tensors by the names it gave them, and the parameters they belong to.
/// Reading a tensor that is missing or mis-shaped records the problem instead of throwing, so that a
/// refused load lists every problem at once.
/// </summary>
public sealed class SavedState
{
    /// <summary>What all the states of one load share: the saved tensors, the parameters, the problems found.</summary>
    internal sealed class Source(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyList<Tensor> parameters)
    {
        public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;
        public IReadOnlyList<Tensor> Parameters { get; } = parameters;
        public List<string> Problems { get; } = new();
        public HashSet<string> Read { get; } = new();
    }

    /// <summary>Strict reading: a missing or unknown field is an error, not a default.</summary>
    internal static readonly JsonSerializerOptions Strict = new()
    {
        // Reflection-based by design: states' records are their own (private) types, and file-based,
        // trimmed and AOT applications turn the default reflection resolver off.
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    readonly Source source;
    readonly string prefix;

    internal SavedState(Source source, JsonElement scalars, string prefix)
    {
        this.source = source;
        Json = scalars;
        this.prefix = prefix;
    }

    /// <summary>The parameters the optimizer is bound to, in order (for the shapes, devices and dtypes of per-parameter buffers).</summary>
    public IReadOnlyList<Tensor> Parameters => source.Parameters;

    /// <summary>The scalars this state saved, read back as <typeparamref name="T"/> (the record its
    /// <see cref="TransformState.SaveScalars"/> returned).</summary>
    /// <exception cref="ArgumentException">Nothing was saved, or it is not a <typeparamref name="T"/> (a field is missing, unknown or of another type).</exception>
    public T Scalars<T>() where T : class
    {
        if (!HasScalars) throw new ArgumentException($"{Where}: no scalars were saved; expected a {typeof(T).Name}.");
        try
        {
            return Json.Deserialize<T>(Strict) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{Where}: the saved scalars are not a {typeof(T).Name}'s ({e.Message}).", e);
        }
    }

    /// <summary>
    /// The saved per-parameter tensors <c>{name}.0</c>, <c>{name}.1</c>, ... (one per parameter, each of
    /// its parameter's shape), or null when one is missing or mis-shaped: the problem is recorded and
    /// the load will be refused, so the action returned with a null here never runs.
    /// </summary>
    public IReadOnlyList<Tensor>? PerParameter(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var result = new Tensor[Parameters.Count];
        var ok = true;
        for (var i = 0; i < result.Length; i++)
        {
            var full = $"{prefix}{name}.{i}";
            source.Read.Add(full);
            if (!source.Tensors.TryGetValue(full, out var t))
            {
                source.Problems.Add($"missing '{full}'");
                ok = false;
            }
            else if (!t.shape.SequenceEqual(Parameters[i].shape))
            {
                source.Problems.Add($"'{full}' has shape {Shapes.Text(t.shape)}, expected {Shapes.Text(Parameters[i].shape)}");
                ok = false;
            }
            else result[i] = t;
        }
        return ok ? result : null;
    }

    /// <summary>Whether the state saved scalars (a chain saves its links' as an array).</summary>
    internal bool HasScalars => Json.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined);

    /// <summary>The saved scalars as JSON.</summary>
    internal JsonElement Json { get; }

    /// <summary>Where in the structure this state is, for messages: <c>the state</c>, <c>link 1</c>, <c>link 0.2</c>.</summary>
    internal string Where => prefix.Length == 0 ? "the state" : $"link {prefix.TrimEnd('.')}";

    /// <summary>The part of a chain's link <paramref name="index"/>: its element of the scalars' array, its names prefixed <c>{index}.</c>.</summary>
    internal SavedState Link(int index) => new(source, Json[index], $"{prefix}{index}.");

    /// <summary>Records a problem that refuses the load (for a link whose check threw).</summary>
    internal void Problem(string message) => source.Problems.Add(message);
}
