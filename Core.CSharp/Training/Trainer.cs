using System.Diagnostics;
using Functional.Data;
using Functional.Training;
using Functional.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>Raised when a batch's loss is NaN or infinite: training stops before that batch's
/// optimizer step, so the weights are those of the last finite step.</summary>
public sealed class NonFiniteLossException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException(int epoch, int batch, double loss)
        : base($"The loss became {loss} at epoch {epoch}, batch {batch}; training stopped before that batch's optimizer step, " +
               "so the weights are those of the last finite step. Lower the learning rate, clip gradients " +
               "(Optimizers.ClipByGlobalNorm), or check the inputs for NaN or infinite values.")
    {
        Epoch = epoch; Batch = batch; Loss = loss;
    }

    NonFiniteLossException(int epoch, double meanLoss, string message) : base(message)
    {
        Epoch = epoch; Batch = -1; Loss = meanLoss;
    }

    /// <summary>Off the CPU, batch losses are not read one by one (that would wait for the device at every
    /// step): a non-finite loss is found at the end of the epoch, after its steps.</summary>
    internal static NonFiniteLossException InEpoch(int epoch, double meanLoss) => new(epoch, meanLoss,
        $"The mean training loss of epoch {epoch} is {meanLoss}: a batch's loss became NaN or infinite, and the steps after it " +
        "changed the weights. Lower the learning rate, clip gradients (Optim.ClipByGlobalNorm), or check the inputs for NaN or infinite values.");

    /// <summary>1-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>0-based batch index in the epoch; -1 when the loss was found at the end of the epoch.</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss.</summary>
    public double Loss { get; }
}

/// <summary>The result of <see cref="Trainer.Evaluate(IDataLoader)"/>: the tutorial's test_loop figures.</summary>
/// <param name="AverageLoss">The mean of the batches' losses ("Avg loss").</param>
/// <param name="Accuracy">Correctly classified samples over all samples (0..1).</param>
/// <param name="Samples">Samples seen.</param>
/// <param name="Batches">Batches seen.</param>
public sealed record Evaluation(double AverageLoss, double Accuracy, int Samples, int Batches);

/// <summary>Class probabilities (softmax over dimension 1) and the most probable class of each row.
/// Owns both tensors.</summary>
public sealed class Prediction : IDisposable
{
    internal Prediction(Tensor probabilities, Tensor classes) { Probabilities = probabilities; Classes = classes; }

    /// <summary>[N, classes], rows summing to 1.</summary>
    public Tensor Probabilities { get; }

    /// <summary>[N] int64 class indices.</summary>
    public Tensor Classes { get; }

    /// <inheritdoc />
    public void Dispose() { Probabilities.Dispose(); Classes.Dispose(); }
}

/// <summary>
/// The training loop of the tutorial, made reusable: <see cref="Fit"/> runs epochs of
/// forward, loss, backward and optimizer step over a training loader and evaluates on a test loader
/// after each epoch, raising typed events for <see cref="Callback"/>s.
/// </summary>
/// <remarks>
/// <para>Transparent by design: one epoch is exactly the tutorial's <c>train_loop</c> followed by its
/// <c>test_loop</c>. The loop switches the model to train mode for training and to eval mode (under
/// <c>no_grad</c>) for evaluation and prediction, restoring the mode it found afterwards.</para>
/// <para>Memory: every batch runs inside its own dispose scope, so the step's activations, gradients'
/// temporaries and loss are freed at once and the live tensor count stays flat across steps and epochs.</para>
/// <para>Reproducibility: <see cref="TrainerOptions.Seed"/> seeds, at the start of <see cref="Fit"/>,
/// LibTorch's generator (dropout and other random layers) and the training loader's shuffling: the same
/// seed gives the same run bit for bit on the CPU, from C# and from F# alike.</para>
/// <para>Devices: the trainer moves the model to <see cref="TrainerOptions.Device"/> first, then binds the
/// optimizer to the moved parameters, so an optimizer never holds tensors of the wrong device.</para>
/// </remarks>
/// <example><code>
/// var model = new NeuralNetwork();
/// using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(1e-3),
///     new TrainerOptions { Seed = 0, Checkpoint = "run.ckpt" });
/// var history = trainer.Fit(trainLoader, testLoader, epochs: 10);   // prints the tutorial's lines
/// </code></example>
public sealed class Trainer : IDisposable
{
    readonly Loss loss;
    readonly bool ownsOptimizer;
    readonly Stepper stepper;
    FusedStep? fused;
    string? whyNotFused;

