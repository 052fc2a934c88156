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
    public static LayerSpec Flatten(long startDim = 1, long endDim = -1) => new Flatten(startDim, endDim);

    /// <summary>A fully connected layer; the input size is inferred from the previous layer.</summary>
    public static LayerSpec Linear(long outFeatures, bool bias = true) => new Linear(outFeatures, null, bias);

    /// <summary>A fully connected layer with an explicit input size, checked against the input shape when built.</summary>
    public static LayerSpec Linear(long inFeatures, long outFeatures, bool bias = true) => new Linear(outFeatures, inFeatures, bias);

    /// <summary>The rectified linear unit.</summary>
    public static LayerSpec ReLU() => new ReLU();

    /// <summary>Softmax over <paramref name="dim"/> of the batched tensor.</summary>
    public static LayerSpec Softmax(long dim = 1) => new Softmax(dim);

    /// <summary>Log-softmax over <paramref name="dim"/> of the batched tensor.</summary>
    public static LayerSpec LogSoftmax(long dim = 1) => new LogSoftmax(dim);

    /// <summary>Dropout with probability <paramref name="p"/> while training.</summary>
    public static LayerSpec Dropout(double p = 0.5) => new Dropout(p);

    /// <summary>A 2-d convolution; input channels are inferred from the previous layer.</summary>
    public static LayerSpec Conv2d(long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true) =>
        new Conv2d(outChannels, kernelSize, stride, padding, null, bias);

    /// <summary>2-d max pooling; the stride defaults to the kernel size.</summary>
    public static LayerSpec MaxPool2d(long kernelSize, long? stride = null, long padding = 0) => new MaxPool2d(kernelSize, stride, padding);

    /// <summary>Batch normalisation of [features] or [features, length] samples; features inferred.</summary>
    public static LayerSpec BatchNorm1d(double eps = 1e-5, double momentum = 0.1) => new BatchNorm1d(null, eps, momentum);

    /// <summary>Batch normalisation of [channels, height, width] samples; channels inferred.</summary>
    public static LayerSpec BatchNorm2d(double eps = 1e-5, double momentum = 0.1) => new BatchNorm2d(null, eps, momentum);

    /// <summary>Layers applied in order.</summary>
    public static LayerSpec Sequential(params LayerSpec[] layers) => new Sequential(layers);

    /// <summary>Layers applied in order.</summary>
    public static LayerSpec Sequential(IEnumerable<LayerSpec> layers) => new Sequential(layers);

    /// <summary>A sequence whose children have names, so that parameters are named as in a module with
    /// fields (<c>linear_relu_stack.0.weight</c>).</summary>
    public static LayerSpec Named(params (string Name, LayerSpec Layer)[] children) =>
        new Sequential(children.Select(c => c.Layer), children.Select(c => c.Name));

    /// <summary>
    /// <paramref name="first"/> then <paramref name="second"/>, flattened into one
    /// sequence: composing sequences concatenates their layers, so
    /// composition is associative and the parameter names stay PyTorch's (<c>0.weight</c>, <c>2.weight</c>).
    /// Wrap a sequence in <see cref="Sequential(LayerSpec[])"/> yourself to keep it nested.
    /// </summary>
    public static LayerSpec Compose(LayerSpec first, LayerSpec second)
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
