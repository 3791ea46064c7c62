"""Executing contraction plans: sum-product (optionally rescaled), its reverse sweep, and
max-product with an argmax traceback.

:func:`run_steps` runs a :class:`~.contraction.Plan` as a loop of two-operand einsums and
optionally rescales every intermediate by its maximum, carrying the logarithm of the scale, so
products of thousands of probabilities never underflow; :func:`backward` sweeps the plan in
reverse (two einsums per step) for the gradient of the result with respect to the inputs;
:func:`max_contract` runs the same plan in the (max, +) semiring on log tables and keeps the
argmax tables for :func:`traceback`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .contraction import ROW, Plan, Step, check_executable, equation

__all__ = [
    "Trace",
    "einsum",
    "row_axes",
    "normalized",
    "run_steps",
    "backward",
    "contract",
    "max_contract",
    "traceback",
]


try:  # the C++ einsum without torch.functional's argument parsing (one or two operands only)
    from torch import _VF

    def einsum(equation: str, operands: tuple[Tensor, ...]) -> Tensor:
        return _VF.einsum(equation, operands)

    einsum("a,a->", (torch.ones(1), torch.ones(1)))
except Exception:  # pragma: no cover - older or newer torch without _VF.einsum

    def einsum(equation: str, operands: tuple[Tensor, ...]) -> Tensor:
        return torch.einsum(equation, *operands)


def row_axes(indices: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(k for k, i in enumerate(indices) if i != ROW)


def normalized(t: Tensor, indices: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """``t`` divided by its maximum m over the non-row axes (a detached constant, 1 where the
    maximum is 0): (t / m, m, log m of shape (R,) or ())."""
    axes = row_axes(indices)
    with torch.no_grad():
        m = t.detach().amax(dim=axes, keepdim=True) if axes else t.detach()
        m = torch.where(m > 0, m, torch.ones_like(m))
    return t / m, m, (m.log().reshape(-1) if ROW in indices else m.log().reshape(()))


def run_steps(
    plan: Plan,
    operands: Sequence[Tensor],
    *,
    rescale: bool = False,
    norms: list | None = None,
) -> tuple[list[Tensor | None], list[Tensor] | None]:
    """Run every step of a sum-product plan; returns the SSA list of tensors (consumed ones are
    None) and, with ``rescale``, the parallel list of log-scales (shape (R,) or ()).

    With ``rescale`` each intermediate is divided by its maximum over the non-row axes (a
    detached constant, so gradients stay exact) and the log of that maximum is carried along.
    Given a list ``norms``, every intermediate is kept and the divisor of each step (or None)
    is appended to it, for :func:`backward`.
    """
    check_executable(plan)
    keep = norms is not None
    tensors: list[Tensor | None] = list(operands)
    if not rescale:
        for st in plan.steps:
            a = tensors[st.a]
            if st.b is None:
                tensors.append(einsum(st.equation, (a,)))
            else:
                tensors.append(einsum(st.equation, (a, tensors[st.b])))
                if not keep:
                    tensors[st.b] = None
            if not keep:
                tensors[st.a] = None
            else:
                norms.append(None)
        return tensors, None

    zero = operands[0].new_zeros(()) if operands else torch.zeros((), dtype=torch.float64)
    scales: list[Tensor] = [zero] * len(operands)
    for st in plan.steps:
        a = tensors[st.a]
        if st.b is None:
            out = einsum(st.equation, (a,))
            ls = scales[st.a]
        else:
            out = einsum(st.equation, (a, tensors[st.b]))
            ls = scales[st.a] + scales[st.b]
            if not keep:
                tensors[st.b] = None
        if not keep:
            tensors[st.a] = None
        out, m, log_m = normalized(out, st.out)
        ls = ls + log_m
        tensors.append(out)
        scales.append(ls)
        if keep:
            norms.append(m)
    return tensors, scales


def _grad_equations(st: Step) -> tuple[tuple[str, tuple[int, ...]], tuple[str, tuple[int, ...]]]:
    """einsum equations of the two vector-Jacobian products of a step, and for each the axes of
    the operand it cannot produce (indices summed in this step that only that operand has)."""
    avail_a = tuple(i for i in st.ia if i in st.out or i in st.ib)
    miss_a = tuple(k for k, i in enumerate(st.ia) if i not in avail_a)
    if st.b is None:
        return (equation(st.out, None, avail_a), miss_a), ("", ())
    avail_b = tuple(i for i in st.ib if i in st.out or i in st.ia)
    miss_b = tuple(k for k, i in enumerate(st.ib) if i not in avail_b)
    return (
        (equation(st.out, st.ib, avail_a), miss_a),
        (equation(st.out, st.ia, avail_b), miss_b),
    )


def _fill(g: Tensor, missing: tuple[int, ...], like: Tensor) -> Tensor:
    """Broadcast ``g`` back over the operand axes it lacks (the gradient of a sum is one)."""
    if not missing:
        return g
    for k in missing:
        g = g.unsqueeze(k)
    return g.expand(like.shape)


def backward(
    plan: Plan,
    tensors: Sequence[Tensor],
    norms: Sequence[Tensor | None],
    grad: Tensor,
    wanted: Sequence[int],
) -> dict[int, Tensor]:
    """Reverse-mode sweep through a plan run with ``norms`` (all intermediates kept): the
    gradient of a scalar function with ∂/∂final = ``grad`` with respect to the inputs
    ``wanted``. Two einsums per step, no autograd graph."""
    n = len(plan.inputs)
    needs = [False] * (n + len(plan.steps))
    for k in wanted:
        needs[k] = True
    for k, st in enumerate(plan.steps):
        needs[n + k] = needs[st.a] or (st.b is not None and needs[st.b])
    eqs = plan.extra.get("grad_equations")
    if eqs is None:
        eqs = plan.extra["grad_equations"] = [_grad_equations(st) for st in plan.steps]
    grads: dict[int, Tensor] = {plan.final: grad}
    for k in range(len(plan.steps) - 1, -1, -1):
        g = grads.pop(n + k, None)
        if g is None:
            continue
        st = plan.steps[k]
        if norms[k] is not None:
            g = g / norms[k]
        (eq_a, miss_a), (eq_b, miss_b) = eqs[k]
        a = tensors[st.a]
        if st.b is None:
            if needs[st.a]:
                grads[st.a] = _fill(einsum(eq_a, (g,)), miss_a, a)
            continue
        b = tensors[st.b]
        if needs[st.a]:
            grads[st.a] = _fill(einsum(eq_a, (g, b)), miss_a, a)
        if needs[st.b]:
            grads[st.b] = _fill(einsum(eq_b, (g, a)), miss_b, b)
    return {k: grads[k] for k in wanted if k in grads}


def contract(
    plan: Plan, operands: Sequence[Tensor], *, rescale: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Run a sum-product plan down to its final tensor ``T`` (axes ``plan.final_indices``);
    returns ``(T, log_scale)``: the true result is ``T·exp(log_scale)``, ``log_scale`` is None
    without ``rescale``."""
    tensors, scales = run_steps(plan, operands, rescale=rescale)
    return tensors[plan.final], (scales[plan.final] if scales is not None else None)


