// Transforms, after PyTorch's "learn the basics" transforms tutorial (transforms_tutorial.py):
// ToTensor scales uint8 images to float32 in [0, 1], a target transform turns a label into a
// one-hot vector, and transforms compose (Transform.compose, or >->). Your own function runs on each
// sample, as in PyTorch; the library's transforms run once per batch in a loader.
//   dotnet build Examples -c Release && dotnet fsi Examples/03-transforms.fsx
#load "Setup.fsx"

open System
open TorchSharp
open Functional.Data
open Functional.FSharp

let show (t: torch.Tensor) = "[" + String.Join(", ", t.shape) + "]"
let ci = Environment.GetEnvironmentVariable "CI" = "true"

// ds = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor(),
//          target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)))
let ds =
    FashionMnist.load
        { FashionMnist.defaults with
            Train = true
            Transform = Some Transform.toTensor
            // The tutorial's Lambda, written for one label: the loader runs it on each label of a batch.
            TargetTransform = Some (Transform.lambda (fun y -> torch.zeros(10L).scatter_(0L, y, torch.tensor 1.0f))) }
printfn "%O\n" ds

// --- ToTensor -------------------------------------------------------------------------------------
let raw = FashionMnist.load { FashionMnist.defaults with Train = true }
let before = Dataset.item 0 raw
let after = Dataset.item 0 ds
let range (t: torch.Tensor) = t.min().item<'T>(), t.max().item<'T>()
printfn "before ToTensor: %O %s, values %A" before.Features.dtype (show before.Features) (range before.Features : byte * byte)
printfn "after ToTensor:  %O %s, values %A" after.Features.dtype (show after.Features) (range after.Features : float32 * float32)
// Each value is divided by exactly 255: 255 becomes 1.0 (TorchVision's own MNIST example divides by 256).
let all = torch.arange(256L).to_type(torch.ScalarType.Byte).reshape(1L, 16L, 16L)
let scaled = Transform.apply Transform.toTensor all
printfn "ToTensor of 0, 1, 254, 255: %.6f %.6f %.6f %.6f"
    (scaled[0L, 0L, 0L].item<float32>()) (scaled[0L, 0L, 1L].item<float32>()) (scaled[0L, 15L, 14L].item<float32>()) (scaled[0L, 15L, 15L].item<float32>())

// --- The one-hot target -------------------------------------------------------------------------
printfn "\nlabel %d (%s) -> one-hot %s" before.ClassIndex (FashionMnist.className before.ClassIndex) ("[" + String.Join(", ", after.Label.data<float32>().ToArray()) + "]")
// In a loader the Lambda runs on each label of a batch, as in PyTorch's Dataset; ToTensor runs once.
let oneHotBatch = Loader.peek (Loader.create 64 false ds)
printfn "a batch of ds: features %s, labels %s" (show oneHotBatch.Features) (show oneHotBatch.Labels)
oneHotBatch.Dispose()

// --- Composing transforms -----------------------------------------------------------------------
// transforms.Compose([ToTensor(), Normalize((0.5,), (0.5,))]):
let toInput = Transform.toTensor >-> Transform.normalize [ 0.5 ] [ 0.5 ]
let normalized = Transform.apply toInput before.Features
printfn "\n%O: values %A" toInput (range normalized : float32 * float32)

// In a loader, the library's transforms run once per batch (one call on [64, 1, 28, 28]), not once per
// image; Transform.oneHot 10 is the batched form of the tutorial's Lambda above.
let loader =
    Loader.createWith { Loader.defaults with BatchSize = 64; Shuffle = true; Seed = Some 0L } raw
    |> Loader.map toInput
    |> Loader.mapLabels (Transform.oneHot 10)
let batch = Loader.peek loader
printfn "a batch after Loader.map: features %s %O in %A, labels %s" (show batch.Features) batch.Features.dtype (range batch.Features : float32 * float32) (show batch.Labels)
batch.Dispose()

// --- Random augmentation with an explicit generator ---------------------------------------------
// The same seed gives the same flips and crops, so a training run can be repeated bit for bit.
let augment seed =
    let g = Transform.generator seed
    Transform.compose [ Transform.toTensor; Transform.randomHorizontalFlip 0.5 g; Transform.randomCrop 28 4 g ]
let images = raw.Features.narrow(0L, 0L, (if ci then 8L else 64L))
let a = Transform.applyBatch (augment 42L) images
let b = Transform.applyBatch (augment 42L) images
let c = Transform.applyBatch (augment 43L) images
printfn "\naugmented %s: same seed equal = %b, other seed equal = %b%s"
    (show a) (a.equal(b).all().item<bool>()) (c.equal(a).all().item<bool>()) (if ci then " (CI=true: 8 images)" else "")
