"""Sufficient statistics of an HMM: expected counts from forward–backward, or plain counts.

Learning separates the statistics from the update (``HMM.summarize`` / ``HMM.from_summaries``),
so supervised MLE (labels everywhere: the counts), Baum–Welch (EM) and partially labelled EM
share one path. The statistics are a dict of tensors:

    start   (K,)        E[#(z_1 = k)]
    trans   (K, K)      E[#(z_{t-1} = j, z_t = k)]      (order 2: only t = 2)
    trans2  (K, K, K)   E[#(z_{t-2} = i, z_{t-1} = j, z_t = k)]
    counts  (K, M)      E[#(z = k, x = m)]               (categorical)
    post, obs, obs**2 (K, D)  Σ γ, Σ γ x, Σ γ x² over observed values  (gaussian)
    loglik              Σ log p(x) (NaN for counted statistics)

The expected transition counts come from the backward pass's w_t = E_t ⊙ β̂_t / c_t:
Σ_t ξ_t(j, k) = A_jk Σ_t α̂_{t-1}(j) w_t(k).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._input import Chunk, Flat, block_positions
from .emissions import Emission
from .recursions import backward, forward
from .segmented import backward_segmented, forward_segmented, loglik_segmented, use_segmented

__all__ = ["count_stats", "empty_stats", "log_likelihood", "normalize", "posterior"]


def normalize(counts: Tensor, dim: int = -1) -> Tensor:
    """Rows of non-negative counts to distributions; an all-zero row becomes uniform."""
    total = counts.sum(dim, keepdim=True)
    uniform = torch.full_like(counts, 1.0 / counts.shape[dim])
    return torch.where(total > 0, counts / total.clamp_min(torch.finfo(counts.dtype).tiny), uniform)


def empty_stats(
    n_components: int,
    n_features: int,
    order: int,
    emission: Emission,
    dtype: torch.dtype,
    device: torch.device,
) -> dict:
    """Zero statistics of the shapes above."""
    K, F = n_components, n_features
    z = dict(dtype=dtype, device=device)
    stats = {"loglik": 0.0, "start": torch.zeros(K, **z), "trans": torch.zeros(K, K, **z)}
    if order == 2:
        stats["trans2"] = torch.zeros(K, K, K, **z)
    stats.update(emission.empty_stats(K, F, **z))
    return stats


def _loglik(c: Tensor, shift: Tensor | None, mask: Tensor) -> tuple[Tensor, Tensor]:
    """log p(x) = Σ_t log c_t (+ the emission shift) per sequence (B,), -inf for a sequence
    with an impossible step; and those steps (T, B)."""
    dead = ((c <= 0) | torch.isnan(c)) & mask  # (T, B) a step with probability 0
    loglik = torch.log(torch.where(dead, 1.0, c)).sum(0)  # (B,)
    if shift is not None:
        loglik = loglik + (shift * mask).sum(0)
    return torch.where(dead.any(0), -math.inf, loglik), dead


def log_likelihood(
    chunk: Chunk,
    E: Tensor,
    shift: Tensor | None,
    startprob: Tensor,
    transmat: Tensor,
    transmat2: Tensor | None = None,
) -> Tensor:
    """log p(x) (B,) of a chunk's sequences (-inf where impossible), by the forward pass alone.

    A chunk in block order (a few long sequences of equal length, ``chunk.blocks``) takes the
    blocked product of transfer matrices
    (:func:`~bayesgen.models.hmm.segmented.loglik_segmented`, no loop over time); otherwise, or
    when that meets a (near-)zero probability, the scaled recursion without storing α̂.
    """
    shifted = 0.0 if shift is None else shift.sum(0)  # (B,): padding has shift 0
    mask, active = chunk.mask, chunk.active
    if chunk.blocks is not None:
        L, T = chunk.blocks
        loglik = loglik_segmented(E, startprob, transmat, L, T)
        if loglik is not None:
            return loglik + shifted
        at = block_positions(T, L, E.device)  # back to time order
        E, mask, active = E.index_select(1, at), mask.index_select(0, at), [E.shape[2]] * T
    _, c = forward(E, active, startprob, transmat, transmat2, keep=False)
    return _loglik(c, None, mask)[0] + shifted


def posterior(
    chunk: Chunk,
    E: Tensor,
    shift: Tensor | None,
    startprob: Tensor,
    transmat: Tensor,
    transmat2: Tensor | None = None,
    *,
    emission: Emission,
    n_features: int | None,
    stats: dict | None = None,
    need_gamma: bool = False,
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Forward–backward on one chunk: log-likelihoods (B,), γ (K, T, B) (0 past the end),
    impossible steps (T, B); when ``stats`` is a dict the expected counts are added to it.

    E (K, T, B) and ``shift`` come from
    :func:`~bayesgen.models.hmm.emissions.emission_likelihoods` (E is overwritten).
    """
    order = 1 if transmat2 is None else 2
    segmented = use_segmented(E, chunk.active, order)
    if segmented:
        alpha, c, cache = forward_segmented(E, startprob, transmat)
    else:
        alpha, c = forward(E, chunk.active, startprob, transmat, transmat2)
    loglik, dead = _loglik(c, shift, chunk.mask)
    dead_seq = dead.any(0)
    if stats is None and not need_gamma:
        return loglik, None, dead
    if stats is not None and dead_seq.any():
        b = int(dead_seq.nonzero()[0])
        t = int(dead[:, b].nonzero()[0])
        raise ValueError(
            f"sequence {int(chunk.seq[b])} has probability 0 under the model at step {t}; "
            "use pseudocount > 0 or check the data"
        )
    if dead.any():  # the recursions below need c > 0; the answer is -inf anyway
        segmented = False
    if segmented:
        beta, w = backward_segmented(E, c, transmat, cache)
    else:
        beta, w = backward(E, torch.where(dead, 1.0, c), chunk.active, transmat, transmat2)
    K, T = E.shape[:2]
    if stats is not None:
        stats["loglik"] += float(loglik.sum())
        if order == 1 and T > 1:
            xi = alpha[:, :-1].reshape(K, -1) @ w[:, 1:].reshape(K, -1).T  # (K, K)
            stats["trans"] += xi * transmat
        elif order == 2:
            if T > 1:
                first = alpha[0].sum(1)  # (B, K) marginal of z_1
                stats["trans"] += torch.einsum("bj,bjk->jk", first, w[1]) * transmat
            if T > 2:
                xi2 = torch.einsum("tbij,tbjk->ijk", alpha[1:-1], w[2:])  # (K, K, K)
                stats["trans2"] += xi2 * transmat2
    if order == 1:
        gamma = alpha.mul_(beta)  # (K, T, B)
    else:
        gamma = (alpha * beta).sum(2).permute(2, 0, 1)  # (K, T, B): marginal of z_t
    if stats is not None:
        stats["start"] += gamma[:, 0].sum(1)
        emission.add_stats(stats, chunk, gamma, n_features)
    return loglik, gamma, dead


