using TorchSharp;

namespace Functional;

/// <summary>
/// What this process's LibTorch knows about CUDA (the tutorial's <c>torch.cuda</c> section).
/// </summary>
/// <remarks>
/// TorchSharp 0.107 exposes availability, the device count and cuDNN availability. It does not
/// expose a device's name, compute capability or memory (PyTorch's <c>get_device_name</c> and
/// <c>get_device_properties</c>), so neither does this class. With the CPU package (TorchSharp-cpu)
/// <see cref="IsCudaAvailable"/> is always false.
/// </remarks>
public static partial class Devices
{
    /// <summary>True when LibTorch was built with CUDA and sees at least one GPU.</summary>
    public static bool IsCudaAvailable
    {
        get { Native.EnsureLoaded(); return torch.cuda.is_available(); }
    }

    /// <summary>The number of CUDA devices LibTorch sees (0 without CUDA).</summary>
    public static int CudaDeviceCount
    {
        get { Native.EnsureLoaded(); return IsCudaAvailable ? torch.cuda.device_count() : 0; }
    }

    /// <summary>True when cuDNN is available to LibTorch.</summary>
    public static bool IsCudnnAvailable
    {
        get { Native.EnsureLoaded(); return IsCudaAvailable && torch.cuda.is_cudnn_available(); }
    }

    /// <summary>A one-line description, e.g. <c>CUDA: not available (CPU build of LibTorch 2.10.0.0)</c>.</summary>
    public static string Describe()
    {
        Native.EnsureLoaded();
        return IsCudaAvailable
            ? $"CUDA: available, {CudaDeviceCount} device(s), cuDNN {(IsCudnnAvailable ? "available" : "not available")} (LibTorch {torch.__version__})"
            : $"CUDA: not available (LibTorch {torch.__version__}; the CPU build, or no NVIDIA GPU)";
    }
}
