"""Baum–Welch: EM for an HMM, from random starts, with restarts.

Each iteration of the one EM loop (:func:`bayesgen.learning.em_loop.run_em`) is the E-step
(expected counts by forward–backward, ``HMM._summarize_chunks``) and the M-step
(``HMM.from_summaries``); the total log-likelihood Σ_b log p(x_b) never
decreases, and the loop stops after ``n_iter`` iterations or when it improves by less than
``tol`` (as hmmlearn). ``n_init`` random starts run and the best final log-likelihood wins; with
``warm_start`` the current parameters are the only start. A random start draws the tables from
Dirichlet(1) and, for Gaussian emissions, the means from a few k-means steps on the fully
observed steps, with the data's variance (+ ``min_covar``) for every state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch.distributions import Dirichlet

from ...learning.em_loop import Improvement, run_em
from ._input import Flat

if TYPE_CHECKING:
    from .model import HMM

__all__ = ["baum_welch", "random_start"]


def random_start(model: HMM, flat: Flat, seed: int) -> None:
    """Random start: Dirichlet(1) tables; gaussian means from a few k-means steps."""
    K, dev = model.n_components, model.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ones = torch.ones(K, dtype=model.dtype, device=dev)
        model.startprob_ = Dirichlet(ones).sample()
        model.transmat_ = Dirichlet(ones.expand(K, K)).sample()
        if model.order == 2:
            model.transmat2_ = Dirichlet(ones.expand(K, K, K)).sample()
        model._emission.random_start(model, flat)


def baum_welch(model: HMM, flat: Flat) -> None:
    """Fit ``model`` to ``flat`` by EM; sets its parameters, ``history_``, ``converged_`` and
    ``n_iter_``."""
    chunks = model._chunks(flat)
    seed = (
        model.random_state
        if model.random_state is not None
        else int(torch.randint(2**31 - 1, (1,)))
    )
    warm = model.warm_start and model.is_fitted
    run = run_em(
        _BaumWelch(model, flat, chunks, seed, warm),
        max_iter=model.n_iter,
        stop=Improvement(model.tol),
        n_init=1 if warm else model.n_init,
    )
    model.history_, model.converged_, model.n_iter_ = run.history, run.converged, run.n_iter


class _BaumWelch:
    """The HMM as an :class:`~bayesgen.learning.em_loop.EMProblem`: the objective is the total
    log-likelihood Σ_b log p(x_b); the statistics are the expected counts of forward–backward."""

    def __init__(self, model: HMM, flat: Flat, chunks, seed: int, warm: bool):
        self.model, self.flat, self.chunks, self.seed, self.warm = model, flat, chunks, seed, warm

    def initialize(self, restart: int) -> float:
        if not self.warm:
            random_start(self.model, self.flat, self.seed + restart)
        self.model._check_params()
        return -math.inf

    def summarize(self):
        stats = self.model._summarize_chunks(self.chunks)
        return stats, float(stats["loglik"])

    def from_summaries(self, stats) -> None:
        self.model.from_summaries(stats)

    def snapshot(self):
        return {n: getattr(self.model, n).clone() for n in self.model._param_names()}

    def restore(self, params) -> None:
        for name, value in params.items():
            setattr(self.model, name, value)
