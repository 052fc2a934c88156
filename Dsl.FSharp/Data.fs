namespace Functional.FSharp

open TorchSharp
open Functional
open Functional.Data

/// Fashion-MNIST: `FashionMnist.load { FashionMnist.defaults with Train = false }`.
[<RequireQualifiedAccess>]
module FashionMnist =
    /// Where to look for the files and what to do with the samples.
    type Options =
        { /// A folder holding the four IDX files (directly or under FashionMNIST/raw/), or to download into.
          Root: string option
          /// The training split (60,000 images) or the test split (10,000).
          Train: bool
          /// Download the official files into Root when they are found nowhere else.
          Download: bool
          /// Applied to each image (by a loader, to the batch); e.g. `Transform.toTensor`.
          Transform: Functional.Transforms.Transform option
          /// Applied to each label (by a loader, to the batch); e.g. `Transform.oneHot 10`, or your
          /// function of one label, `Transform.lambda (fun y -> ...)`.
          TargetTransform: Functional.Transforms.Transform option
          /// The folder used when nothing else has the files; None looks for the subset shipped with Functional.
          Fallback: string option }

    /// The training split, looked for in the Debian package then the shipped subset, untransformed.
    let defaults =
        { Root = None; Train = true; Download = false; Transform = None; TargetTransform = None; Fallback = None }

    /// The class names, indexed by label ("T-Shirt" ... "Ankle Boot").
    let classes : string list = List.ofSeq Functional.Data.FashionMnist.Classes

    /// The name of class `label`.
    let className (label: int) =
        if label < 0 || label >= classes.Length then
            invalidArg (nameof label) (sprintf "Fashion-MNIST labels are 0 to 9, got %d." label)
        classes[label]

    /// Loads a split (root, Debian package, download when asked, shipped subset, in that order);
    /// the dataset's `Source` says which was used.
    let load (options: Options) : Functional.Data.FashionMnist =
        let transform = Option.toObj options.Transform
        let target = Option.toObj options.TargetTransform
        let fallback =
            match options.Fallback with
            | Some f -> f
            | None -> Functional.Data.FashionMnist.FindShippedSubset()
        new Functional.Data.FashionMnist(Option.toObj options.Root, options.Train, transform, target, options.Download, fallback)

/// Map-style datasets: count, index, build from tensors.
[<RequireQualifiedAccess>]
module Dataset =
    /// The number of samples.
    let count (dataset: IDataset<'T>) = dataset.Count

    /// Sample `index` (fresh: dispose it, or let a dispose scope do it).
    let item (index: int) (dataset: IDataset<'T>) = dataset[index]

    /// An in-memory dataset of two tensors whose first dimension indexes the samples.
    let ofTensors (features: torch.Tensor) (labels: torch.Tensor) = new TensorDataset(features, labels)

/// Loaders: `Loader.create 64 true train |> Loader.map toInput`.
[<RequireQualifiedAccess>]
module Loader =
    /// The loader's settings (see Functional.Data.DataLoader).
    type Options =
        { /// Samples per batch (the last batch may have fewer unless DropLast).
          BatchSize: int
          /// Whether each epoch visits the samples in a new random order.
          Shuffle: bool
          /// Seeds the shuffling; None draws a seed.
          Seed: int64 option
          /// Whether an incomplete last batch is left out.
          DropLast: bool
          /// Where the batches' tensors are put.
          Device: torch.Device
          /// Threads preparing batches ahead (worth it for image files, not for in-memory data).
          Workers: int }

    /// Batch size 64, no shuffling, CPU, no workers.
    let defaults = { BatchSize = 64; Shuffle = false; Seed = None; DropLast = false; Device = Devices.Cpu; Workers = 0 }

    /// A loader with the given options.
    let createWith (options: Options) (dataset: IDataset<Sample>) : DataLoader =
        new DataLoader(dataset, options.BatchSize, options.Shuffle, Option.toNullable options.Seed,
                       dropLast = options.DropLast, device = options.Device, workers = options.Workers)

    /// A loader of `batchSize` samples, shuffled (a new order each epoch) or not.
    let create (batchSize: int) (shuffle: bool) (dataset: IDataset<Sample>) : DataLoader =
        createWith { defaults with BatchSize = batchSize; Shuffle = shuffle } dataset

    /// In a data-parallel run, this rank's share of `dataset` (PyTorch's DistributedSampler: disjoint shards of one
    /// order per epoch, seeded with `options.Seed` + epoch, padded with repeats to equal sizes), batched with `options`;
    /// `Train.fit` with the same `sync` sets the epoch. Without a seed, rank 0 draws one and shares it (a collective:
    /// every rank makes its loader at the same point).
    let distributed (sync: Functional.Training.GradientSync) (options: Options) (dataset: IDataset<Sample>) : DataLoader =
        let sampler = DistributedSampler(dataset.Count, sync, options.Shuffle, Option.toNullable options.Seed)
        new DataLoader(dataset, options.BatchSize, dropLast = options.DropLast, device = options.Device,
                       workers = options.Workers, sampler = sampler)

    /// The loader with `transform` applied to the features of every batch (after the dataset's own),
    /// e.g. `Transform.toTensor`: once per batch for the library's transforms and `Transform.batched`,
    /// on each sample for `Transform.lambda`. The loader given is unchanged (C#: `loader.Map`).
    let map (transform: Functional.Transforms.Transform) (loader: DataLoader) : DataLoader = loader.Map transform

    /// The loader with `transform` applied to the labels of every batch (after the dataset's own
    /// target transform), e.g. `Transform.oneHot 10` (C#: `loader.MapLabels`).
    let mapLabels (transform: Functional.Transforms.Transform) (loader: DataLoader) : DataLoader = loader.MapLabels transform

    /// The first batch of a new epoch, kept for the caller (Python's `next(iter(loader))`); dispose it when done.
    let peek (loader: DataLoader) : Batch = loader.Peek()

    /// The number of batches per epoch.
    let batchCount (loader: DataLoader) = loader.BatchCount

    /// The number of samples per epoch (after dropLast).
    let sampleCount (loader: DataLoader) = loader.SampleCount

/// Pictures of samples, written to PNG.
[<RequireQualifiedAccess>]
module Pictures =
    let private namesOf (dataset: IDataset<Sample>) =
        match box dataset with
        | :? FashionMnist as m -> m.ClassNames
        | _ -> null

    /// The tutorial's 3x3 grid of random samples (seeded) titled with their class names; returns the indices drawn.
    let saveGrid (path: string) (seed: int64) (dataset: IDataset<Sample>) : int[] =
        SamplePictures.SaveGrid(dataset, path, namesOf dataset, 3, 3, seed)

    /// One image ([C, H, W] or [H, W], uint8 or float in [0, 1]) with a title, as PNG.
    let saveImage (path: string) (title: string) (image: torch.Tensor) =
        SamplePictures.SaveImage(image, path, title)
