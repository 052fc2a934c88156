using System.Runtime.InteropServices;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>Native loading seen from outside: the Examples program is run from copies of its build
/// output with the native libraries removed or left unpatched.</summary>
public class NativeLoadingTests
{
    static string CopyWithout(Func<string, bool> skip, Func<string, bool> link)
    {
        var source = ExamplesCli.Folder();
        var target = Path.Combine(Path.GetTempPath(), "functional-native-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source))
        {
            var name = Path.GetFileName(file);
            if (skip(name)) continue;
            var destination = Path.Combine(target, name);
            if (link(name)) File.CreateSymbolicLink(destination, file);
            else File.Copy(file, destination);
        }
        return target;
    }

    static (int Exit, string Output) RunInfo(string folder, string home)
    {
        var result = ExamplesCli.Run(Path.Combine(folder, "Functional.Examples.dll"), ["info"], TimeSpan.FromSeconds(60), start =>
        {
            start.Environment["HOME"] = home;
            start.Environment["XDG_DATA_HOME"] = Path.Combine(home, ".local", "share");
        });
        return (result.ExitCode, result.Output + result.Error);
    }

    [Test]
    public void MissingNativeLibrariesGiveAnErrorThatSaysWhatWasTriedAndWhatToDo()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) Assert.Ignore("the copy below removes Linux .so files");
        var folder = CopyWithout(name => name.Contains(".so"), _ => false);
        var (exit, output) = RunInfo(folder, folder);
        Assert.That(exit, Is.EqualTo(3), output);
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), "one line: " + output);
        Assert.That(output, Does.Contain("Functional could not load LibTorch"));
        Assert.That(output, Does.Contain($"no libLibTorchSharp.so was found (searched {folder} and"), "what was tried");
        Assert.That(output, Does.Contain("add a LibTorch backend package to the application: TorchSharp-cpu 0.107.0"), "how to fix it");
        Assert.That(output, Does.Not.Contain("doesn't contain a reference to libtorch-cpu-linux-x64"), "TorchSharp's misleading message leaked through");
    }

    [Test]
    public void AnUnpatchedOutputIsPatchedIntoAPerUserCacheWhenTheSystemNeedsIt()
    {
        if (ElfVersions.SystemLibStdCxxDefines(ElfVersions.LibTorchSharpVersion) != false)
            Assert.Ignore("this system's libstdc++ defines GLIBCXX_3.4.32, so no patch is ever needed here.");
        var folder = CopyWithout(name => name == "libLibTorchSharp.so", name => name.Contains(".so"));
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.Copy(Path.Combine(cache, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                  Path.Combine(folder, "libLibTorchSharp.so"));
        var home = Path.Combine(folder, "home");
        Directory.CreateDirectory(home);

        var (exit, output) = RunInfo(folder, home);

        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("LibTorch 2.10.0.0 loaded from " + Path.Combine(home, ".local", "share", "Functional", "native")));
        Assert.That(output, Does.Contain("[[3, 3]"));
        // A second run finds the first run's patched copy instead of making another.
        var (exitAgain, outputAgain) = RunInfo(folder, home);
        Assert.That(exitAgain, Is.EqualTo(0), outputAgain);
        Assert.That(Directory.GetDirectories(Path.Combine(home, ".local", "share", "Functional", "native")), Has.Length.EqualTo(1));
        // The copy in the output folder is left as it was shipped.
        var shipped = Path.Combine(folder, "libLibTorchSharp.so");
        Assert.That(ElfVersions.ReadNeeds(File.ReadAllBytes(shipped), shipped).Single(n => n.Version == ElfVersions.LibTorchSharpVersion).IsWeak, Is.False);
    }
}
