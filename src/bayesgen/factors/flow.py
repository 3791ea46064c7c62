"""Flow factors: a normalizing flow as one node p(x | Pa(x), y), and the chain z₀ → … → x.

:class:`FlowFactor` is p(x | Pa(x), y) = N(0, I) pushed through ``steps`` whose conditioner
networks read c = [Pa(x), y] (discrete parents one-hot, continuous ones flattened, the context
last), so a flow is a node of any BayesNet.

The chain view (figure 12) makes each step a node: z₀ ~
:class:`~bayesgen.factors.latent.StandardNormal` and z_k given
z_{k−1} is :class:`FlowStep`, the point mass at T_k(z_{k−1}). A point mass has no density
w.r.t. Lebesgue measure; the step's ``log_prob`` is the change-of-variables term instead,

    log p(z_k | z_{k−1}) := −log|det ∂T_k/∂z_{k−1}|  where z_k = T_k(z_{k−1}),  −∞ elsewhere,

so that the network's sum over the chain, log N(z₀) − Σ_k log|det J_k|, is exactly the flow's
log p(x) for the z_k of the inverse pass (the density of x, the only free variable of the chain).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, Transform, constraints

from ..flows.distribution import FlowDistribution, make_steps
from ..flows.transforms import TransformBuilder, forward_and_ladj
from ..variables import Continuous, Variable
from .base import Factor, parent_features
from .neural import _input_size

__all__ = ["FlowFactor", "FlowStep", "PushForward"]


def _check_continuous(variable: Variable) -> Continuous:
    if not isinstance(variable, Continuous):
        raise TypeError(f"a flow's variable must be Continuous, got {variable!r}")
    return variable


class _StandardNormal(Independent):
    """N(0, I_D) with the log-density in three operations, −½ Σ z² − (D/2) log 2π."""

    def log_prob(self, value: Tensor) -> Tensor:
        d = value.shape[-1]
        return (value * value).sum(-1) * -0.5 - 0.5 * d * math.log(2 * math.pi)


class FlowFactor(Factor):
    """p(x | Pa(x), y) = N(0, I_D) pushed through ``steps`` (D = size of x), whose conditioners
    read [Pa(x), y] of width F = parents' features + ``context_size``.

    ``steps``: a list of :class:`~bayesgen.flows.transforms.TransformBuilder` built for a context
    of size F; default ``make_steps(kind, D, context_size=F, **options)`` (see there)."""

    def __init__(
        self,
        variable: Continuous,
        parents: Sequence[Variable] = (),
        steps: Sequence[TransformBuilder] | None = None,
        *,
        context_size: int = 0,
        kind: str = "nsf",
        **options,
    ):
        super().__init__(_check_continuous(variable), parents)
        self.context_size = int(context_size)
        self.features = _input_size(self.parents, self.context_size)
        if steps is None:
            steps = make_steps(kind, variable.size, context_size=self.features, **options)
        elif options:
            raise ValueError(f"options {sorted(options)} apply to built-in steps only")
        self.steps = nn.ModuleList(steps)
        self.register_buffer("loc", torch.zeros(variable.size))

    def conditioning(self, parents: Mapping[str, Tensor], context: Tensor | None) -> Tensor | None:
        """c = [Pa(x), y] (B, F), or None for an unconditional root."""
        if self.features == 0:
            return None
        if self.context_size and context is None:
            raise ValueError(
                f"factor of {self.name!r} needs a context y of size {self.context_size}"
            )
        c = parent_features(self.parents, parents, context if self.context_size else None)
        return c.to(self.loc.dtype)

    def base(self, batch: int | None) -> Distribution:
        """N(0, I_D), batch shape (B,) or ()."""
        loc = self.loc if batch is None else self.loc.expand(batch, -1)
        return _StandardNormal(Normal(loc, torch.ones_like(loc), validate_args=False), 1)

    def distribution(self, c: Tensor | None) -> FlowDistribution:
        """The flow for a conditioning matrix c (B, F) or None."""
        base = self.base(None if c is None else c.shape[0])
        return FlowDistribution(base, [s(c) for s in self.steps], self.variable.shape)

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None):
        return self.distribution(self.conditioning(parents, context))


class PushForward(Distribution):
    """The point mass at T(z) for parent values z (B, D), with the change-of-variables weight:
    ``log_prob(v) = −log|det ∂T/∂z|`` where v = T(z) (to ``rtol``), −∞ elsewhere."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, transform: Transform, z: Tensor, shape: tuple[int, ...], rtol: float):
        self.transform, self.z, self.rtol = transform, z, rtol
        self.value, self.ladj = forward_and_ladj(transform, z)  # (B, D), (B,)
        super().__init__(z.shape[:-1], torch.Size(shape), validate_args=False)

    @property
    def support(self):
        return constraints.independent(constraints.real, len(self.event_shape))

    def rsample(self, sample_shape=()) -> Tensor:
        if tuple(sample_shape):
            raise ValueError(f"a flow step draws one value per parent row, got {sample_shape}")
        return self.value.reshape(*self.batch_shape, *self.event_shape)

    def log_prob(self, value: Tensor) -> Tensor:
        v = value.reshape(*self.value.shape)
        close = ((v - self.value).abs() <= self.rtol * (1 + self.value.abs())).all(-1)
        return torch.where(close, -self.ladj, torch.full_like(self.ladj, -torch.inf))


class FlowStep(Factor):
    """z_k | z_{k−1}, y: the deterministic step z_k = T_k(z_{k−1}; y) of a flow's chain (a
    :class:`PushForward`). ``step`` is the builder (shared with the flow)."""

    def __init__(
        self,
        variable: Continuous,
        parent: Continuous,
        step: TransformBuilder,
        *,
        context_size: int = 0,
        rtol: float | None = None,
    ):
        super().__init__(_check_continuous(variable), (_check_continuous(parent),))
        if parent.size != variable.size:
            raise ValueError(f"a flow step keeps the size; {parent!r} -> {variable!r}")
        self.step, self.context_size, self.rtol = step, int(context_size), rtol

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> PushForward:
        z = parents[self.parents[0].name]
        z = z.reshape(z.shape[0], -1)  # (B, D)
        if self.context_size and context is None:
            raise ValueError(
                f"factor of {self.name!r} needs a context y of size {self.context_size}"
            )
        c = context.to(z.dtype) if self.context_size else None
        rtol = self.rtol if self.rtol is not None else 10 * torch.finfo(z.dtype).eps ** 0.5
        return PushForward(self.step(c), z, self.variable.shape, rtol)
