"""Monotonic rational-quadratic splines (Durkan et al., 2019, "Neural Spline Flows").

On [−B, B] the map is made of K rational-quadratic pieces through the knots (x_k, y_k) with
derivatives d_k at the knots; outside it is the identity (linear tails, d_0 = d_K = 1). In bin k,
with w = x_{k+1} − x_k, h = y_{k+1} − y_k, s = h / w and ξ = (x − x_k) / w ∈ [0, 1]:

    y = y_k + h (s ξ² + d_k ξ(1−ξ)) / (s + (d_k + d_{k+1} − 2s) ξ(1−ξ))
    dy/dx = s² (d_{k+1} ξ² + 2 s ξ(1−ξ) + d_k (1−ξ)²) / (s + (d_k + d_{k+1} − 2s) ξ(1−ξ))²

and the inverse solves the quadratic a ξ² + b ξ + c = 0 for the root in [0, 1]. The 3K − 1 raw
numbers per coordinate are K widths and K heights (softmax, with a floor) and K − 1 interior
derivatives (softplus, shifted so that raw zeros give the identity). Everything is computed for
all coordinates at once: one softmax and cumsum over stacked widths and heights, the bin by
``torch.searchsorted`` over the knots, and one ``gather`` of the bin's six numbers.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from .transforms import FlowTransform

__all__ = ["Spline", "RQSplineTransform", "spline_knots"]

_SHIFT = math.log(math.e - 1)  # softplus(_SHIFT) = 1


def spline_knots(
    raw: Tensor, bound: float, min_bin: float = 1e-3, min_derivative: float = 1e-3
) -> Tensor:
    """Knots from raw parameters (..., 3K − 1): a tensor (..., 3, K + 1) holding the x-knots,
    the y-knots (both from −B to B) and the derivatives at the knots (1 at both ends)."""
    k = (raw.shape[-1] + 1) // 3
    wh = raw[..., : 2 * k].unflatten(-1, (2, k))  # (..., 2, K)
    wh = F.softmax(wh, dim=-1) * (1 - k * min_bin) + min_bin
    cum = F.pad(torch.cumsum(wh, dim=-1), (1, 0))  # (..., 2, K + 1), 0 … 1
    knots = (2 * bound) * cum - bound
    d = F.softplus(raw[..., 2 * k :] + _SHIFT) + min_derivative  # (..., K − 1)
    d = F.pad(d, (1, 1), value=1.0)[..., None, :]  # (..., 1, K + 1)
    return torch.cat([knots, d], dim=-2)  # (..., 3, K + 1)


def _bin(knots: Tensor, v: Tensor, row: int) -> tuple[Tensor, ...]:
    """The bin of each v (clamped into [−B, B]) along knot row ``row`` (0: x, 1: y) and its six
    numbers x_k, x_{k+1}, y_k, y_{k+1}, d_k, d_{k+1}."""
    inner = knots[..., row, 1:-1].contiguous()  # (..., K − 1)
    k = torch.searchsorted(inner, v[..., None], right=True)  # (..., 1) in [0, K − 1]
    idx = torch.cat([k, k + 1], dim=-1)[..., None, :].expand(*k.shape[:-1], 3, 2)
    g = knots.gather(-1, idx)  # (..., 3, 2)
    return g[..., 0, 0], g[..., 0, 1], g[..., 1, 0], g[..., 1, 1], g[..., 2, 0], g[..., 2, 1]


def _log_slope(xi: Tensor, s: Tensor, d0: Tensor, d1: Tensor) -> Tensor:
    t = xi * (1 - xi)
    den = s + (d0 + d1 - 2 * s) * t
    num = d1 * xi * xi + 2 * s * t + d0 * (1 - xi) ** 2
    return 2 * s.log() + num.log() - 2 * den.log()


class Spline:
    """The univariate rational-quadratic spline map of NSF with ``bins`` K on [−B, B]:
    P = 3K − 1 raw numbers per coordinate. ``forward``/``inverse`` return the value and
    log|dy/dx| (per coordinate) at the point on the x side."""

    def __init__(self, bins: int = 8, bound: float = 5.0):
        if not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be an int >= 1, got {bins!r}")
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound!r}")
        self.bins, self.bound = bins, float(bound)

    @property
    def params(self) -> int:
        return 3 * self.bins - 1

    def forward(self, x: Tensor, raw: Tensor) -> tuple[Tensor, Tensor]:
        b = self.bound
        knots = spline_knots(raw, b)
        inside = (x > -b) & (x < b)
        xc = x.clamp(-b, b)
        x0, x1, y0, y1, d0, d1 = _bin(knots, xc, 0)
        w, h = x1 - x0, y1 - y0
        s = h / w
        xi = (xc - x0) / w
        t = xi * (1 - xi)
        y = y0 + h * (s * xi * xi + d0 * t) / (s + (d0 + d1 - 2 * s) * t)
        ladj = _log_slope(xi, s, d0, d1)
        return torch.where(inside, y, x), torch.where(inside, ladj, torch.zeros_like(ladj))

    def inverse(self, y: Tensor, raw: Tensor) -> tuple[Tensor, Tensor]:
        b = self.bound
        knots = spline_knots(raw, b)
        inside = (y > -b) & (y < b)
        yc = y.clamp(-b, b)
        x0, x1, y0, y1, d0, d1 = _bin(knots, yc, 1)
        w, h = x1 - x0, y1 - y0
        s = h / w
        dy = yc - y0
        e = d0 + d1 - 2 * s
        a = h * (s - d0) + dy * e
        bq = h * d0 - dy * e
        c = -s * dy
        disc = (bq * bq - 4 * a * c).clamp_min(0)
        xi = (2 * c / (-bq - disc.sqrt())).clamp(0, 1)  # the root in [0, 1], stable form
        x = x0 + xi * w
        ladj = _log_slope(xi, s, d0, d1)
        return torch.where(inside, x, y), torch.where(inside, ladj, torch.zeros_like(ladj))

    def __repr__(self) -> str:
        return f"Spline(bins={self.bins}, bound={self.bound})"


class RQSplineTransform(FlowTransform):
    """The spline applied to every coordinate of x (B, D) with raw parameters (…, D, 3K − 1)
    (broadcast over the batch); log|det J| = Σ_d log|dy_d/dx_d|, sign = +1 (increasing)."""

    sign = +1

    def __init__(self, raw: Tensor, bound: float = 5.0):
        super().__init__()
        self.raw = raw
        self.spline = Spline((raw.shape[-1] + 1) // 3, bound)

    def forward_and_ladj(self, x):
        y, ladj = self.spline.forward(x, self.raw.expand(*x.shape, -1))
        return y, ladj.sum(-1)

    def inverse_and_ladj(self, y):
        x, ladj = self.spline.inverse(y, self.raw.expand(*y.shape, -1))
        return x, ladj.sum(-1)
