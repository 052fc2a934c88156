using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace Functional;

/// <summary>The error raised when LibTorch cannot be loaded. <see cref="Exception.Message"/> is one
/// line that says what is missing and what to do (typically: add the <c>TorchSharp-cpu</c> package);
/// <see cref="Details"/> lists every folder and file that was tried.</summary>
public sealed class NativeLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NativeLoadException(string message, Exception? inner = null) : this(message, "", inner) { }

    /// <summary>Creates the exception with the trace of what was tried.</summary>
    public NativeLoadException(string message, string details, Exception? inner = null) : base(message, inner) => Details = details;

    /// <summary>What was tried, one line each: the folders searched, the files found, the copies made.</summary>
    public string Details { get; }
}

/// <summary>
/// Loads LibTorch once for the whole process. Everything in Functional that touches tensors calls
/// <see cref="EnsureLoaded"/> first; users rarely need to.
/// </summary>
/// <remarks>
/// TorchSharp finds its native shim on its own inside an application built with the TorchSharp-cpu
/// package. It does not in F# Interactive, and on Debian 12 / Ubuntu 22.04 the shim of TorchSharp
/// 0.107 refuses to load because it asks libstdc++ for GLIBCXX_3.4.32. This loader finds the shim
/// beside TorchSharp.dll or the application, makes a patched copy when the system needs one (the version need
/// is marked weak), loads it by path, and turns any failure into a
/// <see cref="NativeLoadException"/> that lists what was tried.
/// </remarks>
public static class Native
{
    static readonly object Gate = new();
    static volatile bool loaded;
    static string? loadedFrom;

    /// <summary>The file the native shim was loaded from, once <see cref="EnsureLoaded"/> has run.</summary>
    public static string? LoadedFrom => loadedFrom;

    static string ShimFileName =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "LibTorchSharp.dll" :
        RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";

    /// <summary>Loads LibTorch (CPU backend) if it is not loaded yet. Safe to call from any thread, any number of times.</summary>
    /// <exception cref="NativeLoadException">LibTorch could not be loaded; the message says why and what to do.</exception>
    public static void EnsureLoaded()
    {
        if (loaded) return;
        lock (Gate)
        {
            if (loaded) return;
            var trace = new StringBuilder();
            var shim = FindShim(trace);
            if (shim is not null)
            {
                PreloadLibTorch(shim, trace);
                shim = PrepareForThisSystem(shim, trace);
                try
                {
                    NativeLibrary.Load(shim);
                    trace.AppendLine($"  loaded {shim}");
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    throw Failure(trace, $"loading {shim} failed: {FirstLine(e.Message)}", FixFor(e.Message), e);
                }
            }
            // TorchSharp prints a misleading message to the console before it throws ("doesn't contain a
            // reference to libtorch-cpu-..."): keep its console output, and report its trace in ours.
            var original = Console.Out;
            var captured = new StringWriter();
            try
            {
                Console.SetOut(captured);
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e)
            {
                foreach (var line in captured.ToString().Split('\n'))
                    if (line.Contains("Trying", StringComparison.Ordinal) || line.Contains("Failed", StringComparison.Ordinal) || line.Contains("Giving up", StringComparison.Ordinal))
                        trace.AppendLine("  TorchSharp: " + line.Trim());
                var reason = shim is null
                    ? $"no {ShimFileName} was found (searched {CandidateFolders().First()} and {CandidateFolders().Count() - 1} more folders), and TorchSharp's own search failed too"
                    : $"TorchSharp could not initialise LibTorch after {shim} was loaded: {FirstLine(e.Message)}";
                throw Failure(trace, reason, shim is null ? AddBackend : FixFor(e.Message), e);
            }
            finally
            {
                Console.SetOut(original);
            }
            loadedFrom = shim;
            Threads.ApplyDefault();
            loaded = true;
        }
    }

    static string FirstLine(string text)
    {
        var end = text.IndexOf('\n');
        return end < 0 ? text : text[..end];
    }

    /// <summary>What to do when no LibTorch is found: the backend is the application's choice.</summary>
    internal const string AddBackend =
        "add a LibTorch backend package to the application: TorchSharp-cpu 0.107.0 (or TorchSharp-cuda-linux / TorchSharp-cuda-windows for NVIDIA GPUs); in a script, #r \"nuget: TorchSharp-cpu, 0.107.0\" before Functional";

    static string FixFor(string error) =>
        error.Contains(ElfVersions.LibTorchSharpVersion, StringComparison.Ordinal)
            ? $"this system's libstdc++ lacks {ElfVersions.LibTorchSharpVersion} (GCC 13): build through Functional.Core's package, whose build step patches the output, or install a newer libstdc++"
            : error.Contains(".so", StringComparison.Ordinal)
                ? "install the system library that the error names, or " + AddBackend
                : AddBackend;

    static NativeLoadException Failure(StringBuilder trace, string reason, string fix, Exception inner) =>
        new($"Functional could not load LibTorch: {reason}. To fix it, {fix}.", trace.ToString(), inner);

