"""The adversarial objectives of a GAN, as option objects: each says how the discriminator's raw
outputs v on real rows (from P, the data) and on generated rows (from Q, the generator) become
the discriminator's loss and the generator's.

The f-GAN family (Nowozin et al., 2016) estimates an f-divergence from below,

    D_f(P ‖ Q) ≥ sup_T E_P[T(x)] − E_Q[f*(T(x))],   T(x) = g_f(v(x)),

with f* the convex conjugate of f and g_f an output activation into dom f*. The discriminator
maximizes the bound; the generator minimizes −E_Q[g_f(v)] (the non-saturating form of the
paper). At the optimal discriminator the bound is D_f; for instance
v* = log p/q for Jensen–Shannon, where D_f = 2 JSD(P, Q).

=================  ======================  =================================  ================
divergence         g_f(v)                  f*(g_f(v))                         D_f at optimum
=================  ======================  =================================  ================
KL                 v                       exp(v − 1)                         KL(P ‖ Q)
reverse KL         −exp(−v)                v − 1                              KL(Q ‖ P)
Pearson χ²         v                       v²/4 + v                           χ²(P ‖ Q)
Jensen–Shannon     log 2 − softplus(−v)    softplus(v) − log 2                2 JSD(P, Q)
GAN (minimax)      −softplus(−v)           softplus(v)                        2 JSD − log 4
=================  ======================  =================================  ================

The minimax GAN (Goodfellow et al., 2014) is the last row with the saturating generator loss
E_Q[log(1 − σ(v))]; the non-saturating GAN uses −E_Q[log σ(v)]. The Wasserstein GAN with
gradient penalty (Gulrajani et al., 2017) uses the critic's values directly, E_Q[v] − E_P[v]
plus λ E[(‖∇v(x̂)‖ − 1)²] on points x̂ between real and generated rows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

__all__ = [
    "Objective",
    "Minimax",
    "NonSaturating",
    "FDivergence",
    "WassersteinGP",
    "as_objective",
    "OBJECTIVES",
]


class Objective:
    """How raw discriminator outputs become the two losses (both scalars to minimize)."""

    name: str = ""
    #: weight of the gradient penalty the model adds to the discriminator's loss (0: none)
    gradient_penalty: float = 0.0

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise TypeError(f"{type(self).__name__} does not define a discriminator loss")

    def generator_loss(self, fake: Tensor) -> Tensor:
        raise TypeError(f"{type(self).__name__} does not define a generator loss")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(Objective):
    """min_G max_D E_P[log σ(v)] + E_Q[log(1 − σ(v))], the generator on the saturating side."""

    name = "minimax"

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return softplus(-real).mean() + softplus(fake).mean()  # −log σ(r) − log(1 − σ(f))

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -softplus(fake).mean()  # E_Q log(1 − σ(v))


class NonSaturating(Minimax):
    """The minimax discriminator; the generator minimizes −E_Q[log σ(v)]."""

    name = "nonsaturating"

    def generator_loss(self, fake: Tensor) -> Tensor:
        return softplus(-fake).mean()


class FDivergence(Objective):
    """The f-GAN bound for ``divergence`` in 'kl', 'reverse-kl', 'pearson', 'js', 'gan'."""

    DIVERGENCES = ("kl", "reverse-kl", "pearson", "js", "gan")

    def __init__(self, divergence: str = "js"):
        if divergence not in self.DIVERGENCES:
            raise ValueError(f"divergence must be one of {self.DIVERGENCES}, got {divergence!r}")
        self.divergence = divergence
        self.name = f"f-{divergence}"

    def activation(self, v: Tensor) -> Tensor:
        """T = g_f(v), into the domain of f*."""
        d = self.divergence
        if d in ("kl", "pearson"):
            return v
        elif d == "reverse-kl":
            return -torch.exp(-v)
        elif d == "js":
            return math.log(2.0) - softplus(-v)
        elif d == "gan":
            return -softplus(-v)
        else:
            raise ValueError(f"unknown divergence {d!r}")

    def conjugate(self, v: Tensor) -> Tensor:
        """f*(g_f(v)), written out so that it stays finite."""
        d = self.divergence
        if d == "kl":
            return torch.exp(v - 1)
        elif d == "reverse-kl":
            return v - 1
        elif d == "pearson":
            return 0.25 * v * v + v
        elif d == "js":
            return softplus(v) - math.log(2.0)
        elif d == "gan":
            return softplus(v)
        else:
            raise ValueError(f"unknown divergence {d!r}")

    def bound(self, real: Tensor, fake: Tensor) -> Tensor:
        """E_P[g_f(v)] − E_Q[f*(g_f(v))], a lower bound on D_f(P ‖ Q)."""
        return self.activation(real).mean() - self.conjugate(fake).mean()

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return -self.bound(real, fake)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -self.activation(fake).mean()

    def __repr__(self) -> str:
        return f"FDivergence({self.divergence!r})"


class WassersteinGP(Objective):
    """The critic maximizes E_P[v] − E_Q[v] with a gradient penalty of weight ``weight``."""

    name = "wgan-gp"

    def __init__(self, weight: float = 10.0):
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"weight must be a number >= 0, got {weight!r}")
        self.gradient_penalty = float(weight)

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def __repr__(self) -> str:
        return f"WassersteinGP(weight={self.gradient_penalty})"


OBJECTIVES = (
    "minimax",
    "nonsaturating",
    "wgan-gp",
    *(f"f-{d}" for d in FDivergence.DIVERGENCES),
)


def as_objective(value: Objective | str) -> Objective:
    """An :class:`Objective` from itself or its name (one of ``OBJECTIVES``)."""
    if isinstance(value, Objective):
        return value
    if value == "minimax":
        return Minimax()
    elif value == "nonsaturating":
        return NonSaturating()
    elif value == "wgan-gp":
        return WassersteinGP()
    elif isinstance(value, str) and value.startswith("f-"):
        return FDivergence(value[2:])
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {value!r}")
