"""The radial kernels of a KDE (eq. 14) as objects.

A unit-scale radial kernel is a density c_K k(r) on R^d, r = |u|. Each class owns its profile
k, its normalizer c_K, its log-profile where the support is infinite, and a sampler:

==============  =======================  ============================  =========================
kernel          k(r)                      c_K                           radius density ∝ r^{d-1} k
==============  =======================  ============================  =========================
Gaussian        exp(-r²/2)                (2π)^{-d/2}                   (u ~ N(0, I) directly)
TopHat          1[r < 1]                  1 / V_d                       Beta(d, 1)
Epanechnikov    (1 - r²)_+                (d + 2) / (2 V_d)             sqrt(Beta(d/2, 2))
Exponential     exp(-r)                   1 / (S_{d-1} Γ(d))            Gamma(d, 1)
Linear          (1 - r)_+                 (d + 1) / V_d                 Beta(d, 2)
==============  =======================  ============================  =========================

V_d is the volume of the unit ball and S_{d-1} = d V_d its surface. The profiles are evaluated
in place from E = -r²/2, the quantity the KDE's blocked sums produce.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Beta, Gamma

from .._options import Option, make_option

__all__ = [
    "Kernel",
    "GaussianKernel",
    "TopHatKernel",
    "EpanechnikovKernel",
    "ExponentialKernel",
    "LinearKernel",
    "KERNELS",
    "make_kernel",
    "log_kernel_norm",
]


def _log_ball(d: int) -> float:
    """log V_d, the volume of the unit ball in R^d."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)


class Kernel(Option, ABC):
    """A unit-scale radial kernel c_K k(|u|) on R^d."""

    name: ClassVar[str]
    #: k(r) = 0 for r >= 1
    compact: ClassVar[bool] = True

    @abstractmethod
    def log_norm(self, d: int) -> float:
        """log c_K, making c_K k(|u|) a density on R^d."""

    @abstractmethod
    def kernel_(self, E: Tensor) -> Tensor:
        """In place: E = -r²/2 -> k(r)."""

    def neg_log_k(self, r2: Tensor) -> Tensor:
        """-log k(r) from r² (kernels of infinite support)."""
        raise ValueError(f"kernel {self.name!r} has compact support: log k is -inf beyond r = 1")

    def log_kernel_(self, E: Tensor) -> Tensor:
        """In place: E = -r²/2 -> log k(r) (kernels of infinite support)."""
        raise ValueError(f"kernel {self.name!r} has compact support: log k is -inf beyond r = 1")

    @abstractmethod
    def unit_sample(self, n: int, d: int, like: Tensor) -> Tensor:
        """n draws u from c_K k(|u|) on R^d: (n, d)."""


class _ByRadius(Kernel):
    """A kernel sampled as a uniform direction times a radius of density ∝ r^{d-1} k(r)."""

    @abstractmethod
    def radius(self, n: int, d: int, like: Tensor) -> Tensor:
        """n radii: (n,)."""

    def unit_sample(self, n: int, d: int, like: Tensor) -> Tensor:
        g = torch.randn(n, d, dtype=like.dtype, device=like.device)
        r = self.radius(n, d, like)
        direction = g / g.norm(dim=1, keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
        return direction * r[:, None]


def _t(v: float, like: Tensor) -> Tensor:
    return torch.tensor(float(v), dtype=like.dtype, device=like.device)


class GaussianKernel(Kernel):
    name = "gaussian"
    compact = False

    def log_norm(self, d: int) -> float:
        return -0.5 * d * math.log(2 * math.pi)

    def kernel_(self, E: Tensor) -> Tensor:
        return E.exp_()

    def neg_log_k(self, r2: Tensor) -> Tensor:
        return 0.5 * r2

    def log_kernel_(self, E: Tensor) -> Tensor:
        return E

    def unit_sample(self, n: int, d: int, like: Tensor) -> Tensor:
        return torch.randn(n, d, dtype=like.dtype, device=like.device)


class TopHatKernel(_ByRadius):
    name = "tophat"

    def log_norm(self, d: int) -> float:
        return -_log_ball(d)

    def kernel_(self, E: Tensor) -> Tensor:
        return E.copy_(E > -0.5)  # r < 1

    def radius(self, n: int, d: int, like: Tensor) -> Tensor:
        return Beta(_t(d, like), _t(1, like)).sample((n,))


class EpanechnikovKernel(_ByRadius):
    name = "epanechnikov"

    def log_norm(self, d: int) -> float:
        return -_log_ball(d) - math.log(2.0 / (d + 2))

    def kernel_(self, E: Tensor) -> Tensor:
        return E.mul_(2).add_(1).clamp_(min=0)  # 1 - r²

    def radius(self, n: int, d: int, like: Tensor) -> Tensor:
        return Beta(_t(d / 2, like), _t(2, like)).sample((n,)).sqrt()


class ExponentialKernel(_ByRadius):
    name = "exponential"
    compact = False

    def log_norm(self, d: int) -> float:
        return -(math.log(d) + _log_ball(d) + math.lgamma(d))  # S_{d-1} = d V_d

    def kernel_(self, E: Tensor) -> Tensor:
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_().exp_()  # exp(-r)

    def neg_log_k(self, r2: Tensor) -> Tensor:
        return r2.clamp(min=0).sqrt()

    def log_kernel_(self, E: Tensor) -> Tensor:
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_()

    def radius(self, n: int, d: int, like: Tensor) -> Tensor:
        return Gamma(_t(d, like), _t(1, like)).sample((n,))


class LinearKernel(_ByRadius):
    name = "linear"

    def log_norm(self, d: int) -> float:
        return -_log_ball(d) + math.log(d + 1.0)

    def kernel_(self, E: Tensor) -> Tensor:
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_().add_(1).clamp_(min=0)  # 1 - r

    def radius(self, n: int, d: int, like: Tensor) -> Tensor:
        return Beta(_t(d, like), _t(2, like)).sample((n,))


_CLASSES: tuple[type[Kernel], ...] = (
    GaussianKernel,
    TopHatKernel,
    EpanechnikovKernel,
    ExponentialKernel,
    LinearKernel,
)
KERNELS = tuple(c.name for c in _CLASSES)


def make_kernel(kernel: str | Kernel) -> Kernel:
    """The kernel object for a :class:`Kernel` or one of the names in ``KERNELS``."""
    return make_option(kernel, _CLASSES, Kernel, "kernel")


def log_kernel_norm(kernel: str | Kernel, d: int) -> float:
    """log of the constant c_K making the unit-scale radial kernel c_K k(r) a density on R^d."""
    return make_kernel(kernel).log_norm(d)
