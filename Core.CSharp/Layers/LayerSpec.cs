using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Layers;

/// <summary>
/// A layer described as immutable data: it knows the shape it produces for a given input shape,
/// builds the matching TorchSharp module, and round-trips through JSON, so that a whole model can
/// be stored as a spec plus weights and rebuilt without the user's code.
/// </summary>
/// <remarks>
/// Shapes are per-sample shapes, without the batch dimension: a Fashion-MNIST image is
/// <c>[1, 28, 28]</c>. Sizes a layer can infer from its input (the input features of
/// <see cref="Linear"/>, the channels of <see cref="Conv2d"/> and of batch normalisation) may be
/// left out. Build a spec with <see cref="Layer"/>'s factory methods.
/// </remarks>
public abstract partial record LayerSpec
{
    private protected LayerSpec() { }

    /// <summary>The per-sample shape this layer produces for the per-sample <paramref name="inputShape"/>.</summary>
    /// <exception cref="ArgumentException">The input shape does not fit this layer; the message says what was expected.</exception>
    public abstract long[] OutputShape(IReadOnlyList<long> inputShape);

    /// <summary>
    /// Builds the TorchSharp module for inputs of the per-sample <paramref name="inputShape"/>,
    /// inferring every size left out of the spec.
    /// </summary>
    /// <param name="inputShape">The shape of one sample, without the batch dimension.</param>
    /// <param name="generator">Initialises the weights (PyTorch's default uniform initialisation)
    /// from this generator, so the same seed builds the same model bit for bit; null keeps
    /// TorchSharp's initialisation, which draws from the global generator.</param>
    /// <param name="device">Where the parameters live; null means the CPU.</param>
    public nn.Module<Tensor, Tensor> Build(IReadOnlyList<long> inputShape, Generator? generator = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        Native.EnsureLoaded();
        var module = BuildModule(inputShape.ToArray(), generator);
        if (device is { } d && d.type != DeviceType.CPU) module.to(d);
        return module;
    }

    /// <summary>Builds this layer (already validated for <paramref name="inputShape"/>).</summary>
    internal abstract nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator);

    /// <summary>The output shape of <paramref name="built"/>, this spec's module built for <paramref name="inputShape"/>:
    /// the formula's, except for layers that have none and are measured on the module itself (custom ones).</summary>
    internal virtual long[] OutputShapeOf(nn.Module<Tensor, Tensor> built, long[] inputShape) => OutputShape(inputShape);

    /// <summary>The spec as JSON; <see cref="FromJson"/> reads it back to an equal spec.</summary>
    public string ToJson() => LayerJson.Write(this);

    /// <summary>Reads a spec written by <see cref="ToJson"/>.</summary>
    /// <exception cref="System.Text.Json.JsonException">The text is not JSON, names an unknown layer type, or a field is missing or of the wrong kind; the message says which and where.</exception>
    public static LayerSpec FromJson(string json) => LayerJson.Read(json);

    internal static ArgumentException ShapeError(string layer, IReadOnlyList<long> inputShape, string expected) =>
        new($"{layer} cannot take an input of per-sample shape {Shapes.Text(inputShape)}: {expected}", "inputShape");

    /// <summary>Resets a weight and bias the way PyTorch initialises Linear and Conv layers
    /// (uniform in ±1/sqrt(fan in)), drawing from <paramref name="generator"/>.</summary>
    internal static void InitUniform(Tensor weight, Tensor? bias, long fanIn, Generator? generator)
    {
        if (generator is null) return;
        var bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0.0;
        using var _ = no_grad();
        // Tensor.uniform_ honours the generator (nn.init.uniform_ of TorchSharp 0.107 ignores it).
        weight.uniform_(-bound, bound, generator);
        bias?.uniform_(-bound, bound, generator);
    }
}

