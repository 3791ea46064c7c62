"""Normalizing flows (eq. 18): bijections with exact log-Jacobians, their builders, and the
flow distribution x = T_K ∘ … ∘ T_1(z₀) with z₀ ~ N(0, I)."""

from .autoregressive import AutoregressiveTransform, MaskedAutoregressive
from .coupling import Coupling, CouplingTransform
from .distribution import KINDS, Compose, FlowDistribution, make_steps
from .spline import ElementwiseSpline, RQSplineTransform, Spline, spline_knots
from .transforms import (
    ActNorm,
    Affine,
    ElementwiseAffine,
    ElementwiseAffineTransform,
    FlowTransform,
    LinearTransform,
    LULinear,
    Permutation,
    PermutationTransform,
    TransformBuilder,
    forward_and_ladj,
    inverse_and_ladj,
)

__all__ = [
    "ActNorm",
    "Affine",
    "AutoregressiveTransform",
    "Compose",
    "Coupling",
    "CouplingTransform",
    "ElementwiseAffine",
    "ElementwiseAffineTransform",
    "ElementwiseSpline",
    "FlowDistribution",
    "FlowTransform",
    "KINDS",
    "LULinear",
    "LinearTransform",
    "MaskedAutoregressive",
    "Permutation",
    "PermutationTransform",
    "RQSplineTransform",
    "Spline",
    "TransformBuilder",
    "forward_and_ladj",
    "inverse_and_ladj",
    "make_steps",
    "spline_knots",
]
