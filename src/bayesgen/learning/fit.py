"""Fit every factor of a network to data: MLE or MAP per node, EM or gradient ascent when values
are missing.

For fully observed i.i.d. rows the log-likelihood splits per node (eqs. 30–31),

    log p(D | θ) = Σ_n Σ_b log p(x_{b,n} | pa_{b,n}, θ_n),

so each factor is fitted on its own: tables and (linear-)Gaussians in closed form from their
sufficient statistics (§2.4.1, :mod:`bayesgen.learning.statistics`), neural factors by minibatch
gradient descent (§2.4, :mod:`bayesgen.learning.gradient_fit`). A prior turns the MLE into a MAP
estimate (§2.3, :mod:`bayesgen.learning.priors`): Dirichlet / BDeu / K2 / Beta pseudo-counts for
tables, ``Gaussian(λ)`` ridge for linear-Gaussians and weight decay for neural factors,
``Laplace(b)`` L1, ``Normal(m, s)`` a conjugate prior on a Gaussian's mean with its standard
deviation known.

With missing entries (−1, ``None``, NaN, or a variable with no column at all) the likelihood no
longer splits, and :func:`fit_network` runs EM (:mod:`bayesgen.learning.em`) or gradient ascent
on the marginal log-likelihood. This module only chooses the method and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .em import EM
from .encoding import encode_data, missing_variables, n_rows, widen
from .gradient_fit import fit_factor, fit_jointly
from .priors import resolve_priors
from .statistics import check_estimate, has_closed_form, parameter_posteriors, summarize, update

__all__ = ["fit_network", "FitReport", "METHODS"]

#: the values of ``fit_network(method=...)``
METHODS = ("auto", "closed_form", "em", "gradient")


@dataclass
class FitReport:
    """What a fit did: ``method`` used, the ``fitted`` nodes, per-node (or ``"network"``)
    training ``histories``, the EM ``log_likelihood`` trace (one value per iteration, then the
    final one) and ``objective`` (log-likelihood + log prior), ``n_iter``, ``converged``, and the
    parameter ``posteriors`` when asked for."""

    method: str
    fitted: tuple[str, ...]
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    log_likelihood: list[float] = field(default_factory=list)
    objective: list[float] = field(default_factory=list)
    n_iter: int | None = None
    converged: bool | None = None
    posteriors: dict[str, Any] = field(default_factory=dict)


def fit_network(
    net,
    data,
    prior=None,
    *,
    weights=None,
    method: str = "auto",
    estimate: str = "mean",
    nodes: Sequence[str] | None = None,
    context: Tensor | None = None,
    return_posteriors: bool = False,
    chunk_size: int | None = None,
    n_jobs: int = 1,
    # EM
    max_iter: int = 100,
    tol: float = 1e-6,
    e_step: str = "auto",
    max_configs: int = 4096,
    init: str = "current",
    n_init: int = 1,
    # gradient
    optimizer: str = "adam",
    lr: float = 1e-2,
    epochs: int = 100,
    batch_size: int | None = None,
    validation: float | int = 0.0,
    patience: int | None = None,
    seed: int | None = None,
    verbose: bool | None = None,
    track: Mapping[str, Callable[[], float]] | None = None,
    trainer_kwargs: Mapping[str, Any] | None = None,
):
    """Fit the factors of ``net`` (all, or ``nodes``) to ``data`` by MLE, or MAP with ``prior``.

    ``data``: a DataFrame or mapping name -> values (labels or codes; −1, None or NaN missing; a
    variable without a column is latent). ``prior``: one prior for every factor it applies to,
    or a mapping name -> prior. ``weights`` (B,): row weights (a weight k counts as k copies).
    ``estimate``: for tables with a prior, the posterior ``"mean"`` (N + α)/Σ(N + α) — what
    pgmpy's BayesianEstimator and bnlearn's "bayes" return — or ``"mode"``, the MAP.

    ``method``: ``"auto"`` (closed form, and a gradient trainer per neural factor, when fully
    observed; EM when values are missing and every fitted factor has a closed form; gradient
    ascent on the marginal log-likelihood otherwise), ``"closed_form"``, ``"em"`` or
    ``"gradient"``. ``n_jobs`` > 1 fits the nodes of a fully observed network in threads;
    ``chunk_size`` accumulates the statistics over row chunks.
    EM: ``max_iter``, ``tol`` (stop when the objective gains less than ``tol · |objective|``),
    ``e_step`` (``"auto"``, ``"exact"`` — the batched exact engine, tables only — or
    ``"enumerate"`` — the joint states of each row's missing discrete variables, at most
    ``max_configs``; for hybrid networks), ``init`` (``"current"`` or ``"random"`` tables) and
    ``n_init`` random restarts (the best final objective is kept).
    Gradient options go to :class:`~bayesgen.learning.gradient.Trainer`.

    Returns ``net`` (or ``(net, posteriors)`` with ``return_posteriors=True``); the details are
    kept in ``net.fit_report_`` (:class:`FitReport`).
    """
    _check_options(method, estimate, n_jobs)
    values, weights = _encode(net, data, weights)
    nodes = _fitted_nodes(net, nodes)
    priors = resolve_priors(net, prior, nodes)
    missing = missing_variables(net, values)
    neural = [n for n in nodes if not has_closed_form(net[n])]
    trainer_opts = dict(
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        validation=validation,
        patience=patience,
        seed=seed,
        verbose=verbose,
        track=track,
        **dict(trainer_kwargs or {}),
    )
    if method == "auto":
        method = "closed_form" if not missing else ("gradient" if neural else "em")
    if method != "closed_form" or neural:
        values = widen(net, values)  # compact codes serve the counting of tables only
    job = _Job(net, values, weights, nodes, priors, estimate, context, trainer_opts, missing)
    if method == "closed_form":
        report = _fit_observed(job, chunk_size, n_jobs)
    elif method == "em":
        em_opts = dict(max_iter=max_iter, tol=tol, e_step=e_step, max_configs=max_configs)
        report = _fit_em(job, dict(em_opts, init=init, n_init=n_init, seed=seed, verbose=verbose))
    else:
        report = _fit_gradient(job, max_configs, e_step)
    if return_posteriors:
        report.posteriors = parameter_posteriors(net, widen(net, values), priors, weights, nodes)
    net.fit_report_ = report
    return (net, report.posteriors) if return_posteriors else net


def _check_options(method: str, estimate: str, n_jobs: int) -> None:
    """Raise on an unknown ``method`` or ``estimate``, or a bad ``n_jobs``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_estimate(estimate)
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an int >= 1, got {n_jobs!r}")


