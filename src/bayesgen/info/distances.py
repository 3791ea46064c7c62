"""Distances between sample sets: Wasserstein, energy distance and MMD.

Sample sets are batch first, (N,) or (N, D), optionally weighted. With F, G the (weighted)
empirical distributions of x and y:

    W_p(F, G)   = (∫_0^1 |F^{-1}(u) - G^{-1}(u)|^p du)^{1/p}          exact in 1-D
    SW_p(F, G)  = (E_θ W_p(θ·x, θ·y)^p)^{1/p},  θ uniform on the sphere   sliced, in n-D
    E(F, G)     = sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|)               energy distance
    MMD²(F, G)  = E k(X, X') + E k(Y, Y') - 2 E k(X, Y),  k(a, b) = exp(-|a - b|² / 2h²)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ._base import Estimate, as_samples, as_weights

__all__ = [
    "wasserstein_distance",
    "sliced_wasserstein_distance",
    "energy_distance",
    "mmd2",
    "median_heuristic",
]

_BLOCK_ENTRIES = 1 << 22  # entries of one pairwise block: memory O(4M), never O(N * M)


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (1 <= p < math.inf):
        raise ValueError(f"p must be a finite number >= 1, got {p!r}")
    return float(p)


def _pair(x: object, y: object) -> tuple[Tensor, Tensor]:
    xs, ys = as_samples(x, "x"), as_samples(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension D, got {xs.shape[1]} and {ys.shape[1]}"
        )
    dtype = torch.promote_types(xs.dtype, ys.dtype)
    return xs.to(dtype), ys.to(dtype)


#: integer type of the same width as each float type, for sorting floats by their bits
_BITS = {torch.float64: torch.int64, torch.float32: torch.int32}


def _flip(bits: Tensor) -> Tensor:
    """A monotone involution of IEEE bit patterns read as signed integers: negative floats get
    their magnitude bits flipped, so integer order is float order (-0 just below +0)."""
    return bits ^ ((bits >> (8 * bits.element_size() - 1)) & torch.iinfo(bits.dtype).max)


def _sort(z: Tensor) -> tuple[Tensor, Tensor]:
    """``z.sort(dim=-1, stable=True)`` of finite floats (values, order), by integer keys
    where the backend has one (much faster: a radix sort on CPU)."""
    itype = _BITS.get(z.dtype)
    if itype is None:
        return z.sort(dim=-1, stable=True)
    keys, order = _flip(z.contiguous().view(itype)).sort(dim=-1, stable=True)
    return _flip(keys).view(z.dtype), order


def _cdf_gaps(x: Tensor, y: Tensor, wx: Tensor, wy: Tensor) -> tuple[Tensor, Tensor]:
    """F - G on each interval between consecutive pooled points, and the interval lengths,
    from one sort of x ∪ y with signed weights (+wx, -wy): each (..., N + M - 1).

    Batched over leading axes: x (..., N), y (..., M); wx (N,), wy (M,) normalized.
    """
    z = torch.cat([x, y], -1)  # (..., N + M)
    w = torch.cat([wx.expand(x.shape), -wy.expand(y.shape)], -1)  # (..., N + M)
    zs, order = _sort(z)
    ws = w.gather(-1, order[..., :-1])  # (..., N + M - 1) signed weights in sorted order
    # F and G summed apart (a stable sort keeps tied points in input order): identical samples
    # give exactly F - G = 0
    diff = ws.clamp_min(0).cumsum(-1).add_(ws.clamp_max(0).cumsum(-1))
    return diff, zs.diff(dim=-1)


def _wasserstein_1d(x: Tensor, y: Tensor, wx: Tensor, wy: Tensor, p: float) -> Tensor:
    """W_p between weighted 1-D samples, batched over leading axes: x (..., N), y (..., M).

    For p = 1, W_1 = ∫ |F(t) - G(t)| dt over the CDFs (one sort of the pooled sample); otherwise
    the quantile functions are compared on the merged CDF levels.
    """
    if p == 1:
        diff, gaps = _cdf_gaps(x, y, wx, wy)
        return (diff.abs() * gaps).sum(-1)
    xs, ix = x.sort(-1)
    ys, iy = y.sort(-1)
    cx, cy = wx[ix].cumsum(-1), wy[iy].cumsum(-1)  # CDF levels after each sorted point
    u = torch.cat([cx, cy], -1).sort(-1).values  # (..., N + M) all breakpoints in (0, 1]
    u0 = torch.cat([torch.zeros_like(u[..., :1]), u[..., :-1]], -1)
    mid = (u + u0) / 2  # inside each interval: robust to equal levels that differ by rounding
    jx = torch.searchsorted(cx.contiguous(), mid.contiguous()).clamp_max(x.shape[-1] - 1)
    jy = torch.searchsorted(cy.contiguous(), mid.contiguous()).clamp_max(y.shape[-1] - 1)
    gap = (xs.gather(-1, jx) - ys.gather(-1, jy)).abs()  # |F^-1(u) - G^-1(u)| on each interval
    if p == 1:
        return ((u - u0) * gap).sum(-1)
    return ((u - u0) * gap.pow(p)).sum(-1).pow(1 / p)


def wasserstein_distance(
    x: Tensor,
    y: Tensor,
    p: float = 1,
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    projections: int | Tensor = 128,
) -> Tensor | Estimate:
    """Wasserstein-p distance between two sample sets: exact in 1-D, sliced in n-D.

    In 1-D, W_p = (∫_0^1 |F^{-1}(u) - G^{-1}(u)|^p du)^{1/p} over the (weighted) empirical
    quantile functions; for p = 1 it equals ``scipy.stats.wasserstein_distance``. For D > 1 it
    returns :func:`sliced_wasserstein_distance` (an :class:`Estimate` over random projections).
    """
    p = _check_p(p)
    xs, ys = _pair(x, y)
    if xs.shape[1] > 1:
        return sliced_wasserstein_distance(
            xs, ys, p, x_weights=x_weights, y_weights=y_weights, projections=projections
        )
    wx = as_weights(x_weights, xs.shape[0], xs, "x_weights")
    wy = as_weights(y_weights, ys.shape[0], ys, "y_weights")
    return _wasserstein_1d(xs[:, 0], ys[:, 0], wx, wy, p)


def sliced_wasserstein_distance(
    x: Tensor,
    y: Tensor,
    p: float = 2,
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    projections: int | Tensor = 128,
) -> Estimate:
    """Sliced Wasserstein SW_p = (E_θ W_p(θ·x, θ·y)^p)^{1/p}, θ uniform on the unit sphere.

    ``projections`` is a number of random directions (drawn with torch's global generator) or a
    (P, D) tensor of directions (normalized here). The average over directions is a Monte Carlo
    estimate; its standard error goes through the delta method to the p-th root.
    """
    p = _check_p(p)
    xs, ys = _pair(x, y)
    d = xs.shape[1]
    if isinstance(projections, int) and not isinstance(projections, bool):
        if projections < 2:
            raise ValueError(f"projections must be an integer >= 2, got {projections}")
        theta = torch.randn(projections, d, dtype=xs.dtype, device=xs.device)
    elif isinstance(projections, Tensor):
        theta = projections.to(dtype=xs.dtype, device=xs.device)
        if theta.ndim != 2 or theta.shape[1] != d or theta.shape[0] < 1:
            raise ValueError(f"projections must have shape (P, {d}), got {tuple(theta.shape)}")
    else:
        raise TypeError(
            f"projections must be an int or a (P, D) tensor, got {type(projections).__name__}"
        )
    norms = theta.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        raise ValueError("projections must be non-zero directions")
    theta = theta / norms  # (P, D)
    wx = as_weights(x_weights, xs.shape[0], xs, "x_weights")
    wy = as_weights(y_weights, ys.shape[0], ys, "y_weights")
    wp = _wasserstein_1d((xs @ theta.T).T, (ys @ theta.T).T, wx, wy, p)  # (P,)
    wpp = wp.pow(p)  # (P,) W_p^p per direction
    n = wpp.shape[0]
    mean = wpp.mean()
    se_mean = wpp.std() / math.sqrt(n) if n > 1 else torch.full_like(mean, math.nan)
    value = mean.pow(1 / p)
    # delta method: d/dm m^{1/p} = (1/p) m^{1/p - 1}
    stderr = se_mean * value / (p * mean.clamp_min(torch.finfo(mean.dtype).tiny))
    return Estimate(value, stderr)


def _pairwise_sum(
    x: Tensor, y: Tensor, wx: Tensor, wy: Tensor, fn: Callable[[Tensor], Tensor], exact: bool
) -> Tensor:
    """Σ_ij wx_i wy_j fn(|x_i - y_j|), in row blocks so memory stays O(block · M).

    ``exact`` computes each distance from the differences (no |x|² + |y|² - 2 x·y cancellation,
    which leaves ~1e-8 instead of 0 at x = y once a square root is taken).
    """
    mode = "donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist_if_necessary"
    total = x.new_zeros(())
    block = max(1, _BLOCK_ENTRIES // y.shape[0])
    for i in range(0, x.shape[0], block):
        d = torch.cdist(x[i : i + block], y, compute_mode=mode)  # (b, M)
        total = total + wx[i : i + block] @ fn(d) @ wy
    return total


_RBF_BLOCK = 1 << 17  # entries of one kernel block: it stays in cache while exp runs over it


def _rbf_sum(x: Tensor, y: Tensor, gamma: Tensor) -> Tensor:
    """Σ_ij Σ_h exp(-γ_h |x_i - y_j|²) over all pairs, x (N, D), y (M, D), γ (H,).

    -γ |x - y|² = [x, 1, |x|²] · γ [2y, -|y|², -1] comes out of one matmul per row block (the
    form sklearn uses, about the points' centre; rounding can make |x - y|² slightly negative,
    clamped to 0), then one exp in place. When ``y is x`` only the blocks on and right of the
    diagonal are formed, those right of it counted twice.
    """
    sym = x is y
    n, m = x.shape[0], y.shape[0]
    # about a common centre: |x|² and |y|² stay small, so x·y cancels less
    c = x.mean(0) if sym else 0.5 * (x.mean(0) + y.mean(0))  # (D,)
    x = x - c
    y = x if sym else y - c
    xa = torch.cat([x, x.new_ones(n, 1), x.square().sum(1, keepdim=True)], 1)  # (N, D + 2)
    ya = torch.cat([2 * y, -y.square().sum(1, keepdim=True), -y.new_ones(m, 1)], 1)  # (M, D + 2)
    one = gamma.numel() == 1
    if one:
        ya = ya * gamma  # the matmul gives -γ d² directly
    yt = ya.T  # (D + 2, M)
    block = max(1, _RBF_BLOCK // m)
    total = x.new_zeros(())
    for i in range(0, n, block):
        j = i if sym else 0  # first column formed
        neg = (xa[i : i + block] @ yt[:, j:]).clamp_max_(0)  # (b, M - j): -γ d² (or -d²)
        b = neg.shape[0]
        ks = [neg.exp_()] if one else [torch.exp(neg * g) for g in gamma]  # each (b, M - j)
        for k in ks:
            if sym:
                total = total + k[:, :b].sum() + 2 * k[:, b:].sum()
            else:
                total = total + k.sum()
    return total


def energy_distance(
    x: Tensor,
    y: Tensor,
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
) -> Tensor:
    """Energy distance sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|) between weighted sample sets.

    In 1-D it equals sqrt(2) times the L2 distance between the CDFs (computed that way, in
    O(N log N), as ``scipy.stats.energy_distance``); in n-D the pairwise means are summed in blocks.
    """
    xs, ys = _pair(x, y)
    wx = as_weights(x_weights, xs.shape[0], xs, "x_weights")
    wy = as_weights(y_weights, ys.shape[0], ys, "y_weights")
    if xs.shape[1] == 1:
        diff, gaps = _cdf_gaps(xs[:, 0], ys[:, 0], wx, wy)  # (N + M - 1,) each
        return torch.sqrt(2 * (diff.square() * gaps).sum())

    def dist(d: Tensor) -> Tensor:
        return d

    e = (
        2 * _pairwise_sum(xs, ys, wx, wy, dist, True)
        - _pairwise_sum(xs, xs, wx, wx, dist, True)
        - _pairwise_sum(ys, ys, wy, wy, dist, True)
    )
    return e.clamp_min(0).sqrt()


def median_heuristic(x: Tensor, y: Tensor | None = None, *, max_points: int = 2000) -> Tensor:
    """RBF bandwidth h = median Euclidean distance between distinct points of x ∪ y.

    Above ``max_points`` pooled points the median is taken over a random subset of that size.
    """
    z = as_samples(x, "x") if y is None else torch.cat(_pair(x, y))
    if z.shape[0] < 2:
        raise ValueError("the median heuristic needs at least two points")
    if z.shape[0] > max_points:
        z = z[torch.randperm(z.shape[0], device=z.device)[:max_points]]
    h = torch.quantile(torch.nn.functional.pdist(z), 0.5)
    if h <= 0:
        raise ValueError("the median pairwise distance is 0; pass an explicit bandwidth")
    return h


def mmd2(
    x: Tensor,
    y: Tensor,
    *,
    bandwidth: float | Sequence[float] | str = "median",
    biased: bool = False,
) -> Tensor:
    """Squared maximum mean discrepancy with an RBF kernel k(a, b) = Σ_h exp(-|a - b|² / 2h²).

    Unbiased (U-statistic, Gretton et al. 2012):
        Σ_{i≠j} k(x_i, x_j) / N(N-1) + Σ_{i≠j} k(y_i, y_j) / M(M-1) - 2 Σ_ij k(x_i, y_j) / NM,
    which can be slightly negative; ``biased=True`` gives the V-statistic (i = j kept), >= 0.
    ``bandwidth`` is a number, a sequence (a sum of kernels) or ``"median"``
    (:func:`median_heuristic` on the pooled sample).
    """
    xs, ys = _pair(x, y)
    n, m = xs.shape[0], ys.shape[0]
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(
                f"bandwidth must be a positive number, a sequence of them or "
                f"'median', got {bandwidth!r}"
            )
        hs = median_heuristic(xs, ys).reshape(1)
    else:
        hs = torch.as_tensor(bandwidth, dtype=xs.dtype, device=xs.device).reshape(-1)
        if hs.numel() == 0 or not torch.isfinite(hs).all() or (hs <= 0).any():
            raise ValueError(f"bandwidth must be positive and finite, got {bandwidth!r}")
    if not biased and (n < 2 or m < 2):
        raise ValueError(f"the unbiased MMD needs at least 2 samples in x and in y, got {n}, {m}")
    gamma = 1 / (2 * hs.square())  # (H,)
    sxx, syy, sxy = _rbf_sum(xs, xs, gamma), _rbf_sum(ys, ys, gamma), _rbf_sum(xs, ys, gamma)
    if biased:
        return sxx / n**2 + syy / m**2 - 2 * sxy / (n * m)
    k0 = hs.numel()  # k(a, a) = number of kernels
    return (sxx - n * k0) / (n * (n - 1)) + (syy - m * k0) / (m * (m - 1)) - 2 * sxy / (n * m)
