using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Tensor operations with a .NET number, made safe against a use-after-free in TorchSharp 0.107.
/// </summary>
/// <remarks>
/// <para>Where TorchSharp takes a <see cref="Scalar"/>, a .NET number converts implicitly into a new native scalar
/// that only a finalizer frees. TorchSharp reads its handle and then calls LibTorch, and nothing keeps the
/// <see cref="Scalar"/> alive during the call. A garbage collection at that moment (another thread allocates)
/// lets the finalizer free the native scalar while LibTorch reads it. The result is an error such as
/// <c>Expected false to be true</c> from c10's <c>Scalar::toFloat</c>, or a wrong value.
/// TorchSharp's <c>add_(tensor)</c> passes such an implicit 1 itself.</para>
/// <para>These overloads make the scalar explicitly and dispose it after the call, which also keeps it alive
/// through the call; <c>1</c> is one scalar kept for the process. The library's loops use them;
/// <c>KeptScalarsTests</c> runs them while another thread collects garbage without pause.</para>
/// </remarks>
internal static class KeptScalars
{
    static readonly Scalar One = 1.ToScalar();

    /// <summary>Calls <paramref name="call"/> with <paramref name="value"/> as a scalar made here and disposed after
    /// the call (static lambdas: nothing is allocated but the native scalar).</summary>
    static Tensor With(Tensor t, double value, Func<Tensor, Scalar, Tensor> call)
    {
        using var s = value.ToScalar();
        return call(t, s);
    }

    /// <summary>As <see cref="With(Tensor, double, Func{Tensor, Scalar, Tensor})"/>, with a second tensor.</summary>
    static Tensor With(Tensor t, Tensor other, double value, Func<Tensor, Tensor, Scalar, Tensor> call)
    {
        using var s = value.ToScalar();
        return call(t, other, s);
    }

    /// <summary><c>t += other</c>, in place.</summary>
    internal static Tensor AddInPlace(this Tensor t, Tensor other) => t.add_(other, One);

    /// <summary><c>t += alpha·other</c>, in place.</summary>
    internal static Tensor AddInPlace(this Tensor t, Tensor other, double alpha) => With(t, other, alpha, static (t, o, a) => t.add_(o, a));

    /// <summary><c>t += value</c>, in place.</summary>
    internal static Tensor AddInPlace(this Tensor t, double value) => With(t, value, static (t, s) => t.add_(s, One));

    /// <summary><c>t + value</c>, a new tensor.</summary>
    internal static Tensor Plus(this Tensor t, double value) => With(t, value, static (t, s) => t.add(s, One));

    /// <summary><c>t + alpha·other</c>, a new tensor.</summary>
    internal static Tensor Plus(this Tensor t, Tensor other, double alpha) => With(t, other, alpha, static (t, o, a) => t.add(o, a));

    /// <summary><c>t += value·a·b</c>, in place (<paramref name="a"/> and <paramref name="b"/> may be one tensor).</summary>
    internal static Tensor AddcmulInPlace(this Tensor t, Tensor a, Tensor b, double value)
    {
        using var s = value.ToScalar();
        return t.addcmul_(a, b, s);
    }

    /// <summary><c>t *= factor</c>, in place.</summary>
    internal static Tensor MulInPlace(this Tensor t, double factor) => With(t, factor, static (t, s) => t.mul_(s));

    /// <summary><c>t · factor</c>, a new tensor.</summary>
    internal static Tensor Times(this Tensor t, double factor) => With(t, factor, static (t, s) => t.mul(s));

    /// <summary><c>t /= divisor</c>, in place.</summary>
    internal static Tensor DivInPlace(this Tensor t, double divisor) => With(t, divisor, static (t, s) => t.div_(s));

    /// <summary>Every element of <paramref name="t"/> set to <paramref name="value"/>.</summary>
    internal static Tensor FillInPlace(this Tensor t, double value) => With(t, value, static (t, s) => t.fill_(s));

    /// <summary><c>t = min(t, max)</c>, in place.</summary>
    internal static Tensor ClampMaxInPlace(this Tensor t, double max) => With(t, max, static (t, s) => t.clamp_max_(s));
}
