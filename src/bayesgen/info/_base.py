"""Shared pieces of :mod:`bayesgen.info`: units, Monte Carlo estimates and input checks."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor
from torch.distributions import Distribution

__all__ = [
    "Estimate",
    "log_base",
    "as_table",
    "as_samples",
    "as_weights",
    "check_method",
    "check_n_samples",
    "draw",
    "mean_and_stderr",
]

_UNITS = {"nats": math.e, "nat": math.e, "bits": 2.0, "bit": 2.0, "bans": 10.0, "ban": 10.0}


class Estimate(NamedTuple):
    """A Monte Carlo estimate: ``value`` ± ``stderr`` (one standard error of the mean)."""

    value: Tensor
    stderr: Tensor


def log_base(base: float | None = None, unit: str | None = None) -> float:
    """ln b for the unit of information: ``base=2`` or ``unit="bits"``; nats (b = e) by default."""
    if unit is not None:
        if not isinstance(unit, str) or unit not in _UNITS:
            raise ValueError(f"unit must be one of 'nats', 'bits', 'bans', got {unit!r}")
        b = _UNITS[unit]
        if base is not None and not math.isclose(float(base), b):
            raise ValueError(f"base={base!r} contradicts unit={unit!r} (base {b:g})")
        return math.log(b)
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise TypeError(f"base must be a number > 1, got {base!r}")
    if not (math.isfinite(base) and base > 1):
        raise ValueError(f"base must be a finite number > 1, got {base!r}")
    return math.log(base)


def _tensor(x: object, name: str) -> Tensor:
    if isinstance(x, Distribution):
        raise TypeError(f"{name} must be a tensor here, got a {type(x).__name__} distribution")
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a tensor or array, got {type(x).__name__}") from err
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t


def as_table(p: object, name: str = "p") -> Tensor:
    """A probability table: non-negative, finite, each row along the last axis summing to 1."""
    t = _tensor(p, name)
    if t.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (the states), got a scalar")
    if t.shape[-1] == 0:
        raise ValueError(
            f"{name} must have at least one state on its last axis, got shape {tuple(t.shape)}"
        )
    lo, hi = torch.aminmax(t) if t.numel() else (t.new_zeros(()), t.new_zeros(()))
    if not bool((lo >= 0) & (hi <= torch.finfo(t.dtype).max)):  # one pass; NaN fails
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite, got non-finite entries")
        raise ValueError(f"{name} must be non-negative, got minimum {t.min().item():.6g}")
    sums = t.sum(-1)
    tol = math.sqrt(torch.finfo(t.dtype).eps) * 10
    bad = (sums - 1).abs() > tol
    if bad.any():
        idx = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name}: each row along the last axis must sum to 1, got sum "
            f"{sums[idx].item():.6g} at row {idx}"
        )
    return t


def as_samples(x: object, name: str = "x") -> Tensor:
    """A sample set, batch first: (N,) or (N, D), finite, N >= 1; returned as (N, D)."""
    t = _tensor(x, name)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (N,) or (N, D), got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got non-finite entries")
    return t


def as_weights(w: object | None, n: int, like: Tensor, name: str) -> Tensor:
    """Sample weights normalized to sum to 1: (N,), non-negative, finite, positive total."""
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    t = _tensor(w, name).to(dtype=like.dtype, device=like.device)
    if t.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be non-negative and finite")
    total = t.sum()
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum, got {total.item():g}")
    return t / total


def check_method(method: str, valid: tuple[str, ...]) -> str:
    if method not in valid:
        raise ValueError(f"method must be one of {', '.join(map(repr, valid))}, got {method!r}")
    return method


def check_n_samples(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n!r}")
    return n


def draw(p: Distribution, n: int) -> Tensor:
    """n samples from p, reparameterized when p allows it (gradients flow): (n, *batch, *event)."""
    return p.rsample((n,)) if p.has_rsample else p.sample((n,))


def mean_and_stderr(values: Tensor, scale: float = 1.0) -> Estimate:
    """Monte Carlo mean over axis 0 and its standard error s / sqrt(n), both over ``scale``."""
    n = values.shape[0]
    return Estimate(values.mean(0) / scale, values.std(0) / math.sqrt(n) / scale)
