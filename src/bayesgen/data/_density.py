"""Exact densities of the synthetic data sets and their Monte Carlo entropies.

Most toys are a curve (or a finite set of points) blurred by noise: x = c(s) + u + σε with s on
an interval, u a uniform offset in a box (or 0) and ε ~ N(0, I). Their density is the 1-D
integral p(x) = ∫ p(s) k(x - c(s)) ds, computed here by Gauss–Legendre quadrature on panels no
wider than a fraction of the kernel's width along the curve (the integrand is then a low-degree
polynomial on each panel to many digits), in log space so far-away points get a finite log p.

The entropy H = -E log p(X) is the Monte Carlo mean of -log p over draws of the generating
process, with its standard error s / sqrt(M).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "gauss_legendre",
    "log_ndtr_diff",
    "gaussian_mixture_log_prob",
    "box_mixture_log_prob",
    "mc_entropy",
    "spiral_edges",
]

_BLOCK = 1 << 21  # entries (rows x nodes) of one block of kernel values


def gauss_legendre(edges: Tensor, order: int = 8) -> tuple[Tensor, Tensor]:
    """Nodes (J,) and weights (J,) of composite Gauss–Legendre over the panels between
    consecutive ``edges`` (P + 1,), ``order`` points each (J = P · order):
    Σ_j w_j f(s_j) ≈ ∫ f(s) ds from edges[0] to edges[-1]."""
    z, w = np.polynomial.legendre.leggauss(order)  # on [-1, 1]
    edges = edges.to(torch.float64)
    half = (edges[1:] - edges[:-1]) / 2  # (P,)
    mid = (edges[1:] + edges[:-1]) / 2  # (P,)
    nodes = mid[:, None] + half[:, None] * torch.from_numpy(z)  # (P, order)
    weights = half[:, None] * torch.from_numpy(w)  # (P, order)
    return nodes.reshape(-1), weights.reshape(-1)


def _arc(t: Tensor) -> Tensor:
    """Arc length of the spiral (t cos t, t sin t) from 0 to t: (t sqrt(1 + t²) + asinh t) / 2."""
    return 0.5 * (t * torch.sqrt(1 + t * t) + torch.asinh(t))


def spiral_edges(a: float, b: float, width: float) -> Tensor:
    """Panel edges on t in [a, b] (a >= 0) cutting the spiral (t cos t, t sin t) into pieces of
    equal arc length, each at most ``width`` long (t from the arc length by Newton's method)."""
    ends = _arc(torch.tensor([a, b], dtype=torch.float64))
    panels = max(4, math.ceil(float(ends[1] - ends[0]) / width))
    s = torch.linspace(float(ends[0]), float(ends[1]), panels + 1, dtype=torch.float64)
    t = torch.sqrt(2 * s)  # _arc(t) ~ t² / 2 for large t; Newton from there
    for _ in range(50):
        t = (t - (_arc(t) - s) / torch.sqrt(1 + t * t)).clamp_min(0)
    t[0], t[-1] = a, b
    return t


def _ndtr(x: Tensor) -> Tensor:
    """Φ(x) = erfc(-x / √2) / 2, accurate in the lower tail (``torch.special.ndtr`` loses
    digits below -5 and underflows below -8.3 in float64)."""
    return 0.5 * torch.special.erfc(-x / math.sqrt(2))


def log_ndtr_diff(lo: Tensor, hi: Tensor) -> Tensor:
    """log(Φ(hi) - Φ(lo)) for hi > lo, without cancellation in either tail: mirrored where
    both arguments are positive (Φ(hi) - Φ(lo) = Φ(-lo) - Φ(-hi)), so Φ(lo) <= 1/2; from
    log Φ where Φ(hi) itself is tiny."""
    flip = lo > 0
    a = torch.where(flip, -hi, lo)
    b = torch.where(flip, -lo, hi)  # now a < b and a <= 0
    out = torch.log(_ndtr(b) - _ndtr(a))
    far = b < -30  # Φ(b) < 5e-198: in log space
    if far.any():
        la, lb = torch.special.log_ndtr(a[far]), torch.special.log_ndtr(b[far])
        out[far] = lb + torch.log1p(-torch.exp(la - lb))
    return out


def _step(j: int) -> int:
    """Rows per block when each row meets j nodes."""
    return max(1, _BLOCK // max(j, 1))


def gaussian_mixture_log_prob(x: Tensor, centers: Tensor, log_w: Tensor, sigma: float) -> Tensor:
    """log Σ_j w_j N(x; c_j, σ² I) for x (M, D), centres (J, D), log-weights (J,) (Σ w_j = 1
    for a density). Computed in float64, in row blocks."""
    x = x.to(torch.float64)
    c = centers.to(torch.float64)
    d = x.shape[1]
    c2 = c.square().sum(1)  # (J,)
    const = -0.5 * d * math.log(2 * math.pi * sigma**2)
    out, step = [], _step(len(c))
    for i in range(0, len(x), step):
        xb = x[i : i + step]  # (b, D)
        sq = (xb.square().sum(1, keepdim=True) + c2 - 2 * xb @ c.T).clamp_min(0)  # (b, J)
        out.append(torch.logsumexp(log_w - sq / (2 * sigma**2), dim=1))
    return torch.cat(out) + const


def box_mixture_log_prob(
    x: Tensor, centers: Tensor, log_w: Tensor, lo: Tensor, hi: Tensor, sigma: float
) -> Tensor:
    """log Σ_j w_j k(x - c_j) where k is the density of u + σε, u uniform on the box
    Π_d [lo_d, hi_d] and ε ~ N(0, I): k(v) = Π_d (Φ((v_d - lo_d)/σ) - Φ((v_d - hi_d)/σ)) /
    (hi_d - lo_d). x (M, D), centres (J, D), log-weights (J,), lo and hi (D,).

    Only the nodes within r_min + diam + 8σ of x are summed (r_min: its nearest node's
    distance; diam: the box's diameter about the centre): any other node's box lies 10σ
    farther than the nearest one's, so its term is below e^{-50} of that one's.
    """
    x = x.to(torch.float64)
    c = centers.to(torch.float64)
    lo, hi = lo.to(torch.float64), hi.to(torch.float64)
    reach = float(torch.maximum(lo.abs(), hi.abs()).norm()) + 8 * sigma
    const = -torch.log(hi - lo).sum()
    out, step = [], _step(len(c))
    for i in range(0, len(x), step):
        xb = x[i : i + step]  # (b, D)
        r = torch.cdist(xb, c)  # (b, J)
        row, col = (r <= r.min(1, keepdim=True).values + reach).nonzero(as_tuple=True)  # (P,)
        v = xb[row] - c[col]  # (P, D)
        term = log_w[col] + log_ndtr_diff((v - hi) / sigma, (v - lo) / sigma).sum(-1)  # (P,)
        top = torch.full((len(xb),), -math.inf, dtype=torch.float64)
        top = top.scatter_reduce(0, row, term, "amax")  # (b,) per-row maximum
        total = torch.zeros(len(xb), dtype=torch.float64).index_add_(
            0, row, (term - top[row]).exp()
        )
        out.append(top + torch.log(total))
    return torch.cat(out) + const


def mc_entropy(
    log_prob: Callable[[Tensor], Tensor],
    sample: Callable[[int, torch.Generator], Tensor],
    n: int,
    seed: int,
) -> tuple[float, float]:
    """H = -E log p(X) ≈ -(1/M) Σ log p(x_m), x_m drawn with a generator seeded ``seed``;
    returns (value, standard error) in nats."""
    g = torch.Generator().manual_seed(seed)
    lp = log_prob(sample(n, g))  # (M,)
    if not torch.isfinite(lp).all():
        raise ArithmeticError("a draw of the generating process got log p = -inf")
    return float(-lp.mean()), float(lp.std() / math.sqrt(n))
