"""Conjugate posteriors p(θ | D) ∝ p(D | θ) p(θ) (eqs. 24–26 of the seed) from sufficient stats.

    BetaPosterior          r = P(x = 1), Beta(a, b) prior, counts (n0, n1)  -> Beta(a + n1, b + n0)
    DirichletPosterior     a table's rows, Dirichlet(α) prior, counts n     -> Dirichlet(α + n)
    NormalPosterior        Gaussian mean μ, known std σ, N(μ0, τ0²) prior   -> N(μ_n, τ_n²)
    NormalGammaPosterior   Gaussian (μ, λ = 1/σ²), NormalGamma prior        -> NormalGamma

Each holds its prior and statistics and gives ``mean``, ``mode`` (the MAP estimate, eq. 25),
``credible_interval(level)`` (equal-tailed), ``sample(n)``, ``update(stats)``, the torch
``distribution`` and ``log_marginal_likelihood`` = log p(D), the evidence of the observed sequence.
Statistics come from ``summarize(x)`` (data batch first) and add up, so data can arrive in chunks.
Quantiles are computed in torch (no scipy): a safeguarded Newton iteration on the CDF, with the
regularized incomplete beta function evaluated by its continued fraction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from .._constants import TINY
from .priors import K2, BDeu, Beta, Dirichlet, NormalGamma, TablePrior
from .priors import Normal as NormalPrior

__all__ = [
    "GaussianStats",
    "BetaPosterior",
    "DirichletPosterior",
    "NormalPosterior",
    "NormalGammaPosterior",
    "NormalGammaDistribution",
    "betainc",
    "betaincinv",
]


# ----------------------------------------------------------------------------- special functions
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# B_2k / (2k (2k - 1)), k = 1..7: the Stirling series of log Γ
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _stirling_delta(x: Tensor) -> Tensor:
    """δ(x) = log Γ(x) - [(x - ½) log x - x + ½ log 2π] = Σ_k B_2k / (2k (2k-1) x^{2k-1}), for
    x >= 8 (seven terms: error < 1e-15)."""
    r = x.reciprocal()
    r2 = r * r
    acc = torch.full_like(x, _STIRLING[-1])
    for c in _STIRLING[-2::-1]:
        acc = acc * r2 + c
    return acc * r


def _lbeta(a: Tensor, b: Tensor) -> Tensor:
    """log B(a, b) = log Γ(a) + log Γ(b) - log Γ(a + b), without the cancellation of large
    log Γ (which costs ~eps·log Γ(a) absolutely: 1e-11 at a = 1e4). With p = min(a, b) and
    q = max(a, b) >= 8, Stirling's formula for the large arguments gives
        log Γ(q) - log Γ(p + q) = -(q - ½) log1p(p/q) - p log(p + q) + p + δ(q) - δ(p + q),
    and for p >= 8 as well
        log B = ½ log 2π - ½ log(p + q) + (p - ½) log(p / (p + q)) - (q - ½) log1p(p/q)
                + δ(p) + δ(q) - δ(p + q)
    (Didonato & Morris 1992, betaln); below 8 the log Γ are small and taken directly."""
    p, q = torch.minimum(a, b), torch.maximum(a, b)
    big_q, big_p = q >= 8, p >= 8
    if not bool(big_q.any()):
        return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    qq = torch.where(big_q, q, 8.0)  # the unused branches stay finite
    pq = p + qq
    d_q = _stirling_delta(qq) - _stirling_delta(pq)  # δ(q) - δ(p + q)
    ratio = torch.log1p(p / qq)
    if bool(big_p.all()):
        out = torch.zeros_like(pq)
    else:  # log Γ(p) + log Γ(q) - log Γ(p + q)
        out = torch.lgamma(p) - (qq - 0.5) * ratio - p * torch.log(pq) + p + d_q
        out = torch.where(big_q, out, torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b))
    if bool(big_p.any()):
        pp = torch.where(big_p, p, 8.0)
        both = (pp - 0.5) * torch.log(pp / pq) - (qq - 0.5) * ratio - 0.5 * torch.log(pq)
        both = both + (_stirling_delta(pp) + d_q + _HALF_LOG_2PI)
        out = torch.where(big_p, both, out)
    return out


def _betacf(
    a: Tensor, b: Tensor, x: Tensor, max_iter: int = 10_000, tol: float | None = None
) -> Tensor:
    """Continued fraction of I_x(a, b), converging for x < (a+1)/(a+b+2); broadcast shapes.

    Lentz's iteration with in-place updates and without its guards against a vanishing
    denominator (which cost more than the arithmetic); the elements where a denominator did
    vanish (a non-finite result) are evaluated again by the guarded :func:`_betacf_guarded`.
    Elements leave once the last factor is within ``tol`` of 1 (4 eps by default; checked
    every 4 terms, whose partial numerators are formed together).
    """
    eps = torch.finfo(x.dtype).eps
    tol = 4 * eps if tol is None else tol
    shape = x.shape
    a_all, b_all, x_all = a, b, x = a.reshape(-1), b.reshape(-1), x.reshape(-1)  # (E,) flat
    out = torch.empty_like(x)
    idx = torch.arange(x.numel(), device=x.device)  # positions still iterating
    apb = a + b
    # the partial numerators as polynomials in m, from per-element coefficients (A,) each:
    #   d_2m   =  x (b m - m²) / (a² + (4m - 1) a + 2m (2m - 1))
    #   d_2m+1 = -x (a (a+b) + (2a + b) m + m²) / (a² + (4m + 1) a + 2m (2m + 1))
    xb, a_sq = x * b, a * a
    n0, n1, nx = -x * a * apb, -x * (a + apb), -x
    one = x.new_ones(())
    c = torch.ones_like(x)
    d = (apb * x / (a + 1)).neg_().add_(1).reciprocal_()  # 1 / (1 - (a+b) x / (a+1))
    h = d.clone()
    k = 4  # terms per block: their partial numerators are formed together, (k, A) each
    steps = torch.arange(1, k + 1, dtype=x.dtype, device=x.device)[:, None]  # (k, 1)
    even, odd, den = (x.new_empty(k, x.numel()) for _ in range(3))  # (k, A) work buffers
    delta = torch.empty_like(x)
    for m0 in range(0, max_iter, k):
        ms = steps + m0  # (k, 1): m
        ms2, f_e = ms * ms, 4 * ms - 1
        c_e = 2 * ms * (2 * ms - 1)
        torch.mul(xb, ms, out=even).addcmul_(x, ms2, value=-1)
        even.div_(torch.addcmul(a_sq, a, f_e, out=den).add_(c_e))  # d_2m
        torch.addcmul(n0, n1, ms, out=odd).addcmul_(nx, ms2)
        odd.div_(torch.addcmul(a_sq, a, f_e + 2, out=den).add_(c_e + 4 * ms))  # d_2m+1
        for j in range(k):
            torch.addcmul(one, even[j], d, out=d).reciprocal_()  # d = 1 / (1 + d_2m d)
            torch.addcdiv(one, even[j], c, out=c)  # c = 1 + d_2m / c
            h.mul_(d).mul_(c)
            torch.addcmul(one, odd[j], d, out=d).reciprocal_()
            torch.addcdiv(one, odd[j], c, out=c)
            h.mul_(torch.mul(d, c, out=delta))
        last = m0 + k >= max_iter
        done = (delta - 1.0).abs_() <= tol
        n_done = idx.numel() if last else int(done.sum())
        # compact only when a quarter has converged: converged elements iterating on only
        # multiply h by factors within a few eps of 1
        if 4 * n_done >= idx.numel():
            if n_done == idx.numel():
                out[idx] = h
                break
            out[idx[done]] = h[done]
            keep = (~done).nonzero().squeeze(1)  # (A',)
            idx, a, x, xb, a_sq, n0, n1, nx, c, d, h = (
                t.index_select(0, keep) for t in (idx, a, x, xb, a_sq, n0, n1, nx, c, d, h)
            )
            even, odd, den = (x.new_empty(k, x.numel()) for _ in range(3))
            delta = torch.empty_like(x)
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        out[bad] = _betacf_guarded(a_all[bad], b_all[bad], x_all[bad], max_iter)
    return out.reshape(shape)


def _betacf_guarded(a: Tensor, b: Tensor, x: Tensor, max_iter: int = 10_000) -> Tensor:
    """Continued fraction of I_x(a, b) (modified Lentz), converging for x < (a+1)/(a+b+2).

    Elements leave the iteration once converged (checked every 8 terms), so a few slow ones do
    not keep the whole batch busy.
    """
    tiny = torch.finfo(x.dtype).tiny * 1e10
    eps = torch.finfo(x.dtype).eps

    def nz(t: Tensor) -> Tensor:
        return torch.where(t.abs() < tiny, torch.full_like(t, tiny), t)

    shape = x.shape
    a, b, x = a.reshape(-1), b.reshape(-1), x.reshape(-1)  # (E,) flat
    out = torch.empty_like(x)
    idx = torch.arange(x.numel(), device=x.device)  # positions still iterating
    c = torch.ones_like(x)
    d = 1 / nz(1 - (a + b) * x / (a + 1))
    h = d.clone()
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2))
        d = 1 / nz(1 + aa * d)
        c = nz(1 + aa / c)
        h = h * d * c
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2))
        d = 1 / nz(1 + aa * d)
        c = nz(1 + aa / c)
        delta = d * c
        h = h * delta
        if m % 8 == 0 or m == max_iter:
            done = (delta - 1).abs() <= 4 * eps
            if bool(done.any()) or m == max_iter:
                done = done | (m == max_iter)
                out[idx[done]] = h[done]
                keep = ~done
                idx, a, b, x, c, d, h = (t[keep] for t in (idx, a, b, x, c, d, h))
                if idx.numel() == 0:
                    break
    return out.reshape(shape)


def _betainc_pair(a: Tensor, b: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """(I_x(a, b), 1 - I_x(a, b)), each computed without cancellation where it is small."""
    swap = x > (a + 1) / (a + b + 2)  # use I_x(a, b) = 1 - I_{1-x}(b, a) where the CF is slow
    aa, bb = torch.where(swap, b, a), torch.where(swap, a, b)
    xx = torch.where(swap, 1 - x, x).clamp(0, 1)
    inner = xx.clamp(torch.finfo(x.dtype).tiny, 1 - torch.finfo(x.dtype).eps)
    log_front = aa * torch.log(inner) + bb * torch.log1p(-inner) - _lbeta(aa, bb) - torch.log(aa)
    val = torch.exp(log_front) * _betacf(aa, bb, inner)
    cdf, sf = torch.where(swap, 1 - val, val), torch.where(swap, val, 1 - val)
    zero, one = torch.zeros_like(val), torch.ones_like(val)
    cdf = torch.where(x <= 0, zero, torch.where(x >= 1, one, cdf))
    sf = torch.where(x <= 0, one, torch.where(x >= 1, zero, sf))
    return cdf, sf


def betainc(a: Tensor, b: Tensor, x: Tensor) -> Tensor:
    """Regularized incomplete beta function I_x(a, b) = P(X <= x), X ~ Beta(a, b); broadcast.

    Accurate to ~1e-14 in float64 for moderate a, b (the cost grows like sqrt(max(a, b))).
    """
    a, b, x = torch.broadcast_tensors(*(torch.as_tensor(t) for t in (a, b, x)))
    return _betainc_pair(a, b, x)[0]


def _solve_cdf(
    step: Callable[[Tensor, Tensor, bool], tuple[Tensor, Tensor]],
    lo: Tensor,
    hi: Tensor,
    x: Tensor,
    max_iter: int = 100,
    *,
    retire: float = 0.0,
    unit: bool = False,
    rough: bool = False,
) -> Tensor:
    """x with F(x) = q on [lo, hi], elementwise, for flat tensors (E,).

    ``step(x, i, rough)`` gives, at the flat positions ``i`` still iterating, the residual
    F(x) - q and a Newton (or Halley) step; a step that leaves the bracket is replaced by a
    bisection (geometric when the bracket spans orders of magnitude above 0). Converged
    elements drop out.

    ``rough``: the first step may come from an F of low precision (``step(x, i, True)``,
    cheaper): it moves x when it stays in [lo, hi] and neither narrows the bracket nor ends
    the iteration of any element.

    ``retire`` > 0: an in-bracket step s with |s| <= retire · scale is taken and the element
    retires without another evaluation (scale = |x|, or min(x, 1 - x) when ``unit``). With
    Halley's cubic convergence (e' ≈ C e³) and retire = 1e-7 the error left is ~C·1e-21·scale.
    """
    eps = torch.finfo(x.dtype).eps
    tol = 4 * eps
    x, lo, hi = x.clone(), lo.clone(), hi.clone()
    prev = torch.full_like(x, math.nan)  # the last in-bracket step of each element
    act = torch.arange(x.numel(), device=x.device)  # (A,) positions still iterating
    if rough:
        _, s = step(x, act, True)
        newton = x - s
        ok = torch.isfinite(newton) & (newton > lo) & (newton < hi)
        x, prev = torch.where(ok, newton, x), torch.where(ok, s, math.nan)
    for _ in range(max_iter):
        xa = x[act]
        f, s = step(xa, act, False)
        la = torch.where(f < 0, xa, lo[act])
        ha = torch.where(f > 0, xa, hi[act])
        newton = xa - s
        ok = torch.isfinite(newton) & (newton > la) & (newton < ha)
        wide = (la >= 0) & (ha > 64 * la)
        mid = torch.where(wide, torch.where(la > 0, (la * ha).sqrt(), ha / 64), (la + ha) / 2)
        mid = torch.where(torch.isinf(ha), torch.where(la > 0, 4 * la, 1.0), mid)  # unbounded
        small = (newton - xa).abs() <= tol * xa.abs()  # the step would not move x: converged
        done = small | (f == 0) | (ha - la <= tol * ha.abs()) & torch.isfinite(ha)
        if retire > 0:
            scale = torch.minimum(xa, 1 - xa) if unit else xa.abs()
            size = s.abs()
            # cubic rate seen: e' ≈ C e³ with C ≈ |s| / |s_prev|³, so the error left after
            # this step is ≈ |s|⁴ / |s_prev|³ (NaN s_prev: no estimate)
            left = size.square().square() / prev[act].abs().pow(3)  # NaN: no estimate
            rate = (size <= 1e-3 * scale) & (left <= eps * scale)
            done = done | (ok & ((size <= retire * scale) | rate))
            prev[act] = torch.where(ok, s, math.nan)
        x[act] = torch.where(small, xa, torch.where(ok, newton, mid))
        lo[act], hi[act] = la, ha
        act = act[~done]
        if act.numel() == 0:
            break
    return x


def _betaincinv_guess(a: Tensor, b: Tensor, q: Tensor) -> Tensor:
    """Starting point of the Beta quantile (Numerical Recipes, invbetai; Abramowitz & Stegun
    26.5.22): a normal approximation when a, b >= 1, otherwise the power laws
    I_x ≈ x^a / (a w) and 1 - I_x ≈ (1-x)^b / (b w) of the two tails."""
    eps, tiny = torch.finfo(q.dtype).eps, torch.finfo(q.dtype).tiny
    z = -torch.special.ndtri(q)  # the upper normal quantile y_p: P(N > y_p) = q
    al = (z.square() - 3) / 6
    ra, rb = 1 / (2 * a - 1), 1 / (2 * b - 1)
    h = 2 / (ra + rb)
    w = z * torch.sqrt((al + h).clamp_min(0)) / h - (rb - ra) * (al + 5 / 6 - 2 / (3 * h))
    x = a / (a + b * torch.exp(2 * w))
    big = (a >= 1) & (b >= 1)
    if not bool(big.all()):
        lt = torch.exp(a * torch.log(a / (a + b))) / a
        ut = torch.exp(b * torch.log(b / (a + b))) / b
        ww = lt + ut
        tails = torch.where(q < lt / ww, (a * ww * q).pow(1 / a), 1 - (b * ww * (1 - q)).pow(1 / b))
        x = torch.where(big, x, tails)
    return torch.where(torch.isfinite(x), x, a / (a + b)).clamp(tiny, 1 - eps)


def betaincinv(a: Tensor, b: Tensor, q: Tensor) -> Tensor:
    """Quantile of Beta(a, b): x with I_x(a, b) = q; broadcast. Halley's iteration on the CDF,
    solving 1 - F(x) = 1 - q in the upper half (no cancellation near F = 1)."""
    a, b, q = (torch.as_tensor(t) for t in (a, b, q))
    a, b = torch.broadcast_tensors(a, b)
    lb = _lbeta(a, b)  # before q's axes: one log B per (a, b), however many levels
    a, b, q, lb = torch.broadcast_tensors(a, b, q, lb)
    shape = q.shape
    a, b, q, lb = a.reshape(-1), b.reshape(-1), q.reshape(-1), lb.reshape(-1)  # (E,)
    return _betaincinv(a, b, q, _betaincinv_guess(a, b, q), lb=lb).reshape(shape)


def _betaincinv(
    a: Tensor,
    b: Tensor,
    q: Tensor,
    guess: Tensor,
    rough: bool = True,
    lb: Tensor | None = None,
) -> Tensor:
    """:func:`betaincinv` of flat tensors (E,) from a starting point ``guess`` in (0, 1); the
    first Halley step on a rough CDF when ``rough`` (worth it unless the guess is very close).
    ``lb``: log B(a, b) when known."""
    lb, upper = _lbeta(a, b) if lb is None else lb, q > 0.5

    def step(x: Tensor, i: Tensor, rough: bool) -> tuple[Tensor, Tensor]:
        # x in (0, 1): I_x(a, b) = e^t / a · CF(a, b, x), or 1 - e^t / b · CF(b, a, 1 - x) past
        # the mean, with t = a log x + b log(1 - x) - log B(a, b); the pdf is e^t / (x (1 - x)).
        # rough: the fraction to ~1e-9 (about half its terms) for the first step
        ai, bi, qi = a[i], b[i], q[i]
        lx, l1x = torch.log(x), torch.log1p(-x)
        t = ai * lx + bi * l1x - lb[i]
        swap = x > (ai + 1) / (ai + bi + 2)
        aa, bb = torch.where(swap, bi, ai), torch.where(swap, ai, bi)
        cf = _betacf(aa, bb, torch.where(swap, 1 - x, x), tol=1e-9 if rough else None)
        val = torch.exp(t) / aa * cf
        cdf, sf = torch.where(swap, 1 - val, val), torch.where(swap, val, 1 - val)
        f = torch.where(upper[i], (1 - qi) - sf, cdf - qi)
        pdf = torch.exp(t - lx - l1x)
        newton = f / pdf
        denom = 1 - 0.5 * newton * ((ai - 1) / x - (bi - 1) / (1 - x))  # 1 - s F''/(2F')
        ok = torch.isfinite(denom) & (denom > 0.5) & (denom < 2)  # else: Newton, or bisect
        return f, torch.where(ok, newton / denom, newton)

    zero, one = torch.zeros_like(q), torch.ones_like(q)
    x = _solve_cdf(step, zero, one, guess, retire=1e-7, unit=True, rough=rough)
    return torch.where(q <= 0, zero, torch.where(q >= 1, one, x))


def _distinct(*cols: Tensor) -> tuple[tuple[Tensor, ...], Tensor] | None:
    """The distinct tuples (c1[i], c2[i], ...) of flat tensors (E,) and, for each i, the index
    of its tuple: ((U,) each, (E,)); None when fewer than a quarter of them repeat (no gain)."""
    rows, inv = torch.unique(torch.stack(cols, 1), dim=0, return_inverse=True)  # (U, k), (E,)
    if 4 * rows.shape[0] > 3 * cols[0].numel():
        return None
    return rows.unbind(1), inv


def _student_t_guess(df: Tensor, tail: Tensor) -> Tensor:
    """Cornish–Fisher start of the lower Student-t quantile (Abramowitz & Stegun 26.7.5): t ≈ z +
    g1/ν + g2/ν² + g3/ν³ + g4/ν⁴, z = Φ^{-1}(tail); good to ~1e-7 relative for ν >= 30."""
    z = torch.special.ndtri(tail)
    z2 = z.square()
    g1 = (z2 + 1) / 4
    g2 = ((5 * z2 + 16) * z2 + 3) / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
    r = 1 / df
    return z * (1 + r * (g1 + r * (g2 + r * (g3 + r * g4))))


def _student_t_icdf(df: Tensor, q: Tensor) -> Tensor:
    """Quantile of the standard Student-t. With T² = ν (1 - X) / X, X ~ Beta(ν/2, 1/2), for
    q < 1/2: t = -sqrt(ν (1 - x) / x), x = I^{-1}_{2q}(ν/2, 1/2), and t(q) = -t(1 - q). Near the
    median (2 min(q, 1 - q) >= 1/2) 1 - x is tiny and would lose its digits to rounding, so it
    is solved for directly: y = 1 - x ~ Beta(1/2, ν/2) at the level |1 - 2q| (exact there).
    The Beta quantile starts from the Cornish–Fisher expansion in 1/ν where ν >= 4."""
    df, q = torch.broadcast_tensors(df, q)
    shape = q.shape
    tail = torch.minimum(q, 1 - q)
    a, p = df.reshape(-1) / 2, 2 * tail.reshape(-1)  # (E,)
    inv = None
    if a.numel() > 16:
        found = _distinct(a, p)  # posteriors with one count share ν: solve each (ν, q) once
        if found is not None:
            (a, p), inv = found
    half = torch.full_like(a, 0.5)
    central = p >= 0.5  # solve for y = 1 - x ~ Beta(1/2, ν/2) at 1 - p
    aa, bb = torch.where(central, half, a), torch.where(central, a, half)
    level = torch.where(central, 1 - p, p)  # 1 - p is exact for p in [1/2, 1]
    t0 = _student_t_guess(2 * a, p / 2).square()  # (U,) t² of the expansion
    near = torch.where(central, t0, 2 * a) / (2 * a + t0)  # y or x
    use = (a >= 2) & torch.isfinite(near) & (near > 0) & (near < 1)
    if not bool(use.all()):
        near = torch.where(use, near, _betaincinv_guess(aa, bb, level))
    x = _betaincinv(aa, bb, level, near, rough=not bool(use.all()))  # the expansion is close
    small, big = torch.where(central, x, 1 - x), torch.where(central, 1 - x, x)  # 1 - X, X
    ratio = small / big
    ratio = (ratio if inv is None else ratio[inv]).reshape(shape)
    t = -torch.sqrt(df * ratio)
    return torch.where(q > 0.5, -t, torch.where(q == 0.5, torch.zeros_like(t), t))


def _log_gamma_front(a: Tensor, x: Tensor) -> Tensor:
    """log(x^a e^{-x} / Γ(a + 1)) for a >= 8, by Stirling's series with u = (x - a)/a:
    a (log1p(u) - u) - ½ log(2πa) - δ(a) (no cancellation of the large a log x and log Γ)."""
    u = (x - a) / a
    return a * (torch.log1p(u) - u) - 0.5 * torch.log(2 * math.pi * a) - _stirling_delta(a)


def _gamma_series(a: Tensor, x: Tensor, block: int = 64, max_terms: int = 1 << 16) -> Tensor:
    """P(a, x) by its power series, for flat tensors (E,) with a >= 8:

        P(a, x) = x^a e^{-x} / Γ(a + 1) Σ_{n>=0} x^n / ((a + 1)...(a + n)),

    the prefactor from :func:`_log_gamma_front`, and the terms in blocks of ``block``
    (cumulative products); an element stops once the tail left is below eps of its sum."""
    eps = torch.finfo(x.dtype).eps
    log_front = _log_gamma_front(a, x)
    total, term = torch.ones_like(x), torch.ones_like(x)  # the sum and its last term
    steps = torch.arange(1, block + 1, dtype=x.dtype, device=x.device)[:, None]  # (k, 1)
    act = torch.arange(x.numel(), device=x.device)
    for n0 in range(0, max_terms, block):
        r = x[act] / (a[act] + n0 + steps)  # (k, A) ratios of consecutive terms
        t = r.cumprod(0).mul_(term[act])  # (k, A) the next k terms
        total[act] += t.sum(0)
        term[act] = t[-1]
        r_last = r[-1]  # the terms decrease geometrically from here: tail <= t r / (1 - r)
        done = (r_last < 1) & (t[-1] * r_last <= eps * (1 - r_last) * total[act])
        act = act[~done]
        if act.numel() == 0:
            break
    return torch.exp(log_front) * total


def _gamma_cf(a: Tensor, x: Tensor, max_iter: int = 1 << 14) -> Tensor:
    """Q(a, x) by Legendre's continued fraction (modified Lentz), for flat tensors (E,) with
    a >= 8 and x > a + 1:

        Q(a, x) = x^a e^{-x} / Γ(a) · 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...)),

    the prefactor from :func:`_log_gamma_front` (times a). Elements leave once converged (checked
    every 8 terms)."""
    eps = torch.finfo(x.dtype).eps
    log_front = _log_gamma_front(a, x) + torch.log(a)  # x^a e^{-x} / Γ(a)
    out = torch.empty_like(x)
    idx = torch.arange(x.numel(), device=x.device)
    b = x + 1 - a
    c = torch.full_like(x, 1 / torch.finfo(x.dtype).tiny)
    d = b.reciprocal()
    h = d.clone()
    for i in range(1, max_iter + 1):
        an = -i * (i - a)
        b = b + 2
        d = (an * d + b).reciprocal()
        c = b + an / c
        delta = d * c
        h = h * delta
        if i % 8 == 0 or i == max_iter:
            done = ((delta - 1).abs() <= 4 * eps) | (i == max_iter)
            if bool(done.any()):
                out[idx[done]] = h[done]
                keep = ~done
                idx, a, b, c, d, h = (t[keep] for t in (idx, a, b, c, d, h))
                if idx.numel() == 0:
                    break
    return torch.exp(log_front) * out


def _gammainc_tail(a: Tensor, x: Tensor, upper: Tensor) -> Tensor:
    """Q(a, x) where ``upper``, else P(a, x) (regularized incomplete gamma), for flat tensors
    (E,). torch.special's, except near x = a for 20 < a <= 1e4 (|x - a| < 0.3 a, or < 4.5 sqrt(a)
    past a = 200), where torch's asymptotic series is off by up to 4e-10: there the power series
    gives P, Legendre's continued fraction gives Q for x > a + 1, and Q = 1 - P below that
    (where Q is not small)."""
    out = torch.empty_like(x)
    hi, lo = upper.nonzero().squeeze(1), (~upper).nonzero().squeeze(1)
    out[hi] = torch.special.gammaincc(a[hi], x[hi])
    out[lo] = torch.special.gammainc(a[lo], x[lo])
    width = torch.where(a < 200, 0.3 * a, 4.5 * a.sqrt())
    near = ((a > 20) & (a <= 1e4) & ((x - a).abs() < width)).nonzero().squeeze(1)
    if near.numel():
        an, xn, up = a[near], x[near], upper[near]
        cf = up & (xn > an + 1)  # a small Q: from its own fraction, not 1 - P
        p = _gamma_series(an, xn)
        out[near] = torch.where(up, 1 - p, p)
        if bool(cf.any()):
            out[near[cf]] = _gamma_cf(an[cf], xn[cf])
    return out


def _gamma_guess(conc: Tensor, q: Tensor, lg: Tensor) -> Tensor:
    """Start of the Gamma(conc, 1) quantile: Wilson–Hilferty, conc (1 - 1/(9 conc) +
    z / (3 sqrt(conc)))³ with z = Φ^{-1}(q), for conc >= 1; for conc < 1 the tails,
    P(G <= x) ≈ x^conc / Γ(conc + 1) below the median and P(G > x) ≈ e^{-x} / Γ(conc) above.
    ``lg`` is log Γ(conc)."""
    tiny = torch.finfo(q.dtype).tiny
    w = 1 / (9 * conc)
    x = conc * (1 - w + torch.special.ndtri(q) * w.sqrt()).pow(3)
    wh = (conc >= 1) & (x > 0)
    if not bool(wh.all()):
        low = torch.exp((torch.log(q) + lg + torch.log(conc)) / conc)  # Γ(c + 1) = c Γ(c)
        high = -(torch.log1p(-q) + lg)
        x = torch.where(wh, x, torch.where(q <= 0.5, low, torch.maximum(high, low)))
    return torch.where(torch.isfinite(x) & (x > tiny), x, conc)


def _gamma_icdf(conc: Tensor, rate: Tensor, q: Tensor) -> Tensor:
    """Quantile of Gamma(conc, rate): z / rate with P(G <= z) = q for G ~ Gamma(conc, 1), by a
    bracketed Halley iteration on gammainc from a Wilson–Hilferty start."""
    conc, rate, q = torch.broadcast_tensors(conc, rate, q)
    shape = q.shape
    conc, rate, q = conc.reshape(-1), rate.reshape(-1), q.reshape(-1)  # (E,)
    c, p, inv = conc, q, None
    if q.numel() > 16:
        found = _distinct(conc, q)  # the standard quantile depends on (conc, q) alone
        if found is not None:
            (c, p), inv = found
    upper, lg = p > 0.5, torch.lgamma(c)

    def step(z: Tensor, i: Tensor, rough: bool) -> tuple[Tensor, Tensor]:
        ci, qi, up = c[i], p[i], upper[i]
        # 1 - q - Q(c, z) above the median (no cancellation near F = 1), P(c, z) - q below
        g = _gammainc_tail(ci, z, up)  # Q(c, z) above the median, P(c, z) below
        f = torch.where(up, (1 - qi) - g, g - qi)
        newton = f / torch.exp((ci - 1) * torch.log(z) - z - lg[i])  # f / pdf
        denom = 1 - 0.5 * newton * ((ci - 1) / z - 1)  # 1 - s F''/(2F')
        ok = torch.isfinite(denom) & (denom > 0.5) & (denom < 2)  # else: Newton, or bisect
        return f, torch.where(ok, newton / denom, newton)

    zero = torch.zeros_like(p)
    z = _solve_cdf(step, zero, torch.full_like(p, math.inf), _gamma_guess(c, p, lg), retire=1e-7)
    # where x^c / Γ(c + 1) = q puts x below the smallest normal float, the lower tail
    # P(G <= x) = x^c / Γ(c + 1) (1 + O(x)) is exact to rounding: the quantile is 0
    log_low = (torch.log(p) + lg + torch.log(c)) / c  # log Γ(c + 1) = log Γ(c) + log c
    z = torch.where(log_low < math.log(torch.finfo(p.dtype).tiny), zero, z)
    z = z if inv is None else z[inv]  # (E,)
    return torch.where(q <= 0, torch.zeros_like(q), z / rate).reshape(shape)


def _level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return n


def _tails(level: float, like: Tensor) -> Tensor:
    """The quantile levels ((1 - level)/2, (1 + level)/2) of an equal-tailed interval: (2,)."""
    level = _level(level)
    return torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=like.dtype, device=like.device)


def _beta_interval(a: Tensor, b: Tensor, level: float) -> tuple[Tensor, Tensor]:
    """Equal-tailed interval of Beta(a, b), elementwise: (lower, upper), each a's shape."""
    bounds = betaincinv(a[..., None], b[..., None], _tails(level, a))  # (..., 2)
    return bounds[..., 0], bounds[..., 1]


