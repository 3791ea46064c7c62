"""Information, entropy, cross-entropy, KL and Jensen–Shannon (§2.4.3 of the chapter).

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
when the distribution can enumerate it (values with p(x) = 0 add nothing, even where their
log-probability is −inf), and otherwise a Monte Carlo average over ``n_samples`` draws from p,
returned as an :class:`Estimate` (value, standard error). Entropy, KL and cross-entropy are all
E_p[f(x)] for an integrand f, evaluated by one routine.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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


def _pair(p: object, q: object | None) -> bool:
    """True for distributions, False for tables; TypeError for a mix (``q`` None: p alone)."""
    pd = isinstance(p, Distribution)
    qd = pd if q is None else isinstance(q, Distribution)
    if pd != qd:
        raise TypeError(
            f"p and q must both be tables (tensors) or both distributions, got "
            f"{type(p).__name__} and {type(q).__name__}"
        )
    return pd


def _tables(p: object, q: object | None, method: str) -> tuple[Tensor, ...]:
    """``p`` (and ``q``) as tables with one dtype; tables are summed exactly, never sampled."""
    if check_method(method, _METHODS) == "mc":
        raise ValueError("method='mc' is for distributions; tables are summed exactly")
    if q is None:
        return (as_table(p, "p"),)
    pt, qt = as_table(p, "p"), as_table(q, "q")
    if pt.shape[-1] != qt.shape[-1]:
        raise ValueError(
            f"p and q must have the same number of states on the last axis, got "
            f"{pt.shape[-1]} and {qt.shape[-1]}"
        )
    dtype = torch.promote_types(pt.dtype, qt.dtype)
    return pt.to(dtype), qt.to(dtype)


def _p_log_ratio(p: Tensor, q: Tensor) -> Tensor:
    """Σ_x p(x) log(p(x) / q(x)) along the last axis: 0 where p = 0, inf where q = 0 < p."""
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(-1)


#: entries of one row block of the fused table kernels: their temporaries stay in cache
_BLOCK = 1 << 15

#: Σ over the last axis of one row block: f(p, q, buf1, buf2) -> (r,), blocks (r, K)
_RowKernel = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def _blocked(p: Tensor, q: Tensor) -> bool:
    """Whether the fused kernels apply: p and q of one shape, and no gradient is asked for."""
    grad = torch.is_grad_enabled() and (p.requires_grad or q.requires_grad)
    return not grad and p.shape == q.shape and p.numel() > 0


def _row_sums(f: _RowKernel, p: Tensor, q: Tensor) -> Tensor:
    """Σ_x of f's terms for each row, block of rows by block of rows, in reused buffers (no
    (..., K) temporary, one pass over memory): (*batch,)."""
    k = p.shape[-1]
    pf, qf = p.reshape(-1, k), q.reshape(-1, k)  # (R, K)
    rows = pf.shape[0]
    step = max(1, _BLOCK // k)
    out = pf.new_empty(rows)  # (R,)
    b1, b2 = (pf.new_empty(min(step, rows), k) for _ in range(2))  # (step, K)
    for i in range(0, rows, step):
        pb, qb = pf[i : i + step], qf[i : i + step]  # (r, K)
        r = pb.shape[0]
        out[i : i + r] = f(pb, qb, b1[:r], b2[:r])
    return out.reshape(p.shape[:-1])


def _neg_entropy_rows(p: Tensor, q: Tensor, b1: Tensor, b2: Tensor) -> Tensor:
    """Σ_x p log p per row; the 0 · (-inf) = NaN terms of p = 0 are dropped by nansum."""
    return torch.log(p, out=b1).mul_(p).nansum(-1)


def _kl_rows(p: Tensor, q: Tensor, b1: Tensor, b2: Tensor) -> Tensor:
    """Σ_x p (log p - log q) per row: +inf where q = 0 < p; the NaN terms are exactly p = 0."""
    torch.log(p, out=b1)
    return b1.sub_(torch.log(q, out=b2)).mul_(p).nansum(-1)


def _js_rows(p: Tensor, q: Tensor, b1: Tensor, b2: Tensor) -> Tensor:
    """Σ_x [p log(p / m) + q log(q / m)] per row, m = (p + q) / 2 (p / m <= 2: no overflow);
    the NaN terms are exactly those of p = 0 (or q = 0), which add nothing."""
    m = torch.add(p, q, out=b1).mul_(0.5)
    left = torch.div(p, m, out=b2).log_().mul_(p).nansum(-1)
    return left + torch.div(q, m, out=b2).log_().mul_(q).nansum(-1)


#: f(x, log p(x)) at values x (K or n, *batch, *event) of p, whose mean under p is the answer
_Integrand = Callable[[Tensor, Tensor], Tensor]


def _no_closed_form(what: str, p: Distribution, q: Distribution | None = None) -> ValueError:
    names = type(p).__name__ + ("" if q is None else f", {type(q).__name__}")
    return ValueError(f"no closed form for the {what} of ({names}); use method='mc' or 'auto'")


def _exact_mean(p: Distribution, f: _Integrand) -> Tensor | None:
    """E_p[f] = Σ_x p(x) f(x, log p(x)) over the support of a discrete p, terms with p(x) = 0
    counted as 0 (0 log 0 = 0); None when p cannot enumerate its support."""
    if not p.has_enumerate_support:
        return None
    x = p.enumerate_support(expand=True)  # (K, *batch, *event)
    lp = p.log_prob(x)  # (K, *batch)
    prob = lp.exp()
    return torch.where(prob > 0, prob * f(x, lp), torch.zeros_like(prob)).sum(0)  # (*batch,)


def _expectation(
    what: str,
    p: Distribution,
    f: _Integrand,
    closed_form: Callable[[], Tensor],
    *,
    scale: float,
    method: str,
    n_samples: int,
    q: Distribution | None = None,
) -> Result:
    """E_p[f] / ln b: ``closed_form()`` (torch's registered formula) unless it raises
    NotImplementedError, then the exact sum over p's support, then (``method`` "auto" or "mc")
    the Monte Carlo mean of f over ``n_samples`` draws from p, as an :class:`Estimate`."""
    if check_method(method, _METHODS) != "mc":
        try:
            return closed_form() / scale
        except NotImplementedError:
            pass
        exact = _exact_mean(p, f)
        if exact is not None:
            return exact / scale
        if method == "exact":
            raise _no_closed_form(what, p, q)
    x = draw(p, check_n_samples(n_samples))  # (n, *batch, *event)
    return mean_and_stderr(f(x, p.log_prob(x)), scale)


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
    if not _pair(p, None):
        (t,) = _tables(p, None, method)
        if _blocked(t, t):
            return _row_sums(_neg_entropy_rows, t, t).neg_() / scale
        return -torch.xlogy(t, t).sum(-1) / scale
    return _expectation(
        "entropy", p, lambda x, lp: -lp, p.entropy, scale=scale, method=method, n_samples=n_samples
    )


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
        pt, qt = _tables(p, q, method)
        if _blocked(pt, qt):
            return _row_sums(_kl_rows, pt, qt) / scale
        return _p_log_ratio(pt, qt) / scale
    return _expectation(
        "KL divergence",
        p,
        lambda x, lp: lp - q.log_prob(x),
        lambda: _torch_kl(p, q),
        scale=scale,
        method=method,
        n_samples=n_samples,
        q=q,
    )


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
        pt, qt = _tables(p, q, method)
        return -torch.xlogy(pt, qt).sum(-1) / scale
    return _expectation(
        "cross-entropy",
        p,
        lambda x, lp: -q.log_prob(x),
        lambda: p.entropy() + _torch_kl(p, q),
        scale=scale,
        method=method,
        n_samples=n_samples,
        q=q,
    )


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
        pt, qt = _tables(p, q, method)
        if _blocked(pt, qt):
            return _row_sums(_js_rows, pt, qt) / (2 * scale)
        m = (pt + qt) / 2
        return (_p_log_ratio(pt, m) + _p_log_ratio(qt, m)) / 2 / scale

    def half(b: Distribution) -> _Integrand:
        # log(a / m) at x ~ a, with log m = logaddexp(log a, log b) - log 2
        return lambda x, la: la - (torch.logaddexp(la, b.log_prob(x)) - math.log(2.0))

    if check_method(method, _METHODS) != "mc":
        if p.has_enumerate_support and q.has_enumerate_support:
            return (_exact_mean(p, half(q)) + _exact_mean(q, half(p))) / 2 / scale
        if method == "exact":
            raise _no_closed_form("Jensen-Shannon divergence", p, q)
    n = check_n_samples(n_samples)
    x, y = draw(p, n), draw(q, n)
    vp, vq = half(q)(x, p.log_prob(x)), half(p)(y, q.log_prob(y))  # (n, *batch) each
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
