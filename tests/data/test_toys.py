import math

import numpy as np
import pytest
import torch
from knn_entropy import knn_entropy
from scipy import stats

from bayesgen.data.toys import TOYS, sample_toy, toy_entropy, toy_log_prob, toy_modes

# the 1-NN estimate's own bias at N = 50,000 (curved thin densities, e.g. rings: ~0.015)
KNN_BIAS = 0.02


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", TOYS)
def test_samples_are_seeded_and_shaped(name):
    a, b = sample_toy(name, 500, gen(3)), sample_toy(name, 500, gen(3))
    assert a.shape == (500, 2) and a.dtype == torch.get_default_dtype()
    assert torch.equal(a, b) and torch.isfinite(a).all()
    assert not torch.equal(a, sample_toy(name, 500, gen(4)))


@pytest.mark.parametrize("name", TOYS)
def test_entropy_agrees_with_a_nearest_neighbour_estimate(name):
    value, se = toy_entropy(name)
    x = sample_toy(name, 50_000, gen(11)).double().numpy()
    h_knn, knn_se = knn_entropy(x)
    assert abs(h_knn - value) < 4 * math.hypot(se, knn_se) + KNN_BIAS, (name, value, h_knn)


def test_entropies_match_the_literature():
    # the floors quoted for these generators (8gaussians: log 8 + Gaussian entropy, which
    # ignores the slight overlap of the modes, so the exact value lies a little below)
    assert toy_entropy("checkerboard") == (math.log(32), 0.0)
    quoted = {"moons": 2.38, "pinwheel": 2.32, "2spirals": 2.65, "swissroll2d": 2.69}
    for name, h in quoted.items():
        assert abs(toy_entropy(name)[0] - h) < 0.035, name
    h8, se8 = toy_entropy("8gaussians")
    no_overlap = math.log(8) + math.log(2 * math.pi * math.e * (0.5 / 1.414) ** 2)
    assert no_overlap - 0.02 < h8 < no_overlap + 4 * se8


@pytest.mark.parametrize(
    "name, half, h",
    [
        ("8gaussians", 5.0, 0.1),
        ("moons", 4.0, 0.08),
        ("2spirals", 4.0, 0.05),
        ("rings", 4.0, 0.04),
        ("swissroll2d", 4.5, 0.08),
    ],
)
def test_density_is_normalized_and_is_the_samplers(name, half, h):
    # grid quadrature (spacing h at most half the kernel's σ): the density integrates to 1,
    # and its entropy -∫ q log q equals the Monte Carlo -E log q(X) over the sampler's draws
    # only if KL(sampler || q) = 0
    g = torch.arange(-half, half + 1e-9, h, dtype=torch.float64)
    pts = torch.cartesian_prod(g, g)
    logq = toy_log_prob(name, pts)
    q = logq.exp()
    cell = h**2
    assert float(q.sum() * cell) == pytest.approx(1.0, abs=1e-4)
    h_grid = float(-(q * logq).sum() * cell)
    value, se = toy_entropy(name)
    assert abs(h_grid - value) < 4 * se, (h_grid, value, se)


def test_checkerboard_is_uniform_on_its_dark_squares():
    x = sample_toy("checkerboard", 32_000, gen(5)).double()
    assert torch.isfinite(toy_log_prob("checkerboard", x)).all()
    cells = torch.floor(x + 4).long()  # unit cells in [0, 8)²; the dark ones hold 1,000 each
    counts = torch.bincount(cells[:, 0] * 8 + cells[:, 1], minlength=64)
    dark = counts > 0
    assert int(dark.sum()) == 32
    assert stats.chisquare(counts[dark].numpy()).pvalue > 1e-3
    light = torch.tensor([[-3.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)  # not filled
    assert torch.isinf(toy_log_prob("checkerboard", light)).all()


@pytest.mark.parametrize("name, k, sigma", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_pacgan_modes(name, k, sigma):
    modes, s = toy_modes(name)
    assert modes.shape == (k, 2) and s == sigma
    if name == "ring8":
        assert torch.allclose(modes.norm(dim=1), torch.ones(8))
        assert torch.allclose(modes[2], torch.tensor([0.0, 1.0]), atol=1e-7)
    else:
        assert {tuple(m) for m in modes.tolist()} == {
            (float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)
        }
    x = sample_toy(name, 20_000, gen(2))
    d = torch.cdist(x, modes).min(1).values
    # within 3σ of the own mode: P(χ²_2 < 9) = 1 - e^{-4.5}
    p = 1 - math.exp(-4.5)
    frac = float((d < 3 * sigma).float().mean())
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / 20_000)
    nearest = torch.cdist(x, modes).argmin(1)
    assert stats.chisquare(torch.bincount(nearest, minlength=k).numpy()).pvalue > 1e-3


def test_moons_match_scikit_learn():
    from sklearn.datasets import make_moons

    ours = sample_toy("moons", 10_000, gen(0)).double().numpy()
    ref = make_moons(10_000, noise=0.1, random_state=0)[0] * 2 + np.array([-1, -0.2])
    for a in range(2):
        assert stats.ks_2samp(ours[:, a], ref[:, a]).pvalue > 1e-3
    r_ours = np.hypot(ours[:, 0] + 1, ours[:, 1] + 0.2)  # radius about the outer moon's centre
    r_ref = np.hypot(ref[:, 0] + 1, ref[:, 1] + 0.2)
    assert stats.ks_2samp(r_ours, r_ref).pvalue > 1e-3


def test_pinwheel_jacobian():
    from bayesgen.data import toys

    f = toys._pinwheel_features(5, gen(0))
    k = torch.arange(5, dtype=torch.float64)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(
            lambda v, i=i: toys._pinwheel_map(v[None], k[i : i + 1])[0], f[i]
        )
        assert float(torch.linalg.det(jac).abs().log()) == pytest.approx(
            float(toys._pinwheel_log_det(f[i : i + 1])), abs=1e-12
        )


def test_errors():
    with pytest.raises(ValueError, match="name must be one of"):
        sample_toy("spiral", 10)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        sample_toy("moons", 0)
    with pytest.raises(ValueError, match="written density"):
        toy_log_prob("pinwheel", torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(M, 2\)"):
        toy_log_prob("moons", torch.zeros(3))
    with pytest.raises(ValueError, match="name must be one of"):
        toy_modes("moons")