class _Posterior:
    """What the posteriors share: draws from their torch ``distribution``."""

    distribution: Distribution  # a property of each posterior

    def sample(self, n: int) -> Tensor:
        """n draws of the parameters from the posterior: (n, *distribution shape)."""
        return self.distribution.sample((_n(n),))


# ----------------------------------------------------------------------------- count posteriors
def _counts(counts: object, name: str = "counts") -> Tensor:
    c = torch.as_tensor(counts)
    c = c if c.is_floating_point() else c.to(torch.get_default_dtype())
    if c.ndim == 0:
        raise ValueError(f"{name} must have the states on a last axis, got a scalar")
    lo, hi = torch.aminmax(c) if c.numel() else (c.new_zeros(()), c.new_zeros(()))
    if not bool((lo >= 0) & (hi <= torch.finfo(c.dtype).max)):  # one pass; NaN fails
        raise ValueError(f"{name} must be non-negative and finite, got minimum {c.min().item():g}")
    return c


def _dirichlet_mode(alpha: Tensor) -> Tensor:
    """arg max of Π θ_k^(α_k - 1) on the simplex, per row: θ_k ∝ max(α_k - 1, 0).

    Where no α_k exceeds 1 the density has no interior maximum: all α_k = 1 (flat) gives the
    uniform row; otherwise it is unbounded at the vertices and the vertex of the largest α_k
    (the first one on ties) is returned.
    """
    excess = (alpha - 1).clamp_min(0)  # (..., K)
    total = excess.sum(-1, keepdim=True)
    interior = excess / total.clamp_min(torch.finfo(alpha.dtype).tiny)
    flat = (alpha == 1).all(-1, keepdim=True)
    uniform = torch.full_like(alpha, 1 / alpha.shape[-1])
    vertex = torch.nn.functional.one_hot(alpha.argmax(-1), alpha.shape[-1]).to(alpha.dtype)
    return torch.where(total > 0, interior, torch.where(flat, uniform, vertex))


