"""The swiss roll of the chapter (§2.2.4), its 2-D section of the flow and diffusion literature,
and their exact densities.

Generating process (scikit-learn's ``make_swiss_roll``, without the hole):

    t ~ U[3π/2, 9π/2],   h ~ U[0, 21],   x = (t cos t, h, t sin t) + noise · ε,   ε ~ N(0, I_3)

The roll parameter t is the position along the spiral (a latent variable, not a label). The 2-D
version keeps the (x_1, x_3) plane and scales it, as FFJORD's toy data do: noise 1, divided by 5,
so x = (t cos t, t sin t) / 5 + 0.2 ε.

Densities: the height is uniform blurred by a Gaussian, in closed form; the spiral part is
p(x_1, x_3) = ∫ N((x_1, x_3); c(t), noise² I) dt / 3π, by Gauss–Legendre quadrature on panels
three noise widths long along the curve (see :mod:`bayesgen.data._density`).
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import Tensor

from .._checks import check_int, check_real
from ._density import (
    gauss_legendre,
    gaussian_mixture_log_prob,
    log_ndtr_diff,
    mc_entropy,
    spiral_edges,
)

__all__ = [
    "swiss_roll",
    "swiss_roll_2d",
    "swiss_roll_log_prob",
    "swiss_roll_2d_log_prob",
    "swiss_roll_entropy",
    "swiss_roll_2d_entropy",
    "T_RANGE",
    "HEIGHT",
]

T_RANGE = (1.5 * math.pi, 4.5 * math.pi)  #: the roll parameter's interval
HEIGHT = 21.0  #: the roll's width along x_2
SCALE_2D = 0.2  #: the 2-D section is divided by 5 (FFJORD)
NOISE_2D = 1.0  #: ... after noise of standard deviation 1
_ENTROPY_SAMPLES = 20_000  # the 3-D roll's quadrature has ~2,400 nodes
_ENTROPY_SAMPLES_2D = 80_000  # ... the 2-D one ~240
_ENTROPY_SEED = 12345


def _check_n(n: int) -> int:
    return check_int("n", n, low=1)


def _roll_t(n: int, generator: torch.Generator | None) -> Tensor:
    a, b = T_RANGE
    return a + (b - a) * torch.rand(n, generator=generator, dtype=torch.float64)  # (n,)


def swiss_roll(
    n: int, noise: float = 0.1, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """n points of the 3-D swiss roll and their roll parameters: x (n, 3), t (n,), in the
    default dtype. Same distribution as ``sklearn.datasets.make_swiss_roll(n, noise=noise)``."""
    n = _check_n(n)
    noise = check_real("noise", noise, low=0)
    t = _roll_t(n, generator)  # (n,)
    h = HEIGHT * torch.rand(n, generator=generator, dtype=torch.float64)  # (n,)
    x = torch.stack([t * torch.cos(t), h, t * torch.sin(t)], 1)  # (n, 3)
    x = x + noise * torch.randn(n, 3, generator=generator, dtype=torch.float64)
    dtype = torch.get_default_dtype()
    return x.to(dtype), t.to(dtype)


def swiss_roll_2d(n: int, *, generator: torch.Generator | None = None) -> Tensor:
    """n points of the 2-D swiss roll (the (x_1, x_3) plane with noise 1, divided by 5), (n, 2)."""
    n = _check_n(n)
    t = _roll_t(n, generator)  # (n,)
    c = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1)  # (n, 2)
    x = (c + NOISE_2D * torch.randn(n, 2, generator=generator, dtype=torch.float64)) * SCALE_2D
    return x.to(torch.get_default_dtype())


@cache
def _spiral_nodes(noise: float) -> tuple[Tensor, Tensor]:
    """Quadrature over t for the spiral blurred by ``noise``: points c(t_j) (J, 2) and
    log-weights (J,) with Σ w_j = 1 (the uniform density of t included); panels three noise
    widths long along the curve (log p within 1e-8 of a quadrature four times finer)."""
    a, b = T_RANGE
    nodes, weights = gauss_legendre(spiral_edges(a, b, 3 * noise), order=8)  # (J,) each
    c = torch.stack([nodes * torch.cos(nodes), nodes * torch.sin(nodes)], 1)  # (J, 2)
    return c, torch.log(weights / (b - a))


def _spiral_log_prob(xz: Tensor, noise: float) -> Tensor:
    c, log_w = _spiral_nodes(float(noise))
    return gaussian_mixture_log_prob(xz, c, log_w, noise)


def _check_points(x: Tensor, d: int) -> Tensor:
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (M, {d}), got {tuple(x.shape)}")
    return x.to(torch.float64)


def swiss_roll_log_prob(x: Tensor, noise: float = 0.1) -> Tensor:
    """Exact log-density (float64) of the 3-D swiss roll at x (M, 3): the spiral part by
    quadrature plus log[(Φ(x_2/σ) - Φ((x_2 - 21)/σ)) / 21] for the height."""
    noise = check_real("noise", noise, low=0, open_low=True)
    x = _check_points(x, 3)
    height = log_ndtr_diff((x[:, 1] - HEIGHT) / noise, x[:, 1] / noise) - math.log(HEIGHT)
    return _spiral_log_prob(x[:, [0, 2]], noise) + height


def swiss_roll_2d_log_prob(x: Tensor) -> Tensor:
    """Exact log-density (float64) of the 2-D swiss roll at x (M, 2)."""
    x = _check_points(x, 2)
    return _spiral_log_prob(x / SCALE_2D, NOISE_2D) - 2 * math.log(SCALE_2D)


@cache
def swiss_roll_entropy(noise: float = 0.1) -> tuple[float, float]:
    """Differential entropy (nats) of the 3-D swiss roll and its standard error: Monte Carlo
    -E log p(X) over 20,000 seeded draws, with the exact density."""
    return mc_entropy(
        lambda x: swiss_roll_log_prob(x, noise),
        lambda n, g: swiss_roll(n, noise, generator=g)[0],
        _ENTROPY_SAMPLES,
        _ENTROPY_SEED,
    )


@cache
def swiss_roll_2d_entropy() -> tuple[float, float]:
    """Differential entropy (nats) of the 2-D swiss roll and its standard error (Monte Carlo
    with the exact density, 80,000 seeded draws)."""
    return mc_entropy(
        swiss_roll_2d_log_prob,
        lambda n, g: swiss_roll_2d(n, generator=g),
        _ENTROPY_SAMPLES_2D,
        _ENTROPY_SEED,
    )
