import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

from bayesgen import info
from bayesgen.data.source import TensorData
from bayesgen.eval import (
    energy_distance,
    importance_log_prob,
    importance_sampled_log_prob,
    mmd,
    mode_coverage,
    nll,
    sliced_wasserstein,
)

# the conjugate model z ~ N(0, 1), x | z ~ N(z, s²): p(x) = N(0, 1 + s²),
# p(z | x) = N(x / (1 + s²), s² / (1 + s²))
S = 0.5


def log_joint(x, z):  # x (B, 1), z (B, K) -> (B, K)
    return Normal(0.0, 1.0).log_prob(z) + Normal(z, S).log_prob(x)


def posterior(x):
    v = S**2 / (1 + S**2)
    return Normal(x / (1 + S**2), math.sqrt(v))


def exact(x):
    return Normal(0.0, math.sqrt(1 + S**2)).log_prob(x)


def test_importance_with_the_posterior_is_exact():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]  # (B, 1)
    q = posterior(x)
    z = q.sample((10,)).squeeze(-1).T  # (B, 10)
    log_w = log_joint(x, z) - q.log_prob(z)  # every weight is p(x)
    assert torch.allclose(importance_log_prob(log_w), exact(x[:, 0]), atol=1e-12)


def test_importance_with_the_prior_is_unbiased_and_chunks_agree():
    torch.manual_seed(0)
    x = torch.tensor([[0.3], [1.5]], dtype=torch.float64)
    reps, k = 20_000, 5
    z = torch.randn(reps, 2, k, dtype=torch.float64)  # from the prior q = p(z)
    log_w = Normal(z, S).log_prob(x)  # (reps, B, k): log p(x | z)
    p_hat = importance_log_prob(log_w.reshape(-1, k)).reshape(reps, 2).exp()
    ratio = p_hat / exact(x[:, 0]).exp()  # E = 1 (unbiased for p, not for log p)
    mean, se = ratio.mean(0), ratio.std(0) / math.sqrt(reps)
    assert ((mean - 1).abs() < 4 * se).all(), (mean, se)
    # log of an unbiased estimate is biased low (Jensen)
    assert (
        importance_log_prob(log_w.reshape(-1, k)).reshape(reps, 2).mean(0) < exact(x[:, 0])
    ).all()
    # the chunked driver gives the one-shot value for the same draws
    flat = log_w[0]  # (B, k)
    parts = iter([flat[:, :2], flat[:, 2:4], flat[:, 4:]])
    chunked = importance_sampled_log_prob(lambda m: next(parts), k, chunk=2)
    assert torch.allclose(chunked, importance_log_prob(flat), atol=1e-12)


def test_importance_errors():
    with pytest.raises(ValueError, match=r"log_w must have shape \(B, K\)"):
        importance_log_prob(torch.zeros(3))
    with pytest.raises(ValueError, match=r"must return shape \(B, 2\)"):
        importance_sampled_log_prob(lambda m: torch.zeros(3, m + 1), 4, chunk=2)


class GaussModel(torch.nn.Module):
    """A model with an exact log_prob and a named bound (log_prob - 1); conditional: the
    label y shifts the mean by y."""

    def __init__(self, conditional=False):
        super().__init__()
        self.loc = torch.nn.Parameter(torch.zeros(2))
        self.conditional = conditional

    def log_prob(self, x, y=None):
        if (y is not None) != self.conditional:
            raise ValueError("a condition y exactly when conditional")
        loc = self.loc if y is None else self.loc + y[:, None]
        return Normal(loc, 1.0).log_prob(x).sum(-1)

    def elbo(self, x, y=None):
        return self.log_prob(x) - 1.0


def test_nll_averages_over_the_source():
    x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    model = GaussModel()
    est = nll(model, TensorData(x), batch_size=64)
    ref = -Normal(0.0, 1.0).log_prob(x).sum(-1)
    assert float(est.value) == pytest.approx(float(ref.mean()), rel=1e-6)
    assert float(est.stderr) == pytest.approx(float(ref.std() / math.sqrt(1000)), rel=1e-5)
    assert float(nll(model, TensorData(x), 1000, bound="elbo").value) == pytest.approx(
        float(ref.mean()) + 1, rel=1e-6
    )
    with pytest.raises(ValueError, match="bound must name a method"):
        nll(model, TensorData(x), bound="iwae")
    # labelled data: an unconditional model ignores y, a conditional one gets it
    y = torch.arange(1000) % 3
    labelled = TensorData(x + y[:, None], y)
    assert float(nll(model, labelled).value) > float(est.value) + 0.5
    cond = nll(GaussModel(conditional=True), labelled, batch_size=100)
    assert float(cond.value) == pytest.approx(float(ref.mean()), rel=1e-5)


