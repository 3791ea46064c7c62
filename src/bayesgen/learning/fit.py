"""Fit every factor of a network to data: MLE or MAP per node, EM or gradient ascent when values
are missing.

For fully observed i.i.d. rows the log-likelihood splits per node (eqs. 30–31),

    log p(D | θ) = Σ_n Σ_b log p(x_{b,n} | pa_{b,n}, θ_n),

so each factor is fitted on its own: tables and (linear-)Gaussians in closed form from their
sufficient statistics (§2.4.1), neural factors by minibatch gradient descent (§2.4). A prior turns
the MLE into a MAP estimate (§2.3): Dirichlet / BDeu / K2 / Beta pseudo-counts for tables,
``Gaussian(λ)`` ridge for linear-Gaussians and weight decay for neural factors, ``Laplace(b)`` L1,
``Normal(m, s)`` a conjugate prior on a Gaussian's mean with its standard deviation known.

Sufficient statistics are kept apart from the update (``summarize`` / ``update``): chunked,
weighted and EM fitting all add statistics and then call the same update. With missing entries
(−1, ``None``, NaN, or a variable with no column at all) the likelihood no longer splits, and
:func:`fit_network` runs EM (:mod:`bayesgen.learning.em`) or gradient ascent on the marginal
log-likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.distributions import constraints, transform_to

from .._constants import JITTER, TINY
from ..factors import LinearGaussian, NeuralFactor, Table
from ..factors.base import Factor
from ..variables import Discrete
from . import posteriors as post_
from . import priors as priors_
from .gradient import Trainer

__all__ = [
    "fit_network",
    "FitReport",
    "encode_data",
    "widen",
    "missing_variables",
    "summarize",
    "summarize_factor",
    "table_counts",
    "add_summaries",
    "update",
    "resolve_priors",
    "Reparametrized",
    "METHODS",
    "ESTIMATES",
    "parameter_posteriors",
    "merge_duplicates",
    "log_prior",
    "table_pseudo_counts",
]

#: the values of ``fit_network(method=...)``
METHODS = ("auto", "closed_form", "em", "gradient")
#: the values of ``fit_network(estimate=...)``: posterior mean or mode of a table under its prior
ESTIMATES = ("mean", "mode")

_TABLE_PRIORS = (priors_.Dirichlet, priors_.BDeu, priors_.Beta)  # K2 is a Dirichlet
_WEIGHT_PRIORS = (priors_.Gaussian, priors_.Laplace)


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


# ----------------------------------------------------------------------------------- data
def encode_data(
    net, data, *, allow_missing: bool = True, compact: bool = False
) -> dict[str, Tensor]:
    """``net.encode`` with a fast path for DataFrame columns of state labels (categorical dtype:
    the column's own codes, through a lookup table when its categories are not the states in
    order; object or string dtype: one hash pass per column). Missing cells become −1
    (discrete) or NaN (continuous). ``compact`` keeps discrete codes in the smallest signed
    integer type that holds them (int8 for up to 127 states) instead of int64: counting then
    moves an eighth of the memory."""
    if not isinstance(data, pd.DataFrame):
        out = net.encode(data, allow_missing=allow_missing)
        return _compact(net, out) if compact else out
    done: dict[str, Tensor] = {}
    rest = []
    variables = net.variables
    for col, series in data.items():
        var = variables.get(col) if isinstance(col, str) else None
        codes = _label_codes(series, var) if isinstance(var, Discrete) else None
        if codes is None:
            rest.append(col)
            continue
        if not allow_missing and bool((codes < 0).any()):
            row = int((codes < 0).nonzero()[0])
            raise ValueError(f"column {col!r} has a missing value in row {row}")
        done[col] = codes if compact else codes.long()
    out = net.encode(data[rest], allow_missing=allow_missing) if rest else {}
    if compact:
        out = _compact(net, out)
    out.update(done)
    return {n: out[n] for n in net.order if n in out}


def _code_dtype(card: int) -> torch.dtype:
    """The smallest signed integer type holding the codes −1..card−1."""
    for dtype in (torch.int8, torch.int16, torch.int32):
        if card <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


def _compact(net, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    variables = net.variables
    for n, v in values.items():
        var = variables[n]
        out[n] = v.to(_code_dtype(var.card)) if isinstance(var, Discrete) else v
    return out


def widen(net, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Discrete codes back to int64 (what factors and the inference engine index with)."""
    variables = net.variables
    return {
        n: v.long() if isinstance(variables[n], Discrete) and v.dtype != torch.long else v
        for n, v in values.items()
    }


