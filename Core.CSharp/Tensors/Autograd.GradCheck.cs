using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// The outcome of <see cref="Autograd.GradCheck"/> or <see cref="Autograd.GradGradCheck"/>: whether the
/// analytic derivative matched central differences, and the element that matched worst.
/// </summary>
public sealed class GradCheckReport
{
    internal GradCheckReport(int order, bool passed, long[] inputShape, long[] outputShape, long[]? worstOutput,
        long[]? worstInput, double analytic, double numeric, double eps, double atol, double rtol, int elementsChecked)
    {
        Order = order; Passed = passed; InputShape = inputShape; OutputShape = outputShape;
        WorstOutputIndex = worstOutput; WorstInputIndex = worstInput; Analytic = analytic; Numeric = numeric;
        Eps = eps; Atol = atol; Rtol = rtol; ElementsChecked = elementsChecked;
    }

    /// <summary>1 for gradcheck (first derivatives), 2 for gradgradcheck (derivatives of a vector-Jacobian product).</summary>
    public int Order { get; }

    /// <summary>True when every Jacobian element satisfies |analytic − numeric| ≤ atol + rtol·|numeric|.</summary>
    public bool Passed { get; }

    /// <summary>The shape of the checked input.</summary>
    public long[] InputShape { get; }

    /// <summary>The shape of the checked function's output.</summary>
    public long[] OutputShape { get; }

    /// <summary>The output element of the worst Jacobian entry (null when the Jacobian is empty).</summary>
    public long[]? WorstOutputIndex { get; }

    /// <summary>The input element of the worst Jacobian entry (null when the Jacobian is empty).</summary>
    public long[]? WorstInputIndex { get; }

    /// <summary>The autograd value of the worst entry.</summary>
    public double Analytic { get; }

    /// <summary>The central-difference value of the worst entry.</summary>
    public double Numeric { get; }

    /// <summary>|Analytic − Numeric|.</summary>
    public double AbsoluteError => Math.Abs(Analytic - Numeric);

    /// <summary>The allowed error at the worst entry, atol + rtol·|numeric|.</summary>
    public double Tolerance => Atol + Rtol * Math.Abs(Numeric);

    /// <summary>The finite-difference step.</summary>
    public double Eps { get; }

    /// <summary>The absolute tolerance.</summary>
    public double Atol { get; }

    /// <summary>The relative tolerance.</summary>
    public double Rtol { get; }

    /// <summary>The number of Jacobian entries compared.</summary>
    public int ElementsChecked { get; }

    static string Index(long[]? index) => index is null ? "-" : Shapes.Text(index);

    static string Num(double v) => v.ToString("G6", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString()
    {
        var name = Order == 1 ? "gradcheck" : "gradgradcheck";
        var shapes = $"input {Index(InputShape)}, output {Index(OutputShape)}, {ElementsChecked} Jacobian entries";
        if (WorstOutputIndex is null) return $"{name} passed: nothing to compare ({shapes}).";
        var worst = $"output {Index(WorstOutputIndex)} / input {Index(WorstInputIndex)}: analytic {Num(Analytic)}, numeric {Num(Numeric)}, " +
                    $"|difference| {Num(AbsoluteError)} {(Passed ? "<=" : ">")} tolerance {Num(Tolerance)}";
        var settings = $"eps {Num(Eps)}, atol {Num(Atol)}, rtol {Num(Rtol)}, float64 central differences";
        return Passed
            ? $"{name} passed ({shapes}); worst entry {worst}; {settings}."
            : $"{name} FAILED ({shapes}): worst entry {worst}; {settings}.";
    }
}

/// <summary>
/// Checks autograd's derivatives of a function against float64 central differences, as PyTorch's
/// <c>torch.autograd.gradcheck</c> and <c>gradgradcheck</c> do (defaults eps 1e-6, atol 1e-5, rtol 1e-3).
/// </summary>
/// <remarks>
/// The input is converted to float64 before the check; a function that creates float32 tensors
/// inside will be measured at float32 precision and may fail for that reason.
/// </remarks>
/// <example><code>
/// var report = Autograd.GradCheck(t => t.sin().sum(), torch.randn(3, 2, generator: gen));
/// Console.WriteLine(report);   // "gradcheck passed (...)"
/// </code></example>
public static partial class Autograd
{
    /// <summary>Compares the Jacobian of <paramref name="f"/> at <paramref name="x"/> computed by autograd
    /// with central differences (f(x + eps) − f(x − eps)) / (2 eps).</summary>
    public static GradCheckReport GradCheck(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        return Compare(f, x, 1, eps, atol, rtol);
    }

