using Functional.Transforms;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>A dataset that makes the tensors of a whole batch itself, in two phases: <see cref="Prepare"/>
/// (may run on a loader's worker thread) and <see cref="Finish"/> (runs on the thread that consumes the
/// batches). The loader then applies <see cref="Transform"/> and <see cref="TargetTransform"/> once to
/// the batch (each transform's <see cref="Functional.Transforms.Transform.ApplyBatch"/>).</summary>
/// <remarks>Splitting the work keeps LibTorch's own thread pool on one thread: image files are decoded
/// into .NET arrays in the workers, and tensors are made and transformed where the model trains. An
/// in-memory dataset gathers a batch with one native call per tensor.</remarks>
internal interface IBatchProducer
{
    /// <summary>The work for the samples at <paramref name="indices"/> that can be done ahead.</summary>
    object Prepare(int[] indices);

    /// <summary>Turns prepared work into the batch's untransformed features and labels, fresh tensors
    /// that no dispose scope owns (the loader takes them).</summary>
    (Tensor Features, Tensor Labels) Finish(object prepared);

    /// <summary>Frees prepared work that will not be finished (the enumeration stopped early, or failed).</summary>
    void Discard(object prepared);

    /// <summary>The dataset's transform of the features, which the loader applies to the batch.</summary>
    Transform? Transform { get; }

    /// <summary>The dataset's transform of the labels, which the loader applies to the batch.</summary>
    Transform? TargetTransform { get; }
}
