using Functional.Data;
using Functional.Transforms;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests.Data;

public class DataLoaderTests
{
    [Test]
    public void TheTutorialsBatchFromTheShippedSubset()
    {
        var subset = FashionMnist.FindShippedSubset();
        Assert.That(subset, Is.Not.Null, "the subset embedded in Functional.Core should be found");
        using var train = new FashionMnist(root: null, train: true, transform: Transform.ToTensor(), fallback: subset, searchSystem: false);
        Assert.That(train.Source, Is.EqualTo(new DataSource(DataSource.ShippedSubset, subset!)));
        Assert.That(train.Count, Is.EqualTo(10000));
        Assert.That(train.ToString(), Does.StartWith("Dataset FashionMNIST\n    Number of datapoints: 10000\n    Split: Train\n    Source: shipped subset"));

        var loader = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0);
        Assert.That((loader.BatchCount, loader.SampleCount), Is.EqualTo((157, 10000)));
        using var batch = loader.Peek();
        var (features, labels) = batch;
        Assert.That(features.shape, Is.EqualTo(new long[] { 64, 1, 28, 28 }));
        Assert.That(features.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(labels.shape, Is.EqualTo(new long[] { 64 }));
        Assert.That(labels.dtype, Is.EqualTo(ScalarType.Int64));

        // The batch-wise ToTensor gives what the per-sample path gives for the same indices.
        var again = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0).Peek();
        using (again)
        {
            // The same seed gives the same batch.
            using var equal = again.Features.eq(features);
            using var allEqual = equal.all();
            Assert.That(allEqual.item<bool>(), Is.True, "the same seed gives the same features");
            Assert.That(again.Labels.data<long>().ToArray(), Is.EqualTo(labels.data<long>().ToArray()));
            using var row = again.Features[0];
            using var rowLabel = again.Labels[0];
            var label = (int)rowLabel.item<long>();
            var first = -1;
            for (int i = 0; i < train.Count && first < 0; i++)
            {
                using var s = train[i];
                using var same = s.Features.eq(row).all();
                if (same.item<bool>() && s.ClassIndex == label) first = i;
            }
            Assert.That(first, Is.GreaterThanOrEqualTo(0), "the first sample of the batch is a sample of the dataset");
        }
    }

    [Test]
    public void TheTutorialsPerSampleTargetTransformWorksUnchanged()
    {
        // target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)):
        // written for one label, it runs on each label of a batch, as in PyTorch's Dataset.
        var oneHot = Transform.Lambda(y => zeros(10).scatter_(0, y, tensor(1f)));
        using var train = FashionMnist.Load(train: true, transform: Transform.ToTensor(), targetTransform: oneHot);
        using var batch = new DataLoader(train, batchSize: 64, shuffle: true, seed: 0).Peek();
        Assert.That(batch.Labels.shape, Is.EqualTo(new long[] { 64, 10 }));
        Assert.That(batch.Labels.dtype, Is.EqualTo(ScalarType.Float32));

        // The oracle: the class indices of the same batch (same seed), through the batched OneHot.
        using var raw = FashionMnist.Load(train: true);
        var indices = new DataLoader(raw, batchSize: 64, shuffle: true, seed: 0);
        using var rawBatch = indices.Peek();
        using var expected = Transform.OneHot(10).ApplyBatch(rawBatch.Labels);
        using (var equal = batch.Labels.eq(expected).all())
            Assert.That(equal.item<bool>(), Is.True, "each row is the one-hot vector of its label");
        // The same function given to the loader instead of the dataset: the same batch.
        using var mapped = new DataLoader(raw, batchSize: 64, shuffle: true, seed: 0).MapLabels(oneHot).Peek();
        using (var equal = mapped.Labels.eq(expected).all())
            Assert.That(equal.item<bool>(), Is.True, "MapLabels runs a per-sample Lambda on each label too");
        // And one sample, as the tutorial indexes it.
        using var sample = train[0];
        Assert.That(sample.Label.shape, Is.EqualTo(new long[] { 10 }));
        using var first = raw[0];
        Assert.That(sample.Label[first.ClassIndex].item<float>(), Is.EqualTo(1f));
        Assert.That(sample.Label.sum().item<float>(), Is.EqualTo(1f));
    }

    [Test]
    public void DropLastAndSampleCount()
    {
        Native.EnsureLoaded();
        using var x = zeros(10, 3);
        using var y = arange(10);
        using var data = new TensorDataset(x, y);
        var keep = new DataLoader(data, batchSize: 4);
        var drop = new DataLoader(data, batchSize: 4, dropLast: true);
        Assert.That((keep.BatchCount, keep.SampleCount), Is.EqualTo((3, 10)));
        Assert.That((drop.BatchCount, drop.SampleCount), Is.EqualTo((2, 8)));
        Assert.That(drop.Select(b => b.Count).ToArray(), Is.EqualTo(new[] { 4, 4 }));
        Assert.That(keep.Select(b => b.Count).ToArray(), Is.EqualTo(new[] { 4, 4, 2 }));
    }

    [Test]
    public void TheDatasetDoesNotDisposeTheCallersTensors()
    {
        Native.EnsureLoaded();
        using var x = ones(4, 2);
        using var y = arange(4);
        var data = new TensorDataset(x, y);
        data.Dispose();
        Assert.That(x.sum().item<float>(), Is.EqualTo(8f));
    }

    [Test]
    public void ArgumentsAreChecked()
    {
        Native.EnsureLoaded();
        using var x = zeros(3, 2);
        using var y = arange(4);
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset(x, y));
        Assert.That(e!.Message, Does.Contain("[3, 2]").And.Contain("[4]"));
        using var ok = new TensorDataset(x, x);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ok, batchSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ok, workers: -1));
    }
}
