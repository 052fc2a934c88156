using static Functional.Layers.LayerSpec;

namespace Functional.Layers;

/// <summary>
/// Factory methods for layer specs, named as PyTorch names the layers, and <see cref="Compose"/>
/// to chain them. A model is a spec built for an input shape:
/// <code>
/// var spec = Layer.Sequential(Layer.Flatten(), Layer.Linear(512), Layer.ReLU(),
///                             Layer.Linear(512), Layer.ReLU(), Layer.Linear(10));
/// var model = spec.Build(new long[] { 1, 28, 28 });
/// </code>
/// </summary>
public static class Layer
{
    /// <summary>Flattens each sample to a vector (PyTorch's <c>nn.Flatten()</c>).</summary>
    public static Flatten Flatten(long startDim = 1, long endDim = -1) => new(startDim, endDim);

    /// <summary>A fully connected layer; the input size is inferred from the previous layer.</summary>
    public static Linear Linear(long outFeatures, bool bias = true) => new(outFeatures, null, bias);

    /// <summary>A fully connected layer with an explicit input size, checked against the input shape when built.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool bias = true) => new(outFeatures, inFeatures, bias);

    /// <summary>The rectified linear unit.</summary>
    public static ReLU ReLU() => new();

    /// <summary>Softmax over <paramref name="dim"/> of the batched tensor.</summary>
    public static Softmax Softmax(long dim = 1) => new(dim);

    /// <summary>Log-softmax over <paramref name="dim"/> of the batched tensor.</summary>
    public static LogSoftmax LogSoftmax(long dim = 1) => new(dim);

    /// <summary>Dropout with probability <paramref name="p"/> while training.</summary>
    public static Dropout Dropout(double p = 0.5) => new(p);

    /// <summary>A 2-d convolution; input channels are inferred from the previous layer.</summary>
    public static Conv2d Conv2d(long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true) =>
        new(outChannels, kernelSize, stride, padding, null, bias);

    /// <summary>2-d max pooling; the stride defaults to the kernel size.</summary>
    public static MaxPool2d MaxPool2d(long kernelSize, long? stride = null, long padding = 0) => new(kernelSize, stride, padding);

    /// <summary>Batch normalisation of [features] or [features, length] samples; features inferred.</summary>
    public static BatchNorm1d BatchNorm1d(double eps = 1e-5, double momentum = 0.1) => new(null, eps, momentum);

    /// <summary>Batch normalisation of [channels, height, width] samples; channels inferred.</summary>
    public static BatchNorm2d BatchNorm2d(double eps = 1e-5, double momentum = 0.1) => new(null, eps, momentum);

    /// <summary>Layers applied in order.</summary>
    public static Sequential Sequential(params LayerSpec[] layers) => new(layers);

    /// <summary>Layers applied in order.</summary>
    public static Sequential Sequential(IEnumerable<LayerSpec> layers) => new(layers);

    /// <summary>A sequence whose children have names, so that parameters are named as in a module with
    /// fields (<c>linear_relu_stack.0.weight</c>).</summary>
    public static Sequential Named(params (string Name, LayerSpec Layer)[] children) =>
        new(children.Select(c => c.Layer), children.Select(c => c.Name));

    /// <summary>
    /// <paramref name="first"/> then <paramref name="second"/>, flattened into one
    /// <see cref="LayerSpec.Sequential"/>: composing sequences concatenates their layers, so
    /// composition is associative and the parameter names stay PyTorch's (<c>0.weight</c>, <c>2.weight</c>).
    /// Wrap a sequence in <see cref="Sequential(LayerSpec[])"/> yourself to keep it nested.
    /// </summary>
    public static Sequential Compose(LayerSpec first, LayerSpec second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        static IEnumerable<LayerSpec> Items(LayerSpec s) => s is Sequential q ? q.Layers : new[] { s };
        return new Sequential(Items(first).Concat(Items(second)));
    }

    internal static long[] CheckDim(string layer, long dim, IReadOnlyList<long> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        var rank = inputShape.Count + 1;
        var d = dim < 0 ? dim + rank : dim;
        if (d < 1 || d >= rank)
            throw LayerSpec.ShapeError($"{layer}(dim={dim})", inputShape,
                $"dim must name a dimension 1..{rank - 1} of the batched tensor (0 is the batch dimension)");
        return inputShape.ToArray();
    }
}