def count_stats(
    flat: Flat,
    n_components: int,
    n_features: int,
    order: int,
    emission: Emission,
    dtype: torch.dtype,
) -> dict:
    """Sufficient statistics of fully labelled sequences: plain counts (no inference)."""
    K = n_components
    z = flat.labels  # (N,)
    stats = empty_stats(K, n_features, order, emission, dtype, z.device)
    starts = flat.offsets
    stats["start"] += torch.bincount(z[starts], minlength=K).to(dtype)
    pos = torch.arange(len(z), device=z.device) - torch.repeat_interleave(starts, flat.lengths)
    t1 = (pos == 1).nonzero().squeeze(1)
    stats["trans"] += torch.bincount(z[t1 - 1] * K + z[t1], minlength=K * K).reshape(K, K).to(dtype)
    rest = (pos >= 2).nonzero().squeeze(1)
    if order == 1:
        stats["trans"] += (
            torch.bincount(z[rest - 1] * K + z[rest], minlength=K * K).reshape(K, K).to(dtype)
        )
    else:
        idx = (z[rest - 2] * K + z[rest - 1]) * K + z[rest]
        stats["trans2"] += torch.bincount(idx, minlength=K**3).reshape(K, K, K).to(dtype)
    emission.count_stats(stats, z, flat.values, K, n_features)
    stats["loglik"] = math.nan
    return stats
