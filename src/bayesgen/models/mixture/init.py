"""Starting responsibilities for EM: k-means, k-means++, random, or random data points.

An initialization is a (N, K) responsibility matrix; one M-step turns it into parameters.
k-means++ (Arthur & Vassilvitskii 2007) picks centre c with probability ∝ w_i D(x_i)², D the
distance to the nearest centre so far, keeping the best of 2 + ⌊log k⌋ candidates (greedy, as
scikit-learn); k-means then runs weighted Lloyd iterations from it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["INIT_PARAMS", "initial_responsibilities", "kmeans", "kmeans_plusplus"]

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def _sq_dist(A: Tensor, B: Tensor) -> Tensor:
    """‖a_i - b_j‖².  A (N, D), B (M, D) -> (N, M)"""
    d2 = A.square().sum(1)[:, None] + B.square().sum(1)[None, :] - 2.0 * (A @ B.T)
    return d2.clamp_min_(0.0)


def kmeans_plusplus(X: Tensor, k: int, w: Tensor, gen: torch.Generator) -> Tensor:
    """Greedy k-means++ seeding (2 + ⌊log k⌋ trials per centre). Returns row indices (k,)."""
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
) -> Tensor:
    """Weighted Lloyd iterations from a k-means++ seeding. Returns labels (N,)."""
    centers = X[kmeans_plusplus(X, k, w, gen)]  # (k, D)
    scale = tol * float((w[:, None] * (X - X.mean(0)).square()).sum(0).mean() / w.sum())
    labels = torch.argmin(_sq_dist(X, centers), 1)
    for _ in range(max_iter):
        onehot = F.one_hot(labels, k).to(X.dtype) * w[:, None]  # (N, k)
        mass = onehot.sum(0)  # (k,)
        new = (onehot.T @ X) / mass.clamp_min(1e-300)[:, None]  # (k, D)
        new = torch.where(mass[:, None] > 0, new, centers)  # empty cluster keeps its centre
        shift = float((new - centers).square().sum())
        centers = new
        labels = torch.argmin(_sq_dist(X, centers), 1)
        if shift <= scale:
            break
    return labels


def initial_responsibilities(
    X: Tensor, w: Tensor, k: int, init_params: str, gen: torch.Generator
) -> Tensor:
    """Responsibilities (N, K) to start EM from: one-hot k-means labels, one-hot seeds
    (k-means++, random_from_data: one point per component), or random rows summing to 1."""
    n = X.shape[0]
    resp = X.new_zeros(n, k)
    if init_params == "kmeans":
        labels = kmeans(X, k, w, gen)
        resp[torch.arange(n, device=X.device), labels] = 1.0
    elif init_params == "k-means++":
        idx = kmeans_plusplus(X, k, w, gen)
        resp[idx, torch.arange(k, device=X.device)] = 1.0
    elif init_params == "random":
        resp = torch.rand(n, k, generator=gen, dtype=X.dtype, device=X.device)
        resp /= resp.sum(1, keepdim=True)
    elif init_params == "random_from_data":
        idx = torch.randperm(n, generator=gen, device=X.device)[:k]
        resp[idx, torch.arange(k, device=X.device)] = 1.0
    else:
        raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {init_params!r}")
    return resp
