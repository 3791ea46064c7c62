"""The one EM loop: on a mixing weight whose MLE a 1-D search finds, the stopping rules, the
M-step after convergence or not, the final evaluation, and restarts keeping the best start."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import optimize

from bayesgen.learning.em_loop import (
    AbsoluteChange,
    Improvement,
    RelativeImprovement,
    run_em,
)


class MixingWeight:
    """x ~ π N(−1, 1) + (1 − π) N(2, 1), only π unknown: the E-step's responsibilities r_i,
    the M-step π = mean r_i; the objective is the mean log-likelihood."""

    def __init__(self, x: torch.Tensor, starts=(0.5,)):
        self.x, self.starts, self.pi = x, starts, None
        self.p0 = torch.distributions.Normal(-1.0, 1.0).log_prob(x).exp()
        self.p1 = torch.distributions.Normal(2.0, 1.0).log_prob(x).exp()
        self.calls = {"summarize": 0, "objective": 0}

    def loglik(self, pi: float) -> float:
        return float((pi * self.p0 + (1 - pi) * self.p1).log().mean())

    def initialize(self, restart: int) -> float:
        self.pi = self.starts[restart]
        return -math.inf

    def summarize(self):
        self.calls["summarize"] += 1
        r = self.pi * self.p0 / (self.pi * self.p0 + (1 - self.pi) * self.p1)
        return r, self.loglik(self.pi)

    def objective(self) -> float:
        self.calls["objective"] += 1
        return self.loglik(self.pi)

    def from_summaries(self, r) -> None:
        self.pi = float(r.mean())

    def snapshot(self):
        return self.pi

    def restore(self, pi) -> None:
        self.pi = pi


@pytest.fixture
def x():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(2000, generator=g, dtype=torch.float64) < 0.3
    return torch.where(z, -1.0, 2.0) + torch.randn(2000, generator=g, dtype=torch.float64)


def test_em_reaches_the_mle_and_never_decreases(x):
    problem = MixingWeight(x)
    run = run_em(problem, max_iter=500, stop=AbsoluteChange(1e-12))
    mle = optimize.minimize_scalar(lambda p: -problem.loglik(p), bounds=(1e-6, 1 - 1e-6),
                                   method="bounded", options={"xatol": 1e-10}).x  # fmt: skip
    assert run.converged and problem.pi == pytest.approx(mle, abs=1e-5)
    assert all(b >= a - 1e-15 for a, b in zip(run.history, run.history[1:], strict=False))
    assert run.n_iter == len(run.history)  # the iteration that converged took its M-step


@pytest.mark.parametrize(
    ("rule", "previous", "current", "done"),
    [
        (AbsoluteChange(0.1), -5.0, -5.05, True),
        (AbsoluteChange(0.1), -5.0, -5.2, False),  # a decrease of 0.2 is not convergence
        (Improvement(0.1), -5.0, -5.2, True),  # hmmlearn: any decrease stops
        (RelativeImprovement(0.01), -100.0, -99.5, True),
        (RelativeImprovement(0.01), -100.0, -98.0, False),
        (AbsoluteChange(0.1), -math.inf, -5.0, False),
    ],
)
def test_stopping_rules(rule, previous, current, done):
    assert rule(previous, current) is done


def test_stopping_before_the_m_step_and_evaluating_the_last_parameters(x):
    a = MixingWeight(x)
    run_a = run_em(a, max_iter=500, stop=RelativeImprovement(1e-9), step_after_convergence=False)
    assert run_a.converged and run_a.n_iter == len(run_a.history) - 1
    b = MixingWeight(x)
    run_b = run_em(b, max_iter=3, stop=AbsoluteChange(0.0), evaluate_last=True)
    assert not run_b.converged and run_b.n_iter == 3 and len(run_b.history) == 4
    assert b.calls == {"summarize": 3, "objective": 1}
    assert run_b.history[-1] == pytest.approx(b.loglik(b.pi))


def test_restarts_keep_the_best_start(x):
    """Two starts stopped after one iteration: the kept parameters are those of the start with
    the higher final objective, whichever order they ran in."""
    for starts in ((0.02, 0.3), (0.3, 0.02)):
        problem = MixingWeight(x, starts)
        run = run_em(problem, max_iter=1, stop=AbsoluteChange(0.0), n_init=2)
        best = starts.index(0.3)
        assert run.restart == best
        assert run.objective == pytest.approx(problem.loglik(0.3))
        one = MixingWeight(x, (0.3,))
        run_em(one, max_iter=1, stop=AbsoluteChange(0.0))
        assert problem.pi == one.pi  # restored, not left at the last start
