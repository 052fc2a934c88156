using System.Globalization;
using System.Text;
using TorchSharp;
using M = TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Layers;

/// <summary>
/// Prints any TorchSharp module the way PyTorch's <c>print(model)</c> does, built or hand-written:
/// the module's name, the extra description of the standard layers
/// (<c>Linear(in_features=784, out_features=512, bias=True)</c>), and its named children, indented.
/// </summary>
public static class ModelFormat
{
    /// <summary>The PyTorch-style printout of <paramref name="module"/> and its children.</summary>
    /// <example><c>Console.WriteLine(ModelFormat.Format(new NeuralNetwork()));</c></example>
    public static string Format(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var lines = new List<string>();
        var extra = ExtraRepr(module);
        if (extra.Length > 0) lines.AddRange(extra.Split('\n'));
        foreach (var (name, child) in module.named_children())
            lines.Add($"({name}): " + Indent(Format(child), 2));
        var text = new StringBuilder(TypeName(module)).Append('(');
        if (lines.Count == 1 && extra.Length > 0 && !module.named_children().Any()) text.Append(extra);
        else if (lines.Count > 0) text.Append("\n  ").Append(string.Join("\n  ", lines)).Append('\n');
        return text.Append(')').ToString();
    }

    /// <summary>
    /// The module's class name as PyTorch shows it: the TorchSharp class for standard layers, the
    /// name the module gave itself (usually its class name) for hand-written ones.
    /// </summary>
    internal static string TypeName(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var type = module.GetType();
        var name = type.Namespace == typeof(M.Linear).Namespace ? type.Name : module.GetName();
        if (string.IsNullOrEmpty(name)) name = type.Name;
        var tick = name.IndexOf('`');
        return tick >= 0 ? name[..tick] : name;
    }

    /// <summary>
    /// PyTorch's <c>extra_repr</c> of the standard layers (the text between the parentheses of a
    /// leaf), or a hand-written module's own (<see cref="IExtraRepr"/>); empty for layers without settings
    /// and for modules this does not know.
    /// </summary>
    internal static string ExtraRepr(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return module switch
        {
            IExtraRepr custom => custom.ExtraRepr() ?? "",
            M.Linear l => $"in_features={l.in_features}, out_features={l.out_features}, bias={Bool(l.bias is not null)}",
            M.Flatten f => $"start_dim={f.start_dim}, end_dim={f.end_dim}",
            M.ReLU r => r.inplace ? "inplace=True" : "",
            M.LeakyReLU lr => $"negative_slope={PythonFloat(lr.negative_slope)}" + (lr.inplace ? ", inplace=True" : ""),
            M.Dropout d => $"p={PythonFloat(d.p)}, inplace={Bool(d.inplace)}",
            M.Dropout2d d => $"p={PythonFloat(d.p)}, inplace={Bool(d.inplace)}",
            M.Softmax s => $"dim={s.dim}",
            M.LogSoftmax s => $"dim={s.dim}",
            M.Convolution c => ConvRepr(c),
            M.MaxPool2d m => $"kernel_size={Ints(m.kernel_size)}, stride={Ints(m.stride)}, padding={Ints(m.padding)}, dilation={Ints(m.dilation)}, ceil_mode={Bool(m.ceil_mode)}",
            M.NormBase b => $"{b.num_features}, eps={PythonFloat(b.eps)}, momentum={(b.momentum is { } m ? PythonFloat(m) : "None")}, affine={Bool(b.affine)}, track_running_stats={Bool(b.track_running_stats)}",
            M.Embedding e => EmbeddingRepr(e),
            M.GELU g => $"approximate='{g.approximate}'",
            M.ELU e => $"alpha={PythonFloat(e.alpha)}" + (e.inplace ? ", inplace=True" : ""),
            M.Softplus p => $"beta={PythonFloat(p.beta)}, threshold={PythonFloat(p.threshold)}",
            M.Unflatten u => $"dim={u.dim}, unflattened_size={Tuple(u.unflattened_size)}",
            // PyTorch's stride defaults to the kernel size and its padding to 0; TorchSharp keeps them null.
            M.AvgPool2d a => $"kernel_size={Ints(a.kernel_size)}, stride={Ints(a.stride ?? a.kernel_size)}, padding={Ints(a.padding ?? [0])}",
            M.AdaptiveAvgPool2d a => $"output_size={Ints(a.output_size)}",
            M.LayerNorm n => $"{Tuple(n.normalized_shape)}, eps={PythonFloat(n.eps)}, elementwise_affine={Bool(n.elementwise_affine)}",
            _ => "",
        };
    }

