using System.Diagnostics;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>
/// Finds and runs the Examples CLI (<c>Functional.Examples.dll</c>) as a child process, for the tests that look at
/// the library from outside: native loading, killed checkpoint writers, the CLI commands themselves.
/// </summary>
/// <remarks>
/// Core.Tests references Examples (without its assembly) so that building the tests builds the CLI first, in the
/// same configuration; its output is <c>Examples/bin/&lt;Configuration&gt;/net10.0</c> under the repository root.
/// </remarks>
internal static class ExamplesCli
{
    /// <summary>The repository root: the first folder above the test output that holds Functional.sln.</summary>
    public static string RepositoryRoot()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Functional.sln"))) root = root.Parent;
        if (root is null) Assert.Fail($"The repository root (Functional.sln) was not found above {output.FullName}.");
        return root!.FullName;
    }

    /// <summary>The Examples build output folder of the configuration these tests were built in.</summary>
    public static string Folder()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;   // .../Core.Tests/bin/<Configuration>/net10.0
        var folder = Path.Combine(RepositoryRoot(), "Examples", "bin", configuration, "net10.0");
        var dll = Path.Combine(folder, "Functional.Examples.dll");
        if (!File.Exists(dll))
            Assert.Fail($"{dll} is absent: run `dotnet build Examples -c {configuration}` before this test (CI builds Examples first).");
        return folder;
    }

    /// <summary>The CLI's assembly in <see cref="Folder"/>.</summary>
    public static string Dll() => Path.Combine(Folder(), "Functional.Examples.dll");

    /// <summary>The dotnet host that runs these tests, so that the child uses the same runtime.</summary>
    public static string Host() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    /// <summary>A start for <c>dotnet &lt;dll&gt; args...</c> with redirected output and one OpenMP thread (two
    /// LibTorch processes spinning on two cores run many times slower).</summary>
    public static ProcessStartInfo StartInfo(string dll, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(Host())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = "1";
        info.Environment["MKL_NUM_THREADS"] = "1";
        return info;
    }

    /// <summary>What a finished child printed.</summary>
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        /// <summary>The standard output's lines, without the line ends.</summary>
        public string[] Lines => Output.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');

        /// <summary>Everything, for assertion messages.</summary>
        public override string ToString() => $"exit code {ExitCode}\n--- stdout\n{Output}--- stderr\n{Error}";
    }

    /// <summary>Runs the CLI of <paramref name="dll"/> to the end, failing the test if it takes longer than
    /// <paramref name="timeout"/>.</summary>
    public static Result Run(string dll, IEnumerable<string> args, TimeSpan timeout, Action<ProcessStartInfo>? configure = null)
    {
        var info = StartInfo(dll, args);
        configure?.Invoke(info);
        return RunToEnd(info, timeout);
    }

    /// <summary>Runs the process of <paramref name="info"/> (its output redirected) to the end, failing the test if it
    /// takes longer than <paramref name="timeout"/>.</summary>
    public static Result RunToEnd(ProcessStartInfo info, TimeSpan timeout)
    {
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"`{info.FileName} {string.Join(' ', info.ArgumentList)}` did not finish in {timeout.TotalSeconds} s.\n{output.Result}{error.Result}");
        }
        process.WaitForExit();   // the redirected streams are complete only after the parameterless wait
        return new Result(process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Runs the CLI of the build output (<see cref="Dll"/>).</summary>
    public static Result Run(params string[] args) => Run(Dll(), args, TimeSpan.FromSeconds(120));
}
