using static TorchSharp.torch;

namespace Functional.Optimizers;

/// <summary>What a scalar in a <see cref="TransformState"/> is for, which decides who may change it.</summary>
public enum ScalarKind
{
    /// <summary>A setting the user may read and change while training (learning rate, momentum, ...).</summary>
    Hyperparameter,
    /// <summary>A count the transformation keeps (steps taken); changed only by updates and by loading a checkpoint.</summary>
    Counter,
    /// <summary>A value the transformation derives each step (a scheduled learning rate); readable, not settable.</summary>
    Derived,
}

/// <summary>
/// The state of a gradient transformation, as data: per-parameter buffers (momentum, Adam's
/// moments), named scalars (hyperparameters, step counts) and, for a chain, the states of its
/// links. <see cref="GradientTransformation.Init"/> makes it, <see cref="GradientTransformation.Update"/>
/// updates it in place (no new tensors per step), and <see cref="NamedTensors"/> /
/// <see cref="NamedScalars"/> flatten it for checkpoints (<c>1.exp_avg.0</c>, <c>2.learning_rate</c>).
/// </summary>
/// <remarks>The state owns its buffers: they are detached from every dispose scope when added and
/// freed by <see cref="Dispose"/>.</remarks>
public sealed class TransformState : IDisposable
{
    readonly List<(string Name, Tensor[] Values)> buffers = new();
    readonly List<(string Name, ScalarKind Kind)> scalarOrder = new();
    readonly Dictionary<string, double> scalars = new();
    readonly List<TransformState> children;
    bool disposed;

    /// <summary>Creates an empty state; a chain passes the states of its links as <paramref name="children"/>.</summary>
    public TransformState(IEnumerable<TransformState>? children = null)
    {
        this.children = children?.ToList() ?? new List<TransformState>();
        if (this.children.Any(c => c is null)) throw new ArgumentException("A child state is null.", nameof(children));
    }

    /// <summary>The states of a chain's links, in order (empty for a single transformation).</summary>
    public IReadOnlyList<TransformState> Children => children;

    /// <summary>Adds a per-parameter buffer, taking ownership of its tensors (detached from any dispose scope).</summary>
    /// <exception cref="ArgumentException">A buffer of that name exists already.</exception>
    public Tensor[] AddBuffer(string name, IEnumerable<Tensor> values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(values);
        if (buffers.Any(b => b.Name == name)) throw new ArgumentException($"The state has a buffer named '{name}' already.", nameof(name));
        var array = values.Select(v => v.DetachFromDisposeScope()).ToArray();
        buffers.Add((name, array));
        return array;
    }

    /// <summary>The buffer of that name (one tensor per parameter).</summary>
    /// <exception cref="KeyNotFoundException">No such buffer; the message lists the buffers there are.</exception>
    public Tensor[] Buffer(string name)
    {
        foreach (var (n, values) in buffers) if (n == name) return values;
        throw new KeyNotFoundException($"The state has no buffer '{name}'; it has {List(buffers.Select(b => b.Name))}.");
    }

    /// <summary>Adds a named scalar with its starting value.</summary>
    /// <exception cref="ArgumentException">A scalar of that name exists already.</exception>
    public void AddScalar(string name, double value, ScalarKind kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (scalars.ContainsKey(name)) throw new ArgumentException($"The state has a scalar named '{name}' already.", nameof(name));
        scalars[name] = value;
        scalarOrder.Add((name, kind));
    }

    /// <summary>Reads or writes a scalar of this state (not of its children). Writing does not check
    /// the kind: transformations use it to advance counters; users go through <see cref="Optimizer.SetHyperparameter"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such scalar; the message lists the scalars there are.</exception>
    public double this[string name]
    {
        get => scalars.TryGetValue(name, out var v) ? v
            : throw new KeyNotFoundException($"The state has no scalar '{name}'; it has {List(scalars.Keys)}.");
        set
        {
            if (!scalars.ContainsKey(name)) throw new KeyNotFoundException($"The state has no scalar '{name}'; it has {List(scalars.Keys)}.");
            scalars[name] = value;
        }
    }

    /// <summary>Every buffer tensor of this state and its children, with dotted names
    /// <c>{link}.{buffer}.{parameter index}</c>; the live tensors, not copies.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedTensors(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        foreach (var (name, values) in buffers)
            for (var i = 0; i < values.Length; i++)
                yield return ($"{prefix}{name}.{i}", values[i]);
        for (var c = 0; c < children.Count; c++)
            foreach (var item in children[c].NamedTensors($"{prefix}{c}."))
                yield return item;
    }

    /// <summary>Every scalar of this state and its children, with dotted names (<c>2.learning_rate</c>).</summary>
    public IEnumerable<(string Name, double Value, ScalarKind Kind)> NamedScalars(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        foreach (var (name, kind) in scalarOrder) yield return (prefix + name, scalars[name], kind);
        for (var c = 0; c < children.Count; c++)
            foreach (var item in children[c].NamedScalars($"{prefix}{c}."))
                yield return item;
    }

    /// <summary>Writes a scalar found by its dotted name (as listed by <see cref="NamedScalars"/>).</summary>
    internal void SetNamedScalar(string dottedName, double value)
    {
        if (scalars.ContainsKey(dottedName)) { scalars[dottedName] = value; return; }
        var dot = dottedName.IndexOf('.');
        if (dot > 0 && int.TryParse(dottedName.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c) && c < children.Count)
        {
            children[c].SetNamedScalar(dottedName[(dot + 1)..], value);
            return;
        }
        throw new KeyNotFoundException($"The state has no scalar '{dottedName}'.");
    }

    static string List(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list);
    }

    /// <summary>Frees the buffers of this state and its children.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var (_, values) in buffers) foreach (var v in values) v.Dispose();
        foreach (var c in children) c.Dispose();
    }
}
