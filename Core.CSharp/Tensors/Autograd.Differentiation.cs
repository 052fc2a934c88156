using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Functional differentiation in the style of DiffSharp: derivatives of functions
/// <c>Tensor → Tensor</c>, built on TorchSharp's reverse-mode <c>torch.autograd.grad</c>.
/// </summary>
/// <remarks>
/// <para>Calls nest: a function may take derivatives inside, and the outer derivative is right
/// (the classic perturbation-confusion case d/dx (x · d/dy (x + y)) = 1 holds). Inside an outer
/// derivative, or when <c>x</c> requires grad, results keep their graph (PyTorch's
/// <c>create_graph=True</c>) so they can be differentiated again; otherwise they are detached.</para>
/// <para>Memory: every tensor created while <c>f</c> runs is disposed when the call returns; the
/// returned tensors are fresh and belong to the caller's dispose scope. Arguments are never disposed.</para>
/// <para>Forward-mode products (<see cref="Jvp"/>, <see cref="Diff"/>) use the double-vjp identity
/// J v = ∂/∂u (uᵀ J v), so they need <c>f</c> to be twice differentiable by autograd.</para>
/// </remarks>
/// <example><code>
/// using var x = torch.tensor(new[] { 1.0, 2.0 });
/// using var g = Autograd.Grad(t => (t * t).sum(), x);     // [2, 4]
/// using var h = Autograd.Hessian(t => (t * t * t).sum(), x); // diag(6x)
/// </code></example>
public static partial class Autograd
{
    [ThreadStatic] static int depth;

    static T Run<T>(Func<T> body)
    {
        Native.EnsureLoaded();
        depth++;
        try
        {
            using var grad = torch.enable_grad();
            return body();
        }
        finally
        {
            depth--;
        }
    }


    // Inside an outer derivative (depth > 1 once Run has counted this call), or when the caller's x is
    // itself tracked, the results must stay differentiable.
    static bool CreateGraph(Tensor x) => depth > 1 || x.requires_grad;

    static Tensor Input(Tensor x, string name)
    {
        if (!Tensors.IsFloatingPoint(x.dtype))
            throw new ArgumentException(
                $"Only floating-point tensors can be differentiated, but {name} has dtype {Tensors.DTypeName(x.dtype)} and shape {Shapes.Of(x)}. " +
                $"Convert it first, e.g. x.to(ScalarType.Float64).", name);
        // A tracked x gets a fresh node so that the derivative is taken with respect to this call's input only.
        return x.requires_grad ? x.view_as(x) : x.detach().requires_grad_(true);
    }

    static Tensor Call(Func<Tensor, Tensor> f, Tensor xi)
    {
        var y = f(xi) ?? throw new ArgumentException("The function returned null instead of a tensor.", nameof(f));
        return y;
    }

    // A fresh handle on the value, differentiable or not as asked, owned by the caller's scope.
    static Tensor Keep(Tensor y, bool createGraph) =>
        (createGraph ? y.alias() : y.detach()).MoveToOuterDisposeScope();

