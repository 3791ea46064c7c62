"""Figure 17: a 1-D distribution's density drawn over a histogram of its samples."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal  # noqa: E402

from bayesgen.learning import neural_mixture as nm  # noqa: E402
from bayesgen.plot import plot_density_histogram  # noqa: E402


def test_density_histogram_draws_the_chapter_mixture_over_its_samples():
    (m0, s0), (m1, s1) = nm.COMPONENTS
    p = MixtureSameFamily(
        Categorical(torch.tensor([1 - nm.TRUE_R, nm.TRUE_R], dtype=torch.float64)),
        Normal(torch.tensor([m0, m1], dtype=torch.float64), torch.tensor([s0, s1])),
    )
    x = nm.sample_mixture(1000, seed=0)
    fig, ax = plt.subplots()
    assert plot_density_histogram(p, x, ax=ax, bins=50) is ax
    xs, ys = ax.lines[0].get_data()
    # the curve is the distribution's own density on [min x, max x]
    np.testing.assert_allclose(ys, p.log_prob(torch.as_tensor(xs)).exp().numpy(), rtol=1e-12)
    assert xs[0] == pytest.approx(float(x.min())) and xs[-1] == pytest.approx(float(x.max()))
    # a density histogram: 50 bars of total area 1
    bars = ax.patches
    assert len(bars) == 50
    assert sum(b.get_height() * b.get_width() for b in bars) == pytest.approx(1.0)
    # the samples follow the curve: the mass of [m0 - s0, m0 + s0] agrees within 4 standard errors
    lo, hi = m0 - s0, m0 + s0
    inside = ((x >= lo) & (x <= hi)).double().mean().item()
    mass = float(p.cdf(torch.tensor(hi, dtype=torch.float64)) - p.cdf(torch.tensor(lo)))
    assert abs(inside - mass) < 4 * (mass * (1 - mass) / len(x)) ** 0.5
    plt.close(fig)


def test_density_histogram_checks_its_arguments():
    x = torch.randn(10)
    with pytest.raises(ValueError, match="density must be a torch distribution over scalars"):
        plot_density_histogram(Independent(Normal(torch.zeros(2), 1.0), 1), x)
    with pytest.raises(ValueError, match=r"density must have batch shape \(\), got \(2,\)"):
        plot_density_histogram(Normal(torch.zeros(2), 1.0), x)
    with pytest.raises(ValueError, match="bins must be an int >= 1, got 0"):
        plot_density_histogram(Normal(0.0, 1.0), x, bins=0)
