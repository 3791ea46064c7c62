"""A deterministic factor: x = g(Pa(x), y), the point mass a GAN's generator puts on x given z.

    p(x | z, y) = δ(x − g(z, y))

As a density over a continuous x it has no finite value; :class:`PointMass` follows the
counting-measure convention of a degenerate factor: log-probability 0 at the point (to a
relative tolerance) and −∞ elsewhere, so a network's ``log_prob`` of an assignment the
generator produced is the log-density of its random roots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, constraints

from ..variables import Continuous, Variable
from .base import Factor, parent_features

__all__ = ["PointMass", "Deterministic"]


class PointMass(Distribution):
    """All mass at ``value`` (batch (B,), event of x's shape)."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, value: Tensor, event_dims: int, rtol: float | None = None):
        self.value = value
        self.rtol = 10 * torch.finfo(value.dtype).eps ** 0.5 if rtol is None else rtol
        n = value.dim() - event_dims
        super().__init__(value.shape[:n], value.shape[n:], validate_args=False)

    @property
    def support(self):
        return constraints.independent(constraints.real, len(self.event_shape))

    @property
    def mean(self) -> Tensor:
        return self.value

    def rsample(self, sample_shape=()) -> Tensor:
        return self.value.expand(*torch.Size(sample_shape), *self.value.shape)

    def log_prob(self, value: Tensor) -> Tensor:
        dims = tuple(range(-len(self.event_shape), 0))
        close = (value - self.value).abs() <= self.rtol * (1 + self.value.abs())
        close = close.all(dim=dims) if dims else close
        zero = torch.zeros(close.shape, dtype=self.value.dtype, device=self.value.device)
        return zero.masked_fill(~close, -torch.inf)


class Deterministic(Factor):
    """x = ``module(h, c)`` with h (B, F) the parents' features and c (B, C) the context (or
    None); the module is shared with the model (a GAN's generator)."""

    def __init__(self, variable: Continuous, parents: Sequence[Variable], module: nn.Module):
        if not isinstance(variable, Continuous):
            raise TypeError(f"a deterministic factor needs a Continuous variable, got {variable!r}")
        super().__init__(variable, parents)
        if not self.parents:
            raise ValueError(f"the deterministic factor of {variable.name!r} needs parents")
        self.module = module

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> PointMass:
        h = parent_features(self.parents, parents)  # (B, F)
        x = self.module(h, context)  # (B, *shape)
        return PointMass(x.reshape(x.shape[0], *self.variable.shape), len(self.variable.shape))
