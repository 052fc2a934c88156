using System.Runtime.InteropServices;

namespace Functional.Serialization;

/// <summary>
/// Replaces a file all at once: a process killed at any moment leaves either the old file or the new one,
/// never a truncated mix. Weights, checkpoints and model files are saved through it.
/// </summary>
/// <remarks>
/// <para>How: the content goes to a temporary file in the same folder (<c>.name.&lt;random&gt;.tmp</c>, so the
/// rename never crosses file systems), which is flushed to the disk (<c>fsync</c> through
/// <see cref="FileStream.Flush(bool)"/>) and closed, then renamed over the target with
/// <see cref="File.Move(string, string, bool)"/>. On Linux and macOS that is <c>rename(2)</c>, which replaces the
/// target atomically; on Windows it is <c>MoveFileEx</c> with replace-existing, which is atomic on NTFS for files
/// in one folder. Finally the folder itself is flushed on Linux and macOS (<c>open</c> + <c>fsync</c> of the
/// directory), so that the rename survives a power loss too; where that is not possible (Windows, or a file system
/// that refuses to sync a directory) the rename still protects against a killed process, and only a power cut
/// right after the save could bring back the previous file.</para>
/// <para>A process killed before the rename leaves its temporary file behind; it never has the target's name, so
/// it is never mistaken for the file. The next save to the same path removes such leftovers before it starts
/// (<see cref="DeleteStaleTemporaries"/>), but only files named as this class names the temporaries of that very
/// target, <c>.name.&lt;pid&gt;-&lt;32 hex digits&gt;.tmp</c> (or <c>.name.&lt;32 hex digits&gt;.tmp</c>, as earlier
/// versions named them), and only when no live writer can own them: the file is not open for writing (a writer
/// holds it with <see cref="FileShare.None"/>, a lock on Linux and macOS too), and either the process whose id is
/// in the name has ended or the file has not been written to for <see cref="StaleAge"/> (a process id can be
/// reused; an old-style name has none). A writer in another PID namespace (another container on a shared folder)
/// that has closed its temporary file and not yet renamed it could lose that one save, never the target.
/// <see cref="DeleteTemporaries"/> removes every leftover unconditionally.</para>
/// </remarks>
public static class AtomicFile
{
    /// <summary>Writes a file atomically: <paramref name="write"/> fills a temporary file that then replaces <paramref name="path"/>.</summary>
    /// <remarks>
    /// <para>Only a regular file is ever replaced. A destination that is a folder, a device, a FIFO or a socket is
    /// refused before anything is written (<see cref="CheckDestination"/>): renaming over it would swap the device
    /// node or pipe for a plain file. A symbolic link is followed, as <c>cp</c> and editors do: its final target is
    /// replaced atomically (the temporary file is made beside the target) and the link stays a link.</para>
    /// <para>When writing fails (no space left on the device, a quota, an I/O error, a folder that became read-only),
    /// the temporary file is deleted and the previous file stays exactly as it was; the <see cref="IOException"/>
    /// names <paramref name="path"/> and says so.</para>
    /// </remarks>
    /// <param name="path">The file to create or replace. Its folder must exist.</param>
    /// <param name="write">Writes the whole content to the stream it is given (do not close it). If it throws, the target is left as it was and the temporary file is deleted.</param>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> (or of the file its link points to) does not exist.</exception>
    /// <exception cref="IOException">The destination is not a regular file, or the file could not be written; the message names it.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = CheckDestination(path);
        var folder = Path.GetDirectoryName(full)!;
        DeleteStaleTemporaries(full);
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            // Checked again just before the rename: something else may have appeared at the destination meanwhile.
            CheckKind(path, full);
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && !e.Data.Contains(RefusedMarker))
        {
            TryDelete(temporary);
            throw new IOException(
                $"Cannot save '{path}': {Printable.Escape(e.Message.TrimEnd('.'))}; {(File.Exists(full) ? "the previous file is unchanged" : "nothing was written")}. " +
                "Check the free space and the folder's permissions, or choose another folder.", e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        SyncFolder(folder);
    }

    /// <summary>Checks, without writing anything, that <see cref="Write"/> may replace <paramref name="path"/>, and says
    /// which file it would replace: the path itself, or the final target of the symbolic link(s) it names.</summary>
    /// <remarks>Programs call it before long work (training, say), so that a destination that can never be saved to
    /// is refused at once rather than after the work. It does not check that the folder is writable.</remarks>
    /// <param name="path">The destination.</param>
    /// <returns>The full path of the file that would be created or replaced.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="IOException">The destination is a folder, a device, a FIFO, a socket, or a link that cannot be
    /// followed (a loop); the message names it and says what to do.</exception>
    public static string CheckDestination(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (Path.GetFileName(full).Length == 0)
            throw Refused($"Cannot save to '{path}': it names a folder, not a file; give a file name.");
        FileSystemInfo? target;
        try
        {
            target = File.ResolveLinkTarget(full, returnFinalTarget: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            target = null;   // nothing there yet: a new file
        }
        catch (IOException e)
        {
            throw Refused($"Cannot save to '{path}': its symbolic link cannot be followed ({Printable.Escape(e.Message)}); make it point to a file, or remove it.", e);
        }
        if (target is not null) full = Path.GetFullPath(target.FullName);
        var folder = Path.GetDirectoryName(full) ?? throw Refused($"Cannot save to '{path}': it names no file.");
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(target is null
                ? $"Cannot save '{path}': the folder '{folder}' does not exist; create it first."
                : $"Cannot save '{path}': it is a link to '{full}', whose folder '{folder}' does not exist; create it first or fix the link.");
        CheckKind(path, full);
        return full;
    }

    /// <summary>Refuses a destination that exists and is not a regular file.</summary>
    static void CheckKind(string path, string full)
    {
        var kind = FileKinds.Of(full);
        if (kind is FileKind.Missing or FileKind.Regular) return;
        var what = kind switch
        {
            FileKind.Directory => "a folder",
            FileKind.CharacterDevice => "a character device",
            FileKind.BlockDevice => "a block device",
            FileKind.Fifo => "a FIFO (named pipe)",
            FileKind.Socket => "a socket",
            _ => "not a regular file",
        };
        var link = full == Path.GetFullPath(path) ? "" : $" (the link leads to '{full}')";
        throw Refused(
            $"Cannot save to '{path}'{link}: it is {what}, and only a regular file is ever replaced; nothing was written. Give the path of a file.");
    }

    /// <summary>The destination is not a file that may be replaced: an <see cref="IOException"/> thrown before anything
    /// is written, marked so that <see cref="Write"/> passes it on as it is.</summary>
    static IOException Refused(string message, Exception? inner = null)
    {
        var e = new IOException(message, inner);
        e.Data[RefusedMarker] = true;
        return e;
    }

    const string RefusedMarker = "Functional.Serialization.AtomicFile.Refused";

    /// <summary>Deletes the temporary files that writes to <paramref name="path"/> left behind when their process was
    /// killed. Call it when no other process is saving to the same path (for example when training starts).</summary>
    /// <param name="path">The target file whose leftovers to remove.</param>
    /// <returns>How many files were deleted.</returns>
    internal static int DeleteTemporaries(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full);
        if (folder is null || !Directory.Exists(folder)) return 0;
        var deleted = 0;
        foreach (var file in Directory.EnumerateFiles(folder, $".{Path.GetFileName(full)}.*.tmp"))
        {
            if (TryDelete(file)) deleted++;
        }
        return deleted;
    }

    /// <summary>How long a temporary file whose writer cannot be identified as ended must be untouched to count as
    /// stale: far longer than the moment between a writer's last write and its rename.</summary>
    internal static readonly TimeSpan StaleAge = TimeSpan.FromHours(1);

    // The part after ".name.": "<pid>-<32 hex>" (this version) or "<32 hex>" (earlier versions).
    static readonly System.Text.RegularExpressions.Regex TemporarySuffix =
        new(@"^(?:(?<pid>[0-9]{1,10})-)?[0-9a-f]{32}\.tmp$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Deletes the temporary files of interrupted saves to <paramref name="path"/> that no live writer can own
    /// (see the class remarks); best effort, it never throws for a file it cannot delete.</summary>
    /// <returns>How many files were deleted.</returns>
    internal static int DeleteStaleTemporaries(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full);
        if (folder is null || !Directory.Exists(folder)) return 0;
        var prefix = $".{Path.GetFileName(full)}.";
        var deleted = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, prefix + "*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        foreach (var file in candidates)
        {
            var name = Path.GetFileName(file);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var match = TemporarySuffix.Match(name[prefix.Length..]);
            if (!match.Success) continue;
            if (IsStale(file, match.Groups["pid"].Success ? match.Groups["pid"].Value : null) && TryDelete(file)) deleted++;
        }
        return deleted;
    }

    static bool IsStale(string file, string? pidText)
    {
        try
        {
            // A writer holds its temporary file open with FileShare.None until it is complete.
            using (new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.None)) { }
            var old = DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > StaleAge;
            if (old) return true;
            return pidText is not null && int.TryParse(pidText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                   && pid != Environment.ProcessId && !IsAlive(pid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;   // open elsewhere, gone already, or not ours to touch
        }
    }

    static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;   // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    static bool TryDelete(string file)
    {
        try
        {
            File.Delete(file);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Flushes a folder's entries to disk where the OS allows it; best effort, as documented on the class.</summary>
    internal static bool SyncFolder(string folder)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return false;
        try
        {
            var fd = Posix.open(folder, 0 /* O_RDONLY */);
            if (fd < 0) return false;
            try
            {
                return Posix.fsync(fd) == 0;
            }
            finally
            {
                Posix.close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    static class Posix
    {
        [DllImport("libc", SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        internal static extern int fsync(int fd);

        [DllImport("libc", SetLastError = true)]
        internal static extern int close(int fd);
    }
}
