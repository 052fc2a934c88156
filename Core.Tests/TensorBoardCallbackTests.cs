using System.Globalization;
using Functional.Data;
using Functional.Layers;
using Functional.Optim;
using Functional.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>The run records: <see cref="Callback.TensorBoard"/>'s event files and <see cref="Callback.MetricsCsv"/>'s
/// file, read back and compared with what the trainer reported (its history, and each batch's loss read by a callback).</summary>
public class TensorBoardCallbackTests
{
    string folder = "";

    [SetUp]
    public void MakeFolder()
    {
        Native.EnsureLoaded();
        folder = Path.Combine(Path.GetTempPath(), "functional-records-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    /// <summary>A small classification run on random data: 200 samples of 8 features, 3 classes, batches of
    /// 32 (7 per epoch), 3 epochs. Returns the history and every step's (global step, loss).</summary>
    static (History History, List<(int Step, float Loss)> Steps) Run(params Callback[] records)
    {
        using var scope = NewDisposeScope();
        var generator = manual_seed(0);
        var features = randn(200, 8);
        var labels = randint(0, 3, new long[] { 200 });
        var model = Layer.Sequential(Layer.Linear(16), Layer.ReLU(), Layer.Linear(3)).Build(new long[] { 8 });
        var train = new DataLoader(new TensorDataset(features, labels), 32, shuffle: true, seed: 0);
        var test = new DataLoader(new TensorDataset(features[..64], labels[..64]), 32);
        var steps = new List<(int, float)>();
        var recorder = Callback.Create(onBatchEnd: c => steps.Add(((c.Epoch - 1) * c.Batches + c.Batch, (float)c.Loss)));
        using var trainer = new Trainer(model, Losses.CrossEntropy(), Optimizers.Sgd(0.1),
            new TrainerOptions { Device = Devices.Cpu, Seed = 0, Progress = false });
        var history = trainer.Fit(train, test, epochs: 3, callbacks: [.. records, recorder]);
        return (history, steps);
    }

    [Test]
    public void TheEventFileHoldsEveryStepsLossTheEpochFiguresAndTheHyperparameters()
    {
        var hyperparameters = new Dictionary<string, string> { ["lr"] = "0.1", ["batch_size"] = "32" };
        // Flushing every 5 steps, with 7 steps an epoch: the buffer is written both when full and at an epoch's end.
        var (history, steps) = Run(Callback.TensorBoard(folder, hyperparameters, flushEvery: 5));

        var files = Directory.GetFiles(folder, "events.out.tfevents.*");
        Assert.That(files, Has.Length.EqualTo(1), "one event file per fit");
        var events = TensorBoardEvents.Read(files[0]);
        Assert.That(events[0].FileVersion, Is.EqualTo("brain.Event:2"), "the file starts as TensorBoard expects");

        var scalars = TensorBoardEvents.Scalars(events);
        var perStep = scalars.Where(s => s.Tag == "loss/train").Select(s => ((int)s.Step, s.Value)).ToList();
        Assert.That(steps, Has.Count.EqualTo(21));
        Assert.That(perStep, Is.EqualTo(steps), "every step's loss, under its global step, as the trainer reported it");

        (long, float)[] PerEpoch(string tag) => scalars.Where(s => s.Tag == tag).Select(s => (s.Step, s.Value)).ToArray();
        var epochs = history.Epochs;
        Assert.Multiple(() =>
        {
            Assert.That(PerEpoch("loss/train_epoch"), Is.EqualTo(epochs.Select(m => ((long)m.Epoch, (float)m.TrainLoss))));
            Assert.That(PerEpoch("loss/test"), Is.EqualTo(epochs.Select(m => ((long)m.Epoch, (float)m.TestLoss!.Value))));
            Assert.That(PerEpoch("accuracy/test"), Is.EqualTo(epochs.Select(m => ((long)m.Epoch, (float)m.TestAccuracy!.Value))));
            Assert.That(PerEpoch("learning_rate"), Is.EqualTo(epochs.Select(m => ((long)m.Epoch, 0.1f))));
        });
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.That(scalars.Select(s => s.WallTime), Is.All.InRange(now - 600, now + 1), "wall times are seconds since 1970");

        var text = TensorBoardEvents.Texts(events);
        Assert.That(text.Keys, Is.EquivalentTo(new[] { "hparams/text_summary" }), "PyTorch's add_text names it so too");
        Assert.That(text["hparams/text_summary"], Does.Contain("| lr | 0.1 |").And.Contain("| batch_size | 32 |"));
    }

    [Test]
    public void TheMetricsFileHasAHeaderAndOneRowPerEpochThatReadsBackExactly()
    {
        var path = Path.Combine(folder, "metrics.csv");
        var (history, _) = Run(Callback.MetricsCsv(path));

        Assert.That(File.ReadLines(path).First(), Is.EqualTo("epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds"));
        // Read with a real CSV reader (CsvHelper, RFC 4180 mode), header included, in the invariant culture.
        var rows = new List<string[]>();
        using (var reader = CsvHelper.CsvReader.FromFile(path, new CsvHelper.CsvReaderOptions { Separator = ',', Mode = CsvHelper.CsvMode.Rfc4180, HasHeader = false }))
            while (reader.Read())
                rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetString(i) ?? "").ToArray());
        Assert.That(rows[0], Is.EqualTo(new[] { "epoch", "train_loss", "test_loss", "test_accuracy", "learning_rate", "seconds" }));
        Assert.That(rows, Has.Count.EqualTo(1 + history.Count));
        static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        for (int i = 0; i < history.Count; i++)
        {
            var m = history.Epochs[i];
            var row = rows[i + 1];
            Assert.That(row, Has.Length.EqualTo(6));
            Assert.That(int.Parse(row[0], CultureInfo.InvariantCulture), Is.EqualTo(m.Epoch));
            // Round-trippable: the numbers read back bit for bit.
            Assert.That(new[] { D(row[1]), D(row[2]), D(row[3]), D(row[4]), D(row[5]) },
                        Is.EqualTo(new[] { m.TrainLoss, m.TestLoss!.Value, m.TestAccuracy!.Value, m.LearningRate, m.Seconds }));
        }
        Assert.That(Directory.GetFiles(folder), Is.EqualTo(new[] { path }), "no temporary file is left behind");
    }

    [Test]
    public void TheRecordsNeedNoValidPathUntilTheFitStarts()
    {
        Assert.Throws<ArgumentException>(() => Callback.TensorBoard(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => Callback.TensorBoard(folder, flushEvery: 0));
        Assert.Throws<ArgumentException>(() => Callback.MetricsCsv(""));
        var missing = Path.Combine(folder, "no-such-folder", "metrics.csv");
        Assert.Throws<DirectoryNotFoundException>(() => Run(Callback.MetricsCsv(missing)), "a CSV path that cannot be written fails before the first epoch");
    }
}
