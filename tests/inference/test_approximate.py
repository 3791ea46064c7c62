"""Approximate inference: each sampler converges to the exact answer within its reported error."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import bnlearn_path

from bayesgen import BayesNet, Continuous, Discrete, Gaussian, LinearGaussian, Table
from bayesgen.inference import (
    Estimate,
    ExactInference,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
)


@pytest.fixture(scope="module")
def alarm():
    from bayesgen.io import read_bif

    net = read_bif(bnlearn_path("alarm"))
    return net, ExactInference.from_network(net)


def within(est: Estimate, exact: torch.Tensor, k: float = 4.0) -> None:
    """|estimate − exact| ≤ k·stderr, plus 3/n_eff for states never (or always) drawn."""
    slack = k * est.stderr + 3.0 / est.n_effective
    diff = (est.value - exact).abs()
    assert bool((diff <= slack).all()), f"{est}\nexact {exact.tolist()}\n|diff| {diff.tolist()}"


ALARM_EVIDENCE = {"HRBP": "HIGH", "CO": "LOW", "BP": "LOW"}
ALARM_TARGETS = ["HYPOVOLEMIA", "LVFAILURE", "STROKEVOLUME"]


def test_rejection_and_likelihood_weighting_converge(alarm):
    net, eng = alarm
    for method in (rejection_sampling, likelihood_weighting):
        out = method(net, ALARM_TARGETS, ALARM_EVIDENCE, n=40_000, seed=0)
        for t in ALARM_TARGETS:
            assert out[t].n_effective > 200
            within(out[t], eng.query(t, ALARM_EVIDENCE).probs)


def test_gibbs_converges(alarm):
    net, eng = alarm
    out = gibbs_sampling(net, ALARM_TARGETS, ALARM_EVIDENCE, n=200, chains=32, burn_in=50, seed=1)
    for t in ALARM_TARGETS:
        within(out[t], eng.query(t, ALARM_EVIDENCE).probs)
        assert float(out[t].stderr.max()) < 0.05


def test_reported_errors_are_calibrated(alarm):
    """Over 30 seeds about 95% of the estimates fall within 2 reported standard errors (at least
    80% must), and the error shrinks like 1/sqrt(n)."""
    net, eng = alarm
    exact = eng.query("LVFAILURE", ALARM_EVIDENCE).probs[0]
    for method in (rejection_sampling, likelihood_weighting):
        z = []
        for seed in range(30):
            est = method(net, "LVFAILURE", ALARM_EVIDENCE, n=2000, seed=seed)
            z.append(float((est.probs[0] - exact) / est.stderr[0]))
        inside = sum(abs(v) < 2 for v in z) / len(z)
        assert inside >= 0.8, (method.__name__, z)
        small = method(net, "LVFAILURE", ALARM_EVIDENCE, n=4000, seed=99).stderr[0]
        large = method(net, "LVFAILURE", ALARM_EVIDENCE, n=16000, seed=99).stderr[0]
        assert float(large / small) == pytest.approx(0.5, rel=0.2)


def test_likelihood_weighting_on_a_hybrid_network():
    """z (3 states) -> x ~ N(μ_z, σ_z²) -> y ~ N(w x + b, s²), y observed: P(z | y) and
    E[x | y] in closed form."""
    z = Discrete("z", ["a", "b", "c"])
    x, y = Continuous("x"), Continuous("y")
    prior = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mu = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    sigma = torch.tensor([0.6, 1.0, 0.5], dtype=torch.float64)
    w, b, s = 1.5, 0.2, 0.7
    net = BayesNet(
        [
            Table(z, probs=prior),
            Gaussian(x, [z], mean=mu, std=sigma),
            LinearGaussian(y, [x], weight=[[w]], bias=[b], scale=[s]),
        ]
    )
    y_obs = 1.1
    var_y = w**2 * sigma**2 + s**2
    like = torch.exp(-0.5 * (y_obs - (w * mu + b)) ** 2 / var_y) / var_y.sqrt()
    post_z = prior * like / (prior * like).sum()
    post_x = mu + sigma**2 * w / var_y * (y_obs - w * mu - b)  # E[x | y, z]
    out = likelihood_weighting(net, ["z", "x"], {"y": y_obs}, n=50_000, seed=3)
    within(out["z"], post_z)
    within(out["x"], (post_z * post_x).sum())
    assert out["x"].mean.shape == ()
    with pytest.raises(ValueError, match="rejection sampling needs discrete evidence"):
        rejection_sampling(net, "z", {"y": y_obs})
    with pytest.raises(ValueError, match="gibbs_sampling needs a discrete network of tables"):
        gibbs_sampling(net, "z", {"y": y_obs})


def test_estimate_text_and_errors(alarm):
    net, _ = alarm
    est = likelihood_weighting(net, "LVFAILURE", ALARM_EVIDENCE, n=1000, seed=0)
    text = str(est)
    assert text.startswith("likelihood weighting: LVFAILURE")
    assert "LVFAILURE=TRUE" in text and " ± " in text
    with pytest.raises(ValueError, match="unknown target 'nope'"):
        likelihood_weighting(net, "nope", n=10)
    with pytest.raises(ValueError, match="unknown state 'HUGE' of 'HRBP'"):
        likelihood_weighting(net, "LVFAILURE", {"HRBP": "HUGE"}, n=10)
    with pytest.raises(ValueError, match=r"\['CO'\] are both query targets and observed"):
        rejection_sampling(net, "CO", {"CO": "LOW"}, n=10)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        rejection_sampling(net, "CO", n=0)
    with pytest.raises(ValueError, match="chains must be at least 2"):
        gibbs_sampling(net, "CO", chains=1)
    with pytest.raises(AttributeError, match="discrete: use .probs"):
        _ = est.mean


def test_impossible_evidence():
    a, b = Discrete("a", 2), Discrete("b", 2)
    net = BayesNet([Table(a, probs=[1.0, 0.0]), Table(b, [a], probs=[[1.0, 0.0], [0.5, 0.5]])])
    with pytest.raises(ValueError, match="no sample out of 500 matched the evidence"):
        rejection_sampling(net, "a", {"b": 1}, n=500, seed=0)
    with pytest.raises(ValueError, match="has probability zero"):
        likelihood_weighting(net, "a", {"b": 1}, n=500, seed=0)
    with pytest.raises(ValueError, match="has probability zero"):
        gibbs_sampling(net, "a", {"b": 1}, n=10, seed=0)


def test_seed_reproducible_and_global_state_untouched(alarm):
    net, _ = alarm
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    one = likelihood_weighting(net, "LVFAILURE", ALARM_EVIDENCE, n=500, seed=7)
    after = torch.rand(1)
    two = likelihood_weighting(net, "LVFAILURE", ALARM_EVIDENCE, n=500, seed=7)
    assert torch.equal(before, after)
    assert torch.equal(one.probs, two.probs)
    assert math.isfinite(float(one.stderr.sum()))