def _label_codes(series: pd.Series, var: Discrete) -> Tensor | None:
    """Compact codes of a column of state labels, or None when it needs the general path."""
    dtype = _code_dtype(var.card)
    if isinstance(series.dtype, pd.CategoricalDtype):
        cat = series.array  # a pandas Categorical
        cats = [str(c) for c in cat.categories]
        if not all(c in var.states for c in cats):
            return None
        codes = np.array(cat.codes, copy=True)  # −1 where missing
        if cats != list(var.states[: len(cats)]):  # other order: through a lookup table
            lut = np.array([var.states.index(c) for c in cats] + [-1], dtype=np.int64)
            codes = lut[codes]
        return torch.from_numpy(codes).to(dtype)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        codes = pd.Index(var.states).get_indexer(series)  # −1: missing or unknown
        if ((codes < 0) & series.notna().to_numpy()).any():
            return None  # numbers as codes, or unknown labels: the general path reports them
        return torch.from_numpy(codes).to(dtype)
    return None


def missing_variables(net, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """name -> boolean mask (B,) of the rows where the variable is unobserved, for every variable
    that is missing somewhere (an absent column is missing in every row)."""
    if not values:
        raise ValueError(f"data has none of the network's variables {list(net.variables)}")
    b = next(iter(values.values())).shape[0]
    out = {}
    for name, var in net.variables.items():
        if name not in values:
            out[name] = torch.ones(b, dtype=torch.bool)
            continue
        v = values[name]
        if isinstance(var, Discrete):
            if v.numel() == 0 or int(v.min()) >= 0:  # one reduction, no mask, when complete
                continue
            mask = v < 0
        else:
            mask = torch.isnan(v.reshape(b, -1)).any(1)
        if mask.any():
            out[name] = mask
    return out


def _rows(values: Mapping[str, Tensor]) -> int:
    return int(next(iter(values.values())).shape[0])


# ----------------------------------------------------------------------------------- priors
def resolve_priors(net, prior, nodes: Sequence[str]) -> dict[str, Any]:
    """One prior for every factor it applies to, or a mapping name -> prior (checked)."""
    if prior is None:
        return {}
    if isinstance(prior, Mapping):
        unknown = [n for n in prior if n not in net.variables]
        if unknown:
            raise ValueError(
                f"prior names unknown variable(s) {unknown}; variables are {list(net.variables)}"
            )
        out = {}
        for name, p in prior.items():
            if p is None:
                continue
            if not _applies(p, net[name]):
                raise TypeError(
                    f"prior {p!r} does not apply to the {type(net[name]).__name__} factor of "
                    f"{name!r}; {_valid_priors(net[name])}"
                )
            out[name] = p
        return out
    out = {n: prior for n in nodes if _applies(prior, net[n])}
    if not out:
        kinds = sorted({type(net[n]).__name__ for n in nodes})
        raise TypeError(
            f"prior {prior!r} applies to none of the factors to fit ({', '.join(kinds)})"
        )
    return out


def _applies(prior, factor: Factor) -> bool:
    if isinstance(factor, Table):
        if isinstance(prior, priors_.Beta):
            return factor.variable.card == 2
        return isinstance(prior, _TABLE_PRIORS)
    if isinstance(factor, LinearGaussian):
        if isinstance(prior, priors_.Normal):
            return not factor.continuous and factor.covariance == "diag"
        return isinstance(prior, priors_.Gaussian)
    if isinstance(factor, NeuralFactor):
        return isinstance(prior, _WEIGHT_PRIORS)
    return False


def _valid_priors(factor: Factor) -> str:
    if isinstance(factor, Table):
        return "tables take Dirichlet, BDeu, K2 or (binary) Beta"
    if isinstance(factor, LinearGaussian):
        return "linear-Gaussians take Gaussian(λ) (ridge) or, without continuous parents, Normal"
    return "neural factors take Gaussian(λ) (weight decay) or Laplace(b) (L1)"


def table_pseudo_counts(prior, factor: Table) -> Tensor | float:
    """The pseudo-counts α added to the counts of a table, shape (*parent_cards, card)."""
    if prior is None:
        return 0.0
    return prior.pseudo_counts(factor.shape, dtype=factor.probs.dtype, device=factor.probs.device)


def log_prior(net, priors: Mapping[str, Any], estimate: str = "mean") -> float:
    """The table part of log p(θ) that the M-step maximizes together with the log-likelihood
    (constants dropped): Σ α log θ for ``estimate="mean"`` (the update (N + α) / Σ(N + α)),
    Σ (α − 1) log θ for ``"mode"`` (the MAP)."""
    return float(_table_log_prior(net, priors, estimate))


def _table_log_prior(net, priors: Mapping[str, Any], estimate: str) -> Tensor | float:
    """:func:`log_prior` differentiable in the tables (0.0 when no table has a prior)."""
    shift = 1.0 if estimate == "mode" else 0.0
    return sum(
        ((table_pseudo_counts(p, net[n]) - shift) * net[n].probs.clamp_min(TINY).log()).sum()
        for n, p in priors.items()
        if isinstance(net[n], Table)
    )


# ----------------------------------------------------------------------------------- statistics
def _closed_form(factor: Factor) -> bool:
    return isinstance(factor, (Table, LinearGaussian))


def summarize(
    net,
    values: Mapping[str, Tensor],
    weights: Tensor | None = None,
    nodes: Sequence[str] | None = None,
    *,
    chunk_size: int | None = None,
    missing: Mapping[str, Tensor] | None = None,
) -> dict[str, Any]:
    """Sufficient statistics of every closed-form factor in ``nodes`` (default: all), summed
    over row chunks of ``chunk_size`` (one code path for full, minibatch and weighted data).
    ``missing`` is :func:`missing_variables` of ``values`` when already known.

    Tables whose family is fully observed are counted by :func:`table_counts`; the others use
    the factor's own ``summarize``.
    """
    nodes = [n for n in (nodes or net.order) if _closed_form(net[n])]
    b = _rows(values)
    step = b if chunk_size is None else int(chunk_size)
    if step < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    missing = missing_variables(net, values) if missing is None else missing
    fast = [
        n
        for n in nodes
        if isinstance(net[n], Table) and not any(v in missing for v in _family(net, n))
    ]
    stats: dict[str, Any] = {}
    for start in range(0, b, step):
        part = values if step >= b else {k: v[start : start + step] for k, v in values.items()}
        w = None if weights is None else weights[start : start + step]
        found = table_counts(net, part, fast, w)
        for n in nodes:
            s = found[n] if n in found else summarize_factor(net[n], part[n], part, w)
            stats[n] = s if n not in stats else add_summaries(stats[n], s)
    return stats


def summarize_factor(
    factor: Factor, value: Tensor, parents: Mapping[str, Tensor], weight: Tensor | None = None
):
    """``factor.summarize``, also for a linear-Gaussian without discrete parents (whose
    statistics then have no configuration axes)."""
    if isinstance(factor, LinearGaussian) and not factor.discrete:
        # one configuration: add a dummy discrete index and drop its axis afterwards
        dtype = factor.bias.dtype
        x = value.reshape(value.shape[0], -1).to(dtype)  # (B, D)
        u = factor._inputs(parents)
        ones = torch.ones(x.shape[0], 1, dtype=dtype, device=x.device)
        a = ones if u is None else torch.cat([u, ones], -1)  # (B, P+1)
        w = ones.squeeze(-1) if weight is None else weight.to(dtype)  # (B,)
        wa = a * w[:, None]
        return {"n": w.sum(), "aa": wa.T @ a, "ax": wa.T @ x, "xx": (x * w[:, None]).T @ x}
    return factor.summarize(value, parents, weight)


def table_counts(
    net, values: Mapping[str, Tensor], nodes: Sequence[str], weights: Tensor | None = None
) -> dict[str, Tensor]:
    """The (weighted) count tables N[pa, x] of fully observed table families — what
    ``Table.summarize`` returns — by one mixed-radix index and one ``bincount`` per family.
    The index is kept in the smallest integer type that holds the table's size."""
    out: dict[str, Tensor] = {}
    for n in nodes:
        f = net.factors[n]
        fam = [*f.parent_names, n]  # parents in the factor's order, then the child
        shape = f.shape
        size = math.prod(shape)
        dtype = _code_dtype(size)
        flat = None
        for v, card in zip(fam, shape, strict=True):
            code = values[v]
            flat = code.to(dtype) if flat is None else flat * card + code  # (B,)
        dt = f.probs.dtype
        counts = torch.bincount(
            flat, weights=None if weights is None else weights.to(dt), minlength=size
        )
        out[n] = counts.to(dt).reshape(shape)
    return out


def add_summaries(a, b):
    """The sum of two sufficient statistics of the same factor (tensors or dicts of tensors)."""
    if isinstance(a, Mapping):
        return {k: a[k] + b[k] for k in a}
    return a + b


def _normal_mean_map(factor: LinearGaussian, stats: Mapping[str, Tensor], prior) -> None:
    """Conjugate update of a Gaussian's mean with known σ: the posterior mean (= mode)
    μ = (m/s² + Σx/σ²) / (1/s² + N/σ²); σ is kept."""
    n = stats["n"][..., None]  # (*C, 1)
    sx = stats["ax"][..., -1, :]  # (*C, D): Σ w x
    var = factor.scale**2  # (*C, D)
    m, s = float(prior.mean), float(prior.std)
    mean = (m / s**2 + sx / var) / (1.0 / s**2 + n / var)
    with torch.no_grad():
        factor.bias.copy_(mean)


def update(
    net, stats: Mapping[str, Any], priors: Mapping[str, Any] | None = None, estimate: str = "mean"
) -> None:
    """M-step / closed-form fit: every factor in ``stats`` from its statistics and prior.

    Tables with a prior take the posterior ``estimate``: ``"mean"`` (N + α) / Σ(N + α) (the
    Bayesian estimator of bnlearn and pgmpy) or ``"mode"``, the MAP (N + α − 1) / Σ(N + α − 1).
    """
    _check_estimate(estimate)
    priors = priors or {}
    for name, s in stats.items():
        f, p = net[name], priors.get(name)
        if isinstance(f, Table):
            if p is not None and estimate == "mode":
                with torch.no_grad():
                    f.probs.copy_(post_.DirichletPosterior(p, s.clamp_min(0)).mode)
            else:
                f.from_summaries(s, table_pseudo_counts(p, f))
        elif isinstance(f, LinearGaussian):
            if isinstance(p, priors_.Normal):
                _normal_mean_map(f, s, p)
            else:
                f.from_summaries(s, ridge=_ridge(p))
        else:
            raise TypeError(f"factor of {name!r} ({type(f).__name__}) has no closed form")


def _check_estimate(estimate: str) -> None:
    if estimate not in ESTIMATES:
        raise ValueError(f"estimate must be one of {ESTIMATES}, got {estimate!r}")


def _ridge(prior) -> float:
    if prior is None:
        return 0.0
    if not isinstance(prior, priors_.Gaussian):
        raise TypeError(f"a linear-Gaussian takes a Gaussian(λ) prior (ridge), got {prior!r}")
    return prior.lam


# ----------------------------------------------------------------------------------- gradients
_CONSTRAINTS = {
    "probs": constraints.simplex,
    "scale": constraints.positive,
    "scale_tril": constraints.lower_cholesky,
    "weight": constraints.real,
    "bias": constraints.real,
}


class Reparametrized(nn.Module):
    """Closed-form factors' buffers as differentiable functions of unconstrained parameters
    (``transform_to`` of each buffer's constraint: softmax for tables, exp for scales, the
    lower-Cholesky map for covariances), so they can be fitted by gradient.

    ``apply()`` installs the constrained tensors (call it before each loss evaluation);
    ``restore()`` writes the values back into the original buffers and reinstalls them.
    """

    def __init__(self, factors: Sequence[Factor]):
        super().__init__()
        self.items: list[tuple[Factor, str, Tensor, Any]] = []
        self.free = nn.ParameterList()
        for f in factors:
            for key, c in _CONSTRAINTS.items():
                buf = f._buffers.get(key)
                if buf is None:
                    continue
                t = transform_to(c)
                start = (
                    buf.detach().clamp_min(JITTER) if key in ("probs", "scale") else buf.detach()
                )
                self.items.append((f, key, buf, t))
                self.free.append(nn.Parameter(t.inv(start).clone()))

    def apply(self) -> None:
        for (f, key, _, t), u in zip(self.items, self.free, strict=True):
            f._buffers[key] = t(u)

    @torch.no_grad()
    def restore(self) -> None:
        for (f, key, buf, t), u in zip(self.items, self.free, strict=True):
            buf.copy_(t(u))
            f._buffers[key] = buf


def _neural_loss(factor: Factor, context_key: str | None = None) -> Callable:
    def loss(batch: Mapping[str, Tensor]) -> Tensor:
        ctx = batch.get(context_key) if context_key else None
        return -factor(batch, ctx).log_prob(batch[factor.name])  # (B,)

    return loss


def _family(net, name: str) -> list[str]:
    return [name, *net.parents(name)]


# ----------------------------------------------------------------------------------- the entry
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
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check_estimate(estimate)
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an int >= 1, got {n_jobs!r}")
    values = encode_data(net, data, allow_missing=True, compact=True)
    n_rows = _rows(values) if values else 0
    if n_rows == 0:
        raise ValueError("data has no rows")
    if weights is not None:
        weights = torch.as_tensor(np.asarray(weights, dtype=np.float64)).reshape(-1)
        if weights.shape[0] != n_rows:
            raise ValueError(f"weights has {weights.shape[0]} entries, data has {n_rows} rows")
        if (weights < 0).any() or not torch.isfinite(weights).all():
            raise ValueError("weights must be finite and >= 0")
    nodes = list(net.order) if nodes is None else [net._check(n) for n in nodes]
    if not nodes:
        raise ValueError("nodes is empty: nothing to fit")
    priors = resolve_priors(net, prior, nodes)
    missing = missing_variables(net, values)
    neural = [n for n in nodes if not _closed_form(net[n])]
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
    job = _Job(net, values, weights, nodes, priors, estimate, context, trainer_opts)
    if method == "closed_form":
        if missing:
            raise ValueError(
                f"method='closed_form' needs fully observed data; {sorted(missing)} have missing "
                "values (use method='em' or 'gradient')"
            )
        report = _fit_observed(job, chunk_size, n_jobs)
    elif method == "em":
        if neural:
            raise ValueError(
                f"EM needs closed-form factors; {neural} are neural (use method='gradient')"
            )
        from .em import EM

        em = EM(
            max_iter=max_iter,
            tol=tol,
            e_step=e_step,
            max_configs=max_configs,
            init=init,
            n_init=n_init,
            seed=seed,
            verbose=verbose,
        )
        report = _fit_em(job, em)
    else:
        report = _fit_gradient(job, missing, max_configs, e_step)
    if return_posteriors:
        report.posteriors = parameter_posteriors(net, widen(net, values), priors, weights, nodes)
    net.fit_report_ = report
    return (net, report.posteriors) if return_posteriors else net


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


def _fit_observed(job: _Job, chunk_size: int | None, n_jobs: int) -> FitReport:
    """Fully observed data: closed-form factors from their statistics, a gradient trainer per
    neural factor, in ``n_jobs`` threads."""
    net, values, weights = job.net, job.values, job.weights
    closed = [n for n in job.nodes if _closed_form(net[n])]
    neural = [n for n in job.nodes if n not in closed]
    histories: dict[str, dict[str, list[float]]] = {}

    def fit_closed(group: list[str]) -> None:
        stats = summarize(net, values, weights, group, chunk_size=chunk_size, missing={})
        update(net, stats, job.priors, job.estimate)

    def fit_neural(name: str) -> None:
        f = net[name]
        opts = dict(job.trainer_opts, desc=f"fit {name}")
        trainer = Trainer(prior=job.priors.get(name), **opts)
        cols = {k: values[k] for k in _family(net, name)}
        if job.context is not None:  # the condition y of eq. 19, batched with the rows
            cols["__context__"] = job.context
        trainer.fit(_neural_loss(f, "__context__"), f.parameters(), cols, weights)
        histories[name] = trainer.history_

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


def _fit_em(job: _Job, em) -> FitReport:
    """Missing values, closed-form factors: :class:`~bayesgen.learning.em.EM`."""
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


def _fit_gradient(
    job: _Job, missing: Mapping[str, Tensor], max_configs: int, e_step: str
) -> FitReport:
    """Gradient ascent on the (marginal) log-likelihood of all fitted factors jointly."""
    from .em import complete_rows, marginal_log_likelihood, use_exact

    net, nodes, priors, context = job.net, job.nodes, job.priors, job.context
    ridge = [n for n in nodes if isinstance(net[n], LinearGaussian) and n in priors]
    if ridge:
        raise ValueError(
            f"priors on the linear-Gaussians {ridge} are applied in closed form only; fit them "
            "with method='em' or 'closed_form', or without a prior"
        )
    closed = [net[n] for n in nodes if _closed_form(net[n])]
    neural = [net[n] for n in nodes if not _closed_form(net[n])]
    reparam = Reparametrized(closed)
    params = list(reparam.parameters()) + [p for f in neural for p in f.parameters()]
    weight_priors = [
        (priors[n], list(net[n].parameters()))
        for n in nodes
        if isinstance(priors.get(n), _WEIGHT_PRIORS) and isinstance(net[n], NeuralFactor)
    ]
    table_priors = {n: p for n, p in priors.items() if isinstance(net[n], Table)}
    values, weights = job.values, job.weights
    total_weight = float(weights.sum()) if weights is not None else float(_rows(values))
    batch_size = job.trainer_opts.get("batch_size")
    if batch_size is None and context is None:
        values, weights = merge_duplicates(net, values, weights)
    cols = dict(values)
    if context is not None:
        cols["__context__"] = context
    first = next(iter(values))
    plan = None  # full batch, summing by enumeration: the completions are the same every step
    if missing and batch_size is None and not use_exact(net, e_step, context):
        plan = complete_rows(net, values, max_configs=max_configs)

    def loss(batch: dict[str, Tensor]) -> Tensor:
        reparam.apply()
        batch = dict(batch)
        ctx = batch.pop("__context__", None)
        ll = marginal_log_likelihood(
            net,
            batch,
            context=ctx,
            max_configs=max_configs,
            e_step=e_step,
            completions=plan if batch[first] is values[first] else None,
        )  # (B,)
        if table_priors:  # log p(θ) spread over the rows: the mean loss is −(ℓ + log p(θ)) / W
            ll = ll + _table_log_prior(net, table_priors, job.estimate) / total_weight
        return -ll

    opts = dict(job.trainer_opts, desc="fit (marginal likelihood)" if missing else "fit")
    trainer = Trainer(prior=weight_priors or None, **opts)
    try:
        trainer.fit(loss, params, cols, weights)
    finally:
        reparam.restore()
    return FitReport("gradient", tuple(nodes), {"network": trainer.history_})


def merge_duplicates(net, values: Mapping[str, Tensor], weights: Tensor | None = None):
    """Identical rows of all-discrete data merged into one row weighted by their total weight
    (full-batch objectives are unchanged; their cost falls to the number of distinct rows)."""
    names = list(values)
    variables = net.variables
    if not names or not all(isinstance(variables[n], Discrete) for n in names):
        return values, weights
    codes = torch.stack([values[n] for n in names], 1)  # (B, V)
    uniq, inverse = torch.unique(codes, dim=0, return_inverse=True)  # (U, V), (B,)
    if uniq.shape[0] == codes.shape[0]:
        return values, weights
    w = torch.ones(codes.shape[0], dtype=torch.float64) if weights is None else weights.double()
    merged = torch.zeros(uniq.shape[0], dtype=torch.float64).index_add_(0, inverse, w)  # (U,)
    return {n: uniq[:, j].contiguous() for j, n in enumerate(names)}, merged


# ----------------------------------------------------------------------------------- posteriors
def parameter_posteriors(net, values, priors, weights=None, nodes=None) -> dict[str, Any]:
    """Conjugate posteriors of the parameters from fully observed families: a
    ``BetaPosterior`` per binary table (Beta prior, default Beta(1, 1)), a
    ``DirichletPosterior`` per other table (its prior, default K2), and a ``NormalPosterior`` of
    a Gaussian's mean (σ known, at its fitted value) when a ``Normal`` prior is given."""
    nodes = list(net.order if nodes is None else nodes)
    missing = missing_variables(net, values)
    out: dict[str, Any] = {}
    for name in nodes:
        f = net[name]
        p = priors.get(name)
        if not isinstance(f, Table) and not isinstance(p, priors_.Normal):
            continue
        gaps = [v for v in _family(net, name) if v in missing]
        if gaps:
            raise ValueError(
                f"conjugate posteriors need fully observed families; {gaps} (family of "
                f"{name!r}) have missing values"
            )
        if isinstance(f, Table):
            counts = f.summarize(values[name], values, weights)
            if f.variable.card == 2 and (p is None or isinstance(p, priors_.Beta)):
                out[name] = post_.BetaPosterior(p, counts)
            else:
                out[name] = post_.DirichletPosterior(p, counts)
        else:
            s = summarize_factor(f, values[name], values, weights)
            n = s["n"][..., None].expand_as(f.bias)  # (*C, D)
            total = s["ax"][..., -1, :]  # Σ x (*C, D)
            sq = torch.diagonal(s["xx"], dim1=-2, dim2=-1)  # Σ x² (*C, D)
            mean = total / n.clamp_min(TINY)
            stats = post_.GaussianStats(n, mean, (sq - n * mean**2).clamp_min(0))
            if f.variable.shape == ():
                stats = post_.GaussianStats(stats.n[..., 0], stats.mean[..., 0], stats.m2[..., 0])
                std = f.scale[..., 0]
            else:
                std = f.scale
            out[name] = post_.NormalPosterior(p, stats, std=std)
    return out
