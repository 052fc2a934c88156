using System.Text.Json;
using System.Text.Json.Nodes;

using static Functional.Layers.LayerSpec;

namespace Functional.Layers;

/// <summary>
/// The JSON form of a layer spec: an object with a <c>"type"</c> (PyTorch's layer name) and the
/// spec's fields in camelCase, e.g. <c>{"type":"Linear","outFeatures":10,"inFeatures":null,"bias":true}</c>.
/// Written by hand rather than by reflection so that the format is stable and every error names
/// the JSON path and what was expected.
/// </summary>
internal static class LayerJson
{
    static readonly string[] KnownTypes =
        { "Flatten", "Linear", "ReLU", "Softmax", "LogSoftmax", "Dropout", "Conv2d", "MaxPool2d", "BatchNorm1d", "BatchNorm2d", "Sequential",
          "Sigmoid", "Tanh", "GELU", "SiLU", "LeakyReLU", "ELU", "Softplus", "Identity", "Unflatten", "AvgPool2d", "AdaptiveAvgPool2d",
          "Dropout2d", "LayerNorm", "Embedding" };

    /// <summary>Whether <paramref name="type"/> names one of the library's own layers.</summary>
    public static bool IsBuiltIn(string type) => KnownTypes.Contains(type, StringComparer.Ordinal);

    public static string Write(LayerSpec spec) => ToNode(spec).ToJsonString();

    static JsonObject ToNode(LayerSpec spec) => spec switch
    {
        Flatten f => new JsonObject { ["type"] = "Flatten", ["startDim"] = f.StartDim, ["endDim"] = f.EndDim },
        Linear l => new JsonObject { ["type"] = "Linear", ["outFeatures"] = l.OutFeatures, ["inFeatures"] = l.InFeatures, ["bias"] = l.Bias },
        ReLU => new JsonObject { ["type"] = "ReLU" },
        Softmax s => new JsonObject { ["type"] = "Softmax", ["dim"] = s.Dim },
        LogSoftmax s => new JsonObject { ["type"] = "LogSoftmax", ["dim"] = s.Dim },
        Dropout d => new JsonObject { ["type"] = "Dropout", ["p"] = d.P },
        Conv2d c => new JsonObject
        {
            ["type"] = "Conv2d", ["outChannels"] = c.OutChannels, ["kernelSize"] = c.KernelSize, ["stride"] = c.Stride,
            ["padding"] = c.SamePadding ? JsonValue.Create("same") : JsonValue.Create(c.Padding), ["inChannels"] = c.InChannels, ["bias"] = c.Bias,
            ["dilation"] = c.Dilation, ["groups"] = c.Groups,
        },
        MaxPool2d m => new JsonObject { ["type"] = "MaxPool2d", ["kernelSize"] = m.KernelSize, ["stride"] = m.Stride, ["padding"] = m.Padding },
        BatchNorm1d b => new JsonObject { ["type"] = "BatchNorm1d", ["numFeatures"] = b.NumFeatures, ["eps"] = b.Eps, ["momentum"] = b.Momentum, ["affine"] = b.Affine },
        BatchNorm2d b => new JsonObject { ["type"] = "BatchNorm2d", ["numFeatures"] = b.NumFeatures, ["eps"] = b.Eps, ["momentum"] = b.Momentum, ["affine"] = b.Affine },
        Sigmoid => new JsonObject { ["type"] = "Sigmoid" },
        Tanh => new JsonObject { ["type"] = "Tanh" },
        GELU g => new JsonObject { ["type"] = "GELU", ["approximate"] = g.TanhApproximation ? "tanh" : "none" },
        SiLU => new JsonObject { ["type"] = "SiLU" },
        LeakyReLU l => new JsonObject { ["type"] = "LeakyReLU", ["negativeSlope"] = l.NegativeSlope },
        ELU e => new JsonObject { ["type"] = "ELU", ["alpha"] = e.Alpha },
        Softplus p => new JsonObject { ["type"] = "Softplus", ["beta"] = p.Beta, ["threshold"] = p.Threshold },
        Identity => new JsonObject { ["type"] = "Identity" },
        Unflatten u => new JsonObject { ["type"] = "Unflatten", ["dim"] = u.Dim, ["sizes"] = Longs(u.Sizes) },
        AvgPool2d m => new JsonObject { ["type"] = "AvgPool2d", ["kernelSize"] = m.KernelSize, ["stride"] = m.Stride, ["padding"] = m.Padding },
        AdaptiveAvgPool2d m => new JsonObject { ["type"] = "AdaptiveAvgPool2d", ["outputHeight"] = m.OutputHeight, ["outputWidth"] = m.OutputWidth },
        Dropout2d d => new JsonObject { ["type"] = "Dropout2d", ["p"] = d.P },
        LayerNorm n => new JsonObject
        {
            ["type"] = "LayerNorm", ["normalizedShape"] = n.NormalizedShape is null ? null : Longs(n.NormalizedShape),
            ["eps"] = n.Eps, ["elementwiseAffine"] = n.ElementwiseAffine,
        },
        Embedding e => new JsonObject { ["type"] = "Embedding", ["numEmbeddings"] = e.NumEmbeddings, ["embeddingDim"] = e.EmbeddingDim, ["paddingIdx"] = e.PaddingIdx },
        Sequential { Names: null } s => new JsonObject { ["type"] = "Sequential", ["layers"] = new JsonArray(s.Layers.Select(l => (JsonNode)ToNode(l)).ToArray()) },
        Sequential s => new JsonObject
        {
            ["type"] = "Sequential",
            ["layers"] = new JsonArray(s.Layers.Select(l => (JsonNode)ToNode(l)).ToArray()),
            ["names"] = new JsonArray(s.Names!.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray()),
        },
        Custom { Options: null } c => new JsonObject { ["type"] = c.Type },
        Custom c => new JsonObject { ["type"] = c.Type, ["options"] = JsonNode.Parse(c.Options) },
        _ => throw new ArgumentException($"No JSON form for layer spec {spec.GetType().Name}.", nameof(spec)),
    };

