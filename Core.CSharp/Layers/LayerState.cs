using System.Globalization;

namespace Functional.Layers;

/// <summary>The state dict a spec builds, as names and shapes, computed from the spec alone: a model file's spec is
/// checked against the tensors stored with it before anything is allocated (a spec asking for
/// <c>Linear(1000000, ...)</c> is refused from its header, not after building 3 GB of weights).</summary>
internal static class LayerState
{
    /// <summary>The names and shapes of the state dict (parameters and buffers) that
    /// <see cref="LayerSpec.Build"/> gives for <paramref name="inputShape"/>, in order; null when the spec holds a
    /// layer whose state is not known here (then only building it tells).</summary>
    /// <exception cref="ArgumentException">The spec does not fit the input shape.</exception>
    internal static List<(string Name, long[] Shape)>? Shapes(LayerSpec spec, IReadOnlyList<long> inputShape)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(inputShape);
        var result = new List<(string, long[])>();
        return Add(spec, inputShape.ToArray(), "", result) ? result : null;
    }

    static bool Add(LayerSpec spec, long[] input, string prefix, List<(string, long[])> result)
    {
        switch (spec)
        {
            case LayerSpec.Linear l:
                l.OutputShape(input);
                result.Add((prefix + "weight", [l.OutFeatures, input[^1]]));
                if (l.Bias) result.Add((prefix + "bias", [l.OutFeatures]));
                return true;
            case LayerSpec.Conv2d c:
                c.OutputShape(input);
                result.Add((prefix + "weight", [c.OutChannels, input[0] / c.Groups, c.KernelSize, c.KernelSize]));
                if (c.Bias) result.Add((prefix + "bias", [c.OutChannels]));
                return true;
            case LayerSpec.BatchNorm1d or LayerSpec.BatchNorm2d:
                spec.OutputShape(input);
                bool affine = spec is LayerSpec.BatchNorm1d { Affine: true } or LayerSpec.BatchNorm2d { Affine: true };
                foreach (var name in affine ? new[] { "weight", "bias", "running_mean", "running_var" } : ["running_mean", "running_var"])
                    result.Add((prefix + name, [input[0]]));
                result.Add((prefix + "num_batches_tracked", []));
                return true;
            case LayerSpec.LayerNorm n:
                n.OutputShape(input);
                if (n.ElementwiseAffine)
                {
                    long[] normalized = n.NormalizedShape?.ToArray() ?? [input[^1]];
                    result.Add((prefix + "weight", normalized));
                    result.Add((prefix + "bias", normalized));
                }
                return true;
            case LayerSpec.Embedding e:
                e.OutputShape(input);
                result.Add((prefix + "weight", [e.NumEmbeddings, e.EmbeddingDim]));
                return true;
            case LayerSpec.ShapePreserving or LayerSpec.Dropout2d or LayerSpec.Unflatten or LayerSpec.AvgPool2d or LayerSpec.AdaptiveAvgPool2d:
                spec.OutputShape(input);
                return true;
            case LayerSpec.Sequential s:
                var shape = input;
                for (var i = 0; i < s.Layers.Count; i++)
                {
                    var child = s.Names?[i] ?? i.ToString(CultureInfo.InvariantCulture);
                    if (!Add(s.Layers[i], shape, prefix + child + ".", result)) return false;
                    shape = s.Layers[i].OutputShape(shape);
                }
                return true;
            case LayerSpec.Flatten or LayerSpec.ReLU or LayerSpec.Softmax or LayerSpec.LogSoftmax or LayerSpec.Dropout or LayerSpec.MaxPool2d:
                spec.OutputShape(input);
                return true;
            default:
                return false;
        }
    }
}
