"""Information theory (§2.4.3 of the seed): information, entropy, cross-entropy, KL,
Jensen–Shannon, Wasserstein, energy distance and MMD, for probability tables, torch
distributions and sample sets, in nats (default) or bits (``base=2`` / ``unit="bits"``).
"""

from ._base import Estimate
from .distances import (
    energy_distance,
    median_heuristic,
    mmd2,
    sliced_wasserstein_distance,
    wasserstein_distance,
)
from .divergences import (
    cross_entropy,
    empirical_cross_entropy,
    entropy,
    information,
    js_distance,
    js_divergence,
    kl_divergence,
)
from .kl_fit import fit_gaussian_forward_kl, fit_gaussian_reverse_kl, reverse_kl

__all__ = [
    "Estimate",
    "information",
    "entropy",
    "cross_entropy",
    "empirical_cross_entropy",
    "kl_divergence",
    "js_divergence",
    "js_distance",
    "wasserstein_distance",
    "sliced_wasserstein_distance",
    "energy_distance",
    "mmd2",
    "median_heuristic",
    "fit_gaussian_forward_kl",
    "fit_gaussian_reverse_kl",
    "reverse_kl",
]
