"""A flow's distribution, and the standard stacks of layers (RealNVP, MAF, IAF, NSF).

:class:`FlowDistribution` is a :class:`torch.distributions.TransformedDistribution` whose
``log_prob`` runs each step's fused inverse once (value and log-Jacobian together) and which
exposes the intermediate variables z₀ → z₁ → … → x of the chain (``trajectory``).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Transform, TransformedDistribution
from torch.distributions.transforms import ComposeTransform, ReshapeTransform

from .autoregressive import MaskedAutoregressive
from .coupling import Coupling
from .spline import Spline
from .transforms import (
    ActNorm,
    LULinear,
    Permutation,
    TransformBuilder,
    forward_and_ladj,
    inverse_and_ladj,
)

__all__ = ["FlowDistribution", "Compose", "make_steps", "KINDS"]

#: the layer stacks ``make_steps`` knows
KINDS = ("realnvp", "maf", "iaf", "nsf", "nsf-coupling")


class FlowDistribution(TransformedDistribution):
    """x = T_K ∘ … ∘ T_1(z₀), z₀ ~ ``base`` (batch B or (), event (D,)); x has ``event_shape``
    (z's are flat vectors of D = Π event_shape). ``log_prob(x) = log p(z₀) − Σ_k log|det J_k|``."""

    def __init__(self, base: Distribution, steps: Sequence[Transform], event_shape=None):
        self.steps = list(steps)
        self.shape = tuple(base.event_shape if event_shape is None else event_shape)
        self.size = prod(self.shape)
        reshape = (
            []
            if self.shape == tuple(base.event_shape)
            else [ReshapeTransform(tuple(base.event_shape), self.shape)]
        )
        super().__init__(base, self.steps + reshape, validate_args=False)

    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(*x.shape[: x.dim() - len(self.shape)], self.size)

    def trajectory(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The inverse pass from x: [z₀, z₁, …, z_K] (flat, (…, D)) and each step's forward
        log|det J_k| at z_{k−1} (…,)."""
        zs, ladjs = [self._flat(x)], []
        for step in reversed(self.steps):
            z, ladj = inverse_and_ladj(step, zs[0])
            zs.insert(0, z)
            ladjs.insert(0, ladj)
        return zs, ladjs

    def log_prob(self, x: Tensor) -> Tensor:
        z = self._flat(x)
        total = z.new_zeros(z.shape[:-1])
        for step in reversed(self.steps):
            z, ladj = inverse_and_ladj(step, z)
            total = total + ladj
        return self.base_dist.log_prob(z) - total

    def push(self, z0: Tensor) -> Tensor:
        """x from base draws z₀ (…, D) (the sampling direction)."""
        for step in self.steps:
            z0 = step(z0)
        return z0.reshape(*z0.shape[:-1], *self.shape)

    def sample_and_log_prob(self, sample_shape=()) -> tuple[Tensor, Tensor]:
        """Draws with their log-density from the forward pass alone (fast for IAF)."""
        z = self.base_dist.rsample(sample_shape)
        lp = self.base_dist.log_prob(z)
        for step in self.steps:
            z, ladj = forward_and_ladj(step, z)
            lp = lp - ladj
        return z.reshape(*z.shape[:-1], *self.shape), lp


class Compose(TransformBuilder):
    """Builders applied in turn (z → x): one step of a flow made of several layers."""

    def __init__(self, *builders: TransformBuilder):
        if not builders:
            raise ValueError("Compose needs at least one builder")
        super().__init__(builders[0].features)
        self.parts = nn.ModuleList(builders)

    def forward(self, context: Tensor | None = None) -> Transform:
        ts = [b(context) for b in self.parts]
        return ts[0] if len(ts) == 1 else ComposeTransform(ts, cache_size=0)


def make_steps(
    kind: str,
    features: int,
    *,
    layers: int = 5,
    hidden: Sequence[int] = (128, 128),
    context_size: int = 0,
    bins: int = 8,
    bound: float = 5.0,
    linear: str = "reverse",
    actnorm: bool = False,
    conditioning: str = "concat",
    seed: int = 0,
) -> nn.ModuleList:
    """``layers`` steps of a standard flow, each [ActNorm] → mixing → main layer (z → x):

    * kind: "realnvp" (affine coupling), "maf" / "iaf" (affine autoregressive), "nsf"
      (spline autoregressive, as zuko's NSF), "nsf-coupling" (spline coupling);
    * linear: how coordinates are mixed before each main layer after the first: "reverse",
      "random" (seeded permutations; for autoregressive layers folded into the MADE's order,
      which is the same map without moving data), "lu" (LU-factored linear maps) or "none"
      (coupling layers then alternate their masks).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if linear not in ("reverse", "random", "lu", "none"):
        raise ValueError(f"linear must be 'reverse', 'random', 'lu' or 'none', got {linear!r}")
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be an int >= 1, got {layers!r}")
    hidden = tuple(hidden)
    coupling = kind in ("realnvp", "nsf-coupling")
    steps = []
    order = torch.arange(features)
    for k in range(layers):
        parts: list[TransformBuilder] = []
        if actnorm:
            parts.append(ActNorm(features))
        if k > 0 and features > 1:
            if linear == "lu":
                parts.append(LULinear(features, seed=seed + k))
            elif linear in ("reverse", "random") and coupling:
                parts.append(Permutation(features, linear, seed=seed + k))
            elif linear in ("reverse", "random"):  # a permutation folded into the MADE's order
                order = Permutation(features, linear, seed=seed + k).perm[order]
        uni = Spline(bins, bound) if kind.startswith("nsf") else None
        if coupling:
            flip = linear == "none" and k % 2 == 1
            parts.append(
                Coupling(
                    features,
                    uni,
                    flip=flip,
                    hidden=hidden,
                    context_size=context_size,
                    conditioning=conditioning,
                )
            )
        else:
            parts.append(
                MaskedAutoregressive(
                    features,
                    uni,
                    hidden=hidden,
                    context_size=context_size,
                    order=order.tolist(),
                    inverse=kind == "iaf",
                )
            )
        steps.append(Compose(*parts))
    return nn.ModuleList(steps)
