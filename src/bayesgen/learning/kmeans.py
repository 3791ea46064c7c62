"""k-means clustering: the starting point of EM for every model with a latent class.

k-means++ (Arthur & Vassilvitskii 2007) picks centre c with probability ∝ w_i D(x_i)², D the
distance to the nearest centre so far, keeping the best of 2 + ⌊log k⌋ candidates (greedy, as
scikit-learn does); weighted Lloyd iterations then alternate

    z_i = argmin_c ‖x_i − μ_c‖²,   μ_c = Σ_{i: z_i = c} w_i x_i / Σ_{i: z_i = c} w_i

until the centres move less than ``tol`` × the data's mean variance. The Gaussian mixture starts
its EM from the labels, the Gaussian HMM's random restarts from the centres.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .._constants import TINY

__all__ = ["kmeans", "kmeans_plusplus"]


def _sq_dist(A: Tensor, B: Tensor) -> Tensor:
    """‖a_i - b_j‖².  A (N, D), B (M, D) -> (N, M)"""
    d2 = A.square().sum(1)[:, None] + B.square().sum(1)[None, :] - 2.0 * (A @ B.T)
    return d2.clamp_min_(0.0)


def kmeans_plusplus(X: Tensor, k: int, w: Tensor, gen: torch.Generator) -> Tensor:
    """Greedy k-means++ seeding (2 + ⌊log k⌋ trials per centre) of the rows X (N, D) with
    weights w (N,). Returns row indices (k,)."""
    n = X.shape[0]
    n_trials = 2 + int(math.log(k))
    idx = torch.empty(k, dtype=torch.long, device=X.device)
    idx[0] = torch.multinomial(w / w.sum(), 1, generator=gen)[0]
    closest = _sq_dist(X[idx[:1]], X)[0]  # (N,)
    potential = (w * closest).sum()
    for c in range(1, k):  # sequential by construction; one vectorized step per centre
        u = torch.rand(n_trials, generator=gen, dtype=X.dtype, device=X.device) * potential
        cand = torch.searchsorted(torch.cumsum(w * closest, 0), u).clamp_max_(n - 1)  # (T,)
        new_closest = torch.minimum(closest, _sq_dist(X[cand], X))  # (T, N)
        pots = (w * new_closest).sum(1)  # (T,)
        best = int(torch.argmin(pots))
        idx[c] = cand[best]
        closest, potential = new_closest[best], pots[best]
    return idx


def kmeans(
    X: Tensor, k: int, w: Tensor, gen: torch.Generator, max_iter: int = 300, tol: float = 1e-4
) -> tuple[Tensor, Tensor]:
    """Weighted Lloyd iterations from a k-means++ seeding of X (N, D), weights w (N,).
    Returns the centres (k, D) and the labels (N,)."""
    centers = X[kmeans_plusplus(X, k, w, gen)]  # (k, D)
    scale = tol * float((w[:, None] * (X - X.mean(0)).square()).sum(0).mean() / w.sum())
    labels = torch.argmin(_sq_dist(X, centers), 1)
    for _ in range(max_iter):
        onehot = F.one_hot(labels, k).to(X.dtype) * w[:, None]  # (N, k)
        mass = onehot.sum(0)  # (k,)
        new = (onehot.T @ X) / mass.clamp_min(TINY)[:, None]  # (k, D)
        new = torch.where(mass[:, None] > 0, new, centers)  # empty cluster keeps its centre
        shift = float((new - centers).square().sum())
        centers = new
        labels = torch.argmin(_sq_dist(X, centers), 1)
        if shift <= scale:
            break
    return centers, labels
