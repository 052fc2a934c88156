using Functional.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// The state of a running <see cref="Trainer.Fit"/>, passed to every <see cref="Callback"/> event: the model,
/// its optimizer, where the loop is (epoch, batch), the current batch's loss, the history so far, and a way
/// to stop. One object for the whole fit; its position properties change as the loop moves.
/// </summary>
public sealed class TrainingContext
{
    Tensor? batchLoss;
    double? batchLossValue;

    readonly Stepper stepper;

    internal TrainingContext(nn.Module<Tensor, Tensor> model, Stepper stepper, Device device, History history,
                             int firstEpoch, int epochs, int batches, int datasetSize)
    {
        Model = model; this.stepper = stepper; Device = device; History = history;
        FirstEpoch = firstEpoch; Epochs = epochs; Batches = batches; DatasetSize = datasetSize;
    }

    /// <summary>The model being trained.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The library's optimizer (its state and hyperparameters can be read and changed while
    /// training); null when the trainer steps a TorchSharp optimizer.</summary>
    public Optimizer? Optimizer => stepper.Library;

    /// <summary>The learning rate now (of the first parameter group, for a TorchSharp optimizer); setting it
    /// sets it for the following steps (every parameter group's).</summary>
    public double LearningRate
    {
        get => stepper.LearningRate;
        set => stepper.LearningRate = value;
    }

    /// <summary>The device the model and batches are on.</summary>
    public Device Device { get; }

    /// <summary>The metrics of the epochs finished so far in this fit (including resumed ones).</summary>
    public History History { get; }

    /// <summary>The first epoch this fit runs (1-based; greater than 1 when resuming).</summary>
    public int FirstEpoch { get; }

    /// <summary>The last epoch to run (1-based, inclusive).</summary>
    public int Epochs { get; }

    /// <summary>Batches per training epoch (the tutorial's <c>len(dataloader)</c>).</summary>
    public int Batches { get; }

    /// <summary>Samples in the training dataset (the tutorial's <c>size = len(dataloader.dataset)</c>).</summary>
    public int DatasetSize { get; }

    /// <summary>The current epoch (1-based); 0 before the first.</summary>
    public int Epoch { get; internal set; }

    /// <summary>The current batch's index in its epoch (0-based).</summary>
    public int Batch { get; internal set; }

    /// <summary>The first batch the current epoch trains: 0, except in an epoch resumed from a checkpoint saved
    /// inside it (<see cref="History.Partial"/>), whose batches before this one were trained before the checkpoint.
    /// Set before <see cref="Callback.OnFitBegin"/> (for the first epoch of the fit) and before each <see cref="Callback.OnEpochBegin"/>.</summary>
    public int FirstBatch { get; internal set; }

    /// <summary>Samples in the current batch.</summary>
    public int BatchSize { get; internal set; }

    /// <summary>Samples of this epoch before the current batch: the tutorial prints <c>[current/size]</c>.</summary>
    public int SamplesBefore { get; internal set; }

    /// <summary>
    /// The current batch's loss, before its optimizer step; NaN outside <see cref="Callback.OnBatchEnd"/>.
    /// Read on first access: the loss stays on the device until a callback asks for it, so a loop whose
    /// callbacks read it every 100 batches waits for the device only then.
    /// </summary>
    public double Loss => batchLossValue ??= batchLoss is null ? double.NaN : batchLoss.ToDouble();

    /// <summary>The last finished epoch's metrics (test figures present when a test loader was given), or null.</summary>
    public EpochMetrics? Metrics => History.Last;

    /// <summary>Why training stopped early (<see cref="RequestStop"/>), or null.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Asks the loop to stop at the end of the current epoch (or batch, when called from a batch event).</summary>
    public void RequestStop(string reason) => StopReason ??= reason;

    /// <summary>The loader being trained on.</summary>
    internal Functional.Data.IDataLoader? Train { get; init; }

    /// <summary>The training loader's shuffling generator state before the current epoch drew its order (null without
    /// shuffling): what a checkpoint saved inside the epoch keeps, so that a resume draws the same order.</summary>
    internal Tensor? EpochShuffleState { get; set; }

    /// <summary>The running sum of the current epoch's batch losses, on the device (null outside an epoch).</summary>
    internal Tensor? EpochLossSumTensor { get; set; }

    /// <summary>The running sum of the current epoch's batch losses, read from the device (a wait for it).</summary>
    internal double EpochLossSum => EpochLossSumTensor?.ToDouble() ?? 0.0;

    /// <summary>The current batch's loss tensor, still on the device (null outside a batch): the library's
    /// callbacks copy it on the device instead of reading it, so that they add no wait for the device.</summary>
    internal Tensor? LossTensor => batchLoss;

    internal void SetBatch(int batch, int size, int samplesBefore)
    {
        Batch = batch; BatchSize = size; SamplesBefore = samplesBefore;
        batchLoss = null; batchLossValue = null;
    }

    internal void SetBatchLoss(Tensor? loss, double? value = null)
    {
        batchLoss = loss; batchLossValue = value;
    }
}