    /// <summary>Creates a trainer: moves <paramref name="model"/> to the options' device, then binds
    /// <paramref name="optimizer"/> (e.g. <c>Optimizers.Sgd(1e-3)</c>) to its parameters. The trainer owns
    /// that bound <see cref="Optimizer"/> and frees its state on <see cref="Dispose"/>.</summary>
    public Trainer(nn.Module<Tensor, Tensor> model, Loss loss, GradientTransformation optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Native.EnsureLoaded();
        Options = options ?? new TrainerOptions();
        Device = Devices.Check(Options.Device ?? Devices.Auto);
        Model = model;
        this.loss = loss;
        MoveToDevice(model, Device);
        Optimizer = optimizer.Bind(model);
        stepper = new Stepper.OfLibrary(Optimizer);
        ownsOptimizer = true;
    }

    /// <summary>Creates a trainer around an optimizer already bound to <paramref name="model"/>'s parameters
    /// (the tutorial's <c>optimizer = torch.optim.SGD(model.parameters(), ...)</c>); it stays the caller's.
    /// When the model has to move to another device, bind the optimizer after that move, or pass the
    /// unbound transformation instead.</summary>
    /// <exception cref="ArgumentException">The model moved, and the optimizer holds its old parameters.</exception>
    public Trainer(nn.Module<Tensor, Tensor> model, Loss loss, Optimizer optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Native.EnsureLoaded();
        Options = options ?? new TrainerOptions();
        Device = Devices.Check(Options.Device ?? Devices.Auto);
        Model = model;
        this.loss = loss;
        Optimizer = optimizer;
        stepper = new Stepper.OfLibrary(optimizer);
        CheckBoundAfterMove(model, optimizer.Parameters, "Pass the unbound optimizer (e.g. Optimizers.Sgd(1e-3)) so that the trainer binds it after the move.");
    }

    /// <summary>Creates a trainer around a TorchSharp optimizer (<c>torch.optim.SGD(model.parameters(), 1e-3)</c>)
    /// and, optionally, its learning-rate scheduler, stepped once after each epoch as in PyTorch's tutorials.
    /// Both stay the caller's. Checkpoints (<see cref="TrainerOptions.Checkpoint"/>, <see cref="TrainerOptions.Resume"/>)
    /// need the library's optimizers, whose state they save; <see cref="Optimizer"/> is null here.</summary>
    /// <exception cref="ArgumentException">The model moved to the options' device, and the optimizer holds its old
    /// parameters: make the TorchSharp optimizer after moving the model.</exception>
    /// <exception cref="NotSupportedException">The options ask for a checkpoint or a resume.</exception>
    public Trainer(nn.Module<Tensor, Tensor> model, Loss loss, optim.Optimizer optimizer, optim.lr_scheduler.LRScheduler? scheduler = null, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Native.EnsureLoaded();
        Options = options ?? new TrainerOptions();
        if (Options.Checkpoint is not null || Options.Resume is not null)
            throw new NotSupportedException(
                "Training checkpoints save the optimizer's state, which needs one of this library's optimizers (Optimizers.Sgd, Optimizers.Adam, ...); " +
                "with a TorchSharp optimizer, save its state yourself (optimizer.save_state_dict) and the weights with StateDict.SaveSafeTensors.");
        Device = Devices.Check(Options.Device ?? Devices.Auto);
        Model = model;
        this.loss = loss;
        stepper = new Stepper.OfTorchSharp(optimizer, scheduler);
        CheckBoundAfterMove(model, optimizer.parameters(), "Make the TorchSharp optimizer after moving the model (model.to(device)), or pass TrainerOptions.Device = the model's device.");
    }

