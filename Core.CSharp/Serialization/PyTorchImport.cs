using System.Collections;
using Razorvine.Pickle.Objects;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;

namespace Functional.Serialization;

/// <summary>
/// Imports PyTorch <c>.pt</c>/<c>.pth</c> state dicts (what <c>torch.save(model.state_dict(), path)</c> writes), for
/// weights that exist only in that form. Prefer safetensors: a <c>.pt</c> file is a pickle.
/// </summary>
/// <remarks>
/// Both layouts of <c>torch.save</c> are read: the zip archive (PyTorch 1.6 and later) and the legacy sequence of
/// pickles (earlier versions, or <c>_use_new_zipfile_serialization=False</c>). Tensors saved as views into a larger
/// storage (slices, tensors sharing one storage, a storage offset, strides) are read as PyTorch reads them, each into a
/// fresh tensor of its own. The pickles are interpreted by Razorvine.Pickle with a whitelist of three meanings (tensors,
/// parameters, ordered dictionaries): no Python and no code from the file runs. Whole pickled models
/// (<c>torch.save(model)</c>) and TorchScript archives cannot be read; the error says so and how to re-save the weights.
/// Any failure to read the file is reported as an <see cref="InvalidDataException"/> naming it.
/// </remarks>
public static class PyTorchImport
{
    /// <summary>Reads a PyTorch state dict from a <c>.pt</c>/<c>.pth</c> file.</summary>
    /// <param name="path">The file written by <c>torch.save(state_dict, path)</c>.</param>
    /// <returns>Name to fresh CPU tensor; the caller owns (and disposes) them.</returns>
    /// <exception cref="InvalidDataException">The file is not a readable PyTorch state dict, or holds something other than tensors.</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No PyTorch file at '{path}'.", path);
        Native.EnsureLoaded();
        object saved;
        try
        {
            saved = TorchSaveFormat.Read(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !TorchSaveFormat.IsAccount(e))
        {
            throw new InvalidDataException($"{path}: not a readable PyTorch state dict ({e.GetType().Name}: {Printable.Escape(e.Message)}); the file is damaged, or not written by torch.save.", e);
        }
        if (saved is not Hashtable table)
        {
            // Described before it is freed: a tensor's shape cannot be read once it is disposed.
            var message = saved is ClassDict pickled
                ? $"{path}: {TorchSaveFormat.WholeObject(Printable.Escape(pickled.ClassName))}"
                : $"{path}: holds {Describe(saved)} instead of a state dict (a dictionary of tensors); in PyTorch, save model.state_dict().";
            Dispose(saved);
            throw new InvalidDataException(message);
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        string? problem = null;
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is not string name) problem ??= $"a key of type {entry.Key?.GetType().Name ?? "null"} instead of a string";
            else if (entry.Value is ClassDict pickled) problem ??= $"the entry '{Printable.Escape(name)}' is a pickled Python object of class {Printable.Escape(pickled.ClassName)}";
            else if (entry.Value is not Tensor tensor) problem ??= $"the entry '{Printable.Escape(name)}' holds {Describe(entry.Value)} instead of a tensor";
            else result[name] = tensor;
        }
        if (problem is not null)
        {
            Dispose(table);
            throw new InvalidDataException($"{path}: this is not a flat state dict of tensors: {problem}. Save model.state_dict() in PyTorch.");
        }
        return result;
    }

    static string Describe(object? value) => value switch
    {
        null => "None",
        Tensor t => $"a tensor of shape {Shapes.Of(t)}",
        Hashtable => "a dictionary",
        object[] => "a tuple",
        System.Collections.IList => "a list",
        ClassDict pickled => $"a pickled Python object of class {pickled.ClassName}",
        _ => $"a {value.GetType().Name}",
    };

    /// <summary>Frees every tensor in what was read.</summary>
    static void Dispose(object? value)
    {
        switch (value)
        {
            case Tensor t: t.Dispose(); break;
            case Hashtable table: foreach (DictionaryEntry entry in table) Dispose(entry.Value); break;
            case ClassDict pickled: foreach (var item in pickled.Values) Dispose(item); break;
            case System.Collections.IEnumerable items and not string: foreach (var item in items) Dispose(item); break;
        }
    }

    /// <summary>Loads a PyTorch <c>.pt</c>/<c>.pth</c> state dict into the model with the strict checks and report of
    /// <see cref="StateDict.LoadStateDict"/>.</summary>
    /// <param name="model">The model to fill (the same architecture as the PyTorch one: names match when the module trees match).</param>
    /// <param name="path">The file written by <c>torch.save(model.state_dict(), path)</c>.</param>
    /// <param name="strict">Throw on any mismatch (default), or load what fits and report the rest.</param>
    /// <exception cref="InvalidDataException">The file is not a readable PyTorch state dict.</exception>
    /// <exception cref="StateDictMismatchException">Strict, and the weights do not match the model.</exception>
    public static LoadReport LoadPyTorch(this Module model, string path, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = ReadStateDict(path);
        try
        {
            return StateDict.Load(model, tensors, strict, path);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