def test_distances_are_infos():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(300, 2, generator=g), torch.randn(200, 2, generator=g) + 0.5
    assert torch.equal(energy_distance(a, b), info.energy_distance(a, b))
    assert torch.equal(mmd(a, b), info.mmd2(a, b))
    # 1-D: scipy's energy distance
    assert float(energy_distance(a[:, 0], b[:, 0])) == pytest.approx(
        stats.energy_distance(a[:, 0].numpy(), b[:, 0].numpy()), rel=1e-5
    )
    # images are compared as flattened rows
    assert torch.equal(
        energy_distance(a.reshape(300, 1, 2), b.reshape(200, 2, 1)), energy_distance(a, b)
    )


def test_sliced_wasserstein_exact_cases():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=200), rng.normal(1.0, 2.0, size=150)
    # 1-D: every projection is ±1, SW_p = W_p; W_1 is scipy's
    sw1 = sliced_wasserstein(torch.tensor(u), torch.tensor(v), 8, p=1)
    assert float(sw1) == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-10)
    # points on the line through e = (cos α, sin α) in 2-D: θ·x = cos(θ - α) u, so
    # SW_2² = W_2² · mean cos² = W_2² / 2 over directions equally spaced on the half-circle
    alpha = 0.7
    e = torch.tensor([math.cos(alpha), math.sin(alpha)], dtype=torch.float64)
    a, b = torch.tensor(u)[:, None] * e, torch.tensor(v)[:, None] * e
    ang = torch.arange(64, dtype=torch.float64) * math.pi / 64
    theta = torch.stack([torch.cos(ang), torch.sin(ang)], 1)
    w2 = info.wasserstein_distance(torch.tensor(u), torch.tensor(v), p=2)
    assert float(sliced_wasserstein(a, b, theta)) == pytest.approx(
        float(w2) / math.sqrt(2), rel=1e-10
    )
    # seeded random directions: reproducible
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(
        sliced_wasserstein(a, b, 32, generator=g1), sliced_wasserstein(a, b, 32, generator=g2)
    )


def test_mode_coverage_constructed():
    modes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sigma = 0.01
    # 6 samples at mode 0, 2 at mode 1 (one 2.9σ off), 1 off by 3.1σ near mode 2, 1 far away
    x = torch.tensor([[0.0, 0.0]] * 6 + [[1.0, 0.0], [1.029, 0.0], [0.0, 1.031], [0.5, 0.5]])
    out = mode_coverage(x, modes, sigma)
    assert out["modes"] == 2
    assert out["high_quality"] == pytest.approx(0.8)
    h = np.array([6, 2, 0, 0]) / 8
    assert out["kl"] == pytest.approx(float(np.sum(h[h > 0] * np.log(h[h > 0] * 4))), rel=1e-12)
    perfect = mode_coverage(modes.repeat(5, 1), modes, sigma)
    assert perfect == {"modes": 4, "high_quality": 1.0, "kl": pytest.approx(0.0, abs=1e-15)}
    none = mode_coverage(torch.full((3, 2), 9.0), modes, sigma)
    assert none["modes"] == 0 and none["high_quality"] == 0.0 and math.isnan(none["kl"])


def test_mode_coverage_of_the_true_sampler():
    from bayesgen.data.toys import sample_toy, toy_modes

    modes, sigma = toy_modes("grid25")
    out = mode_coverage(sample_toy("grid25", 2500, torch.Generator().manual_seed(0)), modes, sigma)
    assert out["modes"] == 25
    p = 1 - math.exp(-4.5)  # P(|ε| < 3σ) in 2-D
    assert abs(out["high_quality"] - p) < 4 * math.sqrt(p * (1 - p) / 2500)
    # the KL of a multinomial histogram to uniform: about (K - 1) / 2N
    assert out["kl"] < 5 * 24 / (2 * 2500)
    with pytest.raises(ValueError, match="share D"):
        mode_coverage(torch.zeros(3, 3), modes, sigma)
    with pytest.raises(ValueError, match="sigma must be"):
        mode_coverage(torch.zeros(3, 2), modes, 0.0)
