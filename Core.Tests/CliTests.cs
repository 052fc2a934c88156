using System.Globalization;
using System.Text.RegularExpressions;
using Functional.Data;
using Functional.Serialization;
using NUnit.Framework;
using static TorchSharp.torch;

namespace Functional.Tests;

/// <summary>
/// The Examples CLI end to end, as a user runs it: <c>train --save</c>, then <c>eval</c> and <c>predict</c> on the
/// saved file, in child processes, on the Fashion-MNIST subset that ships in the repository (10,000 training and
/// 2,000 test images, one epoch: a few seconds a run).
/// </summary>
/// <remarks>
/// Printed figures are checked against oracles, never against the program's own earlier output: the first loss of an
/// untrained 10-class network is near ln 10, <c>eval</c>'s accuracy is recomputed here from the model file with raw
/// TorchSharp, and <c>predict</c>'s probabilities are recomputed the same way.
/// </remarks>
[NonParallelizable]
public class CliTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    string folder = "";
    string subset = "";
    string model = "";
    ExamplesCli.Result train = null!;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        Native.EnsureLoaded();
        subset = Path.Combine(ExamplesCli.RepositoryRoot(), "Data", "fashion-mnist-subset");
        Assert.That(Directory.Exists(subset), Is.True, $"the shipped subset {subset} is missing");
        folder = Path.Combine(Path.GetTempPath(), "functional-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        model = Path.Combine(folder, "m.safetensors");
        train = Train(0, model);
    }

    [OneTimeTearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    ExamplesCli.Result Train(int seed, string save) =>
        Cli("train", "--epochs", "1", "--seed", seed.ToString(CultureInfo.InvariantCulture), "--data", subset, "--save", save);

    static ExamplesCli.Result Cli(params string[] args) => ExamplesCli.Run(ExamplesCli.Dll(), args, Timeout);

    static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>The tutorial's output, line by line, with the command's three header lines before it (the data, the
    /// device, the training step's path) and the save line after.</summary>
    [Test]
    public void TrainPrintsTheTutorialsLinesAndSavesTheModel()
    {
        Assert.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var lines = train.Lines;
        Assert.That(lines, Has.Length.EqualTo(12), train.ToString());
        // The oracle of the step's path: the library's trainer for the same network, loss and optimizer.
        string stepPath;
        using (var net = new Functional.Models.NeuralNetwork())
        using (var trainer = new Functional.Training.Trainer(net, Functional.Training.Losses.CrossEntropy(), Functional.Optim.Optimizers.Sgd(1e-3),
                   new Functional.Training.TrainerOptions { Device = Devices.Cpu, Progress = false }))
            stepPath = trainer.StepPath;
        Assert.Multiple(() =>
        {
            Assert.That(lines[0], Is.EqualTo($"Fashion-MNIST: 10000 training and 2000 test images from the given root, {subset}"));
            Assert.That(lines[1], Does.Match(@"^Using (cpu|cuda(:\d+)?) device$"));
            Assert.That(lines[2], Is.EqualTo("Training step: " + stepPath));
            Assert.That(lines[2], Does.StartWith("Training step: fused: Flatten → Linear(784→512) → ReLU → Linear(512→512) → ReLU → Linear(512→10); CrossEntropy(mean)"));
            Assert.That(lines[3], Does.Match(@"^Epoch 1$"));
            Assert.That(lines[4], Does.Match(@"^-{31}$"));
            Assert.That(lines[5], Does.Match(@"^loss: \d+\.\d{6}  \[\s*0/10000\]$"));
            Assert.That(lines[6], Does.Match(@"^loss: \d+\.\d{6}  \[ 6400/10000\]$"));
            Assert.That(lines[7], Does.Match(@"^Test Error: $"));
            Assert.That(lines[8], Does.Match(@"^ Accuracy: \d+\.\d%, Avg loss: \s*\d+\.\d{6} $"));
            Assert.That(lines[9], Is.Empty);
            Assert.That(lines[10], Does.Match(@"^Done!$"));
            Assert.That(lines[11], Does.StartWith($"Saved PyTorch Model State to {model} "));
        });
        // Before any step the network guesses uniformly over 10 classes: cross-entropy ln 10 = 2.3026.
        var first = Number(Regex.Match(lines[5], @"loss: (\S+)").Groups[1].Value);
        Assert.That(first, Is.EqualTo(Math.Log(10)).Within(0.05));
        Assert.That(File.Exists(model), Is.True);
        Assert.That(ModelFile.ReadSpec(model), Does.Contain("Linear"), "a whole-model file, with its spec");
        Assert.That(train.Error, Is.Empty);
    }

    [Test]
    public void EvalOfTheSavedModelPrintsTheLastEpochsTestLineAndTheAccuracyComputedHere()
    {
        Assume.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var eval = Cli("eval", "--model", model, "--data", subset);
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
        Assert.That(eval.Lines, Is.EqualTo(new[]
        {
            $"Fashion-MNIST: 2000 test images from the given root, {subset}",
            "Test Error: ",
            train.Lines[8],          // same model, same test data: the same figures as the end of training
        }), eval.ToString());

        // The accuracy recomputed from the model file and the raw test tensors.
        using var scope = NewDisposeScope();
        using var net = ModelFile.Load(model);
        using var test = FashionMnist.Load(subset, train: false);
        using var _ = no_grad();
        var predicted = net.forward(test.Features.to_type(ScalarType.Float32).div(255.0)).argmax(1);
        var accuracy = 100.0 * predicted.eq(test.Labels).sum().item<long>() / test.Count;
        var printed = Number(Regex.Match(eval.Lines[2], @"Accuracy: (\S+)%").Groups[1].Value);
        Assert.That(printed, Is.EqualTo(accuracy).Within(0.05 + 1e-9), "the exact accuracy to one decimal (a tie may round either way)");
    }

    [Test]
    public void PredictPrintsTheClassAndProbabilitiesOfTheImage()
    {
        Assume.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        const int Index = 3;
        var result = Cli("predict", "--model", model, "--index", Index.ToString(CultureInfo.InvariantCulture), "--data", subset);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        var lines = result.Lines;
        Assert.That(lines, Has.Length.EqualTo(11), result.ToString());

        var rows = lines.Skip(1).Select(l => Regex.Match(l, @"^  (\S+(?: \S+)?)\s+(\d+\.\d\d)%(  <-)?$")).ToArray();
        Assert.That(rows.All(m => m.Success), Is.True, result.ToString());
        Assert.That(rows.Select(m => m.Groups[1].Value), Is.EqualTo(FashionMnist.Classes), "one row per class, in label order");
        var percent = rows.Select(m => Number(m.Groups[2].Value)).ToArray();
        Assert.That(percent.Sum(), Is.EqualTo(100.0).Within(0.06), "ten probabilities rounded to 0.01 %");
        var marked = rows.Select((m, i) => (m.Groups[3].Success, i)).Single(r => r.Success).i;
        Assert.That(percent[marked], Is.EqualTo(percent.Max()), "the arrow marks the most probable class");

        // The oracle: the image and label read here, the probabilities computed with raw TorchSharp.
        using var scope = NewDisposeScope();
        using var net = ModelFile.Load(model);
        using var test = FashionMnist.Load(subset, train: false);
        using var sample = test[Index];
        using var _ = no_grad();
        var probabilities = nn.functional.softmax(net.forward(sample.Features.unsqueeze(0).to_type(ScalarType.Float32).div(255.0)), 1)
            .squeeze(0).data<float>().ToArray();
        for (int c = 0; c < 10; c++) Assert.That(percent[c], Is.EqualTo(100.0 * probabilities[c]).Within(0.0051), FashionMnist.Classes[c]);
        var expected = Array.IndexOf(probabilities, probabilities.Max());
        Assert.That(marked, Is.EqualTo(expected), "the predicted class is the argmax");
        Assert.That(lines[0], Is.EqualTo($"Test image {Index}: Predicted: \"{FashionMnist.Classes[expected]}\", Actual: \"{FashionMnist.Classes[sample.ClassIndex]}\""));
    }

    [Test]
    public void TheSameSeedGivesTheSameRunAndTheSameFileAnotherSeedDoesNot()
    {
        Assume.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var again = Path.Combine(folder, "again.safetensors");
        var second = Train(0, again);
        Assert.That(second.ExitCode, Is.EqualTo(0), second.ToString());
        Assert.That(second.Lines[..^1], Is.EqualTo(train.Lines[..^1]), "every line but the one naming the saved file");
        Assert.That(File.ReadAllBytes(again), Is.EqualTo(File.ReadAllBytes(model)), "the saved model, byte for byte");

        var other = Train(1, Path.Combine(folder, "other.safetensors"));
        Assert.That(other.ExitCode, Is.EqualTo(0), other.ToString());
        Assert.That(other.Lines[5..9], Is.Not.EqualTo(train.Lines[5..9]), "the seed decides the initial weights and the shuffling");
    }

    [Test]
    public void EvalOfAMissingFileFailsNamingIt()
    {
        var missing = Path.Combine(folder, "missing.safetensors");
        var result = Cli("eval", "--model", missing, "--data", subset);
        Assert.That(result.ExitCode, Is.Not.EqualTo(0), result.ToString());
        Assert.That(result.Error, Does.Contain(missing));
        Assert.That(result.Error, Does.Not.Contain("   at "), "a message, not a stack trace");
    }

    [Test]
    public void ANonNumericOptionExitsWithTwoNamingTheOption()
    {
        var result = Cli("train", "--epochs", "x");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.Contain("--epochs").And.Contain("'x'"));
        Assert.That(result.Output, Is.Empty, "nothing ran");
    }

    [TestCase("train", "--device", "gpu", "auto, cpu, cuda or cuda:N", TestName = "a misspelt --device")]
    [TestCase("eval", "--batch-size", "0", "1 or more", TestName = "a zero --batch-size for eval")]
    [TestCase("train", "--lr", "-1", "positive", TestName = "a negative --lr")]
    public void ABadOptionValueExitsWithTwoNamingTheOptionAndWhatItExpects(string command, string option, string value, string expected)
    {
        var result = command == "eval" ? Cli(command, "--model", model, option, value) : Cli(command, option, value);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.StartWith($"error: {command}: {option} ").And.Contain(expected).And.Contain(value));
        Assert.That(result.Error, Does.Not.Contain("   at "), "a message, not a stack trace");
        Assert.That(result.Output, Is.Empty, "nothing ran");
    }

    [TestCase(1000, TestName = "a file cut inside its header")]
    [TestCase(-100, TestName = "a file cut inside its weights")]
    public void ATruncatedModelFileFailsNamingIt(int keep)
    {
        Assume.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var bytes = File.ReadAllBytes(model);
        var cut = Path.Combine(folder, $"cut{keep}.safetensors");
        File.WriteAllBytes(cut, bytes[..(keep > 0 ? keep : bytes.Length + keep)]);
        var result = Cli("eval", "--model", cut, "--data", subset);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.StartWith($"error: {cut}:"), result.ToString());
        Assert.That(result.Error, Does.Not.Contain("   at "), "a message, not a stack trace");
    }

    [Test]
    public void ASavePathThatCannotBeWrittenFailsBeforeTraining()
    {
        var blocker = Path.Combine(folder, "a-file");
        File.WriteAllText(blocker, "not a folder");
        var save = Path.Combine(blocker, "m.safetensors");
        var result = Cli("train", "--epochs", "1", "--data", subset, "--save", save);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.StartWith("error: ").And.Contain(blocker));
        Assert.That(result.Error, Does.Not.Contain("   at "), "a message, not a stack trace");
        Assert.That(result.Output, Does.Not.Contain("Epoch 1"), "no epoch is trained only to be lost");
    }

    [Test]
    public void AMistypedDataFolderIsAnErrorNotASilentFallback()
    {
        var result = Cli("eval", "--model", model, "--data", Path.Combine(folder, "no-such-folder"));
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.Contain("--data").And.Contain("no-such-folder"));
    }

    /// <summary>A folder with some of the subset's files (copied), for --data.</summary>
    string DataFolder(string name, params string[] files)
    {
        var data = Path.Combine(folder, name);
        Directory.CreateDirectory(data);
        foreach (var f in files) File.Copy(Path.Combine(subset, f), Path.Combine(data, f), overwrite: true);
        return data;
    }

    static void AssertOneLine(ExamplesCli.Result result, int exitCode)
    {
        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
        Assert.That(result.Error, Does.StartWith("error: "), result.ToString());
        Assert.That(result.Error.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), "one line: " + result);
        Assert.That(result.Error, Does.Not.Contain("   at ").And.Not.Contain("Exception raised from"), "no stack trace, no native frames");
        Assert.That(result.Output, Does.Not.Contain("Epoch 1"), "nothing was trained");
    }

    [Test]
    public void AGivenDataFolderIsUsedWholeOrRefusedNamingTheMissingFile()
    {
        var trainOnly = DataFolder("train-only", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
        var result = Cli("train", "--epochs", "1", "--data", trainOnly);
        AssertOneLine(result, 1);
        Assert.That(result.Error, Does.Contain(Path.Combine(trainOnly, "t10k-images-idx3-ubyte")).And.Contain("t10k-labels-idx1-ubyte"));
        var noLabels = DataFolder("no-test-labels", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz");
        result = Cli("eval", "--model", model, "--data", noLabels);
        AssertOneLine(result, 1);
        Assert.That(result.Error, Does.Contain("only part of the FashionMNIST test split").And.Contain(Path.Combine(noLabels, "t10k-labels-idx1-ubyte") + "[.gz] is missing"));
        var empty = DataFolder("empty");
        result = Cli("train", "--epochs", "1", "--data", empty);
        AssertOneLine(result, 1);
        Assert.That(result.Error, Does.Contain($"{empty} holds no FashionMNIST training files"));
    }

    [TestCase("--batch-size", "2147483647", "1 or more (at most 1048576), got 2147483647", TestName = "a --batch-size that overflows an epoch")]
    [TestCase("--lr", "1e39", "positive, 1e-12 to 10, got 1E+39", TestName = "an --lr beyond float32")]
    [TestCase("--lr", "NaN", "positive, 1e-12 to 10, got NaN", TestName = "an --lr of NaN")]
    [TestCase("--epochs", "0", "1 or more (at most 100000), got 0", TestName = "zero --epochs")]
    [TestCase("--optimizer", "rmsprop", "sgd, adam or adamw, got 'rmsprop'", TestName = "an unknown --optimizer")]
    public void NumericOptionsOutsideTheirBoundsExitWithTwo(string option, string value, string expected)
    {
        var result = Cli("train", option, value, "--data", subset);
        AssertOneLine(result, 2);
        Assert.That(result.Error, Does.StartWith($"error: train: {option} ").And.Contain(expected));
        Assert.That(result.Output, Is.Empty, "nothing ran");
    }

    [Test]
    public void OutputPathsThatClashOrNameAFolderAreRefusedBeforeTraining()
    {
        var same = Path.Combine(folder, "same.out");
        var result = Cli("train", "--epochs", "1", "--data", subset, "--save", same, "--plot", same);
        AssertOneLine(result, 2);
        Assert.That(result.Error, Does.Contain("--plot and --save both name " + same));
        Assert.That(File.Exists(same), Is.False);
        result = Cli("train", "--epochs", "1", "--data", subset, "--save", folder);
        AssertOneLine(result, 2);
        Assert.That(result.Error, Does.Contain("--save names the folder " + folder));
    }

    [Test]
    public void ASaveFolderWhereNoFileCanBeCreatedFailsBeforeTraining()
    {
        // /proc exists, and no file can be created in it, not even by root (whom permissions would not stop).
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc")) Assert.Ignore("needs Linux's /proc: a folder that exists and takes no new file.");
        var result = Cli("train", "--epochs", "1", "--data", subset, "--save", "/proc/m.safetensors");
        AssertOneLine(result, 1);
        Assert.That(result.Error, Does.StartWith("error: train: cannot write --save /proc/m.safetensors: ").And.Contain("choose another path"));
    }

    /// <summary>`eval` of a model file of Flatten and Linear(<paramref name="classes"/>) built for [1, <paramref name="rows"/>, 28] images.</summary>
    ExamplesCli.Result EvalFlatLinear(string name, int classes, long rows)
    {
        var path = Path.Combine(folder, name);
        var spec = Functional.Layers.Layer.Sequential(Functional.Layers.Layer.Flatten(), Functional.Layers.Layer.Linear(classes));
        using (var m = spec.Build([1, rows, 28])) ModelFile.Save(path, spec, [1L, rows, 28], m);
        return Cli("eval", "--model", path, "--data", subset);
    }

    [Test]
    public void AModelOfFiveClassesOnTenClassDataExitsWithOneNamingTheMismatch()
    {
        var result = EvalFlatLinear("five.safetensors", 5, 28);
        AssertOneLine(result, 1);
        Assert.That(result.Error, Is.EqualTo("error: The model gives 5 class scores per sample, but the test data has label 9: the model's last layer needs 10 or more outputs, one per class.\n"));
    }

    [Test]
    public void AModelForAnotherImageSizeExitsWithOneWithoutNativeFrames()
    {
        // Built for 27 x 28 images: its first Linear takes 756 inputs, the data gives 784.
        var result = EvalFlatLinear("other-size.safetensors", 10, 27);
        AssertOneLine(result, 1);
        Assert.That(result.Error, Does.StartWith("error: The model cannot take the test data: for a batch of shape [8, 1, 28, 28] (Float32) its forward pass fails: "));
    }

    [Test]
    public void CudaAskedForWithoutCudaIsAnErrorThatSaysWhatToDo()
    {
        if (Devices.IsCudaAvailable) Assert.Ignore("this machine has CUDA, so asking for it is no mistake here.");
        var result = Cli("train", "--device", "cuda", "--data", subset);
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error, Does.StartWith("error: cuda:0 was asked for, but CUDA is not available"));
        Assert.That(result.Error, Does.Contain("README"), "it says where the fix is");
        Assert.That(result.Error, Does.Not.Contain("   at "), "a message, not a stack trace");
    }

    [TestCase("fifo")]
    [TestCase("socket")]
    [TestCase("device")]
    public void ASaveOrPlotOntoAFifoSocketOrDeviceIsRefusedBeforeTrainingAndLeftAsItWas(string kind)
    {
        var node = Path.Combine(folder, "node-" + kind);
        using var keep = AtomicFileTests.Make(kind, node);
        foreach (var option in new[] { "--save", "--plot" })
        {
            var result = Cli("train", "--epochs", "1", "--data", subset, option, node);
            AssertOneLine(result, 2);
            Assert.That(result.Error, Does.StartWith($"error: train: {option}: cannot save to '{node}': it is ").And.Contain("only a regular file is ever replaced"));
            Assert.That(result.Output, Is.Empty, "nothing ran");
            Assert.That(Functional.Serialization.FileKinds.Of(node), Is.EqualTo(AtomicFileTests.Expected(kind)), "the node is untouched");
        }
        // Through a link, the same.
        var link = Path.Combine(folder, "link-to-" + kind);
        File.CreateSymbolicLink(link, node);
        var linked = Cli("train", "--epochs", "1", "--data", subset, "--save", link);
        AssertOneLine(linked, 2);
        Assert.That(linked.Error, Does.Contain($"(the link leads to '{node}')"));
    }

    [Test]
    public void ASaveThroughASymbolicLinkReplacesTheLinkedFileAndKeepsTheLink()
    {
        Assume.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var real = Path.Combine(folder, "linked-model.safetensors");
        File.WriteAllText(real, "an older model");
        var link = Path.Combine(folder, "current.safetensors");
        File.CreateSymbolicLink(link, real);
        var result = Train(0, link);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(real), "the link stays a link to the same file");
        Assert.That(File.ReadAllBytes(real), Is.EqualTo(File.ReadAllBytes(model)), "the linked file holds the run's model (same seed as the shared run)");
    }

    /// <summary>A tmpfs mounted in the test's folder, to be made read-only while a run trains (root only: the test is
    /// ignored otherwise, saying so).</summary>
    string MountTmpfs()
    {
        var mount = Path.Combine(folder, "ro");
        Directory.CreateDirectory(mount);
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || AtomicFileTests.Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount) != 0)
            Assert.Ignore("needs root to mount a tmpfs and make it read-only while the run trains");
        return mount;
    }

    /// <summary>Runs the CLI with <paramref name="args"/> and, once it prints "Epoch 1", remounts <paramref name="mount"/>
    /// read-only with the run paused (SIGSTOP, so that however fast the machine trains, the later epochs and the outputs
    /// still meet the read-only folder); checks that the run trained to the end and exited 1 (an output asked for was not
    /// written), and returns standard error's lines.</summary>
    string[] TrainWhileFolderBecomesReadOnly(string mount, string[] args)
    {
        using var process = System.Diagnostics.Process.Start(ExamplesCli.StartInfo(ExamplesCli.Dll(), args))!;
        var output = new System.Text.StringBuilder();
        using var training = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output) output.AppendLine(e.Data);
            if (e.Data == "Epoch 1") training.Set();
        };
        var error = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        Assert.That(training.Wait(Timeout), Is.True, "training started");
        var pid = process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(AtomicFileTests.Run("kill", "-STOP", pid), Is.EqualTo(0), "pause the run");
        Assert.That(AtomicFileTests.Run("mount", "-o", "remount,ro", mount), Is.EqualTo(0), "remount read-only");
        Assert.That(AtomicFileTests.Run("kill", "-CONT", pid), Is.EqualTo(0), "resume the run");
        Assert.That(process.WaitForExit(Timeout), Is.True);
        process.WaitForExit();
        string printed;
        lock (output) printed = output.ToString();
        Assert.That(process.ExitCode, Is.EqualTo(1), printed + error.Result);
        Assert.That(printed, Does.Contain("Done!"), "the run trained to the end");
        return error.Result.TrimEnd('\n').Split('\n');
    }

    /// <summary>The folder of --log becomes read-only while the run trains (a tmpfs remounted read-only; root only): the
    /// record stops, the training goes on to the end and --save is written; one line names the log and the epoch where
    /// it stopped, and the command exits 1 (an output asked for was not written).</summary>
    [Test]
    public void ALogThatFailsWhileTrainingStopsTheLogNotTheTraining()
    {
        var mount = MountTmpfs();
        try
        {
            var log = Path.Combine(mount, "log.csv");
            var save = Path.Combine(folder, "after-log.safetensors");
            var lines = TrainWhileFolderBecomesReadOnly(mount, ["train", "--epochs", "4", "--seed", "0", "--data", subset, "--log", log, "--save", save]);
            Assert.That(lines, Has.Length.EqualTo(1), string.Join('\n', lines));
            Assert.That(lines[0], Does.Match($@"^error: train: could not write --log {Regex.Escape(log)} \(.*Read-only file system.*\) in epoch [1-4]; the record stops there, the training went on\.$"));
            using (var content = SafeTensors.Read(save))
                Assert.That(content.Metadata["metrics.epoch"], Is.EqualTo("4"), "--save has the model of the finished run");
            var rows = File.ReadAllLines(log);
            Assert.That(rows[0], Is.EqualTo("epoch,train_loss,test_loss,test_accuracy,learning_rate,seconds"), "the header written before training");
            Assert.That(rows.Length, Is.LessThan(5), "the rows up to the epoch where the record stopped");
        }
        finally
        {
            AtomicFileTests.Run("umount", mount);
        }
    }

    /// <summary>Issue 13, item 5: the folder of --save and --plot becomes read-only while the run trains (a tmpfs
    /// remounted read-only; root only). The run is not lost: each output goes to a fallback file in the temporary
    /// folder, named in one line per output, and the command exits 1.</summary>
    [Test]
    public void ASaveThatFailsAfterTrainingKeepsTheModelInAFallbackFile()
    {
        var mount = MountTmpfs();
        var fallbacks = new List<string>();
        try
        {
            var save = Path.Combine(mount, "m.safetensors");
            var plot = Path.Combine(mount, "curves.png");
            var lines = TrainWhileFolderBecomesReadOnly(mount, ["train", "--epochs", "2", "--seed", "0", "--data", subset, "--save", save, "--plot", plot]);
            Assert.That(lines, Has.Length.EqualTo(2), "one line per output that could not be written: " + string.Join('\n', lines));
            var kept = new List<string>();
            foreach (var (line, option, path, what) in new[] { (lines[0], "--save", save, "the trained model"), (lines[1], "--plot", plot, "the plot") })
            {
                var m = Regex.Match(line, $@"^error: train: could not write {option} {Regex.Escape(path)} \((.+)\); {what} was written to (\S+) instead: move it where you want it\.$");
                Assert.That(m.Success, Is.True, line);
                Assert.That(m.Groups[1].Value, Does.Contain("Read-only file system"));
                var fallback = m.Groups[2].Value;
                fallbacks.Add(fallback);
                Assert.That(Path.GetDirectoryName(fallback), Is.EqualTo(Path.GetTempPath().TrimEnd('/')), "beside the target is read-only too, so the temporary folder");
                Assert.That(File.Exists(fallback), Is.True, fallback);
                kept.Add(fallback);
            }
            Assert.That(File.Exists(save), Is.False);
            using (var net = ModelFile.Load(kept[0]))
            using (var content = SafeTensors.Read(kept[0]))
                Assert.That(content.Metadata["metrics.epoch"], Is.EqualTo("2"), "the model of the finished run, with its record");
            Assert.That(File.ReadAllBytes(kept[1])[..8], Is.EqualTo(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }), "a PNG");
        }
        finally
        {
            AtomicFileTests.Run("umount", mount);
            foreach (var f in fallbacks) if (File.Exists(f)) File.Delete(f);
        }
    }
}
