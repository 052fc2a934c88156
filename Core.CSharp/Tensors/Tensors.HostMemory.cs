using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Tensors and .NET memory, PyTorch's "bridge with NumPy" done for .NET arrays and spans.
/// </summary>
/// <remarks>
/// <para><b>Shares memory</b> (no copy): <see cref="Share{T}(T[], long[])"/> and <see cref="Share(Array)"/>
/// (a tensor over a .NET array: the array stays pinned until the tensor and every view of it are
/// disposed), and <see cref="AsSpan{T}(Tensor)"/> (a span over a CPU tensor's own memory, PyTorch's
/// <c>t.numpy()</c>: valid only while the tensor is alive). A write through either side is seen by the other.</para>
/// <para><b>Copies</b>: <see cref="CopyTo{T}(Tensor, Span{T})"/>, <see cref="ToArray{T}(Tensor)"/>,
/// and <see cref="Tensors.Create"/>; so do tensor operations that change dtype or device.</para>
/// </remarks>
/// <example><code>
/// var n = new double[] { 1, 1, 1, 1, 1 };
/// using var t = Tensors.Share(n);
/// t.add_(1);                                 // n is now { 2, 2, 2, 2, 2 }
/// </code></example>
public static partial class Tensors
{
    internal static bool IsShareable(Type t) =>
        t == typeof(bool) || t == typeof(byte) || t == typeof(sbyte) || t == typeof(short) ||
        t == typeof(int) || t == typeof(long) || t == typeof(float) || t == typeof(double);

    /// <summary>The dtype that holds a .NET element type bit for bit.</summary>
    /// <exception cref="ArgumentException">There is no such dtype (only bool, byte, sbyte, short, int, long, float, double).</exception>
    public static ScalarType DTypeOf(Type elementType)
    {
        ArgumentNullException.ThrowIfNull(elementType);
        if (elementType == typeof(bool)) return ScalarType.Bool;
        if (elementType == typeof(byte)) return ScalarType.Byte;
        if (elementType == typeof(sbyte)) return ScalarType.Int8;
        if (elementType == typeof(short)) return ScalarType.Int16;
        if (elementType == typeof(int)) return ScalarType.Int32;
        if (elementType == typeof(long)) return ScalarType.Int64;
        if (elementType == typeof(float)) return ScalarType.Float32;
        if (elementType == typeof(double)) return ScalarType.Float64;
        throw new ArgumentException(
            $"No tensor dtype stores {elementType.FullName}: use bool, byte, sbyte, short, int, long, float or double.",
            nameof(elementType));
    }

    /// <summary>
    /// A CPU tensor that uses <paramref name="array"/> as its storage, reshaped to <paramref name="shape"/>
    /// (default: the array's length). The dtype is the element type's (float → float32, double → float64, ...).
    /// </summary>
    /// <exception cref="ArgumentException">The shape does not have as many elements as the array.</exception>
    public static Tensor Share<T>(T[] array, params long[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(shape);
        DTypeOf(typeof(T));
        Native.EnsureLoaded();
        if (shape.Length == 0) shape = new[] { (long)array.Length };
        var count = shape.Aggregate(1L, (a, b) => a * b);
        if (shape.Any(d => d < 0) || count != array.LongLength)
            throw new ArgumentException(
                $"Shape {Shapes.Text(shape)} has {count} elements but the array has {array.LongLength}: " +
                "pass a shape whose sizes multiply to the array's length.", nameof(shape));
        var flat = torch.from_array(array);
        if (shape.Length == 1) return flat;
        using (flat) return flat.view(shape);
    }

    /// <summary>
    /// A CPU tensor that uses a .NET array of any rank (<c>float[,]</c>, <c>int[,,]</c>, ...) as its
    /// storage, with the array's shape and element type.
    /// </summary>
    /// <exception cref="ArgumentException">The element type has no dtype, or the array is jagged.</exception>
    public static Tensor Share(Array array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var element = array.GetType().GetElementType()!;
        if (element.IsArray)
            throw new ArgumentException(
                "A jagged array is not one block of memory, so a tensor cannot share it. Use Tensors.Create (it copies) " +
                "or a rectangular array (T[,]).", nameof(array));
        DTypeOf(element);
        Native.EnsureLoaded();
        return torch.from_array(array);
    }

    /// <summary>
    /// A span over the memory of a contiguous CPU tensor whose dtype is <typeparamref name="T"/>'s, without
    /// copying: PyTorch's <c>t.numpy()</c>. Writes through the span change the tensor and the other way round.
    /// </summary>
    /// <remarks>The span points into native memory that the tensor owns: do not use it after the tensor is disposed.</remarks>
    /// <exception cref="ArgumentException">The tensor is not on the CPU, not contiguous, or of another dtype.</exception>
    public static Span<T> AsSpan<T>(this Tensor tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dtype = DTypeOf(typeof(T));
        var problem =
            tensor.device_type != DeviceType.CPU ? "it is not on the CPU (copy it with .cpu() first)" :
            !tensor.is_contiguous() ? "it is not contiguous (use .contiguous(), which copies)" :
            tensor.dtype != dtype ? $"its dtype is {Tensors.DTypeName(tensor.dtype)}, not {Tensors.DTypeName(dtype)} (ask for the matching element type)" :
            null;
        if (problem is not null)
            throw new ArgumentException($"A span over the tensor of shape {Shapes.Text(tensor.shape)} is not possible: {problem}.", nameof(tensor));
        if (tensor.numel() == 0) return Span<T>.Empty;
        return MemoryMarshal.Cast<byte, T>(tensor.bytes);
    }

    /// <summary>
    /// Copies the tensor's elements in row-major order into <paramref name="destination"/>, converting
    /// to <typeparamref name="T"/> if the dtype differs; works for any device and any strides.
    /// </summary>
    /// <exception cref="ArgumentException">The destination is shorter than the tensor.</exception>
    public static void CopyTo<T>(this Tensor tensor, Span<T> destination) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dtype = DTypeOf(typeof(T));
        var count = tensor.numel();
        if (destination.Length < count)
            throw new ArgumentException(
                $"The tensor of shape {Shapes.Text(tensor.shape)} has {count} elements but the destination holds only " +
                $"{destination.Length}: pass a span of at least {count}.", nameof(destination));
        if (count == 0) return;
        using var scope = torch.NewDisposeScope();
        var source = tensor.detach();
        if (source.device_type != DeviceType.CPU) source = source.cpu();
        if (source.dtype != dtype) source = source.to(dtype);
        if (!source.is_contiguous()) source = source.contiguous();
        MemoryMarshal.Cast<byte, T>(source.bytes).CopyTo(destination);
    }

    /// <summary>Copies the tensor into <paramref name="destination"/> (see <see cref="CopyTo{T}(Tensor, Span{T})"/>).</summary>
    public static void CopyTo<T>(this Tensor tensor, T[] destination) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(destination);
        CopyTo(tensor, destination.AsSpan());
    }

    /// <summary>A new flat array with the tensor's elements in row-major order (a copy).</summary>
    public static T[] ToArray<T>(this Tensor tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var result = new T[tensor.numel()];
        CopyTo(tensor, result.AsSpan());
        return result;
    }
}
