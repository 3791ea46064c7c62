"""Starting responsibilities for EM: k-means, k-means++, random, or random data points.

An initialization is a (N, K) responsibility matrix; one M-step turns it into parameters. The
k-means and its k-means++ seeding are :mod:`bayesgen.learning.kmeans`, shared with the HMM.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...learning.kmeans import kmeans, kmeans_plusplus

__all__ = ["INIT_PARAMS", "initial_responsibilities"]

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def initial_responsibilities(
    X: Tensor, w: Tensor, k: int, init_params: str, gen: torch.Generator
) -> Tensor:
    """Responsibilities (N, K) to start EM from: one-hot k-means labels, one-hot seeds
    (k-means++, random_from_data: one point per component), or random rows summing to 1."""
    n = X.shape[0]
    resp = X.new_zeros(n, k)
    if init_params == "kmeans":
        _, labels = kmeans(X, k, w, gen)
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
