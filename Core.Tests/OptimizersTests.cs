using Functional.Optim;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The C# face of the optimizers: a transformation of one's own (a subclass and the
/// <see cref="GradientTransformation.Create{TState}"/> factory), typed state, the learning-rate type.</summary>
public class OptimizersTests
{
    [OneTimeSetUp]
    public void Load() => Native.EnsureLoaded();

    /// <summary>A user's state: a settable hyperparameter, a per-parameter buffer it owns, and checkpoint support.</summary>
    sealed class RunningMeanState : TransformState
    {
        public RunningMeanState(IReadOnlyList<Tensor> parameters, double decay)
        {
            Decay = decay;
            Mean = Own(parameters.Select(p => zeros_like(p)));
        }

        public double Decay { get; set; }
        public Tensor[] Mean { get; }

        public override IEnumerable<(string Name, Tensor Value)> NamedTensors() => Mean.Select((t, i) => ($"mean.{i}", t));

        sealed record Saved(double Decay);

        // A user's assembly writes "protected override"; this one sees the library's internals, so C# wants both words.
        protected internal override object? SaveScalars() => new Saved(Decay);

        protected internal override Action PrepareLoad(SavedState saved)
        {
            var s = saved.Scalars<Saved>();
            var mean = saved.PerParameter("mean");
            return () =>
            {
                Decay = s.Decay;
                for (var i = 0; i < Mean.Length; i++) Mean[i].copy_(mean![i]);
            };
        }

        protected override void FreeTensors()
        {
            foreach (var t in Mean) t.Dispose();
        }
    }

    /// <summary>Replaces the updates by a running mean of them: <c>mean = decay·mean + (1 - decay)·u</c>.</summary>
    sealed class RunningMean(double decay) : GradientTransformation<RunningMeanState>("runningMean")
    {
        protected override RunningMeanState InitCore(IReadOnlyList<Tensor> parameters) => new(parameters, decay);

        protected override Updates UpdateCore(Updates updates, RunningMeanState state, IReadOnlyList<Tensor> parameters)
        {
            var values = updates.Materialize();
            for (var i = 0; i < values.Count; i++) state.Mean[i].mul_(state.Decay).add_(values[i], alpha: 1 - state.Decay);
            return new Updates(state.Mean.Select(m => m.alias()).ToArray());
        }
    }

    static Parameter[] MakeParameters(int seed)
    {
        using var g = new Generator((ulong)seed);
        return [new Parameter(randn([3, 4], generator: g)), new Parameter(randn([5], generator: g))];
    }

    /// <summary>Same shape and values, exactly.</summary>
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static void SetGradients(Parameter[] parameters, Generator g)
    {
        foreach (var p in parameters) p.grad = randn(p.shape, generator: g);
    }

    [Test]
    public void AUsersTransformationChainsAndStepsAsItsFormulaSays()
    {
        using var scope = NewDisposeScope();
        var ps = MakeParameters(1);
        var start = ps.Select(p => p.detach().clone()).ToArray();
        using var optimizer = Optimizers.Chain(new RunningMean(0.5), Optimizers.Sgd(0.1)).Bind(ps);
        using var g = new Generator(2);
        var mean = ps.Select(p => zeros_like(p)).ToArray();
        var expected = start.Select(s => s.clone()).ToArray();
        for (var step = 0; step < 3; step++)
        {
            SetGradients(ps, g);
            for (var i = 0; i < ps.Length; i++)
            {
                mean[i] = mean[i] * 0.5 + ps[i].grad! * 0.5;
                expected[i] = expected[i] - 0.1 * mean[i];
            }
            optimizer.Step();
            for (var i = 0; i < ps.Length; i++) Assert.That(ps[i].allclose(expected[i], rtol: 1e-6, atol: 1e-7), Is.True, $"step {step}, parameter {i}");
        }
        // Its state is typed and found like the built-in ones.
        var state = optimizer.StateOf<RunningMeanState>();
        Assert.That(state.Decay, Is.EqualTo(0.5));
        Assert.That(optimizer.StateTensors().Select(t => t.Name).Take(2), Is.EqualTo(new[] { "0.mean.0", "0.mean.1" }));
    }

