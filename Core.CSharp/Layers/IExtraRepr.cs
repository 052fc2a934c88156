namespace Functional.Layers;

/// <summary>
/// PyTorch's <c>extra_repr</c> for a module written by hand: the settings <see cref="ModelFormat.Format"/> prints
/// between the parentheses, as PyTorch's <c>print(model)</c> prints what a module's <c>extra_repr()</c> returns.
/// </summary>
/// <remarks>A one-line text goes inside the parentheses of a module without children (<c>Scale(factor=2.0)</c>);
/// a module with children, or a text of several lines, prints each line on its own, indented, before the
/// children. An empty text prints nothing, as a module without <c>extra_repr</c>.</remarks>
/// <example><code>
/// public sealed class Scale(double factor) : nn.Module&lt;Tensor, Tensor&gt;(nameof(Scale)), IExtraRepr
/// {
///     public override Tensor forward(Tensor x) => x * factor;
///     public string ExtraRepr() => $"factor={ModelFormat.PythonFloat(factor)}";   // factor=2.0, as Python prints it
/// }
/// </code></example>
public interface IExtraRepr
{
    /// <summary>The module's settings as PyTorch's <c>extra_repr()</c> returns them, e.g. <c>factor=2.0</c>.</summary>
    string ExtraRepr();
}
