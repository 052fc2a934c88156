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
        { "Flatten", "Linear", "ReLU", "Softmax", "LogSoftmax", "Dropout", "Conv2d", "MaxPool2d", "BatchNorm1d", "BatchNorm2d", "Sequential" };

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
            ["padding"] = c.Padding, ["inChannels"] = c.InChannels, ["bias"] = c.Bias,
        },
        MaxPool2d m => new JsonObject { ["type"] = "MaxPool2d", ["kernelSize"] = m.KernelSize, ["stride"] = m.Stride, ["padding"] = m.Padding },
        BatchNorm1d b => new JsonObject { ["type"] = "BatchNorm1d", ["numFeatures"] = b.NumFeatures, ["eps"] = b.Eps, ["momentum"] = b.Momentum },
        BatchNorm2d b => new JsonObject { ["type"] = "BatchNorm2d", ["numFeatures"] = b.NumFeatures, ["eps"] = b.Eps, ["momentum"] = b.Momentum },
        Sequential { Names: null } s => new JsonObject { ["type"] = "Sequential", ["layers"] = new JsonArray(s.Layers.Select(l => (JsonNode)ToNode(l)).ToArray()) },
        Sequential s => new JsonObject
        {
            ["type"] = "Sequential",
            ["layers"] = new JsonArray(s.Layers.Select(l => (JsonNode)ToNode(l)).ToArray()),
            ["names"] = new JsonArray(s.Names!.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray()),
        },
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
                Long(o, "padding", path, 0), NullableLong(o, "inChannels", path), Bool(o, "bias", path, true)),
            "MaxPool2d" => new MaxPool2d(Long(o, "kernelSize", path, null), NullableLong(o, "stride", path), Long(o, "padding", path, 0)),
            "BatchNorm1d" => new BatchNorm1d(NullableLong(o, "numFeatures", path), Double(o, "eps", path, 1e-5), Double(o, "momentum", path, 0.1)),
            "BatchNorm2d" => new BatchNorm2d(NullableLong(o, "numFeatures", path), Double(o, "eps", path, 1e-5), Double(o, "momentum", path, 0.1)),
            "Sequential" => SequentialFromNode(o, path),
            _ => throw new JsonException(
                $"Unknown layer type \"{type}\" at {path}; known types are {string.Join(", ", KnownTypes)}.", path, null, null),
        };
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
