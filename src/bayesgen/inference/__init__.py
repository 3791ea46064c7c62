"""Inference on Bayesian networks: exact tensor contraction and approximate sampling.

``ExactInference`` answers ``query``, ``marginals``, ``log_evidence``, ``mpe`` and ``map`` on
discrete networks, batched over evidence rows and differentiable in the tables;
``rejection_sampling``, ``likelihood_weighting`` (hybrid networks too) and ``gibbs_sampling``
estimate posteriors with standard errors.
"""

from .approximate import Estimate, gibbs_sampling, likelihood_weighting, rejection_sampling
from .contraction import MemoryBudgetError
from .exact import ExactInference
from .result import Explanation, Posterior

__all__ = [
    "ExactInference",
    "MemoryBudgetError",
    "Posterior",
    "Explanation",
    "Estimate",
    "rejection_sampling",
    "likelihood_weighting",
    "gibbs_sampling",
]
