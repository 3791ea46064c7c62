"""Scaled forward–backward and Viterbi for HMMs, as functions of tensors.

With E_t(k) ∝ p(x_t | z_t = k), π_k = p(z_1 = k) and A_jk = p(z_t = k | z_{t-1} = j), the scaled
recursions (Rabiner 1989) are

    α̂_t = (α̂_{t-1} A) ⊙ E_t / c_t,    c_t = Σ_k [(α̂_{t-1} A) ⊙ E_t]_k,    log p(x) = Σ_t log c_t,
    β̂_{t-1} = A (E_t ⊙ β̂_t) / c_t,    γ_t = α̂_t ⊙ β̂_t,
    ξ_t(j, k) = α̂_{t-1}(j) A_jk E_t(k) β̂_t(k) / c_t.

They loop over time only and are batched over sequences (B) and states (K): one (K, K) x (K, B)
matmul per step, lattices laid out (K, T, B). Sequences come sorted by length, so at step t only
``active[t]`` sequences (a prefix of the batch) are computed. A second-order chain runs the same
recursion over pairs (z_{t-1}, z_t) with A_ijk = p(z_t = k | z_{t-2} = i, z_{t-1} = j) for
t ≥ 3 and the first-order A for the step z_1 -> z_2 (z_0 is a dummy state 0).

Viterbi is the same loop in max-product log space: δ_t(k) = max_j δ_{t-1}(j) + log A_jk +
log E_t(k), then a backtrack.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["backward", "forward", "viterbi"]


def _second_order(transmat: Tensor, transmat2: Tensor) -> tuple[Tensor, Tensor]:
    """Order 2: the step-2 table A_jk broadcast to (K, K, K) (z_0 is a dummy), and A_ijk."""
    A = transmat
    return A.unsqueeze(0).expand(A.shape[0], *A.shape), transmat2


def forward(
    E: Tensor,
    active: list[int],
    startprob: Tensor,
    transmat: Tensor,
    transmat2: Tensor | None = None,
    keep: bool = True,
) -> tuple[Tensor | None, Tensor]:
    """Scaled forward pass. E (K, T, B) -> α̂ (K, T, B) [order 2: (T, B, K, K)], c (T, B).

    ``active[t]`` sequences (a prefix of the batch, sorted by length) have a step t; α̂ is
    0 and c is 1 past a sequence's end. ``transmat2`` given: the second-order chain.
    ``keep=False`` (order 1) keeps only two steps of α̂ and returns None for it: for the
    log-likelihood Σ_t log c_t alone.
    """
    K, T, B = E.shape
    full = active[-1] == B
    pi = startprob
    c = E.new_empty(T, B) if full else E.new_ones(T, B)
    cs, Es = c.unbind(0), E.unbind(1)
    if transmat2 is None:
        AT = transmat.T.contiguous()
        if keep:
            alpha = E.new_empty(K, T, B) if full else E.new_zeros(K, T, B)
            al = alpha.unbind(1)  # views (K, B)
        else:
            alpha = None
            ring = E.new_empty(K, 2, B).unbind(1)  # α̂_t in ring[t % 2]
            al = [ring[t % 2] for t in range(T)]
        torch.mul(Es[0], pi.unsqueeze(1), out=al[0])
        torch.sum(al[0], 0, out=cs[0])
        al[0].div_(cs[0])
        for t in range(1, T):
            n = active[t]
            if n == B:
                a, prev, e, ct = al[t], al[t - 1], Es[t], cs[t]
            else:
                a, prev, e, ct = al[t][:, :n], al[t - 1][:, :n], Es[t][:, :n], cs[t][:n]
            torch.mm(AT, prev, out=a)  # (K, n) = A^T α̂_{t-1}
            a.mul_(e)
            torch.sum(a, 0, out=ct)
            a.div_(ct)
        return alpha, c
    A1, A2 = _second_order(transmat, transmat2)
    alpha = E.new_zeros(T, B, K, K)  # (T, B, K, K): pair (z_{t-1}, z_t); z_0 is a dummy 0
    alpha[0, :, 0] = Es[0].T * pi
    torch.sum(alpha[0], (1, 2), out=cs[0])
    alpha[0].div_(cs[0][:, None, None])
    for t in range(1, T):
        n = active[t]
        a = torch.einsum("bij,ijk->bjk", alpha[t - 1, :n], A1 if t == 1 else A2)  # (n, K, K)
        a.mul_(Es[t][:, :n].T.unsqueeze(1))
        torch.sum(a, (1, 2), out=cs[t][:n])
        alpha[t, :n] = a.div_(cs[t][:n, None, None])
    return alpha, c


def backward(
    E: Tensor,
    c: Tensor,
    active: list[int],
    transmat: Tensor,
    transmat2: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Scaled backward pass: β̂ (K, T, B) [order 2: (T, B, K, K)], and w_t = E_t ⊙ β̂_t / c_t
    used by ξ (steps t ≥ 1; 0 past a sequence's end). Overwrites E with E / c."""
    K, T, B = E.shape
    full = active[-1] == B
    Ecs = E.div_(c).unbind(1)  # views (K, B)
    if transmat2 is None:
        A = transmat.contiguous()
        beta = E.new_empty(K, T, B) if full else E.new_ones(K, T, B)
        w = E.new_empty(K, T, B) if full else E.new_zeros(K, T, B)
        bs, ws = beta.unbind(1), w.unbind(1)
        bs[T - 1].fill_(1.0)
        for t in range(T - 1, 0, -1):
            n = active[t]
            if n == B:
                torch.mul(Ecs[t], bs[t], out=ws[t])
                torch.mm(A, ws[t], out=bs[t - 1])  # (K, B) = A w_t
            else:
                torch.mul(Ecs[t][:, :n], bs[t][:, :n], out=ws[t][:, :n])
                torch.mm(A, ws[t][:, :n], out=bs[t - 1][:, :n])
        return beta, w
    A1, A2 = _second_order(transmat, transmat2)
    beta = E.new_ones(T, B, K, K)
    w = E.new_zeros(T, B, K, K)
    for t in range(T - 1, 0, -1):
        n = active[t]
        torch.mul(beta[t, :n], Ecs[t][:, :n].T.unsqueeze(1), out=w[t, :n])
        beta[t - 1, :n] = torch.einsum("ijk,bjk->bij", A1 if t == 1 else A2, w[t, :n])
    return beta, w


