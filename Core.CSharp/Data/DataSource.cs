namespace Functional.Data;

/// <summary>Where a dataset's files were found: the kind of source and its folder.</summary>
/// <param name="Kind">One of <see cref="Root"/>, <see cref="DebianPackage"/>, <see cref="Downloaded"/>, <see cref="ShippedSubset"/>.</param>
/// <param name="Folder">The folder that holds the files.</param>
public sealed record DataSource(string Kind, string Folder)
{
    /// <summary>The files were in the root folder the caller gave.</summary>
    public const string Root = "root";

    /// <summary>The files came from the Debian package (e.g. <c>dataset-fashion-mnist</c>).</summary>
    public const string DebianPackage = "debian package";

    /// <summary>The files were downloaded into the root folder.</summary>
    public const string Downloaded = "downloaded";

    /// <summary>The small subset that ships with Functional (not the full dataset).</summary>
    public const string ShippedSubset = "shipped subset";

    /// <inheritdoc />
    public override string ToString() => $"{Kind} ({Folder})";
}

/// <summary>The files of a dataset were found nowhere; the message lists the places searched and the ways to get them.</summary>
public sealed class DatasetNotFoundException : IOException
{
    /// <summary>Creates the exception.</summary>
    public DatasetNotFoundException(string message, Exception? inner = null) : base(message, inner) { }
}
