using Functional.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Data;

/// <summary>What distinguishes MNIST-style datasets: names, files, mirrors, checksums, classes, and
/// where system packages and the shipped subset put the files.</summary>
internal sealed record IdxDatasetInfo(
    string Name,
    IReadOnlyList<string> Classes,
    IReadOnlyList<Uri> Mirrors,
    IReadOnlyDictionary<string, string> Md5,
    string? SystemFolder,
    string? SystemPackage,
    string? SubsetFolderName)
{
    /// <summary>The base name (without ".gz") of the images file of a split.</summary>
    internal static string ImagesFile(bool train) => (train ? "train" : "t10k") + "-images-idx3-ubyte";

    /// <summary>The base name (without ".gz") of the labels file of a split.</summary>
    internal static string LabelsFile(bool train) => (train ? "train" : "t10k") + "-labels-idx1-ubyte";
}

/// <summary>Where the files of an MNIST-style split are and how they are read: the search order
/// shared by <see cref="FashionMnist"/> and MNIST.</summary>
/// <remarks>
/// The files are looked for, in order: in <c>root</c> (the four files directly, or TorchVision's
/// <c>root/&lt;Name&gt;/raw/</c>), in the Debian package's folder, then downloaded into
/// <c>root/&lt;Name&gt;/raw/</c> when <c>download</c> is true, then in the fallback folder (the small
/// subset that ships with Functional). Plain and gzipped files are both read. Everything is read and
/// checked before the dataset exists: a damaged file raises <see cref="InvalidDataException"/> naming
/// the file and the byte offset.
/// </remarks>
internal static class MnistDataset
{
    /// <summary>The images (uint8 [N, 1, 28, 28]) and labels (int64 [N]) of a split, not owned by any
    /// dispose scope, and where they came from.</summary>
    internal sealed record Loaded(Tensor Images, Tensor Labels, DataSource Source, string ImagesPath, string LabelsPath);

    /// <summary>Finds (or downloads) and reads a split; see the class remarks for the search order.</summary>
    internal static Loaded Load(IdxDatasetInfo info, string? root, bool train, bool download, string? fallback, bool searchSystem, TextWriter? log) =>
        Locate(info, root, train, download, fallback, searchSystem, log);

    /// <summary>Prints as TorchVision does (name, size, root, split, transforms) plus where the files came from.</summary>
    internal static string Describe(string name, int count, string? root, bool train, DataSource source, string transforms)
    {
        var lines = new List<string> { $"Dataset {name}", $"    Number of datapoints: {count}" };
        if (root is not null) lines.Add($"    Root location: {root}");
        lines.Add($"    Split: {(train ? "Train" : "Test")}");
        lines.Add($"    Source: {source}");
        if (transforms.Length > 0) lines.Add("    " + transforms);
        return string.Join("\n", lines);
    }

    /// <summary>The two files of a split in <paramref name="folder"/> (each plain or ".gz"), or null when either is missing.</summary>
    internal static (string Images, string Labels)? FindFiles(string folder, bool train)
    {
        ArgumentNullException.ThrowIfNull(folder);
        static string? Find(string folder, string name)
        {
            foreach (var candidate in new[] { name + ".gz", name })
            {
                var path = Path.Combine(folder, candidate);
                if (File.Exists(path)) return path;
            }
            return null;
        }
        var images = Find(folder, IdxDatasetInfo.ImagesFile(train));
        var labels = Find(folder, IdxDatasetInfo.LabelsFile(train));
        return images is null || labels is null ? null : (images, labels);
    }

