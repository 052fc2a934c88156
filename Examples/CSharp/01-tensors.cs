// PyTorch "Learn the Basics", section "Tensors" (tensorqs_tutorial), in C#.
// Run from the repository root:  dotnet run Examples/CSharp/01-tensors.cs
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using System.Globalization;
using Functional;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

// Load LibTorch the library's way (with the fix for older Linux) before the first raw TorchSharp call.
Native.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // numbers print as in Python, whatever the locale

// Python's print(title); print(t): tensors print as PyTorch prints them, not with TorchSharp's ToString.
static void Show(string title, Tensor t) => Console.WriteLine($"{title}\n{t.Format()}\n");
static string List<T>(IEnumerable<T> values) => "[" + string.Join(", ", values) + "]";

// Randomness comes from an explicit, seeded generator: every run prints the same numbers.
using var generator = new torch.Generator(0);

// ---- Initializing a tensor ----------------------------------------------------------------------
// Directly from data: the dtype is inferred (integers -> int64), as in torch.tensor(data).
int[][] data = [[1, 2], [3, 4]];
var xData = Tensors.Create(data);
Show("From data:", xData);

// From a .NET array (the tutorial's NumPy array): a rectangular int[,] works the same way.
var xArray = Tensors.Create(new[,] { { 1, 2 }, { 3, 4 } });
Show("From a .NET array:", xArray);

// From another tensor: *Like keeps the shape and dtype unless told otherwise.
var xOnes = Tensors.OnesLike(xData);
Show("Ones Tensor:", xOnes);
var xRand = Tensors.RandLike(xData, generator, torch.ScalarType.Float32);   // overrides the dtype of xData
Show("Random Tensor:", xRand);
try { Tensors.RandLike(xData, generator); }
catch (ArgumentException e) { Console.WriteLine($"RandLike on int64 data fails, as in PyTorch:\n  {e.Message}\n"); }

// With a shape.
long[] shape = [2, 3];
Show("Random Tensor:", torch.rand(shape, generator: generator));
Show("Ones Tensor:", torch.ones(shape));
Show("Zeros Tensor:", torch.zeros(shape));

// ---- Attributes of a tensor -----------------------------------------------------------------------
var tensor = torch.rand([3, 4], generator: generator);
Console.WriteLine($"Shape of tensor: torch.Size({List(tensor.shape)})");
Console.WriteLine($"Datatype of tensor: {Tensors.DTypeName(tensor.dtype)}");
Console.WriteLine($"Device tensor is stored on: {tensor.device}\n");

// ---- Operations on tensors ----------------------------------------------------------------------
// Move to the accelerator when there is one (this build is CPU-only, so Auto resolves to the CPU).
var onDevice = tensor.To(Devices.Auto);
Console.WriteLine($"Devices.Auto -> {onDevice.device}\n");

// Standard numpy-like indexing and slicing: `..` is Python's `:`, and ^1 (C#'s "first from the end") is Python's -1.
var t = torch.ones(4, 4);
Show("First row:", t[0]);
Show("First column:", t[.., 0]);
Show("Last column:", t[.., ^1]);
t[.., 1] = 0;
Show("After t[.., 1] = 0:", t);

// Joining tensors.
var t1 = torch.cat([t, t, t], 1);
Show("cat along dim 1:", t1);
foreach (var (name, joined) in new[]
         {
             ("cat 0", torch.cat([t, t], 0)), ("cat 1", torch.cat([t, t], 1)),
             ("stack 0", torch.stack([t, t], 0)), ("stack 1", torch.stack([t, t], 1)), ("stack 2", torch.stack([t, t], 2)),
         })
    Console.WriteLine($"{name,-8} of two [4, 4] -> {List(joined.shape)}");
Console.WriteLine();

// Arithmetic: matrix product (y1 = y2) and element-wise product (z1 = z2).
// Tensors.MatMul checks the shapes first: a mistake throws instead of stopping the process.
var y1 = Tensors.MatMul(t, t.T);
var y2 = t.matmul(t.T);
Show("Matrix product t @ t.T:", y1);
Console.WriteLine($"y1 equals y2: {y1.equal(y2).all().item<bool>()}\n");
var z1 = t * t;
var z2 = t.mul(t);
Show("Element-wise product t * t:", z1);
Console.WriteLine($"z1 equals z2: {z1.equal(z2).all().item<bool>()}\n");

// Single-element tensors: item gives a .NET value.
var agg = t.sum();
var aggItem = agg.item<float>();
Console.WriteLine($"{aggItem:F1} {aggItem.GetType()}\n");

// In-place operations end in an underscore.
Show("Before add_(5):", t);
t.add_(5);
Show("After add_(5):", t);
Console.WriteLine($"values now: {List(t.ToArray<float>().Distinct().Order())}\n");

// Shape mistakes say what was expected and what was found.
try { Tensors.MatMul(torch.ones(2, 3), torch.ones(2, 3)); }
catch (ArgumentException e) { Console.WriteLine($"A shape mistake:\n  {e.Message}\n"); }

// ---- Bridge with .NET memory (the tutorial's "Bridge with NumPy") ---------------------------------
// Tensor to .NET: a span over the tensor's own memory (PyTorch's t.numpy()); valid while the tensor lives.
using (var ones = torch.ones(5))
{
    Show("t:", ones);
    var n = ones.AsSpan<float>();
    Console.WriteLine($"n: {List(n.ToArray())}");
    ones.add_(1);                              // a change in the tensor is seen in the span
    Show("t:", ones);
    Console.WriteLine($"n: {List(n.ToArray())}\n");
}

// .NET array to tensor without a copy (PyTorch's torch.from_numpy). The array stays pinned until the
// tensor is disposed.
var array = new double[5];
Array.Fill(array, 1.0);
using var shared = Tensors.Share(array);
for (var i = 0; i < array.Length; i++) array[i] += 1;   // np.add(n, 1, out=n): a change in the array is seen in the tensor
Show("t:", shared);
Console.WriteLine($"n: {List(array)}\n");

// Copies, when a copy is what you want: into a caller's array, or a MathNet matrix.
var copy = new double[5];
shared.CopyTo(copy);
var matrix = shared.reshape(1, 5).ToMatrix<double>();
Console.WriteLine($"copy: {List(copy)}, MathNet: {matrix.ToMatrixString().Trim()}");
