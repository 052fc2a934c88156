using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Functional.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Training;

/// <summary>Checks, before training or evaluating, that a model takes a loader's batches and that its output fits
/// the labels and the loss: a model without Flatten, images of another size or a model with too few classes get
/// one line naming the mismatch, instead of a LibTorch error in the middle of an epoch.</summary>
/// <remarks>
/// <para>How: one forward pass in eval mode under <c>no_grad</c> (so no running statistic, gradient or random
/// draw of the model changes) on the loader's first <see cref="Samples"/> samples, made as its batches are
/// (<see cref="DataLoader.Head"/>, which draws no permutation), then the loss on that output. Class indices are
/// compared with the number of class scores the model gives: over the whole dataset when it holds its labels as
/// one tensor (a <see cref="TensorDataset"/> without a label transform), else over those samples. Random
/// transforms with their own generator draw once for it. Only a <see cref="DataLoader"/> is checked (another
/// <see cref="IDataLoader"/> might not be enumerable twice), and a model and loader pair only once.</para>
/// </remarks>
internal static class ModelDataCheck
{
    /// <summary>How many samples the dry forward pass takes.</summary>
    internal const int Samples = 8;

    static readonly ConditionalWeakTable<IDataLoader, nn.Module> Checked = new();

    /// <summary>Runs the check; <paramref name="role"/> ("training", "test") names the data in the message.</summary>
    /// <exception cref="InvalidOperationException">The model does not fit the data; the message says how.</exception>
    internal static void Check(nn.Module<Tensor, Tensor> model, Loss loss, IDataLoader data, Device device, string role)
    {
        if (data is not DataLoader loader || loader.Dataset.Count == 0) return;
        lock (Checked)
        {
            if (Checked.TryGetValue(data, out var done) && ReferenceEquals(done, model)) return;
        }
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            using var batch = loader.Head(Samples);
            var x = Devices.MoveTo(batch.Features, device);
            var y = Devices.MoveTo(batch.Labels, device);
            Tensor prediction;
            try
            {
                prediction = model.forward(x);
            }
            catch (Exception e) when (IsModelError(e))
            {
                throw new InvalidOperationException(
                    $"The model cannot take the {role} data: for a batch of shape {Shapes.Of(x)} ({x.dtype}) its forward pass fails: {Printable.OneLine(e)}. " +
                    "Make the model's input fit the data (for [1, 28, 28] images: Flatten, then a first Linear with 784 inputs).", e);
            }
            var classIndices = !y.is_floating_point() && y.dim() == 1 && y.shape[0] == x.shape[0];
            if (classIndices)
            {
                if (prediction.dim() != 2 || prediction.shape[0] != x.shape[0])
                    throw new InvalidOperationException(
                        $"The model's output for a {role} batch of shape {Shapes.Of(x)} is {Shapes.Of(prediction)}; a classifier gives [N, classes], " +
                        "one row of class scores per sample: put a Flatten before the first Linear.");
                var classes = prediction.shape[1];
                var (lowest, highest) = LabelRange(loader, y);
                if (lowest < 0 || highest >= classes)
                    throw new InvalidOperationException(
                        $"The model gives {classes} class score{(classes == 1 ? "" : "s")} per sample, but the {role} data has label {(lowest < 0 ? lowest : highest)}: " +
                        (lowest < 0 ? "labels are class indices 0 or more." : $"the model's last layer needs {highest + 1} or more outputs, one per class."));
            }
            try
            {
                loss(prediction, y).Dispose();
            }
            catch (Exception e) when (IsModelError(e))
            {
                throw new InvalidOperationException(
                    $"The loss cannot compare the model's output {Shapes.Of(prediction)} with the {role} labels {Shapes.Of(y)} ({y.dtype}): {Printable.OneLine(e)}", e);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        lock (Checked) Checked.AddOrUpdate(data, model);
    }

    /// <summary>The smallest and largest label: of the whole dataset when it holds them as one tensor, else of the batch.</summary>
    static (long Lowest, long Highest) LabelRange(DataLoader loader, Tensor batchLabels)
    {
        var labels = loader.Dataset is TensorDataset { TargetTransform: null } tensors && !loader.MapsLabels
                     && tensors.Labels.dim() == 1 && !tensors.Labels.is_floating_point()
            ? tensors.Labels
            : batchLabels;
        using var lowest = labels.min();
        using var highest = labels.max();
        return (lowest.ToInt64(), highest.ToInt64());
    }

    static bool IsModelError(Exception e) =>
        e is ExternalException or ArgumentException or InvalidOperationException or NotSupportedException or IndexOutOfRangeException;
}
