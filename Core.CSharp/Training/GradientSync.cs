using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// How the processes of a data-parallel run stay one model: the collective operations a
/// <see cref="Trainer"/> needs between backward and the optimizer step, as Horovod and PyTorch's
/// <c>DistributedDataParallel</c> use them. <see cref="None"/> is a single process (nothing to do);
/// <see cref="Mpi"/> runs over MPI, one process per rank, started by an MPI launcher.
/// </summary>
/// <remarks>
/// <para>What the trainer does with it (<see cref="TrainerOptions.GradientSync"/>): before the first step,
/// it broadcasts the model's parameters and buffers and the optimizer's state from rank 0, so every rank
/// starts from rank 0's model; after each backward pass it sums all gradients in one flat buffer with one
/// <see cref="AllReduceSum"/> and divides by <see cref="WorldSize"/> (the gradient of the mean loss over
/// the global batch), so every rank takes the same step; it reduces the training loss and the test
/// metrics over all ranks; and it prints, saves checkpoints and writes records on rank 0 only. Each rank
/// must see its own shard of the data: <see cref="Functional.Data.DistributedSampler"/>.</para>
/// <para>A backend implements the four collectives on tensor memory, in place. Another backend (NCCL
/// for one rank per GPU, say) is another subclass: the trainer's logic stays as it is.</para>
/// <para>Every rank must call the collectives in the same order with tensors of the same size and dtype,
/// as MPI requires; the trainer does, as long as every rank runs the same number of steps (the sampler
/// sees to that).</para>
/// </remarks>
/// <example><code>
/// // mpiexec.mpich -n 2 dotnet MyTraining.dll
/// using var sync = GradientSync.Mpi();
/// var sampler = new DistributedSampler(train.Count, sync, seed: 0);
/// var loader = new DataLoader(train, batchSize: 32, sampler: sampler).Map(Transform.ToTensor());
/// using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-3),
///     new TrainerOptions { GradientSync = sync, Seed = 0 });
/// trainer.Fit(loader, testLoader, epochs: 10);     // rank 0 prints; all ranks train
/// </code></example>
public abstract class GradientSync : IDisposable
{
    /// <summary>For subclasses: a backend of its own.</summary>
    protected GradientSync() { }

    /// <summary>One process, no communication: rank 0 of 1. The trainer's default.</summary>
    public static GradientSync None { get; } = new SingleProcess();

    /// <summary>
    /// Starts MPI in this process (<c>MPI_Init_thread</c>) and returns the synchronisation over all ranks of
    /// the job. The process must have been started by an MPI launcher of the MPICH family, e.g.
    /// <c>mpiexec.mpich -n 2 dotnet MyTraining.dll</c>. The MPI library (<c>libmpich.so.12</c>) is loaded here and
    /// nowhere else. Dispose the result at the end of the program (<c>MPI_Finalize</c>); one per process.
    /// </summary>
    /// <param name="timeout">How long a rank may wait inside one collective operation for the others before it
    /// ends the whole job with a one-line error (a rank that hung or was stopped); default 5 minutes. A rank that
    /// dies is noticed sooner: the launcher ends the others at once.</param>
    /// <exception cref="InvalidOperationException">The process was not started by an MPI launcher (the message
    /// says how to start it), or by OpenMPI's, or MPI was started in this process already.</exception>
    /// <exception cref="DllNotFoundException">No MPI library of the MPICH ABI is installed (the message says how to install one).</exception>
    public static GradientSync Mpi(TimeSpan? timeout = null) => MpiGradientSync.Start(timeout ?? TimeSpan.FromMinutes(5));

    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> - 1. Rank 0 prints, saves and checkpoints.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of processes training together.</summary>
    public abstract int WorldSize { get; }

    /// <summary>Whether this is rank 0, the one that prints, saves, plots and writes checkpoints and records.</summary>
    public bool IsMain => Rank == 0;

    /// <summary>Replaces <paramref name="tensor"/>'s values by their sum over all ranks, in place (float32,
    /// float64, int32 or int64; any device and layout: a backend copies what it cannot reach directly).</summary>
    /// <exception cref="ArgumentException">The dtype cannot be summed by this backend.</exception>
    public abstract void AllReduceSum(Tensor tensor);

    /// <summary>Replaces <paramref name="tensor"/>'s values by those of rank <paramref name="root"/>, in place (any dtype).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    public abstract void Broadcast(Tensor tensor, int root = 0);

    /// <summary>Waits until every rank has called it.</summary>
    public abstract void Barrier();

    /// <summary>Ends every process of the job now, with <paramref name="exitCode"/> (<c>MPI_Abort</c>): for an error
    /// on one rank, after printing it, so that the other ranks do not wait for this one. A single process exits.</summary>
    public abstract void Abort(int exitCode);

    /// <summary>Ends the backend (<c>MPI_Finalize</c>); collectives fail after it.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the backend's resources; <paramref name="disposing"/> is false from a finalizer.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <summary>The backend and this rank, e.g. <c>MPI rank 0 of 2 (MPICH 4.0.2, libmpich.so.12)</c>.</summary>
    public override string ToString() => $"{GetType().Name}, rank {Rank} of {WorldSize}";

    sealed class SingleProcess : GradientSync
    {
        public override int Rank => 0;
        public override int WorldSize => 1;
        public override void AllReduceSum(Tensor tensor) => ArgumentNullException.ThrowIfNull(tensor);
        public override void Broadcast(Tensor tensor, int root = 0)
        {
            ArgumentNullException.ThrowIfNull(tensor);
            if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "A single process has rank 0 only.");
        }
        public override void Barrier() { }
        public override void Abort(int exitCode)
        {
            Console.Out.Flush();
            Console.Error.Flush();
            Environment.Exit(exitCode);
        }
        public override string ToString() => "one process (no synchronisation)";
    }
}