def _view_spec(have: tuple[int, ...], order: tuple[int, ...]):
    """How to view a tensor with axes ``have`` along ``order``: a permutation (None if none is
    needed) and an index that inserts size-1 axes where ``order`` has an index it lacks."""
    perm = [have.index(i) for i in order if i in have]
    index = tuple(slice(None) if i in have else None for i in order)
    return (perm if perm != list(range(len(perm))) else None), index


def _max_specs(plan: Plan):
    specs = []
    for st in plan.steps:
        union = tuple(dict.fromkeys(st.ia + st.ib))
        elim = tuple(i for i in union if i not in st.out)
        order = st.out + elim
        spec_b = _view_spec(st.ib, order) if st.b is not None else None
        specs.append((elim, order, _view_spec(st.ia, order), spec_b))
    return specs


def _view(t: Tensor, spec) -> Tensor:
    perm, index = spec
    if perm is not None:
        t = t.permute(perm)
    return t[index]


@dataclass
class Trace:
    """Argmax tables of a max-product run: per step (kept, eliminated, sizes, argmax)."""

    records: list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], Tensor]]


def max_contract(
    plan: Plan, log_operands: Sequence[Tensor], sizes: dict[int, int]
) -> tuple[Tensor, Trace]:
    """Run the plan in the (max, +) semiring on log tables; returns the max (shape of the
    plan's output) and the argmax trace for :func:`traceback`.

    Each step broadcasts its two operands over the union of their indices (kept ones first),
    adds them and takes the max and argmax over the eliminated ones."""
    specs = plan.extra.get("max_specs")
    if specs is None:
        specs = plan.extra["max_specs"] = _max_specs(plan)
    tensors: list[Tensor | None] = list(log_operands)
    records = []
    for st, (elim, order, spec_a, spec_b) in zip(plan.steps, specs, strict=True):
        s = _view(tensors[st.a], spec_a)
        if st.b is not None:
            s = s + _view(tensors[st.b], spec_b)
            tensors[st.b] = None
        tensors[st.a] = None
        full = tuple(sizes[i] for i in order)
        if s.shape != full:
            s = s.expand(full)
        if elim:
            n_out = len(st.out)
            val, arg = s.reshape(*full[:n_out], -1).max(dim=-1)
            records.append((st.out, elim, full[n_out:], arg))
        else:
            val = s
        tensors.append(val)
    return tensors[plan.final], Trace(records)


def traceback(trace: Trace, known: dict[int, Tensor]) -> dict[int, Tensor]:
    """Decode the argmax assignment, last step first; ``known`` holds the row index
    (``arange(R)``) when batched. Values are long tensors of shape (R,) or ()."""
    assign = dict(known)
    for kept, elim, elim_sizes, arg in reversed(trace.records):
        code = arg[tuple(assign[i] for i in kept)] if kept else arg
        for i, n in zip(reversed(elim), reversed(elim_sizes), strict=True):
            assign[i] = code % n
            code = torch.div(code, n, rounding_mode="floor")
    return assign
