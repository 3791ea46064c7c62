import math

import numpy as np
import pytest
import torch
from knn_entropy import knn_entropy
from scipy import stats
from sklearn.datasets import make_swiss_roll

from bayesgen.data.swissroll import (
    swiss_roll,
    swiss_roll_2d,
    swiss_roll_entropy,
    swiss_roll_log_prob,
)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def energy_permutation_pvalue(a: np.ndarray, b: np.ndarray, permutations: int, seed: int):
    """Permutation p-value of the energy statistic 2 E|A-B| - E|A-A'| - E|B-B'|, from one
    pooled distance matrix."""
    z = np.concatenate([a, b])
    d = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))
    n = len(a)

    def stat(idx):
        x, y = idx[:n], idx[n:]
        return 2 * d[np.ix_(x, y)].mean() - d[np.ix_(x, x)].mean() - d[np.ix_(y, y)].mean()

    rng = np.random.default_rng(seed)
    observed = stat(np.arange(len(z)))
    null = np.array([stat(rng.permutation(len(z))) for _ in range(permutations)])
    return (1 + (null >= observed).sum()) / (1 + permutations)


def test_same_distribution_as_scikit_learn():
    x, t = swiss_roll(10_000, 0.1, generator=gen(0))
    ref, t_ref = make_swiss_roll(10_000, noise=0.1, random_state=0)
    x = x.double().numpy()
    for a in range(3):
        assert stats.ks_2samp(x[:, a], ref[:, a]).pvalue > 1e-3
    assert stats.ks_2samp(t.numpy(), t_ref).pvalue > 1e-3
    r, r_ref = np.hypot(x[:, 0], x[:, 2]), np.hypot(ref[:, 0], ref[:, 2])
    assert stats.ks_2samp(r, r_ref).pvalue > 1e-3
    assert energy_permutation_pvalue(x[:400], ref[:400], 200, 0) > 1e-2


def test_t_is_the_roll_parameter():
    x, t = swiss_roll(5_000, 0.1, generator=gen(1))
    assert t.min() >= 1.5 * math.pi and t.max() <= 4.5 * math.pi
    resid = x[:, [0, 2]] - torch.stack([t * torch.cos(t), t * torch.sin(t)], 1)
    # residuals are the noise: N(0, 0.1²) on each axis
    assert float(resid.std()) == pytest.approx(0.1, rel=0.03)
    assert 0 <= float(x[:, 1].min()) + 0.5 and float(x[:, 1].max()) <= 21.5


def test_2d_matches_ffjord_convention():
    ours = swiss_roll_2d(10_000, generator=gen(2)).double().numpy()
    ref = make_swiss_roll(10_000, noise=1.0, random_state=2)[0][:, [0, 2]] / 5
    for a in range(2):
        assert stats.ks_2samp(ours[:, a], ref[:, a]).pvalue > 1e-3


def test_entropy_agrees_with_nearest_neighbours_and_height_part():
    value, se = swiss_roll_entropy(0.1)
    x = swiss_roll(30_000, 0.1, generator=gen(3))[0].double().numpy()
    h_knn, knn_se = knn_entropy(x)
    assert abs(h_knn - value) < 4 * math.hypot(se, knn_se) + 0.03, (value, h_knn)
    # the density factorizes: spiral (x_1, x_3) times height x_2; the height's entropy is
    # close to log 21 (uniform on [0, 21] blurred by 0.1): the rest is the spiral's
    spiral = swiss_roll(30_000, 0.1, generator=gen(4))[0].double().numpy()[:, [0, 2]]
    h_spiral = knn_entropy(spiral)[0]
    assert abs(value - (h_spiral + math.log(21))) < 0.05


def test_log_prob_integrates_along_the_height():
    # ∫ p(x_1, x_2, x_3) dx_2 over a fine grid equals the spiral part alone at fixed (x_1, x_3)
    h = torch.linspace(-1.0, 22.0, 4601, dtype=torch.float64)
    pts = torch.stack(
        [torch.full_like(h, 10.0 * math.cos(10.0)), h, torch.full_like(h, 10.0 * math.sin(10.0))], 1
    )
    lp = swiss_roll_log_prob(pts)
    mass_height = float(torch.trapezoid(lp.exp(), h)) / float(lp.exp()[2300])  # / p at centre
    assert mass_height == pytest.approx(21.0, rel=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        swiss_roll(0)
    with pytest.raises(ValueError, match="noise must be"):
        swiss_roll(10, -1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(M, 3\)"):
        swiss_roll_log_prob(torch.zeros(4, 2))
