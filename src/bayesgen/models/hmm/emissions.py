"""The HMM's emission factor p(x_t | z_t) on a chunk: likelihoods in, expected statistics out.

Categorical emissions B_km = p(x = m | z = k) are a gather from the table with an extra column
of ones for the symbol M that stands for a missing observation or padding (likelihood 1 in every
state marginalizes it out). A diagonal Gaussian is one matmul on the chunk's features
[o, x², x] (o = observed, x centred):

    log N(x; μ_k, σ²_k) = Σ_d o_d [-½ log 2πσ²_kd - μ²_kd/2σ²_kd] - x²_d/2σ²_kd + x_d μ_kd/σ²_kd,

so a missing dimension (o_d = 0, x_d = 0) drops out. The expected statistics of the E-step are
Σ_t γ_t(k) [x_t = m] (categorical) and Σ γ o, Σ γ x, Σ γ x² (Gaussian, over observed values).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._input import Chunk

__all__ = ["add_emission_stats", "emission_likelihoods"]


def emission_likelihoods(
    chunk: Chunk,
    kind: str,
    *,
    emissionprob: Tensor | None = None,
    means: Tensor | None = None,
    covars: Tensor | None = None,
    log: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Emission likelihoods of a chunk, shifted per step for range.

    Returns E (K, T, B) with E_t(k) ∝ p(x_t | z_t = k) (max 1 per step), and the shift
    (T, B) or None such that log p(x_t | k) = log E_t(k) + shift_t; ``log=True`` gives log E.
    ``kind`` "logemission" reads precomputed log-likelihoods from the chunk, "logemission2"
    pair scores (T, B, K, K) (returned as they are, shifted, for Viterbi only).
    """
    T, B = chunk.mask.shape
    shift = None
    if kind == "categorical":
        K = emissionprob.shape[0]
        ones = emissionprob.new_ones(K, 1)  # the extra symbol M: missing / padding
        table = torch.cat([emissionprob, ones], 1)  # (K, M+1)
        if log:
            table = torch.log(table)
        index = chunk.data.reshape(1, -1).expand(K, -1)  # (K, T*B)
        E = torch.gather(table, 1, index).reshape(K, T, B)  # (K, T, B)
    else:
        if kind == "gaussian":
            K = means.shape[0]
            mu = means - chunk.center  # (K, D)
            var = covars  # (K, D)
            W = torch.cat(
                [-0.5 * (torch.log(2 * math.pi * var) + mu * mu / var), -0.5 / var, mu / var],
                dim=1,
            )  # (K, 3D)
            logE = (W @ chunk.data).reshape(K, T, B)  # (K, T, B)
        elif kind == "logemission2":  # (T, B, K, K), only for Viterbi
            shift = chunk.data.amax((2, 3))  # (T, B)
            shift = torch.where(torch.isfinite(shift), shift, 0)
            return chunk.data - shift[..., None, None], shift
        elif kind == "logemission":
            logE = chunk.data  # (K, T, B)
        else:
            raise ValueError(
                "kind must be one of ('categorical', 'gaussian', 'logemission', "
                f"'logemission2'), got {kind!r}"
            )
        shift = logE.amax(0)  # (T, B)
        shift = torch.where(torch.isfinite(shift), shift, 0)
        E = logE.sub_(shift) if kind == "gaussian" else logE - shift  # (K, T, B), a new tensor
        if not log:
            E.exp_()
    if chunk.allowed is not None:  # E is a new tensor in every case
        E = E.add_(torch.log(chunk.allowed)) if log else E.mul_(chunk.allowed)
    return E, shift


def add_emission_stats(
    stats: dict, chunk: Chunk, gamma: Tensor, kind: str, n_features: int
) -> None:
    """Add Σ_t γ_t(k) [x_t = m] (categorical) or Σ γ o, Σ γ x, Σ γ x² (gaussian) to ``stats``.

    ``gamma`` (K, T, B) is 0 past each sequence's end.
    """
    K, T, B = gamma.shape
    if kind == "categorical":
        M1 = n_features + 1
        if chunk.count_index is None:
            k = torch.arange(K, device=gamma.device).view(K, 1, 1) * M1
            chunk.count_index = (chunk.data.unsqueeze(0) + k).reshape(-1)  # (K*T*B,)
        counts = torch.bincount(
            chunk.count_index, weights=gamma.reshape(-1), minlength=K * M1
        ).reshape(K, M1)
        stats["counts"] += counts[:, :-1]  # missing observations land in the last column
    else:
        D = n_features
        G = gamma.reshape(K, -1)  # (K, T*B)
        S = G @ chunk.data.T  # (K, 3D): [Σγ o, Σγ xc², Σγ xc]; zero at padding
        post, sq, lin = S[:, :D], S[:, D : 2 * D], S[:, 2 * D :]
        c = chunk.center
        stats["post"] += post
        stats["obs"] += lin + c * post
        stats["obs**2"] += sq + 2 * c * lin + c * c * post
