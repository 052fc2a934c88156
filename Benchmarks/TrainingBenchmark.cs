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
/// epoch, their ratios (ours / raw: 1.0 means no overhead), and the peak working set during each.
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

    sealed class PeakSampler : IDisposable
    {
        readonly Thread thread;
        volatile bool running = true;
        long peak;

        public PeakSampler()
        {
            using (var self = Process.GetCurrentProcess()) Start = self.WorkingSet64;
            thread = new Thread(() =>
            {
                using var self = Process.GetCurrentProcess();
                while (running)
                {
                    self.Refresh();
                    peak = Math.Max(peak, self.WorkingSet64);
                    Thread.Sleep(5);
                }
            }) { IsBackground = true };
            thread.Start();
        }

        public long Start { get; }

        public long Peak => peak;

        public long Growth => Math.Max(0, peak - Start);

        public void Dispose() { running = false; thread.Join(); }
    }

    static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
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
        var trainer = new Trainer(ourModel, Losses.CrossEntropy(), ourOptimizer, new TrainerOptions { Device = Devices.Cpu, Progress = false });
        var ourTrain = new DataLoader(new TensorDataset(trainImages, trainLabels), batchSize, shuffle: true, seed: seed).Map(Functional.Transforms.Transform.ToTensor());
        var ourTest = new DataLoader(new TensorDataset(testImages, testLabels), batchSize).Map(Functional.Transforms.Transform.ToTensor());

        // Raw: the tutorial on TorchSharp.
        manual_seed(seed);
        var rawModel = new RawNeuralNetwork();
        var rawOptimizer = optim.SGD(rawModel.parameters(), 1e-3);
        var rawLoss = nn.CrossEntropyLoss();
        var rawGenerator = new Generator((ulong)seed, CPU);

        var times = new Dictionary<string, List<double>> { ["ours train"] = new(), ["raw train"] = new(), ["ours test"] = new(), ["raw test"] = new() };
        long oursPeak = 0, rawPeak = 0, oursGrowth = 0, rawGrowth = 0;
        for (int epoch = 0; epoch < epochs + 1; epoch++)   // the first round warms up and is not counted
        {
            bool oursFirst = epoch % 2 == 0;
            for (int turn = 0; turn < 2; turn++)
            {
                bool ours = (turn == 0) == oursFirst;
                GC.Collect();
                using var sampler = new PeakSampler();
                var clock = Stopwatch.StartNew();
                if (ours) trainer.Fit(ourTrain, null, 1); else RawTrainLoop(trainImages, trainLabels, batchSize, rawGenerator, rawModel, rawLoss, rawOptimizer);
                double trainSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                if (ours) trainer.Evaluate(ourTest); else RawTestLoop(testImages, testLabels, batchSize, rawModel, rawLoss);
                double testSeconds = clock.Elapsed.TotalSeconds;
                if (epoch == 0) continue;
                times[(ours ? "ours" : "raw") + " train"].Add(trainSeconds);
                times[(ours ? "ours" : "raw") + " test"].Add(testSeconds);
                if (ours) { oursPeak = Math.Max(oursPeak, sampler.Peak); oursGrowth = Math.Max(oursGrowth, sampler.Growth); }
                else { rawPeak = Math.Max(rawPeak, sampler.Peak); rawGrowth = Math.Max(rawGrowth, sampler.Growth); }
            }
        }
        double oursTrain = Median(times["ours train"]), rawTrain = Median(times["raw train"]);
        double oursTest = Median(times["ours test"]), rawTest = Median(times["raw test"]);
        // Each round runs both back to back, so the ratio within a round is robust to the machine's speed drifting.
        double PairedRatio(string what) => Median(times["ours " + what].Zip(times["raw " + what], (o, r) => o / r).ToList());
        Console.WriteLine($"train epoch  median: ours {oursTrain:F3} s, raw {rawTrain:F3} s, ratio {oursTrain / rawTrain:F3} (median of per-round ratios {PairedRatio("train"):F3})");
        Console.WriteLine($"test pass    median: ours {oursTest:F3} s, raw {rawTest:F3} s, ratio {oursTest / rawTest:F3} (median of per-round ratios {PairedRatio("test"):F3})");
        Console.WriteLine($"peak working set of the process during epochs: ours {oursPeak / 1e6:F0} MB, raw {rawPeak / 1e6:F0} MB");
        Console.WriteLine($"largest growth of the working set within an epoch: ours {oursGrowth / 1e6:F1} MB, raw {rawGrowth / 1e6:F1} MB");
        Console.WriteLine($"live tensors after the run: {Tensor.TotalCount}");
        return 0;
    }
}
