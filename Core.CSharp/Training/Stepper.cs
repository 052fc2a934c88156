using Functional.Optim;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>What the trainer needs from an optimizer: clear the gradients, step, read and set the learning
/// rate, and hear that an epoch ended. One implementation for this library's <see cref="Optimizer"/>, one
/// for a TorchSharp <c>torch.optim</c> optimizer (with its learning-rate scheduler).</summary>
abstract class Stepper
{
    internal abstract void ZeroGrad();

    internal abstract void Step();

    internal abstract double LearningRate { get; set; }

    internal virtual void EndEpoch() { }

    /// <summary>The library's optimizer, or null for a TorchSharp one.</summary>
    internal virtual Optimizer? Library => null;

    internal sealed class OfLibrary(Optimizer optimizer) : Stepper
    {
        internal override Optimizer Library => optimizer;
        internal override void ZeroGrad() => optimizer.ZeroGrad();
        internal override void Step() => optimizer.Step();
        internal override double LearningRate
        {
            get => optimizer.CurrentLearningRate;
            set => optimizer.LearningRate = value;
        }
    }

    /// <summary>A TorchSharp optimizer, stepped as PyTorch's loop steps it (<c>optimizer.step()</c>, then at
    /// the end of each epoch <c>scheduler.step()</c>, the epoch-wise scheduling of PyTorch's tutorials).</summary>
    internal sealed class OfTorchSharp(optim.Optimizer optimizer, optim.lr_scheduler.LRScheduler? scheduler) : Stepper
    {
        internal override void ZeroGrad() => optimizer.zero_grad();
        internal override void Step() => optimizer.step();
        internal override void EndEpoch() => scheduler?.step();
        internal override double LearningRate
        {
            get => optimizer.ParamGroups.First().LearningRate;
            set { foreach (var group in optimizer.ParamGroups) group.LearningRate = value; }
        }
    }
}
