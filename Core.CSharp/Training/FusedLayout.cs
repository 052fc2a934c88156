namespace Functional.Training;

/// <summary>How the fused training step lays out its activations in memory (<see cref="TrainerOptions.FusedLayout"/>).
/// Both compute the same step; they differ in which GEMM shapes the BLAS library is given, and so in speed, which
/// depends on the machine. Measure yours with <c>dotnet run --project Benchmarks -c Release -- step --layouts</c>.</summary>
public enum FusedLayout
{
    /// <summary><see cref="FeatureMajor"/> on AMD x86-64 processors, <see cref="RowMajor"/> elsewhere (Intel, Arm, CUDA):
    /// each was the faster of the two on two threads where it was measured (see the README's Benchmarks).</summary>
    Auto,

    /// <summary>Activations as <c>nn.Linear</c> makes them, [N, features]: each layer computes <c>Z = X·Wᵀ</c>. On an
    /// Intel Xeon with MKL's AVX-512 kernels, its products ran in 0.93× the time of feature-major ones on two threads
    /// (MKL splits them along the features; feature-major products of a small batch it splits along their inner dimension).</summary>
    RowMajor,

    /// <summary>Activations as [features, N], one contiguous column per sample: each layer computes <c>Zᵀ = W·Xᵀ</c>. On an
    /// AMD EPYC with MKL, its products ran in 0.78× the time of row-major ones on two threads at batch 64.</summary>
    FeatureMajor,
}
