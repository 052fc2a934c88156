using System.Diagnostics;
using Functional.Data;
using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Benchmarks;

/// <summary>
/// Loader throughput in samples per second, measured in one process with the contenders alternating,
/// several repetitions, medians and ratios:
///  1. Fashion-MNIST train, batch 64, shuffle, ToTensor: Functional's DataLoader (one gather and one
///     ToTensor per batch) against TorchSharp's torch.utils.data.DataLoader over a TorchSharp Dataset
///     (a sample at a time, ToTensor per sample, as a TorchSharp user writes it).
///  2. The CSV image-folder dataset (PNG files made from Fashion-MNIST) with 0, 1, 2 and 4 workers.
///  3. The same with a simulated training step per batch, where prefetching can overlap decoding.
/// --quick runs a small size with few repetitions, to check that everything works.
/// </summary>
public static class LoaderBenchmark
{
    public static int Run(string[] args)
    {
        var quick = args.Contains("--quick");
        var unknown = args.Where(a => a != "--quick").ToArray();
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"loader: unknown option(s) {string.Join(" ", unknown)}; usage: loader [--quick]");
            return 2;
        }
        var repetitions = quick ? 3 : 7;
        Console.WriteLine($"loader benchmark{(quick ? " (--quick: small sizes, few repetitions; not a measurement)" : "")}");
        Console.WriteLine($"OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "(unset)"}, torch threads {torch.get_num_threads()}, {Environment.ProcessorCount} cores");
        FashionMnistSection(quick, repetitions);
        ImageFolderSection(quick, repetitions);
        return 0;
    }

    static void FashionMnistSection(bool quick, int repetitions)
    {
        using var full = FashionMnist.Load(train: true);
        Console.WriteLine($"\n1. Fashion-MNIST train from {full.Source}: batch 64, shuffle, ToTensor");
        var n = quick ? Math.Min(4096, full.Count) : full.Count;
        using var images = full.Features.narrow(0, 0, n);
        using var labels = full.Labels.narrow(0, 0, n);
        using var ours = new TensorDataset(images, labels, Transform.ToTensor());
        using var theirs = new TorchSharpFashionMnist(images, labels);
        var oursLoader = new Functional.Data.DataLoader(ours, batchSize: 64, shuffle: true, seed: 1);
        using var theirsLoader = torch.utils.data.DataLoader(theirs, 64, shuffle: true, seed: 1, disposeDataset: false);
        var results = Alternate(repetitions,
            ("Functional DataLoader", () => EpochOurs(oursLoader)),
            ("TorchSharp DataLoader", () => EpochTheirs(theirsLoader, n)));
        Report(results, n, "TorchSharp DataLoader");
    }

    static void ImageFolderSection(bool quick, int repetitions)
    {
        var n = quick ? 512 : 6000;
        using var source = FashionMnist.Load(train: true);
        var folder = Path.Combine(Path.GetTempPath(), $"functional-loader-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            var lines = new List<string> { "file,label" };
            for (int i = 0; i < n; i++)
            {
                using var sample = source[i];
                var name = $"{i:D5}.png";
                ImageFile.WriteTensor(Path.Combine(folder, name), sample.Features);
                lines.Add($"{name},{sample.ClassIndex}");
            }
            File.WriteAllLines(Path.Combine(folder, "annotations.csv"), lines);
            var dataset = new ImageFolderCsvDataset(Path.Combine(folder, "annotations.csv"), folder, Transform.ToTensor());
            Console.WriteLine($"\n2. CSV image folder: {n} PNG files (28x28 gray) decoded with SkiaSharp, batch 64, shuffle, ToTensor");
            var contenders = new[] { 0, 1, 2, 4 }
                .Select(w => ($"{w} worker{(w == 1 ? "" : "s")}", (Func<double>)(() => EpochOurs(new Functional.Data.DataLoader(dataset, 64, true, seed: 1, workers: w)))))
                .ToArray();
            var results = Alternate(repetitions, contenders);
            Report(results, n, "0 workers");

            // What prefetching is for: batches decoded while the consumer is busy with a training step.
            var stepMs = quick ? 1.0 : 2.0;
            Console.WriteLine($"\n3. The same, with a simulated training step of {stepMs} ms per batch (busy wait on the consuming thread)");
            var withStep = new[] { 0, 1, 2 }
                .Select(w => ($"{w} worker{(w == 1 ? "" : "s")}", (Func<double>)(() => EpochOurs(new Functional.Data.DataLoader(dataset, 64, true, seed: 1, workers: w), stepMs))))
                .ToArray();
            Report(Alternate(repetitions, withStep), n, "0 workers");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs each contender once per repetition, in turn (after one warm-up round); returns seconds per epoch.</summary>
    static List<(string Name, List<double> Seconds)> Alternate(int repetitions, params (string Name, Func<double> Epoch)[] contenders)
    {
        foreach (var c in contenders) c.Epoch();
        var results = contenders.Select(c => (c.Name, new List<double>())).ToList();
        for (int r = 0; r < repetitions; r++)
            for (int i = 0; i < contenders.Length; i++)
                results[i].Item2.Add(contenders[i].Epoch());
        return results;
    }

    static void Report(List<(string Name, List<double> Seconds)> results, int samples, string baseline)
    {
        double Median(List<double> xs)
        {
            var s = xs.OrderBy(x => x).ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
        var reference = samples / Median(results.First(r => r.Name == baseline).Seconds);
        Console.WriteLine($"   {"loader",-24} {"median samples/s",18} {"min..max s/epoch",20} {"ratio",8}");
        foreach (var (name, seconds) in results)
        {
            var rate = samples / Median(seconds);
            Console.WriteLine($"   {name,-24} {rate,18:N0} {$"{seconds.Min():F3}..{seconds.Max():F3}",20} {rate / reference,7:F2}x");
        }
        Console.WriteLine($"   (ratio: samples/s relative to {baseline}; {results[0].Seconds.Count} repetitions each, alternating)");
    }

    static double EpochOurs(IDataLoader loader, double stepMs = 0)
    {
        var watch = Stopwatch.StartNew();
        long seen = 0;
        foreach (var batch in loader)
        {
            seen += batch.Count;
            if (stepMs > 0)
            {
                var until = Stopwatch.GetTimestamp() + (long)(stepMs * Stopwatch.Frequency / 1000);
                while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
            }
        }
        watch.Stop();
        if (seen != loader.SampleCount) throw new InvalidOperationException($"the epoch gave {seen} samples, expected {loader.SampleCount}");
        return watch.Elapsed.TotalSeconds;
    }

    static double EpochTheirs(TorchSharp.Modules.DataLoader loader, long samples)
    {
        var watch = Stopwatch.StartNew();
        long seen = 0;
        foreach (var batch in loader) seen += batch["label"].shape[0];
        watch.Stop();
        if (seen != samples) throw new InvalidOperationException($"the epoch gave {seen} samples, expected {samples}");
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Fashion-MNIST as a TorchSharp user writes it: one sample at a time, ToTensor per sample.</summary>
    sealed class TorchSharpFashionMnist(Tensor images, Tensor labels) : torch.utils.data.Dataset
    {
        // Read once, as Functional's TensorDataset does: Tensor.shape is a native call that allocates.
        readonly long count = images.shape[0];

        public override long Count => count;

        public override Dictionary<string, Tensor> GetTensor(long index)
        {
            using var image = images[index];
            return new Dictionary<string, Tensor>
            {
                ["data"] = image.to_type(ScalarType.Float32).div_(255.0f),
                ["label"] = labels[index],
            };
        }
    }
}
