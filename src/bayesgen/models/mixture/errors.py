"""Warnings and errors of :class:`~bayesgen.models.mixture.GaussianMixture` (defined in
:mod:`bayesgen.errors`, re-exported here)."""

from __future__ import annotations

from ...errors import ConvergenceWarning, DegenerateCovarianceWarning, NotFittedError

__all__ = ["ConvergenceWarning", "DegenerateCovarianceWarning", "NotFittedError"]