    // The shape of every f-form: evaluate f on a fresh input node inside Run and a dispose scope, derive
    // from (y, xi, createGraph), and return the value and the derivative, both owned by the caller.
    static (Tensor Value, Tensor Result) Evaluate(Func<Tensor, Tensor> f, Tensor x, Func<Tensor, Tensor, bool, Tensor> derive)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        return Run(() =>
        {
            using var scope = torch.NewDisposeScope();
            var createGraph = CreateGraph(x);
            var xi = Input(x, nameof(x));
            var y = Call(f, xi);
            var result = derive(y, xi, createGraph);
            return (Keep(y, createGraph), result.MoveToOuterDisposeScope());
        });
    }

    // The derivative alone: every plain form is its f-form with the value disposed.
    static Tensor WithoutValue((Tensor Value, Tensor Result) both)
    {
        both.Value.Dispose();
        return both.Result;
    }

    // vᵀ ∂y/∂xi, zeros when y does not depend on xi.
    static Tensor VjpCore(Tensor y, Tensor xi, Tensor v, bool createGraph, bool retainGraph)
    {
        if (!y.requires_grad) return torch.zeros_like(xi);
        try
        {
            return torch.autograd.grad(new[] { y }, new[] { xi }, new[] { v },
                retain_graph: retainGraph || createGraph, create_graph: createGraph)[0];
        }
        catch (ExternalException e) when (e.Message.Contains("not have been used in the graph", StringComparison.Ordinal))
        {
            return torch.zeros_like(xi);
        }
    }

    // J v at xi by the double-vjp identity: g(u) = Jᵀu is linear in u, and ∂/∂u ⟨g(u), v⟩ = J v.
    static Tensor JvpCore(Tensor y, Tensor xi, Tensor v, bool createGraph)
    {
        if (!y.requires_grad) return torch.zeros_like(y);
        var u = torch.zeros_like(y).requires_grad_(true);
        var g = VjpCore(y, xi, u, createGraph: true, retainGraph: true);
        if (!g.requires_grad) return torch.zeros_like(y);
        try
        {
            return torch.autograd.grad(new[] { g }, new[] { u }, new[] { v },
                retain_graph: createGraph, create_graph: createGraph)[0];
        }
        catch (ExternalException e) when (e.Message.Contains("not have been used in the graph", StringComparison.Ordinal))
        {
            return torch.zeros_like(y);
        }
    }

    static void CheckScalar(Tensor y, string function)
    {
        if (y.numel() != 1)
            throw new ArgumentException(
                $"{function} needs f to return a scalar, but f returned shape {Shapes.Of(y)}. Reduce the output (sum, mean) " +
                "or use Jacobian/Vjp for vector-valued functions.", "f");
    }

    static void CheckSameShape(Tensor expected, Tensor v, string what)
    {
        if (!expected.shape.SequenceEqual(v.shape))
            throw new ArgumentException($"v has shape {Shapes.Of(v)} but {what} has shape {Shapes.Of(expected)}: pass a v of {what}'s shape.", "v");
    }

    /// <summary>The value f(x) and the gradient ∇f(x) of a scalar-valued f (same shape as x).</summary>
    public static (Tensor Value, Tensor Gradient) FGrad(Func<Tensor, Tensor> f, Tensor x) =>
        Evaluate(f, x, (y, xi, createGraph) =>
        {
            CheckScalar(y, nameof(Grad));
            using var one = torch.ones_like(y);
            return VjpCore(y, xi, one, createGraph, retainGraph: false);
        });

    /// <summary>The gradient ∇f(x) of a scalar-valued f, shaped like x.</summary>
    public static Tensor Grad(Func<Tensor, Tensor> f, Tensor x) =>
        WithoutValue(FGrad(f, x));

    /// <summary>The value and the directional derivative ⟨∇f(x), v⟩ (a scalar) of a scalar-valued f.</summary>
    public static (Tensor Value, Tensor Derivative) FGradv(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(x);
        CheckSameShape(x, v, "x");
        using var scope = torch.NewDisposeScope();
        var (value, gradient) = FGrad(f, x);
        var d = (gradient * v).sum();
        return (value.MoveToOuterDisposeScope(), d.MoveToOuterDisposeScope());
    }

    /// <summary>The directional derivative ⟨∇f(x), v⟩ of a scalar-valued f.</summary>
    public static Tensor Gradv(Func<Tensor, Tensor> f, Tensor x, Tensor v) =>
        WithoutValue(FGradv(f, x, v));

    /// <summary>The value f(x) and the Jacobian-vector product J v (shaped like f(x)); v is shaped like x.</summary>
    public static (Tensor Value, Tensor Jvp) FJvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(v);
        CheckSameShape(x, v, "x");
        return Evaluate(f, x, (y, xi, createGraph) => JvpCore(y, xi, v.to(y.dtype), createGraph));
    }

    /// <summary>The Jacobian-vector product J v of f at x (forward-mode derivative along v), shaped like f(x).</summary>
    public static Tensor Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v) =>
        WithoutValue(FJvp(f, x, v));

    /// <summary>The value f(x) and the vector-Jacobian product vᵀ J (shaped like x); v is shaped like f(x).</summary>
    public static (Tensor Value, Tensor Vjp) FVjp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return Evaluate(f, x, (y, xi, createGraph) =>
        {
            CheckSameShape(y, v, "f(x)");
            return VjpCore(y, xi, v.to(y.dtype), createGraph, retainGraph: false);
        });
    }

    /// <summary>The vector-Jacobian product vᵀ J of f at x (reverse-mode derivative), shaped like x.</summary>
    public static Tensor Vjp(Func<Tensor, Tensor> f, Tensor x, Tensor v) =>
        WithoutValue(FVjp(f, x, v));

    /// <summary>The value f(x) and the derivative df/dx at a scalar x (shaped like f(x)).</summary>
    /// <exception cref="ArgumentException">x has more than one element.</exception>
    public static (Tensor Value, Tensor Derivative) FDiff(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.numel() != 1)
            throw new ArgumentException($"Diff differentiates at a scalar x, but x has shape {Shapes.Of(x)}. Use Jvp with a direction, or Jacobian.", nameof(x));
        Native.EnsureLoaded();
        using var one = torch.ones_like(x);
        return FJvp(f, x, one);
    }

    /// <summary>The derivative df/dx of f at a scalar x, shaped like f(x).</summary>
    public static Tensor Diff(Func<Tensor, Tensor> f, Tensor x) =>
        WithoutValue(FDiff(f, x));

    /// <summary>The value f(x) and the Jacobian ∂f(x)/∂x, of shape f(x).shape ++ x.shape ([m, n] for vectors).</summary>
    public static (Tensor Value, Tensor Jacobian) FJacobian(Func<Tensor, Tensor> f, Tensor x) =>
        Evaluate(f, x, (y, xi, createGraph) =>
        {
            var shape = y.shape.Concat(x.shape).ToArray();
            var m = y.numel();
            Tensor jacobian;
            if (!y.requires_grad || m == 0 || x.numel() == 0)
            {
                jacobian = torch.zeros(shape, y.dtype, y.device);
            }
            else
            {
                var rows = new Tensor[m];
                var identity = torch.eye(m, dtype: y.dtype, device: y.device);
                for (var i = 0L; i < m; i++)
                    rows[i] = VjpCore(y, xi, identity[i].view(y.shape), createGraph, retainGraph: true).reshape(-1);
                // + 0 turns the -0.0 entries that one-hot products leave (cos(x) · 0 for cos(x) < 0) into 0.
                jacobian = torch.stack(rows).reshape(shape).Plus(0.0);
            }
            return jacobian;
        });

    /// <summary>The Jacobian ∂f(x)/∂x, of shape f(x).shape ++ x.shape.</summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x) =>
        WithoutValue(FJacobian(f, x));

    /// <summary>The value f(x) and the Hessian of a scalar-valued f, of shape x.shape ++ x.shape.</summary>
    public static (Tensor Value, Tensor Hessian) FHessian(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        using var scope = torch.NewDisposeScope();
        var (_, hessian) = FJacobian(z => Grad(f, z), x);
        var (value, _) = FGrad(f, x);
        return (value.MoveToOuterDisposeScope(), hessian.MoveToOuterDisposeScope());
    }

    /// <summary>The Hessian of a scalar-valued f at x, of shape x.shape ++ x.shape.</summary>
    public static Tensor Hessian(Func<Tensor, Tensor> f, Tensor x) =>
        WithoutValue(FHessian(f, x));
}
