"""Coupling layers (Dinh et al., RealNVP; Durkan et al., NSF coupling).

The coordinates split into an identity part A and a transformed part B:

    y_A = x_A,   y_B = f(x_B; θ(x_A, c)),   log|det J| = Σ_{d∈B} log|∂f/∂x_d|,

with f an elementwise affine map (RealNVP) or a rational-quadratic spline (NSF) whose parameters
θ an MLP computes from x_A and the context c (parents and y). Both directions cost one pass of the
network, since x_A = y_A. The split is a registered mask; alternate it between layers (or put a
permutation between them) so that every coordinate is transformed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..nn import MLP, Conditioning
from .spline import Spline
from .transforms import Affine, FlowTransform, TransformBuilder

__all__ = ["Coupling", "CouplingTransform"]


class CouplingTransform(FlowTransform):
    """The coupling bijection of a :class:`Coupling` builder for one context c (B, C) or None."""

    sign = +1

    def __init__(self, owner: Coupling, context: Tensor | None):
        super().__init__()
        self.owner, self.context = owner, context

    def _params(self, xa: Tensor) -> Tensor:
        o = self.owner
        return o.net(xa, self.context).unflatten(-1, (len(o.transformed), o.univariate.params))

    def _apply(self, v: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        o = self.owner
        va, vb = v[..., o.identity], v[..., o.transformed]  # (B, |A|), (B, |B|)
        p = self._params(va)  # (B, |B|, P)
        out, ladj = (o.univariate.inverse if inverse else o.univariate.forward)(vb, p)
        return torch.cat([va, out], dim=-1)[..., o.unsplit], ladj.sum(-1)

    def forward_and_ladj(self, x):
        return self._apply(x, inverse=False)

    def inverse_and_ladj(self, y):
        return self._apply(y, inverse=True)


class Coupling(TransformBuilder):
    """A coupling layer on ``features`` coordinates: ``mask`` marks the transformed ones (default:
    the second half, or the first with ``flip=True``); ``univariate`` is :class:`Affine`
    (RealNVP) or :class:`~bayesgen.flows.spline.Spline` (NSF). The conditioner is an
    :class:`~bayesgen.nn.MLP` with ``hidden`` layers reading x_A and a context of
    ``context_size`` (entering as ``conditioning`` says)."""

    def __init__(
        self,
        features: int,
        univariate=None,
        *,
        mask: Sequence[bool] | None = None,
        flip: bool = False,
        hidden: Sequence[int] = (64, 64),
        context_size: int = 0,
        conditioning: Conditioning | str = "concat",
    ):
        super().__init__(features)
        if features < 2:
            raise ValueError(f"features must be >= 2 for a coupling layer, got {features}")
        if mask is None:
            m = torch.arange(features) >= features // 2
            m = ~m if flip else m
        else:
            m = torch.as_tensor(list(mask), dtype=torch.bool)
            if m.shape != (features,) or m.all() or not m.any():
                raise ValueError(
                    f"mask must be {features} booleans with both values present, got {list(mask)}"
                )
        self.univariate = Affine() if univariate is None else univariate
        identity, transformed = (~m).nonzero()[:, 0], m.nonzero()[:, 0]
        self.register_buffer("identity", identity)
        self.register_buffer("transformed", transformed)
        self.register_buffer("unsplit", torch.argsort(torch.cat([identity, transformed])))
        self.net = MLP(
            len(identity),
            len(transformed) * self.univariate.params,
            hidden,
            context_size=context_size,
            conditioning=conditioning,
        )
        if isinstance(self.univariate, Spline):  # a spline layer starts as the identity
            nn.init.zeros_(self.net.linears[-1].weight)
            nn.init.zeros_(self.net.linears[-1].bias)

    def forward(self, context: Tensor | None = None) -> CouplingTransform:
        return CouplingTransform(self, context)

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, transformed={self.transformed.tolist()}, {self.univariate}"
        )
