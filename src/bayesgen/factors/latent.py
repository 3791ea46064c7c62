"""Factors for latent-variable networks: the standard normal prior, a factor whose distribution a
module builds, and the flat factor of a variable that is always observed.

    p(z) = N(0, I_L)                              StandardNormal
    p(x | Pa(x), y) = module(Pa(x), y)            ModuleFactor (the module returns a Distribution)
    p(x) ∝ 1                                      Flat (x given, e.g. the input of q(z | x))

A :class:`ModuleFactor` shares its module with a model (a VAE's decoder or encoder), so the
network's factors and the model's fast path are the same parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, constraints

from ..variables import Continuous, Variable
from .base import Factor, parent_features

__all__ = ["StandardNormal", "ModuleFactor", "Flat"]


class StandardNormal(Factor):
    """The root p(z) = N(0, I) of a continuous variable z (its mean and scale are buffers)."""

    def __init__(self, variable: Continuous, dtype: torch.dtype | None = None):
        if not isinstance(variable, Continuous):
            raise TypeError(f"StandardNormal needs a Continuous variable, got {variable!r}")
        super().__init__(variable, ())
        self.register_buffer("loc", torch.zeros(variable.shape, dtype=dtype))
        self.register_buffer("scale", torch.ones(variable.shape, dtype=dtype))

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        dist = Normal(self.loc, self.scale)  # batch (), event = z's shape
        return Independent(dist, len(self.variable.shape)) if self.variable.shape else dist


class ModuleFactor(Factor):
    """p(x | Pa(x), y) = ``module(h, c)``: h (B, F) the parents' features (one-hot or flattened,
    :func:`~bayesgen.factors.base.parent_features`), c (B, C) the context or None; the module
    returns a Distribution with batch (B,) and x's event shape. The context goes to the module
    itself, so it can enter by concatenation, FiLM or cross-attention (:mod:`bayesgen.nn`)."""

    def __init__(self, variable: Variable, parents: Sequence[Variable], module: nn.Module):
        super().__init__(variable, parents)
        if not self.parents:
            raise ValueError(f"ModuleFactor of {variable.name!r} needs at least one parent")
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
        self.module = module

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        h = parent_features(self.parents, parents)  # (B, F)
        return self.module(h, context)


class _FlatDistribution(Distribution):
    """The improper uniform density p(x) ∝ 1 (log-density 0) of an observed variable."""

    arg_constraints: dict = {}
    support = constraints.real

    def __init__(self, event_shape: tuple[int, ...], name: str):
        self.name = name
        super().__init__(torch.Size(), torch.Size(event_shape), validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        n = len(self.event_shape)
        return torch.zeros(value.shape[: value.dim() - n], dtype=value.dtype, device=value.device)

    def sample(self, sample_shape=()) -> Tensor:
        raise ValueError(
            f"{self.name!r} is observed in this network (an improper flat factor); give its "
            "values instead of sampling them"
        )


class Flat(Factor):
    """A root whose values are always given, such as x in the encoder's network q(z | x): the
    improper p(x) ∝ 1, so the network's log_prob is Σ of the other factors, e.g. log q(z | x).
    Sampling it is an error."""

    def __init__(self, variable: Continuous):
        if not isinstance(variable, Continuous):
            raise TypeError(f"Flat needs a Continuous variable, got {variable!r}")
        super().__init__(variable, ())

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        return _FlatDistribution(self.variable.shape, self.name)
