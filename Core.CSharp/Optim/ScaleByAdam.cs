using static TorchSharp.torch;

namespace Functional.Optim;

public static partial class Optimizers
{
    /// <summary>
    /// Adam's scaling, as in PyTorch: moments <c>m = β1·m + (1-β1)·g</c>, <c>v = β2·v + (1-β2)·g²</c>
    /// and the update <c>(m / (1-β1ᵗ)) / (sqrt(v) / sqrt(1-β2ᵗ) + ε)</c>; with
    /// <paramref name="amsgrad"/>, the running maximum of v is used instead of v. The betas and eps
    /// are adjustable while training (<see cref="AdamState"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A beta is outside [0, 1) or eps is negative.</exception>
    public static GradientTransformation ScaleByAdam(double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, bool amsgrad = false)
    {
        AdamState.CheckBeta(beta1, nameof(beta1));
        AdamState.CheckBeta(beta2, nameof(beta2));
        AdamState.CheckEps(eps, nameof(eps));
        return new ScaleByAdamTransformation(beta1, beta2, eps, amsgrad);
    }

    internal sealed class ScaleByAdamTransformation(double beta1, double beta2, double eps, bool amsgrad)
        : GradientTransformation<AdamState>($"scaleByAdam(amsgrad={(amsgrad ? "True" : "False")})")
    {
        protected override AdamState InitCore(IReadOnlyList<Tensor> parameters) => new(parameters, beta1, beta2, eps, amsgrad);

        protected override Updates UpdateCore(Updates updates, AdamState state, IReadOnlyList<Tensor> parameters)
        {
            GradientTransformation.CheckShapes(Name, updates.Values, parameters);
            var (b1, b2, e) = (state.Beta1, state.Beta2, state.Eps);
            var step = ++state.Step;
            var correction1 = 1 - Math.Pow(b1, step);
            var correction2 = Math.Sqrt(1 - Math.Pow(b2, step));
            var (m, v, vmax) = (state.M, state.V, state.VMax);
            var (g, fresh) = updates.MaterializeForLink();
            var result = new Tensor[g.Count];
            for (var i = 0; i < result.Length; i++)
            {
                m[i].MulInPlace(b1).AddInPlace(g[i], 1 - b1);
                v[i].MulInPlace(b2).AddcmulInPlace(g[i], g[i], 1 - b2);
                var second = v[i];
                if (vmax is not null)
                {
                    using var max = maximum(vmax[i], v[i]);
                    vmax[i].copy_(max);
                    second = vmax[i];
                }
                using var denominator = second.sqrt().DivInPlace(correction2).AddInPlace(e);
                result[i] = m[i].div(denominator).DivInPlace(correction1);
            }
            if (fresh) foreach (var t in g) t.Dispose();
            return new Updates(result);
        }
    }
}

/// <summary>
/// The state of <see cref="Optimizers.ScaleByAdam"/>: the moments (PyTorch's <c>exp_avg</c>,
/// <c>exp_avg_sq</c> and, with AMSGrad, <c>max_exp_avg_sq</c>), the step, and the betas and eps,
/// adjustable while training.
/// </summary>
public sealed class AdamState : TransformState
{
    double beta1, beta2, eps;

    internal AdamState(IReadOnlyList<Tensor> parameters, double beta1, double beta2, double eps, bool amsgrad)
    {
        (this.beta1, this.beta2, this.eps) = (beta1, beta2, eps);
        Amsgrad = amsgrad;
        M = Own(parameters.Select(p => zeros_like(p)));
        V = Own(parameters.Select(p => zeros_like(p)));
        VMax = amsgrad ? Own(parameters.Select(p => zeros_like(p))) : null;
    }

    /// <summary>The decay of the first moment in the next updates.</summary>
    /// <exception cref="ArgumentException">The value is outside [0, 1).</exception>
    public double Beta1 { get => beta1; set => beta1 = CheckBeta(value, nameof(value)); }

    /// <summary>The decay of the second moment in the next updates.</summary>
    /// <exception cref="ArgumentException">The value is outside [0, 1).</exception>
    public double Beta2 { get => beta2; set => beta2 = CheckBeta(value, nameof(value)); }

    /// <summary>The term added to the denominator in the next updates.</summary>
    /// <exception cref="ArgumentException">The value is negative or not finite.</exception>
    public double Eps { get => eps; set => eps = CheckEps(value, nameof(value)); }

    /// <summary>Whether the running maximum of the second moment is used; part of the structure, so fixed.</summary>
    public bool Amsgrad { get; }

    /// <summary>The number of updates made (t in the bias corrections).</summary>
    public long Step { get; internal set; }

    /// <summary>The first moments, one per parameter (PyTorch's <c>exp_avg</c>).</summary>
    public IReadOnlyList<Tensor> ExpAvg => M;

    /// <summary>The second moments, one per parameter (PyTorch's <c>exp_avg_sq</c>).</summary>
    public IReadOnlyList<Tensor> ExpAvgSq => V;

    /// <summary>The running maxima of the second moments with AMSGrad (PyTorch's <c>max_exp_avg_sq</c>), else null.</summary>
    public IReadOnlyList<Tensor>? MaxExpAvgSq => VMax;

    internal Tensor[] M { get; }
    internal Tensor[] V { get; }
    internal Tensor[]? VMax { get; }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor Value)> NamedTensors() =>
        Named("exp_avg", M).Concat(Named("exp_avg_sq", V)).Concat(Named("max_exp_avg_sq", VMax));

    sealed record Saved(double Beta1, double Beta2, double Eps, long Step);

    /// <inheritdoc />
    protected internal override object? SaveScalars() => new Saved(beta1, beta2, eps, Step);

    /// <inheritdoc />
    protected internal override Action PrepareLoad(SavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var s = saved.Scalars<Saved>();
        CheckBeta(s.Beta1, nameof(saved));
        CheckBeta(s.Beta2, nameof(saved));
        CheckEps(s.Eps, nameof(saved));
        if (s.Step < 0) throw new ArgumentException($"{saved.Where}: the saved step is {s.Step}, not a count.", nameof(saved));
        var m = saved.PerParameter("exp_avg");
        var v = saved.PerParameter("exp_avg_sq");
        var vmax = VMax is null ? null : saved.PerParameter("max_exp_avg_sq");
        var parameters = saved.Parameters;
        return () =>
        {
            (beta1, beta2, eps, Step) = (s.Beta1, s.Beta2, s.Eps, s.Step);
            CopyInto(M, m!, parameters);
            CopyInto(V, v!, parameters);
            if (VMax is not null) CopyInto(VMax, vmax!, parameters);
        };
    }

    /// <summary>Frees the moments.</summary>
    protected override void FreeTensors()
    {
        Free(M);
        Free(V);
        Free(VMax);
    }

    internal static double CheckBeta(double beta, string paramName) =>
        beta >= 0 && beta < 1 ? beta : throw new ArgumentException($"A beta must be in [0, 1), found {beta}.", paramName);

    internal static double CheckEps(double eps, string paramName) =>
        eps >= 0 && double.IsFinite(eps) ? eps : throw new ArgumentException($"eps must be finite and >= 0, found {eps}.", paramName);
}
