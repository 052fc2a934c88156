using static TorchSharp.torch;

namespace Functional;

/// <summary>Shape text, written one way everywhere: as PyTorch prints a size, <c>[1, 28, 28]</c>.</summary>
internal static class Shapes
{
    /// <summary><c>[d0, d1, ...]</c>.</summary>
    internal static string Text<T>(IEnumerable<T> dimensions) => "[" + string.Join(", ", dimensions) + "]";

    /// <summary>The tensor's shape as <c>[d0, d1, ...]</c>.</summary>
    internal static string Of(Tensor tensor) => Text(tensor.shape);

    /// <summary>PyTorch's broadcasting rule, written once: aligned from the last dimension, each pair
    /// of sizes is equal or one of them is 1 (a missing dimension counts as 1).</summary>
    internal static bool Broadcastable(IReadOnlyList<long> a, IReadOnlyList<long> b)
    {
        for (var i = 1; i <= Math.Max(a.Count, b.Count); i++)
        {
            var da = i <= a.Count ? a[^i] : 1;
            var db = i <= b.Count ? b[^i] : 1;
            if (da != db && da != 1 && db != 1) return false;
        }
        return true;
    }

    /// <summary>Whether <paramref name="source"/> broadcasts to exactly <paramref name="target"/> (as
    /// <c>copy_</c> and slice assignment need): no more dimensions, each size equal or 1.</summary>
    internal static bool BroadcastsTo(IReadOnlyList<long> source, IReadOnlyList<long> target)
    {
        if (source.Count > target.Count) return false;
        for (var i = 1; i <= source.Count; i++)
            if (source[^i] != 1 && source[^i] != target[^i]) return false;
        return true;
    }
}
