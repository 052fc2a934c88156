using Functional.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// A training step without autograd for the sequential models it covers: the forward pass as
/// in-place GEMMs (<c>addmm_</c>) into activation buffers made once, laid out row-major or feature-major
/// (<see cref="Layout"/>: which one the BLAS library multiplies faster depends on the machine), the softmax cross-entropy
/// gradient written by hand (<c>(softmax − onehot)/N</c>), the backward GEMMs into gradient buffers
/// made once, and the optimizer's update in place (<see cref="FusedUpdate"/>). In the steady state
/// a step makes no tensor storage and reads nothing back to the host: the loss and the number of
/// correct predictions stay on the device.
/// </summary>
/// <remarks>
/// <para>It covers a <c>Sequential</c> (nested ones too) of <c>Linear</c> (with or without bias),
/// <c>ReLU</c>, <c>Sigmoid</c>, <c>Tanh</c>, <c>Dropout</c>, <c>Flatten()</c> and <c>Identity</c>,
/// with at least one <c>Linear</c>; the loss <see cref="Losses.CrossEntropy"/> with the mean or sum
/// reduction; and any <see cref="Optimizer"/> bound to exactly the model's parameters, all
/// trainable. <see cref="TryCreate(nn.Module, Loss, Optimizer, out string)"/> says why when it does not.</para>
/// <para>It equals the autograd step (forward, loss, backward, <see cref="Optimizer.Step"/>) up to
/// floating-point rounding: the GEMMs are LibTorch's, the optimizer's arithmetic is the library's,
/// and the parameters and optimizer state are the model's and the optimizer's own, updated in
/// place, so checkpoints, hyperparameter changes and a switch back to autograd all see one state.
/// Dropout draws its mask as LibTorch's CPU dropout does (one <c>bernoulli_(1 − p)</c> over the
/// layer's input, from the same generator), so a seeded CPU run draws the same masks. On CUDA LibTorch
/// draws dropout masks with its own fused kernel, so there the masks differ from autograd's (in value,
/// not in distribution).</para>
/// <para>Class-index targets must be in 0..classes-1 (checking would need a host sync; LibTorch's
/// scatter reports a bad index). LibTorch's cross-entropy ignores the index -100; the fused step does not.</para>
/// <para>The buffers are bound to the parameters' storage when made: build it after the model has
/// moved to its device and the optimizer is bound. The tensors it returns (loss, correct count,
/// logits) are its own buffers, overwritten by the next call: read or accumulate them before then,
/// and do not dispose them.</para>
/// </remarks>
/// <example><code>
/// using var fused = FusedStep.TryCreate(model, loss, optimizer, out var reason)
///     ?? throw new InvalidOperationException(reason);
/// var sum = torch.zeros(1);
/// foreach (var (x, y) in batches) sum.add_(fused.Step(x, y));   // no host sync per batch
/// </code></example>
internal sealed class FusedStep : IDisposable
{
    enum Kind { Linear, ReLU, Sigmoid, Tanh, Dropout }

    /// <summary>What a slot's values are still needed for by the backward pass, which decides
    /// whether the next element-wise layer may overwrite it.</summary>
    enum Held { Nothing, ReLUOutput, SmoothOutput }

    sealed class Op
    {
        public Kind Kind;
        public string Name = "";
        public Tensor? Weight, WeightT, Bias, BiasColumn;   // WeightT, BiasColumn: views made once
        public int WeightIndex = -1, BiasIndex = -1;
        public long InFeatures, OutFeatures;
        public Dropout? Dropout;
        public int Input, Output;               // value slots; -1 is the model's input
        public bool Copies;                     // element-wise: copy the input into its own slot first
        public int Mask = -1;
        public int InputGradient = -1;          // Linear: the slot of the gradient with respect to its input
        public bool DropoutActive;              // set by each training forward pass
    }

    /// <summary>Views of the buffers for one batch size, made once per size. Activations, their gradients and the
    /// loss's tensors are seen as [features, N] (one column per sample), over the first features·N elements of a buffer
    /// made for the largest batch, laid out by <see cref="Layout"/>; dropout masks are [N, features], drawn as LibTorch draws them.</summary>
    sealed class Views : IDisposable
    {
        public required Tensor[] Values, ValuesT, Masks, MasksT, InputGradients;
        public required Tensor LogitsRows, LogProbabilities, Probabilities, ProbabilitiesT, Scratch, ScratchT, Targets, TargetsT;
        public required Tensor ColumnMax, ColumnMaxFlat, SumExp, SumExpRow, TargetSum, TargetSumRow;
        public required Tensor LogProbabilitiesRow, TargetsFlat, Picked, PickedRow, OnesN, OnesRow;
        public required Scalar N;               // the batch size as a native scalar, made once (TorchSharp makes one per call otherwise)

        public void Dispose()
        {
            N.Dispose();
            foreach (var t in Values.Concat(ValuesT).Concat(Masks).Concat(MasksT).Concat(InputGradients)) t.Dispose();
            foreach (var t in new[] { LogitsRows, LogProbabilities, Probabilities, ProbabilitiesT, Scratch, ScratchT, Targets, TargetsT, ColumnMax,
                                      ColumnMaxFlat, SumExp, SumExpRow, TargetSum, TargetSumRow, LogProbabilitiesRow, TargetsFlat, Picked, PickedRow, OnesN, OnesRow })
                t.Dispose();
        }
    }

    static readonly long[] ClassDim = [0];     // the class axis of the feature-major logits [classes, N]

