"""Monte Carlo estimates of p(x) = E_p(z)[p(x|z)] and importance sampling, against exact values
on a discrete mixture and on a linear-Gaussian latent model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from bayesgen import BayesNet, Continuous, Discrete, Gaussian, LinearGaussian, Table
from bayesgen.learning.montecarlo import Estimate, marginal_likelihood_mc
from bayesgen.learning.neural_mixture import COMPONENTS, TRUE_R, mixture_network

X = torch.tensor([-2.5, -1.0, 0.3, 1.7, 3.0, 6.5], dtype=torch.float64)


def exact_mixture(x: np.ndarray) -> np.ndarray:
    (m0, s0), (m1, s1) = COMPONENTS
    return (1 - TRUE_R) * stats.norm.pdf(x, m0, s0) + TRUE_R * stats.norm.pdf(x, m1, s1)


def test_simple_monte_carlo_is_within_its_standard_error_of_the_exact_mixture():
    net = mixture_network()
    est = marginal_likelihood_mc(net, {"x": X}, n_samples=4000, seed=0)
    assert isinstance(est, Estimate) and est.value.shape == (6,) and est.n_samples == 4000
    exact = exact_mixture(X.numpy())
    z = np.abs(est.value.numpy() - exact) / est.stderr.numpy()
    assert (z < 4).all(), z
    # the standard error is the binomial one: sd of p(x|z) over z ~ p(z), over √S
    (m0, s0), (m1, s1) = COMPONENTS
    p0, p1 = stats.norm.pdf(X.numpy(), m0, s0), stats.norm.pdf(X.numpy(), m1, s1)
    sd = np.abs(p1 - p0) * math.sqrt(TRUE_R * (1 - TRUE_R))
    np.testing.assert_allclose(est.stderr.numpy(), sd / math.sqrt(4000), rtol=0.1)
    np.testing.assert_allclose(est.log_value.numpy(), np.log(est.value.numpy()), rtol=1e-12)
    lo, hi = est.interval(1.96)
    assert (lo < est.value).all() and (est.value < hi).all()


def test_importance_sampling_with_the_posterior_has_zero_variance():
    net = mixture_network()
    exact = exact_mixture(X.numpy())
    (m0, s0), (m1, s1) = COMPONENTS
    post1 = TRUE_R * stats.norm.pdf(X.numpy(), m1, s1) / exact  # p(z=1 | x)
    q = torch.distributions.Categorical(probs=torch.as_tensor(np.stack([1 - post1, post1], 1)))
    est = marginal_likelihood_mc(net, {"x": X}, n_samples=50, proposal={"z": q}, seed=1)
    np.testing.assert_allclose(est.value.numpy(), exact, rtol=1e-10)
    assert float(est.stderr.max()) < 1e-12
    np.testing.assert_allclose(est.ess.numpy(), 50.0)
    # a poor but valid proposal (uniform) is still unbiased: within 4 standard errors
    flat = torch.distributions.Categorical(probs=torch.full((2,), 0.5, dtype=torch.float64))
    est = marginal_likelihood_mc(net, {"x": X}, n_samples=4000, proposal={"z": flat}, seed=2)
    assert (np.abs(est.value.numpy() - exact) < 4 * est.stderr.numpy()).all()


def test_continuous_latent_and_a_gaussian_proposal():
    """z ~ N(0, 1), x | z ~ N(2z + 1, 0.5²): p(x) = N(1, 4 + 0.25) exactly."""
    zv, xv = Continuous("z"), Continuous("x")
    factors = (
        Gaussian(zv, mean=0.0, std=1.0),
        LinearGaussian(xv, [zv], weight=[[2.0]], bias=[1.0], scale=[0.5]),
    )
    x = torch.tensor([-3.0, 0.0, 1.0, 2.5, 6.0], dtype=torch.float64)
    exact = stats.norm.pdf(x.numpy(), 1.0, math.sqrt(4.25))
    simple = marginal_likelihood_mc(factors, {"x": x}, n_samples=20000, seed=3)
    assert (np.abs(simple.value.numpy() - exact) < 4 * simple.stderr.numpy()).all()
    # the exact posterior z | x ~ N(2(x−1)/4.25, 0.25/4.25) as the proposal
    post = torch.distributions.Normal(2 * (x - 1) / 4.25, math.sqrt(0.25 / 4.25))
    exact_is = marginal_likelihood_mc(
        factors, {"x": x}, n_samples=100, proposal={"z": post}, seed=4
    )
    np.testing.assert_allclose(exact_is.value.numpy(), exact, rtol=1e-10)
    # a proposal given as a function of the observations
    wide = marginal_likelihood_mc(
        factors,
        {"x": x},
        n_samples=4000,
        seed=5,
        proposal=lambda obs: {"z": torch.distributions.Normal(2 * (obs["x"] - 1) / 4.25, 0.4)},
    )
    assert (np.abs(wide.value.numpy() - exact) < 4 * wide.stderr.numpy()).all()
    # a proposal closer to the posterior: a smaller spread of the weights per sample
    assert (wide.stderr * math.sqrt(4000) < simple.stderr * math.sqrt(20000)).all()


def test_observed_child_of_a_latent_in_a_discrete_network_is_likelihood_weighting():
    a, b, c = Discrete("a", 2), Discrete("b", 3), Discrete("c", 2)
    net = BayesNet(
        [
            Table(a, probs=[0.3, 0.7]),
            Table(b, [a], probs=[[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]),
            Table(c, [b], probs=[[0.9, 0.1], [0.5, 0.5], [0.05, 0.95]]),
        ]
    )
    obs = {"a": torch.tensor([0, 1, 1]), "c": torch.tensor([1, 0, 1])}
    est = marginal_likelihood_mc(net, obs, n_samples=5000, seed=6)
    joint = net.full_joint()  # (a, b, c)
    exact = torch.stack([joint[i, :, k].sum() for i, k in zip([0, 1, 1], [1, 0, 1], strict=True)])
    assert (((est.value - exact).abs() / est.stderr) < 4).all()


def test_bad_arguments():
    net = mixture_network()
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        marginal_likelihood_mc(net, {"x": X}, n_samples=1)
    q = torch.distributions.Normal(0.0, 1.0)
    with pytest.raises(ValueError, match=r"proposal covers \['x'\], which are not latent"):
        marginal_likelihood_mc(net, {"x": X}, proposal={"x": q})
    with pytest.raises(TypeError, match="model must be a BayesNet or a sequence of Factors"):
        marginal_likelihood_mc("mixture", {"x": X})
    bad = torch.distributions.Categorical(probs=torch.full((4, 2), 0.5))
    with pytest.raises(
        ValueError, match=r"proposal for 'z' has batch shape \(4,\), expected \(6,\)"
    ):
        marginal_likelihood_mc(net, {"x": X}, proposal={"z": bad})
