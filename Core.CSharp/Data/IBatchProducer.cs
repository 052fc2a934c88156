using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A dataset that makes the tensors of a whole batch itself, in two phases: <see cref="Prepare"/>
/// (may run on a loader's worker thread) and <see cref="Finish"/> (runs on the thread that consumes the
/// batches).</summary>
/// <remarks>Splitting the work keeps LibTorch's own thread pool on one thread: image files are decoded
/// into .NET arrays in the workers, and tensors are made and transformed where the model trains. An
/// in-memory dataset gathers a batch with one native call per tensor. The dataset applies its own
/// transforms: to the whole batch (<see cref="Functional.Transforms.Transform.ApplyBatch"/>) when its
/// samples can be stacked first, to each sample otherwise.</remarks>
internal interface IBatchProducer
{
    /// <summary>The work for the samples at <paramref name="indices"/> that can be done ahead.</summary>
    object Prepare(int[] indices);

    /// <summary>Turns prepared work into the batch's features and labels, the dataset's transforms
    /// applied: fresh tensors that no dispose scope owns (the loader takes them). On an exception,
    /// nothing it made is left undisposed (the loader then discards the prepared work).</summary>
    (Tensor Features, Tensor Labels) Finish(object prepared);

    /// <summary>Frees prepared work that will not be finished (the enumeration stopped early, or failed).</summary>
    void Discard(object prepared);
}