    [Test]
    public void AUsersStateIsSavedAndLoadedWithTheOptimizersAndAdjustedWhileTraining()
    {
        using var scope = NewDisposeScope();
        GradientTransformation Build() => Optimizers.Chain(new RunningMean(0.9), Optimizers.Sgd(0.1, momentum: 0.5));
        var a = MakeParameters(3);
        var b = MakeParameters(3);
        using var optA = Build().Bind(a);
        using var optB = Build().Bind(b);
        using var g = new Generator(4);
        optA.StateOf<RunningMeanState>().Decay = 0.7;
        for (var step = 0; step < 3; step++) { SetGradients(a, g); optA.Step(); }
        using (no_grad()) for (var i = 0; i < a.Length; i++) b[i].copy_(a[i]);
        var json = System.Text.Json.JsonSerializer.Serialize(optA.StateScalars());
        optB.LoadState(System.Text.Json.JsonSerializer.Deserialize<OptimizerScalars>(json)!, optA.StateTensors().Select(t => (t.Name, t.Value.clone())));
        Assert.That(optB.StateOf<RunningMeanState>().Decay, Is.EqualTo(0.7));
        for (var step = 0; step < 3; step++)
        {
            SetGradients(a, g);
            for (var i = 0; i < a.Length; i++) b[i].grad = a[i].grad!.clone();
            optA.Step();
            optB.Step();
        }
        for (var i = 0; i < a.Length; i++) Assert.That(Same(a[i], b[i]), Is.True);
    }

    [Test]
    public void CreateMakesATransformationFromTwoFunctions()
    {
        using var scope = NewDisposeScope();
        var halve = GradientTransformation.Create("halve", _ => new EmptyState(), (updates, _, _) => updates.Scaled(0.5));
        var ps = MakeParameters(5);
        var twin = ps.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var halved = Optimizers.Chain(Optimizers.Sgd(0.2, momentum: 0.9), halve).Bind(ps);
        using var plain = Optimizers.Sgd(0.1, momentum: 0.9).Bind(twin);
        using var g = new Generator(6);
        for (var step = 0; step < 3; step++)
        {
            SetGradients(ps, g);
            for (var i = 0; i < ps.Length; i++) twin[i].grad = ps[i].grad!.clone();
            halved.Step();
            plain.Step();
        }
        // -0.2 * 0.5 is -0.1 exactly, and only scales changed: the same steps, bit for bit.
        for (var i = 0; i < ps.Length; i++) Assert.That(Same(ps[i], twin[i]), Is.True);
        Assert.That(halved.Transformation.Name, Does.EndWith(", halve)"));
        // A state of the wrong type is refused, naming both.
        var e = Assert.Throws<ArgumentException>(() => halve.Update(new Updates(ps.Select(p => p.grad!).ToArray()), new ScaleState(2), ps));
        Assert.That(e!.Message, Does.Contain("EmptyState").And.Contain("ScaleState"));
    }

    [Test]
    public void EveryOptimizerTakesANumberOrAScheduleAsItsLearningRate()
    {
        Schedule schedule = Schedules.Cosine(0.1, 100);
        var ps = MakeParameters(7);
        foreach (var (name, fromNumber, fromSchedule) in new[]
                 {
                     ("sgd", Optimizers.Sgd(0.1), Optimizers.Sgd(schedule)),
                     ("adam", Optimizers.Adam(0.1), Optimizers.Adam(schedule)),
                     ("adamw", Optimizers.AdamW(0.1), Optimizers.AdamW(schedule)),
                     ("scale", Optimizers.ScaleByLearningRate(0.1), Optimizers.ScaleByLearningRate(schedule)),
                 })
        {
            using var a = fromNumber.Bind(ps);
            using var b = fromSchedule.Bind(ps);
            Assert.That(a.LearningRate.Value, Is.EqualTo(0.1), name);
            Assert.That(b.LearningRate.Schedule, Is.SameAs(schedule), name);
            Assert.That(b.CurrentLearningRate, Is.EqualTo(0.1), name);
        }
        using (var adam = Optimizers.Adam().Bind(ps)) Assert.That(adam.LearningRate.Value, Is.EqualTo(1e-3), "PyTorch's default");
        using var optimizer = Optimizers.Sgd(0.1).Bind(ps);
        optimizer.LearningRate = 0.2;                                   // a number, through the implicit conversion
        Assert.That(optimizer.CurrentLearningRate, Is.EqualTo(0.2));
        optimizer.LearningRate = schedule;                              // a schedule
        Assert.Throws<InvalidOperationException>(() => optimizer.LearningRate = 0.3);
        Assert.That(optimizer.LearningRate.ToString(), Is.EqualTo("schedule"));
        Assert.Throws<ArgumentException>(() => Optimizers.Sgd(double.NaN));
        Assert.Throws<ArgumentNullException>(() => Optimizers.Sgd((Schedule)null!));
        foreach (var p in ps) p.Dispose();
    }
}
