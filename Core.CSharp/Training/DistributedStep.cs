using System.Text.Json;
using Functional.Optim;
using Functional.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// What the trainer does with a <see cref="GradientSync"/> of more than one rank (PyTorch DDP's reducer,
/// Horovod's allreduce, in one place whatever the backend): the start-of-training broadcast, the check that
/// every rank runs as many steps, and per step the average of all gradients and of the batch loss over the
/// ranks, with one collective on one flat buffer.
/// </summary>
/// <remarks>
/// The fused step keeps its gradients and loss as views of one buffer, reduced where they lie. The autograd
/// step's gradients are LibTorch's own tensors (<c>.grad</c>), made anew by each backward pass: they are copied
/// into flat buffers made once (one per dtype and device, the loss in the first), reduced, and copied back:
/// two device copies per step, no managed copy, no allocation.
/// </remarks>
internal sealed class DistributedStep : IDisposable
{
    sealed record Bucket(Parameter[] Parameters, Tensor Flat, Tensor[] Views);

    readonly GradientSync sync;
    readonly Bucket[] buckets;
    readonly Tensor? loss;    // the first bucket's last element

    /// <summary>The autograd path's buffers for <paramref name="parameters"/> (those that take gradients); none for the fused path.</summary>
    DistributedStep(GradientSync sync, IEnumerable<Parameter> parameters)
    {
        this.sync = sync;
        var trainable = parameters.Where(p => p.requires_grad).ToArray();
        using var _ = no_grad();
        buckets = trainable.GroupBy(p => (p.dtype, p.device_type, p.device_index)).Select((group, index) =>
        {
            var members = group.ToArray();
            long total = members.Sum(p => p.numel()) + (index == 0 ? 1 : 0);
            var flat = zeros(total, members[0].dtype, members[0].device).DetachFromDisposeScope();
            var views = new Tensor[members.Length];
            long offset = 0;
            for (var i = 0; i < members.Length; i++)
            {
                using var slice = flat.narrow(0, offset, members[i].numel());
                views[i] = slice.view(members[i].shape).DetachFromDisposeScope();
                offset += members[i].numel();
            }
            return new Bucket(members, flat, views);
        }).ToArray();
        if (buckets.Length > 0)
        {
            using var last = buckets[0].Flat.narrow(0, buckets[0].Flat.numel() - 1, 1);
            loss = last.view(Array.Empty<long>()).DetachFromDisposeScope();
        }
    }

    /// <summary>The autograd path's reducer, or null for one rank (nothing to do).</summary>
    internal static DistributedStep? ForAutograd(GradientSync sync, nn.Module model) =>
        sync.WorldSize > 1 ? new DistributedStep(sync, model.parameters()) : null;

    /// <summary>Before the first step: every rank takes rank 0's parameters and buffers (the model's state dict) and
    /// the library optimizer's state (tensors and scalars: step counts, hyperparameters as adjusted), as DDP does
    /// when it wraps a model. A TorchSharp optimizer's state is made by its first step, from the same gradients
    /// on every rank: nothing to send.</summary>
    internal static void BroadcastInitialState(GradientSync sync, nn.Module model, Optimizer? optimizer)
    {
        if (sync.WorldSize <= 1) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (_, tensor) in model.state_dict()) sync.Broadcast(tensor);
        if (optimizer is null) return;
        foreach (var (_, tensor) in optimizer.StateTensors()) sync.Broadcast(tensor);
        var bytes = sync.IsMain ? JsonSerializer.SerializeToUtf8Bytes(optimizer.StateScalars(), JsonContext.Default.OptimizerScalars) : [];
        var length = torch.tensor(new long[] { bytes.Length });
        sync.Broadcast(length);
        var buffer = sync.IsMain ? torch.tensor(bytes) : zeros(length.ToInt64(), ScalarType.Byte);
        sync.Broadcast(buffer);
        if (sync.IsMain) return;
        var scalars = JsonSerializer.Deserialize(buffer.data<byte>().ToArray(), JsonContext.Default.OptimizerScalars)
            ?? throw new InvalidOperationException("Rank 0 sent no optimizer state.");
        // The tensors are rank 0's already (broadcast in place); this takes its scalars, checked as a checkpoint's are.
        optimizer.LoadState(scalars, optimizer.StateTensors());
    }

    /// <summary>Every rank must run as many steps per epoch, or one waits for the others' gradients forever: checked
    /// before training, on every rank at once (rank 0's count against each rank's), so that all throw together.</summary>
    /// <exception cref="InvalidOperationException">The ranks' training loaders give different numbers of batches.</exception>
    internal static void CheckSameStepCount(GradientSync sync, int batches)
    {
        if (sync.WorldSize <= 1) return;
        using var scope = NewDisposeScope();
        var first = torch.tensor(new long[] { batches });
        sync.Broadcast(first);
        var differ = torch.tensor(new long[] { first.ToInt64() != batches ? 1 : 0, batches });
        sync.AllReduceSum(differ);
        var counts = differ.data<long>().ToArray();
        if (counts[0] != 0)
            throw new InvalidOperationException(
                $"The {sync.WorldSize} ranks' training loaders give different numbers of batches per epoch (rank 0: {first.ToInt64()}, this rank {sync.Rank}: {batches}), " +
                "so a rank would wait for the others' gradients forever. Give every rank its share with a DistributedSampler (new DataLoader(..., sampler: new DistributedSampler(dataset.Count, sync))), which deals equal shares.");
    }

    /// <summary>The fused path, between its backward pass and its update: averages the fused step's gradients and
    /// its batch loss (<see cref="FusedStep.BatchLoss"/>, which then holds the average) in place, in one collective.</summary>
    internal static void ReduceFused(GradientSync sync, FusedStep fused)
    {
        var flat = fused.GradientsAndLoss;
        fused.LossSlot.copy_(fused.BatchLoss);
        sync.AllReduceSum(flat);
        flat.DivInPlace(sync.WorldSize);
        fused.BatchLoss.copy_(fused.LossSlot);
    }

    /// <summary>The autograd path, after backward: averages every parameter's gradient (a missing one counts as
    /// zero, and is set when another rank's is not) and <paramref name="batchLoss"/> over the ranks. Returns the
    /// average loss, a view of this object's buffer valid until the next call.</summary>
    internal Tensor Reduce(Tensor batchLoss)
    {
        using var _ = no_grad();
        for (var b = 0; b < buckets.Length; b++)
        {
            var bucket = buckets[b];
            for (var i = 0; i < bucket.Parameters.Length; i++)
            {
                using var grad = bucket.Parameters[i].grad;
                if (grad is null) bucket.Views[i].FillInPlace(0);
                else bucket.Views[i].copy_(grad);
            }
            if (b == 0) loss!.copy_(batchLoss.detach());
            sync.AllReduceSum(bucket.Flat);
            bucket.Flat.DivInPlace(sync.WorldSize);
            for (var i = 0; i < bucket.Parameters.Length; i++)
            {
                var parameter = bucket.Parameters[i];
                using var grad = parameter.grad;
                if (grad is not null) grad.copy_(bucket.Views[i]);
                else parameter.grad = bucket.Views[i].clone();
            }
        }
        return loss ?? batchLoss;
    }

    public void Dispose()
    {
        loss?.Dispose();
        foreach (var bucket in buckets)
        {
            foreach (var view in bucket.Views) view.Dispose();
            bucket.Flat.Dispose();
        }
    }
}
