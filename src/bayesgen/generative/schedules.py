"""Noise schedules of the forward diffusion chain q(z_t | z_{t−1}) = N(√(1 − β_t) z_{t−1}, β_t I).

A schedule is an option object that turns the number of steps T into the variances β_1..β_T;
everything else follows from them: α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s, so that
q(z_t | x) = N(√ᾱ_t x, (1 − ᾱ_t) I) in closed form.

* :class:`LinearSchedule` (Ho et al., 2020): β_t evenly spaced from ``beta_start`` to
  ``beta_end`` (1e-4 to 0.02 is the choice for T = 1000; a short chain needs larger values).
* :class:`CosineSchedule` (Nichol & Dhariwal, 2021): ᾱ(t) = f(t/T) / f(0) with
  f(u) = cos²((u + s) / (1 + s) · π/2), β_t = min(1 − ᾱ(t)/ᾱ(t − 1), ``max_beta``); it suits any T.

Schedules are stored in a model's config as plain dicts (``schedule.config``) and rebuilt by
:func:`as_schedule`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["Schedule", "LinearSchedule", "CosineSchedule", "as_schedule", "training_times"]

#: the log-SNR below which the ELBO's weighting of t gives no more mass (ᾱ ≈ 4.5e-5)
LOG_SNR_FLOOR = -10.0


class Schedule:
    """Maps T to β_1..β_T (float64, shape (T,))."""

    name: str = ""

    def betas(self, T: int) -> Tensor:
        raise TypeError(f"{type(self).__name__} is not a concrete schedule")

    @property
    def config(self) -> dict[str, Any]:
        return {"name": self.name, **vars(self)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class LinearSchedule(Schedule):
    """β_t = beta_start + (beta_end − beta_start)(t − 1)/(T − 1), t = 1..T."""

    name = "linear"

    def __init__(self, beta_start: float = 1e-4, beta_end: float = 0.02):
        for key, value in (("beta_start", beta_start), ("beta_end", beta_end)):
            if not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ValueError(f"{key} must be a float in (0, 1), got {value!r}")
        if beta_end < beta_start:
            raise ValueError(f"beta_end must be >= beta_start ({beta_start}), got {beta_end!r}")
        self.beta_start, self.beta_end = float(beta_start), float(beta_end)

    def betas(self, T: int) -> Tensor:
        return torch.linspace(self.beta_start, self.beta_end, T, dtype=torch.float64)  # (T,)


class CosineSchedule(Schedule):
    """ᾱ(t) = f(t/T)/f(0), f(u) = cos²(π/2 · (u + s)/(1 + s)); β_t capped at ``max_beta``."""

    name = "cosine"

    def __init__(self, s: float = 0.008, max_beta: float = 0.999):
        if not isinstance(s, (int, float)) or s < 0:
            raise ValueError(f"s must be a float >= 0, got {s!r}")
        if not isinstance(max_beta, (int, float)) or not 0 < max_beta < 1:
            raise ValueError(f"max_beta must be a float in (0, 1), got {max_beta!r}")
        self.s, self.max_beta = float(s), float(max_beta)

    def betas(self, T: int) -> Tensor:
        u = torch.arange(T + 1, dtype=torch.float64) / T  # (T + 1,)
        f = torch.cos((u + self.s) / (1 + self.s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=self.max_beta)  # (T,)


def as_schedule(value: Schedule | str | dict[str, Any]) -> Schedule:
    """A schedule from itself, its name ('linear', 'cosine') or its config dict."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise ValueError(
            f"schedule must be a Schedule, 'linear', 'cosine' or a config dict, got {value!r}"
        )
    args = {k: v for k, v in value.items() if k != "name"}
    name = value.get("name")
    if name == "linear":
        return LinearSchedule(**args)
    elif name == "cosine":
        return CosineSchedule(**args)
    else:
        raise ValueError(f"schedule must be 'linear' or 'cosine', got {name!r}")


def training_times(log_abar: Tensor, elbo_fraction: float) -> Tensor:
    """The training distribution of the step t, (T + 1,) over t = 0..T (t = 0, the data, gets
    0), from log ᾱ_0..log ᾱ_T: (1 − f) U{1..T} + f p_λ with f = ``elbo_fraction`` and p_λ
    uniform in the log-SNR λ_t = log ᾱ_t/(1 − ᾱ_t) — each step gets the width of its λ-cell
    [λ_t, λ_{t−1}] (step 1 that of step 2), λ floored at ``LOG_SNR_FLOOR`` so that a capped
    schedule's last step does not take the mass."""
    T = len(log_abar) - 1
    log_abar = log_abar[1:].double()
    log_snr = (log_abar - torch.log(-torch.expm1(log_abar))).clamp(min=LOG_SNR_FLOOR)  # (T,)
    widths = log_snr[:-1] - log_snr[1:]  # (T − 1,) the λ-cells of steps 2..T
    widths = torch.cat([widths[:1], widths])  # (T,)
    if not widths.sum() > 0:  # every step below the floor: no λ to spread over
        widths = torch.ones_like(widths)
    proposal = (1 - elbo_fraction) / T + elbo_fraction * widths / widths.sum()
    return torch.cat([proposal.new_zeros(1), proposal])