#: largest count for which log Γ(α + n) is looked up in a table of log Γ(α + j), j = 0..n_max
_LOOKUP_MAX = 1 << 20


def _lgamma_table(alpha: Tensor, n: Tensor) -> Tensor:
    """log Γ(α + n) - log Γ(α) for whole n >= 0 (any shape), gathered from a table over
    j = 0..max n: the same float arguments α + j, so the same values as computing each cell."""
    j = torch.arange(int(n.amax()) + 1, dtype=alpha.dtype, device=alpha.device)
    table = torch.lgamma(alpha + j) - torch.lgamma(alpha)  # (max n + 1,)
    return table[n]


def _dirichlet_evidence(prior: Tensor, counts: Tensor, uniform: bool | None = None) -> Tensor:
    """log p(D) of a sequence with counts n under θ ~ Dirichlet(α), per row:
    log Γ(α0) - log Γ(α0 + N) + Σ_k [log Γ(α_k + n_k) - log Γ(α_k)].

    With one α for every cell and whole counts (a symmetric prior and observed counts), the
    log Γ terms are looked up in tables over the distinct counts (one lgamma per count value,
    not one per cell). ``uniform``: whether every α is known to be the same (None: look).
    """
    first = prior.reshape(-1, prior.shape[-1])[:1]  # (1, K)
    if (
        counts.numel() >= 64
        and counts.shape == prior.shape
        and not (torch.is_grad_enabled() and (prior.requires_grad or counts.requires_grad))
        and (bool((prior == first[:, :1]).all()) if uniform is None else uniform)
    ):
        whole = counts.long()
        # tables no longer than the cells they stand for
        if bool((whole == counts).all()) and int(whole.amax()) <= min(_LOOKUP_MAX, whole.numel()):
            cells = _lgamma_table(first[0, :1], whole).sum(-1)  # (...,)
            total = whole.sum(-1)  # (...,) N per row, exact
            a0 = first.sum(-1)  # (1,) α0, the same for every row
            if int(total.amax()) <= min(_LOOKUP_MAX, total.numel()):
                return cells - _lgamma_table(a0, total)
            return cells + torch.lgamma(a0) - torch.lgamma(a0 + total)
    return (
        torch.lgamma(prior.sum(-1))
        - torch.lgamma((prior + counts).sum(-1))
        + (torch.lgamma(prior + counts) - torch.lgamma(prior)).sum(-1)
    )


