namespace Functional.FSharp

open System
open TorchSharp
open Functional.Transforms

/// Transforms: each value here *is* the core's `Functional.Transforms.Transform`, the very object a C#
/// user makes, so a dataset's `Transform`, `Loader.map` and C# all run it the same way and give the
/// same shapes. Compose them with `Transform.compose` (or `>->`).
///
/// Your own function runs per sample, as in PyTorch (`Transform.lambda`), or once per batch when you
/// say so (`Transform.batched`); the library's transforms run once per batch, which gives what they
/// give per sample.
[<RequireQualifiedAccess>]
module Transform =
    /// uint8 image(s) -> float32 in [0, 1], each value divided by exactly 255; [H, W] becomes [1, H, W].
    let toTensor : Transform = Functional.Transforms.Transform.ToTensor()

    /// `(x - mean[c]) / std[c]` per channel (the channel dimension is the third from the end).
    let normalize (mean: float list) (std: float list) : Transform = Functional.Transforms.Transform.Normalize(mean, std)

    /// Integer class label(s) -> float32 one-hot vector(s) of length `numClasses`.
    let oneHot (numClasses: int) : Transform = Functional.Transforms.Transform.OneHot numClasses

    /// Mirrors images left-right with probability `p`, drawing from `generator` (a coin per sample).
    let randomHorizontalFlip (p: float) (generator: torch.Generator) : Transform = Functional.Transforms.Transform.RandomHorizontalFlip(generator, p)

    /// Pads by `padding` pixels (zeros), then cuts a random `size` x `size` window drawn from `generator`.
    let randomCrop (size: int) (padding: int) (generator: torch.Generator) : Transform =
        Functional.Transforms.Transform.RandomCrop(size, size, generator, padding)

    /// Your function of one sample, PyTorch's `Lambda`: a loader calls it on each sample of a batch and
    /// stacks the results, so code written for one sample works as it is, e.g. the tutorial's one-hot
    /// target `Transform.lambda (fun y -> torch.zeros(10L).scatter_(0L, y, torch.tensor 1.0f))`.
    let lambda (f: torch.Tensor -> torch.Tensor) : Transform =
        if isNull (box f) then nullArg (nameof f)
        Functional.Transforms.Transform.Lambda(Func<_, _> f)

    /// Your function of a whole batch (samples along dimension 0, results likewise): the fast path, one
    /// call per batch. On one sample it runs as a batch of one.
    let batched (f: torch.Tensor -> torch.Tensor) : Transform =
        if isNull (box f) then nullArg (nameof f)
        Functional.Transforms.Transform.Lambda(Func<_, _> f, true)

    /// Applies the transforms in order, PyTorch's `Compose` (`a >-> b` is `compose [ a; b ]`).
    let compose (transforms: Transform list) : Transform = Functional.Transforms.Transform.Compose(transforms)

    /// The transform of one sample (an image [C, H, W] or [H, W], a scalar label).
    let apply (transform: Transform) (sample: torch.Tensor) : torch.Tensor = transform.Apply sample

    /// The transform of a batch (samples along dimension 0), what the per-sample results stacked would be.
    let applyBatch (transform: Transform) (batch: torch.Tensor) : torch.Tensor = transform.ApplyBatch batch

    /// A CPU generator seeded with `seed`, for the random transforms.
    let generator (seed: int64) : torch.Generator =
        Functional.Native.EnsureLoaded()
        new torch.Generator(uint64 seed, torch.CPU)

/// The transform-composition operator.
[<AutoOpen>]
module TransformOperators =
    /// `a >-> b` is `Transform.compose [ a; b ]`: `Transform.toTensor >-> Transform.normalize [ 0.5 ] [ 0.5 ]`.
    let (>->) (first: Transform) (second: Transform) : Transform = Transform.compose [ first; second ]