    readonly Op[] ops;
    readonly int firstLinear;
    readonly bool flattensInput;
    readonly long inFeatures, classes;
    readonly long[] slotFeatures, maskFeatures, inputGradientFeatures;
    readonly int logitsSlot;
    readonly Reduction reduction;
    readonly Tensor[] parameters;
    Tensor[]? gradients;                        // made when a step first needs them (not for plain SGD)
    Tensor? flat, lossSlot;                     // the gradients' one buffer, and the loss's element after them
    readonly FusedUpdate update;
    readonly Generator? generator;
    readonly ScalarType dtype;
    readonly Device device;
    readonly Tensor onesC, lossVector, correctVector;
    readonly Scalar zero = 0.ToScalar(), one = 1.ToScalar();   // made once: an implicit conversion makes a native scalar per call

    // Batch buffers, made for the largest batch (capacity); views per batch size.
    long capacity;
    Tensor[] values = [], masks = [], inputGradients = [];
    Tensor? logProbabilities, probabilities, scratch, targets, columnMax, sumExp, targetSum, picked, onesN;
    readonly Dictionary<long, Views> views = new();
    bool disposed, rowMajor;

    /// <summary>The layout of the activations (<see cref="FusedLayout.Auto"/> resolved: the machine's, see
    /// <see cref="MachineLayout"/>). Setting it drops the views of the buffers, which serve either layout.</summary>
    internal FusedLayout Layout
    {
        get => rowMajor ? FusedLayout.RowMajor : FusedLayout.FeatureMajor;
        set
        {
            var resolved = value == FusedLayout.Auto ? MachineLayout(device) : value;
            if (resolved == Layout) return;
            ReleasePending();
            ClearViews();
            rowMajor = resolved == FusedLayout.RowMajor;
        }
    }

    /// <summary>What <see cref="FusedLayout.Auto"/> means on <paramref name="device"/> now: feature-major on the CPU of
    /// an AMD x86-64 processor, and of an Intel one multiplying on one thread (LibTorch's intra-op threads); row-major
    /// otherwise (several threads on Intel, other processors, CUDA).</summary>
    internal static FusedLayout MachineLayout(Device device) =>
        device.type == DeviceType.CPU && (CpuVendor == "AuthenticAMD" || CpuVendor == "GenuineIntel" && get_num_threads() == 1)
            ? FusedLayout.FeatureMajor : FusedLayout.RowMajor;

    /// <summary>The x86 CPUID vendor string (<c>GenuineIntel</c>, <c>AuthenticAMD</c>), or "" on other processors.</summary>
    internal static string CpuVendor { get; } = ReadCpuVendor();

    static string ReadCpuVendor()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        Span<byte> name = stackalloc byte[12];
        BitConverter.TryWriteBytes(name[..4], ebx);
        BitConverter.TryWriteBytes(name[4..8], edx);
        BitConverter.TryWriteBytes(name[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(name);
    }

    FusedStep(Op[] ops, int firstLinear, bool flattensInput, long[] slotFeatures, long[] maskFeatures, long[] inputGradientFeatures,
              int logitsSlot, Reduction reduction, Optimizer optimizer, Generator? generator, string layers)
    {
        this.ops = ops;
        this.firstLinear = firstLinear;
        this.flattensInput = flattensInput;
        this.slotFeatures = slotFeatures;
        this.maskFeatures = maskFeatures;
        this.inputGradientFeatures = inputGradientFeatures;
        this.logitsSlot = logitsSlot;
        this.reduction = reduction;
        this.generator = generator;
        inFeatures = ops[firstLinear].InFeatures;
        classes = slotFeatures[logitsSlot];
        var first = ops[firstLinear].Weight!;
        dtype = first.dtype;
        device = first.device;
        using var _ = no_grad();
        foreach (var op in ops.Where(o => o.Kind == Kind.Linear))
        {
            op.WeightT = op.Weight!.t().DetachFromDisposeScope();
            op.BiasColumn = op.Bias?.view(op.OutFeatures, 1).DetachFromDisposeScope();
        }
        parameters = optimizer.Parameters.ToArray<Tensor>();
        update = FusedUpdate.Create(optimizer);
        onesC = ones(classes, dtype: dtype, device: device).DetachFromDisposeScope();
        lossVector = zeros(1, dtype: dtype, device: device).DetachFromDisposeScope();
        correctVector = zeros(1, dtype: dtype, device: device).DetachFromDisposeScope();
        BatchLoss = lossVector.view(Array.Empty<long>()).DetachFromDisposeScope();
        BatchCorrect = correctVector.view(Array.Empty<long>()).DetachFromDisposeScope();
        this.layers = layers + $"; CrossEntropy({reduction.ToString().ToLowerInvariant()}); {update.Description}" +
                      (update.IsPlain ? " (plain SGD: folded into the weight-gradient products)" : "");
        Layout = FusedLayout.Auto;
    }

    /// <summary>
    /// The fused step for <paramref name="model"/>, <paramref name="loss"/> and <paramref name="optimizer"/>,
    /// or null when the combination is not covered, with the reason (for the trainer's summary, which
    /// then runs the autograd step). Dropout draws from LibTorch's global generator, as <c>nn.Dropout</c> does.
    /// </summary>
    internal static FusedStep? TryCreate(nn.Module model, Loss loss, Optimizer optimizer, out string reason) =>
        TryCreate(model, loss, optimizer, null, out reason);

    /// <summary>As <see cref="TryCreate(nn.Module, Loss, Optimizer, out string)"/>, with dropout masks
    /// drawn from <paramref name="dropoutGenerator"/> (null: LibTorch's global generator).</summary>
    internal static FusedStep? TryCreate(nn.Module model, Loss loss, Optimizer optimizer, Generator? dropoutGenerator, out string reason)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!Losses.IsCrossEntropy(loss, out var reduction))
        {
            reason = "the loss is not Losses.CrossEntropy() with the mean or sum reduction";
            return null;
        }
        if (model.GetType() != typeof(Sequential) && model.GetType() != typeof(Functional.Models.NeuralNetwork))
        {
            reason = $"the model is a {model.GetType().Name}, not a Sequential: its forward is code the fused step cannot follow";
            return null;
        }
        var ops = new List<Op>();
        var names = new List<string>();
        var flattensInput = false;
        foreach (var (path, module) in Leaves(model, ""))
        {
            switch (module)
            {
                case Linear linear:
                    var weight = linear.weight;
                    if (weight.dim() != 2) { reason = $"layer {path} (Linear) has a weight of shape {Shapes.Of(weight)}"; return null; }
                    ops.Add(new Op
                    {
                        Kind = Kind.Linear, Weight = weight, Bias = linear.bias,
                        InFeatures = weight.shape[1], OutFeatures = weight.shape[0],
                        Name = $"Linear({weight.shape[1]}→{weight.shape[0]}{(linear.bias is null ? ", no bias" : "")})",
                    });
                    break;
                case ReLU: ops.Add(new Op { Kind = Kind.ReLU, Name = "ReLU" }); break;
                case Sigmoid: ops.Add(new Op { Kind = Kind.Sigmoid, Name = "Sigmoid" }); break;
                case Tanh: ops.Add(new Op { Kind = Kind.Tanh, Name = "Tanh" }); break;
                case Dropout dropout:
                    if (!(dropout.p >= 0 && dropout.p < 1)) { reason = $"layer {path} is Dropout(p={dropout.p}); the fused step covers 0 <= p < 1"; return null; }
                    ops.Add(new Op { Kind = Kind.Dropout, Dropout = dropout, Name = $"Dropout({dropout.p})" });
                    break;
                case Flatten flatten:
                    if (flatten.start_dim != 1 || flatten.end_dim != -1)
                    {
                        reason = $"layer {path} is Flatten({flatten.start_dim}, {flatten.end_dim}); the fused step covers Flatten(1, -1)";
                        return null;
                    }
                    if (!ops.Any(o => o.Kind == Kind.Linear)) flattensInput = true;
                    names.Add("Flatten");
                    break;
                case Identity:
                    break;
                default:
                    reason = $"layer {path} ({module.GetType().Name}) is not one the fused step covers (Linear, ReLU, Sigmoid, Tanh, Dropout, Flatten(), Identity)";
                    return null;
            }
            if (module is not (Flatten or Identity)) names.Add(ops[^1].Name);
        }
        var firstLinear = ops.FindIndex(o => o.Kind == Kind.Linear);
        if (firstLinear < 0) { reason = "the model has no Linear layer"; return null; }