/// <summary>The layer specs (made by <see cref="Layer"/>), nested in <see cref="LayerSpec"/> so that their names (<c>Linear</c>,
/// <c>Sequential</c>, ...) never clash with TorchSharp's modules of the same names.</summary>
public abstract partial record LayerSpec
{
    /// <summary>Flattens the dimensions <see cref="StartDim"/>..<see cref="EndDim"/> (of the batched
    /// tensor, as in PyTorch) into one; the defaults turn each sample into a vector.</summary>
    /// <param name="StartDim">First dimension to flatten, counting the batch dimension as 0; must not be 0.</param>
    /// <param name="EndDim">Last dimension to flatten; negative counts from the end.</param>
    internal sealed record Flatten(long StartDim = 1, long EndDim = -1) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var rank = inputShape.Count + 1;
            var start = StartDim < 0 ? StartDim + rank : StartDim;
            var end = EndDim < 0 ? EndDim + rank : EndDim;
            if (start < 1 || start >= rank || end < start || end >= rank)
                throw ShapeError("Flatten", inputShape,
                    $"start_dim={StartDim}, end_dim={EndDim} must name dimensions 1..{rank - 1} of the batched tensor (0 is the batch dimension), start before end");
            var batched = new List<long> { -1 };
            batched.AddRange(inputShape);
            var result = new List<long>();
            for (var i = 1; i < start; i++) result.Add(batched[i]);
            long product = 1;
            for (var i = start; i <= end; i++) product *= batched[(int)i];
            result.Add(product);
            for (var i = end + 1; i < rank; i++) result.Add(batched[(int)i]);
            return result.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.Flatten(StartDim, EndDim);
        }
    }

    /// <summary>A fully connected layer over the last dimension.</summary>
    /// <param name="OutFeatures">Size of each output sample's last dimension.</param>
    /// <param name="InFeatures">Size of the input's last dimension; null infers it from the input shape.</param>
    /// <param name="Bias">Whether the layer learns an additive bias.</param>
    internal sealed record Linear(long OutFeatures, long? InFeatures = null, bool Bias = true) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (OutFeatures <= 0) throw new ArgumentException($"Linear needs OutFeatures > 0, found {OutFeatures}.", nameof(OutFeatures));
            if (inputShape.Count == 0)
                throw ShapeError("Linear", inputShape, "it needs at least one dimension; put a Flatten before it for images");
            var last = inputShape[^1];
            if (InFeatures is { } inF && inF != last)
                throw ShapeError($"Linear(in_features={inF}, out_features={OutFeatures})", inputShape,
                    $"the last dimension must be {inF}; leave InFeatures out to infer it, or fix the previous layer");
            var result = inputShape.ToArray();
            result[^1] = OutFeatures;
            return result;
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            var inF = inputShape[^1];
            var linear = nn.Linear(inF, OutFeatures, hasBias: Bias);
            InitUniform(linear.weight!, linear.bias, inF, generator);
            return linear;
        }
    }

    /// <summary>The rectified linear unit, max(0, x).</summary>
    internal sealed record ReLU : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            return inputShape.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.ReLU();
    }

    /// <summary>Softmax along <see cref="Dim"/> of the batched tensor (1: the classes of a [batch, classes] input).</summary>
    /// <param name="Dim">The dimension of the batched tensor that sums to one.</param>
    internal sealed record Softmax(long Dim = 1) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape) => Layer.CheckDim("Softmax", Dim, inputShape);

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.Softmax(Dim);
    }

    /// <summary>Log of the softmax along <see cref="Dim"/> of the batched tensor; pairs with the NLL loss.</summary>
    /// <param name="Dim">The dimension of the batched tensor the softmax normalises.</param>
    internal sealed record LogSoftmax(long Dim = 1) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape) => Layer.CheckDim("LogSoftmax", Dim, inputShape);

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.LogSoftmax(Dim);
    }

    /// <summary>Zeroes each element with probability <see cref="P"/> while training (scaling the rest
    /// by 1/(1-p)); the identity in evaluation mode.</summary>
    /// <param name="P">The probability of zeroing an element, in [0, 1).</param>
    internal sealed record Dropout(double P = 0.5) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (!(P >= 0 && P < 1)) throw new ArgumentException($"Dropout needs 0 <= p < 1, found {P}.", nameof(P));
            return inputShape.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.Dropout(P);
        }
    }

    /// <summary>A 2-d convolution over [channels, height, width] samples with square kernels.</summary>
    /// <param name="OutChannels">Number of output channels.</param>
    /// <param name="KernelSize">Side of the square kernel.</param>
    /// <param name="Stride">Step between kernel positions.</param>
    /// <param name="Padding">Zero padding added on every side.</param>
    /// <param name="InChannels">Input channels; null infers them from the input shape.</param>
    /// <param name="Bias">Whether the layer learns an additive bias.</param>
    /// <param name="Dilation">Spacing between kernel elements.</param>
    /// <param name="Groups">Blocked connections from input to output channels (both must be divisible by it).</param>
    /// <param name="SamePadding">PyTorch's <c>padding='same'</c>: pad so that the output has the input's height and width (stride 1 only).</param>
    internal sealed record Conv2d(long OutChannels, long KernelSize, long Stride = 1, long Padding = 0, long? InChannels = null, bool Bias = true,
                                  long Dilation = 1, long Groups = 1, bool SamePadding = false) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var name = $"Conv2d(out_channels={OutChannels}, kernel_size={KernelSize})";
            if (OutChannels <= 0 || KernelSize <= 0 || Stride <= 0 || Padding < 0 || Dilation <= 0 || Groups <= 0)
                throw new ArgumentException($"{name} needs positive OutChannels, KernelSize, Stride, Dilation and Groups and Padding >= 0 (stride {Stride}, padding {Padding}, dilation {Dilation}, groups {Groups}).", nameof(OutChannels));
            if (SamePadding && (Stride != 1 || Padding != 0))
                throw new ArgumentException($"{name} with padding='same' needs stride 1 and no explicit padding, as in PyTorch (stride {Stride}, padding {Padding}).", nameof(SamePadding));
            if (inputShape.Count != 3)
                throw ShapeError(name, inputShape, "it expects [channels, height, width]; add a channel dimension (e.g. [1, 28, 28])");
            if (InChannels is { } c && c != inputShape[0])
                throw ShapeError(name, inputShape, $"it expects {c} input channels; leave InChannels out to infer it");
            if (inputShape[0] % Groups != 0 || OutChannels % Groups != 0)
                throw ShapeError(name, inputShape, $"groups={Groups} must divide both the {inputShape[0]} input channels and the {OutChannels} output channels");
            if (SamePadding) return new[] { OutChannels, inputShape[1], inputShape[2] };
            var span = Dilation * (KernelSize - 1) + 1;
            if (inputShape[1] + 2 * Padding < span || inputShape[2] + 2 * Padding < span)
                throw ShapeError(name, inputShape, "the kernel is larger than the padded image");
            var h = (inputShape[1] + 2 * Padding - span) / Stride + 1;
            var w = (inputShape[2] + 2 * Padding - span) / Stride + 1;
            return new[] { OutChannels, h, w };
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            var conv = SamePadding
                ? nn.Conv2d(inputShape[0], OutChannels, KernelSize, TorchSharp.Padding.Same, dilation: Dilation, groups: Groups, bias: Bias)
                : nn.Conv2d(inputShape[0], OutChannels, KernelSize, stride: Stride, padding: Padding, dilation: Dilation, groups: Groups, bias: Bias);
            InitUniform(conv.weight!, conv.bias, inputShape[0] / Groups * KernelSize * KernelSize, generator);
            return conv;
        }
    }

    /// <summary>2-d max pooling over [channels, height, width] samples with square windows.</summary>
    /// <param name="KernelSize">Side of the square window.</param>
    /// <param name="Stride">Step between windows; null means the kernel size, as in PyTorch.</param>
    /// <param name="Padding">Implicit negative-infinity padding on every side.</param>
    internal sealed record MaxPool2d(long KernelSize, long? Stride = null, long Padding = 0) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var stride = Stride ?? KernelSize;
            var name = $"MaxPool2d(kernel_size={KernelSize})";
            if (KernelSize <= 0 || stride <= 0 || Padding < 0 || Padding * 2 > KernelSize)
                throw new ArgumentException($"{name} needs positive KernelSize and Stride and 0 <= Padding <= KernelSize/2 (stride {stride}, padding {Padding}).", nameof(KernelSize));
            if (inputShape.Count != 3)
                throw ShapeError(name, inputShape, "it expects [channels, height, width]");
            if (inputShape[1] + 2 * Padding < KernelSize || inputShape[2] + 2 * Padding < KernelSize)
                throw ShapeError(name, inputShape, "the window is larger than the padded image");
            var h = (inputShape[1] + 2 * Padding - KernelSize) / stride + 1;
            var w = (inputShape[2] + 2 * Padding - KernelSize) / stride + 1;
            return new[] { inputShape[0], h, w };
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.MaxPool2d(KernelSize, Stride ?? KernelSize, Padding);
        }
    }

    /// <summary>Batch normalisation over the features of [features] or [features, length] samples.</summary>
    /// <param name="NumFeatures">Number of features; null infers it from the input shape.</param>
    /// <param name="Eps">Added to the variance for numerical stability.</param>
    /// <param name="Momentum">Weight of the current batch in the running statistics.</param>
    /// <param name="Affine">Whether to learn a per-feature weight and bias.</param>
    internal sealed record BatchNorm1d(long? NumFeatures = null, double Eps = 1e-5, double Momentum = 0.1, bool Affine = true) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (inputShape.Count is not (1 or 2))
                throw ShapeError("BatchNorm1d", inputShape, "it expects [features] or [features, length]");
            if (NumFeatures is { } n && n != inputShape[0])
                throw ShapeError($"BatchNorm1d({n})", inputShape, $"the first dimension must be {n}; leave NumFeatures out to infer it");
            return inputShape.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.BatchNorm1d(inputShape[0], Eps, Momentum, Affine);
        }
    }

    /// <summary>Batch normalisation over the channels of [channels, height, width] samples.</summary>
    /// <param name="NumFeatures">Number of channels; null infers it from the input shape.</param>
    /// <param name="Eps">Added to the variance for numerical stability.</param>
    /// <param name="Momentum">Weight of the current batch in the running statistics.</param>
    /// <param name="Affine">Whether to learn a per-feature weight and bias.</param>
    internal sealed record BatchNorm2d(long? NumFeatures = null, double Eps = 1e-5, double Momentum = 0.1, bool Affine = true) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (inputShape.Count != 3)
                throw ShapeError("BatchNorm2d", inputShape, "it expects [channels, height, width]");
            if (NumFeatures is { } n && n != inputShape[0])
                throw ShapeError($"BatchNorm2d({n})", inputShape, $"the first dimension must be {n}; leave NumFeatures out to infer it");
            return inputShape.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.BatchNorm2d(inputShape[0], Eps, Momentum, Affine);
        }
    }

    /// <summary>Layers applied one after the other; builds a TorchSharp <c>Sequential</c> whose
    /// children are named 0, 1, 2, ... as in PyTorch, so parameter names match (<c>0.weight</c>).</summary>
    internal sealed record Sequential : LayerSpec
    {
        /// <summary>Creates the sequence; nested sequences stay nested (their parameters are named <c>1.0.weight</c>).</summary>
        public Sequential(IEnumerable<LayerSpec> layers) : this(layers, null) { }

        /// <summary>Creates the sequence with a name for each child, as PyTorch's <c>nn.Sequential(OrderedDict(...))</c>
        /// or a module's fields name them: parameters are then named <c>linear_relu_stack.0.weight</c>, not <c>1.0.weight</c>.
        /// Null names the children by position.</summary>
        /// <exception cref="ArgumentException">The names are not one per layer, empty, duplicated, or contain a dot.</exception>
        public Sequential(IEnumerable<LayerSpec> layers, IEnumerable<string>? names)
        {
            ArgumentNullException.ThrowIfNull(layers);
            var list = layers.ToList();
            for (var i = 0; i < list.Count; i++)
                if (list[i] is null) throw new ArgumentException($"Sequential: layer {i} is null.", nameof(layers));
            Layers = list.AsReadOnly();
            if (names is not null)
            {
                var given = names.ToList();
                if (given.Count != list.Count)
                    throw new ArgumentException($"Sequential: {given.Count} names for {list.Count} layers; give one name per layer.", nameof(names));
                for (var i = 0; i < given.Count; i++)
                    if (string.IsNullOrEmpty(given[i]) || given[i].Contains('.'))
                        throw new ArgumentException($"Sequential: the name of layer {i}, '{given[i]}', must be non-empty and contain no dot.", nameof(names));
                var duplicate = given.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null) throw new ArgumentException($"Sequential: the name '{duplicate.Key}' is used twice.", nameof(names));
                Names = given.AsReadOnly();
            }
        }

        /// <summary>The layers in order.</summary>
        public IReadOnlyList<LayerSpec> Layers { get; }

        /// <summary>The children's names, or null when they are named by position (0, 1, ...).</summary>
        public IReadOnlyList<string>? Names { get; }

        string ChildName(int i) => Names?[i] ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var shape = inputShape.ToArray();
            for (var i = 0; i < Layers.Count; i++)
            {
                try { shape = Layers[i].OutputShape(shape); }
                catch (ArgumentException e) when (e is not ArgumentNullException)
                {
                    throw new ArgumentException($"Sequential layer {i} ({Layers[i].GetType().Name}): {e.Message}", nameof(inputShape), e);
                }
            }
            return shape;
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            var children = new List<(string, nn.Module<Tensor, Tensor>)>();
            var shape = inputShape;
            try
            {
                for (var i = 0; i < Layers.Count; i++)
                {
                    var child = Layers[i].BuildModule(shape, generator);
                    children.Add((ChildName(i), child));
                    shape = Layers[i].OutputShapeOf(child, shape);
                }
            }
            catch
            {
                foreach (var (_, child) in children) child.Dispose();
                throw;
            }
            return nn.Sequential(children.ToArray());
        }

        internal override long[] OutputShapeOf(nn.Module<Tensor, Tensor> built, long[] inputShape)
        {
            var shape = inputShape;
            var children = built.children().ToList();
            if (children.Count != Layers.Count) return OutputShape(inputShape);
            for (var i = 0; i < Layers.Count; i++)
                shape = children[i] is nn.Module<Tensor, Tensor> child ? Layers[i].OutputShapeOf(child, shape) : Layers[i].OutputShape(shape);
            return shape;
        }

        /// <summary>Equal when the layers are equal in order (not merely the same list object).</summary>
        public bool Equals(Sequential? other) =>
            other is not null && Layers.SequenceEqual(other.Layers)
            && (Names is null ? other.Names is null : other.Names is not null && Names.SequenceEqual(other.Names));

        /// <summary>Consistent with <see cref="Equals(Sequential)"/>.</summary>
        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (var layer in Layers) hash.Add(layer);
            return hash.ToHashCode();
        }

        /// <summary>The layers, e.g. <c>Sequential [ Flatten { ... }, Linear { ... } ]</c>.</summary>
        public override string ToString() =>
            "Sequential [ " + string.Join(", ", Layers.Select((l, i) => Names is null ? l.ToString() : $"{Names[i]}: {l}")) + " ]";
    }
}
