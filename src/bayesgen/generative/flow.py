"""Normalizing flows (§2.2.2, eq. 18, figure 12): an exact likelihood by change of variables.

    x = T_K ∘ … ∘ T_1(z₀),  z₀ ~ N(0, I),
    log p(x | y) = log N(z₀; 0, I) − Σ_k log |det ∂T_k/∂z_{k−1}|,  z_{k−1} = T_k⁻¹(z_k; y)

Each T_k is a bijection with a tractable Jacobian (coupling or autoregressive, affine or spline;
see :mod:`bayesgen.flows`) whose conditioner networks read y. The model is one
:class:`~bayesgen.factors.flow.FlowFactor` for x (the one-node view, ``networks["x"]``) and, as a
Bayesian network, the chain z₀ → z₁ → … → x of deterministic steps (``network``) whose factors'
log-densities are the change-of-variables terms, so the chain's sum is log p(x) exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..factors.flow import FlowFactor, FlowStep
from ..factors.latent import StandardNormal
from ..flows.distribution import KINDS, FlowDistribution
from ..network import BayesNet
from ..variables import Continuous
from .base import GenerativeModel

__all__ = ["Flow"]


class Flow(GenerativeModel, paradigm="flow"):
    """A normalizing flow of ``layers`` steps of ``transform`` kind ("nsf", "maf", "iaf",
    "realnvp", "nsf-coupling") with conditioners of ``hidden`` layers; ``bins`` and ``bound``
    shape the splines; ``linear`` mixes coordinates between steps ("reverse", "random", "lu",
    "none"); ``actnorm`` adds data-initialised ActNorm layers; ``conditioning`` says how y enters
    coupling networks ("concat", "film", "attention")."""

    exact_likelihood = True

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        *,
        transform: str = "nsf",
        layers: int = 5,
        hidden: Sequence[int] = (128, 128),
        bins: int = 8,
        bound: float = 5.0,
        linear: str = "reverse",
        actnorm: bool = False,
        conditioning: str = "concat",
        num_classes: int | None = None,
        context_size: int | None = None,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        if transform not in KINDS:
            raise ValueError(f"transform must be one of {KINDS}, got {transform!r}")
        self.transform, self.layers, self.hidden = transform, layers, tuple(hidden)
        self.bins, self.bound, self.linear = bins, bound, linear
        self.actnorm, self.conditioning = bool(actnorm), conditioning
        self.factor = FlowFactor(
            Continuous("x", shape=self.event_shape),
            context_size=self.context_features,
            kind=transform,
            layers=layers,
            hidden=self.hidden,
            bins=bins,
            bound=bound,
            linear=linear,
            actnorm=self.actnorm,
            conditioning=conditioning,
        )

    @property
    def size(self) -> int:
        return self.factor.variable.size

    def distribution(self, y: Tensor | None = None, batch: int = 1) -> FlowDistribution:
        """p(x | y) for ``batch`` rows (y of that many rows, or None)."""
        return self.factor.distribution(self.context(y, batch))

    # ------------------------------------------------------------------ verbs
    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.check_x(x)
        return self.distribution(y, len(x)).log_prob(x)  # (B,)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """The mean negative log-likelihood −(1/B) Σ_b log p(x_b | y_b)."""
        return -self.log_prob(x, y).mean()

    def sample(
        self, n: int, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        dist = self.distribution(y, n)
        z0 = torch.randn(n, self.size, generator=generator, dtype=self.dtype).to(self.device)
        with torch.no_grad():
            return dist.push(z0)  # (n, *event_shape)

    # ------------------------------------------------------------------ network views
    def _names(self) -> list[str]:
        return [f"z{k}" for k in range(self.layers)] + ["x"]

    @property
    def network(self) -> BayesNet:
        """The chain z₀ → z₁ → … → x: z₀ ~ N(0, I), each z_k = T_k(z_{k−1}; y) a
        :class:`~bayesgen.factors.flow.FlowStep` sharing the flow's step modules."""
        names = self._names()
        shapes = [(self.size,)] * self.layers + [self.event_shape]
        variables = [Continuous(n, shape=s) for n, s in zip(names, shapes, strict=True)]
        factors = [StandardNormal(variables[0])]
        for k, step in enumerate(self.factor.steps):
            factors.append(
                FlowStep(variables[k + 1], variables[k], step, context_size=self.context_features)
            )
        return BayesNet(factors, name="flow")

    @property
    def networks(self) -> dict[str, BayesNet]:
        """``p``: the chain of figure 12; ``x``: the one-node view, the flow as one factor."""
        return {"p": self.network, "x": BayesNet([self.factor], name="flow (one node)")}

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """z_K = x, z_{k−1} = T_k⁻¹(z_k) (the inverse pass; nothing is drawn) and log p(x | y)."""
        x = self.check_x(x)
        dist = self.distribution(y, len(x))
        zs, ladjs = dist.trajectory(x)
        log_p = dist.base_dist.log_prob(zs[0]) - torch.stack(ladjs).sum(0)
        values = dict(zip(self._names()[:-1], zs[:-1], strict=True))
        values["x"] = x
        return values, log_p

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, transform={self.transform!r}, layers={self.layers}"
