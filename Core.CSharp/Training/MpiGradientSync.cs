using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// <see cref="GradientSync"/> over MPI (MPICH ABI, see <see cref="Mpich"/>): collectives on
/// <c>MPI_COMM_WORLD</c>, in place on the tensor's own memory (CPU, contiguous) with no managed copy;
/// other tensors go through a host staging buffer kept between calls.
/// </summary>
/// <remarks>
/// A watchdog thread ends the job (<c>MPI_Abort</c>, after a one-line error) when a collective has waited
/// longer than the timeout: a rank that hung or was stopped. A rank that dies is ended sooner by the
/// launcher (MPICH's <c>mpiexec</c> kills the other ranks when one exits without <c>MPI_Finalize</c>).
/// </remarks>
internal sealed unsafe class MpiGradientSync : GradientSync
{
    static readonly object Gate = new();
    static MpiGradientSync? current;
    static bool finalized;

    // Larger buffers go in pieces: an MPI count is an int, and a Span of bytes too.
    const long ChunkBytes = 1L << 30;

    readonly TimeSpan timeout;
    readonly bool threadMultiple;
    readonly Thread watchdog;
    readonly ManualResetEventSlim stopping = new();
    readonly string library;
    long waitingSince;               // Stopwatch timestamp of the collective in progress; 0 when none
    string waitingIn = "";
    Tensor? staging;
    bool disposed;

    MpiGradientSync(int rank, int size, bool threadMultiple, TimeSpan timeout, string library)
    {
        Rank = rank;
        WorldSize = size;
        this.threadMultiple = threadMultiple;
        this.timeout = timeout;
        this.library = library;
        watchdog = new Thread(Watch) { IsBackground = true, Name = "Functional MPI watchdog" };
        watchdog.Start();
    }

    public override int Rank { get; }

    public override int WorldSize { get; }

    /// <summary>The environment variables MPI launchers set for their ranks: MPICH's and Intel MPI's Hydra
    /// (PMI), Slurm's <c>srun --mpi=pmi2</c>, and PMIx launchers.</summary>
    static readonly string[] LauncherVariables = ["PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMIX_RANK"];

