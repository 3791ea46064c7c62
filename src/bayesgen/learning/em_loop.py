"""The one expectation–maximization loop, with restarts, for every model with latent variables
(§2.4.2): ``BayesNet.fit`` with missing entries, ``GaussianMixture`` and ``HMM`` (Baum–Welch).

A model takes part through an :class:`EMProblem`: its E-step ``summarize`` returns the expected
sufficient statistics and the objective at the current parameters (the log-likelihood, plus a
log prior for MAP), its M-step ``from_summaries`` maximizes the expected complete-data
objective given them. EM never decreases the objective,

    ℓ(θ_{t+1}) ≥ E_{q_t}[log p(x, z | θ_{t+1})] + H(q_t) ≥ ℓ(θ_t),   q_t = p(z | x, θ_t),

and the loop stops when a :class:`StoppingRule` on two consecutive objectives says so, or after
``max_iter`` iterations. ``n_init`` starts run and the one with the highest final objective is
kept (EM finds local maxima).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "EMProblem",
    "StoppingRule",
    "AbsoluteChange",
    "Improvement",
    "RelativeImprovement",
    "EMResult",
    "run_em",
]


class EMProblem(Protocol):
    def initialize(self, restart: int) -> float:
        """Set the starting parameters of start ``restart`` (0, 1, ...); return the objective
        to compare the first E-step's with (−inf for a fresh start)."""
        ...

    def summarize(self) -> tuple[Any, float]:
        """E-step: (expected sufficient statistics, objective) at the current parameters."""
        ...

    def from_summaries(self, stats: Any) -> None:
        """M-step: the parameters that maximize the expected objective given ``stats``."""
        ...

    def snapshot(self) -> Any:
        """A copy of the parameters (to keep the best start)."""
        ...

    def restore(self, snapshot: Any) -> None:
        """Put back parameters taken by :meth:`snapshot`."""
        ...

    def objective(self) -> float:
        """The objective at the current parameters (needed with ``evaluate_last`` only)."""
        ...


class StoppingRule:
    """``rule(previous, current)`` is True when EM has converged."""

    def __call__(self, previous: float, current: float) -> bool:
        raise TypeError(f"{type(self).__name__} is not a stopping rule")


@dataclass(frozen=True)
class AbsoluteChange(StoppingRule):
    """|ℓ_t − ℓ_{t−1}| < tol (scikit-learn's mixtures)."""

    tol: float

    def __call__(self, previous: float, current: float) -> bool:
        return abs(current - previous) < self.tol


@dataclass(frozen=True)
class Improvement(StoppingRule):
    """ℓ_t − ℓ_{t−1} < tol (hmmlearn)."""

    tol: float

    def __call__(self, previous: float, current: float) -> bool:
        return current - previous < self.tol


@dataclass(frozen=True)
class RelativeImprovement(StoppingRule):
    """ℓ_t − ℓ_{t−1} ≤ tol · |ℓ_t| (networks, whose ℓ grows with the data)."""

    tol: float

    def __call__(self, previous: float, current: float) -> bool:
        return current - previous <= self.tol * abs(current)


@dataclass
class EMResult:
    """The kept start: its objective at every E-step (``history``), whether it converged, the
    number of M-steps taken, and which start it was."""

    history: list[float] = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    restart: int = 0

    @property
    def objective(self) -> float:
        return self.history[-1] if self.history else -math.inf


def run_em(
    problem: EMProblem,
    *,
    max_iter: int,
    stop: StoppingRule,
    n_init: int = 1,
    step_after_convergence: bool = True,
    evaluate_last: bool = False,
    on_iteration: Callable[[int, int, float], None] | None = None,
) -> EMResult:
    """Run EM from ``n_init`` starts and leave ``problem`` at the best one.

    Each iteration is an E-step, then the M-step; the stopping rule compares the objectives of
    consecutive E-steps. ``step_after_convergence``: the iteration that detects convergence
    still takes its M-step (scikit-learn, hmmlearn), else it stops before it. ``evaluate_last``:
    a run that used every iteration ends with ``problem.objective()``, so ``history`` ends with
    the objective of the final parameters. ``on_iteration(restart, iteration, objective)`` reports
    progress.
    """
    best: tuple[EMResult, Any] | None = None
    for restart in range(n_init):
        previous = problem.initialize(restart)
        run = EMResult(restart=restart)
        for _ in range(max_iter):
            stats, objective = problem.summarize()
            run.history.append(objective)
            done = stop(previous, objective)
            previous = objective
            if done and not step_after_convergence:
                run.converged = True
                break
            problem.from_summaries(stats)
            run.n_iter += 1
            if on_iteration is not None:
                on_iteration(restart, run.n_iter, objective)
            if done:
                run.converged = True
                break
        else:
            if evaluate_last:
                run.history.append(problem.objective())
        kept = best[0].objective if best is not None else None
        if best is None or run.objective > kept or kept == -math.inf:
            best = (run, problem.snapshot() if n_init > 1 else None)
    run, state = best
    if n_init > 1:
        problem.restore(state)
    return run
