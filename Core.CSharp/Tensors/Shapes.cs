using static TorchSharp.torch;

namespace Functional;

/// <summary>Shape text, written one way everywhere: as PyTorch prints a size, <c>[1, 28, 28]</c>.</summary>
internal static class Shapes
{
    /// <summary><c>[d0, d1, ...]</c>.</summary>
    internal static string Text<T>(IEnumerable<T> dimensions) => "[" + string.Join(", ", dimensions) + "]";

    /// <summary>The tensor's shape as <c>[d0, d1, ...]</c>.</summary>
    internal static string Of(Tensor tensor) => Text(tensor.shape);
}
