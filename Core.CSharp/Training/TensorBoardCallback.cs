using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>Writes TensorBoard event files: <see cref="Callback.TensorBoard"/>.</summary>
sealed class TensorBoardCallback : Callback
{
    /// <summary>The per-step training loss.</summary>
    internal const string StepLossTag = "loss/train";
    /// <summary>The epoch's mean training loss.</summary>
    internal const string EpochLossTag = "loss/train_epoch";
    /// <summary>The epoch's test loss.</summary>
    internal const string TestLossTag = "loss/test";
    /// <summary>The epoch's test accuracy (0..1).</summary>
    internal const string TestAccuracyTag = "accuracy/test";
    /// <summary>The learning rate at the end of the epoch.</summary>
    internal const string LearningRateTag = "learning_rate";
    /// <summary>The hyperparameters, as a Markdown table.</summary>
    internal const string HyperparametersTag = "hparams";

    readonly string logDir;
    readonly IReadOnlyDictionary<string, string> hyperparameters;
    readonly int flushEvery;
    readonly int[] steps;
    TorchSharp.Modules.SummaryWriter? writer;
    Tensor? buffer;
    int pending;

    internal TensorBoardCallback(string logDir, IReadOnlyDictionary<string, string>? hyperparameters, int flushEvery)
    {
        ArgumentException.ThrowIfNullOrEmpty(logDir);
        if (flushEvery < 1) throw new ArgumentOutOfRangeException(nameof(flushEvery), flushEvery, "Buffer 1 or more steps.");
        this.logDir = logDir;
        this.hyperparameters = hyperparameters ?? new Dictionary<string, string>();
        this.flushEvery = flushEvery;
        steps = new int[flushEvery];
    }

    // TensorBoard reads wall time as seconds since 1970; TorchSharp's writer would store .NET ticks.
    static long WallTime() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public override void OnFitBegin(TrainingContext context)
    {
        writer = torch.utils.tensorboard.SummaryWriter(logDir);
        pending = 0;
        buffer?.Dispose();
        buffer = torch.empty(flushEvery, ScalarType.Float32, context.Device);
        if (hyperparameters.Count > 0)
        {
            var table = new StringBuilder("| name | value |\n| --- | --- |\n");
            foreach (var (name, value) in hyperparameters) table.Append($"| {name} | {value} |\n");
            writer.add_text(HyperparametersTag, table.ToString(), 0, WallTime());
        }
    }

    public override void OnBatchEnd(TrainingContext context)
    {
        if (buffer is null || context.LossTensor is not { } loss) return;
        // A copy on the device: no wait for it here. The temporaries belong to the batch's dispose scope.
        using (var slot = buffer.narrow(0, pending, 1))
        using (var value = loss.detach().reshape(1))
            slot.copy_(value);
        steps[pending++] = (context.Epoch - 1) * context.Batches + context.Batch;
        if (pending == flushEvery) Flush();
    }

    /// <summary>Reads the buffered losses (one wait for the device) and writes them.</summary>
    void Flush()
    {
        if (writer is null || buffer is null || pending == 0) return;
        float[] values;
        using (var scope = torch.NewDisposeScope())
            values = buffer.narrow(0, 0, pending).cpu().data<float>().ToArray();
        var time = WallTime();
        for (int i = 0; i < pending; i++) writer.add_scalar(StepLossTag, values[i], steps[i], time);
        pending = 0;
    }

    public override void OnEpochEnd(TrainingContext context)
    {
        Flush();
        if (writer is null || context.Metrics is not { } m) return;
        var time = WallTime();
        writer.add_scalar(EpochLossTag, (float)m.TrainLoss, m.Epoch, time);
        if (m.TestLoss is double testLoss) writer.add_scalar(TestLossTag, (float)testLoss, m.Epoch, time);
        if (m.TestAccuracy is double accuracy) writer.add_scalar(TestAccuracyTag, (float)accuracy, m.Epoch, time);
        writer.add_scalar(LearningRateTag, (float)m.LearningRate, m.Epoch, time);
    }

    public override void OnFitEnd(TrainingContext context)
    {
        try
        {
            Flush();
        }
        finally
        {
            buffer?.Dispose();
            buffer = null;
            writer = null;   // the writer opens and closes its file for each event: nothing to close
        }
    }
}

/// <summary>Writes the history as CSV after every epoch: <see cref="Callback.MetricsCsv"/>.</summary>
sealed class MetricsCsvCallback : Callback
{
    /// <summary>The header line.</summary>
    internal const string Header = "epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds";

    readonly string path;

    internal MetricsCsvCallback(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        this.path = path;
    }

    static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    static string R(double? value) => value is double v ? R(v) : "";

    /// <summary>The file's text for a history.</summary>
    internal static string Format(History history)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var m in history.Epochs)
            text.Append(CultureInfo.InvariantCulture, $"{m.Epoch},{R(m.TrainLoss)},{R(m.TestLoss)},{R(m.TestAccuracy)},{R(m.LearningRate)},{R(m.Seconds)}\n");
        return text.ToString();
    }

    void Write(History history)
    {
        var bytes = Encoding.UTF8.GetBytes(Format(history));
        Serialization.AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    // At the start too: a path that cannot be written fails before the first epoch, and a resumed run's file
    // holds the resumed epochs at once.
    public override void OnFitBegin(TrainingContext context) => Write(context.History);

    public override void OnEpochEnd(TrainingContext context) => Write(context.History);
}
