"""Masked autoregressive transforms: MAF (Papamakarios et al.) and IAF (Kingma et al.).

Coordinate d is mapped by a univariate bijection f (affine, or a rational-quadratic spline for
NSF) whose parameters depend on the coordinates before d in an order, computed for all d at once
by a :class:`~bayesgen.nn.MADE`; the Jacobian is triangular, log|det J| = Σ_d log|∂f/∂x_d|.

* MAF (fast density): the conditioner reads the data side. In the sampling direction z → x,
  x_d = f(z_d; θ(x_<d, c)), so sampling takes D passes and the density x → z one pass.
* IAF (fast sampling): the conditioner reads the base side, x_d = f(z_d; θ(z_<d, c)): sampling
  takes one pass and the density D passes.

Raw parameters 0 give the identity map (both univariate maps); spline layers start as the
identity (their conditioner's last layer is zero), affine ones keep PyTorch's default
initialisation (which trained faster in our runs). The context c (parents and y) enters the
MADE's first layer and, through a linear head, the parameters of every coordinate (the first
coordinate in the order has no other input).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ..nn import MADE
from .spline import Spline
from .transforms import Affine, FlowTransform, TransformBuilder

__all__ = ["MaskedAutoregressive", "AutoregressiveTransform"]


def _zero_last(*layers: nn.Linear | None) -> None:
    for layer in layers:
        if layer is not None:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


class AutoregressiveTransform(FlowTransform):
    """The bijection of a :class:`MaskedAutoregressive` builder for one context (B, C) or None."""

    sign = +1

    def __init__(self, owner: MaskedAutoregressive, context: Tensor | None):
        super().__init__()
        self.owner, self.context = owner, context

    def _one_pass(self, v: Tensor, read: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        p = self.owner.conditioner(read, self.context)  # (B, D, P)
        uni = self.owner.univariate
        return (uni.inverse if inverse else uni.forward)(v, p)  # (B, D) each

    def _passes(self, v: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        """Solve out = f(v; θ(out_<d)) by D passes: after pass k the first k coordinates in the
        order are exact (a loop over passes, each vectorized over rows and coordinates)."""
        out = v.new_zeros(v.shape)
        for _ in range(self.owner.features):
            out, ladj = self._one_pass(v, out, inverse)
        return out, ladj

    def forward_and_ladj(self, x):
        if self.owner.inverse:  # IAF: θ(x_<d)
            y, ladj = self._one_pass(x, x, inverse=False)
        else:  # MAF: θ(y_<d)
            y, ladj = self._passes(x, inverse=False)
        return y, ladj.sum(-1)

    def inverse_and_ladj(self, y):
        if self.owner.inverse:
            x, ladj = self._passes(y, inverse=True)
        else:
            x, ladj = self._one_pass(y, y, inverse=True)
        return x, ladj.sum(-1)


class MaskedAutoregressive(TransformBuilder):
    """An autoregressive layer on ``features`` coordinates with ``univariate`` :class:`Affine`
    (MAF/IAF) or :class:`~bayesgen.flows.spline.Spline` (NSF), a MADE conditioner with
    ``hidden`` layers and ``order`` (default 0..D−1), and a context of ``context_size``.
    ``inverse=False`` is MAF (one-pass density), ``True`` IAF (one-pass sampling)."""

    def __init__(
        self,
        features: int,
        univariate=None,
        *,
        hidden: Sequence[int] = (64, 64),
        context_size: int = 0,
        order: Sequence[int] | None = None,
        inverse: bool = False,
    ):
        super().__init__(features)
        self.univariate = Affine() if univariate is None else univariate
        self.inverse = bool(inverse)
        P = self.univariate.params
        self.made = MADE(features, P, hidden, context_size=context_size, order=order)
        self.context_head = nn.Linear(context_size, features * P) if context_size else None
        if isinstance(self.univariate, Spline):  # a spline layer starts as the identity
            _zero_last(self.made.net[-1], self.context_head)

    def conditioner(self, h: Tensor, context: Tensor | None) -> Tensor:
        """θ (B, D, P) with θ_d a function of h_<d (in the order) and c."""
        p = self.made(h, context)  # (B, D, P)
        if self.context_head is not None:
            p = p + self.context_head(context.to(p.dtype)).unflatten(-1, p.shape[1:])
        return p

    def forward(self, context: Tensor | None = None) -> AutoregressiveTransform:
        return AutoregressiveTransform(self, context)

    def extra_repr(self) -> str:
        kind = "IAF" if self.inverse else "MAF"
        return f"features={self.features}, {kind}, {self.univariate}"
