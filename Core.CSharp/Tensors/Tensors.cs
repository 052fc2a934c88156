using System.Collections;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Tensor creation the way PyTorch users expect it: from nested data with PyTorch's dtype
/// inference, and the <c>*_like</c> family that keeps a tensor's shape, dtype and device.
/// </summary>
/// <remarks>
/// Every method here copies: the result never shares memory with its argument. Zero-copy views
/// over .NET arrays are the Share/ToArray/AsSpan/CopyTo members here.
/// </remarks>
/// <example><code>
/// using var x = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });   // int64, shape [2, 2]
/// using var r = Tensors.RandLike(x, new torch.Generator(0), ScalarType.Float32);
/// </code></example>
public static partial class Tensors
{
    enum Kind { Bool, Int, Float }

    /// <summary>
    /// Makes a tensor from a scalar, a .NET array (1-D to 4-D or more, rectangular or jagged), or
    /// nested sequences (F# lists, <c>List&lt;T&gt;</c>, ...), copying the data.
    /// </summary>
    /// <remarks>
    /// As in PyTorch, the dtype is inferred from the values when <paramref name="dtype"/> is null:
    /// integers give int64, floating-point numbers give float32, booleans give bool; a mix of
    /// booleans, integers and floats takes the widest kind. Nested sequences must be rectangular.
    /// An empty sequence gives shape [0] with the dtype of its static element type (float32 when
    /// that is unknown).
    /// </remarks>
    /// <param name="data">A scalar, array or nested sequence of bool, integer or floating-point values.</param>
    /// <param name="dtype">The dtype of the result; null infers it as above.</param>
    /// <param name="device">Where the result lives; null is the CPU.</param>
    /// <param name="requiresGrad">Whether autograd records operations on the result.</param>
    /// <exception cref="ArgumentException">The data is ragged or holds values of an unsupported type.</exception>
    public static Tensor Create(object data, ScalarType? dtype = null, Device? device = null, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        Native.EnsureLoaded();
        Tensor cpuTensor;
        if (data is Array array && Tensors.IsShareable(array.GetType().GetElementType()!))
        {
            // Rectangular array of numbers: borrow it without copying, then convert (which copies).
            using var view = torch.from_array(array);
            var target = dtype ?? Default(KindOf(array.GetType().GetElementType()!));
            cpuTensor = view.to(target, copy: true);
        }
        else
        {
            var builder = new Builder();
            var shape = builder.Walk(data, new List<int>());
            var kind = builder.Kind ?? StaticKind(data) ?? Kind.Float;
            var target = dtype ?? Default(kind);
            var dims = shape.Select(d => (long)d).ToArray();
            cpuTensor = kind switch
            {
                Kind.Bool => torch.tensor(builder.Bools.ToArray(), dims, target),
                Kind.Int => torch.tensor(builder.Longs.ToArray(), dims, target),
                _ => torch.tensor(builder.Doubles.ToArray(), dims, target),
            };
        }
        return Finish(cpuTensor, device, requiresGrad);
    }

    static Tensor Finish(Tensor cpuTensor, Device? device, bool requiresGrad)
    {
        var result = cpuTensor;
        if (device is not null && Devices.Check(device).type != DeviceType.CPU)
        {
            result = cpuTensor.to(device);
            cpuTensor.Dispose();
        }
        if (requiresGrad) result.requires_grad_(true);
        return result;
    }

    static ScalarType Default(Kind kind) => kind switch
    {
        Kind.Bool => ScalarType.Bool,
        Kind.Int => ScalarType.Int64,
        _ => ScalarType.Float32,
    };

    static bool IsLeafType(Type t) => t.IsPrimitive && t != typeof(char) && t != typeof(IntPtr) && t != typeof(UIntPtr);

    static Kind KindOf(Type t) =>
        t == typeof(bool) ? Kind.Bool :
        t == typeof(float) || t == typeof(double) ? Kind.Float : Kind.Int;

    static Kind? StaticKind(object data)
    {
        // An empty sequence has no values to infer from: use its static element type, innermost first.
        var type = data.GetType();
        while (true)
        {
            var element = type.IsArray ? type.GetElementType()
                : type.GetInterfaces().Concat(new[] { type })
                    .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
                    ?.GetGenericArguments()[0];
            if (element is null) return null;
            if (IsLeafType(element)) return KindOf(element);
            type = element;
        }
    }

