"""Contraction plans for tensor networks: path search and memory estimate (the executors are
:mod:`.executors`).

A discrete Bayesian network with evidence is a tensor network: one tensor per table (axes = the
family's variables that are still free), one index per variable, and the query is the sum over
every index that is not an output,

    Z[out] = Σ_{x \\ out} Π_f T_f[x_f].

The order of the pairwise contractions decides the cost (it is the elimination order of variable
elimination, or the junction tree of the Lauritzen–Spiegelhalter algorithm). A :class:`Plan` is
found once per query pattern by several heuristics — opt_einsum's greedy search and variable
elimination orders by weighted min-fill and by min-weight — and the cheapest (by flop count) is
kept. Executing it is a loop of two-operand ``torch.einsum`` calls (:mod:`.executors`, and
:mod:`.shared_rows` for batched evidence).

Indices are integers; the batch (row) index is :data:`ROW`. It is always an output index, so it
acts as a batch axis of every pairwise product.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from string import ascii_letters

import opt_einsum

from ..errors import MemoryBudgetError  # defined there, raised by the engine

__all__ = [
    "ROW",
    "Step",
    "Plan",
    "MemoryBudgetError",
    "plan_contraction",
    "plan_elimination",
    "check_executable",
    "equation",
]

ROW = -1  # the index of the evidence rows (batch axis R)
#: networks with more tensors than this are planned by min-fill alone ("auto")
_SEARCH_ALL = 5000
#: log of an intermediate's element count beyond any memory (2^62 elements): elimination
#: orders are not refined past it
_HOPELESS = 62 * math.log(2)
_BYTES = 8  # float64
#: plans above this many multiply-adds are refined by randomized elimination orders ("auto")
_REFINE_FLOPS = 10**8
_TRIALS = 64
#: ... unless their largest intermediate (elements) shows that no order can run (2^45: 256 TiB)
_REFINE_LARGEST = 2**45
_NOISE = 0.3


@dataclass(frozen=True)
class Step:
    """One contraction ``out = Σ_{(ia ∪ ib) \\ out} a[ia] · b[ib]`` (no ``b``: a reduction)."""

    a: int
    b: int | None
    ia: tuple[int, ...]
    ib: tuple[int, ...]
    out: tuple[int, ...]
    equation: str  # torch.einsum equation with local letters


@dataclass
class Plan:
    """A pairwise contraction path over ``inputs`` (index tuples) down to ``output``.

    Tensors are addressed SSA-style: inputs are 0..n-1 and step k creates tensor n+k.
    ``flops`` counts multiply-adds (Σ over steps of Π sizes of the step's indices), ``largest``
    and ``total`` the elements of the largest and of all intermediates, for the memory estimate.
    """

    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    steps: list[Step]
    final: int  # SSA id of the last tensor
    final_indices: tuple[int, ...]
    flops: int = 0
    largest: int = 0
    total: int = 0
    widest: int = 0  # elements of the largest pairwise product before reduction (max-product)
    method: str = ""
    extra: dict = field(default_factory=dict)

    def step_row_flops(self, sizes: dict[int, int]) -> list[int]:
        """Multiply-adds per evidence row of each step: the product of the sizes of its indices
        other than the row index (0 for a step that does not carry the row index)."""
        return [
            _size((i for i in set(st.ia) | set(st.ib) if i != ROW), sizes)
            if ROW in st.ia or ROW in st.ib
            else 0
            for st in self.steps
        ]

    def row_flops(self, sizes: dict[int, int]) -> int:
        """Multiply-adds per evidence row, Σ_steps of :meth:`step_row_flops`."""
        return sum(self.step_row_flops(sizes))

    def memory(self, sizes: dict[int, int], *, keep_all: bool = False, broadcast: bool = False):
        """Estimated peak bytes: the largest intermediate (three operands live at a step), every
        intermediate when autograd keeps them (``keep_all``), the full broadcast product for
        max-product (``broadcast``)."""
        largest, total, widest = _stats(self, sizes)
        peak = 3 * largest
        if keep_all:
            peak = max(peak, 2 * total)
        if broadcast or self.extra.get("too_wide"):  # a too-wide step: at least its product
            peak = max(peak, 2 * widest + largest)
        return _BYTES * peak


# ---------------------------------------------------------------------------- path search
def _size(indices: Iterable[int], sizes: dict[int, int]) -> int:
    n = 1
    for i in indices:
        n *= sizes[i]
    return n


def _ssa_steps(
    inputs: Sequence[tuple[int, ...]],
    output: tuple[int, ...],
    pairs: list[tuple[int, ...]],
    *,
    merge: bool = True,
    sizes: dict[int, int] | None = None,
) -> tuple[list[tuple[int, int | None, tuple[int, ...]]], int, dict[int, tuple[int, ...]]]:
    """Turn SSA pairs ``(a, b)`` (or reductions ``(a,)``) into steps with their output indices.

    A step keeps an index when some other live tensor has it or it is an output. With
    ``merge``, tensors still live at the end (disconnected parts) are contracted greedily into
    one, and a last reduction removes indices only the final tensor has.
    Returns the steps, the final SSA id (−1 without ``merge``) and the live tensors.
    """
    live: dict[int, tuple[int, ...]] = dict(enumerate(inputs))
    count: dict[int, int] = {}
    for ix in inputs:
        for i in set(ix):
            count[i] = count.get(i, 0) + 1
    out_set = set(output)
    steps: list[tuple[int, int | None, tuple[int, ...]]] = []
    nxt = len(inputs)

    def step(a: int, b: int | None) -> int:
        nonlocal nxt
        ia = live.pop(a)
        ib = live.pop(b) if b is not None else ()
        for i in set(ia):
            count[i] -= 1
        for i in set(ib):
            count[i] -= 1
        union = dict.fromkeys(ia + ib)
        keep = tuple(i for i in union if i in out_set or count.get(i, 0) > 0)
        for i in keep:
            count[i] = count.get(i, 0) + 1
        live[nxt] = keep
        steps.append((a, b, keep))
        nxt += 1
        return nxt - 1

    for pair in pairs:
        step(pair[0], pair[1] if len(pair) > 1 else None)
    if not merge:
        return steps, -1, dict(live)
    rest = sorted(live)
    if len(rest) > 1:
        for pair in _greedy_local([live[k] for k in rest], output, sizes or {}, rest, nxt):
            step(*pair)
        rest = sorted(live)
    final = rest[0] if rest else -1
    if final >= 0 and live[final] != tuple(i for i in live[final] if i in out_set):
        final = step(final, None)  # a last reduction of indices only the final tensor has
    return steps, final, dict(live)


def _greedy_local(
    sets: Sequence[Iterable[int]],
    output: Iterable[int],
    sizes: dict[int, int],
    ids: Sequence[int],
    nxt: int,
) -> list[tuple[int, int]]:
    """opt_einsum's greedy pairing of the tensors ``ids`` (indices ``sets``), as SSA pairs
    numbered from ``nxt``."""
    ids = list(ids)
    if len(ids) < 2:
        return []
    if len(ids) == 2:
        return [(ids[0], ids[1])]
    if len(ids) <= 8:
        return _small_greedy([frozenset(x) for x in sets], frozenset(output), sizes, ids, nxt)
    fs = [frozenset(x) for x in sets]
    sz = {i: sizes.get(i, 2) for x in fs for i in x}
    path = opt_einsum.paths.greedy(fs, frozenset(output), sz)
    pairs = []
    for contraction in path:
        picked = [ids[k] for k in contraction]
        for k in sorted(contraction, reverse=True):
            del ids[k]
        a = picked[0]
        for b in picked[1:]:
            pairs.append((a, b))
            a = nxt
            nxt += 1
        ids.append(a)
    return pairs


def _small_greedy(sets, output, sizes, ids, nxt) -> list[tuple[int, int]]:
    """Greedy pairing for a handful of tensors: contract the pair whose result is smallest
    relative to its operands (opt_einsum's "memory-removed" cost), until one is left."""
    items = list(zip(ids, sets, strict=True))
    pairs = []
    while len(items) > 1:
        best = None
        for x in range(len(items)):
            for y in range(x + 1, len(items)):
                need = set(output)
                for z, (_, ix) in enumerate(items):
                    if z != x and z != y:
                        need |= ix
                res = (items[x][1] | items[y][1]) & need
                cost = _size(res, sizes) - _size(items[x][1], sizes) - _size(items[y][1], sizes)
                if best is None or cost < best[0]:
                    best = (cost, x, y, res)
        _, x, y, res = best
        pairs.append((items[x][0], items[y][0]))
        items = [it for z, it in enumerate(items) if z not in (x, y)] + [(nxt, frozenset(res))]
        nxt += 1
    return pairs


def _greedy_pairs(inputs, output, sizes) -> list[tuple[int, ...]]:
    if len(inputs) < 2:
        return [(0,)] if inputs else []
    return _greedy_local(inputs, output, sizes, range(len(inputs)), len(inputs))


def _elimination_pairs(
    inputs: Sequence[tuple[int, ...]],
    output: tuple[int, ...],
    sizes: dict[int, int],
    *,
    weighted: bool = True,
    row_blind: bool = True,
    rng: random.Random | None = None,
    noise: float = 0.0,
) -> tuple[list[tuple[int, ...]], list[int]]:
    """Variable elimination by greedy weighted min-fill (or min-weight), as SSA pairs.

    Eliminating v multiplies every live tensor that has v (paired greedily) and sums v out.
    Every index not in ``output`` is summed out (outputs are kept, as the targets in the sum
    phase of marginal MAP). Returns the pairs and the SSA ids still live afterwards.
    ``row_blind`` scores the order as if there were one evidence row (the row index spreads to
    every tensor downstream of batched evidence whatever the order). With ``rng``, every score
    is perturbed by log-normal noise of scale ``noise`` (one of the randomized trials).
    """
    live: dict[int, frozenset[int]] = {k: frozenset(ix) for k, ix in enumerate(inputs)}
    holders: dict[int, set[int]] = {}
    for k, ix in live.items():
        for i in ix:
            holders.setdefault(i, set()).add(k)
    keep = set(output)
    todo = set(holders) - keep
    nxt = len(inputs)

    def neighbours(v: int) -> set[int]:
        nb: set[int] = set()
        for k in holders[v]:
            nb |= live[k]
        nb.discard(v)
        return nb

    def score(v: int) -> tuple[float, float]:
        nb = neighbours(v)
        if row_blind:
            nb.discard(ROW)
        weight = math.log(_size(nb, sizes) or 1) if nb else 0.0
        if rng is not None:
            weight += noise * rng.gauss(0.0, 1.0)
        if not weighted:
            return (weight, 0.0)
        if weight > _HOPELESS:  # no plan eliminating v now can run: skip the O(|nb|²) fill
            return (math.inf, weight)
        # fill-in: pairs of neighbours not yet sharing a tensor, weighted by the new edge's size
        # (each pair seen from both ends, hence the halving; set operations, not a pair loop)
        fill = 0
        for x in nb:
            shared = frozenset().union(*(live[k] for k in holders.get(x, ())))
            missing = nb - shared
            missing.discard(x)
            if missing:
                fill += sizes[x] * sum(sizes[y] for y in missing)
        if rng is not None:
            return ((fill // 2 + 1) * math.exp(noise * rng.gauss(0.0, 1.0)), weight)
        return (float(fill // 2), weight)

    heap = [(score(v), v) for v in todo]
    heapq.heapify(heap)
    current = {v: s for s, v in heap}
    pairs: list[tuple[int, ...]] = []
    while heap:
        s, v = heapq.heappop(heap)
        if v not in todo or current.get(v) != s:
            continue
        todo.discard(v)
        nb = neighbours(v)
        group = sorted(holders.pop(v))
        sets = [live.pop(k) for k in group]
        for k, ix in zip(group, sets, strict=True):
            for i in ix:
                if i != v:
                    holders[i].discard(k)
        new = frozenset().union(*sets) - {v}
        if len(group) == 1:
            pairs.append((group[0],))
            newid = nxt
            nxt += 1
        else:
            local = _greedy_local(sets, new, sizes, group, nxt)
            pairs.extend(local)
            nxt += len(local)
            newid = nxt - 1
        live[newid] = new
        for i in new:
            holders[i].add(newid)
        for u in nb:
            if u in todo:
                su = score(u)
                current[u] = su
                heapq.heappush(heap, (su, u))
    return pairs, sorted(live)


def _stats(plan: Plan, sizes: dict[int, int]) -> tuple[int, int, int]:
    largest = total = widest = 0
    for st in plan.steps:
        n = _size(st.out, sizes)
        largest = max(largest, n)
        total += n
        widest = max(widest, _size(set(st.ia) | set(st.ib), sizes))
    return largest, total, widest


def equation(ia: tuple[int, ...], ib: tuple[int, ...] | None, out: tuple[int, ...]) -> str:
    letters: dict[int, str] = {}
    for i in ia + (ib or ()) + out:
        if i not in letters:
            if len(letters) == len(ascii_letters):
                raise ValueError("a pairwise contraction has more than 52 indices")
            letters[i] = ascii_letters[len(letters)]
    lhs = "".join(letters[i] for i in ia)
    if ib is not None:
        lhs += "," + "".join(letters[i] for i in ib)
    return lhs + "->" + "".join(letters[i] for i in out)


def _build(inputs, output, sizes, pairs, method, *, merge: bool = True) -> Plan:
    raw, final, live = _ssa_steps(inputs, output, pairs, merge=merge, sizes=sizes)
    ids: dict[int, tuple[int, ...]] = dict(enumerate(inputs))
    steps = []
    flops = 0
    too_wide = 0  # the most indices of a step einsum cannot take (0: every step fits)
    nxt = len(inputs)
    for a, b, keep in raw:
        ia = ids[a]
        ib = ids[b] if b is not None else ()
        try:
            eq = equation(ia, ib if b is not None else None, keep)
        except ValueError:  # wider than einsum's 52 letters: kept for the memory estimate
            eq = ""
            too_wide = max(too_wide, len(set(ia) | set(ib) | set(keep)))
        steps.append(Step(a, b, ia, ib, keep, eq))
        flops += _size(set(ia) | set(ib), sizes)
        ids[nxt] = keep
        nxt += 1
    final_indices = ids[final] if final >= 0 else ()
    plan = Plan(
        tuple(inputs), tuple(output), steps, final, final_indices, flops=flops, method=method
    )
    plan.largest, plan.total, plan.widest = _stats(plan, sizes)
    plan.extra["live"] = live
    if too_wide:
        plan.extra["too_wide"] = too_wide
    return plan


def check_executable(plan: Plan) -> None:
    """A plan with a step over more than 52 indices is only good for its memory estimate."""
    if plan.extra.get("too_wide"):
        raise ValueError(
            f"exact inference would contract {plan.extra['too_wide']} variables at once, more "
            "than the 52 one tensor can index; use approximate inference (likelihood_weighting, "
            "gibbs_sampling)"
        )


def plan_contraction(
    inputs: Sequence[tuple[int, ...]],
    output: tuple[int, ...],
    sizes: dict[int, int],
    *,
    optimize: str = "auto",
) -> Plan:
    """Find a pairwise contraction path; ``optimize`` is ``"auto"`` (the cheapest of the
    heuristics below; only min-fill beyond 5,000 tensors), ``"greedy"`` (opt_einsum),
    ``"min-fill"`` or ``"min-weight"`` (variable elimination orders)."""
    inputs = [tuple(ix) for ix in inputs]
    if optimize == "auto":
        # past a few thousand tensors each search costs seconds: min-fill alone, as in
        # variable elimination, keeps planning linear-time in practice
        methods = (
            ["min-fill"] if len(inputs) > _SEARCH_ALL else ["greedy", "min-fill", "min-weight"]
        )
        if ROW in output:
            methods.append("min-fill-rows")
    elif optimize in ("greedy", "min-fill", "min-weight"):
        methods = [optimize]
    else:
        raise ValueError(
            f"optimize must be one of 'auto', 'greedy', 'min-fill', 'min-weight', got {optimize!r}"
        )
    best = None
    for m in methods:
        if m == "greedy":
            pairs = _greedy_pairs(inputs, output, sizes)
        else:
            pairs, _ = _elimination_pairs(
                inputs, output, sizes, weighted=m != "min-weight", row_blind=m != "min-fill-rows"
            )
        cost = _cost(inputs, output, sizes, pairs)
        if best is None or cost < best[0]:
            best = (cost, pairs, m)
    flops, largest = best[0]
    refine = len(inputs) <= _SEARCH_ALL and largest <= _REFINE_LARGEST
    if optimize == "auto" and flops > _REFINE_FLOPS and refine:
        best = _refine(inputs, output, sizes, best)
    return _build(inputs, output, sizes, best[1], best[2])


def _refine(inputs, output, sizes, best):
    """Randomized elimination orders (min-fill and min-weight in turn, with perturbed scores and
    a fixed seed) for a plan expensive enough that searching pays: one trial per
    :data:`_REFINE_FLOPS` multiply-adds of the best plan so far, at most :data:`_TRIALS`; the
    cheapest plan wins. The same inputs always give the same plan."""
    rng = random.Random(0)
    for trial in range(min(_TRIALS, best[0][0] // _REFINE_FLOPS)):
        weighted = trial % 2 == 0
        pairs, _ = _elimination_pairs(
            inputs, output, sizes, weighted=weighted, rng=rng, noise=_NOISE
        )
        cost = _cost(inputs, output, sizes, pairs)
        if cost < best[0]:
            best = (cost, pairs, "randomized " + ("min-fill" if weighted else "min-weight"))
    return best


def _cost(inputs, output, sizes, pairs) -> tuple[int, int]:
    """(flops, largest intermediate) of a path, without building its steps."""
    raw, _, _ = _ssa_steps(inputs, output, pairs, sizes=sizes)
    ids: dict[int, tuple[int, ...]] = dict(enumerate(inputs))
    flops = largest = 0
    nxt = len(inputs)
    for a, b, keep in raw:
        ia = ids.pop(a)
        ib = ids.pop(b) if b is not None else ()
        flops += _size(set(ia) | set(ib), sizes)
        largest = max(largest, _size(keep, sizes))
        ids[nxt] = keep
        nxt += 1
    return flops, largest


def plan_elimination(
    inputs: Sequence[tuple[int, ...]],
    keep: tuple[int, ...],
    sizes: dict[int, int],
) -> Plan:
    """Sum out every index not in ``keep`` (min-fill order) but do not merge what remains:
    ``plan.extra["live"]`` maps the SSA ids of the factors left (over ``keep`` only) to their
    indices — the sum phase of marginal MAP."""
    inputs = [tuple(ix) for ix in inputs]
    pairs, _ = _elimination_pairs(inputs, keep, sizes)
    return _build(inputs, keep, sizes, pairs, "min-fill", merge=False)