def _encode(net: Any, data: Any, weights: Any) -> tuple[dict[str, Tensor], Tensor | None]:
    """The data encoded with compact discrete codes, and the row weights (B,) checked."""
    values = encode_data(net, data, allow_missing=True, compact=True)
    rows = n_rows(values) if values else 0
    if rows == 0:
        raise ValueError("data has no rows")
    if weights is not None:
        weights = torch.as_tensor(np.asarray(weights, dtype=np.float64)).reshape(-1)
        if weights.shape[0] != rows:
            raise ValueError(f"weights has {weights.shape[0]} entries, data has {rows} rows")
        if (weights < 0).any() or not torch.isfinite(weights).all():
            raise ValueError("weights must be finite and >= 0")
    return values, weights


def _fitted_nodes(net: Any, nodes: Sequence[str] | None) -> list[str]:
    """The nodes to fit (default: all, in topological order), checked."""
    nodes = list(net.order) if nodes is None else [net._check(n) for n in nodes]
    if not nodes:
        raise ValueError("nodes is empty: nothing to fit")
    return nodes


@dataclass
class _Job:
    """What every fitting method of :func:`fit_network` works on (values already encoded)."""

    net: Any
    values: dict[str, Tensor]
    weights: Tensor | None
    nodes: list[str]
    priors: dict[str, Any]
    estimate: str
    context: Tensor | None
    trainer_opts: dict[str, Any]
    missing: dict[str, Tensor]

    @property
    def neural(self) -> list[str]:
        """The fitted nodes without a closed form."""
        return [n for n in self.nodes if not has_closed_form(self.net[n])]


def _fit_observed(job: _Job, chunk_size: int | None, n_jobs: int) -> FitReport:
    """Fully observed data: closed-form factors from their statistics, a gradient trainer per
    neural factor, in ``n_jobs`` threads."""
    if job.missing:
        raise ValueError(
            f"method='closed_form' needs fully observed data; {sorted(job.missing)} have missing "
            "values (use method='em' or 'gradient')"
        )
    net, values, weights = job.net, job.values, job.weights
    neural = job.neural
    closed = [n for n in job.nodes if n not in neural]
    histories: dict[str, dict[str, list[float]]] = {}

    def fit_closed(group: list[str]) -> None:
        stats = summarize(net, values, weights, group, chunk_size=chunk_size, missing={})
        update(net, stats, job.priors, job.estimate)

    def fit_neural(name: str) -> None:
        prior, context = job.priors.get(name), job.context
        histories[name] = fit_factor(
            net, name, values, weights, prior=prior, context=context, trainer_opts=job.trainer_opts
        )

    if n_jobs > 1 and len(job.nodes) > 1:
        with ThreadPoolExecutor(n_jobs) as pool:
            groups = [g for g in (closed[i::n_jobs] for i in range(n_jobs)) if g]
            list(pool.map(fit_closed, groups))
            list(pool.map(fit_neural, neural))
    else:
        if closed:
            fit_closed(closed)
        for n in neural:
            fit_neural(n)
    return FitReport("closed_form" if not neural else "per_node", tuple(job.nodes), histories)


def _fit_em(job: _Job, em_opts: Mapping[str, Any]) -> FitReport:
    """Missing values, closed-form factors: :class:`~bayesgen.learning.em.EM`."""
    if job.neural:
        raise ValueError(
            f"EM needs closed-form factors; {job.neural} are neural (use method='gradient')"
        )
    em = EM(**em_opts)
    em.fit(
        job.net,
        job.values,
        weights=job.weights,
        nodes=job.nodes,
        priors=job.priors,
        context=job.context,
        estimate=job.estimate,
    )
    return FitReport(
        "em",
        tuple(job.nodes),
        log_likelihood=list(em.log_likelihood_),
        objective=list(em.objective_),
        n_iter=em.n_iter_,
        converged=em.converged_,
    )


def _fit_gradient(job: _Job, max_configs: int, e_step: str) -> FitReport:
    """Gradient ascent on the (marginal) log-likelihood of all fitted factors jointly."""
    history = fit_jointly(
        job.net,
        job.values,
        job.weights,
        job.nodes,
        job.priors,
        estimate=job.estimate,
        context=job.context,
        trainer_opts=job.trainer_opts,
        missing=job.missing,
        max_configs=max_configs,
        e_step=e_step,
    )
    return FitReport("gradient", tuple(job.nodes), {"network": history})
