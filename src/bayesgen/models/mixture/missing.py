"""Missing features in a Gaussian mixture: marginal densities and conditional moments.

A row with observed coordinates o scores under the marginal N(x_o; μ_o, Σ_oo); the M-step uses
the conditional expectations E[x_m | x_o, z=k] and Cov[x_m | x_o, z=k], which makes EM exact.
Rows with NaN are grouped in blocks; for full and tied covariances each block's distinct
missingness patterns are factorized once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ._budget import row_blocks
from .covariance import LOG_2PI, make_covariance

__all__ = ["MissingBlock", "masked_diag", "masked_full", "missing_log_probs", "split_missing"]


@dataclass
class MissingBlock:
    """Rows ``idx`` with NaN: values (B, D), observed mask (B, D), distinct masks (P, D) and
    each row's mask index (B,) (the last two for full and tied covariances only)."""

    idx: Tensor
    x: Tensor
    obs: Tensor
    patterns: Tensor | None
    inverse: Tensor | None


def masked_full(
    X: Tensor,
    obs: Tensor,
    patterns: Tensor,
    inverse: Tensor,
    means: Tensor,
    cov: Tensor,
    with_moments: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Marginal log N(x_o; μ_o, Σ_oo) for rows with missing entries, full or tied covariances.

    For each missingness pattern o (O = diag(o)) the padded matrix Σ̃ = OΣO + (I - O) has
    log|Σ̃| = log|Σ_oo| and Λ = O Σ̃⁻¹ O is Σ_oo⁻¹ padded with zeros, so with d = O(x - μ):
        log p(x_o) = -½(|o| log 2π + log|Σ_oo| + dᵀΛd).
    With ``with_moments`` it also returns E[x | x_o] = μ + ΣΛd and, per pattern,
    Cov[x | x_o] = Σ - ΣΛΣ (zero on the observed block).

    X (M, D) with NaN, obs (M, D) bool, its distinct rows ``patterns`` (P, D) and each row's
    pattern ``inverse`` (M,), means (K, D), cov (Kc, D, D) with Kc in {1, K}.
    Returns log_prob (M, K), x_hat (M, K, D), cond_cov (P, Kc, D, D), pattern index (M,).
    """
    o = patterns.to(cov.dtype)  # (P, D)
    oo = o[:, None, :, None] * o[:, None, None, :]  # (P, 1, D, D)
    padded = cov[None] * oo + torch.diag_embed(1.0 - o)[:, None]  # (P, Kc, D, D)
    chol = torch.linalg.cholesky(padded)  # (P, Kc, D, D)
    log_det = 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (P, Kc)
    lam = torch.cholesky_inverse(chol) * oo  # (P, Kc, D, D)
    xf = torch.nan_to_num(X, nan=0.0)  # (M, D)
    diff = (xf[:, None, :] - means) * obs[:, None, :]  # (M, K, D)
    v = (lam[inverse] @ diff[..., None]).squeeze(-1)  # (M, K, D)
    maha = (diff * v).sum(-1)  # (M, K)
    n_obs = obs.sum(-1, keepdim=True).to(cov.dtype)  # (M, 1)
    log_prob = -0.5 * (n_obs * LOG_2PI + log_det[inverse] + maha)  # (M, K)
    if not with_moments:
        return log_prob, None, None, None
    x_hat = means + (cov @ v[..., None]).squeeze(-1)  # (M, K, D)
    cond_cov = cov - cov @ lam @ cov  # (P, Kc, D, D)
    cond_cov = 0.5 * (cond_cov + cond_cov.mT)
    return log_prob, x_hat, cond_cov, inverse


def masked_diag(
    X: Tensor, obs: Tensor, means: Tensor, variances: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Marginal log density for diagonal covariances: a sum over observed coordinates only.

    X (M, D) with NaN, obs (M, D), means (K, D), variances (K, D).
    Returns log_prob (M, K), x_hat = E[x | x_o] (M, K, D), residual variance (M, K, D).
    """
    of = obs.to(means.dtype)[:, None, :]  # (M, 1, D)
    xf = torch.nan_to_num(X, nan=0.0)[:, None, :]  # (M, 1, D)
    diff = (xf - means) * of  # (M, K, D)
    terms = diff.square() / variances + of * (variances.log() + LOG_2PI)  # (M, K, D)
    log_prob = -0.5 * terms.sum(-1)  # (M, K)
    x_hat = torch.where(obs[:, None, :], xf, means)  # (M, K, D)
    resid = (1.0 - of) * variances  # (M, K, D)
    return log_prob, x_hat, resid


def split_missing(
    X: Tensor, rows: Tensor, covariance_type: str, k: int, offset: int = 0
) -> list[MissingBlock]:
    """Blocks of the rows with NaN, with their missingness patterns (indices + offset)."""
    d = X.shape[1]
    full = make_covariance(covariance_type).matrix
    out = []
    for a, b in row_blocks(len(rows), k * d * d if full else k * d):
        idx = rows[a:b]
        xb = X[idx]
        obs = ~torch.isnan(xb)
        pat = inv = None
        if full:
            pat, inv = torch.unique(obs, dim=0, return_inverse=True)  # (P, D), (B,)
        out.append(MissingBlock(idx + offset, xb, obs, pat, inv))
    return out


def missing_log_probs(
    blocks: list[MissingBlock],
    means: Tensor,
    covariances: Tensor,
    covariance_type: str,
    with_moments: bool = False,
) -> Iterator[tuple[Tensor, tuple]]:
    """Yield (row index, (log_prob, x_hat, cond_cov/resid, pattern index)) for NaN rows."""
    k, d = means.shape
    ct = covariance_type
    if make_covariance(ct).matrix:
        cov = covariances if ct == "full" else covariances[None]  # (Kc, D, D)
    else:
        var = covariances if ct == "diag" else covariances[:, None].expand(k, d)  # (K, D)
    for blk in blocks:
        if make_covariance(ct).matrix:
            yield (
                blk.idx,
                masked_full(blk.x, blk.obs, blk.patterns, blk.inverse, means, cov, with_moments),
            )
        else:
            yield blk.idx, (*masked_diag(blk.x, blk.obs, means, var), None)
