using TorchSharp;

namespace Functional;

/// <summary>
/// Devices are TorchSharp's own <see cref="torch.Device"/> everywhere in Functional (no wrapper type to
/// convert, nothing that clashes with <c>using static TorchSharp.torch;</c>). This class adds what the
/// tutorial's <c>device = "cuda" if torch.cuda.is_available() else "cpu"</c> needs: <see cref="Auto"/>,
/// <see cref="Parse"/> for command lines, and <see cref="Check"/>, which turns a CUDA device asked for
/// on a machine without one into a clear error.
/// </summary>
/// <example><code>
/// var device = Devices.Auto;                         // cuda:0 when a CUDA LibTorch sees a GPU, else cpu
/// using var x = torch.ones(2, 2, device: device);
/// </code></example>
public static partial class Devices
{
    static readonly Lazy<torch.Device> auto = new(() => Devices.IsCudaAvailable ? new torch.Device(DeviceType.CUDA, 0) : new torch.Device(DeviceType.CPU));

    /// <summary>CUDA device 0 when a CUDA build of LibTorch sees a GPU, else the CPU (decided once, on first use).</summary>
    public static torch.Device Auto => auto.Value;

    /// <summary>The CPU.</summary>
    public static torch.Device Cpu { get; } = new(DeviceType.CPU);

    /// <summary>The CUDA device with the given index (checked when it is used, see <see cref="Check"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is negative.</exception>
    public static torch.Device Cuda(int index = 0)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "A CUDA device index is 0 or more.");
        return new torch.Device(DeviceType.CUDA, index);
    }

    /// <summary>Parses "cpu", "cuda", "cuda:N" or "auto" (any case), as the command line takes them.</summary>
    /// <exception cref="ArgumentException">The text names no device.</exception>
    public static torch.Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "auto") return Auto;
        if (t == "cuda") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out var i) && i >= 0) return Cuda(i);
        throw new ArgumentException($"Unknown device '{text}': expected cpu, cuda, cuda:N or auto.", nameof(text));
    }

    /// <summary>Returns <paramref name="device"/> when this process can use it.</summary>
    /// <exception cref="InvalidOperationException">A CUDA device was asked for and CUDA is not available, or has fewer devices.</exception>
    public static torch.Device Check(torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.type != DeviceType.CUDA) return device;
        if (!Devices.IsCudaAvailable)
            throw new InvalidOperationException(
                $"{device} was asked for, but CUDA is not available: this process runs the CPU build of LibTorch " +
                "(package TorchSharp-cpu) or sees no NVIDIA GPU. Use Devices.Cpu or Devices.Auto, or switch to a CUDA " +
                "build of LibTorch as the README explains.");
        if (Math.Max(device.index, 0) >= Devices.CudaDeviceCount)
            throw new InvalidOperationException($"{device} was asked for, but only {Devices.CudaDeviceCount} CUDA device(s) are present.");
        return device;
    }

    /// <summary>The one rule for "is this tensor already there": the same device type and, off the CPU,
    /// the same index (a CUDA device without an index means device 0).</summary>
    internal static bool IsOn(torch.Tensor tensor, torch.Device device) =>
        tensor.device_type == device.type
        && (device.type == DeviceType.CPU || tensor.device_index == Math.Max(device.index, 0));

    /// <summary><paramref name="tensor"/> itself when it is on <paramref name="device"/>, else a copy there.</summary>
    internal static torch.Tensor MoveTo(torch.Tensor tensor, torch.Device device) => IsOn(tensor, device) ? tensor : tensor.to(device);
}
