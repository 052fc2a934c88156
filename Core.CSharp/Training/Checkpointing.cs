using System.Globalization;
using System.Text.Json;
using Functional.Data;
using Functional.Optim;
using Functional.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>
/// Training checkpoints: everything a run needs to continue exactly as if it had not stopped — the
/// model's state dict, the optimizer's state, the epoch (and, for a checkpoint saved inside an epoch, the
/// batches of it done and their loss sum), LibTorch's random generator (dropout), the training loader's
/// shuffling generator as it was before the next epoch's order was drawn, and the history. Written
/// atomically (see <see cref="Checkpoint.Save"/>): a process killed while saving leaves the previous checkpoint.
/// </summary>
/// <example><code>
/// // first run, saving after each epoch and every 100 batches
/// trainer.Fit(train, test, epochs: 10, callbacks: [Callback.Checkpoint("run.ckpt", train, everyBatches: 100)]);
/// // later, in a new process with a freshly built model, optimizer and loaders:
/// var done = TrainingCheckpoint.Restore("run.ckpt", model, optimizer, train);
/// trainer.Fit(train, test, epochs: 10, resume: done);      // continues at the next batch
/// </code></example>
public static class TrainingCheckpoint
{
    const string TorchGenerator = "torch";
    const string ShuffleGenerator = "shuffle";

    /// <summary>Saves a checkpoint of the state after <paramref name="epoch"/>.</summary>
    public static void Save(string path, nn.Module model, Optimizer optimizer, int epoch, History history, IDataLoader? train = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(history);
        using var scope = NewDisposeScope();
        Write(path, model, optimizer, epoch, history, train?.ShuffleGenerator?.get_state(), null);
    }

    /// <summary>Saves a checkpoint inside an epoch, from a running fit: after batch <see cref="TrainingContext.Batch"/>
    /// of <see cref="TrainingContext.Epoch"/>, with the shuffling generator as it was before that epoch's order was
    /// drawn (so that a resume draws the same order) and the epoch's loss sum so far.</summary>
    internal static void SaveInEpoch(string path, nn.Module model, Optimizer optimizer, TrainingContext context)
    {
        using var scope = NewDisposeScope();
        var partial = new Checkpoint.PartialEpochRecord(context.Batch + 1, context.Batches, context.EpochLossSum);
        Write(path, model, optimizer, context.Epoch - 1, context.History, context.EpochShuffleState, partial);
    }

    static void Write(string path, nn.Module model, Optimizer optimizer, int epoch, History history, Tensor? shuffleState,
                      Checkpoint.PartialEpochRecord? partial)
    {
        var generators = new Dictionary<string, Tensor> { [TorchGenerator] = torch.get_rng_state() };
        if (shuffleState is not null) generators[ShuffleGenerator] = shuffleState;
        var checkpoint = new Checkpoint
        {
            Model = model.state_dict(),
            OptimizerState = optimizer.StateTensors().ToDictionary(t => t.Name, t => t.Value),
            Optimizer = optimizer.StateScalars(),
            Epoch = epoch,
            Partial = partial,
            GeneratorStates = generators,
            History = history,
        };
        checkpoint.Save(path);
    }

    /// <summary>Restores model weights (strictly), optimizer state and generators from a checkpoint and
    /// returns the history of the epochs it holds: pass it as <c>resume</c> to <see cref="Trainer.Fit"/>.
    /// For a checkpoint saved inside an epoch, the history's <see cref="History.Partial"/> says where, and
    /// <see cref="Trainer.Fit"/> continues that epoch at its next batch, in the order the epoch had.
    /// Every part is checked first: when it throws, the model and optimizer are as they were.</summary>
    /// <exception cref="InvalidDataException">The file is damaged, its optimizer state does not fit
    /// <paramref name="optimizer"/>, or it was saved inside an epoch of another number of batches than
    /// <paramref name="train"/>'s; the message names the file and the part.</exception>
    /// <exception cref="StateDictMismatchException">The saved weights do not fit <paramref name="model"/>; the report lists the keys.</exception>
    public static History Restore(string path, nn.Module model, Optimizer optimizer, IDataLoader? train = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        using var checkpoint = Checkpoint.Load(path);
        // Every part is checked before any is restored: a checkpoint that does not fit leaves the model,
        // the optimizer and the generators as they were.
        var modelReport = StateDict.Compare(model, checkpoint.Model);
        if (!modelReport.AllKeysMatched) throw new StateDictMismatchException(modelReport, path);
        var scalars = checkpoint.Optimizer
            ?? throw new InvalidDataException($"{path}: the checkpoint holds no optimizer state; it was not written by TrainingCheckpoint.Save.");
        var shuffle = train?.ShuffleGenerator;
        Tensor? shuffleState = null;
        if (shuffle is not null && !checkpoint.GeneratorStates.TryGetValue(ShuffleGenerator, out shuffleState))
            throw new InvalidDataException($"{path}: the training loader shuffles, but the checkpoint holds no shuffling generator state (it was saved without the loader, " +
                "or by a distributed run, whose DistributedSampler is seeded per epoch: resume that one distributed too).");
        var history = checkpoint.History;
        if (history.Count != checkpoint.Epoch)
            throw new InvalidDataException($"{path}: the checkpoint is of epoch {checkpoint.Epoch} but holds {history.Count} epochs of history.");
        if (checkpoint.Partial is { } saved)
        {
            history.Partial = new PartialEpoch((int)checkpoint.Epoch + 1, (int)saved.Batch, (int)saved.Batches, saved.LossSum);
            if (train is not null) CheckPartial(history.Partial, train, path);
        }
        try
        {
            // LoadState checks the structure, the scalars and every tensor's name and shape before it changes anything.
            optimizer.LoadState(scalars, checkpoint.OptimizerState.Select(kv => (kv.Key, kv.Value)));
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(
                $"{path}: the checkpoint's optimizer state does not fit this optimizer (saved: {scalars.Transformation}; given: {optimizer.Transformation.Name}). {e.Message}", e);
        }
        checkpoint.RestoreModel(model, strict: true);
        if (checkpoint.GeneratorStates.TryGetValue(TorchGenerator, out var torchState)) torch.set_rng_state(torchState);
        if (shuffle is not null) shuffle.set_state(shuffleState!);
        return history;
    }

    /// <summary>A position inside an epoch means something only for a loader with the same batches per epoch.</summary>
    internal static void CheckPartial(PartialEpoch partial, IDataLoader train, string source)
    {
        if (partial.BatchesPerEpoch != train.BatchCount)
            throw new InvalidDataException(
                $"{source}: the checkpoint stopped after batch {partial.BatchesDone} of epoch {partial.Epoch}, of {partial.BatchesPerEpoch} batches an epoch, " +
                $"but the training loader gives {train.BatchCount} batches an epoch: resume with the loader of the saved run (the same data, batch size and dropLast).");
    }
}
