"""Sufficient statistics of closed-form factors and the updates that fit them (§2.4.1).

For fully observed i.i.d. rows the log-likelihood splits per node (eqs. 30–31),

    log p(D | θ) = Σ_n Σ_b w_b log p(x_{b,n} | pa_{b,n}, θ_n),

and for tables and (linear-)Gaussians it depends on the data only through additive statistics:
the counts N[pa, x] = Σ_b w_b [pa_b = pa, x_b = x] of a table, the weighted moments
(Σ w, Σ w a aᵀ, Σ w a xᵀ, Σ w x xᵀ) with a = (u, 1) of a linear-Gaussian. :func:`summarize`
computes them (in row chunks, weighted: one code path for full, minibatch and EM data),
:func:`add_summaries` adds them, :func:`update` turns them into the MLE or, with a prior, the
MAP / posterior mean:

    θ[pa, x] = (N[pa, x] + α) / Σ_x (N[pa, x] + α)             (table, posterior mean)
    θ[pa, x] = (N[pa, x] + α − 1) / Σ_x (N[pa, x] + α − 1)     (table, posterior mode)
    μ = (m/s² + Σ x/σ²) / (1/s² + N/σ²)                        (Gaussian mean, N(m, s²) prior)

:func:`parameter_posteriors` gives the conjugate posteriors of the same statistics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from .._constants import TINY
from ..factors import LinearGaussian, Table
from ..factors.base import Factor
from . import posteriors as post_
from . import priors as priors_
from .encoding import code_dtype, missing_variables, n_rows

__all__ = [
    "ESTIMATES",
    "check_estimate",
    "has_closed_form",
    "family",
    "summarize",
    "summarize_factor",
    "table_counts",
    "add_summaries",
    "update",
    "parameter_posteriors",
]

#: the values of ``fit_network(estimate=...)``: posterior mean or mode of a table under its prior
ESTIMATES = ("mean", "mode")


def check_estimate(estimate: str) -> None:
    """Raise unless ``estimate`` is one of :data:`ESTIMATES`."""
    if estimate not in ESTIMATES:
        raise ValueError(f"estimate must be one of {ESTIMATES}, got {estimate!r}")


def has_closed_form(factor: Factor) -> bool:
    """Whether ``factor`` is fitted from sufficient statistics (tables, linear-Gaussians)."""
    return isinstance(factor, (Table, LinearGaussian))


def family(net: Any, name: str) -> list[str]:
    """The variable ``name`` followed by its parents."""
    return [name, *net.parents(name)]


def summarize(
    net: Any,
    values: Mapping[str, Tensor],
    weights: Tensor | None = None,
    nodes: Sequence[str] | None = None,
    *,
    chunk_size: int | None = None,
    missing: Mapping[str, Tensor] | None = None,
) -> dict[str, Any]:
    """Sufficient statistics of every closed-form factor in ``nodes`` (default: all), summed
    over row chunks of ``chunk_size`` (one code path for full, minibatch and weighted data).
    ``missing`` is :func:`~bayesgen.learning.encoding.missing_variables` of ``values`` when
    already known.

    Tables whose family is fully observed are counted by :func:`table_counts`; the others use
    the factor's own ``summarize``.
    """
    nodes = [n for n in (nodes or net.order) if has_closed_form(net[n])]
    b = n_rows(values)
    step = b if chunk_size is None else int(chunk_size)
    if step < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    missing = missing_variables(net, values) if missing is None else missing
    fast = [
        n
        for n in nodes
        if isinstance(net[n], Table) and not any(v in missing for v in family(net, n))
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
) -> Any:
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
    net: Any, values: Mapping[str, Tensor], nodes: Sequence[str], weights: Tensor | None = None
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
        dtype = code_dtype(size)
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


def add_summaries(a: Any, b: Any) -> Any:
    """The sum of two sufficient statistics of the same factor (tensors or dicts of tensors)."""
    if isinstance(a, Mapping):
        return {k: a[k] + b[k] for k in a}
    return a + b


def _normal_mean_map(factor: LinearGaussian, stats: Mapping[str, Tensor], prior: Any) -> None:
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
    net: Any,
    stats: Mapping[str, Any],
    priors: Mapping[str, Any] | None = None,
    estimate: str = "mean",
) -> None:
    """M-step / closed-form fit: every factor in ``stats`` from its statistics and prior.

    Tables with a prior take the posterior ``estimate``: ``"mean"`` (N + α) / Σ(N + α) (the
    Bayesian estimator of bnlearn and pgmpy) or ``"mode"``, the MAP (N + α − 1) / Σ(N + α − 1).
    """
    check_estimate(estimate)
    priors = priors or {}
    for name, s in stats.items():
        f, p = net[name], priors.get(name)
        if isinstance(f, Table):
            if p is not None and estimate == "mode":
                with torch.no_grad():
                    f.probs.copy_(post_.DirichletPosterior(p, s.clamp_min(0)).mode)
            else:
                f.from_summaries(s, priors_.table_pseudo_counts(p, f))
        elif isinstance(f, LinearGaussian):
            if isinstance(p, priors_.Normal):
                _normal_mean_map(f, s, p)
            else:
                f.from_summaries(s, ridge=priors_.ridge(p))
        else:
            raise TypeError(f"factor of {name!r} ({type(f).__name__}) has no closed form")


def parameter_posteriors(
    net: Any,
    values: Mapping[str, Tensor],
    priors: Mapping[str, Any],
    weights: Tensor | None = None,
    nodes: Sequence[str] | None = None,
) -> dict[str, Any]:
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
        gaps = [v for v in family(net, name) if v in missing]
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
            out[name] = _normal_posterior(f, p, values, weights)
    return out


def _normal_posterior(
    factor: LinearGaussian,
    prior: Any,
    values: Mapping[str, Tensor],
    weights: Tensor | None,
) -> post_.NormalPosterior:
    """The conjugate posterior of a Gaussian's mean (σ known, at its fitted value)."""
    s = summarize_factor(factor, values[factor.name], values, weights)
    n = s["n"][..., None].expand_as(factor.bias)  # (*C, D)
    total = s["ax"][..., -1, :]  # Σ x (*C, D)
    sq = torch.diagonal(s["xx"], dim1=-2, dim2=-1)  # Σ x² (*C, D)
    mean = total / n.clamp_min(TINY)
    stats = post_.GaussianStats(n, mean, (sq - n * mean**2).clamp_min(0))
    if factor.variable.shape == ():
        stats = post_.GaussianStats(stats.n[..., 0], stats.mean[..., 0], stats.m2[..., 0])
        std = factor.scale[..., 0]
    else:
        std = factor.scale
    return post_.NormalPosterior(prior, stats, std=std)
