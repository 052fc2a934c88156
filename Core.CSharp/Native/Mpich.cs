using System.Runtime.InteropServices;
using System.Text;

namespace Functional;

/// <summary>
/// The few MPI functions data-parallel training needs, bound to an implementation of the MPICH ABI
/// (<c>libmpich.so.12</c>: MPICH 3.1 and later; <c>libmpi.so.12</c>: Intel MPI, MVAPICH and Cray MPICH,
/// which keep the same ABI; <c>msmpi.dll</c>: MS-MPI on Windows). In that ABI the handles
/// (communicators, datatypes, operations) are the integer constants below, the same in every version,
/// so nothing is read from a header at run time.
/// </summary>
/// <remarks>
/// <para>Loaded lazily, by <see cref="Load"/>: nothing here touches a native library until a
/// distributed run asks for it, so the package loads and runs on machines without MPI.</para>
/// <para>The functions are called through unmanaged function pointers resolved once from the loaded
/// library (<see cref="NativeLibrary.GetExport"/>), never through <c>DllImport</c>, so that no library name
/// is baked into the assembly and a missing library is a clear error at <see cref="Load"/>, not a
/// <see cref="DllNotFoundException"/> at some later call.</para>
/// <para>OpenMPI has another ABI (its handles are addresses of exported objects): it is not bound here;
/// see the README's distributed section.</para>
/// </remarks>
internal static unsafe class Mpich
{
    // mpi.h of MPICH (the ABI shared by MPICH 3.1+, Intel MPI, MVAPICH, Cray MPICH and MS-MPI).
    internal const int CommWorld = 0x44000000;
    internal const int Byte = 0x4c00010d;
    internal const int Int32 = 0x4c000405;
    internal const int Float = 0x4c00040a;
    internal const int Double = 0x4c00080b;
    internal const int Int64 = 0x4c00083a;
    internal const int Sum = 0x58000003;
    internal const int ErrorsReturn = 0x54000001;
    internal const int ThreadMultiple = 3;
    internal const int Success = 0;
    const int MaxErrorString = 512;
    const int MaxLibraryVersionString = 8192;
    static readonly void* InPlace = (void*)-1;

    /// <summary>The variable that names the MPI library to load (a path or a file name), instead of the usual names.</summary>
    internal const string LibraryVariable = "FUNCTIONAL_MPI_LIBRARY";

    static readonly object Gate = new();
    static nint library;

    static delegate* unmanaged<int*, int> initialized;
    static delegate* unmanaged<int*, int> finalized;
    static delegate* unmanaged<int*, byte***, int, int*, int> initThread;
    static delegate* unmanaged<int, int*, int> commRank;
    static delegate* unmanaged<int, int*, int> commSize;
    static delegate* unmanaged<int, int, int> commSetErrhandler;
    static delegate* unmanaged<void*, void*, int, int, int, int, int> allreduce;
    static delegate* unmanaged<void*, int, int, int, int, int> bcast;
    static delegate* unmanaged<int, int> barrier;
    static delegate* unmanaged<int> finalize;
    static delegate* unmanaged<int, int, int> abort;
    static delegate* unmanaged<int, byte*, int*, int> errorString;
    static delegate* unmanaged<byte*, int*, int> libraryVersion;

