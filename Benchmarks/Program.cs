// The benchmarks: `dotnet run --project Benchmarks -c Release -- <command> [options]`.
// Each command is a class with a `Run(string[] args) -> int` method, registered in Commands below.
using Functional.Benchmarks;

var commands = new Command[]
{
    new("training", "the main job's epoch against the tutorial's loop on raw TorchSharp, alternating (--epochs N, --autograd, --layout rows|features, --quick)", TrainingBenchmark.Run),
    new("step", "where the fused step's time goes: floor, forward, loss, gradients, update on one fixed batch (--cpu: 1 thread, CPU time; --layouts: the 8 products row-major against feature-major)", StepBenchmark.Run),
    new("curve", "the main job's seeded accuracy curve on the fused step against autograd (--epochs N, default 10)", CurveBenchmark.Run),
    new("loader", "loader throughput: ours against TorchSharp's DataLoader on Fashion-MNIST, and image-file workers (--quick)", LoaderBenchmark.Run),
    new("distributed", "data-parallel training over MPI: samples/s on 1 process and 2 ranks, allreduce time per step (--epochs N, --batch-size B, --autograd, --quick)", DistributedBenchmark.Run),
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Error.WriteLine("usage: dotnet run --project Benchmarks -c Release -- <command> [options]");
    Console.Error.WriteLine("commands:");
    foreach (var c in commands) Console.Error.WriteLine($"  {c.Name,-12} {c.Summary}");
    return args.Length == 0 ? 2 : 0;
}
var command = commands.FirstOrDefault(c => c.Name == args[0]);
if (command is null)
{
    Console.Error.WriteLine($"unknown command '{args[0]}'; try --help");
    return 2;
}
Functional.Native.EnsureLoaded();
return command.Run(args[1..]);

namespace Functional.Benchmarks
{
    /// <summary>A benchmark command: its name, a one-line summary, and its entry point (arguments after the name).</summary>
    public sealed record Command(string Name, string Summary, Func<string[], int> Run);
}
