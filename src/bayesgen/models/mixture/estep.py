"""The Gaussian mixture's E-step and sufficient statistics, as blocked matrix products.

EM alternates the E-step (responsibilities r_ik = p(z=k | x_i), in log-space) with the M-step
from the sufficient statistics

    N_k = Σ_i r_ik,   S1_k = Σ_i r_ik x_i,   S2_k = Σ_i r_ik x_i x_iᵀ,

accumulated about a fixed shift (the data's mean) for accuracy. Fully observed rows are cut into
blocks of centred x with their quadratic features q(x) (the upper triangle of x xᵀ for full
covariances, x² for diag and spherical): the log densities of a block are then one GEMM
[q(x) | x] @ Wᵀ + c, and the statistics another, r ᵀ [q(x) | x]. Rows with NaN go through
:mod:`~bayesgen.models.mixture.missing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._budget import row_blocks
from .covariance import LOG_2PI, log_det_prec_chol, mahalanobis
from .missing import MissingBlock, missing_log_probs, split_missing

__all__ = [
    "Block",
    "Blocks",
    "accumulate",
    "block_log_prob",
    "iter_blocks",
    "make_blocks",
    "make_plan",
    "n_quad",
    "quadratic",
    "softmax_stats",
]


@dataclass
class Block:
    """Fully observed rows ``idx`` centred (B, D), with their quadratic features."""

    idx: slice | Tensor
    xc: Tensor
    feat: Tensor | None
    r2: float


@dataclass
class Blocks:
    """A data set prepared for the E-step: shift, complete-row blocks, rows with NaN."""

    shift: Tensor
    complete: list[Block]
    missing: list[MissingBlock]


def softmax_stats(wlp: Tensor, wb: Tensor) -> tuple[Tensor, Tensor]:
    """log p(x) = logsumexp_k wlp and weighted responsibilities w·softmax_k wlp, one exp.

    wlp (B, K) (overwritten), wb (B,) -> (B,), (B, K)
    """
    m = wlp.amax(1, keepdim=True)  # (B, 1)
    e = wlp.sub_(m).exp_()  # (B, K)
    total = e.sum(1, keepdim=True)  # (B, 1)
    norm = (m + total.log()).squeeze(1)  # (B,)
    return norm, e.mul_(wb[:, None] / total)


def _triu(d: int, device: torch.device) -> Tensor:
    """Row and column indices of the upper triangle of a D×D matrix.  (2, T)"""
    return torch.triu_indices(d, d, device=device)


def quadratic(covariance_type: str, k: int, d: int) -> bool:
    """Full covariances: quadratic features (T = D(D+1)/2 columns) pay when T <= 2·K·D."""
    return covariance_type == "full" and d + 1 <= 4 * k


def n_quad(covariance_type: str, k: int, d: int) -> int:
    """Columns of second-order features: T (full), D (diag, spherical) or 0."""
    if covariance_type == "full":
        return d * (d + 1) // 2 if quadratic(covariance_type, k, d) else 0
    return d if covariance_type in ("diag", "spherical") else 0


def iter_blocks(
    X: Tensor,
    shift: Tensor,
    covariance_type: str,
    k: int,
    allow_missing: bool = True,
    stream: bool = False,
) -> Iterator[Blocks]:
    """Yield :func:`make_blocks` of consecutive row ranges, so features never exceed the
    block budget in memory at once (``stream``: the small budget of blocks used once)."""
    d = X.shape[1]
    per_row = max(k * d, n_quad(covariance_type, k, d) + d)
    for a, b in row_blocks(X.shape[0], per_row, stream=stream):
        yield make_blocks(X[a:b], shift, covariance_type, k, allow_missing, offset=a)


def make_blocks(
    X: Tensor,
    shift: Tensor,
    covariance_type: str,
    k: int,
    allow_missing: bool = True,
    offset: int = 0,
) -> Blocks:
    """Split X into blocks of centred, fully observed rows (with features) and NaN rows.

    Features are [q(x) | x] with x centred and q(x) the upper triangle of x xᵀ (full, T
    columns) or x² (diag, spherical), so one GEMM gives the E-step's Mahalanobis terms and
    one GEMM the M-step's statistics. Tied (and full with D + 1 > 4K) keep x alone.
    """
    n, d = X.shape
    nan_rows = torch.isnan(X).any(1) if allow_missing else None
    missing: list[MissingBlock] = []
    rows: Tensor | None = None
    if nan_rows is not None and bool(nan_rows.any()):
        rows = torch.nonzero(~nan_rows).flatten()
        missing = split_missing(X, torch.nonzero(nan_rows).flatten(), covariance_type, k, offset)
    m = n if rows is None else len(rows)
    f = n_quad(covariance_type, k, d)
    iu = _triu(d, X.device) if covariance_type == "full" and f else None
    out = []
    for a, b in row_blocks(m, max(k * d, f + d)):
        idx = slice(a, b) if rows is None else rows[a:b]
        if f:
            feat = X.new_empty((b - a, f + d))  # (B, F + D)
            xc = feat[:, f:]  # (B, D) view
            torch.sub(X[idx], shift, out=xc)
            if iu is not None:  # row i of the upper triangle: x_i · x_{i:}, (B, T)
                start = 0
                for i in range(d):  # over features, not rows
                    torch.mul(xc[:, i : i + 1], xc[:, i:], out=feat[:, start : start + d - i])
                    start += d - i
            else:
                torch.square(xc, out=feat[:, :f])  # (B, D)
        else:
            feat = None
            xc = X[idx] - shift  # (B, D)
        r2 = float(xc.square().sum(1).max()) if len(xc) else 0.0
        where = slice(a + offset, b + offset) if rows is None else idx + offset
        out.append(Block(where, xc, feat, r2))
    return Blocks(shift, out, missing)


def make_plan(
    shift: Tensor, weights: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str
) -> dict[str, Any]:
    """Parameter-side terms of log w_k + log N(x; μ_k, Σ_k) about ``shift``:

    with x, μ centred, (x-μ)ᵀP(x-μ) = q(x)·p_k - 2 xᵀ(Pμ_k) + μ_kᵀPμ_k, so for the features
    [q(x) | x] the weighted log density is [q(x) | x] @ W_kᵀ + c_k with
    W_k = -½[p_k | -2Pμ_k] and c_k = log w_k + log|U_k| - ½(D log 2π + μ_kᵀPμ_k).
    """
    ct = covariance_type
    u = prec_chol
    mc = means - shift  # (K, D)
    k, d = mc.shape
    log_det = log_det_prec_chol(u, ct, d)  # (K,) or ()
    out: dict[str, Any] = {"mc": mc, "u": u, "m2": float(mc.square().sum(1).max())}
    if ct == "full":
        P = u @ u.mT  # (K, D, D)
        b = (P @ mc[:, :, None]).squeeze(-1)  # (K, D)
        out["scale"] = float(u.square().sum((-2, -1)).max())
        if quadratic(ct, k, d):
            iu = _triu(d, u.device)
            coef = torch.where(iu[0] == iu[1], 1.0, 2.0).to(u.dtype)  # (T,)
            p = P[:, iu[0], iu[1]] * coef  # (K, T)
    elif ct == "tied":
        mu = mc @ u  # (K, D)
        out.update(mu=mu, scale=float(u.square().sum()))
        b = mu
    else:
        p = u.square() if ct == "diag" else u.square()[:, None].expand(k, d)  # (K, D)
        b = mc * p  # (K, D)
        out["scale"] = float(p.max())
    c = (mc * b).sum(-1) if ct != "tied" else b.square().sum(-1)  # (K,)
    out["const"] = weights.log() + log_det - 0.5 * d * LOG_2PI  # (K,)
    out["c"] = out["const"] - 0.5 * c  # (K,)
    if ct == "tied":
        out["W"] = mu.T.contiguous()  # (D, K): y @ W = yᵀ(U ᵀ μ)
    elif ct != "full" or quadratic(ct, k, d):
        out["W"] = torch.cat([-0.5 * p, b], 1).T.contiguous()  # (F + D, K)
    return out


def block_log_prob(blk: Block, plan: dict[str, Any], covariance_type: str) -> Tensor:
    """log w_k + log N(x; μ_k, Σ_k) for a block of fully observed rows.  (B, K)

    One GEMM on the features when the rounding error bound ε·D·max(‖x‖², ‖μ‖²)·‖U‖_F² of the
    expanded form is below 1e-7; else from the residuals (x - μ_k)ᵀU_k.
    """
    xc = blk.xc
    d = xc.shape[1]
    bound = torch.finfo(xc.dtype).eps * d * max(blk.r2, plan["m2"]) * plan["scale"]
    if bound < 1e-7 and "W" in plan:
        if covariance_type == "tied":
            y = xc @ plan["u"]  # (B, D)
            out = torch.addmm(plan["c"], y, plan["W"])  # (B, K)
            return out.sub_(0.5 * y.square().sum(1, keepdim=True))
        return torch.addmm(plan["c"], blk.feat, plan["W"])  # (B, K)
    maha = mahalanobis(xc, plan["mc"], plan["u"], covariance_type)  # (B, K)
    return plan["const"] - 0.5 * maha


def accumulate(
    s: dict[str, Tensor],
    blocks: Blocks,
    X: Tensor,
    w: Tensor,
    resp: Tensor | None,
    plan: dict[str, Any] | None,
    ll: Tensor | None,
    *,
    covariance_type: str,
    weights: Tensor,
    means: Tensor,
    covariances: Tensor,
) -> None:
    """E-step (unless ``resp`` is given) and statistics of one set of blocks, added to ``s``.

    ``s`` holds ``shift`` (D,), ``nk`` (K,), ``sx`` (K, D) and ``sxx`` (full (K, D, D),
    tied (D, D), diag and spherical (K, D)); ``ll`` (N,) receives log p(x_i) when the E-step
    runs. ``weights``, ``means``, ``covariances`` are the current parameters (NaN rows).
    """
    d = X.shape[1]
    ct = covariance_type
    k = s["nk"].shape[0]
    shift = s["shift"]

    # fully observed rows, in blocks
    f = n_quad(ct, k, d)
    iu = _triu(d, X.device) if ct == "full" and f else None
    for blk in blocks.complete:
        idx, xc, feat = blk.idx, blk.xc, blk.feat
        wb = w[idx]
        if plan is not None:
            wlp = block_log_prob(blk, plan, ct)  # (B, K)
            ll[idx], r = softmax_stats(wlp, wb)  # (B,), (B, K)
        else:
            r = resp[idx] * wb[:, None]  # (B, K)
        s["nk"] += r.sum(0)
        if feat is not None:
            stats = r.T @ feat  # (K, F + D): [Σ r q(x) | Σ r x]
            s["sx"] += stats[:, f:]
            if iu is not None:  # upper triangle -> symmetric (K, D, D)
                sxx = X.new_empty(k, d, d)
                sxx[:, iu[0], iu[1]] = stats[:, :f]
                sxx[:, iu[1], iu[0]] = stats[:, :f]
                s["sxx"] += sxx
            else:
                s["sxx"] += stats[:, :f]
        else:
            s["sx"] += r.T @ xc
            if ct == "full":
                rx = (r[:, :, None] * xc[:, None, :]).reshape(len(xc), k * d)  # (B, K*D)
                s["sxx"] += (xc.T @ rx).view(d, k, d).transpose(0, 1)  # (K, D, D)
            else:  # tied
                s["sxx"] += (xc * r.sum(1, keepdim=True)).T @ xc  # Σ_k r_ik = w_i

    # rows with missing entries: exact conditional moments
    if blocks.missing:
        for idx, (lp, x_hat, extra, pat) in missing_log_probs(
            blocks.missing, means, covariances, ct, True
        ):
            ll[idx], r = softmax_stats(lp + weights.log(), w[idx])  # (B,), (B, K)
            xc = x_hat - shift  # (B, K, D)
            s["nk"] += r.sum(0)
            s["sx"] += torch.einsum("bk,bkd->kd", r, xc)
            if ct in ("full", "tied"):
                rx = (r[:, :, None] * xc).permute(1, 2, 0)  # (K, D, B)
                outer = rx @ xc.transpose(0, 1)  # (K, D, D)
                rp = X.new_zeros(int(pat.max()) + 1, k).index_add_(0, pat, r)  # (P, K)
                if ct == "full":
                    cond = torch.einsum("pk,pkde->kde", rp, extra)  # (K, D, D)
                    s["sxx"] += outer + cond
                else:
                    cond = torch.einsum("p,pde->de", rp.sum(1), extra[:, 0])  # (D, D)
                    s["sxx"] += outer.sum(0) + cond
            else:
                s["sxx"] += torch.einsum("bk,bkd->kd", r, xc.square() + extra)
