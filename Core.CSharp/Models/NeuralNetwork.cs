using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Models;

/// <summary>
/// The PyTorch tutorial's hand-written network, as a TorchSharp module: a flatten and a stack of
/// Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10). Its fields are named as in the
/// tutorial (<c>flatten</c>, <c>linear_relu_stack</c>), so it prints and names its parameters
/// exactly as PyTorch does (<c>linear_relu_stack.0.weight</c>). It shows that a hand-written
/// module works wherever a built one does.
/// </summary>
public sealed class NeuralNetwork : nn.Module<Tensor, Tensor>
{
    // Field names are the module and parameter names (RegisterComponents reads them).
#pragma warning disable IDE1006
    readonly Flatten flatten;
    readonly Sequential linear_relu_stack;
#pragma warning restore IDE1006

    /// <summary>Creates the network.</summary>
    /// <param name="finalReLU">Adds a ReLU after the last Linear, as the older tutorial's
    /// optimisation chapter did; the logits are then non-negative.</param>
    /// <param name="generator">Draws the initial weights (PyTorch's uniform ±1/sqrt(fan in)) from
    /// this generator, so the same seed gives the same network; null keeps TorchSharp's
    /// initialisation from the global generator.</param>
    public NeuralNetwork(bool finalReLU = false, Generator? generator = null) : base(nameof(NeuralNetwork))
    {
        Native.EnsureLoaded();
        flatten = nn.Flatten();
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", nn.Linear(28 * 28, 512)), ("1", nn.ReLU()),
            ("2", nn.Linear(512, 512)), ("3", nn.ReLU()),
            ("4", nn.Linear(512, 10)),
        };
        if (finalReLU) layers.Add(("5", nn.ReLU()));
        foreach (var (_, layer) in layers)
            if (layer is Linear linear)
                Functional.Layers.LayerSpec.InitUniform(linear.weight!, linear.bias, linear.in_features, generator);
        linear_relu_stack = nn.Sequential(layers.ToArray());
        RegisterComponents();
    }

    /// <summary>The same network as a layer spec, with the same child names, so that a model built from
    /// it has exactly this module's parameter names and shapes. Whole-model files store this spec: they
    /// load without this class.</summary>
    public static Functional.Layers.LayerSpec Spec(bool finalReLU = false)
    {
        var stack = new List<Functional.Layers.LayerSpec>
        {
            Functional.Layers.Layer.Linear(512), Functional.Layers.Layer.ReLU(),
            Functional.Layers.Layer.Linear(512), Functional.Layers.Layer.ReLU(),
            Functional.Layers.Layer.Linear(10),
        };
        if (finalReLU) stack.Add(Functional.Layers.Layer.ReLU());
        return Functional.Layers.Layer.Named(
            ("flatten", Functional.Layers.Layer.Flatten()),
            ("linear_relu_stack", Functional.Layers.Layer.Sequential(stack)));
    }

    /// <summary>Logits of shape [batch, 10] for images of shape [batch, 1, 28, 28] (or [batch, 28, 28]).</summary>
    public override Tensor forward(Tensor input)
    {
        using var flat = flatten.call(input);
        return linear_relu_stack.call(flat);
    }
}
