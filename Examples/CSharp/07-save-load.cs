// PyTorch "Learn the Basics", section "Save and Load the Model" (saveloadrun_tutorial), in C#, with
// Functional's files: weights go to safetensors (data only: loading never runs code), whole models to a
// safetensors file that also holds the layer spec, training state to a checkpoint.
// Run from the repository root:  dotnet run Examples/CSharp/07-save-load.cs
// With CI=true the checkpoint demonstration trains on 2,000 images instead of 10,000.
#:project ../../Core.CSharp/Core.CSharp.csproj
#:package TorchSharp-cpu@0.107.0

using System.Globalization;
using Functional;
using Functional.Data;
using Functional.Layers;
using Functional.Models;
using Functional.Optim;
using Functional.Serialization;
using Functional.Training;
using Functional.Transforms;
using TorchSharp;
using Model = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;
using Tensor = TorchSharp.torch.Tensor;

Native.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // numbers print as in Python, whatever the locale
var ci = Environment.GetEnvironmentVariable("CI") == "true";
static string FirstValues(Tensor t)
{
    using var scope = torch.NewDisposeScope();
    return "[" + string.Join(", ", t.flatten()[..3].ToArray<float>().Select(v => v.ToString("F6"))) + ", ...]";
}
static bool SameWeights(Model a, Model b) =>
    ModelFormat.NamedParameters(a).Zip(ModelFormat.NamedParameters(b)).All(p => p.First.Value.equal(p.Second.Value).all().item<bool>());

// The files go to Examples/out/07-save-load/ (ignored by git); `dotnet run file.cs` tells the app its folder.
var here = (string)AppContext.GetData("EntryPointFileDirectoryPath")!;
var output = Path.GetFullPath(Path.Combine(here, "..", "out", "07-save-load"));
Directory.CreateDirectory(output);
var subset = Path.GetFullPath(Path.Combine(here, "..", "..", "Data", "fashion-mnist-subset"));

// The tutorial loads VGG16 with ImageNet weights, a 528 MB download. Offline, we use the tutorial's
// own network instead (Flatten, then Linear 784-512, ReLU, Linear 512-512, ReLU, Linear 512-10),
// built from its spec: the parameter names are PyTorch's, so the files read in PyTorch too.
var spec = NeuralNetwork.Spec();
long[] inputShape = [1, 28, 28];
Model Build(ulong seed)
{
    using var generator = new torch.Generator(seed);
    return spec.Build(inputShape, generator);
}
var model = Build(1);

// ---- Saving and Loading Model Weights ----
// A model's learned parameters live in its state dict; torch.save(model.state_dict(), 'model_weights.pth')
// becomes SaveSafeTensors.
Console.WriteLine("The model's state dict, before saving:");
foreach (var p in ModelFormat.NamedParameters(model))
    Console.WriteLine($"  {p.Name,-26} {p.Size,-10} {FirstValues(p.Value)}");
var weightsPath = Path.Combine(output, "model_weights.safetensors");
model.SaveSafeTensors(weightsPath);
Console.WriteLine($"\nSaved to {Path.GetFileName(weightsPath)} ({new FileInfo(weightsPath).Length} bytes)");

// To load weights, first create an instance of the same model (here with other random weights), then
// load the parameters: model.load_state_dict(torch.load('model_weights.pth', weights_only=True)).
var fresh = Build(2);
var (firstName, firstWeight) = ModelFormat.NamedParameters(fresh)[0];
Console.WriteLine($"\nA fresh model: {firstName} {FirstValues(firstWeight)}");
var report = fresh.LoadSafeTensors(weightsPath);
Console.WriteLine(report);
Console.WriteLine($"After loading:  {firstName} {FirstValues(firstWeight)}");
Console.WriteLine($"Every tensor equal to the saved one: {SameWeights(model, fresh)}");

// A load is strict: a model of another shape is refused with PyTorch's report, and left untouched.
var other = Layer.Compose(Layer.Flatten(), Layer.Linear(10)).Build(inputShape);
try
{
    other.LoadSafeTensors(weightsPath);
    Console.WriteLine("\nunexpected: the weights loaded into another architecture");
}
catch (StateDictMismatchException e)
{
    Console.WriteLine($"\nLoading them into Flatten, Linear(10) instead:\n{e.Report}");
}

// Be sure to call model.eval() before inference: it sets dropout and batch normalisation layers to
// evaluation mode. Not doing so gives inconsistent inference results.
fresh.eval();
Console.WriteLine(ModelFormat.Format(fresh));

// What eval() changes, on a small network with BatchNorm and Dropout: in train mode, dropout zeroes
// random activations (two calls differ) and batch norm normalises with the statistics of the batch
// (an image's output depends on the other images in it). In eval mode, dropout passes everything and
// batch norm uses its running mean and variance, buffers that are part of the state dict and are saved.
torch.manual_seed(0);                                          // dropout draws from LibTorch's generator
var small = Layer.Sequential(Layer.Linear(6), Layer.BatchNorm1d(), Layer.ReLU(), Layer.Dropout(0.5), Layer.Linear(3));
Model net;
using (var generator = new torch.Generator(3)) net = small.Build([4], generator);
Tensor batch;
using (var generator = new torch.Generator(4)) batch = torch.rand([5, 4], generator: generator);
static bool Agree(Tensor a, Tensor b) => a.allclose(b, rtol: 1e-5, atol: 1e-6);
foreach (var (mode, setMode) in new (string, Action)[] { ("train", () => net.train()), ("eval", () => net.eval()) })
{
    setMode();
    using var scope = torch.NewDisposeScope();
    var (once, twice) = (net.call(batch), net.call(batch));
    var inPair = net.call(batch[..2]);                         // images 0 and 1 only
    Console.WriteLine($"\n{mode} mode: two calls agree: {Agree(once, twice)}; " +
        $"image 0 gives the same output in a batch of 5 and of 2: {Agree(once[..1], inPair[..1])}");
}
Console.WriteLine("BatchNorm's buffers in the state dict: " +
    string.Join(", ", net.state_dict().Keys.Where(k => k.Contains("running") || k.Contains("batches"))));