    static string EmbeddingRepr(M.Embedding e)
    {
        using var _ = no_grad();
        var shape = e.weight!.shape;
        return LayerSpec.Embedding.PaddingRows.TryGetValue(e, out var row)
            ? $"{shape[0]}, {shape[1]}, padding_idx={row}"
            : $"{shape[0]}, {shape[1]}";
    }

    static string ConvRepr(M.Convolution c)
    {
        var s = new StringBuilder($"{c.in_channels}, {c.out_channels}, kernel_size={Tuple(c.kernel_size)}, stride={Tuple(c.stride)}");
        if (c.padding_type is { } pt) s.Append($", padding={pt.ToString().ToLowerInvariant()}");   // Python formats the string 'same' bare
        else if (c.padding is { } p && p.Any(x => x != 0)) s.Append($", padding={Tuple(p)}");
        if (c.dilation.Any(x => x != 1)) s.Append($", dilation={Tuple(c.dilation)}");
        if (c.output_padding is { } op && op.Any(x => x != 0)) s.Append($", output_padding={Tuple(op)}");
        if (c.groups != 1) s.Append($", groups={c.groups}");
        if (c.bias is null) s.Append(", bias=False");
        if (c.padding_mode != PaddingModes.Zeros) s.Append($", padding_mode={c.padding_mode.ToString().ToLowerInvariant()}");
        return s.ToString();
    }

    /// <summary>A Python tuple: <c>(3, 3)</c>, <c>(3,)</c>.</summary>
    static string Tuple(IReadOnlyList<long> xs) => xs.Count == 1 ? $"({xs[0]},)" : "(" + string.Join(", ", xs) + ")";

    /// <summary>PyTorch keeps pooling sizes as given (usually one int); TorchSharp expands them to arrays,
    /// so an array of equal values prints as that one int.</summary>
    static string Ints(IReadOnlyList<long>? xs) =>
        xs is null || xs.Count == 0 ? "None" : xs.All(x => x == xs[0]) ? xs[0].ToString(CultureInfo.InvariantCulture) : Tuple(xs);

    static string Bool(bool b) => b ? "True" : "False";

    /// <summary>A double as Python's <c>repr</c> prints it: <c>0.5</c>, <c>1e-05</c>, <c>1.0</c> (for an
    /// <see cref="IExtraRepr"/> that prints its settings as PyTorch would).</summary>
    public static string PythonFloat(double x)
    {
        if (double.IsNaN(x)) return "nan";
        if (double.IsInfinity(x)) return x > 0 ? "inf" : "-inf";
        if (x == 0) return double.IsNegative(x) ? "-0.0" : "0.0";
        var r = Math.Abs(x).ToString("R", CultureInfo.InvariantCulture);
        var mantissa = r;
        var exponent = 0;
        var e = r.IndexOf('E');
        if (e >= 0) { mantissa = r[..e]; exponent = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture); }
        var dot = mantissa.IndexOf('.');
        var integer = dot < 0 ? mantissa : mantissa[..dot];
        var digits = integer + (dot < 0 ? "" : mantissa[(dot + 1)..]);
        var point = integer.Length + exponent;
        var lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        point -= lead;
        var sci = point - 1;
        string body;
        if (sci >= -4 && sci < 16)
            body = point <= 0 ? "0." + new string('0', -point) + digits
                : point >= digits.Length ? digits + new string('0', point - digits.Length) + ".0"
                : digits[..point] + "." + digits[point..];
        else
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (sci < 0 ? "-" : "+") + Math.Abs(sci).ToString("00", CultureInfo.InvariantCulture);
        return (x < 0 ? "-" : "") + body;
    }

    static string Indent(string text, int spaces)
    {
        var lines = text.Split('\n');
        if (lines.Length == 1) return text;
        var pad = new string(' ', spaces);
        return lines[0] + "\n" + string.Join("\n", lines.Skip(1).Select(l => pad + l));
    }

    /// <summary>
    /// The module's parameters with PyTorch's dotted names (<c>linear_relu_stack.0.weight</c>),
    /// in registration order, as the tutorial's loop prints them.
    /// </summary>
    public static IReadOnlyList<NamedParameter> NamedParameters(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return module.named_parameters().Select(p => new NamedParameter(p.name, p.parameter)).ToList();
    }
}

/// <summary>A parameter with its PyTorch-style dotted name; the tensor is the module's own (not a copy).</summary>
/// <param name="Name">The dotted name, e.g. <c>linear_relu_stack.0.weight</c>.</param>
/// <param name="Value">The live parameter; do not dispose it.</param>
public sealed record NamedParameter(string Name, M.Parameter Value)
{
    /// <summary>The size as PyTorch prints it, e.g. <c>[512, 784]</c>.</summary>
    public string Size => Shapes.Text(Value.shape);

    /// <summary>The number of elements.</summary>
    public long Count => Value.numel();
}
