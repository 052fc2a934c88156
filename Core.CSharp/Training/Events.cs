using Functional.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>What every training event carries: the model, its optimizer, and a way to stop.</summary>
public sealed class TrainingContext
{
    internal TrainingContext(nn.Module<Tensor, Tensor> model, Optimizer optimizer, Device device)
    {
        Model = model; Optimizer = optimizer; Device = device;
    }

    /// <summary>The model being trained.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The optimizer; its learning rate can be read and changed while training.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The device the model and batches are on.</summary>
    public Device Device { get; }

    /// <summary>The metrics of the epochs finished so far in this fit (including resumed ones).</summary>
    public History History { get; internal set; } = new();

    /// <summary>Set by <see cref="RequestStop"/>: training ends after the current batch or epoch.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Asks the loop to stop at the end of the current epoch (or batch, when called from a batch event).</summary>
    public void RequestStop(string reason) => StopReason ??= reason;
}

/// <summary>Fit begins: epochs to run and the loaders' sizes.</summary>
/// <param name="Context">The shared context.</param>
/// <param name="FirstEpoch">The first epoch to run (1-based; greater than 1 when resuming).</param>
/// <param name="Epochs">The last epoch to run (1-based, inclusive).</param>
/// <param name="TrainBatches">Batches per training epoch.</param>
/// <param name="TrainSamples">Samples in the training dataset.</param>
public sealed record FitBegin(TrainingContext Context, int FirstEpoch, int Epochs, int TrainBatches, int TrainSamples);

/// <summary>An epoch begins (1-based).</summary>
public sealed record EpochBegin(TrainingContext Context, int Epoch);

/// <summary>A training batch begins: its index in the epoch (0-based) and sample count.</summary>
public sealed record BatchBegin(TrainingContext Context, int Epoch, int Batch, int Samples);

/// <summary>A training batch ended after the optimizer step.</summary>
/// <param name="Context">The shared context.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Batch">0-based batch index in the epoch.</param>
/// <param name="Loss">The batch's loss (before the step).</param>
/// <param name="BatchSize">Samples in this batch.</param>
/// <param name="SamplesBefore">Samples of this epoch before this batch: the tutorial prints it as <c>[current/size]</c>.</param>
/// <param name="DatasetSize">Samples in the training dataset.</param>
/// <param name="Batches">Batches per epoch.</param>
public sealed record BatchEnd(TrainingContext Context, int Epoch, int Batch, double Loss, int BatchSize, int SamplesBefore, int DatasetSize, int Batches);

/// <summary>An epoch ended: its metrics (test metrics are present when a test loader was given).</summary>
public sealed record EpochEnd(TrainingContext Context, EpochMetrics Metrics);

/// <summary>Fit ended: the whole history and why it stopped (null when all epochs ran).</summary>
public sealed record FitEnd(TrainingContext Context, History History, string? StopReason);

/// <summary>
/// Receives the training loop's events, in this order: <see cref="OnFitBegin"/>, then per epoch
/// <see cref="OnEpochBegin"/>, per batch <see cref="OnBatchBegin"/> and <see cref="OnBatchEnd"/>,
/// <see cref="OnEpochEnd"/> (after evaluation), and finally <see cref="OnFitEnd"/>. Override what you need.
/// </summary>
public abstract class Callback
{
    /// <summary>Before the first epoch.</summary>
    public virtual void OnFitBegin(FitBegin e) { }

    /// <summary>Before an epoch's first batch.</summary>
    public virtual void OnEpochBegin(EpochBegin e) { }

    /// <summary>Before a batch's forward pass.</summary>
    public virtual void OnBatchBegin(BatchBegin e) { }

    /// <summary>After a batch's optimizer step.</summary>
    public virtual void OnBatchEnd(BatchEnd e) { }

    /// <summary>After an epoch's training and evaluation.</summary>
    public virtual void OnEpochEnd(EpochEnd e) { }

    /// <summary>After the last epoch, or after a stop.</summary>
    public virtual void OnFitEnd(FitEnd e) { }
}