class _CountPosterior(_Posterior):
    """A table prior's pseudo-counts α plus (possibly fractional) counts n, states on the last
    axis: the posterior Dirichlet(α + n) of each row, whatever its parametrization."""

    prior: TablePrior
    counts: Tensor
    pseudo_counts: Tensor

    def _add_prior(self, prior: TablePrior, counts: Tensor) -> Tensor:
        """Keep ``prior`` and ``counts``; return the posterior concentration α + n (..., K)."""
        self.prior, self.counts = prior, counts
        self.pseudo_counts = prior.pseudo_counts(
            counts.shape, dtype=counts.dtype, device=counts.device
        )
        return self.pseudo_counts + self.counts

    def update(self, counts: Tensor) -> Self:
        """The posterior after more data with ``counts`` (same shape): Dirichlet(α + n + n')."""
        new = _counts(counts).to(self.counts)
        if new.shape != self.counts.shape:
            raise ValueError(
                f"counts must have shape {tuple(self.counts.shape)}, got {tuple(new.shape)}"
            )
        return type(self)(self.prior, self.counts + new)

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log ∫ Π_k θ_k^{n_k} Dir(θ; α) dθ per row (sum them for the table); for a
        Beta, log B(a + n1, b + n0) - log B(a, b)."""
        p = self.prior
        uniform = isinstance(p, BDeu) or (
            isinstance(p, Dirichlet) and isinstance(p.alpha, float)  # symmetric: one α
        )
        return _dirichlet_evidence(self.pseudo_counts, self.counts, uniform or None)


class DirichletPosterior(_CountPosterior):
    """Posterior Dirichlet(α + n) of each row θ of a categorical table (states on the last axis).

    ``prior`` is any table prior (:class:`Dirichlet`, :class:`K2`, :class:`BDeu`, :class:`Beta`);
    ``counts`` has the table's shape (*parent_cards, K) and may be fractional (expected counts).
    """

    def __init__(
        self,
        prior: TablePrior | None = None,
        counts: Tensor | None = None,
        *,
        cardinality: int | None = None,
    ):
        prior = K2() if prior is None else prior
        if not isinstance(prior, TablePrior):
            raise TypeError(
                f"prior must be a table prior with pseudo_counts (Dirichlet, K2, BDeu, "
                f"Beta), got {type(prior).__name__}"
            )
        if counts is None:
            if cardinality is None:
                raise ValueError("pass counts, or cardinality for a posterior with no data")
            counts = torch.zeros(int(cardinality))
        counts = _counts(counts)
        if counts.shape[-1] < 2:
            raise ValueError(
                f"counts must have at least 2 states on the last axis, got shape "
                f"{tuple(counts.shape)}"
            )
        self.concentration = self._add_prior(prior, counts)  # (..., K)

    @staticmethod
    def summarize(x: Tensor, cardinality: int) -> Tensor:
        """Counts of states 0..K-1 in integer data x (N, *batch): (*batch, K)."""
        x = torch.as_tensor(x)
        if x.is_floating_point() and not bool((x == x.round()).all()):
            raise ValueError("x must hold integer state codes")
        x = x.long()
        if x.ndim == 0 or bool(((x < 0) | (x >= cardinality)).any()):
            raise ValueError(
                f"x must be batch first with codes in [0, {cardinality}), got values "
                f"in [{x.min().item()}, {x.max().item()}]"
            )
        return torch.nn.functional.one_hot(x, cardinality).sum(0).to(torch.get_default_dtype())

    @classmethod
    def from_data(cls, prior: TablePrior | None, x: Tensor, cardinality: int):
        return cls(prior, cls.summarize(x, cardinality))

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Dirichlet(self.concentration)

    @property
    def mean(self) -> Tensor:
        """E[θ_k | D] = (α_k + n_k) / (α_0 + N): the table smoothed by the pseudo-counts."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """MAP table: (α_k + n_k - 1) / (α_0 + N - K) when every α_k + n_k > 1 (see
        :func:`_dirichlet_mode` for the boundary cases)."""
        return _dirichlet_mode(self.concentration)

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed interval of each θ_k from its marginal Beta(α_k, α_0 - α_k): (..., K)."""
        a = self.concentration
        return _beta_interval(a, a.sum(-1, keepdim=True) - a, level)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prior={self.prior!r}, shape={tuple(self.counts.shape)})"


