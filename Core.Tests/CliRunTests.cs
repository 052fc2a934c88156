using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Functional.Serialization;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>
/// The command line's parser and the run it keeps, as a user meets them: help and version, one-line usage errors
/// with suggestions, a killed run resumed from its checkpoint folder, the CSV and TensorBoard records, the model
/// file's training record (<c>info --model</c>), and the progress bar on a terminal. Runs use the shipped subset.
/// </summary>
[NonParallelizable]
public class CliRunTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    string folder = "";
    string subset = "";

    [OneTimeSetUp]
    public void MakeFolder()
    {
        subset = Path.Combine(ExamplesCli.RepositoryRoot(), "Data", "fashion-mnist-subset");
        folder = Path.Combine(Path.GetTempPath(), "functional-cli-run-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
    }

    [OneTimeTearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    static ExamplesCli.Result Cli(params string[] args) => ExamplesCli.Run(ExamplesCli.Dll(), args, Timeout);

    static string[] ErrorLines(ExamplesCli.Result r) => r.Error.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');

    [TestCase("", TestName = "the program")]
    [TestCase("train", "--epochs <N>", "[default: 10]", "--batch-size <N>", "[default: 64]", "--lr <number>", "[default: 0.001]",
              "--optimizer <sgd|adam|adamw>", "[default: sgd]", "--device <auto|cpu|cuda[:N]>", "[default: auto]", "--data <folder>",
              "--seed", "--save <file>", "--plot <png>", "--checkpoint-dir <folder>", "--checkpoint-every <N>", "--resume <folder>", "--tensorboard <folder>", "--log <csv>", "--extra-relu",
              TestName = "train")]
    [TestCase("eval", "--model <file>", "--data <folder>", "--batch-size <N>", "[default: 64]", "--device", "[default: auto]", TestName = "eval")]
    [TestCase("predict", "--model <file>", "--index <N>", "[default: 0]", "--data <folder>", "--device", TestName = "predict")]
    [TestCase("show-samples", "--out <png>", "[default: samples.png]", "--seed", "--test", "--data <folder>", "--index", TestName = "show-samples")]
    [TestCase("info", "--model <file>", TestName = "info")]
    public void HelpExitsWithZeroAndListsEveryOptionWithItsDefault(string command, params string[] expected)
    {
        var result = command == "" ? Cli("--help") : Cli(command, "--help");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Error, Is.Empty);
        Assert.That(result.Output, Does.Contain("Usage:").And.Contain("Options:"));
        foreach (var text in expected) Assert.That(result.Output, Does.Contain(text), text);
        if (command == "")
            foreach (var name in new[] { "train", "eval", "predict", "show-samples", "info" })
                Assert.That(result.Output, Does.Match($@"\n  {name} +\S"), $"the command {name} is listed");
        Assert.That(result.Output, Does.Not.Contain("smoke"), "no test-only command");
    }

    [Test]
    public void VersionPrintsThePackageVersion()
    {
        var props = File.ReadAllText(Path.Combine(ExamplesCli.RepositoryRoot(), "Directory.Build.props"));
        var version = Regex.Match(props, "<VersionPrefix>(.+)</VersionPrefix>").Groups[1].Value;
        var result = Cli("--version");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Output.Trim(), Is.EqualTo(version));
    }

    [TestCase("train --epoch 3", "error: train: unknown option '--epoch'; did you mean --epochs?", TestName = "a mistyped option")]
    [TestCase("trian", "error: unknown command 'trian'; did you mean train?", TestName = "a mistyped command")]
    [TestCase("show-samples --root x", "error: show-samples: unknown option '--root'", TestName = "the old --root")]
    [TestCase("train extra", "error: train: unexpected argument 'extra'", TestName = "a stray word")]
    [TestCase("train --data", "error: train: --data needs a value", TestName = "a missing value")]
    [TestCase("eval", "error: eval: --model <file> is required", TestName = "a missing --model")]
    [TestCase("train --optimizer adamax", "error: train: --optimizer expects sgd, adam or adamw, got 'adamax'.", TestName = "an unknown optimizer")]
    [TestCase("train --resume no-such-folder", "error: train: --resume expects a folder written by --checkpoint-dir, got 'no-such-folder'", TestName = "a --resume folder without a checkpoint")]
    [TestCase("train --checkpoint-every 50", "error: train: --checkpoint-every needs --checkpoint-dir", TestName = "--checkpoint-every without a folder")]
    [TestCase("train --checkpoint-dir never-made --checkpoint-every 0", "error: train: --checkpoint-every must be 1 or more (batches), got 0.", TestName = "--checkpoint-every 0")]
    [TestCase("", "error: no command given; the commands are train, eval, predict, show-samples, info", TestName = "no command")]
    public void AUsageErrorIsOneLineOnStandardErrorAndExitCodeTwo(string args, string start)
    {
        var result = Cli(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(ErrorLines(result), Has.Length.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.StartWith(start), result.ToString());
        Assert.That(result.Output, Is.Empty, "nothing ran, and no usage text was dumped");
    }

    /// <summary>The seeded run the resume tests compare with, left alone: 2 epochs, its model file and its CSV.</summary>
    (ExamplesCli.Result Result, string Model, string Csv) Uninterrupted()
    {
        if (uninterrupted is { } done) return done;
        var model = Path.Combine(folder, "whole.safetensors");
        var csv = Path.Combine(folder, "whole.csv");
        var result = Cli("train", "--epochs", "2", "--seed", "0", "--data", subset, "--save", model, "--log", csv);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        return (uninterrupted = (result, model, csv)).Value;
    }

    (ExamplesCli.Result Result, string Model, string Csv)? uninterrupted;

    /// <summary>Starts `train` with <paramref name="args"/> and kills it as soon as <paramref name="checkpoint"/> exists.</summary>
    static void KillAfterTheFirstCheckpoint(string checkpoint, params string[] args)
    {
        using var process = Process.Start(ExamplesCli.StartInfo(ExamplesCli.Dll(), ["train", .. args]))!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < Timeout) Thread.Sleep(2);
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        Assert.That(File.Exists(checkpoint), Is.True, "the first checkpoint was written");
    }

    /// <summary>The CSV rows without the wall time of each epoch.</summary>
    static string[] Figures(string csv) => File.ReadAllLines(csv).Select(r => string.Join(',', r.Split(',')[..5])).ToArray();

    /// <summary>The heart of --resume: a seeded run killed after a checkpoint and resumed (with no option but the
    /// folder) ends with the same model file, byte for byte, as the same run left alone, and prints the same lines
    /// for the epochs it ran.</summary>
    [Test]
    public void ARunKilledAfterAnEpochAndResumedSavesTheSameModelFileAsAnUninterruptedRun()
    {
        var (whole, wholeModel, wholeCsv) = Uninterrupted();
        var run = Path.Combine(folder, "run");
        var checkpoint = Path.Combine(run, "checkpoint.ckpt");
        KillAfterTheFirstCheckpoint(checkpoint, "--epochs", "2", "--seed", "0", "--data", subset, "--checkpoint-dir", run);
        using (var saved = Checkpoint.Load(checkpoint))
            Assert.That((saved.Epoch, saved.Batch), Is.EqualTo((1L, 0L)), "killed after epoch 1's checkpoint, before the last epoch's");

        var resumedPath = Path.Combine(folder, "resumed.safetensors");
        var resumedCsv = Path.Combine(folder, "resumed.csv");
        var resumed = Cli("train", "--resume", run, "--save", resumedPath, "--log", resumedCsv);
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.ToString());
        Assert.That(File.ReadAllBytes(resumedPath), Is.EqualTo(File.ReadAllBytes(wholeModel)), "the final model file, byte for byte");
        Assert.That(resumed.Lines[3], Is.EqualTo($"Resuming after epoch 1 from {checkpoint}"));
        var fromEpoch = Array.IndexOf(whole.Lines, "Epoch 2");
        Assert.That(resumed.Lines[4..^1], Is.EqualTo(whole.Lines[fromEpoch..^1]), "the resumed epochs print what the uninterrupted run printed");
        Assert.That(Figures(resumedCsv), Is.EqualTo(Figures(wholeCsv)), "the history, the restored epoch included");

        var changed = Cli("train", "--resume", run, "--lr", "0.1");
        Assert.That(changed.ExitCode, Is.EqualTo(2), changed.ToString());
        Assert.That(changed.Error, Does.StartWith("error: train: --lr 0.1 differs from the run in"));
    }

    /// <summary>--checkpoint-every: a seeded run killed inside an epoch, after a checkpoint saved every 20 batches, and
    /// resumed from its folder alone, continues that epoch at its next batch and ends with the same model file, the
    /// same printed lines (those of the batches it did not redo) and the same history as the run left alone.</summary>
    [Test]
    public void ARunKilledInsideAnEpochAndResumedFromItsBatchCheckpointSavesTheSameModelFile()
    {
        var (whole, wholeModel, wholeCsv) = Uninterrupted();
        var run = Path.Combine(folder, "run-batches");
        var checkpoint = Path.Combine(run, "checkpoint.ckpt");
        KillAfterTheFirstCheckpoint(checkpoint, "--epochs", "2", "--seed", "0", "--data", subset, "--checkpoint-dir", run, "--checkpoint-every", "20");
        long epochsDone, batchesDone;
        using (var saved = Checkpoint.Load(checkpoint)) (epochsDone, batchesDone) = (saved.Epoch, saved.Batch);
        // 157 batches an epoch: saved after batches 20, 40, ..., 140 of each epoch and at its end. The first one is
        // epoch 1's batch 20; a kill a little late still lands inside an epoch.
        Assert.That(batchesDone, Is.GreaterThan(0), $"killed inside an epoch, after a batch checkpoint (the checkpoint is of epoch {epochsDone}, batch {batchesDone})");
        Assert.That(batchesDone % 20, Is.EqualTo(0));

        var resumedPath = Path.Combine(folder, "resumed-batches.safetensors");
        var resumedCsv = Path.Combine(folder, "resumed-batches.csv");
        var resumed = Cli("train", "--resume", run, "--save", resumedPath, "--log", resumedCsv);
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.ToString());
        Assert.That(File.ReadAllBytes(resumedPath), Is.EqualTo(File.ReadAllBytes(wholeModel)), "the final model file, byte for byte");
        Assert.That(Figures(resumedCsv), Is.EqualTo(Figures(wholeCsv)), "the history: the resumed epoch's mean training loss, test loss and accuracy");
        var epoch = epochsDone + 1;
        Assert.That(resumed.Lines[3], Is.EqualTo($"Resuming epoch {epoch} after batch {batchesDone} of 157 from {checkpoint}"));

        // What the uninterrupted run printed from that epoch on, without the loss lines of the batches done before the kill.
        var expected = new List<string>();
        bool inResumedEpoch = false;
        foreach (var line in whole.Lines[Array.IndexOf(whole.Lines, $"Epoch {epoch}")..^1])
        {
            if (line.StartsWith("Epoch ")) inResumedEpoch = line == $"Epoch {epoch}";
            var current = Regex.Match(line, @"^loss: \S+  \[\s*(\d+)/");
            if (inResumedEpoch && current.Success && long.Parse(current.Groups[1].Value, CultureInfo.InvariantCulture) / 64 < batchesDone) continue;
            expected.Add(line);
        }
        Assert.That(resumed.Lines[4..^1], Is.EqualTo(expected), "the lines of the batches and epochs it ran");
        // The resumed run goes on saving (run.json keeps --checkpoint-every): its last checkpoint is the last epoch's end.
        using (var last = Checkpoint.Load(checkpoint))
            Assert.That((last.Epoch, last.Batch), Is.EqualTo((2L, 0L)));
    }

    [Test]
    public void TheRunsRecordsAgreeWithWhatItPrintedAndTheModelFileCarriesThem()
    {
        var csv = Path.Combine(folder, "records", "metrics.csv");
        var board = Path.Combine(folder, "records", "tensorboard");
        var model = Path.Combine(folder, "records", "model.safetensors");
        var train = Cli("train", "--epochs", "2", "--seed", "3", "--batch-size", "100", "--data", subset, "--log", csv, "--tensorboard", board, "--save", model);
        Assert.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var printed = train.Lines.Where(l => l.StartsWith(" Accuracy: ")).ToArray();
        Assert.That(printed, Has.Length.EqualTo(2));

        // The CSV: a header and a row per epoch whose figures are the printed ones, unrounded.
        var rows = File.ReadAllLines(csv);
        Assert.That(rows[0], Is.EqualTo("epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds"));
        Assert.That(rows, Has.Length.EqualTo(3));
        static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        for (int e = 1; e <= 2; e++)
        {
            var f = rows[e].Split(',');
            Assert.That(f[0], Is.EqualTo(e.ToString(CultureInfo.InvariantCulture)));
            var line = $" Accuracy: {(100 * D(f[3])).ToString("F1", CultureInfo.InvariantCulture)}%, Avg loss: {D(f[2]).ToString("F6", CultureInfo.InvariantCulture),8} ";
            Assert.That(printed[e - 1], Is.EqualTo(line));
            Assert.That(D(f[4]), Is.EqualTo(1e-3));
        }

        // TensorBoard: every step's loss (100 batches an epoch), the printed step losses among them, the epoch figures, the settings.
        var events = TensorBoardEvents.Read(Directory.GetFiles(board, "events.out.tfevents.*").Single());
        var scalars = TensorBoardEvents.Scalars(events);
        var steps = scalars.Where(s => s.Tag == "loss/train").ToArray();
        Assert.That(steps.Select(s => s.Step), Is.EqualTo(Enumerable.Range(0, 200).Select(i => (long)i)));
        var lossLines = train.Lines.Where(l => l.StartsWith("loss: ")).ToArray();
        Assert.That(lossLines, Has.Length.EqualTo(2), "batch 0 of each epoch (100 batches an epoch)");
        Assert.That(lossLines[0], Does.StartWith($"loss: {steps[0].Value.ToString("F6", CultureInfo.InvariantCulture)}"));
        Assert.That(lossLines[1], Does.StartWith($"loss: {steps[100].Value.ToString("F6", CultureInfo.InvariantCulture)}"));
        Assert.That(scalars.Where(s => s.Tag == "accuracy/test").Select(s => (double)s.Value),
                    Is.EqualTo(rows[1..].Select(r => (double)(float)D(r.Split(',')[3]))));
        Assert.That(TensorBoardEvents.Texts(events)["hparams/text_summary"], Does.Contain("| batch_size | 100 |").And.Contain("| seed | 3 |"));

        // The model file's training record, and info's account of it.
        using (var content = SafeTensors.Read(model))
        {
            var m = content.Metadata;
            Assert.That(m["hparams.epochs"], Is.EqualTo("2"));
            Assert.That(m["hparams.batch_size"], Is.EqualTo("100"));
            Assert.That(m["hparams.learning_rate"], Is.EqualTo("0.001"));
            Assert.That(m["hparams.optimizer"], Is.EqualTo("sgd"));
            Assert.That(m["hparams.seed"], Is.EqualTo("3"));
            Assert.That(m["metrics.test_accuracy"], Is.EqualTo(rows[2].Split(',')[3]));
            Assert.That(m["metrics.test_loss"], Is.EqualTo(rows[2].Split(',')[2]));
            Assert.That(m["library"], Does.StartWith("Functional 0."));
            Assert.That(m["data_source"], Is.EqualTo(train.Lines[0]));
        }
        var info = Cli("info", "--model", model);
        Assert.That(info.ExitCode, Is.EqualTo(0), info.ToString());
        Assert.That(info.Lines, Does.Contain("Hyperparameters:").And.Contain("  batch_size       100").And.Contain("Final metrics:"));
        Assert.That(info.Lines, Does.Contain($"  test_accuracy    {rows[2].Split(',')[3]}"));
        Assert.That(info.Output, Does.Contain("(0): Linear(in_features=784, out_features=512, bias=True)"), "the printed model");
        Assert.That(info.Output, Does.Contain("Total: 669,706 parameters (669,706 trainable)"), "784*512+512 + 512*512+512 + 512*10+10");
    }

    /// <summary>On a terminal (a pseudo-terminal made by util-linux's script), the bar runs under the tutorial's
    /// lines; with CI=true the same terminal gets the lines alone.</summary>
    [Test]
    public void OnATerminalABarShowsSamplesPerSecondAndTheLossUnlessCiIsSet()
    {
        if (!File.Exists("/usr/bin/script")) Assert.Ignore("util-linux's script (to make a terminal) is not installed.");
        ExamplesCli.Result OnTerminal(bool ci)
        {
            var command = string.Join(' ', new[] { ExamplesCli.Host(), ExamplesCli.Dll(), "train", "--epochs", "1", "--seed", "0", "--data", subset }.Select(a => $"'{a}'"));
            return ExamplesCli.Run("-qec", [command, "/dev/null"], Timeout, start =>
            {
                start.FileName = "/usr/bin/script";
                start.ArgumentList.RemoveAt(0);      // Run puts the dll first; script takes its own arguments
                start.ArgumentList.Insert(0, "-qec");
                start.Environment["CI"] = ci ? "true" : "false";
                start.Environment["TERM"] = "xterm-256color";
            });
        }
        var bar = OnTerminal(ci: false);
        Assert.That(bar.ExitCode, Is.EqualTo(0), bar.ToString());
        Assert.That(bar.Output, Does.Contain("Epoch 1").And.Contain("Test Error:").And.Contain("Done!"));
        Assert.That(bar.Output, Does.Match(@"epoch 1/1  loss \d\.\d{4}  [\d,]+ samples/s"), "the bar's description");
        Assert.That(bar.Output, Does.Contain("%"), "the bar's percentage");

        var lines = OnTerminal(ci: true);
        Assert.That(lines.ExitCode, Is.EqualTo(0), lines.ToString());
        Assert.That(lines.Output, Does.Contain("Epoch 1").And.Not.Contain("samples/s"));
    }
}
