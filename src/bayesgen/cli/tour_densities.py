"""The tour's sections on densities: kernel density estimates (figures 6 and 7), information
theory (forward and reverse KL fits) and a neural mixture fitted by SGD with a learning-rate
sweep (figure 18).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .report import Figure, ResultTable, Section, save_figure

__all__ = ["SECTIONS"]


def kde_section(out: Path, data: Path | None) -> Section:
    """§2.2.1: figures 6 and 7, kernel density estimates of 5 points in D = 1 and D = 2."""
    import matplotlib.pyplot as plt

    from ..plot import plot_kde_1d, plot_kde_2d

    one = save_figure(plot_kde_1d(), out / "kde_1d.png")
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.5), layout="constrained")
    plot_kde_2d(axes=axes)
    two = save_figure(fig, out / "kde_2d.png")
    return Section(
        "Kernel density estimation (§2.2.1)",
        "Gaussian kernel density estimates of 5 points drawn uniformly on [0, 1] (D = 1) and on "
        "[0, 1]² (D = 2), at three bandwidths each.",
        "KDE(x) = (1/K) Σₖ N(x; xᵏ, h² I) puts a Gaussian bump on each data point: a small h "
        "puts a spike on each point (overfitting), a large h one broad bump (underfitting).",
        figures=[
            Figure(one, "KDE in D = 1, at bandwidths h = 0.03, 0.1 and 0.3.", "6"),
            Figure(
                two,
                "KDE in D = 2 (the data in red) at h = 0.05, 0.2 and 0.5: the radial kernel gives "
                "circular level sets.",
                "7",
            ),
        ],
    )


def info_section(out: Path, data: Path | None) -> Section:
    """§2.4.3.2: figure 16, one Gaussian fitted to a bimodal target by forward and reverse KL."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from ..info import fit_gaussian_forward_kl, fit_gaussian_reverse_kl, kl_divergence
    from ..plot import plot_kl_fits

    target = MixtureSameFamily(
        Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)),
        Normal(torch.tensor([-2.0, 2.0], dtype=torch.float64), torch.tensor([0.6, 0.6])),
    )
    forward, reverse = fit_gaussian_forward_kl(target), fit_gaussian_reverse_kl(target)
    fig = save_figure(plot_kl_fits(target, forward=forward, reverse=reverse), out / "kl_fits.png")
    rows = []
    for name, q, kind in (
        ("arg min_q KL(p ‖ q)", forward, "covers both modes"),
        ("arg min_q KL(q ‖ p)", reverse, "seeks one mode"),
    ):
        kl_pq = kl_divergence(target, q)  # Monte Carlo estimates: value ± stderr
        kl_qp = kl_divergence(q, target)
        rows.append(
            [name, f"N({float(q.mean):.3f}, {float(q.stddev):.3f}²)", kind,
             f"{float(kl_pq.value):.3f} ± {float(kl_pq.stderr):.3f}",
             f"{float(kl_qp.value):.3f} ± {float(kl_qp.stderr):.3f}"]
        )  # fmt: skip
    return Section(
        "Forward and reverse KL (§2.4.3.2)",
        "One Gaussian q fitted to the bimodal p = 0.5 N(−2, 0.6²) + 0.5 N(2, 0.6²) by minimizing "
        "KL(p ‖ q) and KL(q ‖ p); the divergences are Monte Carlo estimates ± standard error.",
        "KL is not symmetric: minimizing KL(p ‖ q) (what maximum likelihood does) makes q cover "
        "every mode of p; minimizing KL(q ‖ p) lets q sit on one mode.",
        figures=[
            Figure(
                fig,
                "The minimizing Gaussian depends on the order of the arguments: mode covering "
                "(left) and mode seeking (right).",
                "16",
            )
        ],
        tables=[
            ResultTable(
                "The two fits, KL in nats",
                ["objective", "q", "behaviour", "KL(p ‖ q)", "KL(q ‖ p)"],
                rows,
            )
        ],
    )


def neural_section(out: Path, data: Path | None) -> Section:
    """§2.4.4: figures 17 and 18, SGD on the mixing weight r of a neural mixture at five
    learning rates, beside the exact maximum-likelihood estimate."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from ..learning import neural_mixture as nm
    from ..plot import plot_density_histogram, plot_learning_rate_sweep

    x = nm.sample_mixture(1000, seed=0)
    (m0, s0), (m1, s1) = nm.COMPONENTS
    p = MixtureSameFamily(
        Categorical(torch.tensor([1 - nm.TRUE_R, nm.TRUE_R], dtype=torch.float64)),
        Normal(torch.tensor([m0, m1], dtype=torch.float64), torch.tensor([s0, s1])),
    )
    density = save_figure(plot_density_histogram(p, x), out / "neural_data.png")
    mle = nm.exact_mle(x)
    sweep = nm.learning_rate_sweep(x)
    fig = plot_learning_rate_sweep(sweep, true_nll=mle.nll, true_value=nm.TRUE_R)
    fig.set_size_inches(10, 2.4 * len(sweep))
    fig.tight_layout()
    curves = save_figure(fig, out / "lr_sweep.png")
    rows = [[f"{lr:g}", float(h["r"][-1]), float(h["loss"][-1])] for lr, h in sweep.items()]
    rows.append(["exact MLE (bisection)", mle.r, mle.nll])
    steps = len(next(iter(sweep.values()))["loss"])
    return Section(
        "Learning a neural factor by SGD (§2.4.4)",
        f"The prior r = sigmoid(θ₀) of the mixture (1 − r) N(−1, 1) + r N(3, 2²) learnt by SGD "
        f"({steps} full-batch steps at each of {len(sweep)} learning rates) from "
        f"{len(x):,} samples drawn with r = {nm.TRUE_R}.",
        f"The exact maximum-likelihood estimate on these samples is r̂ = {mle.r:.4f} ± "
        f"{mle.stderr:.4f} (standard error from the observed information). Whether SGD on the "
        "mean negative log-likelihood reaches it within the steps depends on the learning rate "
        "(figure 18 and the table).",
        figures=[
            Figure(
                density,
                f"The mixture's density with r = {nm.TRUE_R} (curve) over a histogram of the "
                f"{len(x):,} samples drawn by ancestral sampling.",
                "17",
            ),
            Figure(
                curves,
                "Training dynamics of θ₀ for each learning rate: the normalized negative "
                "log-likelihood (left) and the predicted r (right).",
                "18",
            ),
        ],
        tables=[
            ResultTable(
                "Where SGD ends, by learning rate", ["learning rate", "final r", "final NLL"], rows
            )
        ],
    )


SECTIONS = [kde_section, info_section, neural_section]
