"""Blocked statistics of naive Bayes: per-class sums, moments and bounds of blocks of rows.

Per-class sums Σ_b w_b [y_b = c] x_b are scatter-adds of rows (index_add_); whatever is
elementwise runs in blocks of rows through one scratch buffer of about ``chunk_bytes``
(cache-sized), so no (B, D)-sized temporary is made on the complete-data path.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "CHUNK_BYTES",
    "class_weight",
    "class_sum",
    "class_moments",
    "observed",
    "observed_bounds",
    "is_integral",
    "pool",
    "safe_mm",
    "smoothing_on",
    "rows_per_block",
]

CHUNK_BYTES = 1 << 22  # scratch bytes of one block of rows (cache-sized: no page faults)


def rows_per_block(row_bytes: int, chunk_bytes: int) -> int:
    """Rows per block when each row needs ``row_bytes`` of scratch."""
    return max(1, chunk_bytes // max(1, row_bytes))


def class_weight(y: Tensor, w: Tensor | None, C: int, dtype: torch.dtype) -> Tensor:
    """N_c = Σ_b w_b [y_b = c] (w None: all 1): (C,)."""
    return torch.bincount(y, weights=w, minlength=C).to(dtype)


def class_sum(
    x: Tensor, y: Tensor, w: Tensor | None, C: int, chunk_bytes: int = CHUNK_BYTES
) -> Tensor:
    """S_cd = Σ_b w_b [y_b = c] x_bd for every class: x (B, D) -> (C, D). Rows are
    scatter-added into their class's row (index_add_); with weights (w (B,), None: all 1)
    they are scaled first, one block of rows at a time in one scratch buffer."""
    B, D = x.shape
    out = x.new_zeros(C, D)
    if w is None:
        return out.index_add_(0, y, x)
    step = rows_per_block(D * x.element_size(), chunk_bytes)
    buf = x.new_empty(min(step, B), D)
    for i in range(0, B, step):
        xb = x[i : i + step]  # (b, D)
        wx = torch.mul(xb, w[i : i + step, None], out=buf[: len(xb)])
        out.index_add_(0, y[i : i + step], wx)
    return out


def observed_bounds(x: Tensor, miss: Tensor | None = None) -> tuple[float, float]:
    """(min, max) of the observed entries of x in one pass; NaN when x has an unmasked NaN,
    (inf, -inf) when nothing is observed."""
    if miss is not None:
        x = x[~miss]  # (n_observed,)
    if x.numel() == 0:
        return math.inf, -math.inf
    lo, hi = x.aminmax()
    return float(lo), float(hi)


def is_integral(v: Tensor, chunk_bytes: int = CHUNK_BYTES) -> bool:
    """Every entry of v (B, D) a whole number, tested in blocks of rows (no (B, D) copy)."""
    B, D = v.shape
    step = rows_per_block(D * v.element_size(), chunk_bytes)
    buf = v.new_empty(min(step, B), D)
    for i in range(0, B, step):
        vb = v[i : i + step]
        if not torch.equal(torch.round(vb, out=buf[: len(vb)]), vb):
            return False
    return True


# ---------------------------------------------------------------------------------- families


def observed(x: Tensor, miss: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(x with NaN -> 0, the 0/1 float mask of observed entries or None when complete)."""
    if miss is None:
        return x, None
    return x.masked_fill(miss, 0.0), (~miss).to(x.dtype)


def class_moments(
    x0: Tensor, m: Tensor | None, y: Tensor, w: Tensor | None, C: int, chunk_bytes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted count, mean and centered sum of squares of every feature within each class,
    by the two-pass algorithm (exact differences, no Σx² - (Σx)²/n cancellation):

        n_cd = Σ_{b: y_b = c} w_b m_bd,   mean_cd = Σ_{b: y_b = c} w_b x_bd / n_cd,
        M2_cd = Σ_{b: y_b = c} w_b m_bd (x_bd - mean_cd)²,

    with m the 0/1 mask of observed entries (None: all observed; x0 is 0 where missing) and
    w the weights (None: all 1). Pass 1 is a scatter-add of the rows; pass 2 forms the
    deviations in blocks of rows in one scratch buffer and scatter-adds their squares.
    """
    B, D = x0.shape
    if m is None:
        n = class_weight(y, w, C, x0.dtype)[:, None].expand(C, D)  # (C, D)
    else:
        n = class_sum(m, y, w, C, chunk_bytes)  # (C, D)
    mean = class_sum(x0, y, w, C, chunk_bytes) / n.clamp_min(torch.finfo(x0.dtype).tiny)
    m2 = x0.new_zeros(C, D)
    step = rows_per_block(D * x0.element_size(), chunk_bytes)
    buf = x0.new_empty(min(step, B), D)
    for i in range(0, B, step):
        xb, yb = x0[i : i + step], y[i : i + step]  # (b, D), (b,)
        dev = torch.index_select(mean, 0, yb, out=buf[: len(xb)])  # each row's class mean
        torch.sub(xb, dev, out=dev).square_()  # (b, D)
        if m is not None:
            dev.mul_(m[i : i + step])
        if w is not None:
            dev.mul_(w[i : i + step, None])
        m2.index_add_(0, yb, dev)  # (C, D) += Σ_{b: y_b = c} w_b dev_bd²
    return n, mean, m2


def pool(n: Tensor, mean: Tensor, m2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Merge the groups (rows) of (count, mean, M2), each (G, D), into one (D,) each:
    n = Σ_g n_g, mean = Σ_g n_g mean_g / n, M2 = Σ_g M2_g + Σ_g n_g (mean_g - mean)²
    (the law of total variance; every term >= 0, so nothing cancels)."""
    n_all = n.sum(0)  # (D,)
    mean_all = (n * mean).sum(0) / n_all.clamp_min(torch.finfo(mean.dtype).tiny)
    m2_all = m2.sum(0) + (n * (mean - mean_all) ** 2).sum(0)
    return n_all, mean_all, m2_all


def safe_mm(x: Tensor, logp: Tensor) -> Tensor:
    """x @ logp.T with 0 * (-inf) = 0: (B, D) x (C, D) -> (B, C)."""
    inf = torch.isinf(logp)
    if not inf.any():
        return x @ logp.T
    out = x @ logp.masked_fill(inf, 0.0).T
    hit = (x > 0).to(x.dtype) @ inf.to(x.dtype).T  # (B, C) entries that meet log 0
    return out.masked_fill(hit > 0, -math.inf)


def smoothing_on(alpha: float | Tensor, like: Tensor) -> float | Tensor:
    """A smoothing value (float, or per feature) on the device and dtype of ``like``."""
    return alpha if isinstance(alpha, float) else alpha.to(like)
