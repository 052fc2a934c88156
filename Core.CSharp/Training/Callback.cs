using Functional.Data;

namespace Functional.Training;

/// <summary>
/// Receives the training loop's events, in this order: <see cref="OnFitBegin"/>, then per epoch
/// <see cref="OnEpochBegin"/>, per batch <see cref="OnBatchBegin"/> and <see cref="OnBatchEnd"/>,
/// <see cref="OnEpochEnd"/> (after evaluation), and finally <see cref="OnFitEnd"/>. Each receives the fit's
/// <see cref="TrainingContext"/>. Override what you need, or make one from functions with <see cref="Create"/>.
/// The library's own callbacks are made by the static methods here.
/// </summary>
/// <example><code>
/// var losses = new List&lt;double&gt;();
/// trainer.Fit(train, test, epochs: 10, callbacks: [
///     Callback.EarlyStopping(Monitor.TestLoss, patience: 3),
///     Callback.Create(onBatchEnd: c =&gt; losses.Add(c.Loss)) ]);
/// </code></example>
public abstract class Callback
{
    /// <summary>Before the first epoch.</summary>
    public virtual void OnFitBegin(TrainingContext context) { }

    /// <summary>Before an epoch's first batch (<see cref="TrainingContext.Epoch"/> is set).</summary>
    public virtual void OnEpochBegin(TrainingContext context) { }

    /// <summary>Before a batch's forward pass (<see cref="TrainingContext.Batch"/> and <see cref="TrainingContext.BatchSize"/> are set).</summary>
    public virtual void OnBatchBegin(TrainingContext context) { }

    /// <summary>After a batch's optimizer step (<see cref="TrainingContext.Loss"/> is the batch's loss).</summary>
    public virtual void OnBatchEnd(TrainingContext context) { }

    /// <summary>After an epoch's training and evaluation (<see cref="TrainingContext.Metrics"/> are the epoch's).</summary>
    public virtual void OnEpochEnd(TrainingContext context) { }

    /// <summary>After the last epoch, or after a stop (<see cref="TrainingContext.StopReason"/> says why).</summary>
    public virtual void OnFitEnd(TrainingContext context) { }

    /// <summary>A callback that calls the given functions on the loop's events.</summary>
    public static Callback Create(Action<TrainingContext>? onFitBegin = null, Action<TrainingContext>? onEpochBegin = null,
                                  Action<TrainingContext>? onBatchBegin = null, Action<TrainingContext>? onBatchEnd = null,
                                  Action<TrainingContext>? onEpochEnd = null, Action<TrainingContext>? onFitEnd = null) =>
        new FunctionCallback(onFitBegin, onEpochBegin, onBatchBegin, onBatchEnd, onEpochEnd, onFitEnd);

    /// <summary>
    /// Prints the tutorial's text: <c>Epoch 1</c>, a rule, <c>loss: 2.306926  [    0/60000]</c> every
    /// <paramref name="every"/> batches, <c>Test Error: </c> / <c> Accuracy: 52.3%, Avg loss: 2.200312 </c>
    /// after each epoch, and <c>Done!</c>. <see cref="TrainerOptions.Progress"/> adds it for you.
    /// </summary>
    /// <param name="output">Where to print (default: the console).</param>
    /// <param name="every">A loss line is printed for every batch whose index is a multiple of this.</param>
    /// <param name="progressBar">Draw a progress bar between the lines; default: only when the output is the
    /// console and the console is not redirected.</param>
    public static Callback Progress(TextWriter? output = null, int every = 100, bool? progressBar = null) =>
        new TutorialProgress(output, every, progressBar);

    /// <summary>Stops training when the watched figure has not improved by more than <paramref name="minDelta"/>
    /// for <paramref name="patience"/> epochs in a row: with patience 2, an improvement at epoch 3 and none at
    /// epochs 4 and 5 stops after epoch 5.</summary>
    public static Callback EarlyStopping(Monitor monitor = Monitor.TestLoss, int patience = 3, double minDelta = 0) =>
        new EarlyStopping(monitor, patience, minDelta);

    /// <summary>Sets the optimizer's learning rate at the start of each epoch from a function of the 1-based
    /// epoch (PyTorch's epoch-wise lr_scheduler). Per-step schedules belong in the optimizer chain.</summary>
    public static Callback LearningRate(Func<int, double> byEpoch) => new LearningRateSchedule(byEpoch);

    /// <summary>Saves a training checkpoint (<see cref="TrainingCheckpoint.Save"/>) after every
    /// <paramref name="every"/>-th epoch, atomically, to the same file (the latest checkpoint). Pass the
    /// training loader so that its shuffling generator is saved too.</summary>
    public static Callback Checkpoint(string path, IDataLoader? train = null, int every = 1) =>
        new CheckpointCallback(path, train, every);
}

/// <summary>Which epoch figure a callback watches.</summary>
public enum Monitor
{
    /// <summary>The test loader's average loss (lower is better).</summary>
    TestLoss,
    /// <summary>The test accuracy (higher is better).</summary>
    TestAccuracy,
    /// <summary>The mean training loss (lower is better).</summary>
    TrainLoss,
}
