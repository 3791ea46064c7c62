"""The KDE as a Bayesian network z → x (§2.2.1, eq. 14): z ~ Categorical(w) picks a data point,
x | z = k ~ K_H(x − x^k), a radial kernel of bandwidth matrix H = L Lᵀ centred on it.

    log p(x | z = k) = log c_K − log |det L| + log k(‖L⁻¹ (x − x^k)‖)

:class:`RadialKernel` is that conditional as a torch Distribution (any of the KDE's kernels; the
Gaussian one is N(x^k, H)); :class:`KernelFactor` is the factor that returns it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from ..factors.base import Factor
from ..variables import Continuous, Discrete
from .kernels import Kernel, make_kernel

__all__ = ["RadialKernel", "KernelFactor"]


class RadialKernel(Distribution):
    """x = loc + L u with u drawn from the unit radial kernel c_K k(‖u‖) on R^D.

    loc: (*batch, D); scale_tril: (D, D) shared by every centre.
    """

    arg_constraints = {"loc": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = False

    def __init__(self, loc: Tensor, scale_tril: Tensor, kernel: str | Kernel, validate_args=None):
        self.loc, self.scale_tril, self.kernel = loc, scale_tril, make_kernel(kernel)
        d = loc.shape[-1]
        self._log_norm = self.kernel.log_norm(d) - float(scale_tril.diagonal().abs().log().sum())
        super().__init__(loc.shape[:-1], loc.shape[-1:], validate_args=validate_args)

    def log_prob(self, value: Tensor) -> Tensor:
        diff = (value - self.loc).unsqueeze(-1)  # (*batch, D, 1)
        L = self.scale_tril.expand(*diff.shape[:-2], *self.scale_tril.shape)
        u = torch.linalg.solve_triangular(L, diff, upper=False).squeeze(-1)  # (*batch, D)
        e = -0.5 * u.square().sum(-1)  # −r²/2
        return self.kernel.kernel_(e).log() + self._log_norm

    def sample(self, sample_shape: tuple[int, ...] | torch.Size = ()) -> Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape
        d = self.event_shape[0]
        u = self.kernel.unit_sample(math.prod(shape), d, self.loc)  # (n, D)
        return self.loc.expand(*shape, d) + (u @ self.scale_tril.T).reshape(*shape, d)


class KernelFactor(Factor):
    """p(x | z = k) = K_H(x − x^k): the kernel centred on data point k (a buffer of centres)."""

    def __init__(
        self, variable: Continuous, parent: Discrete, centres, scale_tril, kernel: str | Kernel
    ):
        super().__init__(variable, [parent])
        if centres.shape[0] != parent.card:
            raise ValueError(
                f"{parent.name!r} has {parent.card} states but there are {centres.shape[0]} centres"
            )
        self.kernel = make_kernel(kernel)
        self.register_buffer("centres", centres)  # (N, D)
        self.register_buffer("scale_tril", scale_tril)  # (D, D)

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None):
        z = parents[self.parents[0].name].long()  # (B,)
        return RadialKernel(self.centres[z], self.scale_tril, self.kernel)
