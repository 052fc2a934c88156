using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Transforms;

/// <summary>Mirrors an image left to right with probability <see cref="Probability"/>, drawing from
/// the generator it was given, so that the same seed flips the same samples.</summary>
/// <remarks>Works on the last dimension (the width) of [..., H, W]. On a batch, each sample draws its
/// own coin (the same coin it would draw alone), and the flip is one call for the whole batch.</remarks>
sealed class RandomHorizontalFlip : Transform
{
    readonly Generator generator;

    /// <summary>Creates the transform drawing from <paramref name="generator"/> (a CPU generator).</summary>
    internal RandomHorizontalFlip(Generator generator, double p = 0.5)
    {
        ArgumentNullException.ThrowIfNull(generator);
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "A probability is between 0 and 1.");
        this.generator = generator;
        Probability = p;
    }

    /// <summary>Creates the transform with its own generator seeded with <paramref name="seed"/>.</summary>
    internal RandomHorizontalFlip(long seed, double p = 0.5) : this(Seeded(seed), p) { }

    internal static Generator Seeded(long seed)
    {
        Native.EnsureLoaded();
        return new Generator(unchecked((ulong)seed), CPU);
    }

    /// <summary>The probability that a sample is flipped.</summary>
    public double Probability { get; }

    /// <inheritdoc />
    public override bool IsBatched => true;

    internal static float[] Uniform(Generator generator, long count)
    {
        if (count == 0) return [];
        using var u = rand(count, ScalarType.Float32, CPU, false, generator);
        return u.data<float>().ToArray();
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.dim() < 2) throw new ArgumentException($"RandomHorizontalFlip takes an image [..., H, W], got shape {Shapes.Text(sample.shape)}.", nameof(sample));
        return Uniform(generator, 1)[0] < Probability ? sample.flip(-1) : sample.clone();
    }

    /// <inheritdoc />
    public override Tensor ApplyBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() < 3) throw new ArgumentException($"RandomHorizontalFlip.ApplyBatch takes images [N, ..., H, W], got shape {Shapes.Text(batch.shape)}.", nameof(batch));
        var n = batch.shape[0];
        var coins = Uniform(generator, n);
        var flip = new bool[n];
        for (int i = 0; i < n; i++) flip[i] = coins[i] < Probability;
        using var scope = NewDisposeScope();
        var shape = new long[batch.dim()];
        Array.Fill(shape, 1L);
        shape[0] = n;
        var mask = tensor(flip, device: batch.device).reshape(shape);
        return where(mask, batch.flip(-1), batch).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override string ToString() => $"RandomHorizontalFlip(p={Probability})";
}