    static string LibTorchFileName =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "torch.dll" :
        RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libtorch.dylib" : "libtorch.so";

    /// <summary>Where the shim sits alone (a script's NuGet package cache, where TorchSharp and the
    /// LibTorch backend are separate packages, so the shim's <c>$ORIGIN</c> finds nothing), loads
    /// LibTorch first through the runtime's own native-library resolution: in F# Interactive that
    /// finds the backend package the script referenced. The shim's need is then met by the loaded
    /// library.</summary>
    static void PreloadLibTorch(string shim, StringBuilder trace)
    {
        if (File.Exists(Path.Combine(Path.GetDirectoryName(shim)!, LibTorchFileName))) return;
        if (NativeLibrary.TryLoad("torch", typeof(torch).Assembly, null, out _))
        {
            trace.AppendLine($"  loaded LibTorch through the runtime's resolution (no {LibTorchFileName} beside {shim})");
            return;
        }
        trace.AppendLine($"  no {LibTorchFileName} beside {shim}, and the runtime resolves none");
        throw new NativeLoadException(
            $"Functional could not load LibTorch: found TorchSharp's {ShimFileName} but no LibTorch ({LibTorchFileName}) beside it or in the application's packages. To fix it, {AddBackend}.",
            trace.ToString());
    }

    /// <summary>The folders searched for the native shim, in order.</summary>
    internal static IEnumerable<string> CandidateFolders()
    {
        var rid = RuntimeInformation.RuntimeIdentifier;
        var portableRid =
            (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux")
            + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var roots = new List<string>();
        void AddRoot(string? folder)
        {
            if (!string.IsNullOrEmpty(folder) && !roots.Contains(folder)) roots.Add(folder);
        }
        var torchSharp = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        AddRoot(torchSharp);
        AddRoot(Path.GetDirectoryName(typeof(Native).Assembly.Location));
        AddRoot(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        // TorchSharp.dll in the NuGet package layout (a script's #r "nuget: ..."): lib/<tfm>/ beside runtimes/.
        if (!string.IsNullOrEmpty(torchSharp) && Directory.GetParent(torchSharp)?.Parent is { } package)
            AddRoot(package.FullName);
        foreach (var root in roots)
        {
            yield return root;
            yield return Path.Combine(root, "runtimes", rid, "native");
            if (portableRid != rid) yield return Path.Combine(root, "runtimes", portableRid, "native");
        }
    }

    static string? FindShim(StringBuilder trace)
    {
        foreach (var folder in CandidateFolders())
        {
            var candidate = Path.Combine(folder, ShimFileName);
            if (File.Exists(candidate))
            {
                trace.AppendLine($"  found {candidate}");
                return candidate;
            }
            trace.AppendLine($"  no {ShimFileName} in {folder}");
        }
        return null;
    }

    /// <summary>On a Linux whose libstdc++ lacks a version the shim needs (and only for
    /// <see cref="ElfVersions.LibTorchSharpVersion"/>, which nothing relocates), returns a patched
    /// copy in a per-user cache with links to the shim's sibling libraries; otherwise the shim itself.</summary>
    static string PrepareForThisSystem(string shim, StringBuilder trace)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return shim;
        try
        {
            var needs = ElfVersions.ReadNeeds(File.ReadAllBytes(shim), shim);
            bool needsStrictly = needs.Any(n => n.Version == ElfVersions.LibTorchSharpVersion && !n.IsWeak);
            if (!needsStrictly) return shim;
            var defines = ElfVersions.SystemLibStdCxxDefines(ElfVersions.LibTorchSharpVersion);
            if (defines != false) return shim;
            trace.AppendLine($"  {shim} needs {ElfVersions.LibTorchSharpVersion}, which {ElfVersions.FindSystemLibStdCxx()} lacks: using a patched copy");
            var source = new FileInfo(shim);
            // string.GetHashCode differs from process to process, so the folder's part of the key is a
            // stable hash: every run on the same output then finds the copy made by the first one.
            var folderHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(source.DirectoryName!)), 0, 4).ToLowerInvariant();
            var key = $"{source.Length:x}-{source.LastWriteTimeUtc.Ticks:x}-{folderHash}";
            var cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
                "Functional", "native", key);
            Directory.CreateDirectory(cache);
            foreach (var sibling in Directory.GetFiles(source.DirectoryName!, "*.so*"))
            {
                var link = Path.Combine(cache, Path.GetFileName(sibling));
                if (Path.GetFileName(sibling) == ShimFileName || File.Exists(link)) continue;
                try { File.CreateSymbolicLink(link, sibling); } catch (IOException) { /* another process made it */ }
            }
            var patched = Path.Combine(cache, ShimFileName);
            if (!File.Exists(patched))
            {
                var temporary = patched + ".copy-" + Environment.ProcessId;
                File.Copy(shim, temporary, overwrite: true);
                ElfVersions.PatchFile(temporary, ElfVersions.LibTorchSharpVersion);
                File.Move(temporary, patched, overwrite: true);
            }
            return patched;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            trace.AppendLine($"  could not check or patch {shim}: {e.Message}");
            return shim;
        }
    }
}
