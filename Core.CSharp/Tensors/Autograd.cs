using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Autograd as the tutorial uses it: <c>backward</c> with <c>retainGraph</c> and errors that say
/// what to do, a no-grad scope, and gradient bookkeeping.
/// </summary>
/// <remarks>
/// PyTorch's <c>t.grad_fn</c> (e.g. <c>&lt;AddBackward0&gt;</c>) is not available: TorchSharp 0.107 and
/// its native shim expose no autograd-node accessor. <see cref="HasGradFn"/> says whether there is one.
/// </remarks>
/// <example><code>
/// using var w = torch.randn(5, 3, generator: gen).requires_grad_();
/// using var loss = ...;
/// loss.Backward(retainGraph: true);   // a second Backward is allowed
/// using (Autograd.NoGrad()) { /* w * 2 does not require grad here */ }
/// </code></example>
public static partial class Autograd
{
    /// <summary>A scope in which operations are not recorded by autograd (PyTorch's <c>with torch.no_grad():</c>);
    /// dispose it to restore the previous mode.</summary>
    public static IDisposable NoGrad()
    {
        Native.EnsureLoaded();
        return torch.no_grad();
    }

    /// <summary>A scope in which autograd records operations even inside <see cref="NoGrad"/>.</summary>
    public static IDisposable EnableGrad()
    {
        Native.EnsureLoaded();
        return torch.enable_grad();
    }

    /// <summary>Whether operations are being recorded on this thread now.</summary>
    public static bool IsGradEnabled
    {
        get { Native.EnsureLoaded(); return torch.is_grad_enabled(); }
    }

    /// <summary>
    /// Computes the gradient of a scalar <paramref name="tensor"/> with respect to the leaves that
    /// require grad, and adds it to their <c>.grad</c> (gradients accumulate across calls).
    /// </summary>
    /// <param name="tensor">A scalar (one-element) result.</param>
    /// <param name="retainGraph">Keep the graph so that <c>Backward</c> can run through it again.</param>
    /// <exception cref="InvalidOperationException">The graph was already freed by an earlier backward
    /// without <paramref name="retainGraph"/>, or nothing in the tensor requires grad.</exception>
    /// <exception cref="ArgumentException">The tensor is not a scalar.</exception>
    public static void Backward(this Tensor tensor, bool retainGraph = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.numel() != 1)
            throw new ArgumentException(
                $"Backward without a gradient needs a scalar, but the tensor has shape {Shapes.Text(tensor.shape)}. " +
                "Reduce it first (e.g. t.sum() or t.mean()) or pass a gradient of the same shape: Backward(gradient).",
                nameof(tensor));
        Run(tensor, () => tensor.backward(retain_graph: retainGraph));
    }

    /// <summary>Backward with an explicit output gradient (the vector of a vector-Jacobian product), for non-scalar results.</summary>
    /// <exception cref="ArgumentException">The gradient's shape differs from the tensor's.</exception>
    public static void Backward(this Tensor tensor, Tensor gradient, bool retainGraph = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(gradient);
        if (!tensor.shape.SequenceEqual(gradient.shape))
            throw new ArgumentException(
                $"The gradient has shape {Shapes.Text(gradient.shape)} but the tensor has shape {Shapes.Text(tensor.shape)}: " +
                "pass a gradient of the tensor's shape.", nameof(gradient));
        Run(tensor, () => tensor.backward(new[] { gradient }, retain_graph: retainGraph));
    }

    static void Run(Tensor tensor, Action backward)
    {
        if (!tensor.requires_grad)
            throw new InvalidOperationException(
                "Backward was called on a tensor that does not require grad, so there is no graph to go back through. " +
                "Create the leaves with requires_grad (torch.randn(..., requires_grad: true) or t.requires_grad_()), " +
                "and compute the result outside Autograd.NoGrad() and without detach().");
        try
        {
            backward();
        }
        catch (ExternalException e) when (e.Message.Contains("backward through the graph a second time", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                "Backward ran through a graph whose saved values were freed by an earlier Backward. Pass retainGraph: true " +
                "to the earlier call (F#: Tensor.backwardRetain, or Tensor.backwardWith gradient true) to run backward through the same " +
                "graph again, or recompute the result.", e);
        }
    }

    /// <summary>Sets <c>.grad</c> of each tensor to zero in place, so that the next backward does not add to old gradients.</summary>
    public static void ZeroGrad(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var t in tensors)
        {
            using var g = t.grad;
            g?.zero_();
        }
    }

    /// <summary>Whether the tensor was made by an operation that autograd recorded, i.e. PyTorch's
    /// <c>t.grad_fn is not None</c>. (The node's name is not reachable through TorchSharp 0.107.)</summary>
    public static bool HasGradFn(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.requires_grad && !tensor.is_leaf;
    }
}