    /// <summary>The file names tried, in order, on this operating system.</summary>
    internal static IReadOnlyList<string> Candidates()
    {
        // A library named by the user is the only one tried: a silent fallback to another MPI would hide the mistake.
        if (Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } given) return [given];
        var names = new List<string>();
        if (OperatingSystem.IsWindows()) names.Add("msmpi.dll");
        else if (OperatingSystem.IsMacOS()) names.AddRange(["libmpich.12.dylib", "libmpi.12.dylib"]);
        else names.AddRange(["libmpich.so.12", "libmpi.so.12"]);
        return names;
    }

    /// <summary>Where the library was loaded from (the name that loaded), once <see cref="Load"/> has run.</summary>
    internal static string? LoadedFrom { get; private set; }

    /// <summary>Loads the MPI library and resolves its functions, once per process.</summary>
    /// <exception cref="NativeLoadException">No MPICH-ABI library could be loaded, or it lacks a function; the
    /// message says which names were tried and how to install MPICH.</exception>
    internal static void Load()
    {
        if (library != 0) return;
        lock (Gate)
        {
            if (library != 0) return;
            KeepSignalsForDotNet();
            var tried = new StringBuilder();
            nint handle = 0;
            string? from = null;
            foreach (var name in Candidates())
            {
                if (NativeLibrary.TryLoad(name, out handle)) { from = name; break; }
                tried.AppendLine($"  {name}: not found or not loadable");
            }
            if (handle == 0)
                throw new NativeLoadException(
                    $"Distributed training could not load an MPI library of the MPICH ABI (tried {string.Join(", ", Candidates())}). " +
                    "Install MPICH (Debian/Ubuntu: apt-get install mpich) or name the library in " + LibraryVariable + ".", tried.ToString());
            try
            {
                nint Get(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out var address) ? address
                    : throw new NativeLoadException($"{from} is not an MPI library of the MPICH ABI: it has no {symbol}. Install MPICH (apt-get install mpich) or name an MPICH-ABI library in {LibraryVariable}.");
                initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
                finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
                initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Get("MPI_Init_thread");
                commRank = (delegate* unmanaged<int, int*, int>)Get("MPI_Comm_rank");
                commSize = (delegate* unmanaged<int, int*, int>)Get("MPI_Comm_size");
                commSetErrhandler = (delegate* unmanaged<int, int, int>)Get("MPI_Comm_set_errhandler");
                allreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int>)Get("MPI_Allreduce");
                bcast = (delegate* unmanaged<void*, int, int, int, int, int>)Get("MPI_Bcast");
                barrier = (delegate* unmanaged<int, int>)Get("MPI_Barrier");
                finalize = (delegate* unmanaged<int>)Get("MPI_Finalize");
                abort = (delegate* unmanaged<int, int, int>)Get("MPI_Abort");
                errorString = (delegate* unmanaged<int, byte*, int*, int>)Get("MPI_Error_string");
                libraryVersion = (delegate* unmanaged<byte*, int*, int>)Get("MPI_Get_library_version");
            }
            catch
            {
                NativeLibrary.Free(handle);
                throw;
            }
            LoadedFrom = from;
            library = handle;
        }
    }

    /// <summary>The UCX settings made before MPICH (and with it UCX) is loaded, unless the user set them: the values
    /// read when UCX's library loads, from the process's native environment.</summary>
    /// <remarks>
    /// <para><c>UCX_ERROR_SIGNALS</c> empty: by default UCX takes over SIGSEGV, SIGBUS, SIGILL and SIGFPE for its
    /// own crash report. .NET raises <see cref="NullReferenceException"/> (and others) from those signals, so under
    /// UCX's handler every null dereference in a rank, caught or not, killed the process with a native backtrace.</para>
    /// <para><c>UCX_HANDLE_ERRORS</c> none: when UCX gives up (as when a peer rank is killed in the middle of a
    /// transfer), it prints its one-line reason and ends the process, without a native backtrace that names
    /// nothing a .NET user can act on.</para>
    /// <para>MPICH of other transports (<c>ch3</c>, <c>ch4:ofi</c>) ignores both. .NET's own
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the native environment on
    /// Unix, hence <c>setenv</c>.</para>
    /// </remarks>
    static readonly (string Name, string Value)[] UcxDefaults = [("UCX_ERROR_SIGNALS", ""), ("UCX_HANDLE_ERRORS", "none")];

    static void KeepSignalsForDotNet()
    {
        if (OperatingSystem.IsWindows()) return;
        foreach (var (name, value) in UcxDefaults)
            if (Environment.GetEnvironmentVariable(name) is null)
                _ = SetEnvironment(name, value, overwrite: 0);
    }

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    static extern int SetEnvironment(string name, string value, int overwrite);

    /// <summary>The message of an MPI error code (<c>MPI_Error_string</c>).</summary>
    static string ErrorText(int code)
    {
        var buffer = stackalloc byte[MaxErrorString];
        int length = 0;
        if (errorString(code, buffer, &length) != Success) return $"MPI error {code}";
        return Encoding.ASCII.GetString(buffer, Math.Clamp(length, 0, MaxErrorString)).Trim();
    }

    static void Check(int code, string call)
    {
        if (code != Success) throw new InvalidOperationException($"{call} failed: {ErrorText(code)}.");
    }

    internal static bool IsInitialized()
    {
        int flag;
        Check(initialized(&flag), "MPI_Initialized");
        return flag != 0;
    }

    internal static bool IsFinalized()
    {
        int flag;
        Check(finalized(&flag), "MPI_Finalized");
        return flag != 0;
    }

    /// <summary><c>MPI_Init_thread</c> asking for <c>MPI_THREAD_MULTIPLE</c> (the watchdog may call
    /// <c>MPI_Abort</c> from its own thread); returns the level provided. Errors on the world communicator
    /// are then returned, not fatal, so that they become exceptions with MPI's message.</summary>
    internal static int Init()
    {
        int provided;
        Check(initThread(null, null, ThreadMultiple, &provided), "MPI_Init_thread");
        Check(commSetErrhandler(CommWorld, ErrorsReturn), "MPI_Comm_set_errhandler");
        return provided;
    }

    internal static int Rank()
    {
        int rank;
        Check(commRank(CommWorld, &rank), "MPI_Comm_rank");
        return rank;
    }

    internal static int Size()
    {
        int size;
        Check(commSize(CommWorld, &size), "MPI_Comm_size");
        return size;
    }

    /// <summary>Sums <paramref name="count"/> elements at <paramref name="buffer"/> over all ranks, in place.</summary>
    internal static void AllreduceSum(void* buffer, int count, int datatype) =>
        Check(allreduce(InPlace, buffer, count, datatype, Sum, CommWorld), "MPI_Allreduce");

    /// <summary>Copies <paramref name="count"/> elements at <paramref name="buffer"/> from <paramref name="root"/> to every rank.</summary>
    internal static void Broadcast(void* buffer, int count, int datatype, int root) =>
        Check(bcast(buffer, count, datatype, root, CommWorld), "MPI_Bcast");

    internal static void Barrier() => Check(barrier(CommWorld), "MPI_Barrier");

    internal static void FinalizeMpi() => Check(finalize(), "MPI_Finalize");

    /// <summary><c>MPI_Abort</c> on the world communicator: the launcher ends every rank. Does not return
    /// when MPI does its job; returns the error code otherwise.</summary>
    internal static int Abort(int exitCode) => abort(CommWorld, exitCode);

    /// <summary>The library's own version line (<c>MPI_Get_library_version</c>), e.g. <c>MPICH Version: 4.0.2</c>.</summary>
    internal static string LibraryVersion()
    {
        var buffer = new byte[MaxLibraryVersionString];
        int length = 0;
        fixed (byte* p = buffer)
            if (libraryVersion(p, &length) != Success) return "unknown";
        var text = Encoding.ASCII.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).TrimEnd('\0');
        var first = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown";
        return string.Join(' ', first.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }
}
