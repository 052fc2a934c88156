// `Functional.Tests.CheckpointWriter <folder> <count> <start>`: saves checkpoints N = start, start+1, ...
// to <folder>/latest.safetensors, one after the other, and prints N after each completed save.
// KillTests kills this process at random moments and checks that the latest checkpoint always loads
// and is one that was completed: atomic saves, seen from outside.
using Functional;
using Functional.Serialization;
using TorchSharp;

if (args.Length != 3 || !long.TryParse(args[1], out var count) || !long.TryParse(args[2], out var start) || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: Functional.Tests.CheckpointWriter <existing folder> <count> <start>");
    return 2;
}
Native.EnsureLoaded();
var path = Path.Combine(args[0], "latest.safetensors");
for (var n = start; n < start + count; n++)
{
    using var scope = torch.NewDisposeScope();
    // 16 tensors of 65,536 float32 each (4 MB), all filled with N: a save takes long enough, and is
    // written in enough pieces, to be interrupted.
    var model = new Dictionary<string, torch.Tensor>();
    for (var i = 0; i < CheckpointContent.TensorCount; i++)
        model[$"w{i}"] = torch.full([CheckpointContent.TensorLength], (float)n, dtype: torch.float32);
    using var checkpoint = new Checkpoint { Model = model, Epoch = n, Metadata = new Dictionary<string, string> { ["step"] = n.ToString() } };
    checkpoint.Save(path);
    Console.WriteLine(n);
}
return 0;

/// <summary>The shape of what is written, which KillTests checks.</summary>
static class CheckpointContent
{
    public const int TensorCount = 16;
    public const long TensorLength = 65_536;
}
