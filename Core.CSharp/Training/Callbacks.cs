using System.Globalization;

namespace Functional.Training;

/// <summary>
/// Prints the tutorial's text: <c>Epoch 1</c>, a rule, <c>loss: 2.306926  [    0/60000]</c> every
/// <see cref="Every"/> batches, <c>Test Error: </c> / <c> Accuracy: 52.3%, Avg loss: 2.200312 </c>
/// after each epoch, and <c>Done!</c>. On an interactive terminal a progress bar runs between the lines.
/// </summary>
sealed class TutorialProgress : Callback
{
    readonly TextWriter output;
    readonly bool bar;
    int barWidth;

    /// <summary>Prints to <paramref name="output"/> (default: the console). The progress bar is drawn only
    /// when the output is the console and the console is not redirected, unless <paramref name="progressBar"/> says otherwise.</summary>
    internal TutorialProgress(TextWriter? output = null, int every = 100, bool? progressBar = null)
    {
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "Print every 1 or more batches.");
        this.output = output ?? Console.Out;
        Every = every;
        bar = progressBar ?? (output is null && !Console.IsOutputRedirected);
    }

    /// <summary>A loss line is printed for every batch whose index is a multiple of this.</summary>
    public int Every { get; }

    static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    void ClearBar()
    {
        if (barWidth == 0) return;
        output.Write("\r" + new string(' ', barWidth) + "\r");
        barWidth = 0;
    }

    /// <inheritdoc />
    public override void OnEpochBegin(TrainingContext e)
    {
        output.WriteLine($"Epoch {e.Epoch}");
        output.WriteLine("-------------------------------");
    }

    /// <inheritdoc />
    public override void OnBatchEnd(TrainingContext e)
    {
        if (e.Batch % Every == 0)
        {
            ClearBar();
            // Python: f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]" with current = batch * len(X).
            output.WriteLine($"loss: {F(e.Loss, "F6"),7}  [{e.Batch * e.BatchSize,5}/{e.DatasetSize,5}]");
        }
        else if (bar && e.Batch % 10 == 0)
        {
            const int width = 30;
            int done = (int)((long)(e.Batch + 1) * width / Math.Max(1, e.Batches));
            var text = $"[{new string('#', done)}{new string('.', width - done)}] {e.Batch + 1}/{e.Batches}  loss {F(e.Loss, "F4")}";
            output.Write("\r" + text);
            barWidth = Math.Max(barWidth, text.Length);
        }
    }

    /// <inheritdoc />
    public override void OnEpochEnd(TrainingContext e)
    {
        ClearBar();
        if (e.Metrics is { TestAccuracy: double accuracy, TestLoss: double loss })
        {
            // Python: print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
            output.WriteLine("Test Error: ");
            output.WriteLine($" Accuracy: {F(100 * accuracy, "F1")}%, Avg loss: {F(loss, "F6"),8} ");
            output.WriteLine();
        }
    }

    /// <inheritdoc />
    public override void OnFitEnd(TrainingContext e)
    {
        ClearBar();
        if (e.StopReason is not null) output.WriteLine($"Stopped: {e.StopReason}");
        output.WriteLine("Done!");
    }
}

/// <summary>Stops training when the watched figure has not improved by more than
/// <see cref="MinDelta"/> for <see cref="Patience"/> epochs in a row: with patience 2, an improvement at
/// epoch 3 and none at epochs 4 and 5 stops after epoch 5.</summary>
sealed class EarlyStopping : Callback
{
    double best = double.NaN;
    int waited;

