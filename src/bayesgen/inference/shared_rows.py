"""Batched sum-product that computes each distinct piece of evidence once.

In a batched query every tensor with the row index R depends on the evidence only through the
observed variables beneath it in the contraction tree. Rows that agree on those variables give
the same slice, and they agree often: a leaf's table gathered by its observed code has at most
card(leaf) distinct slices however many rows there are. So each tensor keeps only its distinct
slices U ≤ R, with a row map m (R,) of long codes in [0, U):

    T[r, ...] = T̃[m[r], ...].

A product of two such tensors needs only the distinct pairs of their maps,

    key[r] = m_a[r] · U_b + m_b[r],   (ũ, m) = unique(key),
    C̃ = Σ Ã[ũ // U_b] · B̃[ũ mod U_b],

which is the plain product when every row is distinct and a fraction of it when subtrees see few
distinct evidence patterns. Once half the rows are distinct a tensor is stored row by row (its
map is then arange(R)), so the rest of the run gathers nothing. Gradients flow through the
gathers, so results stay differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .contraction import ROW, Plan, check_executable
from .executors import einsum, normalized

__all__ = ["compact_rows", "run_shared", "shared_fraction"]


def compact_rows(t: Tensor, codes: Sequence[Tensor], cards: Sequence[int]) -> tuple[Tensor, Tensor]:
    """The distinct slices of ``t[codes...]``: ``t`` has the coded axes first (sizes ``cards``),
    ``codes`` are (R,) long tensors; returns (T̃ of shape (U, *rest), map (R,))."""
    key = codes[0]
    for c, n in zip(codes[1:], cards[1:], strict=True):
        key = key * n + c
    uniq, inverse = torch.unique(key, return_inverse=True)
    flat = t.reshape(-1, *t.shape[len(cards) :])  # (Π cards, *rest)
    return flat.index_select(0, uniq), inverse


def _pair_maps(
    ma: Tensor, mb: Tensor, n_b: int, every: Tensor
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """The row map of the product of two row-compacted operands (maps ``ma``, ``mb``; ``n_b``
    slices in the second) and the slices of each operand its slices come from (None: all, in
    order). ``every`` is the identity map arange(R): a tensor holding every row in order."""
    if ma is mb:
        return ma, None, None
    if ma is every:
        return every, None, mb
    if mb is every:
        return every, ma, None
    uniq, inverse = torch.unique(ma * n_b + mb, return_inverse=True)
    return inverse, torch.div(uniq, n_b, rounding_mode="floor"), uniq % n_b


def _pair(
    a: Tensor, ma: Tensor, ax_a: int, b: Tensor, mb: Tensor, ax_b: int, every: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """Align two row-compacted operands on their distinct pairs of slices: (a, b, map, ia, ib)
    as :func:`_pair_maps` gives them."""
    m, ia, ib = _pair_maps(ma, mb, b.shape[ax_b], every)
    a = a.index_select(ax_a, ia) if ia is not None else a
    b = b.index_select(ax_b, ib) if ib is not None else b
    return a, b, m, ia, ib


def _shares(distinct: int, rows: int) -> bool:
    """Whether a tensor of ``distinct`` slices for ``rows`` rows stays compacted: below half
    the rows distinct; past that, sharing saves little and costs a gather per step."""
    return 2 * distinct < rows


def _spread(t: Tensor, m: Tensor, axis: int, every: Tensor) -> tuple[Tensor, Tensor]:
    """The tensor stored row by row (map ``every``) once it no longer :func:`_shares`."""
    if m is every or _shares(t.shape[axis], len(m)):
        return t, m
    return t.index_select(axis, m), every


def shared_fraction(plan: Plan, maps: Sequence[Tensor | None], sizes: dict[int, int]) -> float:
    """The fraction of the row-by-row work Σ_steps R·f_s that a compacted run does,
    Σ_steps U_s·f_s (f_s: the multiply-adds of step s per row, U_s: its distinct slices), from
    the row maps alone (no tensor is multiplied). Near 1, rows share little."""
    known = next((m for m in maps if m is not None), None)
    if known is None:
        return 1.0
    R = len(known)
    every = torch.arange(R, device=known.device)
    rows: list[Tensor | None] = list(maps)
    count: list[int] = [0 if m is None else int(m.max()) + 1 for m in maps]
    done = total = 0.0
    for st, per_row in zip(plan.steps, plan.step_row_flops(sizes), strict=True):
        ma, mb = rows[st.a], (rows[st.b] if st.b is not None else None)
        if ma is not None and mb is not None:
            m, _, _ = _pair_maps(ma, mb, count[st.b], every)
            u = R if m is every else int(m.max()) + 1
            if not _shares(u, R):
                m, u = every, R
        else:
            m = ma if ma is not None else mb
            u = count[st.a] if ma is not None else (count[st.b] if mb is not None else 0)
        if m is not None:
            done += u * per_row
            total += R * per_row
        rows.append(m)
        count.append(u)
    return done / total if total else 1.0


def _take(ls: Tensor, index: Tensor | None) -> Tensor:
    """The log-scales of the slices ``index`` (scalars and ``None`` = all pass through)."""
    return ls[index] if index is not None and ls.dim() else ls


def run_shared(
    plan: Plan,
    operands: Sequence[Tensor],
    maps: Sequence[Tensor | None],
    *,
    rescale: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Run a sum-product plan whose row-carrying operands are compacted (``maps[k]`` is the row
    map of operand k, None when it has no row axis); returns the final tensor with its R rows
    restored and, with ``rescale``, its log-scale ((R,) or ()), as :func:`contract` does."""
    check_executable(plan)
    tensors: list[Tensor | None] = list(operands)
    rows: list[Tensor | None] = list(maps)
    known = next((m for m in maps if m is not None), None)
    every = torch.arange(len(known), device=known.device) if known is not None else None
    zero = operands[0].new_zeros(()) if operands else torch.zeros((), dtype=torch.float64)
    scales: list[Tensor] = [zero] * len(operands)
    for st in plan.steps:
        a, ma, ls = tensors[st.a], rows[st.a], scales[st.a]
        if st.b is None:
            out, m = einsum(st.equation, (a,)), ma
        else:
            b, mb, ls_b = tensors[st.b], rows[st.b], scales[st.b]
            if ma is not None and mb is not None:
                a, b, m, ia, ib = _pair(a, ma, st.ia.index(ROW), b, mb, st.ib.index(ROW), every)
                if rescale:
                    ls = _take(ls, ia) + _take(ls_b, ib)
            else:
                m = ma if ma is not None else mb
                ls = ls + ls_b
            out = einsum(st.equation, (a, b))
            tensors[st.b] = rows[st.b] = None
        tensors[st.a] = rows[st.a] = None
        if m is not None and m is not every:
            before = m
            out, m = _spread(out, m, st.out.index(ROW), every)
            if rescale and m is not before:
                ls = _take(ls, before)
        if rescale:
            out, _, log_top = normalized(out, st.out)
            ls = ls + log_top
        tensors.append(out)
        rows.append(m)
        scales.append(ls)
    t, m, ls = tensors[plan.final], rows[plan.final], scales[plan.final]
    if m is not None and m is not every:
        t = t.index_select(plan.final_indices.index(ROW), m)
        if ls.dim():
            ls = ls[m]
    return t, (ls if rescale else None)