class BetaPosterior(_CountPosterior):
    """Posterior Beta(a + n1, b + n0) of r = P(x = 1) for binary data.

    ``counts`` is (..., 2) with (n0, n1) = (#x=0, #x=1) on the last axis, as a binary table's
    states; ``prior`` a :class:`Beta` (or any table prior).
    """

    def __init__(self, prior: TablePrior | None = None, counts: Tensor | None = None):
        prior = Beta() if prior is None else prior
        if not isinstance(prior, TablePrior):
            raise TypeError(f"prior must be a Beta (or a table prior), got {type(prior).__name__}")
        counts = _counts(torch.zeros(2) if counts is None else counts)
        if counts.shape[-1] != 2:
            raise ValueError(
                f"counts must have (n0, n1) on a last axis of size 2, got shape "
                f"{tuple(counts.shape)}"
            )
        conc = self._add_prior(prior, counts)  # (..., 2)
        self.a, self.b = conc[..., 1], conc[..., 0]  # Beta(a, b) on r = P(x = 1)

    @staticmethod
    def summarize(x: Tensor) -> Tensor:
        """(n0, n1) of binary data x (N, *batch): (*batch, 2)."""
        x = torch.as_tensor(x)
        if x.ndim == 0 or bool(((x != 0) & (x != 1)).any()):
            raise ValueError("x must be batch first and hold only 0 and 1")
        n1 = x.to(x.dtype if x.is_floating_point() else torch.get_default_dtype()).sum(0)
        return torch.stack([x.shape[0] - n1, n1], -1)

    @classmethod
    def from_data(cls, prior: TablePrior | None, x: Tensor) -> BetaPosterior:
        return cls(prior, cls.summarize(x))

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Beta(self.a, self.b)

    @property
    def mean(self) -> Tensor:
        """E[r | D] = a / (a + b)."""
        return self.a / (self.a + self.b)

    @property
    def mode(self) -> Tensor:
        """MAP r: (a - 1) / (a + b - 2) when a, b > 1; 0 or 1 when a <= 1 < b or b <= 1 < a;
        1/2 for a = b = 1; for a, b <= 1 (U-shaped) the end of the larger parameter's state
        (0 on ties)."""
        return _dirichlet_mode(torch.stack([self.b, self.a], -1))[..., 1]

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed interval (F^{-1}((1 - level)/2), F^{-1}((1 + level)/2)) of r."""
        return _beta_interval(self.a, self.b, level)

    def __repr__(self) -> str:
        return f"BetaPosterior(prior={self.prior!r}, shape={tuple(self.a.shape)})"


# ----------------------------------------------------------------------------- Gaussian posteriors
@dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of Gaussian data: count n, mean and m2 = Σ (x - mean)².

    Batched over trailing axes; ``a + b`` merges two chunks exactly (Chan et al.'s update), so
    no precision is lost to Σx² - (Σx)²/n.
    """

    n: Tensor
    mean: Tensor
    m2: Tensor

    @classmethod
    def from_data(cls, x: Tensor) -> GaussianStats:
        """Statistics of x (N, *batch) along its first axis."""
        x = torch.as_tensor(x)
        x = x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(
                f"x must be batch first with at least one row, got shape {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite")
        mean = x.mean(0)
        n = torch.full_like(mean, x.shape[0])
        return cls(n, mean, (x - mean).square().sum(0))

    @classmethod
    def empty(cls, shape: tuple[int, ...] = (), dtype: torch.dtype | None = None) -> GaussianStats:
        z = torch.zeros(shape, dtype=dtype)
        return cls(z, z, z)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        if not isinstance(other, GaussianStats):
            return NotImplemented
        n = self.n + other.n
        delta = other.mean - self.mean
        w = torch.where(n > 0, other.n / n.clamp_min(TINY), torch.zeros_like(n))
        return GaussianStats(
            n, self.mean + delta * w, self.m2 + other.m2 + delta.square() * self.n * w
        )

    @property
    def sum(self) -> Tensor:
        return self.n * self.mean

    @property
    def sum_sq(self) -> Tensor:
        return self.m2 + self.n * self.mean.square()


