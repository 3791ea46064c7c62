"""Forward–backward, Viterbi and the log-likelihood for a few long sequences, without T steps.

The ordinary recursions take T dependent steps of a (K, K) x (K, B) product, which leaves a
machine idle when B is small and T is large. Cutting steps 1..T-1 into C ≈ √T segments of L
steps, each segment's transfer matrix

    M_c = Π_{t in segment c} A diag(E_t)        (sum-product; max-plus for Viterbi)

is built for all segments at once (L batched steps); C vector-matrix products then give the
exact α̂ (or δ) at every segment start, and every segment runs the ordinary recursion from its
start, all segments in one batch (L more steps). The log-likelihood alone needs no α̂: short
blocks' matrices (L ≤ 32 batched steps) are multiplied pairwise in ⌈log₂ C⌉ levels
(:func:`loglik_segmented`). The answers are those of :mod:`~bayesgen.models.hmm.recursions`;
first-order chains with sequences of equal length only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "backward_segmented",
    "forward_segmented",
    "loglik_block_length",
    "loglik_segmented",
    "use_segmented",
    "viterbi_segmented",
]


def use_segmented(E: Tensor, active: list[int], order: int) -> bool:
    """Take the segmented route: order 1, equal lengths, few long sequences (T ≥ 1024)."""
    K, T, B = E.shape
    return order == 1 and active[-1] == B and T >= 1024 and B * K**3 <= 2**18


#: a block's (or a product of blocks') probability mass below this sends the log-likelihood
#: back to the plain recursion: a near-impossible stretch, or a structural zero
_TINY = 2.0**-900


def loglik_block_length(T: int, B: int, *, K: int, order: int, dtype: torch.dtype) -> int:
    """Steps per block of the blocked log-likelihood, or 0 to run the plain recursion.

    Blocked: float64, order 1, T ≥ 32 and B K³ ≤ 2^15 (its work is K times the recursion's,
    which pays µs of dispatch per step). L is 8 for short sequences, 32 once the block
    matrices pass 2^15 elements (fewer steps, a few more products).
    """
    if dtype != torch.float64 or order != 1 or T < 32 or B * K**3 > 2**15:
        return 0
    return min(T - 1, max(8, min(32, -(-(T - 1) * B * K * K // 2**15))))


def loglik_segmented(
    E: Tensor, startprob: Tensor, transmat: Tensor, L: int, T: int
) -> Tensor | None:
    """log p(x) (B,) of equal-length sequences (order 1) without a loop over time, or None when
    a block's probability mass falls below 2^-900 (then run the plain recursion).

    E (K, 1 + L·C, B) holds E_t(k) ≤ 1 (as ``emission_likelihoods`` gives) for T steps in
    block order (:func:`~bayesgen.models.hmm._input.block_order`): steps 2..T cut into C
    blocks of L steps, the last one shorter, E[:, 1 + l C + c] is step l of block c. Block c's
    transfer matrix

        M_c = Π_{t in block c} A diag(E_t),    M_c[i, k] = p(x_block, z_end = k | z_start = i),

    is built for all blocks and sequences at once, in L steps of one (K, K) x (K, K·C·B) matmul
    and a product with E_t. With A stochastic and E_t ≤ 1 its mass Σ_ik M_c[i, k] only shrinks
    (by the predictive probability of each step), so it is rescaled to 1 once, at the end. The C
    matrices are then multiplied pairwise, ⌈log₂ C⌉ levels, each product rescaled to mass 1:

        log p(x) = log c_1 + Σ log(scales) + log(α̂_1 M_1 ⋯ M_C 1),    α̂_1 = π ⊙ E_1 / c_1.
    """
    K, _, B = E.shape
    a1 = startprob.unsqueeze(1) * E[:, 0]  # (K, B)
    c1 = a1.sum(0)  # (B,)
    C = -(-(T - 1) // L)
    tail = T - 1 - (C - 1) * L  # steps of the last block, 1..L
    steps = E[:, 1:].view(K, L, 1, C * B)  # steps[:, l]: step l of every block, (K, 1, C*B)
    AT = transmat.T.contiguous()
    X = E.new_empty(K, K, C * B)  # X[k, i] = M[i, k], every block and sequence
    Y = torch.empty_like(X)
    Xv, Yv = X.view(K, -1), Y.view(K, -1)
    kept = None
    for l in range(L):
        if l == tail:  # the last block is complete (its padding would go on with A)
            kept = X[:, :, -B:].clone()
        if l == 0:
            torch.mul(AT.unsqueeze(2), steps[:, 0], out=X)  # M = A diag(E_t)
        else:
            torch.mm(AT, Xv, out=Yv)  # (K, K*C*B): M <- M A
            torch.mul(Y, steps[:, l], out=X)  # M <- M diag(E_t)
    if kept is not None:
        X[:, :, -B:] = kept
    scales = [X.sum((0, 1)).view(C, B)]
    X.div_(scales[0].view(-1))
    X = X.view(K, K, C, B)
    while C >= 256 and K <= 8:  # products M_2m M_2m+1, all pairs at once: K multiply-adds
        h = C // 2
        Xa, Xb = X[:, :, 0 : 2 * h : 2], X[:, :, 1 : 2 * h : 2]  # (K, K, h, B)
        P = Xb[:, 0].unsqueeze(1) * Xa[0].unsqueeze(0)  # (K, K, h, B): Σ_j Xb[k, j] Xa[j, i]
        for j in range(1, K):
            P.addcmul_(Xb[:, j].unsqueeze(1), Xa[j].unsqueeze(0))
        s = P.sum((0, 1))  # (h, B)
        P.div_(s)
        scales.append(s)
        if C % 2:
            P = torch.cat([P, X[:, :, -1:]], 2)
        X, C = P, h + C % 2
    M = X.permute(2, 3, 1, 0).contiguous()  # (C, B, K, K): M[c, b, i, k]
    while C > 1:  # fewer pairs: batched matmuls
        h = C // 2
        P = torch.matmul(M[0 : 2 * h : 2], M[1 : 2 * h : 2])  # (h, B, K, K)
        s = P.sum((2, 3))  # (h, B)
        P.div_(s[..., None, None])
        scales.append(s)
        if C % 2:
            P = torch.cat([P, M[-1:]], 0)
        M, C = P, h + C % 2
    a1 = a1 / c1
    scales.append((M[0] * a1.T.unsqueeze(2)).sum((1, 2)).unsqueeze(0))  # (1, B) α̂_1 M 1
    scales = torch.cat(scales, 0)  # (·, B)
    if not bool(scales.amin() >= _TINY):
        return None
    return torch.log(c1) + torch.log(scales).sum(0)


def _segments(E: Tensor) -> tuple[Tensor, int, int]:
    """Steps 1..T-1 cut into C segments of L steps, padded with E = 1: (L, C, B, K)."""
    K, T, B = E.shape
    L = max(1, math.isqrt(T - 1))
    C = -(-(T - 1) // L)
    Es = E[:, 1:]
    if C * L > T - 1:
        Es = torch.cat([Es, Es.new_ones(K, C * L - (T - 1), B)], 1)
    return Es.reshape(K, C, L, B).permute(2, 1, 3, 0).contiguous(), C, L


def forward_segmented(
    E: Tensor, startprob: Tensor, transmat: Tensor
) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor]]:
    """The scaled forward pass (exactly the same α̂ (K, T, B) and c (T, B)), plus the
    transfer matrices, their log-normalizers and the in-segment c that
    :func:`backward_segmented` reuses."""
    K, T, B = E.shape
    A = transmat
    Es, C, L = _segments(E)  # (L, C, B, K)
    M = torch.eye(K, dtype=E.dtype, device=E.device).expand(C, B, K, K).clone()
    logs = E.new_zeros(C, B)
    for l in range(L):  # transfer matrices, all segments at once
        M = torch.matmul(M, A).mul_(Es[l].unsqueeze(2))  # (C, B, K, K)
        s = M.sum((2, 3))
        M.div_(s[..., None, None])
        logs.add_(torch.log(s))
    a = startprob * E[:, 0].T  # (B, K)
    c0 = a.sum(1)
    a = a / c0.unsqueeze(1)
    starts = E.new_empty(C, B, K)
    for ci in range(C):  # α̂ at the start of every segment
        starts[ci] = a
        a = torch.matmul(a.unsqueeze(1), M[ci]).squeeze(1)  # (B, K)
        a = a / a.sum(1, keepdim=True)
    al = E.new_empty(L, C * B, K)
    cc = E.new_empty(L, C * B)
    prev = starts.reshape(C * B, K)
    Ef = Es.reshape(L, C * B, K)
    for l in range(L):  # every segment from its start, in one batch
        x = torch.mm(prev, A).mul_(Ef[l])
        torch.sum(x, 1, out=cc[l])
        prev = x.div_(cc[l].unsqueeze(1))
        al[l] = prev
    alpha = E.new_empty(K, T, B)
    alpha[:, 0] = (startprob * E[:, 0].T / c0.unsqueeze(1)).T
    alpha[:, 1:] = al.reshape(L, C, B, K).permute(3, 1, 0, 2).reshape(K, C * L, B)[:, : T - 1]
    c = E.new_empty(T, B)
    c[0] = c0
    c[1:] = cc.reshape(L, C, B).permute(1, 0, 2).reshape(C * L, B)[: T - 1]
    return alpha, c, (M, logs, cc)


def backward_segmented(
    E: Tensor, c: Tensor, transmat: Tensor, cache: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """The scaled backward pass from the forward's transfer matrices: β̂ at a segment's start
    is M_c β̂ at its end times exp(log s_c - Σ log c_t). Returns β̂ and w as
    :func:`~bayesgen.models.hmm.recursions.backward` (K, T, B)."""
    K, T, B = E.shape
    A = transmat
    M, logs, cc = cache
    Es, C, L = _segments(E)  # (L, C, B, K)
    cc = cc.reshape(L, C, B)
    scale = torch.exp(logs - torch.log(cc).sum(0))  # (C, B)
    ends = E.new_empty(C, B, K)
    b = E.new_ones(B, K)
    for ci in range(C - 1, -1, -1):  # β̂ at the end of every segment
        ends[ci] = b
        b = torch.matmul(M[ci], b.unsqueeze(2)).squeeze(2) * scale[ci].unsqueeze(1)
    Ec = (Es / cc.unsqueeze(3)).reshape(L, C * B, K)
    beta = E.new_empty(L, C * B, K)
    w = E.new_empty(L, C * B, K)
    b = ends.reshape(C * B, K)
    AT = A.T.contiguous()
    for l in range(L - 1, -1, -1):  # every segment from its end, in one batch
        beta[l] = b
        torch.mul(Ec[l], b, out=w[l])
        b = torch.mm(w[l], AT)
    out_beta = E.new_empty(K, T, B)
    out_w = E.new_zeros(K, T, B)
    out_beta[:, 0] = b.reshape(C, B, K)[0].T
    layout = (3, 1, 0, 2)  # (L, C, B, K) -> (K, C, L, B)
    out_beta[:, 1:] = beta.reshape(L, C, B, K).permute(layout).reshape(K, C * L, B)[:, : T - 1]
    out_w[:, 1:] = w.reshape(L, C, B, K).permute(layout).reshape(K, C * L, B)[:, : T - 1]
    return out_beta, out_w


def viterbi_segmented(logE: Tensor, startprob: Tensor, transmat: Tensor) -> tuple[Tensor, Tensor]:
    """Viterbi (order 1, equal lengths): the same best log-joint (B,) and path (T, B).

    Max-plus transfer matrices M_c(j, k) (best internal score from state j at a segment's
    start to k at its end) are built for all segments at once; the δ at segment ends and
    the path's states there follow by C max-plus products forward and C argmax steps back;
    then each segment is decoded between its two known end states, all in one batch.
    """
    K, T, B = logE.shape
    dev = logE.device
    logA = torch.log(transmat)  # (K, K)
    L = max(1, math.isqrt(T - 1))
    C = (T - 1) // L  # whole segments over steps 1..C*L; the rest (< L steps) is a tail
    Ls = logE[:, 1 : 1 + C * L].reshape(K, C, L, B).permute(2, 1, 3, 0)  # (L, C, B, K)
    # 1) transfer matrices, one j at a time (no (C, B, K, K, K) temporary)
    M = logE.new_full((C, B, K, K), -math.inf)
    M.diagonal(dim1=2, dim2=3).fill_(0.0)
    for l in range(L):
        new = M[..., :1] + logA[0]  # (C, B, K, K)
        for j in range(1, K):
            torch.maximum(new, M[..., j : j + 1] + logA[j], out=new)
        M = new.add_(Ls[l].unsqueeze(2))
    # 2) δ at every segment boundary, then the tail step by step
    delta = torch.log(startprob) + logE[:, 0].T  # (B, K)
    bounds = logE.new_empty(C + 1, B, K)
    for c in range(C):
        bounds[c] = delta
        delta = (delta.unsqueeze(2) + M[c]).amax(1)  # (B, K)
    bounds[C] = delta
    tail = list(range(1 + C * L, T))
    hist = [delta]
    for t in tail:
        delta = (delta.unsqueeze(2) + logA).amax(1) + logE[:, t].T
        hist.append(delta)
    logp, cur = delta.max(1)  # (B,)
    states = torch.empty(T, B, dtype=torch.long, device=dev)
    cols = torch.arange(B, device=dev)
    for i in range(len(tail), 0, -1):  # back through the tail
        states[tail[i - 1]] = cur
        cur = (hist[i - 1] + logA[:, cur].T).argmax(1)
    ends = torch.empty(C + 1, B, dtype=torch.long, device=dev)  # states at steps c*L
    ends[C] = cur
    for c in range(C - 1, -1, -1):  # back across segments
        cur = (bounds[c] + M[c, cols, :, cur]).argmax(1)
        ends[c] = cur
    # 3) every segment between its known end states, all segments in one batch
    first = ends[:-1].reshape(-1)  # (C*B,)
    last = ends[1:].reshape(-1)
    Lf = Ls.reshape(L, C * B, K)
    d = logE.new_full((C * B, K), -math.inf)
    d[torch.arange(C * B, device=dev), first] = 0.0
    hist = logE.new_empty(L, C * B, K)
    for l in range(L):
        d = (d.unsqueeze(2) + logA).amax(1) + Lf[l]
        hist[l] = d
    inner = torch.empty(L, C * B, dtype=torch.long, device=dev)
    cur = last
    for l in range(L - 1, -1, -1):
        inner[l] = cur
        prev = hist[l - 1] if l > 0 else None
        if prev is not None:
            cur = (prev + logA[:, cur].T).argmax(1)
    states[0] = ends[0]
    states[1 : 1 + C * L] = inner.reshape(L, C, B).permute(1, 0, 2).reshape(C * L, B)
    return logp, states