    static Loaded Locate(IdxDatasetInfo info, string? root, bool train, bool download, string? fallback, bool searchSystem, TextWriter? log)
    {
        var searched = new List<string>();
        Loaded? TryFolder(string folder, string kind)
        {
            searched.Add(folder);
            var files = FindFiles(folder, train);
            return files is null ? null : Read(info, files.Value.Images, files.Value.Labels, new DataSource(kind, folder));
        }
        string? rawFolder = null;
        if (root is not null)
        {
            rawFolder = Path.Combine(root, info.Name, "raw");
            var found = TryFolder(root, DataSource.Root) ?? TryFolder(rawFolder, DataSource.Root);
            if (found is not null) return found;
        }
        if (searchSystem && info.SystemFolder is not null)
        {
            var found = TryFolder(info.SystemFolder, DataSource.DebianPackage);
            if (found is not null) return found;
        }
        if (download)
        {
            if (rawFolder is null)
                throw new ArgumentException($"{info.Name}: download = true needs a root folder to download into.", nameof(root));
            DownloadSplit(info, rawFolder, train, log ?? Console.Error, searched);
            var files = FindFiles(rawFolder, train)!.Value;
            return Read(info, files.Images, files.Labels, new DataSource(DataSource.Downloaded, rawFolder));
        }
        if (fallback is not null)
        {
            var found = TryFolder(fallback, DataSource.ShippedSubset);
            if (found is not null) return found;
        }
        var message = NotFoundMessage(info, train, searched, root, null);
        // A root that was the only place to look: the first line says which of its files is missing.
        if (root is not null && fallback is null && !download && !(searchSystem && info.SystemFolder is not null))
            message = MissingFromRoot(info, train, root, rawFolder!) + message[message.IndexOf(Environment.NewLine, StringComparison.Ordinal)..];
        throw new DatasetNotFoundException(message);
    }

    /// <summary>One line for a root that was the only place to look: which file of the split it lacks.</summary>
    static string MissingFromRoot(IdxDatasetInfo info, bool train, string root, string rawFolder)
    {
        string[] Missing(string folder) =>
            new[] { IdxDatasetInfo.ImagesFile(train), IdxDatasetInfo.LabelsFile(train) }
                .Where(name => !File.Exists(Path.Combine(folder, name)) && !File.Exists(Path.Combine(folder, name + ".gz")))
                .ToArray();
        var split = train ? "training" : "test";
        var (folder, missing) = (root, Missing(root));
        var inRaw = Missing(rawFolder);
        if (inRaw.Length < missing.Length) (folder, missing) = (rawFolder, inRaw);
        var names = string.Join(" and ", missing.Select(m => Path.Combine(folder, m) + "[.gz]"));
        return missing.Length == 2 && folder == root
            ? $"{root} holds no {info.Name} {split} files: {names} are missing (looked there and in {rawFolder}); copy the four IDX files there."
            : $"{root} holds only part of the {info.Name} {split} split: {names} {(missing.Length == 1 ? "is" : "are")} missing; copy {(missing.Length == 1 ? "it" : "them")} there.";
    }

    static string NotFoundMessage(IdxDatasetInfo info, bool train, List<string> searched, string? root, string? downloadError)
    {
        var split = train ? "training" : "test";
        var lines = new List<string>
        {
            $"The {info.Name} {split} files ({IdxDatasetInfo.ImagesFile(train)}[.gz], {IdxDatasetInfo.LabelsFile(train)}[.gz]) were not found.",
            "Searched: " + (searched.Count == 0 ? "(nothing)" : string.Join(", ", searched)),
        };
        if (downloadError is not null) lines.Add("The download failed: " + downloadError);
        lines.Add("Ways to get them:");
        if (info.SystemPackage is not null)
            lines.Add($"  - install the Debian/Ubuntu package: sudo apt-get install {info.SystemPackage} (files in {info.SystemFolder});");
        lines.Add($"  - copy the four IDX files into {(root ?? "a folder")} and pass it as root (directly, or under {Path.Combine(root ?? "root", info.Name, "raw")});");
        lines.Add($"  - download them with download = true and a root folder, on a machine with network access ({string.Join(" or ", info.Mirrors)});");
        if (info.SubsetFolderName is not null)
            lines.Add($"  - for a quick start, the real subset inside Functional.Core ({info.SubsetFolderName}): {info.Name}.Load falls back to it, or pass FindShippedSubset() as fallback.");
        return string.Join(Environment.NewLine, lines);
    }