def viterbi(
    logE: Tensor,
    mask: Tensor,
    active: list[int],
    startprob: Tensor,
    transmat: Tensor,
    transmat2: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Max-product in log space. logE (K, T, B) -> best log-joint (B,), states (T, B).

    ``mask`` (T, B) marks each sequence's steps (states are -1 past its end). For order 2
    (``transmat2`` given), logE may also be pair emissions (T, B, K, K):
    log p(x_t | z_{t-1}, z_t). Order 1 overwrites logE with δ.
    """
    if transmat2 is None:
        return _viterbi1(logE, mask, active, startprob, transmat)
    return _viterbi2(logE, mask, active, startprob, transmat, transmat2)


def _viterbi1(
    logE: Tensor, mask: Tensor, active: list[int], startprob: Tensor, transmat: Tensor
) -> tuple[Tensor, Tensor]:
    """First-order Viterbi, batched over sequences, looping over time only:

        δ_1 = log π + log E_1,    δ_t(k) = log E_t(k) + max_j δ_{t-1}(j) + log A_jk,

    written over logE (K, T, B) in place; per step one (K, K, n) sum into a preallocated
    scratch and its max over j (amax is much faster than max with indices). The backtrack
    recomputes the argmax along the path only, z_{t-1} = argmax_j δ_{t-1}(j) + log A_{j, z_t}
    (the first maximizer, as hmmlearn), one (n, K) row gather per step for all sequences.
    """
    K, T, B = logE.shape
    logA = torch.log(transmat)  # (K, K)
    logA3 = logA.unsqueeze(2)  # (K, K, 1)
    Ds = logE.unsqueeze(1).unbind(2)  # δ_t: views (K, 1, B)
    Ds[0].add_(torch.log(startprob).view(K, 1, 1))
    scratch = logE.new_empty(K * K * B)
    best = logE.new_empty(K * B)
    s, m = scratch.view(K, K, B), best.view(K, B)
    m1 = m.unsqueeze(1)  # (K, 1, B)
    n_full = active.count(B)  # steps 0..n_full-1 have every sequence (sorted longest first)
    for t in range(1, n_full):
        torch.add(Ds[t - 1], logA3, out=s)  # (K, K, B): δ_{t-1}(j) + log A_jk
        torch.amax(s, 0, out=m)  # (K, B)
        Ds[t].add_(m1)
    for t in range(n_full, T):  # the tail of the longer sequences
        n = active[t]
        sn, mn = scratch[: K * K * n].view(K, K, n), best[: K * n].view(K, n)
        torch.add(Ds[t - 1][..., :n], logA3, out=sn)
        torch.amax(sn, 0, out=mn)
        Ds[t][..., :n].add_(mn.unsqueeze(1))
    cols = torch.arange(B, device=logE.device)
    last = mask.sum(0) - 1 if n_full < T else torch.full_like(cols, T - 1)  # (B,) last steps
    states = torch.empty(T, B, dtype=torch.long, device=logE.device)
    rows = states.unbind(0)  # z_t: views (B,)
    logp, _ = torch.max(logE[:, last, cols], 0, out=(logE.new_empty(B), rows[T - 1]))
    logAT = logA.T.contiguous()  # (K, K): row k is log A_{., k}
    Ls = logE.permute(1, 2, 0).unbind(0)  # δ_t as (B, K)
    scores, top = logE.new_empty(B, K), logE.new_empty(B)
    for t in range(T - 1, n_full - 1, -1):  # rows[t] of an ended sequence: its last state
        n = active[t]
        sc = scores[:n]
        torch.index_select(logAT, 0, rows[t][:n], out=sc)  # (n, K): log A_{j, z_t}
        sc.add_(Ls[t - 1][:n])  # + δ_{t-1}(j)
        torch.max(sc, 1, out=(top[:n], rows[t - 1][:n]))
        rows[t - 1][n:] = rows[t][n:]
    for t in range(n_full - 1, 0, -1):
        torch.index_select(logAT, 0, rows[t], out=scores)
        scores.add_(Ls[t - 1])
        torch.max(scores, 1, out=(top, rows[t - 1]))
    if n_full < T:
        states.masked_fill_(~mask, -1)
    return logp, states


def _viterbi2(
    logE: Tensor,
    mask: Tensor,
    active: list[int],
    startprob: Tensor,
    transmat: Tensor,
    transmat2: Tensor,
) -> tuple[Tensor, Tensor]:
    """Second-order Viterbi over pairs (z_{t-1}, z_t): δ_t(j, k) = max_i δ_{t-1}(i, j) +
    log A_ijk + log E_t(k) (or pair emissions), then a backtrack."""
    pair = logE.dim() == 4
    if pair:
        T, B, K = logE.shape[:3]
    else:
        K, T, B = logE.shape
    dev = logE.device
    last = mask.sum(0) - 1  # (B,) each sequence's last step
    cols = torch.arange(B, device=dev)
    logpi = torch.log(startprob)
    Ls = logE.unbind(0 if pair else 1)  # views (B, K, K) or (K, B)
    states = torch.full((T, B), -1, dtype=torch.long, device=dev)
    A1, A2 = _second_order(transmat, transmat2)
    logA1, logA2 = torch.log(A1), torch.log(A2)
    D = logE.new_full((T, B, K, K), -math.inf)  # δ over pairs (z_{t-1}, z_t)
    D[0, :, 0] = logpi + (Ls[0][:, 0] if pair else Ls[0].T)
    tmp = logE.new_empty(B, K, K)
    for t in range(1, T):
        n = active[t]
        logTr = logA1 if t == 1 else logA2
        prev, best, scratch = D[t - 1, :n], D[t, :n], tmp[:n]  # (n, K, K)
        # max over z_{t-2} = i, one i at a time (no (n, K, K, K) temporary: cache-friendly)
        torch.add(prev[:, 0].unsqueeze(2), logTr[0], out=best)
        for i in range(1, K):
            torch.add(prev[:, i].unsqueeze(2), logTr[i], out=scratch)
            torch.maximum(best, scratch, out=best)
        best.add_(Ls[t][:n] if pair else Ls[t][:, :n].T.unsqueeze(1))
    final = D[last, cols].reshape(B, -1)  # (B, K*K)
    logp, flat = final.max(1)
    p, q = flat // K, flat % K  # (z_{t-1}, z_t) at each sequence's last step
    states[last, cols] = q
    for t in range(T - 1, 0, -1):
        n = active[t]
        logTr = logA1 if t == 1 else logA2
        pn, qn = p[:n], q[:n]
        scores = D[t - 1, cols[:n], :, pn] + logTr[:, pn, qn].T  # (n, K) over z_{t-2}
        prev = scores.argmax(1)
        states[t - 1, :n] = pn
        p[:n], q[:n] = prev, pn.clone()
    return logp, states
