"""Every bijection of bayesgen.flows as a small example (as torch.distributions tests its
transforms): name -> (context_size) -> builder, with parameters moved off their initial values
so that no transform is the identity. ``context_size=None`` for builders that take no context."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bayesgen.flows import (
    ActNorm,
    Affine,
    Compose,
    Coupling,
    ElementwiseAffine,
    ElementwiseSpline,
    LULinear,
    MaskedAutoregressive,
    Permutation,
    Spline,
)

D = 4


def _conditional(make: Callable[[int], torch.nn.Module]) -> Callable[[int], torch.nn.Module]:
    make.conditional = True
    return make


EXAMPLES: dict[str, Callable[[int], torch.nn.Module]] = {
    "affine": lambda c: ElementwiseAffine(D),
    "actnorm": lambda c: ActNorm(D),
    "permutation-reverse": lambda c: Permutation(D, "reverse"),
    "permutation-random": lambda c: Permutation(D, "random", seed=3),
    "lu-linear": lambda c: LULinear(D, seed=1),
    "spline": lambda c: ElementwiseSpline(D, bins=5, bound=2.0),
    "realnvp-coupling": _conditional(
        lambda c: Coupling(D, Affine(), hidden=(16, 16), context_size=c)
    ),
    "realnvp-coupling-film": _conditional(
        lambda c: Coupling(
            D, Affine(), flip=True, hidden=(16, 16), context_size=c, conditioning="film"
        )
    ),
    "nsf-coupling": _conditional(
        lambda c: Coupling(D, Spline(5, 2.0), mask=[1, 0, 1, 0], hidden=(16,), context_size=c)
    ),
    "maf": _conditional(
        lambda c: MaskedAutoregressive(D, Affine(), hidden=(16, 16), context_size=c)
    ),
    "iaf": _conditional(
        lambda c: MaskedAutoregressive(D, Affine(), hidden=(16,), context_size=c, inverse=True)
    ),
    "maf-spline": _conditional(
        lambda c: MaskedAutoregressive(
            D, Spline(5, 2.0), hidden=(16, 16), context_size=c, order=[2, 0, 3, 1]
        )
    ),
    "iaf-spline": _conditional(
        lambda c: MaskedAutoregressive(
            D, Spline(5, 2.0), hidden=(16,), context_size=c, inverse=True
        )
    ),
    "glow-step": _conditional(
        lambda c: Compose(
            ActNorm(D), LULinear(D, seed=2), Coupling(D, Affine(), hidden=(16,), context_size=c)
        )
    ),
}


def make(name: str, context_size: int = 0, seed: int = 0) -> torch.nn.Module:
    """The example builder in float64 with every parameter moved by N(0, 0.3²) noise."""
    factory = EXAMPLES[name]
    c = context_size if getattr(factory, "conditional", False) else 0
    torch.manual_seed(seed)
    builder = factory(c).double()
    with torch.no_grad():
        for p in builder.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return builder


def inputs(n: int = 16, seed: int = 1) -> torch.Tensor:
    """Rows (n, D) in float64, spread beyond the splines' bound 2 so tails are hit too."""
    g = torch.Generator().manual_seed(seed)
    return 1.5 * torch.randn(n, D, generator=g, dtype=torch.float64)