    /// <summary>
    /// Checks second derivatives: the vector-Jacobian product x ↦ vᵀ J_f(x), for a fixed random v
    /// drawn from <paramref name="seed"/>, must itself pass <see cref="GradCheck"/>.
    /// </summary>
    public static GradCheckReport GradGradCheck(Func<Tensor, Tensor> f, Tensor x, ulong seed = 0, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        Native.EnsureLoaded();
        using var scope = torch.NewDisposeScope();
        var x64 = x.detach().to(ScalarType.Float64);
        long[] outputShape;
        using (torch.no_grad()) outputShape = f(x64.clone()).shape;
        using var generator = new Generator(seed);
        var v = torch.randn(outputShape, ScalarType.Float64, generator: generator).to(x64.device);
        return Compare(z => Autograd.Vjp(f, z, v), x, 2, eps, atol, rtol);
    }

    static double[] Evaluate(Func<Tensor, Tensor> f, double[] point, long[] shape, torch.Device device)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = torch.tensor(point, shape, ScalarType.Float64).to(device);
        return f(input).ToArray<double>();
    }

    static long[] Unravel(long flat, long[] shape)
    {
        var index = new long[shape.Length];
        for (var d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return index;
    }

    static GradCheckReport Compare(Func<Tensor, Tensor> f, Tensor x, int order, double eps, double atol, double rtol)
    {
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "The finite-difference step must be positive.");
        Native.EnsureLoaded();
        using var scope = torch.NewDisposeScope();
        var x64 = x.detach().to(ScalarType.Float64).contiguous();
        var inputShape = x64.shape;
        var (value, jacobian) = Autograd.FJacobian(f, x64);
        var outputShape = value.shape;
        var m = (int)value.numel();
        var n = (int)x64.numel();
        var analytic = jacobian.detach().to(ScalarType.Float64).ToArray<double>();
        var point = x64.ToArray<double>();

        long worstOut = -1, worstIn = -1;
        double worstA = 0, worstN = 0, worstExcess = double.NegativeInfinity;
        var passed = true;
        for (var j = 0; j < n; j++)
        {
            var saved = point[j];
            point[j] = saved + eps;
            var plus = Evaluate(f, point, inputShape, x64.device);
            point[j] = saved - eps;
            var minus = Evaluate(f, point, inputShape, x64.device);
            point[j] = saved;
            for (var i = 0; i < m; i++)
            {
                var numeric = (plus[i] - minus[i]) / (2 * eps);
                var a = analytic[(long)i * n + j];
                var tolerance = atol + rtol * Math.Abs(numeric);
                var ok = Math.Abs(a - numeric) <= tolerance;
                // How much of its tolerance an entry uses; above 1 fails.
                var excess = double.IsNaN(a) || double.IsNaN(numeric)
                    ? double.PositiveInfinity
                    : tolerance > 0 ? Math.Abs(a - numeric) / tolerance : Math.Abs(a - numeric) > 0 ? double.PositiveInfinity : 0;
                if (!ok) passed = false;
                if (excess > worstExcess || worstOut < 0)
                {
                    worstExcess = excess; worstOut = i; worstIn = j; worstA = a; worstN = numeric;
                }
            }
        }
        return new GradCheckReport(order, passed, inputShape, outputShape,
            worstOut < 0 ? null : Unravel(worstOut, outputShape), worstIn < 0 ? null : Unravel(worstIn, inputShape),
            worstA, worstN, eps, atol, rtol, m * n);
    }
}