    /// <summary>Whether this process was started by an MPI launcher of the MPICH family.</summary>
    internal static bool LaunchedByMpiLauncher() => LauncherVariables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>The command that would start this program on 2 ranks, for the error when it was started without a launcher.</summary>
    internal static string LaunchCommand()
    {
        var args = Environment.GetCommandLineArgs();
        var host = Environment.ProcessPath;
        // `dotnet app.dll`, or the application's own executable (an apphost, as `dotnet run` starts it).
        var program = host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" && args.Length > 0 ? $"dotnet {args[0]}"
            : host ?? (args.Length > 0 ? args[0] : "<program>");
        var rest = args.Skip(1).Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a);
        return string.Join(' ', new[] { "mpiexec.mpich -n 2", program }.Concat(rest));
    }

    internal static MpiGradientSync Start(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout is positive.");
        lock (Gate)
        {
            if (current is not null)
                throw new InvalidOperationException("MPI is started in this process already: use that GradientSync (one per process).");
            if (finalized)
                throw new InvalidOperationException("MPI was finalized in this process (its GradientSync was disposed); MPI starts only once per process.");
            if (!LaunchedByMpiLauncher())
            {
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE")))
                    throw new InvalidOperationException(
                        "This process was started by OpenMPI's launcher, but Functional binds MPI of the MPICH ABI (libmpich.so.12): start it with mpiexec.mpich instead, e.g. " + LaunchCommand());
                throw new InvalidOperationException(
                    "Distributed training needs an MPI launcher, which starts one process per rank: run " + LaunchCommand() +
                    " (MPICH: apt-get install mpich).");
            }
            Native.EnsureLoaded();
            try { Mpich.Load(); }
            catch (NativeLoadException e) { throw new DllNotFoundException(e.Message, e); }
            if (Mpich.IsInitialized())
                throw new InvalidOperationException("MPI was initialised in this process by other code; Functional starts it itself (GradientSync.Mpi), once.");
            int provided = Mpich.Init();
            int rank = Mpich.Rank(), size = Mpich.Size();
            if (int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var launched) && launched != size)
            {
                var message = $"The launcher started {launched} processes, but MPI ({Mpich.LoadedFrom}) sees {size}: the launcher and the MPI library are of different implementations. Start the program with MPICH's mpiexec.mpich.";
                Mpich.Abort(1);
                throw new InvalidOperationException(message);
            }
            ShareTheCores();
            current = new MpiGradientSync(rank, size, provided >= Mpich.ThreadMultiple, timeout, $"{Mpich.LibraryVersion().Replace(" Version:", "", StringComparison.Ordinal)}, {Mpich.LoadedFrom}");
            return current;
        }
    }

    /// <summary>Ranks on one machine share its cores: unless OpenMP's variables say otherwise, each rank's
    /// LibTorch gets physical cores / local ranks threads (two ranks spinning two threads each on two cores
    /// run many times slower; see <see cref="Threads"/>).</summary>
    static void ShareTheCores()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")) ||
            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MKL_NUM_THREADS")))
            return;
        int local = 0;
        foreach (var name in new[] { "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE" })
            if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out local) && local > 0) break;
        if (local <= 1) return;
        torch.set_num_threads(Math.Max(1, Threads.PhysicalCores() / local));
    }

    public override void AllReduceSum(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int datatype = tensor.dtype switch
        {
            ScalarType.Float32 => Mpich.Float,
            ScalarType.Float64 => Mpich.Double,
            ScalarType.Int32 => Mpich.Int32,
            ScalarType.Int64 => Mpich.Int64,
            _ => throw new ArgumentException($"AllReduceSum sums float32, float64, int32 or int64 tensors; this one is {tensor.dtype}. Convert it first.", nameof(tensor)),
        };
        Collective(tensor, "an allreduce", datatype, root: -1);
    }

    public override void Broadcast(Tensor tensor, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"A rank of 0 to {WorldSize - 1}.");
        // As bytes: any dtype, bit for bit.
        Collective(tensor, "a broadcast", Mpich.Byte, root);
    }

    public override void Barrier()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Enter("a barrier");
        try { Mpich.Barrier(); }
        finally { Leave(); }
    }

    public override void Abort(int exitCode)
    {
        FlushBeforeAbort();
        if (!disposed) Mpich.Abort(exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Flushes this process's output and gives the launcher a moment to forward it: MPICH's launcher reads
    /// a rank's output and its abort on separate channels, and seen here it sometimes ended the job before it had
    /// printed the rank's last line.</summary>
    static void FlushBeforeAbort()
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Thread.Sleep(300);
    }

    /// <summary>An allreduce (sum, of <paramref name="datatype"/>; <paramref name="root"/> -1) or a broadcast (of bytes, from
    /// <paramref name="root"/>) on the tensor's memory: in place when it is a contiguous CPU tensor, else on a host copy that
    /// is copied back; in pieces of at most <see cref="ChunkBytes"/>.</summary>
    void Collective(Tensor tensor, string what, int datatype, int root)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        long count = tensor.numel();
        if (count == 0) return;
        int elementSize = (int)tensor.ElementSize;
        bool direct = tensor.device_type == DeviceType.CPU && tensor.is_contiguous();
        Tensor target = tensor;
        if (!direct)
        {
            using var _ = no_grad();
            if (staging is null || staging.numel() < count || staging.dtype != tensor.dtype)
            {
                staging?.Dispose();
                var host = empty(count, tensor.dtype, CPU).DetachFromDisposeScope();
                staging = tensor.device_type == DeviceType.CUDA ? PinOrKeep(host) : host;
            }
            target = staging.narrow(0, 0, count);
            using var flat = tensor.reshape(count);
            target.copy_(flat);
        }
        try
        {
            long chunkElements = ChunkBytes / elementSize;
            for (long start = 0; start < count; start += chunkElements)
            {
                long n = Math.Min(chunkElements, count - start);
                using var piece = start == 0 && n == count ? null : target.view(count).narrow(0, start, n);
                var span = (piece ?? target).bytes;
                void* pointer = Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));
                Enter(what);
                try
                {
                    if (root < 0) Mpich.AllreduceSum(pointer, checked((int)n), datatype);
                    else Mpich.Broadcast(pointer, checked((int)(n * elementSize)), Mpich.Byte, root);
                }
                finally { Leave(); }
            }
            if (!direct)
            {
                using var _ = no_grad();
                using var back = target.view(tensor.shape);
                tensor.copy_(back);
            }
        }
        finally
        {
            if (!ReferenceEquals(target, tensor)) target.Dispose();
        }
    }

    static Tensor PinOrKeep(Tensor host)
    {
        try
        {
            var pinned = host.pin_memory().DetachFromDisposeScope();
            host.Dispose();
            return pinned;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException)
        {
            return host;
        }
    }

    /// <summary>A blocking MPI call starts: the watchdog watches it until <see cref="Leave"/>.</summary>
    void Enter(string what)
    {
        waitingIn = what;
        Volatile.Write(ref waitingSince, Stopwatch.GetTimestamp());
    }

    void Leave() => Volatile.Write(ref waitingSince, 0);

    void Watch()
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 10, 10, 1000));
        while (!stopping.Wait(period))
        {
            long since = Volatile.Read(ref waitingSince);
            if (since == 0 || Stopwatch.GetElapsedTime(since) < timeout) continue;
            Console.Out.Flush();
            Console.Error.WriteLine(
                $"error: rank {Rank} of {WorldSize} waited {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s in {waitingIn} for the other ranks: " +
                "one of them died, hung or was stopped. Ending the job.");
            FlushBeforeAbort();
            // MPI_Abort from this thread is allowed with MPI_THREAD_MULTIPLE; without it, a non-zero exit makes the launcher end the others.
            if (threadMultiple) Mpich.Abort(1);
            Environment.Exit(1);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposed) return;
        disposed = true;
        stopping.Set();
        if (disposing)
        {
            watchdog.Join();
            staging?.Dispose();
            stopping.Dispose();
        }
        lock (Gate)
        {
            if (!Mpich.IsFinalized()) Mpich.FinalizeMpi();
            finalized = true;
            current = null;
        }
    }

    public override string ToString() => $"MPI rank {Rank} of {WorldSize} ({library})";
}
