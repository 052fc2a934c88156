using System.Diagnostics;
using Functional.Data;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Benchmarks;

/// <summary>
/// The main job's epoch against the same epoch written directly on TorchSharp the way the tutorial
/// writes it, in one process, alternating, on the same in-memory data and the same batches (both
/// shuffle with randperm from a generator seeded alike). Reports medians of train and test time per
/// epoch, their ratios (ours / raw: 1.0 means no overhead), the ratio to the GEMM floor (the step's
/// matrix products alone, timed in the same rounds), the loaders' throughput alone, the peak resident
/// set during each (the kernel's high-water mark), and the live tensor count after each of our epochs.
/// </summary>
static class TrainingBenchmark
{
    /// <summary>The tutorial's model, written as the tutorial writes it (PyTorch's NeuralNetwork class).</summary>
    sealed class RawNeuralNetwork : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> flatten = nn.Flatten();
        readonly nn.Module<Tensor, Tensor> linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10));

        public RawNeuralNetwork() : base("NeuralNetwork") => RegisterComponents();

        public override Tensor forward(Tensor x) => linear_relu_stack.forward(flatten.forward(x));
    }

    /// <summary>The tutorial's train_loop on in-memory tensors: randperm batches, ToTensor (/255), step.</summary>
    static void RawTrainLoop(Tensor images, Tensor labels, int batchSize, Generator generator,
        nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor, Tensor> lossFn, optim.Optimizer optimizer)
    {
        long size = images.shape[0];
        model.train();
        using var permutation = randperm(size, ScalarType.Int64, CPU, false, generator);
        for (long start = 0, batch = 0; start < size; start += batchSize, batch++)
        {
            using var scope = NewDisposeScope();
            var index = permutation.narrow(0, start, Math.Min(batchSize, size - start));
            var X = images.index_select(0, index).to(ScalarType.Float32).div_(255f);
            var y = labels.index_select(0, index);
            var pred = model.forward(X);
            var loss = lossFn.forward(pred, y);
            loss.backward();
            optimizer.step();
            optimizer.zero_grad();
            if (batch % 100 == 0) { var _ = loss.item<float>(); }
        }
    }

    /// <summary>The tutorial's test_loop on in-memory tensors.</summary>
    static (double Loss, double Accuracy) RawTestLoop(Tensor images, Tensor labels, int batchSize,
        nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor, Tensor> lossFn)
    {
        long size = images.shape[0];
        model.eval();
        double testLoss = 0, correct = 0;
        int batches = 0;
        using (no_grad())
        {
            for (long start = 0; start < size; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long n = Math.Min(batchSize, size - start);
                var X = images.narrow(0, start, n).to(ScalarType.Float32).div_(255f);
                var y = labels.narrow(0, start, n);
                var pred = model.forward(X);
                testLoss += lossFn.forward(pred, y).item<float>();
                correct += pred.argmax(1).eq(y).to(ScalarType.Float32).sum().item<float>();
                batches++;
            }
        }
        return (testLoss / batches, correct / size);
    }

    /// <summary>
    /// The GEMM floor of one training epoch: the 8 matrix products a step of the tutorial's network cannot
    /// avoid (3 forward, 2 for the input gradients of layers 2 and 3, 3 for the weight gradients), for every
    /// batch of the epoch, into preallocated outputs (<c>out.addmm_(a, b, beta: 0)</c>). Nothing else: no activation, loss, update or data.
    /// </summary>
    static void GemmFloorEpoch(long samples, int batchSize, Tensor w1, Tensor w2, Tensor w3, GemmBuffers[] buffers)
    {
        using var noGrad = no_grad();
        using var w1T = w1.t(); using var w2T = w2.t(); using var w3T = w3.t();
        for (long start = 0; start < samples; start += batchSize)
        {
            var b = buffers[Math.Min(batchSize, samples - start) == batchSize ? 0 : 1];
            b.H1.addmm_(b.X, w1T, 0, 1);          // [n, 784] x [784, 512]
            b.H2.addmm_(b.H1, w2T, 0, 1);         // [n, 512] x [512, 512]
            b.Out.addmm_(b.H2, w3T, 0, 1);        // [n, 512] x [512, 10]
            b.GW3.addmm_(b.OutT, b.H2, 0, 1);     // [10, n] x [n, 512]
            b.G2.addmm_(b.Out, w3, 0, 1);         // [n, 10] x [10, 512]
            b.GW2.addmm_(b.G2T, b.H1, 0, 1);      // [512, n] x [n, 512]
            b.G1.addmm_(b.G2, w2, 0, 1);          // [n, 512] x [512, 512]
            b.GW1.addmm_(b.G1T, b.X, 0, 1);       // [512, n] x [n, 784]
        }
    }

    /// <summary>Preallocated operands and outputs of <see cref="GemmFloorEpoch"/> for one batch size
    /// (with the transposed views it reads, made once).</summary>
    sealed record GemmBuffers(Tensor X, Tensor H1, Tensor H2, Tensor Out, Tensor G2, Tensor G1, Tensor GW1, Tensor GW2, Tensor GW3)
    {
        public Tensor OutT { get; } = Out.t();
        public Tensor G2T { get; } = G2.t();
        public Tensor G1T { get; } = G1.t();

        public static GemmBuffers For(long n) => new(
            rand(n, 784), empty(n, 512), empty(n, 512), empty(n, 10), empty(n, 512), empty(n, 512),
            empty(512, 784), empty(512, 512), empty(10, 512));
    }

    /// <summary>Samples per second through our loader (shuffled batches, ToTensor), with nothing else.</summary>
    static double OurLoaderSamplesPerSecond(IDataLoader loader)
    {
        var clock = Stopwatch.StartNew();
        long samples = 0;
        foreach (var batch in loader) { samples += batch.Count; batch.Dispose(); }
        return samples / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Samples per second through the tutorial's batches on raw TorchSharp (randperm, index_select, /255).</summary>
    static double RawLoaderSamplesPerSecond(Tensor images, Tensor labels, int batchSize, Generator generator)
    {
        var clock = Stopwatch.StartNew();
        long size = images.shape[0];
        using var permutation = randperm(size, ScalarType.Int64, CPU, false, generator);
        for (long start = 0; start < size; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var index = permutation.narrow(0, start, Math.Min(batchSize, size - start));
            var X = images.index_select(0, index).to(ScalarType.Float32).div_(255f);
            var y = labels.index_select(0, index);
        }
        return size / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The process's peak resident set during a stretch of the run, from the kernel's own high-water mark
    /// (<c>VmHWM</c> in /proc/self/status, reset by writing 5 to /proc/self/clear_refs): exact, and with no
    /// sampling thread to take a core from the two the measured loops use. Linux only; elsewhere it reports nothing.
    /// </summary>
    sealed class PeakResident
    {
        public PeakResident()
        {
            try { File.WriteAllText("/proc/self/clear_refs", "5"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            Start = Read("VmRSS");
        }

        public long? Start { get; }

        public long? Peak => Read("VmHWM");

        public long? Growth => Peak - Start is long g ? Math.Max(0, g) : null;

        static long? Read(string field)
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith(field + ":", StringComparison.Ordinal))
                        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
            return null;
        }
    }

    static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>The processor's model name (from /proc/cpuinfo on Linux), for the figures to name their machine.</summary>
    static string Processor()
    {
        const string path = "/proc/cpuinfo";
        var line = File.Exists(path) ? File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return line is null ? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
    }

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int epochs = quick ? 1 : 5;
        int Option(string name, int fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        }
        epochs = Option("--epochs", epochs);
        bool autograd = args.Contains("--autograd");   // ours on the autograd step (the trainer's path for what the fused step does not cover)
        int layoutAt = Array.IndexOf(args, "--layout");   // the fused step's layout: rows or features (default: the machine's)
        var layout = layoutAt < 0 || layoutAt + 1 >= args.Length ? FusedLayout.Auto
            : args[layoutAt + 1] switch { "rows" => FusedLayout.RowMajor, "features" => FusedLayout.FeatureMajor, var other => throw new ArgumentException($"--layout {other}: expected rows or features") };
        const int batchSize = 64;
        const long seed = 0;

        var train = FashionMnist.Load(train: true);
        var test = FashionMnist.Load(train: false);
        var trainImages = train.Features; var trainLabels = train.Labels;
        var testImages = test.Features; var testLabels = test.Labels;
        if (quick)
        {
            trainImages = trainImages.narrow(0, 0, Math.Min(6400, trainImages.shape[0]));
            trainLabels = trainLabels.narrow(0, 0, trainImages.shape[0]);
            testImages = testImages.narrow(0, 0, Math.Min(1000, testImages.shape[0]));
            testLabels = testLabels.narrow(0, 0, testImages.shape[0]);
        }
        Console.WriteLine($"Training benchmark: {trainImages.shape[0]} train / {testImages.shape[0]} test images ({train.Source}), batch {batchSize}, SGD 1e-3, {epochs} epoch(s) each, alternating; torch threads {get_num_threads()}");

        // Ours: the library's loader, ToTensor, the tutorial's network as Functional builds it, our SGD, Trainer.
        manual_seed(seed);
        var ourModel = new NeuralNetwork();
        var ourOptimizer = new Functional.Optim.Optimizer(Optimizers.Sgd(1e-3), ourModel);
        var trainer = new Trainer(ourModel, Losses.CrossEntropy(), ourOptimizer, new TrainerOptions { Device = Devices.Cpu, Progress = false, Fused = autograd ? false : null, FusedLayout = layout });
        Console.WriteLine($"ours: {trainer.StepPath}");
        Console.WriteLine($"processor: {Processor()}, {Environment.ProcessorCount} logical CPUs");
        var ourTrain = new DataLoader(new TensorDataset(trainImages, trainLabels), batchSize, shuffle: true, seed: seed).Map(Functional.Transforms.Transform.ToTensor());
        var ourTest = new DataLoader(new TensorDataset(testImages, testLabels), batchSize).Map(Functional.Transforms.Transform.ToTensor());

        // Raw: the tutorial on TorchSharp.
        manual_seed(seed);
        var rawModel = new RawNeuralNetwork();
        var rawOptimizer = optim.SGD(rawModel.parameters(), 1e-3);
        var rawLoss = nn.CrossEntropyLoss();
        var rawGenerator = new Generator((ulong)seed, CPU);

        // The GEMM floor: the same weights' shapes, random operands, preallocated outputs.
        long trainSamples = trainImages.shape[0];
        using var fw1 = rand(512, 784); using var fw2 = rand(512, 512); using var fw3 = rand(10, 512);
        var floorBuffers = new[] { GemmBuffers.For(batchSize), GemmBuffers.For(Math.Max(1, trainSamples % batchSize)) };

        var times = new Dictionary<string, List<double>> { ["ours train"] = new(), ["raw train"] = new(), ["ours test"] = new(), ["raw test"] = new(), ["floor"] = new() };
        var liveAfterEpoch = new List<long>();
        long oursPeak = 0, rawPeak = 0, oursGrowth = 0, rawGrowth = 0;
        const int testRepeats = 3;
        void NotePeak(bool ours, PeakResident peak)
        {
            if (ours) { oursPeak = Math.Max(oursPeak, peak.Peak ?? 0); oursGrowth = Math.Max(oursGrowth, peak.Growth ?? 0); }
            else { rawPeak = Math.Max(rawPeak, peak.Peak ?? 0); rawGrowth = Math.Max(rawGrowth, peak.Growth ?? 0); }
        }
        for (int epoch = 0; epoch < epochs + 1; epoch++)   // the first round warms up and is not counted
        {
            // Train epochs. The floor runs next to ours in every round (just before it, or just after it), so that
            // their ratio sees one machine speed; raw runs on ours' other side, and the order flips each round.
            bool oursFirst = epoch % 2 == 0;
            foreach (var who in oursFirst ? new[] { "floor", "ours", "raw" } : new[] { "raw", "ours", "floor" })
            {
                GC.Collect();
                var peak = new PeakResident();
                var clock = Stopwatch.StartNew();
                if (who == "floor") GemmFloorEpoch(trainSamples, batchSize, fw1, fw2, fw3, floorBuffers);
                else if (who == "ours") trainer.Fit(ourTrain, null, 1);
                else RawTrainLoop(trainImages, trainLabels, batchSize, rawGenerator, rawModel, rawLoss, rawOptimizer);
                double seconds = clock.Elapsed.TotalSeconds;
                if (epoch == 0) continue;
                times[who == "floor" ? "floor" : who + " train"].Add(seconds);
                if (who == "floor") continue;
                NotePeak(who == "ours", peak);
                if (who == "ours") liveAfterEpoch.Add(Tensor.TotalCount);
            }
            // Test passes: short (about 0.2 s), so each round alternates them several times and keeps the medians.
            var tests = new Dictionary<bool, List<double>> { [true] = new(), [false] = new() };
            for (int k = 0; k < testRepeats; k++)
                foreach (var ours in oursFirst ? new[] { true, false } : new[] { false, true })
                {
                    GC.Collect();
                    var peak = new PeakResident();
                    var clock = Stopwatch.StartNew();
                    if (ours) trainer.Evaluate(ourTest); else RawTestLoop(testImages, testLabels, batchSize, rawModel, rawLoss);
                    tests[ours].Add(clock.Elapsed.TotalSeconds);
                    if (epoch > 0) NotePeak(ours, peak);
                }
            if (epoch == 0) continue;
            times["ours test"].Add(Median(tests[true]));
            times["raw test"].Add(Median(tests[false]));
        }
        // Loader throughput, alone: our loader (shuffle, gather, ToTensor) and the same batches on raw TorchSharp.
        var loaderRates = new List<(double Ours, double Raw)>();
        for (int round = 0; round < 3; round++)
            loaderRates.Add((OurLoaderSamplesPerSecond(ourTrain), RawLoaderSamplesPerSecond(trainImages, trainLabels, batchSize, rawGenerator)));
        double oursTrain = Median(times["ours train"]), rawTrain = Median(times["raw train"]);
        double oursTest = Median(times["ours test"]), rawTest = Median(times["raw test"]);
        // Each round runs both back to back, so the ratio within a round is robust to the machine's speed drifting.
        double PairedRatio(string what) => Median(times["ours " + what].Zip(times["raw " + what], (o, r) => o / r).ToList());
        Console.WriteLine($"train epoch  median: ours {oursTrain:F3} s, raw {rawTrain:F3} s, ratio {oursTrain / rawTrain:F3} (median of per-round ratios {PairedRatio("train"):F3})");
        Console.WriteLine($"test pass    median: ours {oursTest:F3} s, raw {rawTest:F3} s, ratio {oursTest / rawTest:F3} (median of per-round ratios {PairedRatio("test"):F3})");
        Console.WriteLine($"peak resident set of the process during epochs and test passes (VmHWM): ours {oursPeak / 1e6:F0} MB, raw {rawPeak / 1e6:F0} MB");
        Console.WriteLine($"largest growth of the resident set within one: ours {oursGrowth / 1e6:F1} MB, raw {rawGrowth / 1e6:F1} MB");
        double floor = Median(times["floor"]);
        double FloorRatio() => Median(times["ours train"].Zip(times["floor"], (o, f) => o / f).ToList());
        Console.WriteLine($"GEMM floor   median: {floor:F3} s per epoch (the step's 8 matrix products alone); ours/floor {oursTrain / floor:F3} (median of per-round ratios {FloorRatio():F3}), raw/floor {rawTrain / floor:F3}");
        double oursRate = Median(loaderRates.Select(r => r.Ours).ToList()), rawRate = Median(loaderRates.Select(r => r.Raw).ToList());
        Console.WriteLine($"loader alone median: ours {oursRate:F0} samples/s, raw {rawRate:F0} samples/s, ratio ours/raw {oursRate / rawRate:F3}");
        Console.WriteLine($"live tensors after each of our epochs: {string.Join(", ", liveAfterEpoch)}; after the run: {Tensor.TotalCount}");
        Console.WriteLine($"ratios: train ours/raw {PairedRatio("train"):F3}, test ours/raw {PairedRatio("test"):F3}, train ours/GEMM floor {FloorRatio():F3}, loader ours/raw {oursRate / rawRate:F3}");
        return 0;
    }
}