    static void DownloadSplit(IdxDatasetInfo info, string folder, bool train, TextWriter log, List<string> searched)
    {
        foreach (var name in new[] { IdxDatasetInfo.ImagesFile(train), IdxDatasetInfo.LabelsFile(train) })
        {
            var file = name + ".gz";
            var target = Path.Combine(folder, file);
            if (File.Exists(target)) continue;
            info.Md5.TryGetValue(file, out var md5);
            var errors = new List<string>();
            var done = false;
            foreach (var mirror in info.Mirrors)
            {
                var url = new Uri(mirror, file);
                log.WriteLine($"Downloading {url} to {target}");
                try
                {
                    Download.ToFile(url, target, md5, log);
                    done = true;
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException || (e is IOException && e is not InvalidDataException))
                {
                    log.WriteLine($"  failed: {e.Message}");
                    errors.Add($"{url}: {e.Message}");
                }
            }
            if (!done)
                throw new DatasetNotFoundException(NotFoundMessage(info, train, searched, Path.GetDirectoryName(Path.GetDirectoryName(folder)), string.Join("; ", errors)));
        }
    }

    /// <summary>The rows and columns of every MNIST-style image.</summary>
    internal const int ImageSide = 28;

    static Loaded Read(IdxDatasetInfo info, string imagesPath, string labelsPath, DataSource source)
    {
        var images = Idx.Read(imagesPath);
        var labels = Idx.Read(labelsPath);
        if (images.Dimensions.Length != 3)
            throw new InvalidDataException($"{imagesPath}: an images file has 3 dimensions (count, rows, columns), found {Shapes.Text(images.Dimensions)} in the header at byte offset 4.");
        if (labels.Dimensions.Length != 1)
            throw new InvalidDataException($"{labelsPath}: a labels file has 1 dimension (count), found {Shapes.Text(labels.Dimensions)} in the header at byte offset 4.");
        if (images.Dimensions[1] != ImageSide || images.Dimensions[2] != ImageSide)
            throw new InvalidDataException(
                $"{imagesPath}: the header at byte offset 8 gives images of {images.Dimensions[1]} x {images.Dimensions[2]}; {info.Name} images are {ImageSide} x {ImageSide}. The file is damaged or of another dataset.");
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new InvalidDataException($"{imagesPath} holds {images.Dimensions[0]} images but {labelsPath} holds {labels.Dimensions[0]} labels; they must be the same split.");
        var classes = info.Classes.Count;
        var labelValues = labels.Data;
        for (int i = 0; i < labelValues.Length; i++)
            if (labelValues[i] >= classes)
                throw new InvalidDataException($"{labelsPath}: label {labelValues[i]} at byte offset {8 + i} (of the IDX data) is not a class index 0 to {classes - 1}.");
        Native.EnsureLoaded();
        var n = images.Dimensions[0];
        var x = tensor(images.Data, new long[] { n, 1, images.Dimensions[1], images.Dimensions[2] }, ScalarType.Byte).DetachFromDisposeScope();
        var longs = new long[labelValues.Length];
        for (int i = 0; i < longs.Length; i++) longs[i] = labelValues[i];
        var y = tensor(longs, ScalarType.Int64).DetachFromDisposeScope();
        return new Loaded(x, y, source, imagesPath, labelsPath);
    }

    /// <summary>The folder of the real subset of <paramref name="info"/> that ships inside
    /// Functional.Core (written once to a per-user folder), or null when the dataset has none.</summary>
    internal static string? FindShippedSubset(IdxDatasetInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.SubsetFolderName is null ? null : ShippedSubset.Extract(info.SubsetFolderName);
    }
}
