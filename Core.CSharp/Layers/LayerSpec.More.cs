using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Layers;

// The layers a tutorial reader reaches for next: more activations, reshaping, average pooling, layer
// normalisation and embeddings. Each prints and names its parameters as PyTorch does.
public abstract partial record LayerSpec
{
    /// <summary>A layer that keeps its input's shape (activations, dropout, identity).</summary>
    internal abstract record ShapePreserving : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            Check();
            return inputShape.ToArray();
        }

        /// <summary>Throws when a setting is out of range.</summary>
        private protected virtual void Check() { }
    }

    /// <summary>The logistic sigmoid, 1 / (1 + e^−x).</summary>
    internal sealed record Sigmoid : ShapePreserving
    {
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.Sigmoid();
    }

    /// <summary>The hyperbolic tangent.</summary>
    internal sealed record Tanh : ShapePreserving
    {
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.Tanh();
    }

    /// <summary>The Gaussian error linear unit, x·Φ(x), or its tanh approximation.</summary>
    /// <param name="TanhApproximation">PyTorch's <c>approximate='tanh'</c>.</param>
    internal sealed record GELU(bool TanhApproximation = false) : ShapePreserving
    {
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) =>
            nn.GELU(TanhApproximation ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none, false);
    }

    /// <summary>The sigmoid linear unit (swish), x·σ(x).</summary>
    internal sealed record SiLU : ShapePreserving
    {
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.SiLU();
    }

    /// <summary>max(0, x) + slope·min(0, x).</summary>
    internal sealed record LeakyReLU(double NegativeSlope = 0.01) : ShapePreserving
    {
        private protected override void Check()
        {
            if (!double.IsFinite(NegativeSlope)) throw new ArgumentException($"LeakyReLU needs a finite negative_slope, found {NegativeSlope}.", nameof(NegativeSlope));
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.LeakyReLU(NegativeSlope, false);
    }

    /// <summary>The exponential linear unit: x for x &gt; 0, α·(eˣ − 1) otherwise.</summary>
    internal sealed record ELU(double Alpha = 1.0) : ShapePreserving
    {
        private protected override void Check()
        {
            if (!double.IsFinite(Alpha)) throw new ArgumentException($"ELU needs a finite alpha, found {Alpha}.", nameof(Alpha));
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.ELU(Alpha, false);
    }

    /// <summary>log(1 + e^(β·x)) / β, linear above the threshold.</summary>
    internal sealed record Softplus(double Beta = 1.0, double Threshold = 20.0) : ShapePreserving
    {
        private protected override void Check()
        {
            if (!(Beta > 0) || !double.IsFinite(Beta) || !double.IsFinite(Threshold))
                throw new ArgumentException($"Softplus needs beta > 0 and a finite threshold, found beta {Beta}, threshold {Threshold}.", nameof(Beta));
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.Softplus(Beta, Threshold);
    }

    /// <summary>Returns its input.</summary>
    internal sealed record Identity : ShapePreserving
    {
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator) => nn.Identity();
    }

    /// <summary>Zeroes whole channels of [channels, height, width] samples with probability <see cref="P"/> while training.</summary>
    internal sealed record Dropout2d(double P = 0.5) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (!(P >= 0 && P < 1)) throw new ArgumentException($"Dropout2d needs 0 <= p < 1, found {P}.", nameof(P));
            if (inputShape.Count != 3) throw ShapeError("Dropout2d", inputShape, "it expects [channels, height, width]");
            return inputShape.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.Dropout2d(P);
        }
    }

    /// <summary>Splits dimension <see cref="Dim"/> of the batched tensor into <see cref="Sizes"/> (PyTorch's
    /// <c>nn.Unflatten(1, (1, 28, 28))</c>).</summary>
    internal sealed record Unflatten : LayerSpec
    {
        public Unflatten(long dim, IEnumerable<long> sizes)
        {
            Dim = dim;
            Sizes = (sizes ?? throw new ArgumentNullException(nameof(sizes))).ToArray();
        }

        public long Dim { get; }

        public IReadOnlyList<long> Sizes { get; }

        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var name = $"Unflatten(dim={Dim}, unflattened_size={Shapes.Text(Sizes)})";
            if (Sizes.Count == 0 || Sizes.Any(s => s <= 0))
                throw new ArgumentException($"{name} needs one or more positive sizes.", nameof(Sizes));
            var rank = inputShape.Count + 1;
            var d = Dim < 0 ? Dim + rank : Dim;
            if (d < 1 || d >= rank)
                throw ShapeError(name, inputShape, $"dim must name a dimension 1..{rank - 1} of the batched tensor (0 is the batch dimension)");
            long product = 1;
            foreach (var s in Sizes) product = checked(product * s);
            if (product != inputShape[(int)d - 1])
                throw ShapeError(name, inputShape, $"the sizes multiply to {product}, but that dimension is {inputShape[(int)d - 1]}");
            var result = inputShape.ToList();
            result.RemoveAt((int)d - 1);
            result.InsertRange((int)d - 1, Sizes);
            return result.ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.Unflatten(Dim, Sizes.ToArray());
        }

        /// <inheritdoc/>
        public bool Equals(Unflatten? other) => other is not null && Dim == other.Dim && Sizes.SequenceEqual(other.Sizes);

        /// <inheritdoc/>
        public override int GetHashCode() => Sizes.Aggregate(Dim.GetHashCode(), HashCode.Combine);

        /// <inheritdoc/>
        public override string ToString() => $"Unflatten {{ Dim = {Dim}, Sizes = {Shapes.Text(Sizes)} }}";
    }

    /// <summary>2-d average pooling over [channels, height, width] samples with square windows (zero padding
    /// counted in the average, as PyTorch's default).</summary>
    internal sealed record AvgPool2d(long KernelSize, long? Stride = null, long Padding = 0) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            var stride = Stride ?? KernelSize;
            var name = $"AvgPool2d(kernel_size={KernelSize})";
            if (KernelSize <= 0 || stride <= 0 || Padding < 0 || Padding * 2 > KernelSize)
                throw new ArgumentException($"{name} needs positive KernelSize and Stride and 0 <= Padding <= KernelSize/2 (stride {stride}, padding {Padding}).", nameof(KernelSize));
            if (inputShape.Count != 3)
                throw ShapeError(name, inputShape, "it expects [channels, height, width]");
            if (inputShape[1] + 2 * Padding < KernelSize || inputShape[2] + 2 * Padding < KernelSize)
                throw ShapeError(name, inputShape, "the window is larger than the padded image");
            return new[] { inputShape[0], (inputShape[1] + 2 * Padding - KernelSize) / stride + 1, (inputShape[2] + 2 * Padding - KernelSize) / stride + 1 };
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.AvgPool2d(KernelSize, Stride ?? KernelSize, Padding);
        }
    }

    /// <summary>Average pooling of [channels, height, width] samples to a fixed <see cref="OutputHeight"/> ×
    /// <see cref="OutputWidth"/>, whatever the input's size.</summary>
    internal sealed record AdaptiveAvgPool2d(long OutputHeight, long OutputWidth) : LayerSpec
    {
        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (OutputHeight <= 0 || OutputWidth <= 0)
                throw new ArgumentException($"AdaptiveAvgPool2d needs a positive output size, found ({OutputHeight}, {OutputWidth}).", nameof(OutputHeight));
            if (inputShape.Count != 3)
                throw ShapeError($"AdaptiveAvgPool2d(output_size=({OutputHeight}, {OutputWidth}))", inputShape, "it expects [channels, height, width]");
            return new[] { inputShape[0], OutputHeight, OutputWidth };
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.AdaptiveAvgPool2d(new[] { OutputHeight, OutputWidth });
        }
    }

    /// <summary>Layer normalisation over the trailing <see cref="NormalizedShape"/> of each sample (null: the
    /// last dimension, inferred), with a learned elementwise weight and bias unless <see cref="ElementwiseAffine"/> is false.</summary>
    internal sealed record LayerNorm : LayerSpec
    {
        public LayerNorm(IEnumerable<long>? normalizedShape = null, double eps = 1e-5, bool elementwiseAffine = true)
        {
            NormalizedShape = normalizedShape?.ToArray();
            Eps = eps;
            ElementwiseAffine = elementwiseAffine;
        }

        /// <summary>The trailing dimensions normalised together; null infers the last dimension.</summary>
        public IReadOnlyList<long>? NormalizedShape { get; }

        /// <summary>Added to the variance for numerical stability.</summary>
        public double Eps { get; }

        /// <summary>Whether to learn a weight and bias of the normalised shape.</summary>
        public bool ElementwiseAffine { get; }

        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (NormalizedShape is { Count: 0 } || NormalizedShape?.Any(d => d <= 0) == true || !(Eps > 0))
                throw new ArgumentException($"LayerNorm needs a normalised shape of positive sizes and eps > 0, found {(NormalizedShape is null ? "null" : Shapes.Text(NormalizedShape))} and {Eps}.", nameof(NormalizedShape));
            var normalized = Normalized(inputShape);
            if (!inputShape.Skip(inputShape.Count - normalized.Length).SequenceEqual(normalized))
                throw ShapeError($"LayerNorm({Shapes.Text(normalized)})", inputShape, $"the last dimension(s) must be {Shapes.Text(normalized)}");
            return inputShape.ToArray();
        }

        long[] Normalized(IReadOnlyList<long> inputShape)
        {
            if (NormalizedShape is { } shape)
            {
                if (inputShape.Count < shape.Count)
                    throw ShapeError($"LayerNorm({Shapes.Text(shape)})", inputShape, $"it normalises the last {shape.Count} dimension(s) of each sample");
                return shape.ToArray();
            }
            if (inputShape.Count == 0) throw ShapeError("LayerNorm", inputShape, "it normalises the last dimension of each sample, and a scalar has none");
            return new[] { inputShape[^1] };
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            return nn.LayerNorm(Normalized(inputShape), Eps, ElementwiseAffine);
        }

        /// <inheritdoc/>
        public bool Equals(LayerNorm? other) => other is not null && Eps.Equals(other.Eps) && ElementwiseAffine == other.ElementwiseAffine &&
            (NormalizedShape is null ? other.NormalizedShape is null : other.NormalizedShape is not null && NormalizedShape.SequenceEqual(other.NormalizedShape));

        /// <inheritdoc/>
        public override int GetHashCode() => (NormalizedShape ?? Array.Empty<long>()).Aggregate(HashCode.Combine(Eps, ElementwiseAffine), HashCode.Combine);

        /// <inheritdoc/>
        public override string ToString() =>
            $"LayerNorm {{ NormalizedShape = {(NormalizedShape is null ? "inferred" : Shapes.Text(NormalizedShape))}, Eps = {Eps}, ElementwiseAffine = {ElementwiseAffine} }}";
    }

    /// <summary>A lookup table: each int64 index of a sample becomes a learned vector of <see cref="EmbeddingDim"/>
    /// values ([length] → [length, dim]). Weights start as PyTorch's, N(0, 1).</summary>
    internal sealed record Embedding(long NumEmbeddings, long EmbeddingDim, long? PaddingIdx = null) : LayerSpec
    {
        /// <summary>The padding row (non-negative, as PyTorch stores it) of each embedding module built from a spec.</summary>
        internal static readonly System.Runtime.CompilerServices.ConditionalWeakTable<nn.Module, object> PaddingRows = new();

        /// <inheritdoc/>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            if (NumEmbeddings <= 0 || EmbeddingDim <= 0)
                throw new ArgumentException($"Embedding needs positive sizes, found ({NumEmbeddings}, {EmbeddingDim}).", nameof(NumEmbeddings));
            if (PaddingIdx is { } p && (p < -NumEmbeddings || p >= NumEmbeddings))
                throw new ArgumentException($"Embedding({NumEmbeddings}, {EmbeddingDim}) needs padding_idx in [-{NumEmbeddings}, {NumEmbeddings}), found {p}.", nameof(PaddingIdx));
            return inputShape.Append(EmbeddingDim).ToArray();
        }

        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            OutputShape(inputShape);
            var padding = PaddingIdx is { } p ? (p < 0 ? p + NumEmbeddings : p) : (long?)null;
            var embedding = nn.Embedding(NumEmbeddings, EmbeddingDim, padding);
            // TorchSharp's module does not expose its padding index; PyTorch's repr prints it.
            if (padding is long row) PaddingRows.AddOrUpdate(embedding, row);
            if (generator is not null)
            {
                using var _ = no_grad();
                embedding.weight!.normal_(0, 1, generator);
                if (padding is long q) embedding.weight[q].zero_();
            }
            return embedding;
        }
    }
}