    public static LayerSpec Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e)
        {
            throw new JsonException($"The layer spec is not valid JSON: {e.Message}", e.Path, e.LineNumber, e.BytePositionInLine, e);
        }
        return FromNode(node, "$");
    }

    static LayerSpec FromNode(JsonNode? node, string path)
    {
        if (node is not JsonObject o)
            throw new JsonException($"Expected a layer object with a \"type\" at {path}, found {Describe(node)}.", path, null, null);
        var type = o["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t
            : throw new JsonException($"The layer at {path} has no string \"type\"; expected one of {string.Join(", ", KnownTypes)}.", path, null, null);
        return type switch
        {
            "Flatten" => new Flatten(Long(o, "startDim", path, 1), Long(o, "endDim", path, -1)),
            "Linear" => new Linear(Long(o, "outFeatures", path, null), NullableLong(o, "inFeatures", path), Bool(o, "bias", path, true)),
            "ReLU" => new ReLU(),
            "Softmax" => new Softmax(Long(o, "dim", path, 1)),
            "LogSoftmax" => new LogSoftmax(Long(o, "dim", path, 1)),
            "Dropout" => new Dropout(Double(o, "p", path, 0.5)),
            "Conv2d" => new Conv2d(Long(o, "outChannels", path, null), Long(o, "kernelSize", path, null), Long(o, "stride", path, 1),
                IsSame(o, path) ? 0 : Long(o, "padding", path, 0), NullableLong(o, "inChannels", path), Bool(o, "bias", path, true),
                Long(o, "dilation", path, 1), Long(o, "groups", path, 1), IsSame(o, path)),
            "MaxPool2d" => new MaxPool2d(Long(o, "kernelSize", path, null), NullableLong(o, "stride", path), Long(o, "padding", path, 0)),
            "BatchNorm1d" => new BatchNorm1d(NullableLong(o, "numFeatures", path), Double(o, "eps", path, 1e-5), Double(o, "momentum", path, 0.1), Bool(o, "affine", path, true)),
            "BatchNorm2d" => new BatchNorm2d(NullableLong(o, "numFeatures", path), Double(o, "eps", path, 1e-5), Double(o, "momentum", path, 0.1), Bool(o, "affine", path, true)),
            "Sigmoid" => new Sigmoid(),
            "Tanh" => new Tanh(),
            "GELU" => String(o, "approximate", path, "none") switch
            {
                "none" => new GELU(false),
                "tanh" => new GELU(true),
                var other => throw new JsonException($"\"approximate\" of the GELU at {path} is \"none\" or \"tanh\", found \"{other}\".", $"{path}.approximate", null, null),
            },
            "SiLU" => new SiLU(),
            "LeakyReLU" => new LeakyReLU(Double(o, "negativeSlope", path, 0.01)),
            "ELU" => new ELU(Double(o, "alpha", path, 1.0)),
            "Softplus" => new Softplus(Double(o, "beta", path, 1.0), Double(o, "threshold", path, 20.0)),
            "Identity" => new Identity(),
            "Unflatten" => new Unflatten(Long(o, "dim", path, null), NullableLongs(o, "sizes", path)
                ?? throw new JsonException($"The Unflatten layer at {path} needs an integer array \"sizes\".", path, null, null)),
            "AvgPool2d" => new AvgPool2d(Long(o, "kernelSize", path, null), NullableLong(o, "stride", path), Long(o, "padding", path, 0)),
            "AdaptiveAvgPool2d" => new AdaptiveAvgPool2d(Long(o, "outputHeight", path, null), Long(o, "outputWidth", path, null)),
            "Dropout2d" => new Dropout2d(Double(o, "p", path, 0.5)),
            "LayerNorm" => new LayerNorm(NullableLongs(o, "normalizedShape", path), Double(o, "eps", path, 1e-5), Bool(o, "elementwiseAffine", path, true)),
            "Embedding" => new Embedding(Long(o, "numEmbeddings", path, null), Long(o, "embeddingDim", path, null), NullableLong(o, "paddingIdx", path)),
            "Sequential" => SequentialFromNode(o, path),
            _ when LayerRegistry.IsRegistered(type) => CustomFromNode(o, type, path),
            _ => throw new JsonException(
                $"Unknown layer type \"{Printable.Escape(type)}\" at {path}: {LayerRegistry.NotRegistered(type)}. The built-in types are {string.Join(", ", KnownTypes)}.",
                path, null, null),
        };
    }

    static Custom CustomFromNode(JsonObject o, string type, string path)
    {
        var options = o["options"];
        if (options is not null and not JsonObject)
            throw new JsonException($"\"options\" of the {type} layer at {path} must be a JSON object, found {options.ToJsonString()}.", $"{path}.options", null, null);
        var unknown = o.Select(p => p.Key).FirstOrDefault(k => k is not ("type" or "options"));
        if (unknown is not null)
            throw new JsonException($"The {type} layer at {path} has a field \"{Printable.Escape(unknown)}\"; a custom layer has only \"type\" and \"options\" (its factory's settings go into \"options\").", path, null, null);
        return new Custom(type, options?.ToJsonString());
    }

    static Sequential SequentialFromNode(JsonObject o, string path)
    {
        var layers = o["layers"] is JsonArray a
            ? a.Select((n, i) => FromNode(n, $"{path}.layers[{i}]")).ToList()
            : throw new JsonException($"The Sequential at {path} needs a \"layers\" array.", path, null, null);
        List<string>? names = null;
        if (o["names"] is JsonNode namesNode)
        {
            if (namesNode is not JsonArray namesArray || namesArray.Any(n => n is not JsonValue v || v.GetValueKind() != JsonValueKind.String))
                throw new JsonException($"The Sequential at {path} has \"names\" that is not an array of strings.", path, null, null);
            names = namesArray.Select(n => n!.GetValue<string>()).ToList();
        }
        try { return new Sequential(layers, names); }
        catch (ArgumentException e) { throw new JsonException($"The Sequential at {path}: {e.Message}", path, null, null, e); }
    }

    static JsonArray Longs(IEnumerable<long> xs) => new(xs.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());

    static long[]? NullableLongs(JsonObject o, string name, string path)
    {
        var n = o[name];
        if (n is null) return null;
        if (n is JsonArray a && a.All(x => x is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out _)))
            return a.Select(x => x!.GetValue<long>()).ToArray();
        throw new JsonException($"\"{name}\" of the layer at {path} must be an array of integers, found {n.ToJsonString()}.", $"{path}.{name}", null, null);
    }

    static string String(JsonObject o, string name, string path, string fallback)
    {
        var n = o[name];
        if (n is null) return fallback;
        if (n is JsonValue v && v.TryGetValue<string>(out var x)) return x;
        throw new JsonException($"\"{name}\" of the layer at {path} must be a string, found {n.ToJsonString()}.", $"{path}.{name}", null, null);
    }

    /// <summary>Conv2d's <c>"padding": "same"</c> (PyTorch's string padding); a number is read as pixels.</summary>
    static bool IsSame(JsonObject o, string path) =>
        o["padding"] is JsonValue v && v.GetValueKind() == JsonValueKind.String && (String(o, "padding", path, "") is "same"
            ? true
            : throw new JsonException($"\"padding\" of the Conv2d at {path} is a number of pixels or \"same\", found {v.ToJsonString()}.", $"{path}.padding", null, null));

    static string Describe(JsonNode? node) => node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant();

    static long Long(JsonObject o, string name, string path, long? fallback) =>
        NullableLong(o, name, path) ?? fallback
        ?? throw new JsonException($"The {o["type"]} layer at {path} needs an integer \"{name}\".", path, null, null);

    static long? NullableLong(JsonObject o, string name, string path)
    {
        var n = o[name];
        if (n is null) return null;
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var x)) return x;
        throw new JsonException($"\"{name}\" of the layer at {path} must be an integer, found {n.ToJsonString()}.", $"{path}.{name}", null, null);
    }

    static double Double(JsonObject o, string name, string path, double fallback)
    {
        var n = o[name];
        if (n is null) return fallback;
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var x)) return x;
        throw new JsonException($"\"{name}\" of the layer at {path} must be a number, found {n.ToJsonString()}.", $"{path}.{name}", null, null);
    }

    static bool Bool(JsonObject o, string name, string path, bool fallback)
    {
        var n = o[name];
        if (n is null) return fallback;
        if (n is JsonValue v && v.TryGetValue<bool>(out var x)) return x;
        throw new JsonException($"\"{name}\" of the layer at {path} must be true or false, found {n.ToJsonString()}.", $"{path}.{name}", null, null);
    }
}
