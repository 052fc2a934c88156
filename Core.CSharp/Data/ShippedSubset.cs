using System.Reflection;
using Functional.Serialization;

namespace Functional.Data;

/// <summary>The real Fashion-MNIST subset embedded in Functional.Core, so that the default load works
/// from the package on a machine with no data installed and no network. The readers take folders of
/// IDX files, so the embedded files are written once to a per-user folder
/// (<c>~/.local/share/Functional/data/</c> on Linux), keyed by the library's version and the files'
/// sizes, each file atomically: a half-written copy is never used.</summary>
internal static class ShippedSubset
{
    const string Prefix = "Functional.Data.";

    /// <summary>The folder holding the embedded subset named <paramref name="name"/> (with its licence),
    /// written there on first use; null when this build of the library does not embed it.</summary>
    internal static string? Extract(string name)
    {
        var assembly = typeof(ShippedSubset).Assembly;
        var prefix = Prefix + name + ".";
        var resources = assembly.GetManifestResourceNames().Where(r => r.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        if (resources.Length == 0) return null;
        long total = 0;
        foreach (var resource in resources)
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            total += stream.Length;
        }
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        var plus = version.IndexOf('+');
        if (plus >= 0) version = version[..plus];
        var folder = Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
            "Functional", "data", $"{name}-{version}-{total:x}");
        Directory.CreateDirectory(folder);
        foreach (var resource in resources)
        {
            var target = Path.Combine(folder, resource[prefix.Length..]);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            if (File.Exists(target) && new FileInfo(target).Length == stream.Length) continue;
            AtomicFile.Write(target, stream.CopyTo);
        }
        return folder;
    }
}
