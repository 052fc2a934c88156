using Functional.Data;
using Functional.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests.Data;

/// <summary>PyTorch's DistributedSampler rule, rank by rank without MPI (the rank and world size given), and the loader
/// that batches a rank's share.</summary>
public class DistributedSamplerTests
{
    [SetUp]
    public void Load() => Native.EnsureLoaded();

    static int[][] Shards(int count, int ranks, bool shuffle, long seed, int epoch, bool dropLast) =>
        Enumerable.Range(0, ranks).Select(r => new DistributedSampler(count, ranks, r, shuffle, seed, dropLast) { Epoch = epoch }.Indices()).ToArray();

    /// <summary>What PyTorch 2's DistributedSampler gives for 10 samples on 3 ranks without shuffling (worked by hand from
    /// its code: pad to 12 with the first 2, or cut to 9, then indices[rank::3]).</summary>
    [Test]
    public void TenSamplesOnThreeRanksArePaddedWithTheFirstOrCutAsPyTorchDoes()
    {
        Assert.That(Shards(10, 3, false, 0, 0, dropLast: false), Is.EqualTo(new[] { new[] { 0, 3, 6, 9 }, new[] { 1, 4, 7, 0 }, new[] { 2, 5, 8, 1 } }));
        Assert.That(Shards(10, 3, false, 0, 0, dropLast: true), Is.EqualTo(new[] { new[] { 0, 3, 6 }, new[] { 1, 4, 7 }, new[] { 2, 5, 8 } }));
        var sampler = new DistributedSampler(10, 3, 1, shuffle: false, seed: 0, dropLast: false);
        Assert.That((sampler.SamplesPerRank, sampler.TotalSize), Is.EqualTo((4, 12)));
        // Fewer samples than ranks: every rank still gets one (repeats), or none with dropLast.
        Assert.That(Shards(2, 5, false, 0, 0, dropLast: false), Is.EqualTo(new[] { new[] { 0 }, new[] { 1 }, new[] { 0 }, new[] { 1 }, new[] { 0 } }));
        Assert.That(Shards(2, 5, false, 0, 0, dropLast: true).Select(s => s.Length), Is.All.EqualTo(0));
    }

    [TestCase(640, 2, false)]
    [TestCase(1001, 4, false)]
    [TestCase(1001, 4, true)]
    [TestCase(7, 3, false)]
    [TestCase(60000, 3, false)]
    public void ShardsAreEqualInSizeDisjointUpToThePaddingAndCoverTheEpochsPermutation(int count, int ranks, bool dropLast)
    {
        const long seed = 42;
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var shards = Shards(count, ranks, true, seed, epoch, dropLast);
            int perRank = dropLast ? count / ranks : (count + ranks - 1) / ranks;
            Assert.That(shards.Select(s => s.Length), Is.All.EqualTo(perRank), "every rank runs as many steps");
            // The permutation of epoch e is randperm(count) from a generator seeded with seed + e, dealt round-robin.
            using var generator = new Generator((ulong)(seed + epoch));
            using var permutation = randperm(count, ScalarType.Int64, CPU, false, generator);
            var order = permutation.data<long>().Select(v => (int)v).ToArray();
            var dealt = Enumerable.Range(0, perRank * ranks).Select(p => shards[p % ranks][p / ranks]).ToArray();
            var expected = Enumerable.Range(0, perRank * ranks).Select(p => order[p % count]).ToArray();
            Assert.That(dealt, Is.EqualTo(expected), $"epoch {epoch}: rank r takes positions r, r + W, ... of the padded or cut order");
            var distinct = shards.SelectMany(s => s).Distinct().Count();
            Assert.That(distinct, Is.EqualTo(dropLast ? perRank * ranks : count), "disjoint shards covering the dataset (or all but the cut tail)");
        }
        var first = Shards(count, ranks, true, seed, 0, dropLast);
        var second = Shards(count, ranks, true, seed, 1, dropLast);
        Assert.That(second, Is.Not.EqualTo(first), "each epoch its own order");
        Assert.That(Shards(count, ranks, true, seed, 1, dropLast), Is.EqualTo(second), "the same seed and epoch, the same order");
    }

    [Test]
    public void TheLoaderBatchesTheRanksShareInTheSamplersOrder()
    {
        using var features = arange(0, 103, dtype: ScalarType.Float32).reshape(103, 1);
        using var labels = arange(0, 103, dtype: ScalarType.Int64);
        var dataset = new TensorDataset(features, labels);
        var sampler = new DistributedSampler(103, 2, 1, shuffle: true, seed: 5, dropLast: false) { Epoch = 3 };
        var loader = new DataLoader(dataset, batchSize: 10, sampler: sampler);
        Assert.That(loader.Sampler, Is.SameAs(sampler));
        Assert.That((loader.SampleCount, loader.BatchCount), Is.EqualTo((52, 6)));
        Assert.That(loader.ShuffleGenerator, Is.Null, "the sampler is seeded per epoch: no generator state to checkpoint");
        var seen = new List<int>();
        foreach (var batch in loader) seen.AddRange(batch.Labels.data<long>().Select(v => (int)v));
        Assert.That(seen, Is.EqualTo(sampler.Indices()));
        // A mapped loader shares the sampler (the trainer sets its epoch through either).
        Assert.That(loader.Map(Functional.Transforms.Transform.Lambda(x => x, batched: true)).Sampler, Is.SameAs(sampler));

        var shuffling = Assert.Throws<ArgumentException>(() => new DataLoader(dataset, batchSize: 10, shuffle: true, sampler: sampler))!;
        Assert.That(shuffling.Message, Does.StartWith("The sampler decides the order"));
        var otherSize = Assert.Throws<ArgumentException>(() => new DataLoader(dataset, batchSize: 10, sampler: new DistributedSampler(100, 2, 0, true, 0, false)))!;
        Assert.That(otherSize.Message, Does.StartWith("The sampler deals 100 samples, the dataset has 103"));
    }

    [Test]
    public void OnOneProcessTheSamplerDealsEverythingAndTheSeedIsKeptOrDrawn()
    {
        var all = new DistributedSampler(50, GradientSync.None, shuffle: true, seed: 9);
        Assert.That((all.Rank, all.WorldSize, all.SamplesPerRank, all.Seed), Is.EqualTo((0, 1, 50, 9L)));
        Assert.That(all.Indices().Order(), Is.EqualTo(Enumerable.Range(0, 50)));
        var drawn = new DistributedSampler(50, GradientSync.None);
        Assert.That(drawn.Seed, Is.GreaterThanOrEqualTo(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => all.Epoch = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DistributedSampler(-1, GradientSync.None));
    }
}
