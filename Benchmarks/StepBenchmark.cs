using System.Diagnostics;
using Functional.Models;
using Functional.Optim;
using Functional.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Benchmarks;

/// <summary>
/// Where the fused step's time goes, per epoch of 938 steps on one fixed batch of 64 (no loader):
/// the GEMM floor (the 8 products alone), the fused forward, forward + loss, the gradients
/// (forward, loss, backward), and the whole step (with the optimizer's update). Each figure is the
/// median over rounds, alternating, as seconds per 938 steps and as a ratio to the floor.
/// </summary>
static class StepBenchmark
{
    /// <summary>
    /// <c>step --layouts</c>: the step's 8 products for the tutorial's network, batch 64, in two layouts of the
    /// activations: row-major (Z = X·Wᵀ, [N, features], as nn.Linear computes) and feature-major (Zᵀ = W·Xᵀ,
    /// [features, N], as the fused step computes), the weight-gradient products accumulating into the weights
    /// in both. Medians of 9 runs of 300 steps, alternating. <c>--batch N</c> sets the batch (64).
    /// </summary>
    static int Layouts(string[] args)
    {
        int at = Array.IndexOf(args, "--batch");
        int n = at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1]) : 64;
        using var X = rand(n, 784); using var W1 = rand(512, 784); using var W2 = rand(512, 512); using var W3 = rand(10, 512);
        Tensor E(params long[] s) => empty(s);
        var (h1, h2, o, g2, g1) = (E(n, 512), E(n, 512), E(n, 10), E(n, 512), E(n, 512));
        var (h1T, h2T, oT, g2T, g1T) = (E(512, n), E(512, n), E(10, n), E(512, n), E(512, n));
        var (w1t, w2t, w3t, xt, ot, g2t, g1t, h1Tt, h2Tt) = (W1.t(), W2.t(), W3.t(), X.t(), o.t(), g2.t(), g1.t(), h1T.t(), h2T.t());
        const float tiny = 1e-9f;   // the weights barely move: the same values in every run
        var cases = new (string Name, Action Step)[]
        {
            ("row-major (Z = X·Wᵀ)", () =>
            {
                h1.addmm_(X, w1t, 1, 1); h2.addmm_(h1, w2t, 1, 1); o.addmm_(h2, w3t, 1, 1);
                W3.addmm_(ot, h2, 1, tiny); g2.addmm_(o, W3, 0, 1); W2.addmm_(g2t, h1, 1, tiny); g1.addmm_(g2, W2, 0, 1); W1.addmm_(g1t, X, 1, tiny);
            }),
            ("feature-major (Zᵀ = W·Xᵀ)", () =>
            {
                h1T.addmm_(W1, xt, 1, 1); h2T.addmm_(W2, h1T, 1, 1); oT.addmm_(W3, h2T, 1, 1);
                W3.addmm_(oT, h2Tt, 1, tiny); g2T.addmm_(w3t, oT, 0, 1); W2.addmm_(g2T, h1Tt, 1, tiny); g1T.addmm_(w2t, g2T, 0, 1); W1.addmm_(g1T, X, 1, tiny);
            }),
        };
        var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (int round = 0; round < 10; round++)
            foreach (var (name, step) in cases)
            {
                var clock = Stopwatch.StartNew();
                for (int s = 0; s < 300; s++) step();
                if (round > 0) times[name].Add(clock.Elapsed.TotalMilliseconds * 1000 / 300);
            }
        double Median(List<double> v) { var s = v.OrderBy(t => t).ToArray(); return s[s.Length / 2]; }
        var rowMajor = Median(times[cases[0].Name]);
        foreach (var (name, _) in cases)
            Console.WriteLine($"{name,-28} {Median(times[name]):F0} us per step, {Median(times[name]) / rowMajor:F2}x row-major");
        return 0;
    }

    public static int Run(string[] args)
    {
        if (args.Contains("--layouts")) return Layouts(args);
        int rounds = 5, steps = 938, n = 64;
        // --cpu: one torch thread, timed by the process's CPU time, which other processes on the machine do not inflate.
        bool cpu = args.Contains("--cpu");
        if (cpu) set_num_threads(1);
        using var self = Process.GetCurrentProcess();
        double Now() { self.Refresh(); return cpu ? self.TotalProcessorTime.TotalSeconds : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency; }
        manual_seed(0);
        var model = new NeuralNetwork();
        var optimizer = new Functional.Optim.Optimizer(Optimizers.Sgd(1e-3), model);
        using var fused = FusedStep.TryCreate(model, Losses.CrossEntropy(), optimizer, out var why) ?? throw new InvalidOperationException(why);
        fused.Prepare(n);
        using var x = rand(n, 1, 28, 28);
        using var y = randint(0, 10, n, ScalarType.Int64);
        using var w1 = rand(512, 784); using var w2 = rand(512, 512); using var w3 = rand(10, 512);
        using var w1T = w1.t(); using var w2T = w2.t(); using var w3T = w3.t();
        using var X = rand(n, 784);
        Tensor E(params long[] s) => empty(s);
        var (h1, h2, o, g2, g1, gw1, gw2, gw3) = (E(n, 512), E(n, 512), E(n, 10), E(n, 512), E(n, 512), E(512, 784), E(512, 512), E(10, 512));
        using var oT = o.t(); using var g2T = g2.t(); using var g1T = g1.t();
        var data = Functional.Data.FashionMnist.Load(train: true);
        var loader = new Functional.Data.DataLoader(new Functional.Data.TensorDataset(data.Features.narrow(0, 0, (steps - 1) * n), data.Labels.narrow(0, 0, (steps - 1) * n)), n, shuffle: true, seed: 0)
            .Map(Functional.Transforms.Transform.ToTensor());
        var trainModel = new NeuralNetwork();
        var trainer = new Trainer(trainModel, Losses.CrossEntropy(), new Functional.Optim.Optimizer(Optimizers.Sgd(1e-3), trainModel), new TrainerOptions { Device = Devices.Cpu, Progress = false });
        var cases = new (string Name, Action Body)[]
        {
            ("loader alone", () => { foreach (var b in loader) b.Dispose(); }),
            ("trainer epoch", () => trainer.Fit(loader, null, 1)),
            ("GEMM floor", () =>
            {
                h1.addmm_(X, w1T, 0, 1); h2.addmm_(h1, w2T, 0, 1); o.addmm_(h2, w3T, 0, 1);
                gw3.addmm_(oT, h2, 0, 1); g2.addmm_(o, w3, 0, 1); gw2.addmm_(g2T, h1, 0, 1); g1.addmm_(g2, w2, 0, 1); gw1.addmm_(g1T, X, 0, 1);
            }),
            ("fused forward", () => fused.Forward(x)),
            ("forward+loss", () => fused.Evaluate(x, y)),
            ("gradients", () => fused.ComputeGradients(x, y)),
            ("whole step", () => fused.Step(x, y)),
            ("update alone", () => fused.ApplyUpdate()),
        };
        var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (int round = 0; round <= rounds; round++)
            foreach (var (name, body) in cases)
            {
                var start = Now();
                for (int s = 0; s < (name is "trainer epoch" or "loader alone" ? 1 : steps); s++)
                {
                    using var scope = NewDisposeScope();
                    body();
                }
                if (round > 0) times[name].Add(Now() - start);
            }
        double Median(List<double> v) { var s = v.OrderBy(t => t).ToArray(); return s[s.Length / 2]; }
        var floor = Median(times["GEMM floor"]);
        foreach (var (name, _) in cases)
            Console.WriteLine($"{name,-14} {Median(times[name]):F3} s per {steps} steps, {Median(times[name]) / floor:F2}x floor");
        return 0;
    }
}
