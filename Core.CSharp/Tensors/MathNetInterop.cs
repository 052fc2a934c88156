using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// MathNet.Numerics vectors and matrices (float32 and float64) to and from tensors.
/// </summary>
/// <remarks>
/// <para><b>Share memory</b>: <c>AsTensor</c> on a dense vector or matrix returns a CPU tensor over
/// MathNet's own storage; writes are seen on both sides. A matrix is stored column-major by
/// MathNet, so its tensor is a transposed (non-contiguous) view with shape [rows, columns].</para>
/// <para><b>Copy</b>: <c>ToTensor</c> (any storage, any device), <c>ToVector</c> and <c>ToMatrix</c>.</para>
/// </remarks>
/// <example><code>
/// var m = Matrix&lt;double&gt;.Build.DenseOfArray(new double[,] { { 1, 2 }, { 3, 4 } });
/// using var t = m.ToTensor();                 // float64 [2, 2], a copy
/// var back = t.ToMatrix&lt;double&gt;();          // a new MathNet matrix
/// </code></example>
public static class MathNetInterop
{
    static void CheckElement<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new ArgumentException($"MathNet interop supports float and double, not {typeof(T).Name}.", nameof(T));
    }

    /// <summary>A 1-D tensor with a copy of the vector's values (float32 for float, float64 for double).</summary>
    public static Tensor ToTensor<T>(this Vector<T> vector, Device? device = null)
        where T : struct, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(vector);
        CheckElement<T>();
        return Tensors.Create(vector.ToArray(), Tensors.DTypeOf(typeof(T)), device);
    }

    /// <summary>A 2-D tensor [rows, columns] with a copy of the matrix's values.</summary>
    public static Tensor ToTensor<T>(this Matrix<T> matrix, Device? device = null)
        where T : struct, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(matrix);
        CheckElement<T>();
        return Tensors.Create(matrix.ToArray(), Tensors.DTypeOf(typeof(T)), device);
    }

    /// <summary>A CPU tensor over the dense vector's own storage: no copy, writes seen both ways.</summary>
    /// <exception cref="ArgumentException">The vector is not dense (sparse storage cannot be shared): use <see cref="ToTensor{T}(Vector{T}, Device?)"/>.</exception>
    public static Tensor AsTensor<T>(this Vector<T> vector)
        where T : unmanaged, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(vector);
        CheckElement<T>();
        var storage = vector.AsArray()
            ?? throw new ArgumentException("Only a dense vector's storage can be shared; this one is sparse. Use ToTensor, which copies.", nameof(vector));
        return Tensors.Share(storage);
    }

    /// <summary>A CPU tensor [rows, columns] over the dense matrix's own (column-major) storage: no copy,
    /// writes seen both ways. The tensor is a transposed view, so it is not contiguous.</summary>
    /// <exception cref="ArgumentException">The matrix is not dense: use <see cref="ToTensor{T}(Matrix{T}, Device?)"/>.</exception>
    public static Tensor AsTensor<T>(this Matrix<T> matrix)
        where T : unmanaged, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(matrix);
        CheckElement<T>();
        var storage = matrix.AsColumnMajorArray()
            ?? throw new ArgumentException("Only a dense matrix's storage can be shared; this one is not dense. Use ToTensor, which copies.", nameof(matrix));
        using var columns = Tensors.Share(storage, matrix.ColumnCount, matrix.RowCount);
        return columns.t();
    }

    /// <summary>A new MathNet dense vector with a copy of a tensor's elements (any shape, read row-major).</summary>
    public static Vector<T> ToVector<T>(this Tensor tensor)
        where T : unmanaged, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckElement<T>();
        return Vector<T>.Build.Dense(tensor.ToArray<T>());
    }

    /// <summary>A new MathNet dense matrix with a copy of a 2-D tensor.</summary>
    /// <exception cref="ArgumentException">The tensor is not 2-D.</exception>
    public static Matrix<T> ToMatrix<T>(this Tensor tensor)
        where T : unmanaged, IEquatable<T>, IFormattable
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckElement<T>();
        if (tensor.dim() != 2)
            throw new ArgumentException(
                $"A matrix needs a 2-D tensor; this one has shape {Shapes.Text(tensor.shape)}. Reshape it first, e.g. t.reshape(rows, -1).",
                nameof(tensor));
        using var transposed = tensor.t();
        var columnMajor = transposed.ToArray<T>();
        return Matrix<T>.Build.Dense((int)tensor.shape[0], (int)tensor.shape[1], columnMajor);
    }
}
