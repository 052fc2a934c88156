// PyTorch "Learn the Basics", section "Automatic Differentiation with torch.autograd"
// (autogradqs_tutorial), in C#, followed by Functional's functional differentiation (grad, hessian,
// jacobian, jvp, vjp) and gradient checks.
// Run from the repository root:  dotnet run Examples/CSharp/05-autograd.cs
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using Functional;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

Native.EnsureLoaded();
using var generator = new torch.Generator(0);

// ---- A one-layer network: z = x @ w + b, binary cross-entropy loss ---------------------------------
var x = torch.ones(5);                                                        // input tensor
var y = torch.zeros(3);                                                       // expected output
var w = torch.randn([5, 3], generator: generator).requires_grad_(true);
var b = torch.randn([3], generator: generator).requires_grad_(true);
var z = Tensors.MatMul(x, w) + b;
var loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y);

// PyTorch prints z.grad_fn as <AddBackward0 ...>. TorchSharp 0.107 does not expose the autograd
// node's name, so all we can say honestly is whether there is one.
Console.WriteLine($"z has a grad_fn: {Autograd.HasGradFn(z)}, loss has a grad_fn: {Autograd.HasGradFn(loss)}, w (a leaf) has one: {Autograd.HasGradFn(w)}");

// ---- Computing gradients ------------------------------------------------------------------------
// Backward is TorchSharp's backward with errors that say what to do (see the second call below).
loss.Backward();
var wGrad = w.grad!;
var bGrad = b.grad!;
wGrad.Print();
bGrad.Print();
// By hand: dloss/dz = (sigmoid(z) - y) / 3, so b.grad is that and w.grad is outer(x, that).
var expected = (z.detach().sigmoid() - y) / 3.0;
Console.WriteLine($"b.grad matches (sigmoid(z) - y) / 3: {bGrad.allclose(expected)}");
Console.WriteLine($"w.grad matches outer(x, b.grad): {wGrad.allclose(x.outer(expected))}\n");

// A second backward through the same graph needs retainGraph: true on the first.
try { loss.Backward(); }
catch (InvalidOperationException e) { Console.WriteLine($"A second backward:\n  {e.Message}\n"); }

// ---- Disabling gradient tracking ----------------------------------------------------------------
var z2 = Tensors.MatMul(x, w) + b;
Console.WriteLine($"requires_grad: {z2.requires_grad}");
using (Autograd.NoGrad())                                      // with torch.no_grad():
{
    var z3 = Tensors.MatMul(x, w) + b;
    Console.WriteLine($"requires_grad under NoGrad: {z3.requires_grad}");
}
var zDet = z2.detach();
Console.WriteLine($"requires_grad after detach: {zDet.requires_grad}\n");

// ---- Optional reading: tensor gradients and Jacobian products ------------------------------------
// For a non-scalar output, backward takes the vector v of the product vᵀ·J.
var inp = torch.eye(4, 5).requires_grad_(true);
var output = (inp + 1).pow(2).t();
output.Backward(torch.ones_like(output), retainGraph: true);
Console.WriteLine($"First call\n{inp.grad!.Format()}");
output.Backward(torch.ones_like(output), retainGraph: true);
Console.WriteLine($"\nSecond call (gradients accumulate)\n{inp.grad!.Format()}");
Autograd.ZeroGrad(inp);                                        // inp.grad.zero_()
output.Backward(torch.ones_like(output), retainGraph: true);
Console.WriteLine($"\nCall after zeroing gradients\n{inp.grad!.Format()}\n");

// ---- Functional differentiation (DiffSharp style) -------------------------------------------------
// Derivatives of functions Tensor -> Tensor. The tensors made inside a call are freed when it returns.
static Tensor Cube(Tensor t) => (t * t * t).sum();
static Tensor Square(Tensor t) => t * t;
var at = Tensors.Create(new[] { 1.0, 2.0, 3.0 }, torch.ScalarType.Float64);
Console.WriteLine($"grad (sum x^3) at [1, 2, 3]    = {Autograd.Grad(Cube, at).Format()}");
Console.WriteLine($"hessian (sum x^3) at [1, 2, 3] =\n{Autograd.Hessian(Cube, at).Format()}");
Console.WriteLine($"jacobian sin at [1, 2, 3]      =\n{Autograd.Jacobian(t => t.sin(), at).Format()}");
var v = Tensors.Create(new[] { 1.0, 0.0, -1.0 }, torch.ScalarType.Float64);
Console.WriteLine($"jvp (x^2) along [1, 0, -1]      = {Autograd.Jvp(Square, at, v).Format()}");
Console.WriteLine($"vjp (x^2) with [1, 0, -1]       = {Autograd.Vjp(Square, at, v).Format()}");
// Calls nest: d/dx (x * d/dy (x + y)) = 1 (no perturbation confusion).
var x0 = Tensors.Create(3.0, torch.ScalarType.Float64);
Console.WriteLine($"d/dx (x * d/dy (x + y)) at 3   = {Autograd.Diff(u => u * Autograd.Diff(t => u + t, u), x0).Format()}");
// And every derivative can be checked against central differences.
Console.WriteLine(Autograd.GradCheck(t => t.tanh() * t, at));
Console.WriteLine(Autograd.GradGradCheck(t => (t.tanh() * t).sum(), at));
