using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional;

/// <summary>
/// Prints tensor values the way PyTorch does, so that output can be compared with the tutorial's:
/// <c>tensor([[1, 2],\n        [3, 4]])</c>, floats with four decimals aligned (or scientific
/// notation when the range asks for it, or <c>1.</c> when every value is whole), a dtype suffix
/// when the dtype is not the default one, <c>device='cuda:0'</c>, <c>requires_grad=True</c>, and
/// <c>...</c> for tensors of more than 1000 elements.
/// </summary>
/// <remarks>
/// TorchSharp's own <c>ToString()</c> prints metadata only and cannot be overridden from here, so
/// C# calls <see cref="Format"/> or <see cref="Print"/>; F# has <c>Tensor.format</c>/<c>Tensor.print</c>.
/// A non-leaf tensor that requires grad is printed with <c>requires_grad=True</c> where PyTorch would
/// print <c>grad_fn=&lt;AddBackward0&gt;</c>: TorchSharp 0.107 does not expose the autograd node's name.
/// </remarks>
public static partial class Tensors
{
    const int Threshold = 1000, EdgeItems = 3, LineWidth = 80, Precision = 4;

    /// <summary>The PyTorch-style text of a tensor's values and non-default attributes.</summary>
    public static string Format(this Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        const string prefix = "tensor(";
        var indent = prefix.Length;
        var suffixes = new List<string>();
        if (tensor.device_type != DeviceType.CPU) suffixes.Add($"device='{tensor.device}'");
        var data = tensor.detach().cpu();
        string body;
        if (data.is_complex())
        {
            // Complex values are rare in this library; TorchSharp's NumPy-style text is close enough.
            return tensor.ToString(TorchSharp.TensorStringStyle.Numpy);
        }
        if (data.numel() == 0)
        {
            if (data.dim() != 1) suffixes.Add("size=(" + string.Join(", ", data.shape) + ")");
            if (data.dtype != ScalarType.Float32) suffixes.Add("dtype=" + DTypeName(data.dtype));
            body = "[]";
        }
        else
        {
            if (data.dtype is not (ScalarType.Float32 or ScalarType.Int64 or ScalarType.Bool or ScalarType.ComplexFloat32))
                suffixes.Add("dtype=" + DTypeName(data.dtype));
            var summarize = data.numel() > Threshold;
            var formatter = new Formatter(Summarized(data, summarize));
            body = Str(data, indent, summarize, formatter);
        }
        if (tensor.requires_grad) suffixes.Add("requires_grad=True");
        return AddSuffixes(prefix + body, suffixes, indent);
    }

    /// <summary>Writes <see cref="Format"/> and a newline to <paramref name="writer"/> (the console by default), like Python's <c>print(t)</c>.</summary>
    public static void Print(this Tensor tensor, TextWriter? writer = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (writer ?? Console.Out).WriteLine(Format(tensor));
    }

