"""The plan of an exact query: which tensors, made how from the tables, contracted in which
order.

A query pattern (its kind, targets, and which variables are observed: fixed, in every row of a
batch, or in some rows) compiles once into a :class:`Compiled` — the operands (a table sliced at
fixed evidence and gathered per row, or an indicator λ_v(R, card) for partly observed
variables) and the :class:`~.contraction.Plan` that contracts them. Compiling prunes the network
to what the query needs: barren nodes (neither queried, observed, nor ancestors of either) and
parts disconnected from the targets once the evidence is sliced away. Compiled patterns are kept
in a least-recently-used cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .contraction import ROW, Plan, plan_contraction, plan_elimination
from .evidence import Evidence
from .shared_rows import compact_rows

__all__ = ["Operand", "Compiled", "Planner", "components"]

#: the overhead of one contraction step (Python, dispatch), in multiply-adds, for choosing plans
STEP_COST = 20_000


@dataclass
class Operand:
    """How one tensor of the network is made from a table (or is an evidence indicator)."""

    kind: str  # "table" or "indicator"
    var: int  # the table's child, or the indicator's variable
    select: tuple[tuple[int, int], ...] = ()  # (axis, variable) sliced at a fixed state
    gather: tuple[int, ...] = ()  # variables gathered per row (their axes moved first)
    perm: tuple[int, ...] = ()  # permutation after slicing that puts the gathered axes first
    indices: tuple[int, ...] = ()


@dataclass
class Compiled:
    kind: str
    operands: list[Operand]
    plan: Plan
    output: tuple[int, ...]
    extra: dict = field(default_factory=dict)


class Planner:
    """Compiles query patterns of one network into operands and contraction plans.

    ``names``, ``cards`` and ``parents`` (name -> parent names) describe the network, ``order`` is
    a topological order of the names; ``optimize`` and ``memory_budget`` are the engine's.
    """

    def __init__(
        self,
        names: Sequence[str],
        cards: Sequence[int],
        parents: dict[str, tuple[str, ...]],
        order: Sequence[str],
        *,
        optimize: str,
        memory_budget: int,
        cache_size: int = 256,
    ):
        self.names = tuple(names)
        self.cards = tuple(cards)
        self.order = tuple(order)
        self._id = {n: k for k, n in enumerate(self.names)}
        self._families = [tuple(self._id[p] for p in parents[n]) + (self._id[n],) for n in names]
        self._parent_ids = [f[:-1] for f in self._families]
        self.optimize = optimize
        self.memory_budget = memory_budget
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, Compiled] = OrderedDict()

    def pattern(self, ev: Evidence) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """Which variables are observed how: fixed, in every row of a batch, in some rows."""
        fixed = frozenset(self._id[n] for n in ev.fixed)
        full, partial = set(), set()
        for n, codes in ev.batched.items():
            (full if bool((codes >= 0).all()) else partial).add(self._id[n])
        return fixed, frozenset(full), frozenset(partial)

    def ancestors(self, ids: set[int]) -> set[int]:
        seen = set(ids)
        stack = list(ids)
        while stack:
            v = stack.pop()
            for p in self._parent_ids[v]:
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return seen

    def compile(
        self,
        kind: str,
        targets: tuple[int, ...],
        fixed: frozenset[int],
        full: frozenset[int],
        partial: frozenset[int],
        rows: int | None,
        within: frozenset[int] | None = None,
    ) -> Compiled:
        bucket = None if rows is None else 1 << max(0, (rows - 1).bit_length())
        key = (kind, targets, fixed, full, partial, bucket, within, self.memory_budget)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        observed = fixed | full | partial
        if within is not None:
            relevant = set(within)
        elif kind in ("marginals", "mpe"):
            relevant = set(range(len(self.names)))
        elif kind in ("query", "map"):
            relevant = self.ancestors(set(targets) | observed)
        elif kind == "logz":
            relevant = self.ancestors(set(observed))
        else:  # pragma: no cover - internal
            raise ValueError(f"unknown query kind {kind!r}")

        operands: list[Operand] = []
        for f in sorted(relevant):
            fam = self._families[f]
            select = tuple((ax, v) for ax, v in enumerate(fam) if v in fixed)
            rest = [v for v in fam if v not in fixed]
            gax = [k for k, v in enumerate(rest) if v in full]
            others = tuple(v for v in rest if v not in full)
            perm = tuple(gax + [k for k in range(len(rest)) if k not in gax])
            indices = ((ROW,) if gax else ()) + others
            operands.append(Operand("table", f, select, tuple(rest[k] for k in gax), perm, indices))
        indicator_vars = set(partial) & relevant
        if kind == "marginals" and rows is not None:
            indicator_vars |= relevant - fixed - full
        for v in sorted(indicator_vars):
            operands.append(Operand("indicator", v, indices=(ROW, v)))

        # connected components over the variable indices (the row index joins nothing)
        touched = [op.kind == "indicator" or bool(op.select) or bool(op.gather) for op in operands]
        comp = components([op.indices for op in operands])
        if kind in ("query", "map"):
            keep_comp = {comp[k] for k, op in enumerate(operands) if set(op.indices) & set(targets)}
            if kind == "map":
                keep_comp |= {comp[k] for k in range(len(operands)) if touched[k]}
        elif kind == "logz":
            keep_comp = {comp[k] for k in range(len(operands)) if touched[k]}
        else:
            keep_comp = set(comp)
        # tables of evidence-touched parts left out of a query: they only scale P(q, e), but if
        # one of them can be zero the evidence may be impossible (checked at call time)
        side = {comp[k] for k in range(len(operands)) if touched[k] and comp[k] not in keep_comp}
        pruned = sorted(
            {op.var for k, op in enumerate(operands) if comp[k] in side and op.kind == "table"}
        )
        operands = [op for k, op in enumerate(operands) if comp[k] in keep_comp]

        sizes = {v: c for v, c in enumerate(self.cards)}
        sizes[ROW] = bucket or 1
        # the row axis, unless no tensor left depends on the batched evidence (then the result
        # is the same for every row and is expanded afterwards)
        has_rows = rows is not None and any(ROW in op.indices for op in operands)
        out_rows = (ROW,) if has_rows else ()
        inputs = [op.indices for op in operands]
        extra: dict = {}
        if kind == "query":
            output = out_rows + targets
        else:
            output = out_rows
        if kind == "map":
            sum_plan = plan_elimination(inputs, out_rows + targets, sizes)
            live = sum_plan.extra["live"]
            live_ids = sorted(live)
            max_plan = plan_contraction(
                [live[k] for k in live_ids], out_rows, sizes, optimize=self.optimize
            )
            extra.update(max_plan=max_plan, live_ids=live_ids)
            plan = sum_plan
        else:
            plan = plan_contraction(inputs, output, sizes, optimize=self.optimize)
        extra["pruned"] = pruned
        compiled = Compiled(kind, operands, plan, output, extra)
        if kind == "marginals" and within is None:
            compiled.extra["parts"] = self.cover(compiled, fixed, full, partial, rows)
        self._cache[key] = compiled
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return compiled

    def cover(self, whole: Compiled, fixed, full, partial, rows) -> list[Compiled] | None:
        """Sub-networks An({v} ∪ E) that together cover every variable, or None when the whole
        network is cheaper.

        A posterior P(x_v | e) only involves the ancestors of v and of the evidence; the rest is
        barren and sums to one, but a tensor network does not know that, and moralizing the
        barren families can make the whole network much wider than any of these ancestral
        sub-networks. Taking v in reverse topological order, each sub-network's marginals cover
        all its variables; the cost compared is flops plus a per-step overhead.
        """

        def cost(c: Compiled) -> float:
            return c.plan.flops + STEP_COST * len(c.plan.steps)

        observed = fixed | full | partial
        uncovered = set(range(len(self.names))) - fixed - full
        parts: list[Compiled] = []

        def too_big(c: Compiled) -> bool:  # not even one evidence row fits the budget
            one = self.estimate(c, None if rows is None else 1, keep_all=True)
            return one > self.memory_budget

        limit, spent = cost(whole), 0.0
        whole_too_big = too_big(whole)
        for name in reversed(self.order):
            v = self._id[name]
            if v not in uncovered:
                continue
            within = frozenset(self.ancestors({v} | observed))
            uncovered -= within
            parts.append(self.compile("marginals", (), fixed, full, partial, rows, within))
            spent += cost(parts[-1])
            if len(parts) > 2 * len(self.names) ** 0.5 + 64:  # too many: keep the whole network
                return None
            if spent >= limit:  # already dearer than the whole network: stop planning parts
                return None
            if whole_too_big and too_big(parts[-1]):  # neither can run: report the whole
                return None
        if len(parts) <= 1:
            return None
        return parts

    def sizes(self, rows: int | None) -> dict[int, int]:
        sizes = {v: c for v, c in enumerate(self.cards)}
        sizes[ROW] = rows or 1
        return sizes

    def estimate(self, comp: Compiled, rows: int | None, *, keep_all: bool) -> int:
        key = ("bytes", rows, keep_all)
        hit = comp.extra.get(key)
        if hit is None:
            hit = comp.extra[key] = self.estimate_bytes(comp, rows, keep_all=keep_all)
        return hit

    def estimate_bytes(self, comp: Compiled, rows: int | None, *, keep_all: bool) -> int:
        if comp.extra.get("parts"):
            return max(self.estimate(c, rows, keep_all=keep_all) for c in comp.extra["parts"])
        sizes = self.sizes(rows)
        if comp.kind == "map":
            return max(
                comp.plan.memory(sizes, keep_all=keep_all),
                comp.extra["max_plan"].memory(sizes, keep_all=True, broadcast=True),
            )
        return comp.plan.memory(sizes, keep_all=keep_all, broadcast=comp.kind == "mpe")

    def operands(
        self,
        comp: Compiled,
        tables: list[Tensor],
        ev: Evidence,
        *,
        log: bool = False,
        only: list[bool] | None = None,
    ) -> list[Tensor]:
        """The tensors of the compiled network (``only``: just those flagged, None elsewhere)."""
        dev = tables[0].device if tables else None
        fixed = {self._id[n]: c for n, c in ev.fixed.items()}
        batched = {self._id[n]: c.to(dev) for n, c in ev.batched.items()}
        ops = []
        for k, op in enumerate(comp.operands):
            if only is not None and not only[k]:
                ops.append(None)
                continue
            if op.kind == "table":
                t = _sliced(op, tables, fixed)
                if op.gather:
                    t = t[tuple(batched[v] for v in op.gather)]
            else:
                card = self.cards[op.var]
                codes = batched.get(op.var)
                if codes is None:
                    t = torch.ones(ev.rows, card, dtype=torch.float64, device=dev)
                else:
                    states = torch.arange(card, device=dev)
                    t = ((codes[:, None] == states) | (codes[:, None] < 0)).to(torch.float64)
            ops.append(t.log() if log else t)
        return ops

    def compact_operands(
        self, comp: Compiled, tables: list[Tensor], ev: Evidence
    ) -> tuple[list[Tensor], list[Tensor | None]]:
        """The operands with their row axes compacted to the distinct slices, and their row
        maps (see :mod:`.shared_rows`); tensors without the row axis are as in :meth:`operands`."""
        plain = [op.kind == "table" and not op.gather for op in comp.operands]
        ops = self.operands(comp, tables, ev, only=plain)
        dev = tables[0].device if tables else None
        batched = {self._id[n]: c.to(dev) for n, c in ev.batched.items()}
        fixed = {self._id[n]: c for n, c in ev.fixed.items()}
        maps: list[Tensor | None] = [None] * len(ops)
        for k, op in enumerate(comp.operands):
            if plain[k]:
                continue
            if op.kind == "table":
                t = _sliced(op, tables, fixed)
                codes = [batched[v] for v in op.gather]
                cards = [self.cards[v] for v in op.gather]
            else:  # λ_v: slice 0 for unobserved rows (all ones), slice k + 1 for state k
                card = self.cards[op.var]
                t = torch.cat([torch.ones(1, card, dtype=torch.float64, device=dev),
                               torch.eye(card, dtype=torch.float64, device=dev)])  # fmt: skip
                codes, cards = [batched[op.var].clamp(min=-1) + 1], [card + 1]
            ops[k], maps[k] = compact_rows(t, codes, cards)
        return ops, maps


def _sliced(op: Operand, tables: list[Tensor], fixed: dict[int, int]) -> Tensor:
    """An operand's table sliced at the fixed evidence, its gathered axes moved first."""
    t = tables[op.var]
    if op.select:
        idx: list = [slice(None)] * t.dim()
        for ax, v in op.select:
            idx[ax] = fixed[v]
        t = t[tuple(idx)]
    if op.gather and op.perm != tuple(range(len(op.perm))):
        t = t.permute(op.perm)
    return t


def components(index_sets: Sequence[tuple[int, ...]]) -> list[int]:
    """Connected component label per tensor, linking tensors that share a variable index."""
    parent = list(range(len(index_sets)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    owner: dict[int, int] = {}
    for k, ix in enumerate(index_sets):
        for i in ix:
            if i == ROW:
                continue
            if i in owner:
                a, b = find(k), find(owner[i])
                if a != b:
                    parent[a] = b
            else:
                owner[i] = k
    return [find(k) for k in range(len(index_sets))]
