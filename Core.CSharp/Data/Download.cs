using Functional.Serialization;
using System.Security.Cryptography;

namespace Functional.Data;

/// <summary>Fetches dataset files over HTTP with a progress display and a checksum check, and checks
/// files already on disk the same way.</summary>
internal static class Download
{
    /// <summary>The MD5 of a file, as lowercase hex.</summary>
    public static string Md5(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    /// <summary>Checks that a file has the expected MD5.</summary>
    /// <exception cref="InvalidDataException">The checksum differs; the message names the file and both sums.</exception>
    public static void VerifyMd5(string path, string expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var actual = Md5(path);
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: MD5 checksum {actual} does not match the expected {expected.ToLowerInvariant()}; the file is damaged or not the official one. Delete it and get it again.");
    }

    /// <summary>Downloads <paramref name="url"/> to <paramref name="path"/>, showing progress on
    /// <paramref name="progress"/>, then checks its MD5 (when given). The file appears under its name
    /// only when complete and verified.</summary>
    /// <exception cref="HttpRequestException">The server could not be reached or refused the file.</exception>
    /// <exception cref="InvalidDataException">The downloaded file has the wrong checksum (it is deleted).</exception>
    public static void ToFile(Uri url, string path, string? md5, TextWriter? progress, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var client = new HttpClient { Timeout = timeout ?? TimeSpan.FromMinutes(10) };
        using var response = client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        var total = response.Content.Headers.ContentLength;
        using var input = response.Content.ReadAsStream();
        // An atomic write: a download that fails or does not match its checksum leaves no file behind.
        AtomicFile.Write(full, output =>
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.MD5);
            var buffer = new byte[1 << 16];
            long done = 0;
            var lastShown = -1L;
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                hash.AppendData(buffer, 0, read);
                done += read;
                var step = total is > 0 ? done * 20 / total.Value : done >> 22;
                if (progress is not null && step != lastShown)
                {
                    lastShown = step;
                    progress.Write(total is > 0
                        ? $"\r  {Path.GetFileName(full)}: {done / 1e6:F1} / {total.Value / 1e6:F1} MB ({100 * done / total.Value}%)"
                        : $"\r  {Path.GetFileName(full)}: {done / 1e6:F1} MB");
                }
            }
            progress?.WriteLine();
            var actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
            if (md5 is not null && !string.Equals(actual, md5, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException(
                    $"{url}: MD5 checksum {actual} of the downloaded file does not match the expected {md5.ToLowerInvariant()}; it is damaged or not the official file, so it was deleted instead of being saved as {full}. Try another mirror, or get the files another way.");
        });
    }
}
