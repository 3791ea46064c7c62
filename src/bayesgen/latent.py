"""Tools on the latent space of a latent-variable model (§2.2.4): encoding, interpolation and
attribute manipulation.

    lerp:    z_t = (1 − t) z_a + t z_b
    slerp:   z_t = ((1 − t)|z_a| + t|z_b|) (sin((1 − t)ω) ẑ_a + sin(tω) ẑ_b) / sin ω,
             ω = ∠(z_a, z_b): the great circle between the directions, the norm linear
    attribute vector (eq. 21):  z_attr = mean enc(X⁺) − mean enc(X⁻),
    manipulation:               x_λ = dec(enc(x) + λ z_attr)

A model here is anything with ``encode(x, y)`` → (B, L) and ``decode(z, y)`` → (B, *event), such
as :class:`~bayesgen.generative.VAE`. Everything is batched: a (B, L) batch of endpoints gives
(B, steps, L) paths.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_int

__all__ = [
    "encode",
    "lerp",
    "slerp",
    "attribute_vector",
    "manipulate",
    "interpolation_grid",
]

#: below this angle (radians) two directions count as parallel, above π − it as antipodal
ANGLE_EPS = 1e-4


def _model(model):
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise TypeError(f"model must have encode and decode, got {type(model).__name__}")
    return model


def _steps(steps: int) -> int:
    steps = check_int("steps", steps, low=2)
    return steps


@torch.no_grad()
def encode(model, x: Tensor, y: Tensor | None = None, *, batch_size: int = 4096) -> Tensor:
    """The posterior means enc(x) (N, L) of a data set, ``batch_size`` rows at a time."""
    _model(model)
    batch_size = check_int("batch_size", batch_size, low=1)
    parts = [
        model.encode(x[i : i + batch_size], None if y is None else y[i : i + batch_size])
        for i in range(0, len(x), batch_size)  # blocks of rows
    ]
    return torch.cat(parts)


def _endpoints(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape or a.dim() == 0:
        raise ValueError(
            f"a and b must have the same shape (..., L), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.get_default_dtype())
    return a.to(dtype), b.to(dtype)


def lerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """(1 − t) a + t b for ``steps`` values of t from 0 to 1: (..., L) → (..., steps, L)."""
    a, b = _endpoints(a, b)
    t = torch.linspace(0, 1, _steps(steps), dtype=a.dtype, device=a.device)[:, None]  # (S, 1)
    return (1 - t) * a[..., None, :] + t * b[..., None, :]  # (..., S, L)


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """Spherical interpolation (..., L) → (..., steps, L): the direction moves along the great
    circle from â to b̂ at constant angular speed, the norm goes linearly from |a| to |b|.

    Parallel endpoints (angle < ``ANGLE_EPS``) give :func:`lerp`. Antipodal endpoints have no
    unique great circle: the path turns through the unit vector u ⟂ â obtained by Gram–Schmidt
    from the coordinate axis least aligned with a (so z_t ∝ cos(πt) â + sin(πt) u). With L = 1
    there is no orthogonal direction and antipodal endpoints give :func:`lerp` too. A zero
    endpoint has no direction and also gives :func:`lerp`.
    """
    a, b = _endpoints(a, b)
    S = _steps(steps)
    t = torch.linspace(0, 1, S, dtype=a.dtype, device=a.device)[:, None]  # (S, 1)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)  # (..., 1)
    ua, ub = a / na.clamp_min(1e-30), b / nb.clamp_min(1e-30)  # (..., L) unit directions
    omega = torch.acos((ua * ub).sum(-1, keepdim=True).clamp(-1, 1))  # (..., 1)
    L = a.shape[-1]
    parallel = (omega < ANGLE_EPS) | (na == 0) | (nb == 0)  # (..., 1)
    antipodal = (omega > math.pi - ANGLE_EPS) & ~parallel
    if L == 1:
        parallel, antipodal = parallel | antipodal, torch.zeros_like(antipodal)
    # a direction orthogonal to â for the antipodal rows: e_k − (e_k·â) â, k = argmin |â_k|
    e = torch.nn.functional.one_hot(ua.abs().argmin(-1), L).to(a.dtype)  # (..., L)
    u = e - (e * ua).sum(-1, keepdim=True) * ua
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    # the target direction of the great circle: b̂ itself, or u for an antipodal pair (a half
    # turn π through u ends at −â = b̂)
    safe = torch.where(parallel | antipodal, torch.full_like(omega, math.pi / 2), omega)
    ortho = torch.where(antipodal, u, (ub - torch.cos(safe) * ua) / torch.sin(safe))  # (..., L)
    angle = torch.where(antipodal, torch.full_like(omega, math.pi), safe)  # (..., 1)
    theta = t * angle[..., None, :]  # (..., S, 1)
    direction = torch.cos(theta) * ua[..., None, :] + torch.sin(theta) * ortho[..., None, :]
    norm = (1 - t) * na[..., None, :] + t * nb[..., None, :]  # (..., S, 1)
    path = norm * direction  # (..., S, L)
    return torch.where(parallel[..., None, :], lerp(a, b, S), path)


@torch.no_grad()
def attribute_vector(
    model, x_pos: Tensor, x_neg: Tensor, y_pos: Tensor | None = None, y_neg: Tensor | None = None
) -> Tensor:
    """z_attr = mean enc(X⁺) − mean enc(X⁻) (L,): the latent direction of an attribute (eq. 21),
    from rows that have it (X⁺) and rows that do not (X⁻)."""
    return encode(model, x_pos, y_pos).mean(0) - encode(model, x_neg, y_neg).mean(0)


@torch.no_grad()
def manipulate(model, x: Tensor, z_attr: Tensor, lambdas, y: Tensor | None = None) -> Tensor:
    """x_λ = dec(enc(x) + λ z_attr) for every row and λ: (B, len(lambdas), *event) means."""
    _model(model)
    z = model.encode(x, y)  # (B, L)
    lam = torch.as_tensor(lambdas, dtype=z.dtype, device=z.device).reshape(-1)  # (K,)
    z_attr = torch.as_tensor(z_attr, dtype=z.dtype, device=z.device)
    if z_attr.shape != z.shape[1:]:
        raise ValueError(f"z_attr must have shape ({z.shape[1]},), got {tuple(z_attr.shape)}")
    zs = z[:, None] + lam[None, :, None] * z_attr  # (B, K, L)
    return _decode_grid(model, zs, y)


def _decode_grid(model, zs: Tensor, y: Tensor | None) -> Tensor:
    B, K, L = zs.shape
    yk = None if y is None else torch.as_tensor(y).repeat_interleave(K, dim=0)
    x = model.decode(zs.reshape(B * K, L), yk)  # (B K, *event)
    return x.reshape(B, K, *x.shape[1:])


@torch.no_grad()
def interpolation_grid(
    model,
    x_a: Tensor,
    x_b: Tensor,
    steps: int = 8,
    method: str = "lerp",
    y: Tensor | None = None,
) -> Tensor:
    """Rows of interpolations (figure 14): dec(path(enc(x_a), enc(x_b))) with ``method`` 'lerp' or
    'slerp', shape (B, steps, *event); the first and last columns decode the endpoints."""
    _model(model)
    if method == "lerp":
        path = lerp
    elif method == "slerp":
        path = slerp
    else:
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    zs = path(model.encode(x_a, y), model.encode(x_b, y), steps)  # (B, S, L)
    return _decode_grid(model, zs, y)
