"""Ordinary differential equations in torch: a fixed-step Runge–Kutta 4 and an adaptive
Dormand–Prince 5(4) solver, and the divergence of a vector field (exact by autograd, or
Hutchinson's estimator E_v[vᵀ (∂f/∂z) v], v Rademacher).

They integrate dy/dt = f(t, y) for a state y (B, K) from t0 to t1 (either direction), batched:
the adaptive solver takes one step size for the whole batch, controlled by the RMS of the
scaled local error over every element.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._checks import check_int

__all__ = ["rk4", "dopri5", "odeint", "divergence"]

Field = Callable[[Tensor, Tensor], Tensor]  # f(t: scalar tensor, y: (B, K)) -> (B, K)


def rk4(f: Field, y0: Tensor, t0: float, t1: float, steps: int) -> Tensor:
    """Classic RK4 with ``steps`` equal steps: y_{n+1} = y_n + h/6 (k1 + 2k2 + 2k3 + k4)."""
    steps = check_int("steps", steps, low=1)
    h = (t1 - t0) / steps
    y = y0
    for i in range(steps):  # time steps, not rows
        t = torch.tensor(t0 + i * h, dtype=y.dtype, device=y.device)
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


# Dormand & Prince (1980): nodes c, stages a, 5th-order weights b, error weights b − b*.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b - b4 for b, b4 in zip((*_A[6], 0.0), _B4, strict=True))


def dopri5(
    f: Field,
    y0: Tensor,
    t0: float,
    t1: float,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 10_000,
) -> Tensor:
    """Adaptive Dormand–Prince 5(4) with first-same-as-last stages: a step is accepted when the
    RMS of err / (atol + rtol·max(|y|, |y_new|)) is ≤ 1; h ← h · clip(0.9 err^(−1/5), 0.2, 5)."""
    if rtol <= 0 or atol <= 0:
        raise ValueError(f"rtol and atol must be > 0, got {rtol!r} and {atol!r}")
    span = t1 - t0
    if span == 0:
        return y0
    direction = 1.0 if span > 0 else -1.0
    h = span / 100
    t, y = t0, y0
    k1 = f(torch.tensor(t, dtype=y.dtype, device=y.device), y)
    for _ in range(max_steps):  # time steps, not rows
        if direction * (t + h - t1) > 0:
            h = t1 - t
        ks = [k1]
        for i in range(1, 7):
            yi = y + h * sum(a * k for a, k in zip(_A[i], ks, strict=False) if a != 0.0)
            ks.append(f(torch.tensor(t + _C[i] * h, dtype=y.dtype, device=y.device), yi))
        y_new = yi  # the 7th stage is evaluated at the 5th-order solution (FSAL)
        err = h * sum(e * k for e, k in zip(_E, ks, strict=True) if e != 0.0)
        scale = atol + rtol * torch.maximum(y.abs(), y_new.abs())
        ratio = float((err / scale).pow(2).mean().sqrt())
        if ratio <= 1.0:
            t, y, k1 = t + h, y_new, ks[6]
            if direction * (t - t1) >= -1e-12 * abs(span):
                return y
        factor = 5.0 if ratio == 0 else min(5.0, max(0.2, 0.9 * ratio ** (-0.2)))
        h = h * factor
    raise RuntimeError(f"dopri5 did not reach t1={t1} in max_steps={max_steps} steps (at t={t})")


def odeint(
    f: Field,
    y0: Tensor,
    t0: float,
    t1: float,
    *,
    method: str = "dopri5",
    steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> Tensor:
    """y(t1) for dy/dt = f(t, y), y(t0) = y0, by ``method`` 'dopri5' (adaptive) or 'rk4'."""
    if method == "dopri5":
        return dopri5(f, y0, t0, t1, rtol=rtol, atol=atol)
    elif method == "rk4":
        return rk4(f, y0, t0, t1, steps)
    else:
        raise ValueError(f"method must be 'dopri5' or 'rk4', got {method!r}")


def divergence(
    fn: Callable[[Tensor], Tensor], z: Tensor, *, noise: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(fn(z), div fn(z)) for z (B, D) → (B, D): the exact trace of the Jacobian by D
    backward passes when ``noise`` is None, else Hutchinson's vᵀ J v with v = ``noise`` (B, D)."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        out = fn(z)  # (B, D)
        if noise is not None:
            (vjp,) = torch.autograd.grad((out * noise).sum(), z)
            return out.detach(), (vjp * noise).sum(-1)  # (B,)
        div = torch.zeros(len(z), dtype=z.dtype, device=z.device)
        for d in range(z.shape[1]):  # dimensions, not rows
            (g,) = torch.autograd.grad(out[:, d].sum(), z, retain_graph=d < z.shape[1] - 1)
            div = div + g[:, d]
    return out.detach(), div
