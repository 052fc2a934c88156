using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>One (features, label) sample, as the tutorial's <c>img, label = training_data[i]</c>.
/// It owns both tensors; dispose it when done (or let the surrounding dispose scope do it).</summary>
public sealed class Sample : IDisposable
{
    /// <summary>Wraps the two tensors; the sample takes ownership of them.</summary>
    public Sample(Tensor features, Tensor label)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(label);
        Features = features;
        Label = label;
    }

    /// <summary>The input, e.g. an image [C, H, W] (uint8, or float32 after ToTensor).</summary>
    public Tensor Features { get; }

    /// <summary>The target: a scalar int64 class index, or whatever the target transform made of it (e.g. a one-hot vector).</summary>
    public Tensor Label { get; }

    /// <summary>The class index, when the label is still a scalar integer.</summary>
    /// <exception cref="InvalidOperationException">The label is not a scalar integer (a target transform changed it).</exception>
    public int ClassIndex
    {
        get
        {
            if (Label.dim() != 0 || Label.is_floating_point())
                throw new InvalidOperationException($"The label is not a class index: it has shape {Shapes.Text(Label.shape)} and dtype {Label.dtype}.");
            using var index = Label.to_type(ScalarType.Int64);
            return (int)index.item<long>();
        }
    }

    /// <summary>Lets <c>var (image, label) = dataset[i];</c> read as in Python.</summary>
    public void Deconstruct(out Tensor features, out Tensor label)
    {
        features = Features;
        label = Label;
    }

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Label.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Sample(features: {Features.dtype} {Shapes.Text(Features.shape)}, label: {(Label.dim() == 0 ? Label.ToString(TorchSharp.TensorStringStyle.Numpy) : $"{Label.dtype} {Shapes.Text(Label.shape)}")})";
}
