using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;

namespace Functional.Serialization;

/// <summary>
/// Imports PyTorch <c>.pt</c>/<c>.pth</c> state dicts (what <c>torch.save(model.state_dict(), path)</c> writes), for
/// weights that exist only in that form. Prefer safetensors: a <c>.pt</c> file is a pickle.
/// </summary>
/// <remarks>
/// The file is read with TorchSharp.PyBridge's unpickler, which understands the zip layout of <c>torch.save</c> and
/// rebuilds tensors and ordered dictionaries only: it interprets the pickle opcodes itself and runs no Python and no
/// code from the file. Whole pickled models (<c>torch.save(model)</c>) are not supported; save the state dict.
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
        Hashtable table;
        try
        {
            table = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a readable PyTorch state dict ({e.GetType().Name}: {e.Message}).", e);
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        string? problem = null;
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is not string name) problem ??= $"a key of type {entry.Key?.GetType().Name ?? "null"} instead of a string";
            else if (entry.Value is not Tensor tensor) problem ??= $"the entry '{name}' holds {entry.Value?.GetType().Name ?? "null"} instead of a tensor";
            else result[name] = tensor;
        }
        if (problem is not null)
        {
            foreach (DictionaryEntry entry in table) (entry.Value as Tensor)?.Dispose();
            throw new InvalidDataException($"{path}: this is not a flat state dict of tensors: {problem}. Save model.state_dict() in PyTorch.");
        }
        return result;
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
