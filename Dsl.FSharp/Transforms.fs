namespace Functional.FSharp

open TorchSharp
open Functional.Transforms

/// Transforms as functions `Tensor -> Tensor`, composed with `>>` (or `Transform.compose`).
/// Each works on one sample ([C, H, W], a scalar label) and on a batch ([N, C, H, W], labels [N]) alike,
/// so the same pipeline serves a dataset's `Transform` and `Loader.map` (once per batch).
/// A tensor of rank 4 or more is taken as a batch of images, rank 3 as one image.
[<RequireQualifiedAccess>]
module Transform =
    let private sampleOrBatch (t: Functional.Transforms.Transform) (x: torch.Tensor) =
        if x.dim() >= 4L then t.ApplyBatch x else t.Apply x

    // The function made from a C# transform remembers it, so that `toTransform` gives it back (a
    // dataset then prints `Transform: ToTensor()` as PyTorch's does, not `Lambda()`). A class rather
    // than a closure, so that nothing but this type carries the transform.
    type private TransformFunction(transform: Functional.Transforms.Transform) =
        inherit FSharpFunc<torch.Tensor, torch.Tensor>()
        member _.Transform = transform
        override _.Invoke x = sampleOrBatch transform x
        // A method, not a let-bound function: the compiler eta-expands an application of a curried
        // function whose result is a function (to insert flexible argument types), which would give a
        // closure that rebuilds the transform on each call instead of this object.
        static member Of(transform: Functional.Transforms.Transform) : torch.Tensor -> torch.Tensor =
            unbox<torch.Tensor -> torch.Tensor> (box (TransformFunction transform))

    /// A C# transform as a function (batch-wise on rank-4 tensors).
    let ofTransform (transform: Functional.Transforms.Transform) : torch.Tensor -> torch.Tensor =
        if isNull (box transform) then nullArg (nameof transform)
        TransformFunction.Of transform

    /// A function as a C# transform that a dataset or loader applies once per batch. One of this
    /// module's transforms (`toTensor`, `normalize`, `oneHot 10`, ...) gives back its C# transform, which
    /// prints as PyTorch prints it (`ToTensor()`); any other function (a composition with `>>`, a lambda,
    /// a function from `ofTransform`, which the compiler re-wraps at the caller's site) becomes a Lambda
    /// that prints as `Lambda()`, and must give the same result on a batch as on each of its samples
    /// (all functions here do).
    let toTransform (f: torch.Tensor -> torch.Tensor) : Functional.Transforms.Transform =
        match box f with
        | :? TransformFunction as made -> made.Transform
        | _ -> Lambda.Elementwise(System.Func<_, _> f) :> _

    /// uint8 image(s) -> float32 in [0, 1], each value divided by exactly 255; [H, W] becomes [1, H, W].
    let toTensor : torch.Tensor -> torch.Tensor = TransformFunction.Of(ToTensor())

    /// `(x - mean[c]) / std[c]` per channel (the channel dimension is the third from the end).
    let normalize (mean: float list) (std: float list) : torch.Tensor -> torch.Tensor =
        TransformFunction.Of(Normalize(mean, std))

    /// Integer class label(s) -> float32 one-hot vector(s) of length `numClasses`.
    let oneHot (numClasses: int) : torch.Tensor -> torch.Tensor = TransformFunction.Of(OneHot numClasses)

    /// Mirrors images left-right with probability `p`, drawing from `generator` (per sample in a batch).
    let randomHorizontalFlip (p: float) (generator: torch.Generator) : torch.Tensor -> torch.Tensor =
        TransformFunction.Of(RandomHorizontalFlip(generator, p))

    /// Pads by `padding` pixels (zeros), then cuts a random `size` x `size` window drawn from `generator`.
    let randomCrop (size: int) (padding: int) (generator: torch.Generator) : torch.Tensor -> torch.Tensor =
        TransformFunction.Of(RandomCrop(size, size, generator, padding))

    /// Applies the functions in order (the same as joining them with `>>`).
    let compose (transforms: (torch.Tensor -> torch.Tensor) list) : torch.Tensor -> torch.Tensor =
        List.fold (>>) id transforms

    /// A CPU generator seeded with `seed`, for the random transforms.
    let generator (seed: int64) : torch.Generator =
        Functional.Native.EnsureLoaded()
        new torch.Generator(uint64 seed, torch.CPU)
