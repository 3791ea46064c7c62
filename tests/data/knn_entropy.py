"""The Kozachenko–Leonenko nearest-neighbour entropy estimate: an oracle for the data sets'
entropies that uses nothing but samples (a helper of the data tests, imported by them)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma, gammaln
from sklearn.neighbors import KDTree


def knn_entropy(x: np.ndarray) -> tuple[float, float]:
    """Ĥ = ψ(N) - ψ(1) + log V_d + (d/N) Σ log ε_i (ε_i: distance to the nearest other point,
    V_d the unit ball's volume) and the standard error of the mean of d log ε_i."""
    n, d = x.shape
    eps = KDTree(x).query(x, k=2)[0][:, 1]
    log_vd = 0.5 * d * math.log(math.pi) - gammaln(1 + d / 2)
    terms = d * np.log(eps)
    return float(digamma(n) - digamma(1) + log_vd + terms.mean()), float(terms.std() / math.sqrt(n))
