using System.Diagnostics;
using System.Net.Sockets;
using Functional.Data;
using Functional.Serialization;
using NUnit.Framework;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>
/// What a save may replace (issue 13, item 12): only a regular file. A folder, a device node, a FIFO or a socket at the
/// destination is refused in one line before anything is written, and stays what it was; a symbolic link is followed,
/// its target replaced atomically and the link kept; a write that fails (a full disk, on a real tmpfs of 64 KiB) names
/// the file and leaves the old one as it was. The special files are made for real (mkfifo, mknod, a bound socket).
/// </summary>
public class AtomicFileTests : FileTestBase
{
    /// <summary>Runs a program to the end; its exit code.</summary>
    internal static int Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(info)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;   // no such program
        }
    }

    static bool IsRoot => OperatingSystem.IsLinux() && Environment.UserName == "root";

    /// <summary>A special file of the kind asked for at <paramref name="path"/>; the test is ignored where it cannot be made.</summary>
    internal static IDisposable? Make(string kind, string path)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("device nodes, FIFOs and sockets are told apart on Linux (statx)");
        switch (kind)
        {
            case "folder":
                Directory.CreateDirectory(path);
                return null;
            case "fifo":
                if (Run("mkfifo", path) != 0) Assert.Ignore("mkfifo failed");
                return null;
            case "socket":
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(path));
                return socket;
            case "device":
                // A character device like /dev/null (1, 3), made here so that a failing test can never replace a system node.
                if (!IsRoot || Run("mknod", path, "c", "1", "3") != 0) Assert.Ignore("mknod needs root");
                return null;
            default:
                throw new ArgumentException(kind);
        }
    }

    internal static FileKind Expected(string kind) => kind switch
    {
        "folder" => FileKind.Directory,
        "fifo" => FileKind.Fifo,
        "socket" => FileKind.Socket,
        _ => FileKind.CharacterDevice,
    };

    static readonly string[] Words = ["a folder", "a FIFO (named pipe)", "a socket", "a character device"];

    [TestCase("folder")]
    [TestCase("fifo")]
    [TestCase("socket")]
    [TestCase("device")]
    public void ADestinationThatIsNotARegularFileIsRefusedAndStaysWhatItWas(string kind)
    {
        var path = FilePath("target");
        using var keep = Make(kind, path);
        Assert.That(FileKinds.Of(path), Is.EqualTo(Expected(kind)));
        var wrote = false;
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => { wrote = true; s.WriteByte(1); }));
        Assert.That(e!.Message, Does.StartWith($"Cannot save to '{path}': it is ").And.Contain("only a regular file is ever replaced"));
        Assert.That(Words.Any(w => e.Message.Contains(w)), Is.True, e.Message);
        Assert.That(e.Message, Does.Not.Contain("\n"));
        Assert.That(wrote, Is.False, "refused before anything is written");
        Assert.That(FileKinds.Of(path), Is.EqualTo(Expected(kind)), "the node is still there, untouched");
        Assert.That(Directory.GetFiles(Folder).Where(f => f.EndsWith(".tmp")), Is.Empty, "no temporary file left");

        // The library's save functions refuse it the same way (they all go through AtomicFile).
        using var t = ones(2);
        Assert.Throws<IOException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["t"] = t }));
        using var image = zeros([1, 2, 2], ScalarType.Byte);
        var png = path + ".png";
        using (Make(kind, png))   // (.NET deletes a socket's file when the socket is closed)
        {
            Assert.Throws<IOException>(() => ImageFile.WriteTensor(png, image));
            Assert.That(FileKinds.Of(png), Is.EqualTo(Expected(kind)));
        }
        Assert.Throws<IOException>(() => AtomicFile.CheckDestination(path));
    }

    [Test]
    public void ASymbolicLinkIsFollowedItsTargetReplacedAndTheLinkKept()
    {
        var target = FilePath("real.safetensors");
        File.WriteAllText(target, "old");
        var middle = FilePath("middle");
        File.CreateSymbolicLink(middle, "real.safetensors");   // relative, as ln -s makes them
        var link = FilePath("link");
        File.CreateSymbolicLink(link, middle);                  // a chain of two links
        Assert.That(AtomicFile.CheckDestination(link), Is.EqualTo(target));

        AtomicFile.Write(link, s => s.Write("new"u8));
        Assert.That(File.ReadAllText(target), Is.EqualTo("new"));
        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(middle), "the link is still a link");
        Assert.That(new FileInfo(middle).LinkTarget, Is.EqualTo("real.safetensors"));
        Assert.That(Directory.GetFiles(Folder).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "link", "middle", "real.safetensors" }));

        // A link to a file not made yet makes it; a link to a device is refused like the device.
        var dangling = FilePath("dangling");
        File.CreateSymbolicLink(dangling, FilePath("later.bin"));
        AtomicFile.Write(dangling, s => s.WriteByte(7));
        Assert.That(File.ReadAllBytes(FilePath("later.bin")), Is.EqualTo(new byte[] { 7 }));
        Assert.That(new FileInfo(dangling).LinkTarget, Is.Not.Null);
        var toFifo = FilePath("to-fifo");
        Make("fifo", FilePath("fifo"));
        File.CreateSymbolicLink(toFifo, FilePath("fifo"));
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(toFifo, s => s.WriteByte(1)));
        Assert.That(e!.Message, Does.Contain($"(the link leads to '{FilePath("fifo")}')").And.Contain("a FIFO"));
    }

    [Test]
    public void ALinkLoopIsRefusedInOneLine()
    {
        var a = FilePath("a");
        var b = FilePath("b");
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(a, s => s.WriteByte(1)));
        Assert.That(e!.Message, Does.StartWith($"Cannot save to '{a}': its symbolic link cannot be followed"));
    }

    /// <summary>A real full disk: a 64 KiB tmpfs mounted for the test (root only).</summary>
    [Test]
    public void AWriteThatRunsOutOfSpaceIsReportedAndLeavesTheOldFile()
    {
        var mount = FilePath("small");
        Directory.CreateDirectory(mount);
        if (!IsRoot || Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount) != 0)
            Assert.Ignore("needs root to mount a small tmpfs (a real file system that fills up)");
        try
        {
            var path = Path.Combine(mount, "model.safetensors");
            var old = Enumerable.Range(0, 20_000).Select(i => (byte)i).ToArray();
            AtomicFile.Write(path, s => s.Write(old));
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => s.Write(new byte[200_000])));
            Assert.That(e!.Message, Does.StartWith($"Cannot save '{path}': ").And.Contain("the previous file is unchanged"));
            Assert.That(e.Message, Does.Contain("No space left on device"));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(old), "the old file, byte for byte");
            Assert.That(Directory.GetFiles(mount).Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }), "the temporary file is gone");

            // Through a library save: the same report, the same old file.
            using var big = ones(50_000);
            e = Assert.Throws<IOException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = big }));
            Assert.That(e!.Message, Does.StartWith($"Cannot save '{path}': "));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(old));
        }
        finally
        {
            Run("umount", mount);
        }
    }
}
