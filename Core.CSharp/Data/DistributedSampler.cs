using Functional.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>
/// Each rank's share of a dataset in a data-parallel run, as PyTorch's <c>DistributedSampler</c> deals it:
/// every epoch, one order of all samples, the same on every rank (a permutation drawn from a generator
/// seeded with <c>seed + epoch</c>, or the dataset's order without shuffling); rank <c>r</c> of <c>W</c> takes
/// the samples at positions <c>r, r + W, r + 2W, …</c> of it. The shards are disjoint and together cover the
/// dataset.
/// </summary>
/// <remarks>
/// <para>Every rank gets the same number of samples, <see cref="SamplesPerRank"/>, so that every rank runs the
/// same number of steps (a rank with one batch more would wait for the others' gradients forever). When the
/// dataset does not divide by the number of ranks: without <c>dropLast</c> (the default) the order is
/// padded by repeating its first samples, <c>W·⌈N/W⌉ − N</c> of them, so a few samples are seen twice per
/// epoch (their gradients, and test figures, count twice); with <c>dropLast</c> its last
/// <c>N mod W</c> samples are left out, each epoch others when shuffling. That is PyTorch's rule.</para>
/// <para>Give it to a <see cref="DataLoader"/> (<c>sampler:</c>); the loader then batches this rank's shard in the
/// sampler's order. A <see cref="Trainer"/> sets <see cref="Epoch"/> at the start of each epoch (PyTorch's
/// <c>sampler.set_epoch(epoch)</c>, 0-based), so a resumed run sees the epochs it would have seen; in a loop of
/// your own, set it yourself, or every epoch has the same order.</para>
/// </remarks>
/// <example><code>
/// var sampler = new DistributedSampler(train.Count, sync, seed: 0);
/// var loader = new DataLoader(train, batchSize: 32, sampler: sampler).Map(Transform.ToTensor());
/// </code></example>
public sealed class DistributedSampler
{
    /// <summary>The share of rank <see cref="GradientSync.Rank"/> of <paramref name="sync"/>.</summary>
    /// <param name="count">The number of samples in the dataset (the same on every rank).</param>
    /// <param name="sync">The ranks (<see cref="GradientSync.Mpi"/>; <see cref="GradientSync.None"/> gives one shard of everything).</param>
    /// <param name="shuffle">Whether each epoch is a new permutation (seeded with <c>seed + epoch</c>).</param>
    /// <param name="seed">The shuffling seed, the same on every rank; null draws one on rank 0 and broadcasts it,
    /// which is a collective: every rank then makes its sampler at the same point of the program.</param>
    /// <param name="dropLast">Leave out the last <c>count mod ranks</c> samples of each epoch's order instead of
    /// padding it with repeated ones.</param>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative.</exception>
    public DistributedSampler(int count, GradientSync sync, bool shuffle = true, long? seed = null, bool dropLast = false)
        : this(count, (sync ?? throw new ArgumentNullException(nameof(sync))).WorldSize, sync.Rank, shuffle,
               seed ?? (shuffle ? AgreedSeed(sync) : 0), dropLast) { }

    /// <summary>Rank <paramref name="rank"/>'s share of <paramref name="worldSize"/> (tests, and backends without a sync).</summary>
    internal DistributedSampler(int count, int worldSize, int rank, bool shuffle, long seed, bool dropLast)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "A dataset has 0 or more samples.");
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "There is 1 rank or more.");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"A rank of 0 to {worldSize - 1}.");
        Count = count; WorldSize = worldSize; Rank = rank; Shuffle = shuffle; Seed = seed; DropLast = dropLast;
        // PyTorch: num_samples = ceil((N - W) / W) = floor(N / W) with drop_last when W does not divide N, else ceil(N / W).
        SamplesPerRank = dropLast ? count / worldSize : (int)(((long)count + worldSize - 1) / worldSize);
    }

    /// <summary>A seed drawn on rank 0 and broadcast, so that every rank shuffles alike.</summary>
    static long AgreedSeed(GradientSync sync)
    {
        Native.EnsureLoaded();
        using var seed = torch.tensor(new[] { sync.IsMain ? Random.Shared.NextInt64(0, long.MaxValue / 2) : 0L });
        sync.Broadcast(seed);
        return seed.ToInt64();
    }

    /// <summary>The number of samples in the dataset.</summary>
    internal int Count { get; }

    /// <summary>The number of ranks sharing it.</summary>
    internal int WorldSize { get; }

    /// <summary>This rank (0-based).</summary>
    internal int Rank { get; }

    /// <summary>Whether each epoch is a new permutation.</summary>
    internal bool Shuffle { get; }

    /// <summary>The shuffling seed (the same on every rank); epoch <c>e</c>'s permutation is drawn from a generator seeded with <c>Seed + e</c>.</summary>
    public long Seed { get; }

    /// <summary>Whether the tail that does not divide by the ranks is left out (true) or the order padded with repeats (false).</summary>
    internal bool DropLast { get; }

    /// <summary>Samples each rank gets per epoch (PyTorch's <c>num_samples</c>): ⌈N/W⌉, or ⌊N/W⌋ with <c>dropLast</c>.</summary>
    public int SamplesPerRank { get; }

    /// <summary>Samples per epoch over all ranks (<see cref="SamplesPerRank"/> · <see cref="WorldSize"/>), repeats included.</summary>
    internal int TotalSize => SamplesPerRank * WorldSize;

    /// <summary>The epoch whose order the loader visits (0-based, PyTorch's <c>set_epoch</c>); a trainer sets it.</summary>
    public int Epoch
    {
        get => epoch;
        set => epoch = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "An epoch is 0 or more.");
    }
    int epoch;

    /// <summary>This rank's sample indices for <see cref="Epoch"/>, in the order they are visited.</summary>
    internal int[] Indices()
    {
        var order = new int[Math.Max(Count, 0)];
        if (Shuffle && Count > 0)
        {
            Native.EnsureLoaded();
            using var generator = new Generator(unchecked((ulong)(Seed + Epoch)), CPU);
            using var permutation = randperm(Count, ScalarType.Int64, CPU, false, generator);
            var values = permutation.data<long>().ToArray();
            for (int i = 0; i < Count; i++) order[i] = (int)values[i];
        }
        else
        {
            for (int i = 0; i < Count; i++) order[i] = i;
        }
        var shard = new int[SamplesPerRank];
        // Position p of the padded (or cut) order: the order repeated from its start when p runs past its end.
        for (int k = 0; k < shard.Length; k++)
        {
            int p = Rank + k * WorldSize;
            shard[k] = order[p % Count];
        }
        return shard;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"DistributedSampler(rank {Rank} of {WorldSize}: {SamplesPerRank} of {Count} samples per epoch, {(Shuffle ? $"shuffled with seed {Seed} + epoch" : "in order")}, {(DropLast ? "tail dropped" : "padded with repeats")})";
}
