using System.Diagnostics;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>The GLIBCXX weak-version patch, tested on copies of the real libraries from the
/// TorchSharp packages in the NuGet cache (never on the cache's own files).</summary>
public class ElfVersionsTests
{
    static string PackageNative(string package, string version, string file)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(cache, package, version, "runtimes", "linux-x64", "native", file);
        if (!File.Exists(path)) Assert.Ignore($"{path} is not in the NuGet cache (these tests need the linux-x64 TorchSharp packages restored).");
        return path;
    }

    static string OriginalShim => PackageNative("torchsharp", "0.107.0", "libLibTorchSharp.so");

    static string TempCopy(string source)
    {
        var folder = Path.Combine(Path.GetTempPath(), "functional-elf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var copy = Path.Combine(folder, Path.GetFileName(source));
        File.Copy(source, copy);
        return copy;
    }

    [Test]
    public void ShippedShimNeedsTheVersionStrictly()
    {
        var needs = ElfVersions.ReadNeeds(File.ReadAllBytes(OriginalShim), OriginalShim);
        var need = needs.Single(n => n.Version == ElfVersions.LibTorchSharpVersion);
        Assert.That(need.File, Is.EqualTo("libstdc++.so.6"));
        Assert.That(need.IsWeak, Is.False);
        // Sanity of the reader: the shim needs many versions of libc and libstdc++.
        Assert.That(needs.Count(n => n.File == "libstdc++.so.6"), Is.GreaterThan(5));
        Assert.That(needs.Any(n => n.File.StartsWith("libc.so") && n.Version.StartsWith("GLIBC_2.")), Is.True);
    }

    [Test]
    public void PatchSetsTheWeakFlagAndChangesNothingElse()
    {
        var copy = TempCopy(OriginalShim);
        var before = File.ReadAllBytes(copy);
        var needsBefore = ElfVersions.ReadNeeds(before, copy);

        Assert.That(ElfVersions.PatchFile(copy, ElfVersions.LibTorchSharpVersion), Is.EqualTo(1));

        var after = File.ReadAllBytes(copy);
        var needsAfter = ElfVersions.ReadNeeds(after, copy);
        Assert.That(after.Length, Is.EqualTo(before.Length));
        var target = needsBefore.Single(n => n.Version == ElfVersions.LibTorchSharpVersion);
        var changedOffsets = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
        // Only the low byte of that one vna_flags field changes (little endian: 0x0000 -> 0x0002).
        Assert.That(changedOffsets, Is.EqualTo(new[] { (int)target.FlagsOffset }));
        for (int i = 0; i < needsBefore.Count; i++)
        {
            Assert.That(needsAfter[i].Version, Is.EqualTo(needsBefore[i].Version));
            var expectedFlags = needsBefore[i].Version == ElfVersions.LibTorchSharpVersion ? (ushort)(needsBefore[i].Flags | ElfVersions.WeakFlag) : needsBefore[i].Flags;
            Assert.That(needsAfter[i].Flags, Is.EqualTo(expectedFlags), needsBefore[i].ToString());
        }
        // A second patch finds nothing to do and leaves the file as it is.
        Assert.That(ElfVersions.PatchFile(copy, ElfVersions.LibTorchSharpVersion), Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(copy), Is.EqualTo(after));
    }

    [Test]
    public void ReadelfAgreesThatThePatchedEntryIsWeak()
    {
        if (!File.Exists("/usr/bin/readelf")) Assert.Ignore("readelf (binutils) is not installed, so there is no second reader to compare with.");
        var copy = TempCopy(OriginalShim);
        ElfVersions.PatchFile(copy, ElfVersions.LibTorchSharpVersion);
        var readelf = Process.Start(new ProcessStartInfo("/usr/bin/readelf", $"-V \"{copy}\"") { RedirectStandardOutput = true })!;
        var output = readelf.StandardOutput.ReadToEnd();
        readelf.WaitForExit();
        var line = output.Split('\n').Single(l => l.Contains("Name: " + ElfVersions.LibTorchSharpVersion));
        Assert.That(line, Does.Contain("Flags: WEAK"));
        Assert.That(output.Split('\n').Count(l => l.Contains("Flags: WEAK")), Is.EqualTo(1));
    }

    [Test]
    public void FileWithoutTheEntryStaysByteIdentical()
    {
        // libtorch.so needs libstdc++ versions up to 3.4.26 only.
        var copy = TempCopy(PackageNative("libtorch-cpu-linux-x64", "2.10.0", "libtorch.so"));
        var before = File.ReadAllBytes(copy);
        Assert.That(ElfVersions.ReadNeeds(before, copy).Any(n => n.Version == ElfVersions.LibTorchSharpVersion), Is.False);
        Assert.That(ElfVersions.PatchFile(copy, ElfVersions.LibTorchSharpVersion), Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(copy), Is.EqualTo(before));
    }

    [Test]
    public void NonElfFileIsRefusedNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "functional-not-elf-" + Guid.NewGuid().ToString("N") + ".so");
        File.WriteAllText(path, "this is a text file, not a shared library");
        var e = Assert.Throws<InvalidDataException>(() => ElfVersions.PatchFile(path, ElfVersions.LibTorchSharpVersion))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("magic"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("this is a text file, not a shared library"));
    }

    [Test]
    public void SectionOffsetAndSizeThatOverflowAreRefused()
    {
        // The string table of .gnu.version_r gets offset and size 2^62 each: their sum overflows a long.
        var image = File.ReadAllBytes(OriginalShim);
        long U64(long at) => BitConverter.ToInt64(image, (int)at);
        long table = U64(0x28);
        int entrySize = BitConverter.ToUInt16(image, 0x3A), count = BitConverter.ToUInt16(image, 0x3C);
        var verneed = Enumerable.Range(0, count).Select(i => table + (long)i * entrySize)
            .Single(h => BitConverter.ToUInt32(image, (int)h + 4) == 0x6ffffffe);
        var strings = table + BitConverter.ToUInt32(image, (int)verneed + 40) * (long)entrySize;
        BitConverter.GetBytes(1L << 62).CopyTo(image, (int)strings + 24);
        BitConverter.GetBytes(1L << 62).CopyTo(image, (int)strings + 32);
        var e = Assert.Throws<InvalidDataException>(() => ElfVersions.ReadNeeds(image, "overflow.so"))!;
        Assert.That(e.Message, Does.StartWith("overflow.so: at byte offset " + strings));
    }

    [TestCase(10)]
    [TestCase(64)]
    [TestCase(4096)]
    [TestCase(200_000)]
    public void TruncatedFileIsRefusedWithTheOffset(int length)
    {
        var original = File.ReadAllBytes(OriginalShim);
        var truncated = original.Take(length).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => ElfVersions.MarkWeak(truncated, ElfVersions.LibTorchSharpVersion, "cut.so"))!;
        Assert.That(e.Message, Does.StartWith("cut.so: at byte offset "));
        Assert.That(e.Message, Does.Contain("truncated").Or.Contain("inside"));
    }

    [Test]
    public void SystemLibStdCxxIsReadWhereThereIsOne()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) Assert.Ignore("libstdc++ versions are a Linux matter.");
        var library = ElfVersions.FindSystemLibStdCxx();
        Assert.That(library, Is.Not.Null, "no libstdc++.so.6 in the usual folders");
        var definitions = ElfVersions.ReadDefinitions(File.ReadAllBytes(library!), library!);
        // Every libstdc++ since GCC 3.4 defines these.
        Assert.That(definitions, Does.Contain("GLIBCXX_3.4").And.Contain("CXXABI_1.3"));
    }

    [Test]
    public void BuildOutputShimLoadsOnThisSystem()
    {
        // The build patched the copy in this test's output folder only if the system lacks the version.
        var shim = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        if (!File.Exists(shim)) Assert.Ignore("not a linux-x64 build output");
        var weak = ElfVersions.ReadNeeds(File.ReadAllBytes(shim), shim).Single(n => n.Version == ElfVersions.LibTorchSharpVersion).IsWeak;
        Assert.That(weak, Is.EqualTo(ElfVersions.SystemLibStdCxxDefines(ElfVersions.LibTorchSharpVersion) == false));
        Native.EnsureLoaded();
        Assert.That(Native.LoadedFrom, Is.EqualTo(shim));
    }
}
