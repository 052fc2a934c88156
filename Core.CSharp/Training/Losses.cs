using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// The standard losses, with PyTorch's options (weights, ignored index, label smoothing, positive weight)
/// and rules, written from LibTorch primitives (log-softmax, gather, log-sigmoid, and the fused
/// cross-entropy kernel for class indices) with the
/// argument checks PyTorch users expect, and tested against TorchSharp's
/// <c>torch.nn.functional</c> versions. Each factory returns a <see cref="Loss"/>.
/// </summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy of logits, PyTorch's <c>nn.CrossEntropyLoss</c>. The target is either class indices (an
    /// integer tensor of shape [N] or [N, d1, ...] for a prediction [N, C] or [N, C, d1, ...]) or class
    /// probabilities (a floating tensor of the prediction's shape).
    /// </summary>
    /// <param name="reduction">Mean (default), Sum or None. With class indices the mean divides by the summed
    /// weights of the targets that are not ignored (by their count without <paramref name="weight"/>); with
    /// probabilities it divides by the number of samples (and positions).</param>
    /// <param name="weight">A weight per class, shape [C] (PyTorch's <c>weight</c>); null weighs every class 1.
    /// The loss keeps this tensor (it is converted to the prediction's device and dtype at each call): do not
    /// dispose it while the loss is in use.</param>
    /// <param name="ignoreIndex">A class index whose targets add nothing to the loss, its gradient or the mean's
    /// denominator (PyTorch's <c>ignore_index</c>, default -100). Class indices only.</param>
    /// <param name="labelSmoothing">PyTorch's <c>label_smoothing</c>, in [0, 1]: the target becomes a mix of the
    /// given one (1 − ε) and the uniform distribution over the C classes (ε).</param>
    /// <example><c>var loss = Losses.CrossEntropy(weight: classWeights, ignoreIndex: 0); var l = loss(model.call(x), y);</c></example>
    public static Loss CrossEntropy(Reduction reduction = Reduction.Mean, Tensor? weight = null, long ignoreIndex = -100, double labelSmoothing = 0.0)
    {
        // One instance per plain mean or sum loss, so that the fused training step can recognise the loss it covers.
        if (weight is null && ignoreIndex == -100 && labelSmoothing == 0.0)
        {
            if (reduction == Reduction.Mean) return CrossEntropyMean;
            if (reduction == Reduction.Sum) return CrossEntropySum;
        }
        return CrossEntropyOf(reduction, weight, ignoreIndex, labelSmoothing);
    }

    static readonly Loss CrossEntropyMean = CrossEntropyOf(Reduction.Mean, null, -100, 0.0);
    static readonly Loss CrossEntropySum = CrossEntropyOf(Reduction.Sum, null, -100, 0.0);

    /// <summary>Whether <paramref name="loss"/> is <see cref="CrossEntropy"/> with no options and the mean or sum
    /// reduction (the instances it returns), and which.</summary>
    internal static bool IsCrossEntropy(Loss loss, out Reduction reduction)
    {
        reduction = ReferenceEquals(loss, CrossEntropySum) ? Reduction.Sum : Reduction.Mean;
        return ReferenceEquals(loss, CrossEntropyMean) || ReferenceEquals(loss, CrossEntropySum);
    }

    static Loss CrossEntropyOf(Reduction reduction, Tensor? weight, long ignoreIndex, double labelSmoothing)
    {
        var native = Native(reduction);
        CheckClassWeight("CrossEntropy", weight);
        if (!(labelSmoothing >= 0.0 && labelSmoothing <= 1.0))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing is a fraction in [0, 1], as in PyTorch; 0 turns it off.");
        var plain = weight is null && labelSmoothing == 0.0;
        return (prediction, target) =>
        {
            CheckNotNull(prediction, target);
            // Called once per training step: the prediction's shape is read from LibTorch once, and an
            // int64 target (the usual case) goes to the kernel with no conversion and no extra scope.
            var shape = prediction.shape;
            if (shape.Length < 2)
                throw new ArgumentException(
                    $"CrossEntropy expects logits of shape [N, C] or [N, C, d1, ...], found {Shapes.Text(shape)}; add a batch dimension with unsqueeze(0).",
                    nameof(prediction));
            CheckClassCount("CrossEntropy", weight, shape[1]);
            if (target.is_floating_point())
            {
                // As in ATen: ignore_index means nothing for probabilities, and a non-negative one is refused there.
                if (ignoreIndex >= 0)
                    throw new ArgumentException(
                        $"CrossEntropy's ignoreIndex ({ignoreIndex}) applies to class indices only, and the target holds class probabilities ({target.dtype}); leave ignoreIndex at its default (-100).",
                        nameof(target));
                using var scope = NewDisposeScope();
                var logProbabilities = prediction.log_softmax(1);
                var probabilities = labelSmoothing == 0.0 ? target : target * (1.0 - labelSmoothing) + labelSmoothing / shape[1];
                return ProbabilityLoss("CrossEntropy", logProbabilities, probabilities, ClassWeight(weight, prediction), reduction).MoveToOuterDisposeScope();
            }
            // Class indices: LibTorch's fused log-softmax + NLL kernel (one node in the graph, and the
            // fastest backward), after the same checks as the other losses. ATen applies weight,
            // ignore_index and label smoothing with PyTorch's own rules (it is the code PyTorch runs).
            CheckIndexTarget("CrossEntropy", shape, target);
            if (plain && ignoreIndex == -100 && target.dtype == ScalarType.Int64)
                return nn.functional.cross_entropy(prediction, target, reduction: native);
            using (NewDisposeScope())
            {
                var index = target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64);
                return nn.functional.cross_entropy(prediction, index, ClassWeight(weight, prediction), ignoreIndex, native, labelSmoothing)
                    .MoveToOuterDisposeScope();
            }
        };
    }

    /// <summary>
    /// The negative log-likelihood of log-probabilities (e.g. the output of LogSoftmax) at integer
    /// class indices, PyTorch's <c>nn.NLLLoss</c>; CrossEntropy is LogSoftmax followed by this.
    /// </summary>
    /// <param name="reduction">Mean (default), Sum or None. The mean divides by the summed weights of the
    /// targets that are not ignored (by their count without <paramref name="weight"/>), so it is NaN when
    /// every target is ignored, as in PyTorch.</param>
    /// <param name="weight">A weight per class, shape [C]; null weighs every class 1. The loss keeps this tensor:
    /// do not dispose it while the loss is in use.</param>
    /// <param name="ignoreIndex">A class index whose targets add nothing (a loss of 0 with Reduction.None), as
    /// PyTorch's <c>ignore_index</c>, default -100.</param>
    public static Loss NLL(Reduction reduction = Reduction.Mean, Tensor? weight = null, long ignoreIndex = -100)
    {
        Native(reduction);
        CheckClassWeight("NLL", weight);
        return (prediction, target) =>
        {
            CheckNotNull(prediction, target);
            if (prediction.dim() < 2)
                throw new ArgumentException(
                    $"NLL expects log-probabilities of shape [N, C] or [N, C, d1, ...], found {Shapes.Of(prediction)}.", nameof(prediction));
            if (target.is_floating_point())
                throw new ArgumentException(
                    $"NLL expects integer class indices as the target, found {target.dtype}; use CrossEntropy for class probabilities.", nameof(target));
            CheckClassCount("NLL", weight, prediction.shape[1]);
            return IndexLoss("NLL", prediction, target, weight, ignoreIndex, reduction);
        };
    }

    /// <summary>
    /// Binary cross-entropy of logits against targets in [0, 1] of the same shape, PyTorch's
    /// <c>nn.BCEWithLogitsLoss</c>: ℓ = w·[(1 − y)·x − (1 + (p − 1)·y)·log σ(x)], which is
    /// −w·[p·y·log σ(x) + (1 − y)·log(1 − σ(x))] written so that it is stable for any logit and its
    /// derivative is w·[σ(x)·(1 + (p − 1)·y) − p·y] everywhere (σ(x) − y with no weights, also at x = 0).
    /// </summary>
    /// <param name="reduction">Mean over elements (default), Sum or None.</param>
    /// <param name="weight">PyTorch's <c>weight</c>: a rescaling weight that broadcasts to the prediction's shape;
    /// null for none. The loss keeps this tensor: do not dispose it while the loss is in use.</param>
    /// <param name="positiveWeight">PyTorch's <c>pos_weight</c>: the weight p of the positive term, one per class
    /// (the last dimension), broadcast to the prediction's shape; null for 1. The loss keeps this tensor.</param>
    public static Loss BCEWithLogits(Reduction reduction = Reduction.Mean, Tensor? weight = null, Tensor? positiveWeight = null)
    {
        Native(reduction);
        CheckFloating("BCEWithLogits", weight, nameof(weight));
        CheckFloating("BCEWithLogits", positiveWeight, nameof(positiveWeight));
        return (prediction, target) =>
        {
            CheckNotNull(prediction, target);
            CheckSameShape("BCEWithLogits", prediction, target);
            CheckBroadcasts("BCEWithLogits", weight, prediction, nameof(weight));
            CheckBroadcasts("BCEWithLogits", positiveWeight, prediction, nameof(positiveWeight));
            using var scope = NewDisposeScope();
            // log σ(x) is smooth (its derivative is σ(−x)), unlike max(x, 0) and |x|, whose kinks at 0 gave
            // a gradient of 1 − y there instead of σ(0) − y.
            var logSigmoid = prediction.log_sigmoid();
            var positive = positiveWeight is null ? logSigmoid : logSigmoid * ((Like(positiveWeight, prediction) - 1.0) * target + 1.0);
            var loss = (1.0 - target) * prediction - positive;
            if (weight is not null) loss = loss * Like(weight, prediction);
            return Reduce(loss, reduction).MoveToOuterDisposeScope();
        };
    }

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

    /// <summary>PyTorch's NLL rule: ℓₙ = −w[yₙ]·xₙ,ᵧₙ for targets other than ignoreIndex, 0 for those; the mean
    /// is Σℓₙ / Σw[yₙ] over the targets not ignored.</summary>
    static Tensor IndexLoss(string name, Tensor logProbabilities, Tensor target, Tensor? weight, long ignoreIndex, Reduction reduction)
    {
        var shape = logProbabilities.shape;
        CheckIndexTarget(name, shape, target);
        using var scope = NewDisposeScope();
        var index = target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64);
        var classes = shape[1];
        // Scalars made and disposed here, not converted implicitly (see KeptScalars).
        using var ignored = ignoreIndex.ToScalar();
        using var zero = 0L.ToScalar();
        using var count = classes.ToScalar();
        var kept = index.ne(ignored);
        var safe = index.masked_fill(kept.logical_not(), zero);
        var outside = safe.lt(zero).logical_or(safe.ge(count));
        if (outside.any().item<bool>())
            throw new ArgumentException(
                $"{name} found the class index {safe.masked_select(outside)[0].item<long>()} in the target, outside [0, {classes}) for a prediction of shape {Shapes.Text(shape)} and not the ignored index {ignoreIndex}.",
                nameof(target));
        var picked = logProbabilities.gather(1, safe.unsqueeze(1)).squeeze(1);
        var perTarget = weight is null ? kept.to_type(logProbabilities.dtype) : ClassWeight(weight, logProbabilities)!.take(safe) * kept;
        // where, not a product with the mask: an ignored position's log-probability may be -inf.
        var loss = where(kept, picked.neg() * perTarget, zeros_like(picked));
        var result = reduction switch
        {
            Reduction.Mean => loss.sum() / perTarget.sum(),
            Reduction.Sum => loss.sum(),
            _ => loss,
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>ℓₙ = −Σ_c w_c·pₙ,c·log qₙ,c; the mean is over samples (and positions), not weights, as in PyTorch.</summary>
    static Tensor ProbabilityLoss(string name, Tensor logProbabilities, Tensor target, Tensor? weight, Reduction reduction)
    {
        if (!target.shape.SequenceEqual(logProbabilities.shape))
            throw new ArgumentException(
                $"{name} with class probabilities expects a target of the prediction's shape {Shapes.Of(logProbabilities)}, found {Shapes.Of(target)}. " +
                "For class indices pass an integer (int64) tensor.",
                nameof(target));
        using var scope = NewDisposeScope();
        var product = logProbabilities * target;
        if (weight is not null)
        {
            var view = Enumerable.Repeat(1L, (int)logProbabilities.dim()).ToArray();
            view[1] = weight.shape[0];
            product = product * weight.view(view);
        }
        var loss = product.sum(1).neg();
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }

    /// <summary>The caller's tensor on the prediction's device and dtype (itself when it already is).</summary>
    static Tensor Like(Tensor tensor, Tensor prediction) =>
        tensor.device == prediction.device && tensor.dtype == prediction.dtype ? tensor : tensor.to(prediction.dtype, prediction.device);

    static Tensor? ClassWeight(Tensor? weight, Tensor prediction) => weight is null ? null : Like(weight, prediction);

    static nn.Reduction Native(Reduction reduction) => reduction switch
    {
        Reduction.Mean => nn.Reduction.Mean,
        Reduction.Sum => nn.Reduction.Sum,
        Reduction.None => nn.Reduction.None,
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Use Reduction.Mean, Sum or None."),
    };

    static void CheckFloating(string name, Tensor? weight, string parameter)
    {
        if (weight is not null && !weight.is_floating_point())
            throw new ArgumentException($"{name} expects a floating-point {parameter}, found {weight.dtype}; convert it with .to_type(ScalarType.Float32).", parameter);
    }

    static void CheckClassWeight(string name, Tensor? weight)
    {
        CheckFloating(name, weight, nameof(weight));
        if (weight is not null && weight.dim() != 1)
            throw new ArgumentException($"{name} expects one weight per class, a tensor of shape [C], found {Shapes.Of(weight)}.", nameof(weight));
    }

    static void CheckClassCount(string name, Tensor? weight, long classes)
    {
        if (weight is not null && weight.shape[0] != classes)
            throw new ArgumentException(
                $"{name} has {weight.shape[0]} class weights for a prediction with {classes} classes (dimension 1); pass a weight of shape [{classes}].", nameof(weight));
    }

    static void CheckBroadcasts(string name, Tensor? weight, Tensor prediction, string parameter)
    {
        if (weight is not null && !Shapes.BroadcastsTo(weight.shape, prediction.shape))
            throw new ArgumentException(
                $"{name} expects a {parameter} that broadcasts to the prediction's shape {Shapes.Of(prediction)}, found {Shapes.Of(weight)}.", parameter);
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
