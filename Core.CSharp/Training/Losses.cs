using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// The standard losses, written from LibTorch primitives (log-softmax, gather, and the fused
/// cross-entropy kernel for class indices) with the
/// argument checks PyTorch users expect, and tested against TorchSharp's
/// <c>torch.nn.functional</c> versions. Each factory returns a <see cref="Loss"/>.
/// </summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy of logits. The target is either class indices (an integer tensor of shape
    /// [N] or [N, d1, ...] for a prediction [N, C] or [N, C, d1, ...]) or class probabilities (a
    /// floating tensor of the prediction's shape). The mean is over samples (and positions).
    /// </summary>
    /// <example><c>var loss = Losses.CrossEntropy(); var l = loss(model.call(x), y);</c></example>
    public static Loss CrossEntropy(Reduction reduction = Reduction.Mean) => reduction switch
    {
        Reduction.Mean => CrossEntropyMean,
        Reduction.Sum => CrossEntropySum,
        _ => CrossEntropyOf(reduction),
    };

    // One instance per reduction, so that the fused training step can recognise the loss it covers.
    static readonly Loss CrossEntropyMean = CrossEntropyOf(Reduction.Mean);
    static readonly Loss CrossEntropySum = CrossEntropyOf(Reduction.Sum);

    /// <summary>Whether <paramref name="loss"/> is <see cref="CrossEntropy"/> with the mean or sum
    /// reduction (the instances it returns), and which.</summary>
    internal static bool IsCrossEntropy(Loss loss, out Reduction reduction)
    {
        reduction = ReferenceEquals(loss, CrossEntropySum) ? Reduction.Sum : Reduction.Mean;
        return ReferenceEquals(loss, CrossEntropyMean) || ReferenceEquals(loss, CrossEntropySum);
    }

    static Loss CrossEntropyOf(Reduction reduction) => (prediction, target) =>
    {
        CheckNotNull(prediction, target);
        // Called once per training step: the prediction's shape is read from LibTorch once, and an
        // int64 target (the usual case) goes to the kernel with no conversion and no extra scope.
        var shape = prediction.shape;
        if (shape.Length < 2)
            throw new ArgumentException(
                $"CrossEntropy expects logits of shape [N, C] or [N, C, d1, ...], found {Shapes.Text(shape)}; add a batch dimension with unsqueeze(0).",
                nameof(prediction));
        if (target.is_floating_point())
        {
            using var logProbabilities = prediction.log_softmax(1);
            return ProbabilityLoss("CrossEntropy", logProbabilities, target, reduction);
        }
        // Class indices: LibTorch's fused log-softmax + NLL kernel (one node in the graph, and the
        // fastest backward), after the same checks as the other losses.
        CheckIndexTarget("CrossEntropy", shape, target);
        var native = reduction switch
        {
            Reduction.Mean => nn.Reduction.Mean,
            Reduction.Sum => nn.Reduction.Sum,
            Reduction.None => nn.Reduction.None,
            _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Use Reduction.Mean, Sum or None."),
        };
        if (target.dtype == ScalarType.Int64) return nn.functional.cross_entropy(prediction, target, reduction: native);
        using var index = target.to_type(ScalarType.Int64);
        return nn.functional.cross_entropy(prediction, index, reduction: native);
    };

    /// <summary>
    /// The negative log-likelihood of log-probabilities (e.g. the output of LogSoftmax) at integer
    /// class indices; CrossEntropy is LogSoftmax followed by this.
    /// </summary>
    public static Loss NLL(Reduction reduction = Reduction.Mean) => (prediction, target) =>
    {
        CheckNotNull(prediction, target);
        if (prediction.dim() < 2)
            throw new ArgumentException(
                $"NLL expects log-probabilities of shape [N, C] or [N, C, d1, ...], found {Shapes.Of(prediction)}.", nameof(prediction));
        if (target.is_floating_point())
            throw new ArgumentException(
                $"NLL expects integer class indices as the target, found {target.dtype}; use CrossEntropy for class probabilities.", nameof(target));
        return IndexLoss("NLL", prediction, target, reduction);
    };

    /// <summary>
    /// Binary cross-entropy of logits against targets in [0, 1] of the same shape, computed in
    /// the numerically stable form max(x, 0) - x·y + log(1 + exp(-|x|)).
    /// </summary>
    public static Loss BCEWithLogits(Reduction reduction = Reduction.Mean) => (prediction, target) =>
    {
        CheckNotNull(prediction, target);
        CheckSameShape("BCEWithLogits", prediction, target);
        using var scope = NewDisposeScope();
        var loss = prediction.clamp_min(0) - prediction * target + prediction.abs().neg().exp().log1p();
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    };

    /// <summary>The mean squared error between a prediction and a target of the same shape.</summary>
    public static Loss MSE(Reduction reduction = Reduction.Mean) => (prediction, target) =>
    {
        CheckNotNull(prediction, target);
        CheckSameShape("MSE", prediction, target);
        using var scope = NewDisposeScope();
        var difference = prediction - target;
        return Reduce(difference * difference, reduction).MoveToOuterDisposeScope();
    };

    static void CheckIndexTarget(string name, long[] predictionShape, Tensor target)
    {
        var expected = predictionShape.Where((_, i) => i != 1).ToArray();
        if (!target.shape.SequenceEqual(expected))
            throw new ArgumentException(
                $"{name} with class indices expects a target of shape {Shapes.Text(expected)} for a prediction of shape {Shapes.Text(predictionShape)}, found {Shapes.Of(target)}. " +
                "Pass one class index per sample (not one-hot; for probabilities use a floating target of the prediction's shape).",
                nameof(target));
    }

    static Tensor IndexLoss(string name, Tensor logProbabilities, Tensor target, Reduction reduction)
    {
        CheckIndexTarget(name, logProbabilities.shape, target);
        using var scope = NewDisposeScope();
        var index = target.dtype == ScalarType.Int64 ? target.unsqueeze(1) : target.to_type(ScalarType.Int64).unsqueeze(1);
        var loss = logProbabilities.gather(1, index).squeeze(1).neg();
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }

    static Tensor ProbabilityLoss(string name, Tensor logProbabilities, Tensor target, Reduction reduction)
    {
        if (!target.shape.SequenceEqual(logProbabilities.shape))
            throw new ArgumentException(
                $"{name} with class probabilities expects a target of the prediction's shape {Shapes.Of(logProbabilities)}, found {Shapes.Of(target)}. " +
                "For class indices pass an integer (int64) tensor.",
                nameof(target));
        using var scope = NewDisposeScope();
        var loss = (logProbabilities * target).sum(1).neg();
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }

    static Tensor Reduce(Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.Mean => loss.mean(),
        Reduction.Sum => loss.sum(),
        Reduction.None => loss,
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Use Reduction.Mean, Sum or None."),
    };

    static void CheckNotNull(Tensor prediction, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
    }

    static void CheckSameShape(string name, Tensor prediction, Tensor target)
    {
        if (!prediction.shape.SequenceEqual(target.shape))
            throw new ArgumentException(
                $"{name} expects a target of the prediction's shape {Shapes.Of(prediction)}, found {Shapes.Of(target)}; reshape one of them (no broadcasting, which hides bugs).",
                nameof(target));
    }


}
