using MathNet.Numerics.LinearAlgebra;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The tutorial's "Tensors" and "Autograd" sections from C#, through the core.</summary>
public class TensorTests
{
    [OneTimeSetUp]
    public void Load() => Native.EnsureLoaded();

    // ---- creation -------------------------------------------------------------------------

    [Test]
    public void CreateInfersPyTorchDtypes()
    {
        using var ints = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });
        using var jagged = Tensors.Create(new[] { new[] { 1.5, 2.0 }, new[] { 3.0, 4.0 } });
        using var bools = Tensors.Create(new[] { true, false });
        using var mixed = Tensors.Create(new List<object> { 1, 2.5 });
        using var scalar = Tensors.Create(7);
        using var fourD = Tensors.Create(new byte[1, 2, 1, 3]);
        Assert.Multiple(() =>
        {
            Assert.That(ints.dtype, Is.EqualTo(ScalarType.Int64));
            Assert.That(ints.shape, Is.EqualTo(new long[] { 2, 2 }));
            Assert.That(ints[1, 0].item<long>(), Is.EqualTo(3));
            Assert.That(jagged.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(jagged.shape, Is.EqualTo(new long[] { 2, 2 }));
            Assert.That(jagged[0, 0].item<float>(), Is.EqualTo(1.5f));
            Assert.That(bools.dtype, Is.EqualTo(ScalarType.Bool));
            Assert.That(mixed.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(scalar.dim(), Is.EqualTo(0));
            Assert.That(fourD.shape, Is.EqualTo(new long[] { 1, 2, 1, 3 }));
            Assert.That(fourD.dtype, Is.EqualTo(ScalarType.Int64));
        });
    }

    [Test]
    public void CreateTakesJaggedAndRectangularArraysUpToFourDimensions()
    {
        using var jagged3 = Tensors.Create(new[] { new[] { new[] { 1, 2 } }, new[] { new[] { 3, 4 } } });
        using var jagged4 = Tensors.Create(new[] { new[] { new[] { new[] { 1f }, new[] { 2f } } } });
        using var mixed = Tensors.Create(new[] { new[,] { { true, false } }, new[,] { { false, true } } });
        using var rect3 = Tensors.Create(new double[2, 3, 4]);
        Assert.Multiple(() =>
        {
            Assert.That(jagged3.shape, Is.EqualTo(new long[] { 2, 1, 2 }));
            Assert.That(jagged3.ToArray<long>(), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
            Assert.That(jagged4.shape, Is.EqualTo(new long[] { 1, 1, 2, 1 }));
            Assert.That(jagged4.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(mixed.shape, Is.EqualTo(new long[] { 2, 1, 2 }));
            Assert.That(mixed.dtype, Is.EqualTo(ScalarType.Bool));
            Assert.That(rect3.shape, Is.EqualTo(new long[] { 2, 3, 4 }));
            Assert.That(rect3.dtype, Is.EqualTo(ScalarType.Float32));
        });
        Assert.Throws<ArgumentException>(() => Tensors.Create("text"));
        Assert.Throws<ArgumentException>(() => Tensors.Create(new[] { 1m }));
    }

    [Test]
    public void CreateCopiesTheArray()
    {
        var data = new[] { 1f, 2f };
        using var t = Tensors.Create(data);
        data[0] = 9f;
        Assert.That(t[0].item<float>(), Is.EqualTo(1f));
    }

    [Test]
    public void RaggedDataNamesBothRows()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensors.Create(new[] { new[] { 1, 2 }, new[] { 3 } }));
        Assert.That(e!.Message, Does.Contain("[1]").And.Contain("[0]").And.Contain("[2]"));
    }

    [Test]
    public void LikeKeepsShapeAndDtypeAndTakesAnOverride()
    {
        using var x = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });
        using var ones = Tensors.OnesLike(x);
        using var rand = Tensors.RandLike(x, new Generator(1), ScalarType.Float32);
        using var full = Tensors.FullLike(x, 7);
        Assert.Multiple(() =>
        {
            Assert.That(ones.dtype, Is.EqualTo(ScalarType.Int64));
            Assert.That(ones.shape, Is.EqualTo(x.shape));
            Assert.That(rand.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(rand.shape, Is.EqualTo(x.shape));
            Assert.That(full.sum().item<long>(), Is.EqualTo(28));
        });
    }

    [Test]
    public void RandLikeOfIntegersSaysWhatToDo()
    {
        using var x = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });
        var e = Assert.Throws<ArgumentException>(() => Tensors.RandLike(x, new Generator(1)));
        Assert.That(e!.Message, Does.Contain("torch.int64").And.Contain("Int64").And.Contain("Pass a floating dtype"));
    }

    [Test]
    public void RandLikeIsReproducibleFromTheSeed()
    {
        using var x = torch.zeros(3, 3);
        using var a = Tensors.RandnLike(x, new Generator(42));
        using var b = Tensors.RandnLike(x, new Generator(42));
        using var same = a.eq(b).all();
        Assert.That(same.item<bool>(), Is.True);
    }

    [Test]
    public void TutorialTensorsSectionFromCSharp()
    {
        using var scope = torch.NewDisposeScope();
        var xData = Tensors.Create(new[] { new[] { 1, 2 }, new[] { 3, 4 } });
        Assert.That(Tensors.OnesLike(xData).Format(), Is.EqualTo("tensor([[1, 1],\n        [1, 1]])"));
        var t = torch.ones(4, 4);
        t[.., 1] = torch.tensor(0f);                               // tensor[:, 1] = 0
        Assert.That(t[.., ^1].Format(), Is.EqualTo("tensor([1., 1., 1., 1.])"));
        var shapes = new[]
        {
            torch.cat(new[] { t, t }, 0), torch.cat(new[] { t, t }, 1),
            torch.stack(new[] { t, t }, 0), torch.stack(new[] { t, t }, 1), torch.stack(new[] { t, t }, 2),
        }.Select(r => "[" + string.Join(", ", r.shape) + "]");
        Assert.That(shapes, Is.EqualTo(new[] { "[8, 4]", "[4, 8]", "[2, 4, 4]", "[4, 2, 4]", "[4, 4, 2]" }));
        var product = Tensors.MatMul(t, t.T);
        Assert.That(product[0, 0].item<float>(), Is.EqualTo(3f));
        Assert.Throws<ArgumentException>(() => Tensors.MatMul(torch.ones(2, 3), torch.ones(2, 3)));
        t.add_(5);
        Assert.That(t[0].ToArray<float>(), Is.EqualTo(new[] { 6f, 5f, 6f, 6f }));
        using var ones = torch.ones(5);
        var n = ones.AsSpan<float>();                              // t.numpy(): the tensor's own memory
        ones.add_(1);
        Assert.That(n.ToArray(), Is.EqualTo(new[] { 2f, 2f, 2f, 2f, 2f }));
    }

    // ---- host memory ----------------------------------------------------------------------

    [Test]
    public void ShareSeesWritesBothWays()
    {
        var n = new double[] { 1, 1, 1, 1, 1 };
        using var t = Tensors.Share(n);
        t.add_(1);                                   // the tutorial's np.add(n, 1, out=n), the other way round
        Assert.That(n, Is.EqualTo(new double[] { 2, 2, 2, 2, 2 }));
        Assert.That(t.Format(), Is.EqualTo("tensor([2., 2., 2., 2., 2.], dtype=torch.float64)"));
        n[3] = -4;
        Assert.That(t[3].item<double>(), Is.EqualTo(-4));
    }

    [Test]
    public void ShareWithShapeAndRectangularArrays()
    {
        var flat = new float[6];
        using var t = Tensors.Share(flat, 2, 3);
        t[1, 2].fill_(5f);
        Assert.That(flat[5], Is.EqualTo(5f));
        var grid = new int[2, 2];
        using var g = Tensors.Share(grid);
        g[0, 1].fill_(3);
        Assert.That(grid[0, 1], Is.EqualTo(3));
        Assert.Throws<ArgumentException>(() => Tensors.Share(flat, 4, 2));
    }

    [Test]
    public void CopyToSpanCopies()
    {
        using var t = torch.arange(6, ScalarType.Float32).reshape(2, 3).t();   // non-contiguous
        Span<float> buffer = stackalloc float[6];
        t.CopyTo(buffer);
        Assert.That(buffer.ToArray(), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
        t.add_(1);
        Assert.That(buffer[0], Is.EqualTo(0f));
        Assert.Throws<ArgumentException>(() => t.CopyTo(new float[5]));
        Assert.That(t.ToArray<double>(), Is.EqualTo(new double[] { 1, 4, 2, 5, 3, 6 }));
    }

    [Test]
    public void MathNetRoundTripsAndSharing()
    {
        var m = Matrix<double>.Build.DenseOfArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        using var copy = m.ToTensor();
        Assert.That(copy.shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(copy[1, 0].item<double>(), Is.EqualTo(4));
        Assert.That(copy.ToMatrix<double>(), Is.EqualTo(m));
        using var shared = m.AsTensor();
        shared[0, 2].fill_(30.0);
        Assert.That(m[0, 2], Is.EqualTo(30));
        m[1, 1] = 50;
        Assert.That(shared[1, 1].item<double>(), Is.EqualTo(50));
        Assert.That(copy[0, 2].item<double>(), Is.EqualTo(3));

        var v = Vector<float>.Build.Dense(new float[] { 1, 2, 3 });
        using var tv = v.AsTensor();
        tv.mul_(2f);
        Assert.That(v.ToArray(), Is.EqualTo(new float[] { 2, 4, 6 }));
        Assert.That(tv.ToVector<float>(), Is.EqualTo(v));
    }

    // ---- printing (expected texts are PyTorch 2.x's own output) -----------------------------

    [TestCase]
    public void FormatMatchesPyTorch()
    {
        using var a = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });
        using var b = Tensors.Create(new[,] { { 1.5, -2.25 }, { 10.0, 3.0 } });
        using var c = Tensors.Create(new[] { 1e-5, 1.0 });
        using var d = Tensors.Create(new[] { true, false });
        using var e = torch.zeros(0, 3);
        using var f = torch.ones(2, requires_grad: true);
        using var g = torch.arange(30);
        using var h = torch.tensor(3.5f);
        using var i = Tensors.Create(new[] { 1, 2 }, ScalarType.Int32);
        Assert.Multiple(() =>
        {
            Assert.That(a.Format(), Is.EqualTo("tensor([[1, 2],\n        [3, 4]])"));
            Assert.That(b.Format(), Is.EqualTo("tensor([[ 1.5000, -2.2500],\n        [10.0000,  3.0000]])"));
            Assert.That(c.Format(), Is.EqualTo("tensor([1.0000e-05, 1.0000e+00])"));
            Assert.That(d.Format(), Is.EqualTo("tensor([ True, False])"));
            Assert.That(e.Format(), Is.EqualTo("tensor([], size=(0, 3))"));
            Assert.That(f.Format(), Is.EqualTo("tensor([1., 1.], requires_grad=True)"));
            Assert.That(g.Format(), Is.EqualTo(
                "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n" +
                "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])"));
            Assert.That(h.Format(), Is.EqualTo("tensor(3.5000)"));
            Assert.That(i.Format(), Is.EqualTo("tensor([1, 2], dtype=torch.int32)"));
        });
    }

    [Test]
    public void FormatMoreCasesLikePyTorch()
    {
        using var cube = torch.zeros(new long[] { 2, 2, 2 }, ScalarType.Int64);
        using var wide = Tensors.Create(new[] { 1e10, 1.0 });
        using var nan = Tensors.Create(new[] { double.NaN, 1.0 });
        using var zeros = torch.zeros(2);
        using var spread = Tensors.Create(new[] { -0.5, 100.25 });
        using var bytes = Tensors.Create(new[] { 1, 2 }, ScalarType.Byte);
        using var emptyInts = Tensors.Create(Array.Empty<long>());
        Assert.Multiple(() =>
        {
            Assert.That(cube.Format(), Is.EqualTo("tensor([[[0, 0],\n         [0, 0]],\n\n        [[0, 0],\n         [0, 0]]])"));
            Assert.That(wide.Format(), Is.EqualTo("tensor([1.0000e+10, 1.0000e+00])"));
            Assert.That(nan.Format(), Is.EqualTo("tensor([nan, 1.])"));
            Assert.That(zeros.Format(), Is.EqualTo("tensor([0., 0.])"));
            Assert.That(spread.Format(), Is.EqualTo("tensor([ -0.5000, 100.2500])"));
            Assert.That(bytes.Format(), Is.EqualTo("tensor([1, 2], dtype=torch.uint8)"));
            Assert.That(emptyInts.Format(), Is.EqualTo("tensor([], dtype=torch.int64)"));
        });
    }

    [Test]
    public void LargeTensorsAreSummarized()
    {
        using var t = torch.arange(10000).reshape(100, 100);
        Assert.That(t.Format(), Is.EqualTo(
            "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n" +
            "        [ 100,  101,  102,  ...,  197,  198,  199],\n" +
            "        [ 200,  201,  202,  ...,  297,  298,  299],\n" +
            "        ...,\n" +
            "        [9700, 9701, 9702,  ..., 9797, 9798, 9799],\n" +
            "        [9800, 9801, 9802,  ..., 9897, 9898, 9899],\n" +
            "        [9900, 9901, 9902,  ..., 9997, 9998, 9999]])"));
    }

    [Test]
    public void EllipsisAndNewAxisFromCSharp()
    {
        // PyTorch's x[..., 0], x[:, None], x[..., None], x[None, ..., 1:3] are TorchSharp's TensorIndex
        // values in C# (the F# face spells them ellipsis and newAxis); checked against select/unsqueeze/narrow.
        using var x = torch.arange(24).reshape(2, 3, 4);
        using var last = x[TensorIndex.Ellipsis, 0];
        using var column = x.select(-1, 0);
        using var middle = x[TensorIndex.Colon, TensorIndex.None];
        using var atEnd = x[TensorIndex.Ellipsis, TensorIndex.None];
        using var mixed = x[TensorIndex.None, TensorIndex.Ellipsis, TensorIndex.Slice(1, 3)];
        using var narrowed = x.unsqueeze(0).narrow(-1, 1, 2);
        Assert.Multiple(() =>
        {
            Assert.That(last.allclose(column) && last.shape.SequenceEqual(column.shape), Is.True);
            Assert.That(middle.shape, Is.EqualTo(new long[] { 2, 1, 3, 4 }));
            Assert.That(atEnd.shape, Is.EqualTo(new long[] { 2, 3, 4, 1 }));
            Assert.That(mixed.allclose(narrowed) && mixed.shape.SequenceEqual(narrowed.shape), Is.True);
        });
    }

    // ---- autograd -------------------------------------------------------------------------

    [Test]
    public void TutorialBinaryCrossEntropyGradients()
    {
        // autogradqs_tutorial: z = x @ w + b, loss = BCE-with-logits(z, y); here with fixed weights
        // so that the gradient can be checked by hand: dL/dz = (sigmoid(z) - y) / 3.
        using var x = torch.ones(5);
        using var y = torch.zeros(3);
        using var w = torch.full(5, 3, 0.1f).requires_grad_();
        using var b = torch.tensor(new[] { 0f, 0.5f, -0.5f }).requires_grad_();
        using var z = torch.matmul(x, w) + b;
        using var loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y);
        Assert.That(Autograd.HasGradFn(z), Is.True);
        Assert.That(Autograd.HasGradFn(w), Is.False);
        loss.Backward(retainGraph: true);
        var dz = new[] { 0.5, 1.0, 0.0 }.Select(v => 1.0 / (1.0 + Math.Exp(-v)) / 3.0).ToArray();
        using (var bg = b.grad!)
            Assert.That(bg.ToArray<float>(), Is.EqualTo(dz.Select(v => (float)v).ToArray()).Within(1e-6f));
        using (var wg = w.grad!)
            Assert.That(wg[4, 2].item<float>(), Is.EqualTo((float)dz[2]).Within(1e-6f));
        loss.Backward();                              // allowed: the graph was retained
        using (var bg = b.grad!)                      // and the gradients accumulated
            Assert.That(bg[0].item<float>(), Is.EqualTo((float)(2 * dz[0])).Within(1e-6f));
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.That(e!.Message, Does.Contain("retainGraph"));
    }

    [Test]
    public void NoGradAndDetachStopTracking()
    {
        using var w = torch.ones(2, requires_grad: true);
        using var z = w * 2;
        Assert.That(z.requires_grad, Is.True);
        using (Autograd.NoGrad())
        {
            using var z2 = w * 2;
            Assert.That(z2.requires_grad, Is.False);
        }
        Assert.That(Autograd.IsGradEnabled, Is.True);
        using var d = z.detach();
        Assert.That(d.requires_grad, Is.False);
        Assert.Throws<InvalidOperationException>(() => d.sum().Backward());
    }

    // ---- functional differentiation and gradcheck -----------------------------------------

    [Test]
    public void GradJacobianHessianByHand()
    {
        using var x = torch.tensor(new[] { 1.0, 2.0, 3.0 });
        using var g = Autograd.Grad(t => (t * t * t).sum(), x);
        Assert.That(g.ToArray<double>(), Is.EqualTo(new[] { 3.0, 12.0, 27.0 }).Within(1e-12));
        using var h = Autograd.Hessian(t => (t * t * t).sum(), x);
        Assert.That(h.ToArray<double>(), Is.EqualTo(new[] { 6.0, 0, 0, 0, 12, 0, 0, 0, 18 }).Within(1e-12));
        using var j = Autograd.Jacobian(t => t.sin(), x);
        Assert.That(j.shape, Is.EqualTo(new long[] { 3, 3 }));
        Assert.That(j[1, 1].item<double>(), Is.EqualTo(Math.Cos(2.0)).Within(1e-12));
        Assert.That(x.requires_grad, Is.False);
    }

    [Test]
    public void GradKeepsTheGraphWhenTheInputRequiresGrad()
    {
        // A gradient penalty: g = ∇(Σx³) = 3x², then backward through g gives d(Σ g)/dx = 6x.
        using var x = torch.tensor(new[] { 1.0, -2.0 }).requires_grad_();
        using var g = Autograd.Grad(t => (t * t * t).sum(), x);
        Assert.That(g.requires_grad, Is.True);
        g.sum().Backward();
        using var xg = x.grad!;
        Assert.That(xg.ToArray<double>(), Is.EqualTo(new[] { 6.0, -12.0 }));

        // The value of an f-form stays differentiable too: d(Σx³)/dx = 3x², added to x.grad.
        var (value, gradient) = Autograd.FGrad(t => (t * t * t).sum(), x);
        using (value) using (gradient)
        {
            Assert.That(value.requires_grad, Is.True);
            value.Backward();
        }
        using var xg2 = x.grad!;
        Assert.That(xg2.ToArray<double>(), Is.EqualTo(new[] { 6.0 + 3.0, -12.0 + 12.0 }));
    }

    [Test]
    public void GradWorksInsideNoGrad()
    {
        using var x = torch.tensor(new[] { 3.0 });
        using (Autograd.NoGrad())
        {
            using var g = Autograd.Grad(t => (t * t).sum(), x);
            Assert.That(g.item<double>(), Is.EqualTo(6.0));
            Assert.That(Autograd.IsGradEnabled, Is.False);
        }
    }

    [Test]
    public void PerturbationConfusion()
    {
        // d/dx (x · d/dy (x + y)) = 1 at any x, also when y is evaluated at x.
        foreach (var at in new[] { -2.0, 0.0, 3.5 })
        {
            using var x0 = torch.tensor(at);
            using var d = Autograd.Diff(x => x * Autograd.Diff(y => x + y, x), x0);
            Assert.That(d.item<double>(), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void GradCheckPassesAndFailsHonestly()
    {
        using var x = torch.tensor(new[] { 0.3, -1.2, 2.0 });
        var ok = Autograd.GradCheck(t => t.tanh() * t, x);
        Assert.That(ok.Passed, Is.True, ok.ToString());
        var second = Autograd.GradGradCheck(t => (t.tanh() * t).sum(), x);
        Assert.That(second.Passed, Is.True, second.ToString());
        // A function whose backward is wrong: the forward is x², the gradient autograd sees is 3x.
        var bad = Autograd.GradCheck(t => (t * t).detach() + 1.5 * t * t - (1.5 * t * t).detach(), x);
        Assert.That(bad.Passed, Is.False);
        Assert.That(bad.ToString(), Does.Contain("FAILED").And.Contain("output [2] / input [2]"));
    }

    [Test]
    public void DifferentiationDoesNotLeakTensors()
    {
        using var x = torch.tensor(new[] { 0.5, 1.5 });
        Func<Tensor, Tensor> f = t => (t.exp() * t).sum();
        for (var i = 0; i < 10; i++) Autograd.Hessian(f, x).Dispose();   // warm up
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();   // earlier garbage is finalized now, not mid-measurement
        var before = Tensor.TotalCount;
        for (var i = 0; i < 1000; i++)
        {
            using var g = Autograd.Grad(f, x);
            using var h = Autograd.Hessian(f, x);
        }
        Assert.That(Tensor.TotalCount, Is.LessThanOrEqualTo(before));
    }
}