    void CheckBoundAfterMove(nn.Module model, IEnumerable<Tensor> optimizerParameters, string fix)
    {
        if (!MoveToDevice(model, Device)) return;
        var moved = new HashSet<Tensor>(model.parameters(), ReferenceEqualityComparer.Instance);
        if (!optimizerParameters.All(p => moved.Contains(p)))
            throw new ArgumentException(
                $"The model was moved to {Device}, which gave it new parameter tensors, but the optimizer holds the old ones. {fix}", "optimizer");
    }

    /// <summary>Frees the state of the optimizer this trainer bound (not of one it was given bound).</summary>
    public void Dispose()
    {
        fused?.Dispose();
        fused = null;
        if (ownsOptimizer) Optimizer?.Dispose();
    }

    /// <summary>Moves <paramref name="model"/> to <paramref name="device"/> when any of its parameters is elsewhere,
    /// and says whether it did. A model already in place is left alone: TorchSharp's <c>Module.to</c> is not free
    /// on it (it re-wraps the gradients). Moving gives the model new parameter tensors, so bind an optimizer after.</summary>
    public static bool MoveToDevice(nn.Module model, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(device);
        var target = device;
        if (model.parameters().All(p => Devices.IsOn(p, target)))
            return false;
        model.to(target);
        return true;
    }

    /// <summary>The model being trained.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The library's optimizer; null when the trainer steps a TorchSharp optimizer.</summary>
    public Optimizer? Optimizer { get; }

    /// <summary>Where the model and batches live.</summary>
    public Device Device { get; }

    /// <summary>Device, seed, progress, checkpoints and guards.</summary>
    public TrainerOptions Options { get; }

    /// <summary>
    /// Which path a training step takes, in one line: <c>fused: Flatten → Linear(784→512) → ReLU → …</c>
    /// (forward, backward and the optimizer's update written out on preallocated buffers, no autograd graph),
    /// or <c>autograd: </c> and why the fused step does not apply (a layer it does not cover, another loss,
    /// a TorchSharp optimizer, or <see cref="TrainerOptions.Fused"/> = false). Print it in a run's summary.
    /// </summary>
    public string StepPath
    {
        get
        {
            EnsureFusedStep();
            return fused is not null ? "fused: " + fused.Description : "autograd: " + whyNotFused;
        }
    }

    /// <summary>Makes the fused step when the model, loss and optimizer allow it and the options do not
    /// forbid it; remembers why not otherwise. <see cref="TrainerOptions.Fused"/> = true makes "not" an error.</summary>
    void EnsureFusedStep()
    {
        if (fused is not null || whyNotFused is not null) return;
        if (Options.Fused == false) whyNotFused = "TrainerOptions.Fused is false";
        else if (stepper.Library is not { } optimizer) whyNotFused = "the optimizer is a TorchSharp one";
        else fused = FusedStep.TryCreate(Model, loss, optimizer, out whyNotFused);
        if (fused is not null)
        {
            fused.CountsCorrectWhenTraining = false;   // the fit reports no training accuracy
            fused.Layout = Options.FusedLayout;
        }
        if (fused is null && Options.Fused == true)
            throw new ArgumentException($"TrainerOptions.Fused is true, but the fused step does not apply: {whyNotFused}. Leave Fused unset to fall back to autograd.", "options");
    }

    /// <summary>Drops the fused step so that the next use makes it afresh (after a restore replaced the optimizer's state).</summary>
    void ResetFusedStep()
    {
        fused?.Dispose();
        fused = null;
        whyNotFused = null;
    }

