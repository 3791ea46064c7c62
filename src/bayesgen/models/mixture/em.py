"""Fitting a Gaussian mixture by EM, with restarts.

Each of ``n_init`` starts (or the current state with ``warm_start``) runs E-step and M-step
(:meth:`GaussianMixture._summarize`, :meth:`GaussianMixture._m_step`) until the weighted mean
log-likelihood

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
    wsum = w.sum()
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
    best: tuple | None = None
    best_lb = -math.inf
    for init in range(n_init):
        if do_init:
            model._initialize(X, w, gen)
        lower_bound = -math.inf if do_init else getattr(model, "lower_bound_", -math.inf)
        bounds: list[float] = []
        converged = False
        n_iter = 0
        for n_iter in range(1, model.max_iter + 1):
            prev = lower_bound
            model._summaries = None
            ll = model._summarize(X, w, cache=cache)
            model._m_step(warn=False)
            lower_bound = float((w * ll).sum() / wsum)
            bounds.append(lower_bound)
            change = lower_bound - prev
            if model.verbose and n_iter % model.verbose_interval == 0:
                print(
                    f"  init {init} iteration {n_iter}: lower bound {lower_bound:.6f}"
                    f" change {change:.3g}"
                )
            if abs(change) < model.tol:
                converged = True
                break
        if best is None or lower_bound > best_lb or best_lb == -math.inf:
            best_lb = lower_bound
            best = (
                tuple(getattr(model, nm).clone() for nm in model._STATE),
                n_iter,
                bounds,
                converged,
            )
        if model.verbose:
            print(f"init {init}: lower bound {lower_bound:.6f}, converged={converged}")
    for nm, value in zip(model._STATE, best[0], strict=True):
        setattr(model, nm, value)
    model.n_iter_, model.lower_bounds_, model.converged_ = best[1], best[2], best[3]
    model.lower_bound_ = best_lb
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