    /// <summary>Creates the callback.</summary>
    internal EarlyStopping(Monitor monitor = Monitor.TestLoss, int patience = 3, double minDelta = 0)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), patience, "Patience is 1 epoch or more.");
        if (minDelta < 0) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta is 0 or more.");
        Monitor = monitor; Patience = patience; MinDelta = minDelta;
    }

    /// <summary>The watched figure.</summary>
    public Monitor Monitor { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>The epoch with the best figure so far (0 before the first).</summary>
    public int BestEpoch { get; private set; }

    /// <inheritdoc />
    public override void OnFitBegin(TrainingContext e)
    {
        best = double.NaN; waited = 0; BestEpoch = 0;
    }

    /// <inheritdoc />
    public override void OnEpochEnd(TrainingContext e)
    {
        double? watched = Monitor switch
        {
            Monitor.TestLoss => e.Metrics!.TestLoss,
            Monitor.TestAccuracy => e.Metrics!.TestAccuracy,
            _ => e.Metrics!.TrainLoss,
        };
        if (watched is not double value)
            throw new InvalidOperationException($"EarlyStopping watches {Monitor}, but epoch {e.Epoch} has no such figure: pass a test loader to Fit, or watch Monitor.TrainLoss.");
        bool higherIsBetter = Monitor == Monitor.TestAccuracy;
        bool improved = double.IsNaN(best) || (higherIsBetter ? value > best + MinDelta : value < best - MinDelta);
        if (improved)
        {
            best = value; waited = 0; BestEpoch = e.Epoch;
            return;
        }
        if (++waited >= Patience)
            e.RequestStop($"early stopping: {Monitor} has not improved for {Patience} epoch(s) since epoch {BestEpoch}");
    }
}

/// <summary>Sets the optimizer's learning rate at the start of each epoch from a function of the
/// 1-based epoch (PyTorch's epoch-wise lr_scheduler). Per-step schedules belong in the optimizer chain.</summary>
sealed class LearningRateSchedule : Callback
{
    readonly Func<int, double> byEpoch;

    /// <summary>Creates the callback.</summary>
    internal LearningRateSchedule(Func<int, double> byEpoch) => this.byEpoch = byEpoch ?? throw new ArgumentNullException(nameof(byEpoch));

    /// <inheritdoc />
    public override void OnEpochBegin(TrainingContext e) => e.LearningRate = byEpoch(e.Epoch);
}

/// <summary>Calls functions on the loop's events (<see cref="Callback.Create"/>).</summary>
sealed class FunctionCallback(Action<TrainingContext>? fitBegin, Action<TrainingContext>? epochBegin, Action<TrainingContext>? batchBegin,
                              Action<TrainingContext>? batchEnd, Action<TrainingContext>? epochEnd, Action<TrainingContext>? fitEnd) : Callback
{
    public override void OnFitBegin(TrainingContext context) => fitBegin?.Invoke(context);
    public override void OnEpochBegin(TrainingContext context) => epochBegin?.Invoke(context);
    public override void OnBatchBegin(TrainingContext context) => batchBegin?.Invoke(context);
    public override void OnBatchEnd(TrainingContext context) => batchEnd?.Invoke(context);
    public override void OnEpochEnd(TrainingContext context) => epochEnd?.Invoke(context);
    public override void OnFitEnd(TrainingContext context) => fitEnd?.Invoke(context);
}

/// <summary>Saves a <see cref="TrainingCheckpoint"/> after every <see cref="Every"/>-th epoch, and inside epochs after
/// every <see cref="EveryBatches"/>-th batch, atomically, to the same file (the latest checkpoint): <see cref="Callback.Checkpoint"/>.</summary>
sealed class CheckpointCallback : Callback
{
    readonly Functional.Data.IDataLoader? train;

    internal CheckpointCallback(string path, Functional.Data.IDataLoader? train = null, int every = 1, int? everyBatches = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "Save every 1 or more epochs.");
        if (everyBatches < 1) throw new ArgumentOutOfRangeException(nameof(everyBatches), everyBatches, "Save every 1 or more batches, or pass null to save at epochs' ends only.");
        Path = path; this.train = train; Every = every; EveryBatches = everyBatches;
    }

    public string Path { get; }

    public int Every { get; }

    public int? EveryBatches { get; }

    static Optim.Optimizer OptimizerOf(TrainingContext context) => context.Optimizer
        ?? throw new NotSupportedException("Callback.Checkpoint saves the optimizer's state, which needs one of this library's optimizers (Optimizers.Sgd, ...), not a TorchSharp one.");

    public override void OnBatchEnd(TrainingContext context)
    {
        if (EveryBatches is not int n) return;
        int done = context.Batch + 1;
        // The epoch's last batch is saved by the epoch's end, after evaluation.
        if (done % n != 0 || done >= context.Batches) return;
        TrainingCheckpoint.SaveInEpoch(Path, context.Model, OptimizerOf(context), context);
    }

    public override void OnEpochEnd(TrainingContext context)
    {
        if (context.Epoch % Every == 0)
            TrainingCheckpoint.Save(Path, context.Model, OptimizerOf(context), context.Epoch, context.History, train ?? context.Train);
    }
}
