"""The two-expert switch: EM for the mixture weight against a direct maximisation, the mixture
against both experts on text where each expert is right half the time."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.optimize import minimize_scalar

from bayesgen.generative.experts import (
    fit_switch_weight,
    mixture_log_probs,
    switch_dag,
    switch_posterior,
)


def _experts(n: int = 4000, seed: int = 0):
    """Per-token log-probabilities of two experts: A is sharp on the first kind of token and
    vague on the second, B the reverse; 30 % of the tokens are of the first kind."""
    g = torch.Generator().manual_seed(seed)
    first = torch.rand(n, generator=g) < 0.3
    good = torch.rand(n, generator=g).double() * 0.2 + 0.7  # p of the right expert
    bad = torch.rand(n, generator=g).double() * 0.05 + 0.01
    a = torch.where(first, good, bad).log()
    b = torch.where(first, bad, good).log()
    return a, b


def test_em_finds_the_maximum_likelihood_weight():
    a, b = _experts()
    w, trace = fit_switch_weight(a, b)
    best = minimize_scalar(
        lambda v: -float(mixture_log_probs(a, b, v).mean()),
        bounds=(1e-6, 1 - 1e-6),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert w == pytest.approx(best.x, abs=1e-5)
    assert all(y >= x - 1e-12 for x, y in zip(trace, trace[1:], strict=False))  # EM ascends
    assert 0.2 < w < 0.4  # about the share of tokens expert A is right on


def test_the_mixture_beats_both_experts_on_held_out_tokens():
    a, b = _experts(seed=0)
    w, _ = fit_switch_weight(a, b)
    a2, b2 = _experts(seed=1)  # fresh tokens, not used to fit w
    mix = float(-mixture_log_probs(a2, b2, w).mean())
    assert mix < float(-a2.mean()) and mix < float(-b2.mean())


def test_mixture_values_and_posterior():
    a = torch.tensor([math.log(0.5), math.log(0.1)])
    b = torch.tensor([math.log(0.1), math.log(0.3)])
    lp = mixture_log_probs(a, b, 0.25)
    torch.testing.assert_close(lp.exp(), torch.tensor([0.2, 0.25], dtype=torch.float64))
    r = switch_posterior(a, b, 0.25)
    torch.testing.assert_close(r, torch.tensor([0.125 / 0.2, 0.025 / 0.25], dtype=torch.float64))
    torch.testing.assert_close(mixture_log_probs(a, b, 1.0), a.double())


def test_bad_inputs_and_the_dag():
    with pytest.raises(ValueError, match="same length"):
        fit_switch_weight(torch.zeros(3) - 1, torch.zeros(2) - 1)
    with pytest.raises(ValueError, match="log-probabilities"):
        fit_switch_weight(torch.ones(3), torch.zeros(3) - 1)
    with pytest.raises(ValueError, match="w must be"):
        mixture_log_probs(torch.zeros(2) - 1, torch.zeros(2) - 1, 1.5)
    dag = switch_dag(3)
    assert set(dag.parents("x3")) == {"s3", "x1", "x2"}
    assert set(dag.roots()) == {"s1", "s2", "s3"}
