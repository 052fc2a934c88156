using TorchSharp;

namespace Functional;

/// <summary>Where tensors live and run: <see cref="Cpu"/>, <see cref="Cuda"/> or <see cref="Auto"/>
/// (CUDA when a CUDA build of LibTorch sees a GPU, else the CPU).</summary>
/// <example><code>
/// var device = Device.Auto.Resolve();          // cpu on a machine without CUDA
/// using var x = torch.ones(2, 2, device: device.ToTorch());
/// </code></example>
public sealed class Device : IEquatable<Device>
{
    /// <summary>The kinds of device.</summary>
    public enum DeviceKind
    {
        /// <summary>The host CPU.</summary>
        Cpu,
        /// <summary>An NVIDIA GPU through CUDA.</summary>
        Cuda,
        /// <summary>CUDA when available, else CPU; decided by <see cref="Resolve"/>.</summary>
        Auto,
    }

    Device(DeviceKind kind, int index) { Kind = kind; Index = index; }

    /// <summary>The kind of device.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The CUDA device index (0 for CPU and Auto).</summary>
    public int Index { get; }

    /// <summary>The CPU.</summary>
    public static Device Cpu { get; } = new(DeviceKind.Cpu, 0);

    /// <summary>CUDA when available, else the CPU.</summary>
    public static Device Auto { get; } = new(DeviceKind.Auto, 0);

    /// <summary>The CUDA device with the given index.</summary>
    public static Device Cuda(int index = 0)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "A CUDA device index is 0 or more.");
        return new Device(DeviceKind.Cuda, index);
    }

    /// <summary>Parses "cpu", "cuda", "cuda:N" or "auto" (any case), as the command line takes them.</summary>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "auto") return Auto;
        if (t == "cuda") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out var i) && i >= 0) return Cuda(i);
        throw new ArgumentException($"Unknown device '{text}': expected cpu, cuda, cuda:N or auto.", nameof(text));
    }

    /// <summary>Turns <see cref="Auto"/> into <see cref="Cuda"/>(0) or <see cref="Cpu"/>; checks that a
    /// CUDA device exists. Other devices are returned as they are.</summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for and is not available.</exception>
    public Device Resolve()
    {
        switch (Kind)
        {
            case DeviceKind.Auto:
                return CudaInfo.IsAvailable ? Cuda(0) : Cpu;
            case DeviceKind.Cuda:
                if (!CudaInfo.IsAvailable)
                    throw new InvalidOperationException(
                        $"{this} was asked for, but CUDA is not available: this process runs the CPU build of LibTorch " +
                        "(package TorchSharp-cpu) or sees no NVIDIA GPU. Use Device.Cpu or Device.Auto, or switch to a CUDA " +
                        "build of LibTorch as the README explains.");
                if (Index >= CudaInfo.DeviceCount)
                    throw new InvalidOperationException($"{this} was asked for, but only {CudaInfo.DeviceCount} CUDA device(s) are present.");
                return this;
            default:
                return this;
        }
    }

    /// <summary>The TorchSharp device (after <see cref="Resolve"/>).</summary>
    public torch.Device ToTorch()
    {
        Native.EnsureLoaded();
        var concrete = Resolve();
        return concrete.Kind == DeviceKind.Cuda ? new torch.Device(DeviceType.CUDA, concrete.Index) : torch.CPU;
    }

    /// <summary>The device a tensor lives on.</summary>
    public static Device Of(torch.Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.device_type == DeviceType.CUDA ? Cuda(tensor.device_index) : Cpu;
    }

    /// <summary>The one rule for "is this tensor already there": the same device type and, off the CPU,
    /// the same index (a CUDA device without an index means device 0).</summary>
    internal static bool IsOn(torch.Tensor tensor, torch.Device device) =>
        tensor.device_type == device.type
        && (device.type == DeviceType.CPU || tensor.device_index == Math.Max(device.index, 0));

    /// <summary><paramref name="tensor"/> itself when it is on <paramref name="device"/>, else a copy there.</summary>
    internal static torch.Tensor MoveTo(torch.Tensor tensor, torch.Device device) => IsOn(tensor, device) ? tensor : tensor.to(device);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Auto => "auto",
        _ => $"cuda:{Index}",
    };

    /// <inheritdoc />
    public bool Equals(Device? other) => other is not null && other.Kind == Kind && other.Index == Index;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Device d && Equals(d);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Index);
}
