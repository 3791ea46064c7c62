"""The 2-D densities of the flow, diffusion and GAN literature, with their entropies.

Each toy follows the generator of FFJORD's toy data (Grathwohl et al. 2019) or PacGAN (Lin et
al. 2018), drawn i.i.d. (the mixture component of each row is drawn too, where the originals
split n evenly; moons' angles are uniform where scikit-learn spaces them evenly):

============  ==================================================================================
8gaussians    centres 4 (cos kπ/4, sin kπ/4) / 1.414, σ = 0.5 / 1.414
checkerboard  uniform on the 8 dark squares of side 2 of a checkerboard on [-4, 4]²
moons         scikit-learn's two moons (noise 0.1) times 2, shifted by (-1, -0.2)
pinwheel      5 arms: f ~ N((1, 0), diag(0.3², 0.1²)), rotated by 2πk/5 + e^{f_1}/4, times 2
2spirals      n = 3π sqrt(u), ±(-n cos n + v_1/2, n sin n + v_2/2) / 3 + 0.1 ε, u, v uniform
rings         4 circles of radii 3, 2.25, 1.5, 0.75, uniform angle, noise 0.08
swissroll2d   the swiss roll's (x_1, x_3) plane (noise 1) divided by 5
ring8         PacGAN: 8 modes on the unit circle, σ = 0.01
grid25        PacGAN: 25 modes at {-4, -2, 0, 2, 4}², σ = 0.05
============  ==================================================================================

Entropies (nats): checkerboard exactly log 32; pinwheel by change of variables (below); every
other toy by Monte Carlo, -E log p(X) over seeded draws with its exact density (closed form for
the Gaussian mixtures and rings, Gauss–Legendre quadrature along the curve for moons, 2spirals
and the swiss roll), with the standard error.

The pinwheel is a one-to-one smooth map of (k, f), so H = log 5 + H(f) + E log|det ∂y/∂f| with
det ∂y/∂f = 4 (1 + f_2 e^{f_1} / 4) (exact where the map is one-to-one, an upper bound
otherwise; its arms overlap only with negligible probability).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor

from .._checks import check_int, check_option
from ._density import (
    box_mixture_log_prob,
    gauss_legendre,
    gaussian_mixture_log_prob,
    mc_entropy,
    spiral_edges,
)
from .swissroll import swiss_roll_2d, swiss_roll_2d_entropy, swiss_roll_2d_log_prob

__all__ = ["TOYS", "sample_toy", "toy_log_prob", "toy_entropy", "toy_modes"]

_F64 = torch.float64
#: Monte Carlo draws for each entropy (closed-form densities are cheap; quadrature is not)
_ENTROPY_SAMPLES = {
    "8gaussians": 200_000,
    "ring8": 200_000,
    "grid25": 200_000,
    "rings": 200_000,
    "2spirals": 20_000,  # its box-blurred kernel is the costliest
}
_ENTROPY_DEFAULT_SAMPLES = 40_000
_ENTROPY_SEED = 12345

Generator = torch.Generator | None


def _uniform(n: int, g: Generator, *shape: int) -> Tensor:
    return torch.rand(n, *shape, generator=g, dtype=_F64)


def _normal(n: int, g: Generator, *shape: int) -> Tensor:
    return torch.randn(n, *shape, generator=g, dtype=_F64)


def _component(n: int, k: int, g: Generator) -> Tensor:
    """Mixture components of n rows, uniform over k: (n,) long."""
    return torch.randint(k, (n,), generator=g)


# ---------------------------------------------------------------------------- Gaussian mixtures
def _circle(k: int, radius: float) -> Tensor:
    a = 2 * math.pi * torch.arange(k, dtype=_F64) / k
    return radius * torch.stack([torch.cos(a), torch.sin(a)], 1)  # (k, 2)


def _eight_gaussians_modes() -> Tensor:
    return _circle(8, 4.0) / 1.414


def _grid25_modes() -> Tensor:
    g = torch.arange(-4.0, 5.0, 2.0, dtype=_F64)
    return torch.cartesian_prod(g, g)  # (25, 2)


_MIXTURES: dict[str, tuple[Callable[[], Tensor], float]] = {
    "8gaussians": (_eight_gaussians_modes, 0.5 / 1.414),
    "ring8": (lambda: _circle(8, 1.0), 0.01),
    "grid25": (_grid25_modes, 0.05),
}


def _mixture_sampler(name: str) -> Callable[[int, Generator], Tensor]:
    modes, sigma = _MIXTURES[name]

    def sample(n: int, g: Generator) -> Tensor:
        m = modes()
        return m[_component(n, len(m), g)] + sigma * _normal(n, g, 2)  # (n, 2)

    return sample


def _mixture_log_prob(name: str) -> Callable[[Tensor], Tensor]:
    modes, sigma = _MIXTURES[name]

    def log_prob(x: Tensor) -> Tensor:
        m = modes()
        return gaussian_mixture_log_prob(x, m, torch.full((len(m),), -math.log(len(m))), sigma)

    return log_prob


# ---------------------------------------------------------------------------- checkerboard
def _checkerboard(n: int, g: Generator) -> Tensor:
    x1 = 4 * _uniform(n, g) - 2  # (n,) column in [-2, 2)
    row = _uniform(n, g) - 2 * torch.randint(2, (n,), generator=g)  # [0, 1) or [-2, -1)
    x2 = row + torch.floor(x1).remainder(2)  # odd columns shift up by one square
    return 2 * torch.stack([x1, x2], 1)  # (n, 2)


def _checkerboard_log_prob(x: Tensor) -> Tensor:
    x = x.to(_F64)
    inside = (x.abs() <= 4).all(1)
    col, row = torch.floor(x[:, 0] / 2), torch.floor(x[:, 1] / 2)
    dark = (col + row).remainder(2) == 0  # (n,) the squares the sampler fills
    return torch.where(inside & dark, -math.log(32.0), -math.inf)


# ---------------------------------------------------------------------------- moons
_MOON_SIGMA = 0.2


def _moon_points(theta: Tensor) -> Tensor:
    """Both moons at angles θ (J,): (2, J, 2), scaled by 2 and shifted by (-1, -0.2)."""
    outer = torch.stack([torch.cos(theta), torch.sin(theta)], -1)
    inner = torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], -1)
    shift = torch.tensor([-1.0, -0.2], dtype=_F64)
    return 2 * torch.stack([outer, inner]) + shift  # (2, J, 2)


def _moons(n: int, g: Generator) -> Tensor:
    theta = math.pi * _uniform(n, g)  # (n,)
    k = _component(n, 2, g)  # (n,)
    points = _moon_points(theta)  # (2, n, 2)
    return points[k, torch.arange(n)] + _MOON_SIGMA * _normal(n, g, 2)


@cache
def _moon_nodes() -> tuple[Tensor, Tensor]:
    # panels of arc length at most 2σ along each moon (radius 2, length 2π)
    edges = torch.linspace(0, math.pi, math.ceil(math.pi / _MOON_SIGMA) + 1, dtype=_F64)
    theta, w = gauss_legendre(edges)  # (J,)
    log_w = torch.log(w / math.pi / 2).repeat(2)  # each moon has weight 1/2
    return _moon_points(theta).reshape(-1, 2), log_w


def _moons_log_prob(x: Tensor) -> Tensor:
    c, log_w = _moon_nodes()
    return gaussian_mixture_log_prob(x, c, log_w, _MOON_SIGMA)


# ---------------------------------------------------------------------------- pinwheel
_PIN_ARMS, _PIN_RADIAL, _PIN_TANGENTIAL, _PIN_RATE = 5, 0.3, 0.1, 0.25


def _pinwheel_features(n: int, g: Generator) -> Tensor:
    f = _normal(n, g, 2) * torch.tensor([_PIN_RADIAL, _PIN_TANGENTIAL], dtype=_F64)
    return f + torch.tensor([1.0, 0.0], dtype=_F64)  # (n, 2)


def _pinwheel_map(f: Tensor, k: Tensor) -> Tensor:
    """y = 2 R(-φ) f with φ = 2πk/5 + e^{f_1}/4 (R a rotation): (n, 2)."""
    phi = 2 * math.pi * k / _PIN_ARMS + _PIN_RATE * torch.exp(f[:, 0])  # (n,)
    c, s = torch.cos(phi), torch.sin(phi)
    return 2 * torch.stack([c * f[:, 0] + s * f[:, 1], c * f[:, 1] - s * f[:, 0]], 1)


def _pinwheel(n: int, g: Generator) -> Tensor:
    f = _pinwheel_features(n, g)
    return _pinwheel_map(f, _component(n, _PIN_ARMS, g).to(_F64))


def _pinwheel_log_det(f: Tensor) -> Tensor:
    """log |det ∂y/∂f| = log 4 + log |1 + φ'(f_1) f_2|, φ'(f_1) = e^{f_1} / 4: (n,)."""
    return math.log(4.0) + torch.log(torch.abs(1 + _PIN_RATE * torch.exp(f[:, 0]) * f[:, 1]))


def _pinwheel_entropy() -> tuple[float, float]:
    g = torch.Generator().manual_seed(_ENTROPY_SEED)
    m = _ENTROPY_DEFAULT_SAMPLES
    log_det = _pinwheel_log_det(_pinwheel_features(m, g))  # (M,)
    h_f = math.log(2 * math.pi * math.e * _PIN_RADIAL * _PIN_TANGENTIAL)  # Gaussian f
    value = math.log(_PIN_ARMS) + h_f + float(log_det.mean())
    return value, float(log_det.std() / math.sqrt(m))


# ---------------------------------------------------------------------------- two spirals
_SPIRAL_END, _SPIRAL_SIGMA, _SPIRAL_BOX = 3 * math.pi, 0.1, 0.5 / 3


def _spiral_curve(n: Tensor) -> Tensor:
    return torch.stack([-n * torch.cos(n), n * torch.sin(n)], -1) / 3  # (J, 2)


def _two_spirals(n: int, g: Generator) -> Tensor:
    t = _SPIRAL_END * torch.sqrt(_uniform(n, g))  # (n,) density 2t / (3π)²
    x = _spiral_curve(t) + _SPIRAL_BOX * _uniform(n, g, 2)  # (n, 2)
    sign = 1 - 2 * _component(n, 2, g).to(_F64)  # (n,) ±1
    return sign[:, None] * x + _SPIRAL_SIGMA * _normal(n, g, 2)


@cache
def _spiral_nodes() -> tuple[Tensor, Tensor]:
    # the curve is the spiral (t cos t, t sin t) / 3 mirrored: panels 3σ long along it
    t, w = gauss_legendre(spiral_edges(0.0, _SPIRAL_END, 3 * 3 * _SPIRAL_SIGMA))
    return _spiral_curve(t), torch.log(w * 2 * t / _SPIRAL_END**2 / 2)  # weight 1/2 per arm


def _two_spirals_log_prob(x: Tensor) -> Tensor:
    c, log_w = _spiral_nodes()
    box = torch.full((2,), _SPIRAL_BOX, dtype=_F64)
    zero = torch.zeros(2, dtype=_F64)
    plus = box_mixture_log_prob(x, c, log_w, zero, box, _SPIRAL_SIGMA)
    minus = box_mixture_log_prob(x, -c, log_w, -box, zero, _SPIRAL_SIGMA)
    return torch.logaddexp(plus, minus)


# ---------------------------------------------------------------------------- rings
_RING_RADII, _RING_SIGMA = (3.0, 2.25, 1.5, 0.75), 0.08


def _rings(n: int, g: Generator) -> Tensor:
    r = torch.tensor(_RING_RADII, dtype=_F64)[_component(n, 4, g)]  # (n,)
    a = 2 * math.pi * _uniform(n, g)
    return r[:, None] * torch.stack([torch.cos(a), torch.sin(a)], 1) + _RING_SIGMA * _normal(
        n, g, 2
    )


def _rings_log_prob(x: Tensor) -> Tensor:
    """A circle of radius R blurred by N(0, σ² I) has density
    exp(-(r² + R²) / 2σ²) I_0(rR / σ²) / 2πσ² (uniform angle integrated out); I_0 scaled."""
    r = x.to(_F64).norm(dim=1, keepdim=True)  # (n, 1)
    big = torch.tensor(_RING_RADII, dtype=_F64)  # (4,)
    s2 = _RING_SIGMA**2
    z = r * big / s2  # (n, 4)
    log_k = -((r - big) ** 2) / (2 * s2) + torch.log(torch.special.i0e(z))
    return torch.logsumexp(log_k, 1) - math.log(4 * 2 * math.pi * s2)


# ---------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Toy:
    sample: Callable[[int, Generator], Tensor]
    log_prob: Callable[[Tensor], Tensor] | None  # exact log-density, None where not written


_TOYS: dict[str, _Toy] = {
    "8gaussians": _Toy(_mixture_sampler("8gaussians"), _mixture_log_prob("8gaussians")),
    "checkerboard": _Toy(_checkerboard, _checkerboard_log_prob),
    "moons": _Toy(_moons, _moons_log_prob),
    "pinwheel": _Toy(_pinwheel, None),
    "2spirals": _Toy(_two_spirals, _two_spirals_log_prob),
    "rings": _Toy(_rings, _rings_log_prob),
    "swissroll2d": _Toy(lambda n, g: swiss_roll_2d(n, generator=g), swiss_roll_2d_log_prob),
    "ring8": _Toy(_mixture_sampler("ring8"), _mixture_log_prob("ring8")),
    "grid25": _Toy(_mixture_sampler("grid25"), _mixture_log_prob("grid25")),
}

#: the names of the 2-D toys
TOYS: tuple[str, ...] = tuple(_TOYS)


def _toy(name: str) -> _Toy:
    return _TOYS[check_option("name", name, TOYS)]


def sample_toy(name: str, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n i.i.d. draws of the 2-D toy ``name``: (n, 2) in the default dtype."""
    toy = _toy(name)
    n = check_int("n", n, low=1)
    return toy.sample(n, generator).to(torch.get_default_dtype())