// ---- Saving and Loading Models with Shapes ----
// torch.save(model, 'model.pth') pickles the class, so loading needs its code (and may run code from
// the file). Here the model's structure is saved as data: its layer spec and input shape go into the
// safetensors header beside the weights.
var modelPath = Path.Combine(output, "model.safetensors");
ModelFile.Save(modelPath, spec, inputShape, fresh);
Console.WriteLine($"\nSaved the whole model to {Path.GetFileName(modelPath)}; its spec:\n{ModelFile.ReadSpec(modelPath)}");

// Loading needs the file and nothing else: no NeuralNetwork, no spec in code. The model comes back in
// eval mode. (model = torch.load('model.pth', weights_only=False))
using var test = FashionMnist.Load(subset, train: false);
var images = test.Features[..5].to_type(torch.ScalarType.Float32).div(255);
Tensor fromFile;
using (var loaded = ModelFile.Load(modelPath))
{
    Console.WriteLine(ModelFormat.Format(loaded));
    fromFile = loaded.call(images);
}
var fromMemory = fresh.call(images);
Console.WriteLine($"Outputs of the loaded model and of the one in memory identical: {fromFile.equal(fromMemory).all().item<bool>()}");
Console.WriteLine("Predicted (untrained, so mostly wrong): " +
    string.Join(", ", fromFile.argmax(1).ToArray<long>().Select(c => FashionMnist.Classes[(int)c])));

// A model of your own class (an nn.Module subclass, such as the tutorial's NeuralNetwork; here the library's
// copy of it) is saved under the name it is registered with, and rebuilt on load by the registered factory:
// as torch.save(model) needs the class importable by its name, but the file holds only the name and the
// weights, and only factories this program registered ever run. An unregistered name in a file is refused
// in one line that says how to register it.
LayerRegistry.Register("NeuralNetwork", () => new NeuralNetwork());
var ownPath = Path.Combine(output, "own-class.safetensors");
using (var generator = new torch.Generator(6))
using (var own = new NeuralNetwork(generator: generator))
{
    ModelFile.Save(ownPath, own, inputShape);
    using var back = (NeuralNetwork)ModelFile.Load(ownPath);
    Console.WriteLine($"\nA class of your own: the file's spec is {ModelFile.ReadSpec(ownPath)}; " +
        $"loaded as a {back.GetType().Name} with the same weights: {SameWeights(own, back)}");
}

// ---- Saving and loading a training checkpoint ----
// To resume training exactly, a checkpoint holds the weights, the optimizer's state, the epoch, the
// random generators (LibTorch's and the loader's shuffling) and the history. Here: run A trains 2
// epochs straight; run B trains 1 epoch and saves a checkpoint, and a brand-new model, optimizer and
// loader (run C, as in a new process) restore it and train the 2nd epoch. A and C end with the same
// weights, bit for bit.
using var train = FashionMnist.Load(subset, train: true);
var count = ci ? 2000 : 10000;
using var data = new TensorDataset(train.Features[..count], train.Labels[..count]);
Console.WriteLine($"\nTraining on {count} images, 2 epochs{(ci ? " (CI=true: 2,000 images)" : "")}");

// A fresh run: same seeds, so every run starts from the same weights and shuffles the same way.
(Model Model, Optimizer Optimizer, IDataLoader Loader, Trainer Trainer) NewRun()
{
    var m = Build(5);
    var optimizer = Optimizers.Sgd(1e-3).Bind(m);
    var loader = new DataLoader(data, 64, shuffle: true, seed: 7).Map(Transform.ToTensor());
    return (m, optimizer, loader, new Trainer(m, Losses.CrossEntropy(), optimizer, new TrainerOptions { Device = Devices.Cpu, Seed = 11, Progress = false }));
}
static void PrintHistory(string name, History history)
{
    foreach (var e in history.Epochs) Console.WriteLine($"  {name} epoch {e.Epoch}: train loss {e.TrainLoss:F6}");
}

var runA = NewRun();
PrintHistory("A", runA.Trainer.Fit(runA.Loader, epochs: 2));

var checkpointPath = Path.Combine(output, "checkpoint.safetensors");
var runB = NewRun();
var historyB = runB.Trainer.Fit(runB.Loader, epochs: 1);
PrintHistory("B", historyB);
TrainingCheckpoint.Save(checkpointPath, runB.Model, runB.Optimizer, epoch: 1, historyB, runB.Loader);
using (var saved = Checkpoint.Load(checkpointPath))
    Console.WriteLine($"  checkpoint saved after epoch {saved.Epoch}");

var runC = NewRun();                                           // as in a new process
var resumed = TrainingCheckpoint.Restore(checkpointPath, runC.Model, runC.Optimizer, runC.Loader);
// Fit returns the whole run's history: the epochs read from the checkpoint, then the ones trained now.
var historyC = runC.Trainer.Fit(runC.Loader, epochs: 2, resume: resumed);
foreach (var e in historyC.Epochs)
    Console.WriteLine($"  B (resumed) epoch {e.Epoch}: train loss {e.TrainLoss:F6}" +
        (e.Epoch <= resumed.Count ? "  (from the checkpoint's history, not trained again)" : ""));
Console.WriteLine($"Resumed run ends with the same weights as the straight one: {SameWeights(runA.Model, runC.Model)}");
foreach (var run in new[] { runA, runB, runC }) run.Optimizer.Dispose();
