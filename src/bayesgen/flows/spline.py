"""Monotonic rational-quadratic splines (Durkan et al., 2019, "Neural Spline Flows").

On [−B, B] the map is made of K rational-quadratic pieces through the knots (x_k, y_k) with
derivatives d_k at the knots; outside it is the identity (linear tails, d_0 = d_K = 1). In bin k,
with w = x_{k+1} − x_k, h = y_{k+1} − y_k, s = h / w and ξ = (x − x_k) / w ∈ [0, 1]:

    y = y_k + h (s ξ² + d_k ξ(1−ξ)) / (s + (d_k + d_{k+1} − 2s) ξ(1−ξ))
    dy/dx = s² (d_{k+1} ξ² + 2 s ξ(1−ξ) + d_k (1−ξ)²) / (s + (d_k + d_{k+1} − 2s) ξ(1−ξ))²

and the inverse solves the quadratic a ξ² + b ξ + c = 0 for the root in [0, 1]. The 3K − 1 raw
numbers per coordinate are K widths and K heights (softmax, with a floor) and K − 1 interior
derivatives (exponentials; raw zeros give the identity). Everything is computed for all
coordinates at once: one normalised cumulative sum (a matmul) over stacked widths and heights,
the bin by ``torch.searchsorted`` over the knots, and one ``gather`` of the bin's six numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .transforms import FlowTransform, TransformBuilder

__all__ = ["Spline", "RQSplineTransform", "ElementwiseSpline", "spline_knots"]

_RAW = 8.0  # raw numbers are clamped to [−8, 8]: exp stays finite, bin ratios ≤ e^16
_CONST: dict[tuple, tuple[Tensor, ...]] = {}


def _constants(k: int, bound: float, min_bin: float, min_d: float, like: Tensor):
    """The fixed tensors of a K-bin spline (cached): ``mix`` (3K − 1, 3(K + 1)) maps exp(raw)
    to cumulative widths and heights (with a leading 0) and to the interior derivatives (scaled
    by 1 − min_d); ``bias`` (3, K + 1) adds min_d inside and 1 at both ends of the derivative
    row; ``ramp`` (3, K + 1) is the bin floors' cumulative sum minus B (0 on the derivative
    row); ``offsets`` (6,) are a bin's six numbers in the flattened knots."""
    key = (k, bound, min_bin, min_d, like.dtype, like.device)
    if key not in _CONST:
        n = k + 1
        mix = torch.zeros(3 * k - 1, 3 * n, dtype=torch.float64)
        tri = torch.ones(k, n, dtype=torch.float64).triu(1)  # e @ tri: 0, e_0, e_0 + e_1, …
        mix[:k, :n], mix[k : 2 * k, n : 2 * n] = tri, tri
        mix[2 * k :, 2 * n + 1 : 3 * n - 1] = (1 - min_d) * torch.eye(k - 1, dtype=torch.float64)
        bias = torch.zeros(3, n, dtype=torch.float64)
        bias[2] = min_d
        bias[2, 0] = bias[2, -1] = 1.0
        ramp = torch.zeros(3, n, dtype=torch.float64)
        ramp[:2] = torch.arange(n, dtype=torch.float64) * (2 * bound * min_bin) - bound
        offsets = torch.tensor([0, 1, n, n + 1, 2 * n, 2 * n + 1], device=like.device)
        cast = {"dtype": like.dtype, "device": like.device}
        _CONST[key] = (mix.to(**cast), bias.to(**cast), ramp.to(**cast), offsets)
    return _CONST[key]


def spline_knots(
    raw: Tensor, bound: float, min_bin: float = 1e-3, min_derivative: float = 1e-3
) -> Tensor:
    """Knots from raw parameters (..., 3K − 1): a tensor (..., 3, K + 1) holding the x-knots,
    the y-knots (both from −B to B) and the derivatives at the knots (1 at both ends).

    With r = raw clamped to [−8, 8]: bin sizes ∝ exp(r) plus a floor ``min_bin`` (a softmax,
    computed with the cumulative sums as one matmul and normalised by their last entries),
    interior derivatives ``min_derivative`` + (1 − ``min_derivative``) exp(r), so raw zeros give
    the identity."""
    k = (raw.shape[-1] + 1) // 3
    mix, bias, ramp, _ = _constants(k, bound, min_bin, min_derivative, raw)
    e = raw.clamp(-_RAW, _RAW).exp().reshape(-1, 3 * k - 1)  # (N, 3K − 1)
    a = (e @ mix).view(*raw.shape[:-1], 3, k + 1) + bias  # (..., 3, K + 1)
    scale = (1 - k * min_bin) * 2 * bound / a[..., :2, -1:]  # (..., 2, 1): 2B(1 − Kf) / Σ e
    scale = torch.cat([scale, torch.ones_like(scale[..., :1, :])], dim=-2)  # (..., 3, 1)
    return a * scale + ramp  # (..., 3, K + 1)


def _bin(knots: Tensor, v: Tensor, row: int, offsets: Tensor) -> Tensor:
    """The six numbers x_k, x_{k+1}, y_k, y_{k+1}, d_k, d_{k+1} (..., 6) of the bin of each v
    (clamped into [−B, B]) along knot row ``row`` (0: x, 1: y): one searchsorted, one gather
    at ``offsets`` (see :func:`_constants`)."""
    inner = knots[..., row, 1:-1].contiguous()  # (..., K − 1)
    k = torch.searchsorted(inner, v[..., None], right=True)  # (..., 1) in [0, K − 1]
    return knots.flatten(-2).gather(-1, k + offsets)  # (..., 6)


