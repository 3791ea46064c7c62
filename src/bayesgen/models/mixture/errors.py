"""Warnings and errors of :class:`~bayesgen.models.mixture.GaussianMixture`."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "DegenerateCovarianceWarning", "NotFittedError"]


class ConvergenceWarning(UserWarning):
    """EM or gradient training stopped at ``max_iter`` before the change fell below ``tol``."""


class NotFittedError(ValueError, AttributeError):
    """The model has no parameters yet: call ``fit`` (or load a state_dict) first."""


class DegenerateCovarianceWarning(UserWarning):
    """A component's covariance collapsed (onto a point or a subspace) and is held by reg_covar."""
