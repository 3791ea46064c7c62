"""Information, entropy, cross-entropy, KL and Jensen–Shannon (§2.4.3 of the seed).

With b the base of the logarithm (b = e: nats, b = 2: bits):

    I(A)        = -log_b P(A)                                   (eq. 42)
    H(p)        = E_p[-log_b p(x)]                              (eq. 43)
    CE(p, q)    = E_p[-log_b q(x)] = H(p) + KL(p, q)            (eqs. 44, 46)
    KL(p, q)    = E_p[log_b p(x) / q(x)] >= 0  (Gibbs)          (eq. 47)
    JS(p, q)    = ½ KL(p, m) + ½ KL(q, m),  m = (p + q) / 2,  d_JS = sqrt(JS)

Arguments are either probability tables (tensors, states on the last axis, leading axes batched
and broadcast) or ``torch.distributions`` objects. Tables are summed exactly (0 log 0 = 0, and
KL = inf where q = 0 < p). Distributions use a closed form when torch registers one
(``Distribution.entropy``, ``torch.distributions.kl_divergence``), an exact sum over the support
when the distribution can enumerate it, and otherwise a Monte Carlo average over ``n_samples``
draws from p, returned as an :class:`Estimate` (value, standard error).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution
from torch.distributions import kl_divergence as _torch_kl

from ._base import (
    Estimate,
    as_table,
    check_method,
    check_n_samples,
    draw,
    log_base,
    mean_and_stderr,
)

__all__ = [
    "information",
    "entropy",
    "cross_entropy",
    "empirical_cross_entropy",
    "kl_divergence",
    "js_divergence",
    "js_distance",
]

_METHODS = ("auto", "exact", "mc")
Result = Tensor | Estimate


def information(
    p: Tensor | float | Distribution,
    value: Tensor | None = None,
    *,
    base: float | None = None,
    unit: str | None = None,
) -> Tensor:
    """Shannon information I(A) = -log_b P(A) of events with probabilities ``p``.

    With a distribution and a ``value``, the information of the outcome: -log_b p(value).
    """
    scale = log_base(base, unit)
    if isinstance(p, Distribution):
        if value is None:
            raise ValueError("value is required when p is a distribution: I(x) = -log p(x)")
        return -p.log_prob(torch.as_tensor(value)) / scale
    if value is not None:
        raise ValueError("value is only used when p is a distribution; pass probabilities alone")
    prob = torch.as_tensor(p)
    if not prob.is_floating_point():
        prob = prob.to(torch.get_default_dtype())
    if torch.isnan(prob).any() or (prob < 0).any() or (prob > 1).any():
        raise ValueError(
            f"p must be probabilities in [0, 1], got values in "
            f"[{prob.min().item():.6g}, {prob.max().item():.6g}]"
        )
    return -torch.log(prob) / scale


def _pair(p: object, q: object) -> bool:
    """True for two distributions, False for two tables; TypeError for a mix."""
    pd, qd = isinstance(p, Distribution), isinstance(q, Distribution)
    if pd != qd:
        raise TypeError(
            f"p and q must both be tables (tensors) or both distributions, got "
            f"{type(p).__name__} and {type(q).__name__}"
        )
    return pd


def _tables(p: object, q: object) -> tuple[Tensor, Tensor]:
    pt, qt = as_table(p, "p"), as_table(q, "q")
    if pt.shape[-1] != qt.shape[-1]:
        raise ValueError(
            f"p and q must have the same number of states on the last axis, got "
            f"{pt.shape[-1]} and {qt.shape[-1]}"
        )
    dtype = torch.promote_types(pt.dtype, qt.dtype)
    return pt.to(dtype), qt.to(dtype)


def _table_method(method: str) -> None:
    if check_method(method, _METHODS) == "mc":
        raise ValueError("method='mc' is for distributions; tables are summed exactly")


def _support(p: Distribution) -> tuple[Tensor, Tensor] | None:
    """All values of a discrete p with their log-probabilities: (K, *batch, *event), (K, *batch)."""
    if not p.has_enumerate_support:
        return None
    support = p.enumerate_support(expand=True)
    return support, p.log_prob(support)


def _no_closed_form(what: str, p: Distribution, q: Distribution | None = None) -> ValueError:
    names = type(p).__name__ + ("" if q is None else f", {type(q).__name__}")
    return ValueError(f"no closed form for the {what} of ({names}); use method='mc' or 'auto'")


def entropy(
    p: Tensor | Distribution,
    *,
    base: float | None = None,
    unit: str | None = None,
    method: str = "auto",
    n_samples: int = 10_000,
) -> Result:
    """Entropy H(p) = -Σ_x p(x) log_b p(x) (a table, per row) or E_p[-log_b p(x)]."""
    scale = log_base(base, unit)
    if not isinstance(p, Distribution):
        _table_method(method)
        t = as_table(p, "p")
        return -torch.xlogy(t, t).sum(-1) / scale
    if check_method(method, _METHODS) != "mc":
        try:
            return p.entropy() / scale
        except NotImplementedError:
            pass
        sup = _support(p)
        if sup is not None:
            lp = sup[1]
            return -(lp.exp() * lp).sum(0) / scale
        if method == "exact":
            raise _no_closed_form("entropy", p)
    x = draw(p, check_n_samples(n_samples))
    return mean_and_stderr(-p.log_prob(x), scale)


def kl_divergence(
    p: Tensor | Distribution,
    q: Tensor | Distribution,
    *,
    base: float | None = None,
    unit: str | None = None,
    method: str = "auto",
    n_samples: int = 10_000,
) -> Result:
    """Kullback–Leibler divergence KL(p, q) = Σ_x p(x) log_b(p(x) / q(x)) (or E_p[...]); >= 0."""
    scale = log_base(base, unit)
    if not _pair(p, q):
        _table_method(method)
        pt, qt = _tables(p, q)
        return (torch.xlogy(pt, pt) - torch.xlogy(pt, qt)).sum(-1) / scale
    if check_method(method, _METHODS) != "mc":
        try:
            return _torch_kl(p, q) / scale
        except NotImplementedError:
            pass
        sup = _support(p)
        if sup is not None:
            x, lp = sup
            return (lp.exp() * (lp - q.log_prob(x))).sum(0) / scale
        if method == "exact":
            raise _no_closed_form("KL divergence", p, q)
    x = draw(p, check_n_samples(n_samples))
    return mean_and_stderr(p.log_prob(x) - q.log_prob(x), scale)


def cross_entropy(
    p: Tensor | Distribution,
    q: Tensor | Distribution,
    *,
    base: float | None = None,
    unit: str | None = None,
    method: str = "auto",
    n_samples: int = 10_000,
) -> Result:
    """Cross-entropy CE(p, q) = -Σ_x p(x) log_b q(x) = H(p) + KL(p, q) (or E_p[-log_b q(x)])."""
    scale = log_base(base, unit)
    if not _pair(p, q):
        _table_method(method)
        pt, qt = _tables(p, q)
        return -torch.xlogy(pt, qt).sum(-1) / scale
    if check_method(method, _METHODS) != "mc":
        try:
            return (p.entropy() + _torch_kl(p, q)) / scale
        except NotImplementedError:
            pass
        sup = _support(p)
        if sup is not None:
            x, lp = sup
            return -(lp.exp() * q.log_prob(x)).sum(0) / scale
        if method == "exact":
            raise _no_closed_form("cross-entropy", p, q)
    x = draw(p, check_n_samples(n_samples))
    return mean_and_stderr(-q.log_prob(x), scale)


def empirical_cross_entropy(
    data: Tensor, q: Distribution, *, base: float | None = None, unit: str | None = None
) -> Tensor:
    """CE(p_D, q) = -(1/K) Σ_k log_b q(x^k), the cross-entropy from the empirical distribution.

    ``data`` is batch first, (K, *batch, *event). Minimizing it over q is maximum likelihood
    (eq. 45): arg max_θ log p_θ(D) = arg min_θ CE(p_D, p_θ).
    """
    scale = log_base(base, unit)
    if not isinstance(q, Distribution):
        raise TypeError(f"q must be a torch distribution, got {type(q).__name__}")
    x = torch.as_tensor(data)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(
            f"data must be batch first with at least one sample, got shape {tuple(x.shape)}"
        )
    return -q.log_prob(x).mean(0) / scale


def js_divergence(
    p: Tensor | Distribution,
    q: Tensor | Distribution,
    *,
    base: float | None = None,
    unit: str | None = None,
    method: str = "auto",
    n_samples: int = 10_000,
) -> Result:
    """Jensen–Shannon divergence JS(p, q) = ½ KL(p, m) + ½ KL(q, m), m = (p + q) / 2.

    Symmetric, 0 <= JS <= log_b 2. Monte Carlo draws ``n_samples`` from each of p and q.
    """
    scale = log_base(base, unit)
    if not _pair(p, q):
        _table_method(method)
        pt, qt = _tables(p, q)
        m = (pt + qt) / 2
        kl_pm = (torch.xlogy(pt, pt) - torch.xlogy(pt, m)).sum(-1)
        kl_qm = (torch.xlogy(qt, qt) - torch.xlogy(qt, m)).sum(-1)
        return (kl_pm + kl_qm) / 2 / scale

    def half(a: Distribution, b: Distribution, x: Tensor, la: Tensor) -> Tensor:
        # log(a / m) at x, with log m = logaddexp(log a, log b) - log 2
        return la - (torch.logaddexp(la, b.log_prob(x)) - math.log(2.0))

    if check_method(method, _METHODS) != "mc":
        sp, sq = _support(p), _support(q)
        if sp is not None and sq is not None:
            terms = [
                (lx.exp() * half(a, b, x, lx)).sum(0) for a, b, (x, lx) in ((p, q, sp), (q, p, sq))
            ]
            return (terms[0] + terms[1]) / 2 / scale
        if method == "exact":
            raise _no_closed_form("Jensen-Shannon divergence", p, q)
    n = check_n_samples(n_samples)
    x, y = draw(p, n), draw(q, n)
    vp, vq = half(p, q, x, p.log_prob(x)), half(q, p, y, q.log_prob(y))  # (n, *batch) each
    value = (vp.mean(0) + vq.mean(0)) / 2
    stderr = torch.sqrt((vp.var(0) + vq.var(0)) / (4 * n))
    return Estimate(value / scale, stderr / scale)


def js_distance(
    p: Tensor | Distribution,
    q: Tensor | Distribution,
    *,
    base: float | None = None,
    unit: str | None = None,
    method: str = "auto",
    n_samples: int = 10_000,
) -> Result:
    """Jensen–Shannon distance d_JS = sqrt(JS(p, q)), a metric (as ``scipy``'s jensenshannon)."""
    js = js_divergence(p, q, base=base, unit=unit, method=method, n_samples=n_samples)
    if isinstance(js, Estimate):
        value = js.value.clamp_min(0).sqrt()
        # delta method: se(sqrt(v)) = se(v) / (2 sqrt(v))
        return Estimate(value, js.stderr / (2 * value.clamp_min(torch.finfo(value.dtype).tiny)))
    return js.clamp_min(0).sqrt()
