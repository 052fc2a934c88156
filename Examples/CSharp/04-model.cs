// PyTorch "Learn the Basics", section "Build the Neural Network" (buildmodel_tutorial), in C#: the
// tutorial's NeuralNetwork class written by hand as a TorchSharp module, the same network described as
// data with Functional's layer specs, and the layers one by one.
// Run from the repository root:  dotnet run Examples/CSharp/04-model.cs
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using Functional;
using Functional.Layers;
using TorchSharp;
using Modules = TorchSharp.Modules;
using Tensor = TorchSharp.torch.Tensor;

Native.EnsureLoaded();
static string Size(Tensor t) => "torch.Size([" + string.Join(", ", t.shape) + "])";
static bool SameParameters(torch.nn.Module a, torch.nn.Module b) =>
    ModelFormat.NamedParameters(a).Zip(ModelFormat.NamedParameters(b))
        .All(p => p.First.Name == p.Second.Name && p.First.Value.equal(p.Second.Value).all().item<bool>());
long[] imageShape = [1, 28, 28];

// Every random draw comes from this generator: the same seed prints the same numbers.
using var generator = new torch.Generator(42);

// ---- Get the device for training ----
var device = Devices.Auto;
Console.WriteLine($"Using {device} device");

// ---- Define the class ----
// The NeuralNetwork class is at the end of this file. Create an instance, move it to the device, and
// print its structure as PyTorch's print(model) does.
var model = new NeuralNetwork(generator);
model.to(device);
Console.WriteLine(ModelFormat.Format(model));

// The same architecture as data: a layer spec, whose Linear layers infer their input sizes.
var spec = Layer.Named(
    ("flatten", Layer.Flatten()),
    ("linear_relu_stack", Layer.Sequential(Layer.Linear(512), Layer.ReLU(), Layer.Linear(512), Layer.ReLU(), Layer.Linear(10))));
var built = spec.Build(imageShape, generator);
Console.WriteLine($"\nThe same network built from a spec:\n{ModelFormat.Format(built)}");
// From the same seed, the spec and the hand-written class give the same parameters, names and values alike.
using (var seed1 = new torch.Generator(7))
using (var seed2 = new torch.Generator(7))
    Console.WriteLine($"Same parameter names and values as the hand-written class: {SameParameters(new NeuralNetwork(seed1), spec.Build(imageShape, seed2))}");
Console.WriteLine($"\n{ModelSummary.Of(model, imageShape)}");

// To use the model, pass it the input data: call, which runs forward (and any hooks). Never call forward directly.
var X = torch.rand([1, 28, 28], generator: generator).to(device);
var logits = model.call(X);
var predProbab = torch.nn.Softmax(dim: 1).call(logits);
var yPred = predProbab.argmax(1);
Console.WriteLine($"\nPredicted class: {yPred.Format()}");

// ---- Model layers ----
// A sample minibatch of 3 images of size 28x28.
var inputImage = torch.rand([3, 28, 28], generator: generator);
Console.WriteLine($"\n{Size(inputImage)}");

// nn.Flatten: each 2D 28x28 image becomes a contiguous array of 784 pixel values.
var flatten = Layer.Flatten().Build([28, 28]);
var flatImage = flatten.call(inputImage);
Console.WriteLine(Size(flatImage));

// nn.Linear: a linear transformation of the input with its stored weights and biases.
var layer1 = Layer.Linear(28 * 28, 20).Build([784], generator);
var hidden1 = layer1.call(flatImage);
Console.WriteLine(Size(hidden1));

// nn.ReLU: the non-linear activation between the linear layers.
Console.WriteLine($"Before ReLU: {hidden1.Format()}\n\n");
var hidden1Relu = Layer.ReLU().Build([20]).call(hidden1);
Console.WriteLine($"After ReLU: {hidden1Relu.Format()}");

// nn.Sequential: an ordered container of modules; the data passes through them in that order.
var seqModules = Layer.Sequential(Layer.Flatten(), Layer.Linear(784, 20), Layer.ReLU(), Layer.Linear(10)).Build([28, 28], generator);
var seqLogits = seqModules.call(torch.rand([3, 28, 28], generator: generator));

// nn.Softmax: logits scaled to [0, 1], the predicted probabilities for each class (dim 1 sums to 1).
var seqProbab = Layer.Softmax(dim: 1).Build([10]).call(seqLogits);
Console.WriteLine($"\nSoftmax row sums: {seqProbab.sum(1).Format()}");

// ---- Model parameters ----
// Every parameter with its PyTorch name (linear_relu_stack.0.weight), its size and its first two rows.
Console.WriteLine($"\nModel structure: {ModelFormat.Format(model)}\n\n");
foreach (var param in ModelFormat.NamedParameters(model))
    Console.WriteLine($"Layer: {param.Name} | Size: torch.Size({param.Size}) | Values : {param.Value[..2].Format()} \n");

/// <summary>The tutorial's NeuralNetwork(nn.Module): a flatten, then linear_relu_stack, a Sequential of
/// Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10).</summary>
sealed class NeuralNetwork : torch.nn.Module<Tensor, Tensor>
{
    // RegisterComponents registers the fields under their own names, which become the names PyTorch
    // prints and the parameter names (linear_relu_stack.0.weight): hence Python's spelling.
    readonly Modules.Flatten flatten;
    readonly Modules.Sequential linear_relu_stack;

    public NeuralNetwork(torch.Generator generator) : base(nameof(NeuralNetwork))
    {
        flatten = torch.nn.Flatten();
        linear_relu_stack = torch.nn.Sequential(
            torch.nn.Linear(28 * 28, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 10));
        RegisterComponents();

        // PyTorch's default initialisation, uniform in ±1/sqrt(in_features), drawn from the generator so
        // that a seed gives the same network (TorchSharp's own draws from the global generator).
        using var noGrad = torch.no_grad();
        foreach (var linear in linear_relu_stack.children().OfType<Modules.Linear>())
        {
            var bound = 1.0 / Math.Sqrt(linear.in_features);
            linear.weight!.uniform_(-bound, bound, generator);
            linear.bias!.uniform_(-bound, bound, generator);
        }
    }

    // forward(x): the intermediate flat tensor is freed as soon as the stack has used it.
    public override Tensor forward(Tensor x)
    {
        using var flat = flatten.call(x);
        return linear_relu_stack.call(flat);
    }
}
