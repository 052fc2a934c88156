using Functional.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The C# face of PyTorch's loss options (the rules themselves are checked in PropertyTests/LossesTests.fs).</summary>
public class LossesTests
{
    [OneTimeSetUp]
    public void Load() => Native.EnsureLoaded();

    [Test]
    public void NamedOptionsAreThoseOfTorchNnFunctional()
    {
        // nn.CrossEntropyLoss(weight=w, ignore_index=0, label_smoothing=0.1) and nn.BCEWithLogitsLoss(pos_weight=p),
        // against ATen's kernels through TorchSharp's torch.nn.functional.
        using var g = new Generator(7);
        using var x = torch.randn(new long[] { 6, 3 }, ScalarType.Float64, generator: g);
        using var y = torch.tensor(new long[] { 0, 1, 2, 0, 2, 1 });
        using var w = torch.tensor(new[] { 0.5, 2.0, 1.0 });
        using var ours = Losses.CrossEntropy(weight: w, ignoreIndex: 0, labelSmoothing: 0.1)(x, y);
        using var theirs = nn.functional.cross_entropy(x, y, w, ignore_index: 0, label_smoothing: 0.1);
        using var lp = x.log_softmax(1);
        using var nll = Losses.NLL(Reduction.Sum, weight: w, ignoreIndex: 2)(lp, y);
        using var nllTheirs = nn.functional.cross_entropy(x, y, w, ignore_index: 2, reduction: nn.Reduction.Sum);
        using var t = torch.rand(new long[] { 6, 3 }, ScalarType.Float64, generator: g);
        using var p = torch.tensor(new[] { 1.0, 3.0, 0.25 });
        using var bce = Losses.BCEWithLogits(positiveWeight: p)(x, t);
        using var bceTheirs = nn.functional.binary_cross_entropy_with_logits(x, t, pos_weights: p);
        Assert.Multiple(() =>
        {
            Assert.That(ours.item<double>(), Is.EqualTo(theirs.item<double>()).Within(1e-12));
            Assert.That(nll.item<double>(), Is.EqualTo(nllTheirs.item<double>()).Within(1e-12));
            Assert.That(bce.item<double>(), Is.EqualTo(bceTheirs.item<double>()).Within(1e-12));
        });
    }
}
