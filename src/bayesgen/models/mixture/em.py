"""Fitting a Gaussian mixture by EM, with restarts.

Each of ``n_init`` starts (or the current state with ``warm_start``) runs E-step and M-step
(:meth:`GaussianMixture._summarize`, :meth:`GaussianMixture._m_step`) through the one EM loop
(:func:`bayesgen.learning.em_loop.run_em`) until the weighted mean log-likelihood

    L = Σ_i w_i log p(x_i) / Σ_i w_i

changes by less than ``tol``; EM never decreases L, and the start with the highest L is kept.
The centred data blocks and their features are built once and reused by every iteration when
they fit in the cache budget.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import torch

from ...learning.em_loop import AbsoluteChange, run_em
from . import _budget
from .errors import ConvergenceWarning
from .estep import quadratic

if TYPE_CHECKING:
    from .model import GaussianMixture

__all__ = ["fit_em"]


def fit_em(model: GaussianMixture, X: Any, sample_weight: Any = None) -> GaussianMixture:
    """Fit ``model`` by EM (see :meth:`GaussianMixture.fit`); returns it."""
    X = model._as_tensor(X, reset=True)
    n = X.shape[0]
    model._check_n_samples(n)
    w = model._as_weights(sample_weight, n)
    gen = model._generator()
    do_init = not (model.warm_start and model._is_fitted())
    if not do_init and X.shape[1] != model.means_.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but warm_start continues a model with "
            f"{model.means_.shape[1]} features"
        )
    n_init = model.n_init if do_init else 1
    # centred blocks and features, reused by every iteration when they fit in memory
    d = X.shape[1]
    width = d + (d * (d + 1) // 2 if quadratic(model.covariance_type, model.n_components, d) else d)
    shift = torch.nan_to_num(
        (w[:, None] * torch.nan_to_num(X)).sum(0) / ((~torch.isnan(X)) * w[:, None]).sum(0)
    )
    cache = list(model._iter_blocks(X, shift)) if _budget.fits_in_cache(n * width) else None
    problem = _MixtureEM(model, X, w, gen, do_init, cache)

    def report(init: int, n_iter: int, lower_bound: float) -> None:
        if model.verbose and n_iter % model.verbose_interval == 0:
            print(f"  init {init} iteration {n_iter}: lower bound {lower_bound:.6f}")

    run = run_em(
        problem, max_iter=model.max_iter, stop=AbsoluteChange(model.tol), n_init=n_init,
        on_iteration=report,
    )  # fmt: skip
    model.n_iter_, model.lower_bounds_, model.converged_ = run.n_iter, run.history, run.converged
    if run.history or do_init:  # max_iter=0 on a warm start keeps the bound it had
        model.lower_bound_ = run.objective
    if not model.converged_ and model.max_iter > 0:
        warnings.warn(
            f"EM did not converge in max_iter={model.max_iter} iterations (tol={model.tol:g}) "
            "for the best initialization; increase max_iter or tol, try other init_params, "
            "or check for degenerate data",
            ConvergenceWarning,
            stacklevel=3,
        )
    if model.max_iter > 0:
        model._warn_degenerate()
    return model


class _MixtureEM:
    """The mixture as an :class:`~bayesgen.learning.em_loop.EMProblem`: the objective is the
    weighted mean log-likelihood Σ_i w_i log p(x_i) / Σ_i w_i."""

    def __init__(self, model, X, w, gen, fresh: bool, cache):
        self.model, self.X, self.w, self.gen, self.fresh, self.cache = (
            model,
            X,
            w,
            gen,
            fresh,
            cache,
        )
        self.wsum = w.sum()

    def initialize(self, restart: int) -> float:
        if self.fresh:
            self.model._initialize(self.X, self.w, self.gen)
            return -math.inf
        return getattr(self.model, "lower_bound_", -math.inf)  # warm start

    def summarize(self):
        self.model._summaries = None
        ll = self.model._summarize(self.X, self.w, cache=self.cache)  # (N,)
        return None, float((self.w * ll).sum() / self.wsum)

    def from_summaries(self, stats) -> None:
        self.model._m_step(warn=False)

    def snapshot(self):
        return tuple(getattr(self.model, nm).clone() for nm in self.model._STATE)

    def restore(self, state) -> None:
        for nm, value in zip(self.model._STATE, state, strict=True):
            setattr(self.model, nm, value)
