"""Gaussian mixtures: the Bayesian network z -> x of eq. 9, fitted by EM or by gradient descent.

The latent class z ~ Categorical(w) picks a component and x | z=k ~ N(μ_k, Σ_k), so

    p(x) = Σ_k w_k N(x; μ_k, Σ_k).                                                  (eq. 9)

The modules:

- ``covariance``: the four covariance types (full, tied, diag, spherical), their log densities
  through the precision Cholesky factor, and their M-steps;
- ``missing``: NaN features marginalized, with the conditional moments exact EM needs;
- ``estep``: responsibilities and sufficient statistics as blocked matrix products;
- ``init``: k-means, k-means++ and random starting responsibilities;
- ``gradient``: training by Adam through an unconstrained parametrization;
- ``model``: :class:`GaussianMixture`, the scikit-learn-style estimator;
- ``_input``, ``_budget``, ``errors``: argument checks, memory and thread budgets, warnings.
"""

from .covariance import (
    COVARIANCE_TYPES,
    CovarianceType,
    Diagonal,
    Full,
    Spherical,
    Tied,
    make_covariance,
)
from .errors import ConvergenceWarning, DegenerateCovarianceWarning, NotFittedError
from .init import INIT_PARAMS
from .model import GaussianMixture

__all__ = [
    "GaussianMixture",
    "ConvergenceWarning",
    "DegenerateCovarianceWarning",
    "NotFittedError",
    "COVARIANCE_TYPES",
    "CovarianceType",
    "Full",
    "Tied",
    "Diagonal",
    "Spherical",
    "make_covariance",
    "INIT_PARAMS",
]
