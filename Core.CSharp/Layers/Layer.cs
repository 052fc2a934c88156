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

    /// <summary>A 2-d convolution (PyTorch's defaults: stride 1, no padding, dilation 1, groups 1, a bias);
    /// input channels are inferred from the previous layer.</summary>
    public static LayerSpec Conv2d(long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true, long dilation = 1, long groups = 1) =>
        new Conv2d(outChannels, kernelSize, stride, padding, null, bias, dilation, groups);

    /// <summary>A 2-d convolution with PyTorch's string padding: <c>"same"</c> (the output keeps the input's
    /// height and width; stride 1) or <c>"valid"</c> (no padding).</summary>
    public static LayerSpec Conv2d(long outChannels, long kernelSize, string padding, bool bias = true, long dilation = 1, long groups = 1) => padding switch
    {
        "same" => new Conv2d(outChannels, kernelSize, 1, 0, null, bias, dilation, groups, SamePadding: true),
        "valid" => new Conv2d(outChannels, kernelSize, 1, 0, null, bias, dilation, groups),
        _ => throw new ArgumentException($"Conv2d padding is \"same\", \"valid\" or a number of pixels, found \"{padding}\".", nameof(padding)),
    };

    /// <summary>2-d max pooling; the stride defaults to the kernel size.</summary>
    public static LayerSpec MaxPool2d(long kernelSize, long? stride = null, long padding = 0) => new MaxPool2d(kernelSize, stride, padding);

    /// <summary>Batch normalisation of [features] or [features, length] samples; features inferred.</summary>
    public static LayerSpec BatchNorm1d(double eps = 1e-5, double momentum = 0.1, bool affine = true) => new BatchNorm1d(null, eps, momentum, affine);

    /// <summary>Batch normalisation of [channels, height, width] samples; channels inferred.</summary>
    public static LayerSpec BatchNorm2d(double eps = 1e-5, double momentum = 0.1, bool affine = true) => new BatchNorm2d(null, eps, momentum, affine);

    /// <summary>2-d average pooling; the stride defaults to the kernel size.</summary>
    public static LayerSpec AvgPool2d(long kernelSize, long? stride = null, long padding = 0) => new AvgPool2d(kernelSize, stride, padding);

    /// <summary>Average pooling to a fixed <paramref name="outputSize"/> × <paramref name="outputSize"/>.</summary>
    public static LayerSpec AdaptiveAvgPool2d(long outputSize) => new AdaptiveAvgPool2d(outputSize, outputSize);

    /// <summary>Average pooling to a fixed <paramref name="outputHeight"/> × <paramref name="outputWidth"/>.</summary>
    public static LayerSpec AdaptiveAvgPool2d(long outputHeight, long outputWidth) => new AdaptiveAvgPool2d(outputHeight, outputWidth);

    /// <summary>The logistic sigmoid.</summary>
    public static LayerSpec Sigmoid() => new Sigmoid();

    /// <summary>The hyperbolic tangent.</summary>
    public static LayerSpec Tanh() => new Tanh();

    /// <summary>The Gaussian error linear unit; <paramref name="approximate"/> is <c>"none"</c> or <c>"tanh"</c>, as in PyTorch.</summary>
    public static LayerSpec GELU(string approximate = "none") => approximate switch
    {
        "none" => new GELU(false),
        "tanh" => new GELU(true),
        _ => throw new ArgumentException($"GELU's approximate is \"none\" or \"tanh\", found \"{approximate}\".", nameof(approximate)),
    };

    /// <summary>The sigmoid linear unit (swish).</summary>
    public static LayerSpec SiLU() => new SiLU();

    /// <summary>The leaky rectified linear unit.</summary>
    public static LayerSpec LeakyReLU(double negativeSlope = 0.01) => new LeakyReLU(negativeSlope);

    /// <summary>The exponential linear unit.</summary>
    public static LayerSpec ELU(double alpha = 1.0) => new ELU(alpha);

    /// <summary>The smooth approximation of ReLU, log(1 + e^(βx)) / β.</summary>
    public static LayerSpec Softplus(double beta = 1.0, double threshold = 20.0) => new Softplus(beta, threshold);

    /// <summary>Passes its input through (a placeholder, as PyTorch's <c>nn.Identity</c>).</summary>
    public static LayerSpec Identity() => new Identity();

    /// <summary>Splits dimension <paramref name="dim"/> of the batched tensor into <paramref name="sizes"/>:
    /// <c>Unflatten(1, 1, 28, 28)</c> turns [N, 784] into [N, 1, 28, 28].</summary>
    public static LayerSpec Unflatten(long dim, params long[] sizes) => new Unflatten(dim, sizes);

    /// <summary>Dropout of whole channels of [channels, height, width] samples while training.</summary>
    public static LayerSpec Dropout2d(double p = 0.5) => new Dropout2d(p);

    /// <summary>Layer normalisation over the last dimension of each sample (inferred).</summary>
    public static LayerSpec LayerNorm(double eps = 1e-5, bool elementwiseAffine = true) => new LayerNorm(null, eps, elementwiseAffine);

    /// <summary>Layer normalisation over the trailing <paramref name="normalizedShape"/> of each sample (PyTorch's <c>nn.LayerNorm(512)</c>).</summary>
    public static LayerSpec LayerNorm(long[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true) => new LayerNorm(normalizedShape, eps, elementwiseAffine);

    /// <summary>Layer normalisation over a last dimension of <paramref name="normalizedShape"/> (PyTorch's <c>nn.LayerNorm(512)</c>).</summary>
    public static LayerSpec LayerNorm(long normalizedShape, double eps = 1e-5, bool elementwiseAffine = true) => new LayerNorm(new[] { normalizedShape }, eps, elementwiseAffine);

    /// <summary>A lookup table of <paramref name="numEmbeddings"/> learned vectors of <paramref name="embeddingDim"/>
    /// values, for int64 index inputs; the <paramref name="paddingIdx"/> row stays zero.</summary>
    public static LayerSpec Embedding(long numEmbeddings, long embeddingDim, long? paddingIdx = null) => new Embedding(numEmbeddings, embeddingDim, paddingIdx);

    /// <summary>A module of your own class, registered with <see cref="LayerRegistry"/> under <paramref name="type"/>:
    /// built by its factory, and stored in JSON as <c>{"type":"NeuralNetwork"}</c>. Its output shape is measured by
    /// running one zero sample through it; its input size is not inferred (its constructor fixes it, as in PyTorch).</summary>
    /// <example><c>LayerRegistry.Register("NeuralNetwork", () => new NeuralNetwork()); var spec = Layer.Custom("NeuralNetwork");</c></example>
    public static LayerSpec Custom(string type) => new Custom(type);

    /// <summary>A module of your own class built from <paramref name="options"/>, a JSON object handed to the factory
    /// registered with <see cref="LayerRegistry.Register{TModule}(string, Func{System.Text.Json.JsonElement, TModule})"/>
    /// and stored in the spec (<c>{"type":"Scale","options":{"factor":2}}</c>).</summary>
    /// <exception cref="ArgumentException">The options are not a JSON object.</exception>
    public static LayerSpec Custom(string type, string options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Custom(type, options);
    }

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