    sealed class Builder
    {
        public readonly List<bool> Bools = new();
        public readonly List<long> Longs = new();
        public readonly List<double> Doubles = new();
        public Kind? Kind;

        void Add(object value)
        {
            Kind k;
            switch (value)
            {
                case bool b: k = Tensors.Kind.Bool; Bools.Add(b); Longs.Add(b ? 1 : 0); Doubles.Add(b ? 1 : 0); break;
                case float f: k = Tensors.Kind.Float; Bools.Add(f != 0); Longs.Add(0); Doubles.Add(f); break;
                case double d: k = Tensors.Kind.Float; Bools.Add(d != 0); Longs.Add(0); Doubles.Add(d); break;
                case ulong u: k = Tensors.Kind.Int; Bools.Add(u != 0); Longs.Add(unchecked((long)u)); Doubles.Add(u); break;
                case sbyte or byte or short or ushort or int or uint or long:
                    var l = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                    k = Tensors.Kind.Int; Bools.Add(l != 0); Longs.Add(l); Doubles.Add(l); break;
                default:
                    throw new ArgumentException(
                        $"Cannot make a tensor from a value of type {value.GetType().FullName}: expected bool, an integer type, " +
                        "float or double (or arrays/sequences of them).", "data");
            }
            Kind = Kind is null ? k : (Tensors.Kind)Math.Max((int)Kind.Value, (int)k);
        }

        /// <summary>Adds the values under <paramref name="node"/> and returns its shape.</summary>
        public List<int> Walk(object node, List<int> path)
        {
            if (node is Array array && array.Rank > 1)
            {
                if (!IsLeafType(array.GetType().GetElementType()!))
                    throw new ArgumentException($"Multi-dimensional arrays of {array.GetType().GetElementType()} are not supported: use arrays of numbers or bools.", "data");
                foreach (var v in array) Add(v!);
                return Enumerable.Range(0, array.Rank).Select(array.GetLength).ToList();
            }
            if (node is string)
                throw new ArgumentException("Cannot make a tensor from a string.", "data");
            if (node is IEnumerable sequence)
            {
                List<int>? first = null;
                var count = 0;
                foreach (var child in sequence)
                {
                    if (child is null) throw new ArgumentException($"Element {Where(path, count)} is null.", "data");
                    path.Add(count);
                    var shape = Walk(child, path);
                    path.RemoveAt(path.Count - 1);
                    if (first is null) first = shape;
                    else if (!first.SequenceEqual(shape))
                        throw new ArgumentException(
                            $"Ragged data: element {Where(path, count)} has shape {Shapes.Text(shape)} but element {Where(path, 0)} " +
                            $"has shape {Shapes.Text(first)}. A tensor needs every row of a dimension to have the same length.", "data");
                    count++;
                }
                var result = new List<int> { count };
                if (first is not null) result.AddRange(first);
                return result;
            }
            Add(node);
            return new List<int>();
        }

        static string Where(List<int> path, int index) => "[" + string.Join("][", path.Append(index)) + "]";
    }

    static ScalarType Floating(Tensor like, ScalarType? dtype, string method)
    {
        var target = dtype ?? like.dtype;
        if (!IsFloatingPoint(target))
            throw new ArgumentException(
                $"{method} draws floating-point random numbers, but the dtype is {Tensors.DTypeName(target)} (ScalarType.{target}, from " +
                $"{(dtype is null ? $"the tensor of shape {Shapes.Text(like.shape)}" : "the dtype argument")}). " +
                $"Pass a floating dtype, e.g. {method}(t, generator, ScalarType.Float32) (PyTorch: torch.rand_like(t, dtype=torch.float)).",
                dtype is null ? "like" : "dtype");
        return target;
    }

    /// <summary>Zeros with the shape, dtype and device of <paramref name="like"/> (dtype overridable).</summary>
    public static Tensor ZerosLike(Tensor like, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        return torch.zeros(like.shape, dtype ?? like.dtype, like.device);
    }

    /// <summary>Ones with the shape, dtype and device of <paramref name="like"/> (dtype overridable).</summary>
    public static Tensor OnesLike(Tensor like, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        return torch.ones(like.shape, dtype ?? like.dtype, like.device);
    }

