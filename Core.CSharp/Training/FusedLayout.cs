namespace Functional.Training;

/// <summary>How the fused training step lays out its activations in memory (<see cref="TrainerOptions.FusedLayout"/>).
/// Both compute the same step; they differ in which GEMM shapes the BLAS library is given, and so in speed, which
/// depends on the machine. Measure yours with <c>dotnet run --project Benchmarks -c Release -- step --layouts</c>.</summary>
public enum FusedLayout
{
    /// <summary><see cref="FeatureMajor"/> on AMD x86-64 processors and on Intel ones multiplying on one thread (LibTorch's
    /// intra-op threads when the step is made), <see cref="RowMajor"/> otherwise (Intel on several threads, other
    /// processors, CUDA): each was the faster of the two where it was measured (see the README's Benchmarks).</summary>
    Auto,

    /// <summary>Activations as <c>nn.Linear</c> makes them, [N, features]: each layer computes <c>Z = X·Wᵀ</c>. On an
    /// Intel Xeon with MKL's AVX-512 kernels, its products ran in 0.91× the time of feature-major ones on two threads at
    /// batch 64 (but 1.07× on one thread).</summary>
    RowMajor,

    /// <summary>Activations as [features, N], one contiguous column per sample: each layer computes <c>Zᵀ = W·Xᵀ</c>. On an
    /// AMD EPYC with MKL, its products ran in 0.78× the time of row-major ones on two threads at batch 64.</summary>
    FeatureMajor,
}