        // Parameters: exactly the model's, each once, trainable, of one floating dtype on one device.
        var index = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < optimizer.Parameters.Count; i++) index[optimizer.Parameters[i]] = i;
        var seen = new HashSet<int>();
        var first = ops[firstLinear].Weight!;
        foreach (var op in ops.Where(o => o.Kind == Kind.Linear))
        {
            foreach (var (tensor, isBias) in new[] { (op.Weight, false), (op.Bias, true) })
            {
                if (tensor is null) continue;
                if (!index.TryGetValue(tensor, out var at))
                {
                    reason = $"the optimizer is not bound to the parameters of {op.Name}; bind it to the model's parameters";
                    return null;
                }
                if (!seen.Add(at)) { reason = $"a parameter of {op.Name} appears twice in the model (shared weights)"; return null; }
                if (!tensor.requires_grad) { reason = $"a parameter of {op.Name} is frozen (requires_grad is false)"; return null; }
                if (tensor.dtype is not (ScalarType.Float32 or ScalarType.Float64) || tensor.dtype != first.dtype || tensor.device_type != first.device_type || tensor.device_index != first.device_index)
                {
                    reason = $"the parameters are not all float32 or all float64 on one device ({op.Name}: {tensor.dtype} on {tensor.device})";
                    return null;
                }
                if (isBias) op.BiasIndex = at; else op.WeightIndex = at;
            }
        }
        if (seen.Count != optimizer.Parameters.Count)
        {
            reason = $"the optimizer updates {optimizer.Parameters.Count} parameters, the model's layers have {seen.Count}; bind it to exactly the model's parameters";
            return null;
        }

        // Slots: each Linear writes a new one; an element-wise layer works in place unless the slot
        // holds the caller's input or values the backward pass still needs.
        var slots = new List<long>();
        var masks = new List<long>();
        var inputGradients = new List<long>();
        int current = -1;
        long features = ops[firstLinear].InFeatures;
        var held = Held.Nothing;
        for (var k = 0; k < ops.Count; k++)
        {
            var op = ops[k];
            op.Input = current;
            if (op.Kind == Kind.Linear)
            {
                if (op.InFeatures != features)
                {
                    reason = $"{op.Name} takes {op.InFeatures} features, the layer before gives {features}";
                    return null;
                }
                if (k > firstLinear)
                {
                    op.InputGradient = inputGradients.Count;
                    inputGradients.Add(op.InFeatures);
                }
                features = op.OutFeatures;
                slots.Add(features);
                op.Output = current = slots.Count - 1;
                held = Held.Nothing;
                continue;
            }
            op.Copies = op.Kind switch
            {
                Kind.ReLU or Kind.Dropout => current < 0 || held == Held.SmoothOutput,
                _ => current < 0 || held != Held.Nothing,
            };
            if (op.Copies)
            {
                slots.Add(features);
                current = slots.Count - 1;
            }
            op.Output = current;
            switch (op.Kind)
            {
                case Kind.ReLU: held = Held.ReLUOutput; break;
                case Kind.Sigmoid or Kind.Tanh: held = Held.SmoothOutput; break;
                case Kind.Dropout:
                    op.Mask = masks.Count;
                    masks.Add(features);
                    if (op.Copies) held = Held.Nothing;
                    break;
            }
        }
        reason = "";
        return new FusedStep(ops.ToArray(), firstLinear, flattensInput, slots.ToArray(), masks.ToArray(), inputGradients.ToArray(),
                             current, reduction, optimizer, dropoutGenerator, string.Join(" → ", names));
    }

    /// <summary>As <see cref="TryCreate(nn.Module, Loss, Optimizer, out string)"/>, throwing when the combination is not covered.</summary>
    /// <exception cref="ArgumentException">The model, loss or optimizer is not covered; the message says why.</exception>
    internal static FusedStep Create(nn.Module model, Loss loss, Optimizer optimizer, Generator? dropoutGenerator = null) =>
        TryCreate(model, loss, optimizer, dropoutGenerator, out var reason)
        ?? throw new ArgumentException($"The fused training step does not cover this combination: {reason}. Use the autograd step.", nameof(model));

    /// <summary>The layers in the order the model applies them: a TorchSharp Sequential's children, and the
    /// library's own <see cref="Functional.Models.NeuralNetwork"/> (sealed; its forward is its flatten, then its
    /// linear_relu_stack, in registration order). Any other module is a leaf: a user's module may do anything in forward.</summary>
    static IEnumerable<(string Path, nn.Module Module)> Leaves(nn.Module module, string path)
    {
        if (module.GetType() != typeof(Sequential) && module.GetType() != typeof(Functional.Models.NeuralNetwork))
        {
            yield return (path, module);
            yield break;
        }
        foreach (var (name, child) in module.named_children())
            foreach (var leaf in Leaves(child, path.Length == 0 ? name : $"{path}.{name}"))
                yield return leaf;
    }

    /// <summary>The path it runs, e.g. <c>Flatten → Linear(784→512) → ReLU → Linear(512→10); CrossEntropy(mean); addDecayedWeights, trace(nesterov=False), scaleByLearningRate; activations row-major</c>.</summary>
    internal string Description => layers + (rowMajor ? "; activations row-major" : "; activations feature-major");

    readonly string layers;

    /// <summary>The loss of the latest <see cref="Step"/>, <see cref="ComputeGradients"/> or <see cref="Evaluate(Tensor, Tensor)"/>:
    /// a 0-dim tensor of the model's dtype on its device, owned by this object and overwritten by the next call.</summary>
    internal Tensor BatchLoss { get; }

    /// <summary>The number of correctly classified samples of the latest batch (arg-max of the logits equal
    /// to the class index, or to the arg-max of probability targets), as a 0-dim tensor of the model's
    /// dtype on its device, owned by this object and overwritten by the next call.</summary>
    /// <remarks>In a training step, with class indices, a sample counts as correct when its class's logit equals
    /// the largest (an exact tie with another class, where <c>argmax</c> could pick the other, counts as correct);
    /// <see cref="Evaluate(Tensor, Tensor)"/> counts <c>argmax(1) == y</c>, as the tutorial's test loop does.</remarks>
    internal Tensor BatchCorrect { get; }

    /// <summary>Whether a training step (<see cref="Step"/>, <see cref="ForwardLoss"/>, <see cref="ComputeGradients"/>)
    /// counts the correct predictions into <see cref="BatchCorrect"/> (default true). The trainer reports no training
    /// accuracy and turns it off: five fewer LibTorch calls per step. Off, <see cref="BatchCorrect"/> keeps the count of
    /// the latest <see cref="Evaluate(Tensor, Tensor)"/>; evaluation always counts.</summary>
    internal bool CountsCorrectWhenTraining { get; set; } = true;

    /// <summary>The gradients of the latest <see cref="ComputeGradients"/>, one per optimizer parameter and in
    /// its order: for a gradient-synchronisation strategy to reduce in place before <see cref="ApplyUpdate"/>.
    /// They are not the parameters' <c>.grad</c>, which the fused step leaves alone.</summary>
    internal IReadOnlyList<Tensor> Gradients => EnsureGradients();

    Tensor[] EnsureGradients()
    {
        if (gradients is null)
        {
            // Views of one flat buffer, with one more element for the loss, so that a gradient-synchronisation
            // strategy reduces them all, the loss included, with one collective on the buffer's memory.
            using var _ = no_grad();
            using var normal = inference_mode(false);
            long total = parameters.Sum(p => p.numel());
            flat = zeros(total + 1, dtype: dtype, device: device).DetachFromDisposeScope();
            var views = new Tensor[parameters.Length];
            long offset = 0;
            for (var i = 0; i < views.Length; i++)
            {
                using var slice = flat.narrow(0, offset, parameters[i].numel());
                views[i] = slice.view(parameters[i].shape).DetachFromDisposeScope();
                offset += parameters[i].numel();
            }
            using (var last = flat.narrow(0, total, 1)) lossSlot = last.view(Array.Empty<long>()).DetachFromDisposeScope();
            gradients = views;
        }
        return gradients;
    }

    /// <summary>The <see cref="Gradients"/> and then one element for the loss, as the one contiguous 1-D buffer the
    /// gradients are views of: what a gradient-synchronisation strategy reduces, in one collective, in the
    /// <c>beforeUpdate</c> of <see cref="BackwardAndUpdate"/> (see <see cref="LossSlot"/>).</summary>
    internal Tensor GradientsAndLoss
    {
        get
        {
            EnsureGradients();
            return flat!;
        }
    }

    /// <summary>The last element of <see cref="GradientsAndLoss"/> (0-dim): the batch loss goes there to be reduced
    /// with the gradients.</summary>
    internal Tensor LossSlot
    {
        get
        {
            EnsureGradients();
            return lossSlot!;
        }
    }

    /// <summary>Whether the optimizer's every link runs in place (otherwise some run their own update,
    /// which makes temporaries per step: gradient clipping, a user's transformation).</summary>
    internal bool FullyFused => update.FullyFused;

    /// <summary>
    /// One training step: <see cref="ComputeGradients"/> then <see cref="ApplyUpdate"/>. Dropout layers in
    /// training mode draw masks; the model's mode is otherwise irrelevant.
    /// </summary>
    /// <param name="features">A batch [N, ...] of the model's dtype on its device (flattened when the model
    /// starts with Flatten, else [N, in_features]).</param>
    /// <param name="labels">Class indices [N] (an integer tensor) or class probabilities [N, classes] of the model's dtype.</param>
    /// <returns><see cref="BatchLoss"/>: this object's buffer, valid until the next call; do not dispose it.</returns>
    internal Tensor Step(Tensor features, Tensor labels)
    {
        ForwardLoss(features, labels);
        BackwardAndUpdate();
        return BatchLoss;
    }

    /// <summary>The first half of a training step: the forward pass (training mode), the loss, the correct count
    /// and the loss's gradient with respect to the logits. <see cref="BackwardAndUpdate"/> finishes the step (the
    /// trainer reads the loss in between, to stop before a non-finite loss's update).</summary>
    /// <returns><see cref="BatchLoss"/>: this object's buffer, valid until the next call; do not dispose it.</returns>
    internal Tensor ForwardLoss(Tensor features, Tensor labels)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ReleasePending();
        using var _ = no_grad();
        var (input, n) = Input(features);
        try
        {
            var v = ViewsFor(n);
            Forward(v, input, training: true);
            LossAndGradient(v, labels, n, backward: true);
            // The backward pass reads the input (the first weight gradient): kept until then.
            pending = new Pending(v, input, Owned: !ReferenceEquals(input, features));
            if (pending.Owned) input.DetachFromDisposeScope();
        }
        catch
        {
            if (!ReferenceEquals(input, features)) input.Dispose();
            throw;
        }
        return BatchLoss;
    }

    sealed record Pending(Views Views, Tensor Input, bool Owned);

    Pending? pending;

    void ReleasePending()
    {
        if (pending is { Owned: true }) pending.Input.Dispose();
        pending = null;
    }

    /// <summary>The second half of the step begun by <see cref="ForwardLoss"/>: the backward pass and the
    /// optimizer's update. For an update that is the gradient times a number (plain SGD, <see cref="FusedUpdate.IsPlain"/>)
    /// the update is folded into the weight-gradient products, <c>W.addmm_(dZᵀ, X, alpha: −lr)</c>, each after the
    /// product that still needs the old <c>W</c>: no gradient is stored and no pass over the parameters is made.
    /// Otherwise the gradients go to <see cref="Gradients"/> and the optimizer's fused update runs.</summary>
    /// <param name="beforeUpdate">Given, the gradients are always stored and passed to it before the update (a
    /// gradient-synchronisation strategy averages them there, in place).</param>
    internal void BackwardAndUpdate(Action<IReadOnlyList<Tensor>>? beforeUpdate = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var step = pending ?? throw new InvalidOperationException("BackwardAndUpdate follows a ForwardLoss.");
        try
        {
            using var _ = no_grad();
            if (beforeUpdate is null && update.IsPlain) Backward(step.Views, step.Input, update.BeginPlainStep());
            else
            {
                var stored = EnsureGradients();
                Backward(step.Views, step.Input, null);
                beforeUpdate?.Invoke(stored);
                update.Apply(stored);
            }
        }
        finally
        {
            ReleasePending();
        }
    }

    /// <summary>The forward pass (training mode), the loss, the correct count and the gradients into
    /// <see cref="Gradients"/>; the parameters are not changed.</summary>
    /// <returns><see cref="BatchLoss"/>: this object's buffer, valid until the next call; do not dispose it.</returns>
    internal Tensor ComputeGradients(Tensor features, Tensor labels)
    {
        ForwardLoss(features, labels);
        var step = pending!;
        try
        {
            using var _ = no_grad();
            EnsureGradients();
            Backward(step.Views, step.Input, null);
        }
        finally
        {
            ReleasePending();
        }
        return BatchLoss;
    }

    /// <summary>The optimizer's step from <see cref="Gradients"/>, in place (see <see cref="FusedUpdate"/>).</summary>
    internal void ApplyUpdate()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        update.Apply(EnsureGradients());
    }

    /// <summary>Allocates, now, the buffers and views for batches of <paramref name="n"/> samples, so that a loop
    /// that knows its batch sizes allocates nothing once it runs.</summary>
    internal void Prepare(long n)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (n > 0) ViewsFor(n);
        if (!update.IsPlain) EnsureGradients();
    }

    /// <summary>The inference pass (dropout off, no gradients), the loss and the correct count: the test loop's batch.</summary>
    /// <returns><see cref="BatchLoss"/>: this object's buffer, valid until the next call; do not dispose it.</returns>
    internal Tensor Evaluate(Tensor features, Tensor labels)
    {
        Evaluate(features, labels, null, null);
        return BatchLoss;
    }

    /// <summary>As <see cref="Evaluate(Tensor, Tensor)"/>, adding the batch's loss to <paramref name="lossSum"/> and its
    /// correct count to <paramref name="correctSum"/> (0-dim tensors on the model's device) instead of writing
    /// <see cref="BatchLoss"/> and <see cref="BatchCorrect"/>: the test loop's sums with two fewer calls per batch.</summary>
    internal void Evaluate(Tensor features, Tensor labels, Tensor? lossSum, Tensor? correctSum)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var _ = no_grad();
        var (input, n) = Input(features);
        try
        {
            var v = ViewsFor(n);
            Forward(v, input, training: false);
            if (labels is not null && !labels.is_floating_point() && labels.dim() == 1 && labels.shape[0] == n
                && labels.device_type == device.type && labels.device_index == device.index)
            {
                // The test loop's figures with LibTorch's own kernels, as the tutorial computes them (fewer calls
                // than the training step's hand-written loss, which also makes the gradient): cross_entropy,
                // and argmax(1) == y.
                using var scope = NewDisposeScope();
                var logits = v.LogitsRows;
                var targets = labels.dtype == ScalarType.Int64 ? labels : labels.to_type(ScalarType.Int64);
                var batchLoss = nn.functional.cross_entropy(logits, targets, reduction: reduction == Reduction.Mean ? nn.Reduction.Mean : nn.Reduction.Sum);
                var batchCorrect = logits.argmax(1).eq(targets).sum();
                if (lossSum is null) lossVector.copy_(batchLoss); else lossSum.AddInPlace(batchLoss);
                if (correctSum is null) correctVector.copy_(batchCorrect); else correctSum.AddInPlace(batchCorrect);
            }
            else
            {
                LossAndGradient(v, labels!, n, backward: false);
                lossSum?.AddInPlace(BatchLoss);
                correctSum?.AddInPlace(BatchCorrect);
            }
        }
        finally
        {
            if (!ReferenceEquals(input, features)) input.Dispose();
        }
    }

    /// <summary>The inference pass (dropout off, no gradients): the logits [N, classes], a view of this
    /// object's buffer, valid until the next call; do not dispose it, clone it to keep it.</summary>
    internal Tensor Forward(Tensor features)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var _ = no_grad();
        var (input, n) = Input(features);
        try
        {
            var v = ViewsFor(n);
            Forward(v, input, training: false);
            return v.LogitsRows;
        }
        finally
        {
            if (!ReferenceEquals(input, features)) input.Dispose();
        }
    }

    /// <summary>The batch as [N, in_features]: the tensor itself, or a flattened view of it (a new handle the caller disposes).</summary>
    (Tensor Input, long N) Input(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dtype != dtype || features.device_type != device.type || features.device_index != device.index)
            throw new ArgumentException($"The fused step's model is {dtype} on {device}; the batch is {features.dtype} on {features.device}. Convert or move the batch first.", nameof(features));
        var rank = features.dim();
        if (rank < 2 || (rank > 2 && !flattensInput))
            throw new ArgumentException(
                $"The fused step takes a batch [N, {inFeatures}]{(flattensInput ? " or [N, ...] that flattens to it" : "")}, found {Shapes.Of(features)}.", nameof(features));
        var n = features.shape[0];
        if (n == 0) throw new ArgumentException("The batch is empty; the fused step needs at least one sample.", nameof(features));
        var input = rank == 2 ? features : features.reshape(n, -1);
        if (input.shape[1] != inFeatures)
        {
            if (!ReferenceEquals(input, features)) input.Dispose();
            throw new ArgumentException($"The first Linear takes {inFeatures} features, the batch {Shapes.Of(features)} has {features.numel() / n} per sample.", nameof(features));
        }
        return (input, n);
    }

    void Forward(Views v, Tensor input, bool training)
    {
        // Each Linear computes Zᵀ = W·Xᵀ (+ b as a column) into the [out, N] view of its slot: contiguous when feature-major,
        // the transposed view of [N, out] when row-major (LibTorch's addmm writes either in place, and so gives BLAS the
        // product Z = X·Wᵀ then). The batch itself is read through its transposed view.
        using var inputT = input.t();
        var current = inputT;
        foreach (var op in ops)
        {
            if (op.Kind == Kind.Linear)
            {
                var z = v.Values[op.Output];
                // LibTorch's linear is addmm(bias, x, Wᵀ), which copies the bias into the result and
                // multiplies-adds onto it: the same here, transposed, into the slot.
                if (op.Bias is null) z.addmm_(op.Weight!, current, beta: 0, alpha: 1);
                else z.copy_(op.BiasColumn!).addmm_(op.Weight!, current, beta: 1, alpha: 1);
                current = z;
                continue;
            }
            var output = v.Values[op.Output];
            if (op.Copies) output.copy_(current);
            switch (op.Kind)
            {
                case Kind.ReLU: output.relu_(); break;
                case Kind.Sigmoid: output.sigmoid_(); break;
                case Kind.Tanh: output.tanh_(); break;
                case Kind.Dropout:
                    var dropout = op.Dropout!;
                    var p = dropout.p;
                    // LibTorch's CPU dropout: noise = empty_like(x).bernoulli_(1 - p).div_(1 - p); x * noise. The mask
                    // is drawn row-major, [N, features], as LibTorch draws it over x, and applied through its transposed view.
                    op.DropoutActive = training && dropout.training && p > 0;
                    if (op.DropoutActive)
                    {
                        v.Masks[op.Mask].bernoulli_(1 - p, generator).DivInPlace(1 - p);
                        output.mul_(v.MasksT[op.Mask]);
                    }
                    break;
            }
            current = output;
        }
    }

    void LossAndGradient(Views v, Tensor labels, long n, bool backward)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.device_type != device.type || labels.device_index != device.index)
            throw new ArgumentException($"The fused step's model is on {device}; the targets are on {labels.device}. Move them with the batch.", nameof(labels));
        var logits = v.Values[logitsSlot];     // [classes, N]
        var probabilityTargets = labels.is_floating_point();
        if (probabilityTargets)
        {
            if (labels.dim() != 2 || labels.shape[0] != n || labels.shape[1] != classes)
                throw new ArgumentException($"Probability targets must be [{n}, {classes}], found {Shapes.Of(labels)}.", nameof(labels));
            v.TargetsT.copy_(labels);
        }
        else
        {
            if (labels.dim() != 1 || labels.shape[0] != n)
                throw new ArgumentException($"Class-index targets must be [{n}], found {Shapes.Of(labels)}.", nameof(labels));
            using var converted = labels.dtype == ScalarType.Int64 ? null : labels.to_type(ScalarType.Int64);
            using var index = (converted ?? labels).view(1, n);
            v.Targets.fill_(zero).scatter_(0, index, v.OnesRow);   // (zero_ makes a new handle in TorchSharp 0.107)
        }

        // log-softmax and softmax, each sample's column shifted by its maximum.
        using (logits.amax(ClassDim, keepdim: true, @out: v.ColumnMax)) { }
        v.LogProbabilities.copy_(logits).sub_(v.ColumnMax);
        v.Probabilities.copy_(v.LogProbabilities).exp_();
        v.SumExp.addmv_(v.ProbabilitiesT, onesC, beta: 0, alpha: 1);
        v.Probabilities.div_(v.SumExpRow);
        v.SumExp.log_();
        v.LogProbabilities.sub_(v.SumExpRow);

        // loss = -Σ targets·log p (per sample, then over samples), divided by N for the mean.
        // (one product of the flattened [1, classes·N] and [classes·N] views)
        lossVector.addmv_(v.LogProbabilitiesRow, v.TargetsFlat, beta: 0, alpha: -1);
        if (reduction == Reduction.Mean) lossVector.div_(v.N);

        // Correct: the target's logit (exact: one product by 1, the rest by 0) is the column's maximum.
        if (backward && !CountsCorrectWhenTraining) { }
        else if (probabilityTargets)
        {
            using var scope = NewDisposeScope();
            correctVector.copy_(logits.argmax(0).eq(labels.argmax(1)).sum());
        }
        else
        {
            v.Scratch.copy_(logits).mul_(v.Targets);
            v.Picked.addmv_(v.ScratchT, onesC, beta: 0, alpha: 1);
            v.Picked.ge_(v.ColumnMaxFlat);
            correctVector.addmv_(v.PickedRow, v.OnesN, beta: 0, alpha: 1);
        }

        if (!backward) return;
        // d loss / d logits = (Σtargets · softmax − targets) / N, into the probabilities' buffer.
        if (probabilityTargets)
        {
            v.TargetSum.addmv_(v.TargetsT, onesC, beta: 0, alpha: 1);
            v.Probabilities.mul_(v.TargetSumRow);
        }
        v.Probabilities.sub_(v.Targets);
        if (reduction == Reduction.Mean) v.Probabilities.div_(v.N);
    }

    /// <summary>The backward pass: into <see cref="Gradients"/> when <paramref name="plainScale"/> is null; else
    /// each parameter takes <c>p += plainScale·g</c> at once, its gradient made inside the product that adds it.</summary>
    void Backward(Views v, Tensor input, double? plainScale)
    {
        var gradient = v.Probabilities;         // d loss / d Zᵀ, [out, N]
        for (var k = ops.Length - 1; k >= firstLinear; k--)
        {
            var op = ops[k];
            switch (op.Kind)
            {
                case Kind.Linear:
                    // The layer's input, row-major [N, in]: the batch itself, or the transposed view of a slot.
                    var x = op.Input < 0 ? input : v.ValuesT[op.Input];
                    // As autograd's addmm backward, transposed: dXᵀ = Wᵀ·dZᵀ (first: the update below changes W),
                    // dW = dZᵀ·X, db = Σ columns of dZᵀ.
                    Tensor? next = null;
                    if (op.InputGradient >= 0)
                    {
                        next = v.InputGradients[op.InputGradient];
                        next.addmm_(op.WeightT!, gradient, beta: 0, alpha: 1);
                    }
                    if (plainScale is double scale)
                    {
                        // TorchSharp's addmm_ takes alpha as a float: exact for a float32 model; a float64 one
                        // scales dZ instead (in double, dZ is not needed after this layer).
                        float alpha = (float)scale;
                        if (dtype == ScalarType.Float64)
                        {
                            gradient.MulInPlace(scale);
                            alpha = 1;
                        }
                        op.Weight!.addmm_(gradient, x, beta: 1, alpha: alpha);
                        op.Bias?.addmv_(gradient, v.OnesN, beta: 1, alpha: alpha);
                    }
                    else
                    {
                        gradients![op.WeightIndex].addmm_(gradient, x, beta: 0, alpha: 1);
                        if (op.BiasIndex >= 0) gradients[op.BiasIndex].addmv_(gradient, v.OnesN, beta: 0, alpha: 1);
                    }
                    if (next is null) return;
                    gradient = next;
                    break;
                case Kind.ReLU:
                {
                    // The output is no longer needed (the next Linear's backward has run): it becomes the mask.
                    var output = v.Values[op.Output];
                    gradient.mul_(output.gt_(zero));
                    break;
                }
                case Kind.Sigmoid:
                {
                    var y = v.Values[op.Output];
                    gradient.mul_(y).mul_(y.neg_().add_(one, one));   // g·y·(1 − y) (alpha given: TorchSharp's own would be an implicit scalar, see KeptScalars)
                    break;
                }
                case Kind.Tanh:
                {
                    var y = v.Values[op.Output];
                    gradient.mul_(y.mul_(y).neg_().add_(one, one));   // g·(1 − y²)
                    break;
                }
                case Kind.Dropout:
                    if (op.DropoutActive) gradient.mul_(v.MasksT[op.Mask]);
                    break;
            }
        }
    }

    /// <summary>The views for batch size <paramref name="n"/>, growing the buffers when a larger batch comes.</summary>
    Views ViewsFor(long n)
    {
        if (views.TryGetValue(n, out var cached)) return cached;
        // Normal tensors even when the caller evaluates in inference mode: the training steps write them later.
        using var normal = inference_mode(false);
        if (n > capacity) Allocate(n);
        if (views.Count >= 8) ClearViews();     // many sizes (an evaluation with odd batches): start over
        // [features, n]: the first features·n elements of a flat buffer made for the largest batch, laid out
        // feature-major (contiguous) or row-major (the transposed view of [n, features]).
        Tensor Columns(Tensor flat, long features)
        {
            using var part = flat.narrow(0, 0, features * n);
            if (!rowMajor) return part.view(features, n).DetachFromDisposeScope();
            using var rows = part.view(n, features);
            return rows.t().DetachFromDisposeScope();
        }
        // The first size elements of a buffer, in memory order (two buffers in the same layout correspond element by element).
        Tensor Memory(Tensor flat, long size) => flat.narrow(0, 0, size).DetachFromDisposeScope();
        Tensor MemoryRow(Tensor flat, long size)
        {
            using var part = flat.narrow(0, 0, size);
            return part.view(1, size).DetachFromDisposeScope();
        }
        Tensor Rows(Tensor t) => t.narrow(0, 0, n).DetachFromDisposeScope();
        Tensor T(Tensor t) => t.t().DetachFromDisposeScope();
        Tensor Flat(Tensor t, long size) => t.view(size).DetachFromDisposeScope();
        Tensor Row(Tensor t) => t.view(1, n).DetachFromDisposeScope();
        var values = this.values.Select((b, i) => Columns(b, slotFeatures[i])).ToArray();
        var masks = this.masks.Select(Rows).ToArray();
        var probabilities = Columns(this.probabilities!, classes);
        var scratch = Columns(this.scratch!, classes);
        var logProbabilities = Columns(this.logProbabilities!, classes);
        var targets = Columns(this.targets!, classes);
        var columnMax = Columns(this.columnMax!, 1);
        var sumExp = Rows(this.sumExp!);
        var targetSum = Rows(this.targetSum!);
        var picked = Rows(this.picked!);
        var ones = Rows(onesN!);
        var result = new Views
        {
            Values = values,
            ValuesT = values.Select(T).ToArray(),
            Masks = masks,
            MasksT = masks.Select(T).ToArray(),
            InputGradients = this.inputGradients.Select((b, i) => Columns(b, inputGradientFeatures[i])).ToArray(),
            LogitsRows = T(values[logitsSlot]),
            LogProbabilities = logProbabilities,
            Probabilities = probabilities,
            ProbabilitiesT = T(probabilities),
            Scratch = scratch,
            ScratchT = T(scratch),
            Targets = targets,
            TargetsT = T(targets),
            ColumnMax = columnMax, ColumnMaxFlat = Flat(columnMax, n),
            SumExp = sumExp, SumExpRow = Row(sumExp),
            TargetSum = targetSum, TargetSumRow = Row(targetSum),
            LogProbabilitiesRow = MemoryRow(this.logProbabilities!, n * classes),
            TargetsFlat = Memory(this.targets!, n * classes),
            Picked = picked, PickedRow = Row(picked),
            OnesN = ones, OnesRow = Row(ones),
            N = n.ToScalar(),
        };
        views[n] = result;
        return result;
    }

    void Allocate(long n)
    {
        ClearViews();
        FreeBuffers();
        Tensor Make(params long[] shape) => empty(shape, dtype: dtype, device: device).DetachFromDisposeScope();
        values = slotFeatures.Select(f => Make(f * n)).ToArray();
        masks = maskFeatures.Select(f => Make(n, f)).ToArray();
        inputGradients = inputGradientFeatures.Select(f => Make(f * n)).ToArray();
        logProbabilities = Make(classes * n);
        probabilities = Make(classes * n);
        scratch = Make(classes * n);
        targets = Make(classes * n);
        columnMax = Make(n);
        sumExp = Make(n);
        targetSum = Make(n);
        picked = Make(n);
        onesN = Make(n).FillInPlace(1);
        capacity = n;
    }

    void ClearViews()
    {
        foreach (var v in views.Values) v.Dispose();
        views.Clear();
    }

    void FreeBuffers()
    {
        foreach (var t in values.Concat(masks).Concat(inputGradients)) t.Dispose();
        foreach (var t in new[] { logProbabilities, probabilities, scratch, targets, columnMax, sumExp, targetSum, picked, onesN }) t?.Dispose();
        values = masks = inputGradients = [];
    }

    /// <summary>Frees the buffers and gradients (not the model's parameters or the optimizer's state).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ReleasePending();
        ClearViews();
        FreeBuffers();
        update.Dispose();
        foreach (var t in gradients ?? []) t.Dispose();
        lossSlot?.Dispose();
        flat?.Dispose();
        foreach (var op in ops)
        {
            op.WeightT?.Dispose();
            op.BiasColumn?.Dispose();
        }
        foreach (var t in new[] { onesC, BatchLoss, BatchCorrect, lossVector, correctVector }) t.Dispose();
        zero.Dispose();
        one.Dispose();
    }
}
