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

    /// <summary>Before an epoch's first batch (<see cref="TrainingContext.Epoch"/> is set; for an epoch resumed from a
    /// checkpoint saved inside it, <see cref="TrainingContext.FirstBatch"/> is the first batch it trains).</summary>
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
    /// <paramref name="every"/>-th epoch and, when <paramref name="everyBatches"/> is given, after every
    /// <paramref name="everyBatches"/>-th batch of each epoch (counted from the epoch's start), atomically, to the
    /// same file (the latest checkpoint). A checkpoint saved inside an epoch holds the batches done and the
    /// shuffling generator as it was before the epoch drew its order: <see cref="TrainingCheckpoint.Restore"/> and
    /// <see cref="Trainer.Fit"/> continue that epoch at its next batch, in the same order.</summary>
    /// <param name="path">The checkpoint file; its folder must exist.</param>
    /// <param name="train">The loader whose shuffling generator is saved (default: the one being trained).</param>
    /// <param name="every">Save after every this many epochs.</param>
    /// <param name="everyBatches">Also save after every this many batches inside each epoch; null for epochs' ends only.</param>
    /// <example><code>
    /// trainer.Fit(train, test, epochs: 10, callbacks: [Callback.Checkpoint("run.ckpt", everyBatches: 200)]);
    /// </code></example>
    public static Callback Checkpoint(string path, IDataLoader? train = null, int every = 1, int? everyBatches = null) =>
        new CheckpointCallback(path, train, every, everyBatches);

    /// <summary>
    /// Writes TensorBoard event files (with TorchSharp's <c>torch.utils.tensorboard.SummaryWriter</c>) into
    /// <paramref name="logDir"/>: <c>loss/train</c> for every step (the global step, 0-based, counts batches
    /// across epochs), and per epoch (step = the 1-based epoch) <c>loss/train_epoch</c>, <c>loss/test</c>,
    /// <c>accuracy/test</c> (0..1) and <c>learning_rate</c>. The hyperparameters are written once, as a text
    /// summary <c>hparams</c> (a Markdown table; TensorBoard lists it as <c>hparams/text_summary</c>, as for PyTorch's <c>add_text</c>): TorchSharp's writer has no <c>add_hparams</c>.
    /// View with <c>tensorboard --logdir DIR</c>.
    /// </summary>
    /// <remarks>Each step's loss is copied, on the device, into a buffer of <paramref name="flushEvery"/>
    /// values, which is read (one wait for the device) and written when it is full and at the end of each
    /// epoch, so the callback adds no wait per step. Wall times are whole seconds (what TorchSharp's writer
    /// takes).</remarks>
    /// <param name="logDir">The folder of the run's event files; created if missing. A new file is added per fit.</param>
    /// <param name="hyperparameters">Names and values shown in TensorBoard's text tab, or null.</param>
    /// <param name="flushEvery">Steps buffered on the device before they are read and written.</param>
    /// <example><code>
    /// trainer.Fit(train, test, epochs: 10, callbacks: [
    ///     Callback.TensorBoard("runs/sgd", new Dictionary&lt;string, string&gt; { ["lr"] = "0.001" }) ]);
    /// </code></example>
    public static Callback TensorBoard(string logDir, IReadOnlyDictionary<string, string>? hyperparameters = null, int flushEvery = 100) =>
        new TensorBoardCallback(logDir, hyperparameters, flushEvery);

    /// <summary>
    /// Writes the history as CSV after every epoch, atomically (a run killed at any moment leaves a whole
    /// file): a header <c>epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds</c> and one row per
    /// epoch (resumed epochs included), numbers in the invariant culture, round-trippable (<c>"R"</c>);
    /// test figures are empty without a test loader. Reads as is with <c>pandas.read_csv</c>.
    /// </summary>
    /// <param name="path">The CSV file; its folder must exist.</param>
    public static Callback MetricsCsv(string path) => new MetricsCsvCallback(path);
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