    /// <summary>PyTorch's name of a dtype: <c>torch.float64</c>, <c>torch.int32</c>, ...</summary>
    public static string DTypeName(ScalarType dtype) => "torch." + dtype switch
    {
        ScalarType.Byte => "uint8",
        ScalarType.Int8 => "int8",
        ScalarType.Int16 => "int16",
        ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Bool => "bool",
        ScalarType.ComplexFloat32 => "complex64",
        ScalarType.ComplexFloat64 => "complex128",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    static string AddSuffixes(string text, List<string> suffixes, int indent)
    {
        var sb = new StringBuilder(text);
        var lastLineLength = text.Length - text.LastIndexOf('\n') + 1;
        foreach (var suffix in suffixes)
        {
            if (lastLineLength + suffix.Length + 2 > LineWidth)
            {
                sb.Append(",\n").Append(' ', indent).Append(suffix);
                lastLineLength = indent + suffix.Length;
            }
            else
            {
                sb.Append(", ").Append(suffix);
                lastLineLength += suffix.Length + 2;
            }
        }
        return sb.Append(')').ToString();
    }

    // The values the formatter measures: all of them, or only the printed edges of a large tensor.
    static Tensor Summarized(Tensor t, bool summarize)
    {
        if (!summarize || t.dim() == 0) return t;
        var n = t.shape[0];
        if (t.dim() == 1)
            return n > 2 * EdgeItems ? torch.cat(new[] { t[..EdgeItems], t[(int)(n - EdgeItems)..] }) : t;
        var rows = n > 2 * EdgeItems
            ? Enumerable.Range(0, EdgeItems).Select(i => (long)i).Concat(Enumerable.Range((int)(n - EdgeItems), EdgeItems).Select(i => (long)i))
            : Enumerable.Range(0, (int)n).Select(i => (long)i);
        return torch.stack(rows.Select(i => Summarized(t[i], true)).ToArray());
    }

    static string Str(Tensor t, int indent, bool summarize, Formatter f)
    {
        var dim = (int)t.dim();
        if (dim == 0) return f.Format(t);
        var n = t.shape[0];
        var elided = summarize && n > 2 * EdgeItems;
        if (dim == 1)
        {
            var elementLength = f.Width + 2;
            var perLine = Math.Max(1, (LineWidth - indent) / elementLength);
            var items = new List<string>();
            if (elided)
            {
                for (var i = 0; i < EdgeItems; i++) items.Add(f.Format(t[i]));
                items.Add(" ...");
                for (var i = n - EdgeItems; i < n; i++) items.Add(f.Format(t[i]));
            }
            else
            {
                for (var i = 0L; i < n; i++) items.Add(f.Format(t[i]));
            }
            var lines = items.Chunk(perLine).Select(chunk => string.Join(", ", chunk));
            return "[" + string.Join(",\n" + new string(' ', indent + 1), lines) + "]";
        }
        var slices = new List<string>();
        if (elided)
        {
            for (var i = 0; i < EdgeItems; i++) slices.Add(Str(t[i], indent + 1, summarize, f));
            slices.Add("...");
            for (var i = n - EdgeItems; i < n; i++) slices.Add(Str(t[i], indent + 1, summarize, f));
        }
        else
        {
            for (var i = 0L; i < n; i++) slices.Add(Str(t[i], indent + 1, summarize, f));
        }
        return "[" + string.Join("," + new string('\n', dim - 1) + new string(' ', indent + 1), slices) + "]";
    }

    /// <summary>PyTorch's _Formatter: one width and one notation for every element of a tensor.</summary>
    sealed class Formatter
    {
        readonly bool floating, isBool, intMode = true, sciMode;
        public int Width { get; } = 1;

        public Formatter(Tensor values)
        {
            var dtype = values.dtype;
            isBool = dtype == ScalarType.Bool;
            floating = Tensors.IsFloatingPoint(dtype);
            if (!floating)
            {
                foreach (var v in Values(values)) Width = Math.Max(Width, PlainText(v).Length);
                return;
            }
            var finite = values.reshape(-1).to(ScalarType.Float64).ToArray<double>()
                .Where(v => double.IsFinite(v) && v != 0).ToArray();
            if (finite.Length == 0) return;
            var abs = finite.Select(Math.Abs).ToArray();
            double min = abs.Min(), max = abs.Max();
            intMode = finite.All(v => v == Math.Ceiling(v));
            if (intMode)
            {
                if (max / min > 1000.0 || max > 1.0e8)
                {
                    sciMode = true;
                    foreach (var v in finite) Width = Math.Max(Width, Sci(v).Length);
                }
                else
                {
                    foreach (var v in finite) Width = Math.Max(Width, Fixed(v, 0).Length + 1);
                }
            }
            else if (max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4)
            {
                sciMode = true;
                foreach (var v in finite) Width = Math.Max(Width, Sci(v).Length);
            }
            else
            {
                foreach (var v in finite) Width = Math.Max(Width, Fixed(v, Precision).Length);
            }
        }

        IEnumerable<object> Values(Tensor t)
        {
            var flat = t.reshape(-1);
            if (isBool) return flat.ToArray<bool>().Cast<object>();
            return flat.to(ScalarType.Int64).ToArray<long>().Cast<object>();
        }

        static string PlainText(object v) => v switch
        {
            bool b => b ? "True" : "False",
            long l => l.ToString(CultureInfo.InvariantCulture),
            _ => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        };

        static string NonFinite(double v) => double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";

        static string Fixed(double v, int decimals) =>
            double.IsFinite(v) ? v.ToString("F" + decimals, CultureInfo.InvariantCulture) : NonFinite(v);

        static string Sci(double v) =>
            double.IsFinite(v) ? v.ToString("0.0000e+00", CultureInfo.InvariantCulture) : NonFinite(v);

        public string Format(Tensor element)
        {
            string text;
            if (floating)
            {
                var v = element.to(ScalarType.Float64).item<double>();
                if (sciMode) text = Sci(v);
                else if (intMode) text = Fixed(v, 0) + (double.IsFinite(v) ? "." : "");
                else text = Fixed(v, Precision);
            }
            else
            {
                text = isBool ? PlainText(element.item<bool>()) : PlainText(element.to(ScalarType.Int64).item<long>());
            }
            return text.Length >= Width ? text : new string(' ', Width - text.Length) + text;
        }
    }
}