def _stats(stats: GaussianStats | None, dtype: torch.dtype | None = None) -> GaussianStats:
    if stats is None:
        return GaussianStats.empty(dtype=dtype)
    if not isinstance(stats, GaussianStats):
        raise TypeError(
            f"stats must be GaussianStats (GaussianStats.from_data(x)), got {type(stats).__name__}"
        )
    return stats


class NormalPosterior(_Posterior):
    """Posterior of the mean μ of N(μ, σ²) with σ = ``std`` known and prior N(μ0, τ0²):

    1/τ_n² = 1/τ0² + n/σ²,   μ_n = τ_n² (μ0/τ0² + Σx/σ²).
    """

    def __init__(
        self,
        prior: NormalPrior | None = None,
        stats: GaussianStats | None = None,
        *,
        std: float | Tensor = 1.0,
    ):
        self.prior = NormalPrior() if prior is None else prior
        if not isinstance(self.prior, NormalPrior):
            raise TypeError(f"prior must be priors.Normal, got {type(self.prior).__name__}")
        self.stats = _stats(stats)
        mean = self.stats.mean
        s = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
        if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
            raise ValueError(f"std must be positive and finite, got {std!r}")
        self.std = s
        prec = 1 / self.prior.std**2 + self.stats.n / s.square()  # 1 / τ_n²
        loc = (self.prior.mean / self.prior.std**2 + self.stats.sum / s.square()) / prec
        self.loc, self.scale = torch.broadcast_tensors(loc, prec.rsqrt())

    summarize = staticmethod(GaussianStats.from_data)

    @classmethod
    def from_data(cls, prior: NormalPrior | None, x: Tensor, *, std: float | Tensor = 1.0):
        return cls(prior, GaussianStats.from_data(x), std=std)

    def update(self, stats: GaussianStats) -> NormalPosterior:
        return NormalPosterior(self.prior, self.stats + _stats(stats), std=self.std)

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Normal(self.loc, self.scale)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        """MAP μ = posterior mean (a Gaussian's mode)."""
        return self.loc

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        level = _level(level)
        d = self.distribution
        lo = d.icdf(torch.full_like(self.loc, (1 - level) / 2))
        return lo, 2 * self.loc - lo

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log p(D | μ) + log p(μ) - log p(μ | D), at any μ (here μ_n)."""
        st, mu, s2 = self.stats, self.loc, self.std.square()
        loglik = -0.5 * st.n * torch.log(2 * math.pi * s2) - (
            st.m2 + st.n * (st.mean - mu).square()
        ) / (2 * s2)
        prior = torch.distributions.Normal(
            torch.as_tensor(self.prior.mean, dtype=mu.dtype, device=mu.device),
            torch.as_tensor(self.prior.std, dtype=mu.dtype, device=mu.device),
        )
        return loglik + prior.log_prob(mu) - self.distribution.log_prob(mu)

    def __repr__(self) -> str:
        return (
            f"NormalPosterior(prior={self.prior!r}, std={self.std}, shape={tuple(self.loc.shape)})"
        )


class NormalGammaDistribution(Distribution):
    """NormalGamma(loc, kappa, concentration, rate) over θ = (μ, λ), event shape (2,):

    λ ~ Gamma(concentration, rate),   μ | λ ~ N(loc, 1 / (kappa λ)).
    """

    arg_constraints = {
        "loc": constraints.real,
        "kappa": constraints.positive,
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.stack([constraints.real, constraints.positive], dim=-1)
    has_rsample = True

    def __init__(self, loc, kappa, concentration, rate, validate_args=None):
        self.loc, self.kappa, self.concentration, self.rate = torch.broadcast_tensors(
            *(torch.as_tensor(t) for t in (loc, kappa, concentration, rate))
        )
        super().__init__(self.loc.shape, torch.Size([2]), validate_args=validate_args)

    def _gamma(self) -> torch.distributions.Gamma:
        return torch.distributions.Gamma(self.concentration, self.rate)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        lam = self._gamma().rsample(sample_shape)  # (*sample, *batch)
        mu = self.loc + torch.randn_like(lam) * (self.kappa * lam).rsqrt()
        return torch.stack([mu, lam], -1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        mu, lam = value[..., 0], value[..., 1]
        normal = torch.distributions.Normal(self.loc, (self.kappa * lam).rsqrt())
        return self._gamma().log_prob(lam) + normal.log_prob(mu)

    @property
    def mean(self) -> Tensor:
        return torch.stack([self.loc, self.concentration / self.rate], -1)

    @property
    def mode(self) -> Tensor:
        """Joint mode (μ, λ) = (loc, max(concentration - 1/2, 0) / rate)."""
        return torch.stack([self.loc, (self.concentration - 0.5).clamp_min(0) / self.rate], -1)

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration, self.rate
        var_mu = torch.where(a > 1, b / (self.kappa * (a - 1)), torch.full_like(a, math.inf))
        return torch.stack([var_mu, a / b.square()], -1)


class NormalGammaPosterior(_Posterior):
    """Posterior of (μ, λ = 1/σ²) of Gaussian data under a :class:`NormalGamma` prior:

        κ_n = κ0 + n,  μ_n = (κ0 μ0 + n x̄) / κ_n,  a_n = a0 + n/2,
        b_n = b0 + m2/2 + κ0 n (x̄ - μ0)² / (2 κ_n).

    Parameters are stacked (μ, λ) on a last axis of size 2. The marginal of μ is Student-t with
    2 a_n degrees of freedom, location μ_n and scale sqrt(b_n / (a_n κ_n)); that of λ is
    Gamma(a_n, b_n).
    """

    def __init__(self, prior: NormalGamma | None = None, stats: GaussianStats | None = None):
        self.prior = NormalGamma() if prior is None else prior
        if not isinstance(self.prior, NormalGamma):
            raise TypeError(f"prior must be priors.NormalGamma, got {type(self.prior).__name__}")
        self.stats = st = _stats(stats)
        p = self.prior
        self.kappa = p.kappa + st.n
        self.loc = (p.kappa * p.mean + st.n * st.mean) / self.kappa
        self.concentration = p.a + st.n / 2
        self.rate = (
            p.b + st.m2 / 2 + p.kappa * st.n * (st.mean - p.mean).square() / (2 * self.kappa)
        )

    summarize = staticmethod(GaussianStats.from_data)

    @classmethod
    def from_data(cls, prior: NormalGamma | None, x: Tensor) -> NormalGammaPosterior:
        return cls(prior, GaussianStats.from_data(x))

    def update(self, stats: GaussianStats) -> NormalGammaPosterior:
        return NormalGammaPosterior(self.prior, self.stats + _stats(stats))

    @property
    def distribution(self) -> NormalGammaDistribution:
        return NormalGammaDistribution(self.loc, self.kappa, self.concentration, self.rate)

    @property
    def mean(self) -> Tensor:
        """(E[μ], E[λ]) = (μ_n, a_n / b_n): (..., 2)."""
        return self.distribution.mean

    @property
    def mode(self) -> Tensor:
        """MAP (μ, λ) = (μ_n, (a_n - 1/2) / b_n): (..., 2)."""
        return self.distribution.mode

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed marginal intervals of μ (Student-t) and λ (Gamma): each (..., 2)."""
        q = _tails(level, self.loc)
        a = self.concentration
        # both standard quantiles depend on a_n alone, which posteriors of one count share
        u, inv = torch.unique(a, return_inverse=True)  # (U,), a.shape
        t_lo = _student_t_icdf(2 * u[:, None], q[:1])[:, 0][inv]  # t(q_lo) = -t(q_hi) < 0
        g = _gamma_icdf(u[:, None], torch.ones_like(u[:, None]), q)[inv]  # (..., 2) of Gamma(a, 1)
        half = torch.sqrt(self.rate / (a * self.kappa)) * t_lo  # (...,)
        lam = g / self.rate[..., None]  # (..., 2)
        return torch.stack([self.loc + half, lam[..., 0]], -1), torch.stack(
            [self.loc - half, lam[..., 1]], -1
        )

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log Γ(a_n) - log Γ(a0) + a0 log b0 - a_n log b_n + ½ log(κ0/κ_n)
        - (n/2) log 2π."""
        p, st = self.prior, self.stats
        a0 = torch.as_tensor(p.a, dtype=self.rate.dtype, device=self.rate.device)
        return (
            torch.lgamma(self.concentration)
            - torch.lgamma(a0)
            + p.a * math.log(p.b)
            - self.concentration * torch.log(self.rate)
            + 0.5 * torch.log(p.kappa / self.kappa)
            - 0.5 * st.n * math.log(2 * math.pi)
        )

    def __repr__(self) -> str:
        return f"NormalGammaPosterior(prior={self.prior!r}, shape={tuple(self.loc.shape)})"