    /// <summary>A tensor filled with <paramref name="value"/>, with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor FullLike(Tensor like, double value, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        using var fill = value.ToScalar();      // disposed after the call, so alive through it (see KeptScalars)
        return torch.full(like.shape, fill, dtype ?? like.dtype, like.device);
    }

    /// <summary>An uninitialised tensor with the shape, dtype and device of <paramref name="like"/>:
    /// the fastest way to get a buffer that will be overwritten anyway.</summary>
    public static Tensor EmptyLike(Tensor like, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        return torch.empty(like.shape, dtype ?? like.dtype, like.device);
    }

    /// <summary>Uniform random numbers in [0, 1) with the shape and device of <paramref name="like"/>,
    /// drawn from <paramref name="generator"/> so that a seed reproduces them.</summary>
    /// <exception cref="ArgumentException">The dtype (of <paramref name="like"/>, or the override) is not floating-point.</exception>
    public static Tensor RandLike(Tensor like, Generator generator, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        ArgumentNullException.ThrowIfNull(generator);
        var target = Floating(like, dtype, nameof(RandLike));
        return torch.rand(like.shape, target, like.device, generator: generator);
    }

    /// <summary>Standard normal random numbers with the shape and device of <paramref name="like"/>,
    /// drawn from <paramref name="generator"/>.</summary>
    /// <exception cref="ArgumentException">The dtype (of <paramref name="like"/>, or the override) is not floating-point.</exception>
    public static Tensor RandnLike(Tensor like, Generator generator, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(like);
        ArgumentNullException.ThrowIfNull(generator);
        var target = Floating(like, dtype, nameof(RandnLike));
        return torch.randn(like.shape, target, like.device, generator: generator);
    }

    /// <summary>The tensor on <paramref name="device"/>: the same tensor object's data when it is already
    /// there (as a new handle), else a copy.</summary>
    public static Tensor To(this Tensor tensor, Device device)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(device);
        return tensor.to(device);
    }

    /// <summary>
    /// The matrix product a @ b (PyTorch's matmul, with its broadcasting), with the shapes checked first.
    /// </summary>
    /// <remarks>TorchSharp 0.107's native <c>matmul</c> does not catch LibTorch's shape error, which then
    /// aborts the whole process; this checks PyTorch's rules before the call and throws instead.</remarks>
    /// <exception cref="ArgumentException">The shapes cannot be multiplied, or the dtypes differ; the message names both shapes.</exception>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        long[] sa = a.shape, sb = b.shape;
        void Fail(string why) => throw new ArgumentException(
            $"matmul: shapes {Shapes.Text(sa)} and {Shapes.Text(sb)} cannot be multiplied: {why}", nameof(b));
        if (sa.Length == 0 || sb.Length == 0) Fail("both tensors need at least one dimension (multiply by a scalar with mul).");
        var inner = sb.Length == 1 ? sb[0] : sb[^2];
        if (sa[^1] != inner)
            Fail($"the last size of the first ({sa[^1]}) must equal the {(sb.Length == 1 ? "only" : "second-to-last")} size of the second ({inner}).");
        long[] ba = sa.Length > 2 ? sa[..^2] : Array.Empty<long>(), bb = sb.Length > 2 ? sb[..^2] : Array.Empty<long>();
        if (!Shapes.Broadcastable(ba, bb)) Fail("the batch dimensions cannot be broadcast together.");
        if (a.dtype != b.dtype) Fail($"the dtypes differ ({Tensors.DTypeName(a.dtype)} and {Tensors.DTypeName(b.dtype)}); convert one first.");
        if (!Devices.IsOn(b, a.device)) Fail("the tensors are on different devices.");
        return torch.matmul(a, b);
    }

    /// <summary>A shape as PyTorch prints it in messages, e.g. <c>[64, 1, 28, 28]</c>.</summary>
    public static string ShapeText(IEnumerable<long> shape) => Shapes.Text(shape);

    /// <summary>Whether two shapes broadcast together (PyTorch's rule: aligned from the last dimension,
    /// each pair equal or one of them 1).</summary>
    public static bool AreBroadcastable(IReadOnlyList<long> a, IReadOnlyList<long> b) => Shapes.Broadcastable(a, b);

    /// <summary>Whether a tensor of shape <paramref name="source"/> broadcasts to <paramref name="target"/>
    /// without changing it (what an in-place write or <c>expand</c> needs).</summary>
    public static bool BroadcastsTo(IReadOnlyList<long> source, IReadOnlyList<long> target) => Shapes.BroadcastsTo(source, target);

    /// <summary>Whether the dtype is a floating-point type (float16, bfloat16, float32, float64).</summary>
    public static bool IsFloatingPoint(ScalarType dtype) =>
        dtype is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;
}
