// PyTorch "Learn the Basics", section "Transforms" (transforms_tutorial), in C#: ToTensor scales
// uint8 images to float32 in [0, 1], a target transform turns a label into a one-hot vector, and
// transforms compose and run once per batch in a loader.
// Run from the repository root:  dotnet run Examples/CSharp/03-transforms.cs
// With CI=true the augmentation runs on 8 images instead of 64.
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using System.Globalization;
using Functional;
using Functional.Data;
using Functional.Transforms;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

Native.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // numbers print as in Python, whatever the locale
var ci = Environment.GetEnvironmentVariable("CI") == "true";
static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
static string Range(Tensor t)
{
    using var min = t.min();
    using var max = t.max();
    return $"{min.ToDouble():0.######} to {max.ToDouble():0.######}";
}
static bool Same(Tensor a, Tensor b) => a.equal(b).all().item<bool>();

// ds = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor(),
//          target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)))
// The tutorial's Lambda in C#: TorchSharp's scatter_ takes the index as a vector and the value as a
// tensor, and the function frees what it makes besides its result.
var oneHotByHand = Transform.Lambda(y =>
{
    using var index = y.reshape(1);
    using var one = torch.ones(1);
    return torch.zeros(10, dtype: torch.ScalarType.Float32).scatter_(0, index, one);
});
using var ds = FashionMnist.Load(train: true, transform: Transform.ToTensor(), targetTransform: oneHotByHand);
Console.WriteLine($"{ds}\n");

// ---- ToTensor ------------------------------------------------------------------------------------
using var raw = FashionMnist.Load(train: true);
using var before = raw[0];
using var after = ds[0];
Console.WriteLine($"before ToTensor: {Tensors.DTypeName(before.Features.dtype)} {Shape(before.Features)}, values {Range(before.Features)}");
Console.WriteLine($"after ToTensor:  {Tensors.DTypeName(after.Features.dtype)} {Shape(after.Features)}, values {Range(after.Features)}");
// Each value is divided by exactly 255: 255 becomes 1.0 (TorchVision's own MNIST example divides by 256).
using (var all = torch.arange(256).to_type(torch.ScalarType.Byte).reshape(1, 16, 16))
using (var scaled = Transform.ToTensor().Apply(all))
    Console.WriteLine("ToTensor of 0, 1, 254, 255: " + string.Join(" ",
        new[] { scaled[0, 0, 0], scaled[0, 0, 1], scaled[0, 15, 14], scaled[0, 15, 15] }.Select(v => v.item<float>().ToString("F6"))));

// ---- Lambda transforms: the one-hot target -------------------------------------------------------
Console.WriteLine($"\nlabel {before.ClassIndex} ({FashionMnist.Classes[before.ClassIndex]}) -> one-hot {after.Label.Format()}");
// OneHot(10) is the same transform, written once for a sample and once for a whole batch: a loader
// calls it once per batch, where a Lambda runs sample by sample.
using (var library = Transform.OneHot(10).Apply(before.Label))
    Console.WriteLine($"OneHot(10) gives the same vector: {Same(library, after.Label)}");

// ---- Composing transforms -----------------------------------------------------------------------
// transforms.Compose([ToTensor(), Normalize((0.5,), (0.5,))]): the values go from [0, 1] to [-1, 1].
var toInput = Transform.Compose(Transform.ToTensor(), Transform.Normalize([0.5], [0.5]));
using (var normalized = toInput.Apply(before.Features))
    Console.WriteLine($"\n{toInput}: values {Range(normalized)}");

// In a loader, the pipeline runs once per batch (one call on [64, 1, 28, 28]), not once per image.
var loader = new DataLoader(raw, batchSize: 64, shuffle: true, seed: 0).Map(toInput).MapLabels(Transform.OneHot(10));
using (var batch = loader.Peek())
    Console.WriteLine($"a batch after Map: features {Shape(batch.Features)} {Tensors.DTypeName(batch.Features.dtype)} in {Range(batch.Features)}, labels {Shape(batch.Labels)}");

// ---- Random augmentation with an explicit generator ---------------------------------------------
// The same seed gives the same flips and crops, so a training run can be repeated bit for bit.
static Transform Augment(long seed)
{
    var generator = new torch.Generator((ulong)seed);
    return Transform.Compose(Transform.ToTensor(), Transform.RandomHorizontalFlip(generator, p: 0.5), Transform.RandomCrop(28, 28, generator, padding: 4));
}
using var images = raw.Features.narrow(0, 0, ci ? 8 : 64);
using var a = Augment(42).ApplyBatch(images);
using var b = Augment(42).ApplyBatch(images);
using var c = Augment(43).ApplyBatch(images);
Console.WriteLine($"\naugmented {Shape(a)}: same seed equal = {Same(a, b)}, other seed equal = {Same(a, c)}{(ci ? " (CI=true: 8 images)" : "")}");