class _RQS(torch.autograd.Function):
    """The spline inside one bin, forward (v = x) or inverse (v = y), with its log-slope, as one
    autograd node: the derivatives are written out (implicit differentiation for the inverse),
    since a hundred tiny autograd nodes cost far more than the arithmetic. Inputs: v (...,),
    g = (x_k, x_{k+1}, y_k, y_{k+1}, d_k, d_{k+1}) (..., 6); identity outside (−B, B)."""

    @staticmethod
    def forward(ctx, v: Tensor, g: Tensor, bound: float, inverse: bool):
        x0, x1, y0, y1, d0, d1 = g.unbind(-1)
        inside = (v > -bound) & (v < bound)
        vc = v.clamp(-bound, bound)
        w, h = x1 - x0, y1 - y0
        s = h / w
        e = d0 + d1 - 2 * s
        if inverse:
            dy = vc - y0
            de = dy * e
            a = h * (s - d0) + de
            bq = h * d0 - de
            c = -s * dy
            disc = (bq * bq - 4 * a * c).clamp_min(0)
            xi = (2 * c / (-bq - disc.sqrt())).clamp(0, 1)  # the root in [0, 1], stable form
        else:
            xi = (vc - x0) / w
        om = 1 - xi
        t = xi * om
        den = s + e * t
        n = s * xi * xi + d0 * t
        out = x0 + xi * w if inverse else y0 + h * n / den
        gq = d1 * xi * xi + 2 * s * t + d0 * om * om
        ladj = torch.log(s * s * gq / (den * den))  # log dy/dx
        ctx.save_for_backward(inside, xi, s, w, h, d0, d1, den, n, gq, e)
        ctx.inverse = inverse
        return torch.where(inside, out, v), torch.where(inside, ladj, 0.0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, go: Tensor, gl: Tensor):
        inside, xi, s, w, h, d0, d1, den, n, gq, e = ctx.saved_tensors
        om = 1 - xi
        t = xi * om
        u = 1 - 2 * xi
        r = h / den
        # ladj = 2 log s + log gq − 2 log den at fixed ξ, and through ξ
        l_xi = gl * (2 * (d1 * xi + s * u - d0 * om) / gq - 2 * e * u / den)
        l_s = gl * (2 / s + 2 * t / gq - 2 * (1 - 2 * t) / den)
        l_d0 = gl * (om * om / gq - 2 * t / den)
        l_d1 = gl * (xi * xi / gq - 2 * t / den)
        # ∂y/∂θ at fixed ξ, y = y_k + h n / den
        y_s = r * (xi * xi - n * (1 - 2 * t) / den)
        y_d0 = r * t * (1 - n / den)
        y_d1 = -r * n * t / den
        if ctx.inverse:  # x = x_k + ξ w with y(ξ) = v: dξ = (dv − ∂y/∂θ dθ) / (dy/dξ)
            q = (go * w + l_xi) * den * den / (h * s * gq)
            gv = q
            g_y0, g_h = -q, -q * n / den
            g_s = l_s - q * y_s
            g_d0 = l_d0 - q * y_d0
            g_d1 = l_d1 - q * y_d1
            g_x0, g_w = go, go * xi
        else:  # ξ = (v − x_k) / w
            g_xi = go * r * (2 * s * xi + d0 * u - n * e * u / den) + l_xi
            gv = g_xi / w
            g_y0, g_h = go, go * n / den
            g_s = go * y_s + l_s
            g_d0 = go * y_d0 + l_d0
            g_d1 = go * y_d1 + l_d1
            g_x0, g_w = -gv, -gv * xi
        g_h = g_h + g_s / w  # s = h / w
        g_w = g_w - g_s * s / w
        grads = torch.stack([g_x0 - g_w, g_w, g_y0 - g_h, g_h, g_d0, g_d1], dim=-1)
        grads = torch.where(inside[..., None], grads, 0.0)
        return torch.where(inside, gv, go), grads, None, None


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

    def _offsets(self, like: Tensor) -> Tensor:
        return _constants(self.bins, self.bound, 1e-3, 1e-3, like)[3]

    def forward(self, x: Tensor, raw: Tensor) -> tuple[Tensor, Tensor]:
        knots = spline_knots(raw, self.bound)
        g = _bin(knots, x.clamp(-self.bound, self.bound), 0, self._offsets(raw))
        return _RQS.apply(x, g, self.bound, False)

    def inverse(self, y: Tensor, raw: Tensor) -> tuple[Tensor, Tensor]:
        knots = spline_knots(raw, self.bound)
        g = _bin(knots, y.clamp(-self.bound, self.bound), 1, self._offsets(raw))
        return _RQS.apply(y, g, self.bound, True)

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


class ElementwiseSpline(TransformBuilder):
    """A learnt spline per coordinate (no conditioner): raw parameters (D, 3K − 1), the
    identity at initialisation."""

    def __init__(self, features: int, bins: int = 8, bound: float = 5.0):
        super().__init__(features)
        self.spline = Spline(bins, bound)
        self.raw = nn.Parameter(torch.zeros(features, self.spline.params))

    def forward(self, context: Tensor | None = None) -> RQSplineTransform:
        return RQSplineTransform(self.raw, self.spline.bound)