def toy_log_prob(name: str, x: Tensor) -> Tensor:
    """Exact log-density (float64) of the toy ``name`` at points x (M, 2). The pinwheel has
    none here (its density needs the inverse of a non-linear map)."""
    toy = _toy(name)
    if toy.log_prob is None:
        raise ValueError(f"name must be a toy with a written density, got {name!r}")
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (M, 2), got {tuple(x.shape)}")
    return toy.log_prob(x)


@cache
def toy_entropy(name: str) -> tuple[float, float]:
    """Differential entropy of the toy ``name`` in nats and its standard error (0 where exact):
    log 32 for the checkerboard, change of variables for the pinwheel, else Monte Carlo with
    the exact density over seeded draws (200,000 for the closed forms, 40,000 where the density
    is a quadrature, 80,000 for the swiss roll, 20,000 for the spirals)."""
    toy = _toy(name)
    if name == "checkerboard":
        return math.log(32.0), 0.0
    if name == "pinwheel":
        return _pinwheel_entropy()
    if name == "swissroll2d":
        return swiss_roll_2d_entropy()
    m = _ENTROPY_SAMPLES.get(name, _ENTROPY_DEFAULT_SAMPLES)
    return mc_entropy(toy.log_prob, toy.sample, m, _ENTROPY_SEED)


def toy_modes(name: str) -> tuple[Tensor, float]:
    """The modes (K, 2) and the per-axis standard deviation σ of a Gaussian-mixture toy
    (ring8, grid25, 8gaussians), for :func:`bayesgen.eval.mode_coverage`."""
    name = check_option("name", name, tuple(_MIXTURES))
    modes, sigma = _MIXTURES[name]
    return modes().to(torch.get_default_dtype()), sigma