    /// <summary>Trains for epochs <c>1..epochs</c>, evaluating on <paramref name="test"/> after each.</summary>
    /// <param name="train">The training batches; each enumeration is one epoch.</param>
    /// <param name="test">Evaluated after each epoch (the tutorial's test_loop); null to skip.</param>
    /// <param name="epochs">The last epoch to run (1-based, inclusive).</param>
    /// <param name="callbacks">Receive the loop's events in order, after the progress printout and before the checkpoint.</param>
    /// <param name="resume">The history of epochs already done, for a run restored by hand
    /// (<see cref="TrainingCheckpoint.Restore"/>): training starts at epoch <c>resume.Count + 1</c>, or, when the
    /// checkpoint was saved inside that epoch (<see cref="History.Partial"/>), at its next batch: the epoch's order is
    /// drawn again from the restored shuffling generator, and the batches already done are skipped (a
    /// <see cref="DataLoader"/> skips them without reading their samples; another loader reads and drops them).
    /// <see cref="TrainerOptions.Resume"/> does the restore and this in one.</param>
    /// <returns>The metrics of each epoch (the resumed ones included).</returns>
    /// <exception cref="NonFiniteLossException">A batch's loss was NaN or infinite (with <see cref="TrainerOptions.StopOnNonFiniteLoss"/>).</exception>
    /// <exception cref="InvalidOperationException">The model does not take the loaders' batches, or gives fewer class scores
    /// than the data has classes: checked before anything is trained, on a few samples of each loader.</exception>
    /// <exception cref="InvalidDataException"><paramref name="resume"/> stopped inside an epoch of another number of batches
    /// than <paramref name="train"/> gives.</exception>
    /// <exception cref="ArgumentException"><see cref="TrainerOptions.CheckpointEveryBatches"/> is set without <see cref="TrainerOptions.Checkpoint"/>.</exception>
    public History Fit(IDataLoader train, IDataLoader? test = null, int epochs = 10, IEnumerable<Callback>? callbacks = null, History? resume = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "The number of epochs is 0 or more.");
        if (Options.CheckpointEveryBatches is int everyBatches)
        {
            if (Options.Checkpoint is null)
                throw new ArgumentException("TrainerOptions.CheckpointEveryBatches says how often to save inside an epoch, but TrainerOptions.Checkpoint (the file) is not set: set both, or use Callback.Checkpoint.", "options");
            if (everyBatches < 1)
                throw new ArgumentException($"TrainerOptions.CheckpointEveryBatches is {everyBatches}; use 1 or more, or null for checkpoints at epochs' ends only.", "options");
        }
        if (resume is null && Options.Resume is { } from) resume = TrainingCheckpoint.Restore(from, Model, Optimizer!, train);
        if (resume?.Partial is { } partial) TrainingCheckpoint.CheckPartial(partial, train, "the resumed history");
        ModelDataCheck.Check(Model, loss, train, Device, "training");
        if (test is not null) ModelDataCheck.Check(Model, loss, test, Device, "test");
        ResetFusedStep();    // after a restore, and for a model or optimizer changed since the last fit
        EnsureFusedStep();
        try
        {
            // Data parallelism: every rank runs as many steps and starts from rank 0's model and optimizer state.
            DistributedStep.CheckSameStepCount(Sync, train.BatchCount);
            DistributedStep.BroadcastInitialState(Sync, Model, stepper.Library);
            using var reducer = fused is null ? DistributedStep.ForAutograd(Sync, Model) : null;
            return FitEpochs(train, test, epochs, callbacks, resume, reducer);
        }
        finally
        {
            ResetFusedStep();    // its buffers live for one fit: nothing stays allocated between fits
        }
    }

    /// <summary>The options' gradient synchronisation (<see cref="GradientSync.None"/> when unset).</summary>
    GradientSync Sync => Options.GradientSync ?? GradientSync.None;

    History FitEpochs(IDataLoader train, IDataLoader? test, int epochs, IEnumerable<Callback>? callbacks, History? resume, DistributedStep? reducer)
    {
        if (fused is not null)
        {
            // Every batch size the run will see, allocated before the first step: the live tensor count is flat from then on.
            var largest = Math.Max(train.BatchSize, test?.BatchSize ?? 0);
            fused.Prepare(largest);
            foreach (var loader in test is null ? [train] : new[] { train, test })
            {
                fused.Prepare(loader.BatchSize);
                fused.Prepare(loader.SampleCount % loader.BatchSize);
            }
        }
        var listeners = new List<Callback>();
        // In a data-parallel run, rank 0 alone prints and writes checkpoints (every rank holds the same model).
        if (Options.Progress && Sync.IsMain) listeners.Add(new TutorialProgress());
        listeners.AddRange(callbacks ?? []);
        if (Options.Checkpoint is { } to && Sync.IsMain) listeners.Add(new CheckpointCallback(to, train, 1, Options.CheckpointEveryBatches));
        var history = new History(resume?.Epochs ?? Array.Empty<EpochMetrics>());
        var context = new TrainingContext(Model, stepper, Device, history, history.Count + 1, epochs, train.BatchCount, train.SampleCount) { Train = train };
        // A checkpoint saved inside an epoch: that epoch continues at its next batch.
        var partial = resume?.Partial is { } p && p.Epoch == context.FirstEpoch ? p : null;
        context.FirstBatch = partial?.BatchesDone ?? 0;
        if (Options.Seed is long seed && resume is null)
        {
            // One seed for the whole run: dropout and other random layers draw from LibTorch's generator,
            // the order of the batches from the loader's.
            torch.manual_seed(seed);
            train.ShuffleGenerator?.manual_seed(seed);
        }

        var events = listeners.ToArray();
        foreach (var c in events) c.OnFitBegin(context);
        for (int epoch = context.FirstEpoch; epoch <= epochs && context.StopReason is null; epoch++)
        {
            var clock = Stopwatch.StartNew();
            context.Epoch = epoch;
            var resumed = epoch == context.FirstEpoch ? partial : null;
            context.FirstBatch = resumed?.BatchesDone ?? 0;
            foreach (var c in events) c.OnEpochBegin(context);
            // PyTorch's sampler.set_epoch(epoch): each epoch its own order, the same on every rank.
            if (train is DataLoader { Sampler: { } sampler }) sampler.Epoch = epoch - 1;
            double trainLoss = TrainEpoch(train, context, events, resumed, reducer);
            Evaluation? evaluation = test is null ? null : Evaluate(test);
            history.Add(new EpochMetrics(epoch, trainLoss, evaluation?.AverageLoss, evaluation?.Accuracy, stepper.LearningRate, clock.Elapsed.TotalSeconds));
            stepper.EndEpoch();
            foreach (var c in events) c.OnEpochEnd(context);
        }
        foreach (var c in events) c.OnFitEnd(context);
        return history;
    }

    /// <summary>One epoch of the tutorial's train_loop. The batch losses are summed on the device and read once,
    /// at the end: a batch's loss reaches the host only when a callback reads <see cref="TrainingContext.Loss"/>
    /// (the progress printout does every 100 batches), or on the CPU, where reading it costs nothing, to stop
    /// before a non-finite loss's step. A resumed epoch (<paramref name="resumed"/>) starts at its next batch, with its loss sum so far.</summary>
    /// <remarks>In a data-parallel run the gradients and the batch loss are averaged over the ranks between backward
    /// and the step, in one collective: the batch loss the callbacks see, the one checked, and the epoch's mean are
    /// those of the global batch, the same on every rank, so every rank stops alike on a non-finite loss.</remarks>
    double TrainEpoch(IDataLoader train, TrainingContext context, Callback[] events, PartialEpoch? resumed, DistributedStep? reducer)
    {
        Model.train();
        var target = Device;
        int epoch = context.Epoch;
        bool checkEachBatch = Options.StopOnNonFiniteLoss && target.type == DeviceType.CPU;
        var sync = Sync;
        bool distributed = sync.WorldSize > 1;
        int skip = resumed?.BatchesDone ?? 0;
        int batchIndex = skip, samplesBefore = (int)Math.Min((long)skip * train.BatchSize, train.SampleCount);
        // The sum goes on from the saved one: the same float64 additions in the same order give the same mean.
        using var lossSum = torch.tensor(resumed?.LossSum ?? 0.0, ScalarType.Float64, target);
        // The shuffling generator before this epoch draws its order, for checkpoints saved inside the epoch.
        using var shuffleState = train.ShuffleGenerator?.get_state();
        context.EpochShuffleState = shuffleState;
        context.EpochLossSumTensor = lossSum;
        try
        {
            using var batches = StartEpoch(train, skip);
            while (batches.MoveNext())
            {
                if (!TrainBatch(batches.Current)) break;
            }
        }
        finally
        {
            context.EpochShuffleState = null;
            context.EpochLossSumTensor = null;
        }
        if (batchIndex == 0) return double.NaN;
        double mean = lossSum.ToDouble() / batchIndex;
        if (Options.StopOnNonFiniteLoss && !double.IsFinite(mean))
            throw NonFiniteLossException.InEpoch(epoch, mean);
        return mean;

        // One step; false when a callback asked to stop.
        bool TrainBatch(Batch batch)
        {
            using (var scope = torch.NewDisposeScope())
            {
                int size = batch.Count;
                context.SetBatch(batchIndex, size, samplesBefore);
                foreach (var c in events) c.OnBatchBegin(context);
                var x = Devices.MoveTo(batch.Features, target);
                var y = Devices.MoveTo(batch.Labels, target);
                if (fused is not null)
                {
                    // The fused step's loss is its own buffer, valid until its next call: summed and read here.
                    var value = fused.ForwardLoss(x, y);
                    if (distributed)
                    {
                        // Between the backward pass and the update: the gradients and the loss averaged in place, then checked.
                        int at = batchIndex;
                        fused.BackwardAndUpdate(_ =>
                        {
                            DistributedStep.ReduceFused(sync, fused);
                            CheckLoss(value, epoch, at, checkEachBatch, context);
                        });
                    }
                    else
                    {
                        CheckLoss(value, epoch, batchIndex, checkEachBatch, context);
                        fused.BackwardAndUpdate();
                    }
                    lossSum.AddInPlace(value);
                }
                else
                {
                    var value = loss(Model.forward(x), y);
                    // One process checks the loss before backward; ranks check the loss averaged with the gradients.
                    if (reducer is null) CheckLoss(value, epoch, batchIndex, checkEachBatch, context);
                    stepper.ZeroGrad();
                    value.backward();
                    if (reducer is not null)
                    {
                        value = reducer.Reduce(value);
                        CheckLoss(value, epoch, batchIndex, checkEachBatch, context);
                    }
                    stepper.Step();
                    lossSum.AddInPlace(value.detach());
                }
                foreach (var c in events) c.OnBatchEnd(context);
                context.SetBatchLoss(null);
                samplesBefore += size;
            }
            batchIndex++;
            return context.StopReason is null;
        }
    }

    /// <summary>An epoch of <paramref name="train"/> from batch <paramref name="skip"/> on: the epoch's order is drawn
    /// as always, and a <see cref="DataLoader"/> leaves the first batches out without reading them; another
    /// loader's first batches are read and dropped.</summary>
    static IEnumerator<Batch> StartEpoch(IDataLoader train, int skip)
    {
        if (skip == 0) return train.GetEnumerator();
        if (train is DataLoader loader) return loader.GetEnumerator(skip);
        var batches = train.GetEnumerator();
        try
        {
            for (int i = 0; i < skip && batches.MoveNext(); i++) { }
            return batches;
        }
        catch
        {
            batches.Dispose();
            throw;
        }
    }

    /// <summary>Gives the context the batch's loss; on the CPU reads it at once and stops before the step when it is not finite.</summary>
    static void CheckLoss(Tensor value, int epoch, int batch, bool checkEachBatch, TrainingContext context)
    {
        if (!checkEachBatch)
        {
            context.SetBatchLoss(value);
            return;
        }
        double scalar = value.ToDouble();
        if (!double.IsFinite(scalar)) throw new NonFiniteLossException(epoch, batch, scalar);
        context.SetBatchLoss(value, scalar);
    }

    /// <summary>The tutorial's test_loop on this trainer's model, loss and device (see
    /// <see cref="Evaluate(nn.Module{Tensor, Tensor}, Loss, IDataLoader, Device?)"/>).</summary>
    /// <remarks>With the fused step (<see cref="StepPath"/>), the forward pass runs on its preallocated buffers.
    /// In a data-parallel run (<see cref="TrainerOptions.GradientSync"/>) each rank evaluates its loader (its shard,
    /// with a <see cref="DistributedSampler"/>) and the sums are added over the ranks: every rank returns the figures
    /// of all the ranks' batches together. This is then a collective: call it on every rank.</remarks>
    public Evaluation Evaluate(IDataLoader data)
    {
        ArgumentNullException.ThrowIfNull(data);
        bool own = fused is null;       // inside a fit, the fit's step; alone, one for this pass
        EnsureFusedStep();
        EvaluationSums sums;
        try
        {
            sums = fused is null ? EvaluateSums(Model, loss, data, Device) : EvaluateFused(fused, data);
        }
        finally
        {
            if (own) ResetFusedStep();
        }
        if (Sync.WorldSize > 1)
        {
            using var all = torch.tensor(new[] { sums.LossSum, sums.Correct, sums.Samples, sums.Batches });
            Sync.AllReduceSum(all);
            var added = all.data<double>().ToArray();
            sums = new EvaluationSums(added[0], added[1], added[2], added[3]);
        }
        return sums.ToEvaluation();
    }

    /// <summary>The test loop's sums: batch losses, correct samples, samples and batches.</summary>
    readonly record struct EvaluationSums(double LossSum, double Correct, double Samples, double Batches)
    {
        public Evaluation ToEvaluation() =>
            new(Batches == 0 ? double.NaN : LossSum / Batches, Samples == 0 ? double.NaN : Correct / Samples, (int)Samples, (int)Batches);
    }

    EvaluationSums EvaluateFused(FusedStep fused, IDataLoader data)
    {
        ModelDataCheck.Check(Model, loss, data, Device, "test");
        var target = Device;
        int samples = 0, batches = 0;
        // Sums stay on the device and are read once, after the last batch.
        using var lossSum = torch.zeros(Array.Empty<long>(), ScalarType.Float64, target);
        using var correct = torch.zeros(Array.Empty<long>(), ScalarType.Float64, target);
        using var inference = torch.inference_mode();   // as the autograd path's evaluation: no autograd bookkeeping at all
        foreach (var batch in data)
        {
            using var scope = torch.NewDisposeScope();
            fused.Evaluate(Devices.MoveTo(batch.Features, target), Devices.MoveTo(batch.Labels, target), lossSum, correct);
            samples += batch.Count;
            batches++;
        }
        return new EvaluationSums(lossSum.ToDouble(), correct.ToDouble(), samples, batches);
    }

    /// <summary>The tutorial's test_loop: the mean batch loss and the accuracy over the loader, in eval
    /// mode under no_grad. The model's mode is restored afterwards.</summary>
    /// <param name="model">Any classifier of [N, ...] inputs to [N, classes] scores.</param>
    /// <param name="loss">The loss, averaged over each batch.</param>
    /// <param name="data">The batches.</param>
    /// <param name="device">Where the model is (default: where its first parameter is, else the CPU).</param>
    /// <exception cref="InvalidOperationException">The model does not take the loader's batches, or gives fewer class
    /// scores than the data has classes: checked before the pass, on a few samples.</exception>
    public static Evaluation Evaluate(nn.Module<Tensor, Tensor> model, Loss loss, IDataLoader data, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(data);
        return EvaluateSums(model, loss, data, device).ToEvaluation();
    }

    static EvaluationSums EvaluateSums(nn.Module<Tensor, Tensor> model, Loss loss, IDataLoader data, Device? device)
    {
        bool wasTraining = model.training;
        var target = (device ?? DeviceOf(model));
        ModelDataCheck.Check(model, loss, data, target, "test");
        int samples = 0, batches = 0;
        model.eval();
        // Sums stay on the device and are read once, after the last batch: no wait for the device per batch.
        using var lossSum = torch.zeros(Array.Empty<long>(), ScalarType.Float64, target);
        using var correct = torch.zeros(Array.Empty<long>(), ScalarType.Int64, target);
        try
        {
            using var noGrad = torch.inference_mode();
            foreach (var batch in data)
            {
                using var scope = torch.NewDisposeScope();
                var x = Devices.MoveTo(batch.Features, target);
                var y = Devices.MoveTo(batch.Labels, target);
                var prediction = model.forward(x);
                lossSum.AddInPlace(loss(prediction, y));
                var classes = prediction.argmax(1);
                // Class-index targets, or one-hot / probability targets.
                correct.AddInPlace(classes.eq(y.dtype == ScalarType.Int64 && y.dim() == 1 ? y : y.argmax(1)).sum());
                samples += batch.Count;
                batches++;
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return new EvaluationSums(lossSum.ToDouble(), correct.ToInt64(), samples, batches);
    }

    /// <summary>Class probabilities and classes for a batch of inputs, with this trainer's model.</summary>
    public Prediction Predict(Tensor input) => Predict(Model, input, Device);

    /// <summary>Class probabilities (softmax of the model's scores over dimension 1) and classes for a batch
    /// of inputs, in eval mode under no_grad; the model's mode is restored afterwards. The input is not
    /// disposed; the returned tensors are the caller's.</summary>
    public static Prediction Predict(nn.Module<Tensor, Tensor> model, Tensor input, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            var logits = model.forward(Devices.MoveTo(input, (device ?? DeviceOf(model))));
            var probabilities = nn.functional.softmax(logits, 1);
            var classes = probabilities.argmax(1);
            return new Prediction(probabilities.MoveToOuterDisposeScope(), classes.MoveToOuterDisposeScope());
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    static Device DeviceOf(nn.Module model)
    {
        var first = model.parameters().FirstOrDefault();
        return first is null ? Devices.Cpu : first.device;
    }
}

/// <summary>Options of a <see cref="Trainer"/>: the same in C# and F# (<c>Train.Options</c> maps onto them).</summary>
public sealed class TrainerOptions
{
    /// <summary>Where the model and the batches go (default <see cref="Devices.Auto"/>: CUDA when available).</summary>
    public Device? Device { get; init; }

    /// <summary>Seeds, at the start of <see cref="Trainer.Fit"/>, LibTorch's generator (dropout and other
    /// random layers) and the training loader's shuffling; null leaves both as they are. Not applied
    /// when resuming: the checkpoint's generator states are. The model's initial weights are not
    /// touched (build the model from a seeded generator for that).</summary>
    public long? Seed { get; init; }

    /// <summary>Print the tutorial's lines (<see cref="Callback.Progress"/>; default true).</summary>
    public bool Progress { get; init; } = true;

    /// <summary>Save a training checkpoint to this file after every epoch (atomically); null for none.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>Also save the <see cref="Checkpoint"/> after every this many batches of an epoch (counted from the
    /// epoch's start; the epoch's end is saved anyway), so that a run stopped inside a long epoch resumes there
    /// (<see cref="Resume"/>); null (the default) saves at epochs' ends only.</summary>
    public int? CheckpointEveryBatches { get; init; }

    /// <summary>Restore weights, optimizer state, generators and history from this checkpoint at the start
    /// of <see cref="Trainer.Fit"/> and continue at the epoch after it (or, for a checkpoint saved inside an
    /// epoch, at that epoch's next batch); null to start afresh.</summary>
    public string? Resume { get; init; }

    /// <summary>Throw <see cref="NonFiniteLossException"/> when a batch's loss is NaN or infinite (default true).</summary>
    public bool StopOnNonFiniteLoss { get; init; } = true;

    /// <summary>The fused training step (forward, backward and update on preallocated buffers, no autograd graph,
    /// for sequential models of Flatten, Linear, elementwise activations and Dropout with CrossEntropy and the
    /// library's optimizers): null (the default) takes it whenever it applies and autograd otherwise; true
    /// requires it (the trainer throws, saying why, when it does not apply); false always takes autograd.
    /// <see cref="Trainer.StepPath"/> says which path runs. Both give the same steps within float rounding.</summary>
    public bool? Fused { get; init; }

    /// <summary>How the fused step lays out its activations: <see cref="Training.FusedLayout.Auto"/> (the default) takes
    /// the layout measured faster on this kind of processor; both give the same steps within float rounding.
    /// <see cref="Trainer.StepPath"/> names the one that runs.</summary>
    public FusedLayout FusedLayout { get; init; }

    /// <summary>Data parallelism: the processes this trainer trains with (<see cref="Training.GradientSync.Mpi"/>), between
    /// whose backward passes and optimizer steps the gradients are averaged; null (the default) or
    /// <see cref="Training.GradientSync.None"/> for one process. With more than one rank, rank 0's model and optimizer state
    /// are broadcast before the first step, rank 0 alone prints (<see cref="Progress"/>) and writes the
    /// <see cref="Checkpoint"/>, and the losses and test figures are those of all ranks. Give each rank its shard of the
    /// training data (<see cref="DistributedSampler"/>); every rank must run the same number of steps (checked).</summary>
    public GradientSync? GradientSync { get; init; }
}
