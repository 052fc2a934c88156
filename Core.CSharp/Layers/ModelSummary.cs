using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace Functional.Layers;

/// <summary>One row of a <see cref="ModelSummary"/>: a module that holds parameters of its own or has no children.</summary>
/// <param name="Name">The dotted name, as in parameter names (<c>linear_relu_stack.0</c>).</param>
/// <param name="Type">The PyTorch type name (<c>Linear</c>).</param>
/// <param name="OutputShape">The output shape with the batch dimension shown as -1, or null when the module was not called through <c>call</c> during the trial forward pass.</param>
/// <param name="Parameters">Elements in the module's own parameters.</param>
/// <param name="TrainableParameters">Of those, the ones that require gradients.</param>
internal sealed record SummaryRow(string Name, string Type, long[]? OutputShape, long Parameters, long TrainableParameters);

/// <summary>
/// A model's layers with their output shapes and parameter counts, found by one forward pass of
/// a zero batch of one sample (in evaluation mode, without gradients), for built and hand-written
/// modules alike. <see cref="ToString"/> prints the table, torchsummary style.
/// </summary>
public sealed class ModelSummary
{
    ModelSummary(IReadOnlyList<long> inputShape, long[] outputShape, IReadOnlyList<SummaryRow> rows, long total, long trainable)
    {
        InputShape = inputShape;
        OutputShape = outputShape;
        Rows = rows;
        TotalParameters = total;
        TrainableParameters = trainable;
    }

    /// <summary>The per-sample input shape the summary was made for.</summary>
    public IReadOnlyList<long> InputShape { get; }

    /// <summary>The model's output shape, batch dimension shown as -1.</summary>
    public IReadOnlyList<long> OutputShape { get; }

    /// <summary>The layers in registration order.</summary>
    internal IReadOnlyList<SummaryRow> Rows { get; }

    /// <summary>All parameter elements (each shared parameter once).</summary>
    public long TotalParameters { get; }

    /// <summary>Parameter elements that require gradients.</summary>
    public long TrainableParameters { get; }

    /// <summary>Parameter elements that do not require gradients (frozen).</summary>
    public long NonTrainableParameters => TotalParameters - TrainableParameters;

    /// <summary>
    /// Summarises <paramref name="module"/> for samples of <paramref name="inputShape"/> (without
    /// the batch dimension). The module's training modes are restored afterwards.
    /// </summary>
    /// <param name="module">Any module taking and returning one tensor.</param>
    /// <param name="inputShape">Shape of one sample, e.g. <c>[1, 28, 28]</c>.</param>
    /// <param name="device">Where the trial input is made; null means the device of the module's first parameter.</param>
    /// <exception cref="ArgumentException">The forward pass failed for that shape; the message carries LibTorch's reason.</exception>
    public static ModelSummary Of(nn.Module<Tensor, Tensor> module, IReadOnlyList<long> inputShape, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        Native.EnsureLoaded();
        var named = module.named_modules().ToList();
        var shapes = new Dictionary<nn.Module, long[]>(ReferenceEqualityComparer.Instance);
        var removers = new List<Action>();
        var modes = named.Select(m => (m.module, m.module.training)).Prepend((module, module.training)).ToList();
        foreach (var (m, _) in modes)
            if (m is nn.Module<Tensor, Tensor> tm)
            {
                var remover = tm.register_forward_hook((self, _, output) => { shapes[self] = output.shape; return output; });
                removers.Add(remover.remove);
            }
        long[] outputShape;
        try
        {
            module.eval();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var first = module.parameters().FirstOrDefault();
            var torchDevice = device ?? first?.device ?? CPU;
            var dtype = first is not null && first.is_floating_point() ? first.dtype : ScalarType.Float32;
            var input = zeros(new long[] { 1 }.Concat(inputShape).ToArray(), dtype, torchDevice);
            try { outputShape = module.call(input).shape; }
            catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or InvalidOperationException or ArgumentException)
            {
                throw new ArgumentException(
                    $"The model's forward pass failed for a batch of per-sample shape {Shapes.Text(inputShape)}: {e.Message}", nameof(inputShape), e);
            }
        }
        finally
        {
            foreach (var remove in removers) remove();
            foreach (var (m, training) in modes) m.train(training);
        }
        var rows = new List<SummaryRow>();
        foreach (var (name, m) in named)
        {
            var own = m.parameters(recurse: false).ToList();
            if (m.children().Any() && own.Count == 0) continue;
            if (ReferenceEquals(m, module) && own.Count == 0) continue;
            rows.Add(new SummaryRow(
                name.Length == 0 ? "(root)" : name, ModelFormat.TypeName(m),
                shapes.TryGetValue(m, out var s) ? Batchless(s) : null,
                own.Sum(p => p.numel()), own.Where(p => p.requires_grad).Sum(p => p.numel())));
        }
        var all = module.parameters().ToList();
        return new ModelSummary(inputShape.ToArray(), Batchless(outputShape), rows,
            all.Sum(p => p.numel()), all.Where(p => p.requires_grad).Sum(p => p.numel()));
    }

    static long[] Batchless(long[] shape) => shape.Length == 0 ? shape : shape.Select((d, i) => i == 0 ? -1 : d).ToArray();

    /// <summary>The summary as a table: layer (type), output shape, parameter count, then the totals.</summary>
    public override string ToString()
    {
        static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        var layerTexts = Rows.Select(r => $"{r.Name} ({r.Type})").ToList();
        var shapeTexts = Rows.Select(r => r.OutputShape is null ? "-" : Shapes.Text(r.OutputShape)).ToList();
        var w1 = Math.Max("Layer (type)".Length, layerTexts.DefaultIfEmpty("").Max(s => s.Length));
        var w2 = Math.Max("Output Shape".Length, shapeTexts.DefaultIfEmpty("").Max(s => s.Length));
        var w3 = Math.Max("Param #".Length, Rows.Select(r => N(r.Parameters).Length).DefaultIfEmpty(0).Max());
        var width = w1 + w2 + w3 + 6;
        var sb = new StringBuilder();
        sb.AppendLine(new string('-', width));
        sb.AppendLine($"{"Layer (type)".PadRight(w1)}   {"Output Shape".PadRight(w2)}   {"Param #".PadLeft(w3)}");
        sb.AppendLine(new string('=', width));
        for (var i = 0; i < Rows.Count; i++)
            sb.AppendLine($"{layerTexts[i].PadRight(w1)}   {shapeTexts[i].PadRight(w2)}   {N(Rows[i].Parameters).PadLeft(w3)}");
        sb.AppendLine(new string('=', width));
        sb.AppendLine($"Input shape: {Shapes.Text(new long[] { -1 }.Concat(InputShape).ToArray())}");
        sb.AppendLine($"Output shape: {Shapes.Text(OutputShape)}");
        sb.AppendLine($"Total params: {N(TotalParameters)}");
        sb.AppendLine($"Trainable params: {N(TrainableParameters)}");
        sb.AppendLine($"Non-trainable params: {N(NonTrainableParameters)}");
        sb.Append(new string('-', width));
        return sb.ToString();
    }
}
