using System.Runtime.InteropServices;

namespace Functional.Serialization;

/// <summary>What a path names, symbolic links followed: the file types of <c>stat(2)</c>.</summary>
internal enum FileKind { Missing, Regular, Directory, CharacterDevice, BlockDevice, Fifo, Socket, Other }

/// <summary>Tells a regular file from a device, FIFO or socket, which .NET's <see cref="File"/> and
/// <see cref="FileInfo"/> do not: on Linux through <c>statx(2)</c>, whose layout is the same on every architecture.</summary>
/// <remarks>Elsewhere (macOS, Windows) only folders are told apart from files, with <see cref="Directory.Exists"/>:
/// a device node there is taken for a file.</remarks>
internal static class FileKinds
{
    /// <summary>The kind of <paramref name="path"/>, symbolic links followed.</summary>
    public static FileKind Of(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (Linux(path) is { } kind) return kind;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // an old C library without statx: fall through to what .NET can tell
            }
        }
        if (Directory.Exists(path)) return FileKind.Directory;
        return File.Exists(path) ? FileKind.Regular : FileKind.Missing;
    }

    const int AtFdCwd = -100;
    const uint StatxType = 0x1;
    const int ModeOffset = 28;   // struct statx: stx_mask, stx_blksize (u32 each), stx_attributes (u64), stx_nlink, stx_uid, stx_gid (u32 each), stx_mode (u16)
    const int ENOENT = 2, ENOTDIR = 20;

    static FileKind? Linux(string path)
    {
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR ? FileKind.Missing : null;
        }
        var mode = BitConverter.ToUInt16(buffer, ModeOffset) & 0xF000;
        return mode switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
    }

    [DllImport("libc", SetLastError = true)]
    static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
