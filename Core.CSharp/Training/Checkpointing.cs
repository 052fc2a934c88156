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
/// model's state dict, the optimizer's state, the epoch, LibTorch's random generator (dropout), the
/// training loader's shuffling generator, and the history. Written atomically (see
/// <see cref="Checkpoint.Save"/>): a process killed while saving leaves the previous checkpoint.
/// </summary>
/// <example><code>
/// // first run, saving after each epoch
/// trainer.Fit(train, test, epochs: 10, callbacks: [Callback.Checkpoint("run.ckpt", train)]);
/// // later, in a new process with a freshly built model, optimizer and loaders:
/// var done = TrainingCheckpoint.Restore("run.ckpt", model, optimizer, train);
/// trainer.Fit(train, test, epochs: 10, resume: done);      // continues at the next epoch
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
        var generators = new Dictionary<string, Tensor> { [TorchGenerator] = torch.get_rng_state() };
        if (train?.ShuffleGenerator is { } shuffle) generators[ShuffleGenerator] = shuffle.get_state();
        var checkpoint = new Checkpoint
        {
            Model = model.state_dict(),
            OptimizerState = optimizer.StateTensors().ToDictionary(t => t.Name, t => t.Value),
            Optimizer = optimizer.StateScalars(),
            Epoch = epoch,
            GeneratorStates = generators,
            History = history,
        };
        checkpoint.Save(path);
    }

    /// <summary>Restores model weights (strictly), optimizer state and generators from a checkpoint and
    /// returns the history of the epochs it holds: pass it as <c>resume</c> to <see cref="Trainer.Fit"/>.
    /// Every part is checked first: when it throws, the model and optimizer are as they were.</summary>
    /// <exception cref="InvalidDataException">The file is damaged, or its optimizer state does not fit
    /// <paramref name="optimizer"/>; the message names the file and the part.</exception>
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
}
