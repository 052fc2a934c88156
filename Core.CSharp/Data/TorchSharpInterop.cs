using System.Collections;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A TorchSharp <c>torch.utils.data.Dataset</c> (samples as name → tensor dictionaries) seen as
/// this library's dataset of (features, label) samples: <see cref="DataLoader.FromTorchSharp(utils.data.Dataset, string, string, int, bool, long?)"/>.</summary>
sealed class TorchSharpDataset(utils.data.Dataset dataset, string features, string labels) : IDataset<Sample>
{
    public int Count { get; } = checked((int)dataset.Count);

    public Sample this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The dataset has {Count} samples.");
            var item = dataset.GetTensor(index);
            var x = Take(item, features, index);
            var y = Take(item, labels, index);
            foreach (var (key, value) in item)
                if (key != features && key != labels) value.Dispose();
            return new Sample(x, y);
        }
    }

    static Tensor Take(Dictionary<string, Tensor> item, string key, int index) =>
        item.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException(
            $"Sample {index} of the TorchSharp dataset has no tensor named '{key}' (it has {string.Join(", ", item.Keys.Select(k => $"'{k}'"))}); pass the names of its features and labels.");
}

/// <summary>A TorchSharp <c>torch.utils.data.DataLoader</c> (batches as name → tensor dictionaries) seen as a
/// loader of this library's batches: <see cref="DataLoader.FromTorchSharp(TorchSharp.Modules.DataLoader, string, string)"/>.
/// TorchSharp's loader owns and disposes its batches; its shuffling generator is its own, so a training
/// checkpoint cannot save it (a resumed run sees other batch orders).</summary>
sealed class TorchSharpLoader(TorchSharp.Modules.DataLoader loader, string features, string labels) : IDataLoader
{
    public int BatchCount { get; } = checked((int)loader.Count);

    public int SampleCount { get; } = loader.drop_last
        ? checked((int)(loader.dataset.Count / loader.batch_size * loader.batch_size))
        : checked((int)loader.dataset.Count);

    public int BatchSize => loader.batch_size;

    public Device Device => loader.Device;

    public Generator? ShuffleGenerator => null;

    public IEnumerator<Batch> GetEnumerator()
    {
        int index = 0;
        foreach (var batch in loader)
        {
            if (!batch.TryGetValue(features, out var x) || !batch.TryGetValue(labels, out var y))
                throw new KeyNotFoundException(
                    $"Batch {index} of the TorchSharp loader has no tensors named '{features}' and '{labels}' (it has {string.Join(", ", batch.Keys.Select(k => $"'{k}'"))}); pass the names of its features and labels.");
            yield return new Batch(x, y);
            index++;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"TorchSharp DataLoader (batch size {BatchSize}, {BatchCount} batches)";
}
