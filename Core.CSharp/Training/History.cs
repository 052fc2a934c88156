using System.Text.Json;

namespace Functional.Training;

/// <summary>One epoch's figures.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">The mean of the epoch's batch losses.</param>
/// <param name="TestLoss">The test loader's mean batch loss (the tutorial's "Avg loss"), or null without a test loader.</param>
/// <param name="TestAccuracy">The fraction of test samples classified right (0..1), or null.</param>
/// <param name="LearningRate">The learning rate at the end of the epoch.</param>
/// <param name="Seconds">Wall time of the epoch's training and evaluation.</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double? TestLoss, double? TestAccuracy, double LearningRate, double Seconds);

/// <summary>How far an epoch had got when a checkpoint was saved inside it (see <see cref="Callback.Checkpoint"/>'s
/// <c>everyBatches</c>): <see cref="Trainer.Fit"/>, given a history that carries one (<see cref="History.Partial"/>),
/// resumes that epoch at batch <see cref="BatchesDone"/> (0-based), in the batch order the epoch had.</summary>
public sealed class PartialEpoch
{
    internal PartialEpoch(int epoch, int batchesDone, int batchesPerEpoch, double lossSum)
    {
        Epoch = epoch; BatchesDone = batchesDone; BatchesPerEpoch = batchesPerEpoch; LossSum = lossSum;
    }

    /// <summary>The epoch in progress (1-based): the one after the history's last.</summary>
    public int Epoch { get; }

    /// <summary>Its batches trained before the checkpoint (1 or more, fewer than <see cref="BatchesPerEpoch"/>).</summary>
    public int BatchesDone { get; }

    /// <summary>The training loader's batches per epoch when it was saved: a resume needs a loader with as many.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>The sum of the done batches' losses, so that the resumed epoch's mean loss is the uninterrupted one's.</summary>
    internal double LossSum { get; }

    /// <inheritdoc />
    public override string ToString() => $"epoch {Epoch}, {BatchesDone} of {BatchesPerEpoch} batches done";
}

/// <summary>The metrics of each epoch, in order. Serializable to JSON for checkpoints.</summary>
public sealed class History
{
    readonly List<EpochMetrics> epochs = new();

    /// <summary>Creates an empty history.</summary>
    public History() { }

    /// <summary>Creates a history holding the given epochs.</summary>
    public History(IEnumerable<EpochMetrics> epochs) => this.epochs.AddRange(epochs);

    /// <summary>The epochs, in order.</summary>
    public IReadOnlyList<EpochMetrics> Epochs => epochs;

    /// <summary>The number of epochs recorded.</summary>
    public int Count => epochs.Count;

    /// <summary>The last epoch's metrics, or null.</summary>
    public EpochMetrics? Last => epochs.Count == 0 ? null : epochs[^1];

    /// <summary>For a history restored from a checkpoint saved inside an epoch (<see cref="TrainingCheckpoint.Restore"/>),
    /// where that epoch stopped: <see cref="Trainer.Fit"/> continues it at its next batch. Null otherwise.</summary>
    public PartialEpoch? Partial { get; internal set; }

    internal void Add(EpochMetrics metrics) => epochs.Add(metrics);

    /// <summary>JSON: an array of epoch objects.</summary>
    public string ToJson() => JsonSerializer.Serialize(epochs, Serialization.JsonContext.Default.ListEpochMetrics);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    /// <exception cref="InvalidDataException">The text is not such an array.</exception>
    public static History FromJson(string json)
    {
        try
        {
            return new History(JsonSerializer.Deserialize(json, Serialization.JsonContext.Default.ListEpochMetrics) ?? throw new InvalidDataException("History JSON is null; expected an array of epoch metrics."));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"History JSON is not an array of epoch metrics: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(Environment.NewLine, epochs.Select(m =>
        $"epoch {m.Epoch}: train loss {m.TrainLoss:F6}" +
        (m.TestLoss is double l ? $", test loss {l:F6}" : "") +
        (m.TestAccuracy is double a ? $", accuracy {100 * a:F1}%" : "") +
        $", lr {m.LearningRate:G4}, {m.Seconds:F1} s"));
}
