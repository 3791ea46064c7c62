"""Exact inference on discrete Bayesian networks by tensor contraction.

With evidence e, every query is a sum over the unobserved variables of the product of tables,

    P(q, e) = Σ_{x \\ (q, e)} Π_n p(x_n | Pa(x_n)),

a tensor network with one index per variable. Observed variables are sliced out of the tables
(a batch of R evidence rows gathers the rows instead, or multiplies in an indicator λ_v(R, card)
where some rows leave v unobserved), so the row axis R is one more index and R queries are one
contraction. Before contracting, the network is pruned to what the query needs: barren nodes
(neither queried, observed, nor ancestors of either) and parts disconnected from the targets once
the evidence is sliced away. The contraction path is found once per query pattern (targets and
which variables are observed) and cached.

- ``query``: P(q | e) = P(q, e) / Σ_q P(q, e).
- ``log_evidence``: log P(e) = log Z.
- ``marginals``: every posterior from one forward and one backward pass, by the identity
  P(x_v = k | e) = λ_v[k] ∂ log Z / ∂λ_v[k] (for one evidence row the table itself serves as λ:
  P(x_v, pa_v | e) = θ_v ⊙ ∂ log Z / ∂θ_v). The backward sweep is two einsums per step, by hand
  (autograd only when the tables require grad). When the whole moral graph is much wider than
  the ancestral sub-networks An({v} ∪ e) (munin), a few such sub-networks cover every variable
  instead, each with its own forward and backward pass.
- ``mpe``: argmax_x P(x, e) by max-product on log tables with an argmax traceback.
- ``map``: argmax_q Σ_{others} P(q, others, e): sum out the others first (min-fill order), then
  max-product over what is left. (These two are in :mod:`.explain`.)

Every result is differentiable with respect to the tables. Intermediates are rescaled by their
maximum when the plain product would underflow, so networks with hundreds of nodes and many
observations stay exact. Repeated evidence rows are answered once. A plan whose intermediates
would exceed ``memory_budget`` raises :class:`MemoryBudgetError` (batched evidence is first split
into row chunks that fit).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from .. import _budget
from .._constants import ROW_TOLERANCE, UNDERFLOW
from ..graph import DAG
from .contraction import ROW, MemoryBudgetError
from .evidence import (
    Evidence,
    check_targets_free,
    check_variables,
    evidence_codes,
    parse_evidence,
    parse_targets,
    split_rows,
    unique_rows,
    with_query_evidence,
)
from .executors import backward, contract, run_steps
from .explain import MaxProduct
from .planner import Compiled, Planner
from .result import Posterior
from .shared_rows import run_shared, shared_fraction
from .small_joint import MAX_ENTRIES, KeptJoint

__all__ = ["ExactInference", "MemoryBudgetError"]

TableSpec = tuple[str, Sequence[str], Tensor]

#: a plain (unscaled) contraction whose result falls below this is redone with rescaling
_UNDERFLOW = UNDERFLOW
#: batched rows that share little sub-evidence run in chunks whose largest intermediate takes
#: about this many bytes (so they stay in cache), of at least _MIN_CHUNK rows
_CACHE_BYTES = 8 << 20
_MIN_CHUNK = 32
#: the Python and dispatch overhead of one contraction step (~10 µs), in multiply-adds (~1 ns)
_STEP_OVERHEAD = 10_000
#: batched evidence runs on shared sub-evidence (:mod:`.shared_rows`) when a row costs at least
#: this many multiply-adds; below, finding the distinct slices costs more than it saves
_SHARE_FLOPS = 20_000
#: row-sum tolerance for tables given directly (published networks round to 4 decimals)
_ROW_TOLERANCE = ROW_TOLERANCE


def _smaller(a: int | None, b: int | None) -> int | None:
    """The smaller of two chunk sizes, None meaning no chunking."""
    return b if a is None else a if b is None else min(a, b)


class ExactInference(MaxProduct):
    """Exact queries on a discrete Bayesian network given as tables.

    ``tables``: a sequence of ``(child, parents, probs)`` with ``probs`` of shape
    (*parent_cards, card), the child on the last axis; ``states``: name -> state labels.
    ``memory_budget`` (bytes; default the package's 4 GiB, :data:`bayesgen._budget.MEMORY_BUDGET`)
    bounds the intermediates of one contraction; ``device`` moves the
    computation (tables and evidence) to that device; ``optimize`` picks the path search
    (``"auto"``, ``"greedy"``, ``"min-fill"``, ``"min-weight"``); ``rescale`` is True (always
    rescale intermediates), False (never) or None (only when the plain product underflows);
    ``validate`` checks that the tables are non-negative with rows summing to 1 (±1e-3).
    Every query method also takes ``tables=`` (name -> tensor) to replace some tables for one
    call, e.g. with parameters that require grad.

    >>> eng = ExactInference([("a", (), torch.tensor([0.3, 0.7])),
    ...                       ("b", ("a",), torch.tensor([[0.9, 0.1], [0.2, 0.8]]))],
    ...                      {"a": ("0", "1"), "b": ("0", "1")})
    >>> round(float(eng.query("a", {"b": 1})["1"]), 4)
    0.9492
    """

    def __init__(
        self,
        tables: Sequence[TableSpec],
        states: Mapping[str, Sequence[str]],
        *,
        memory_budget: int | None = None,
        device: torch.device | str | None = None,
        optimize: str = "auto",
        rescale: bool | None = None,
        validate: bool = True,
    ):
        if optimize not in ("auto", "greedy", "min-fill", "min-weight"):
            raise ValueError(
                "optimize must be one of 'auto', 'greedy', 'min-fill', 'min-weight', "
                f"got {optimize!r}"
            )
        if rescale not in (None, True, False):
            raise ValueError(f"rescale must be True, False or None (automatic), got {rescale!r}")
        if memory_budget is None:
            memory_budget = _budget.memory_budget()
        if not (isinstance(memory_budget, (int, float)) and memory_budget > 0):
            raise ValueError(
                f"memory_budget must be a positive number of bytes, got {memory_budget!r}"
            )
        tables = list(tables)
        names = [t[0] for t in tables]
        seen: set[str] = set()
        dup = sorted({n for n in names if n in seen or seen.add(n)})  # linear in N
        if dup:
            raise ValueError(f"more than one table for {dup}")
        missing = [n for n in names if n not in states]
        if missing:
            raise ValueError(f"no states given for {missing}")
        parents = {n: tuple(p) for n, p, _ in tables}
        for n, pa in parents.items():
            unknown = [p for p in pa if p not in parents]
            if unknown:
                raise ValueError(f"parents {unknown} of {n!r} have no table")
        self.dag = DAG.from_parents(parents)  # raises CycleError naming a cycle
        self.names: tuple[str, ...] = tuple(names)
        self.states: dict[str, tuple[str, ...]] = {
            n: tuple(str(s) for s in states[n]) for n in names
        }
        self.parents = parents
        self._id = {n: k for k, n in enumerate(names)}
        self.cards = tuple(len(self.states[n]) for n in names)
        self._cards = dict(zip(names, self.cards, strict=True))
        self._planner = Planner(
            self.names,
            self.cards,
            parents,
            self.dag.order,
            optimize=optimize,
            memory_budget=int(memory_budget),
        )
        self.device = torch.device(device) if device is not None else None
        self.rescale = rescale
        self._tables = [self._as_table(n, p) for n, _, p in tables]
        if validate:
            for n, t in zip(names, self._tables, strict=True):
                self._validate(n, t)
        self._source: Callable[[], list[Tensor]] | None = None
        small = math.prod(self.cards) <= MAX_ENTRIES
        families = [tuple(self._id[p] for p in parents[n]) + (self._id[n],) for n in names]
        self._joint = KeptJoint(self.names, families, self.cards) if small else None

    @property
    def memory_budget(self) -> int:
        """Bytes the intermediates of one contraction may take."""
        return self._planner.memory_budget

    @memory_budget.setter
    def memory_budget(self, value: int) -> None:
        self._planner.memory_budget = int(value)

    @property
    def optimize(self) -> str:
        """The contraction path search (see :func:`~.contraction.plan_contraction`)."""
        return self._planner.optimize

    @property
    def _cache(self):
        return self._planner._cache

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_network(cls, net, **kwargs) -> ExactInference:
        """An engine over a :class:`~bayesgen.network.BayesNet` of tables; the tables are read
        from the network at every call, so a refit network is seen and gradients flow."""
        specs = []
        for name, factor in net.factors.items():
            if not hasattr(factor, "probs"):
                raise TypeError(
                    f"exact inference needs table factors; {name!r} is "
                    f"{type(factor).__name__} (use likelihood_weighting for hybrid networks)"
                )
            specs.append((name, tuple(p.name for p in factor.parents), factor.probs))
        states = {n: net.variables[n].states for n, _, _ in specs}
        kwargs.setdefault("validate", False)  # Table already validated its rows
        engine = cls(specs, states, **kwargs)
        ref = weakref.ref(net)

        def source() -> list[Tensor]:
            model = ref()
            if model is None:
                raise RuntimeError("the network of this inference engine no longer exists")
            factors = model.factors
            return [factors[n].probs for n in engine.names]

        engine._source = source
        return engine

    def _as_table(self, name: str, probs) -> Tensor:
        t = torch.as_tensor(probs)
        if t.dtype != torch.float64:
            t = t.to(torch.float64)
        shape = tuple(self.cards[self._id[p]] for p in self.parents[name]) + (
            self.cards[self._id[name]],
        )
        if tuple(t.shape) != shape:
            want = " x ".join(f"{v}:{self.cards[self._id[v]]}" for v in (*self.parents[name], name))
            raise ValueError(
                f"table of {name!r} has shape {tuple(t.shape)}, expected {shape} "
                f"({want}; the child on the last axis)"
            )
        return t

    def _validate(self, name: str, t: Tensor) -> None:
        with torch.no_grad():
            if bool((t < 0).any()) or not bool(torch.isfinite(t).all()):
                raise ValueError(f"table of {name!r} has negative or non-finite entries")
            sums = t.sum(-1)
            bad = (sums - 1).abs() > _ROW_TOLERANCE
            if bool(bad.any()):
                row = tuple(int(i) for i in bad.nonzero()[0])
                labels = {
                    p: self.states[p][k] for p, k in zip(self.parents[name], row, strict=True)
                }
                raise ValueError(
                    f"table of {name!r}: the row for parents {labels} sums to "
                    f"{float(sums[row]):.6g}, not 1"
                )

    def _current(self, tables: Mapping[str, Tensor] | None) -> list[Tensor]:
        current = self._source() if self._source is not None else list(self._tables)
        if tables:
            check_variables(list(tables), self.states, "table override")
            current = list(current)
            for n, t in tables.items():
                current[self._id[n]] = self._as_table(n, t)
        dev = self.device
        return [
            t.to(device=dev, dtype=torch.float64)
            if (t.dtype != torch.float64 or (dev is not None and t.device != dev))
            else t
            for t in current
        ]

    # ------------------------------------------------------------------ structure
    def _sum_product(
        self, comp: Compiled, ev: Evidence, tables: list[Tensor], ops: list[Tensor] | None = None
    ):
        """Contract to the compiled output; returns (T, log_scale or None), T in output order.
        Batched evidence runs on compacted rows (each distinct sub-evidence once) unless the
        operands are given."""
        plan = comp.plan
        rows = ev.rows
        if not comp.operands:
            shape = (rows,) if rows is not None else ()
            return torch.ones(shape, dtype=torch.float64, device=self.device), None
        if ops is None and rows is not None and self._row_flops(comp) >= _SHARE_FLOPS:
            ops, maps = self._planner.compact_operands(comp, tables, ev)

            def run(rescale: bool):
                return run_shared(plan, ops, maps, rescale=rescale)
        else:
            if ops is None:
                ops = self._planner.operands(comp, tables, ev)

            def run(rescale: bool):
                return contract(plan, ops, rescale=rescale)

        if self.rescale is True:
            t, ls = run(True)
        else:
            t, ls = run(False)
            if self.rescale is None:
                with torch.no_grad():
                    axes = tuple(k for k, i in enumerate(plan.final_indices) if i != ROW)
                    z = t.detach().sum(axes) if axes else t.detach()
                    redo = not bool(((z > _UNDERFLOW) & torch.isfinite(z)).all())
                if redo:
                    t, ls = run(True)
        perm = [plan.final_indices.index(i) for i in comp.output]
        if perm != list(range(len(perm))):
            t = t.permute(perm)
        if rows is not None and ROW not in comp.output:
            t = t.expand(rows, *t.shape)
        return t, ls

    def _zero(self, ev: Evidence, ok: Tensor) -> None:
        """Raise if some evidence row has probability zero (``ok``: bool (R,) or ())."""
        with torch.no_grad():
            bad = ~ok
            if bool(bad.any()):
                if bad.dim() == 0:
                    raise ValueError(f"evidence {ev.describe(self.states)} has probability zero")
                row = int(bad.nonzero()[0, 0])
                desc = ev.describe(self.states, row)
                if ev.origin is not None:
                    row = int(ev.origin[row])
                raise ValueError(f"evidence {desc} (row {row}) has probability zero")

    def _budget(self, comp: Compiled, ev: Evidence, keep_all: bool, what: str) -> int | None:
        """None if the whole batch fits the budget, else the rows per chunk; raises if one row
        does not fit."""
        est = self._planner.estimate(comp, ev.rows, keep_all=keep_all)
        if est <= self.memory_budget:
            return None
        one = self._planner.estimate(comp, 1 if ev.rows is not None else None, keep_all=keep_all)
        if ev.rows is None or one > self.memory_budget:
            raise MemoryBudgetError(one if ev.rows is not None else est, self.memory_budget, what)
        chunk = max(1, int(ev.rows * self.memory_budget / est))
        budget = self.memory_budget
        while chunk > 1 and self._planner.estimate(comp, chunk, keep_all=keep_all) > budget:
            chunk //= 2
        return chunk

    def _cache_chunk(self, comp: Compiled, ev: Evidence, tabs: list[Tensor]) -> int | None:
        """Rows per chunk when the batch's intermediates outgrow the cache and its rows share
        little sub-evidence (then a chunk's tensors stay in cache from step to step); None to
        run the batch at once."""
        if ev.rows is None or self._row_flops(comp) < _SHARE_FLOPS:
            return None
        one = self._planner.sizes(1)
        per_row = comp.plan.memory(one) // 3  # bytes of the largest intermediate of one row
        # a chunk must also be worth its steps' overhead
        work = max(self._row_flops(comp), 1)
        least = max(_MIN_CHUNK, _STEP_OVERHEAD * len(comp.plan.steps) // work)
        chunk = max(least, _CACHE_BYTES // per_row)
        if chunk * 2 > ev.rows:
            return None
        _, maps = self._planner.compact_operands(comp, tabs, ev)
        if shared_fraction(comp.plan, maps, one) < 0.5:
            return None
        return chunk

    def _row_flops(self, comp: Compiled) -> int:
        """Multiply-adds per evidence row of a compiled plan (kept with it)."""
        hit = comp.extra.get("row_flops")
        if hit is None:
            hit = comp.extra["row_flops"] = comp.plan.row_flops(self._planner.sizes(1))
        return hit

    @staticmethod
    def _needs_graph(tables: list[Tensor]) -> bool:
        return torch.is_grad_enabled() and any(t.requires_grad for t in tables)

    # ------------------------------------------------------------------ queries
    def query(
        self, targets, evidence: Mapping[str, object] | None = None, *, tables=None
    ) -> Posterior:
        """P(targets | evidence): one variable or a joint; batched evidence adds a leading R axis.

        ``targets``: a name, a list of names or a string ``"P(x1, x2 | x3=1)"``. ``tables``
        optionally replaces some tables (name -> tensor) for this call.
        """
        names, extra = parse_targets(targets, self.states)
        ev = with_query_evidence(evidence, extra, self.states)
        check_targets_free(names, ev)
        fixed, full, partial = self._planner.pattern(ev)
        tids = tuple(self._id[t] for t in names)
        full_ev = ev
        ev, inverse = unique_rows(ev, self._cards)
        comp = self._planner.compile("query", tids, fixed, full, partial, ev.rows)
        tabs = self._current(tables)
        keep_all = self._needs_graph(tabs)
        chunk = self._budget(comp, ev, keep_all, f"P({', '.join(names)} | ...)")
        chunk = _smaller(chunk, self._cache_chunk(comp, ev, tabs))
        parts = []
        for sub in split_rows(ev, chunk):
            t, _ = self._sum_product(comp, sub, tabs)
            axes = tuple(range(1 if sub.rows is not None else 0, t.dim()))
            z = t.sum(axes, keepdim=True)
            self._zero(sub, (z > 0).reshape(-1) if sub.rows is not None else (z > 0).reshape(()))
            parts.append(t / z)
        probs = parts[0] if len(parts) == 1 else torch.cat(parts, 0)
        if any(bool((tabs[f] == 0).any()) for f in comp.extra["pruned"]):
            with torch.no_grad():
                self._zero(ev, self.log_evidence(evidence_codes(ev), tables=tables) > -math.inf)
        if inverse is not None:
            probs = probs[inverse]
        states = [self.states[n] for n in names]
        return Posterior(
            names, states, probs, full_ev.labels(self.states), batched=full_ev.rows is not None
        )

    def log_evidence(self, evidence: Mapping[str, object] | None = None, *, tables=None) -> Tensor:
        """log P(evidence), shape () or (R,) for batched evidence (−inf where impossible)."""
        ev, inverse = unique_rows(parse_evidence(evidence, self.states), self._cards)
        fixed, full, partial = self._planner.pattern(ev)
        comp = self._planner.compile("logz", (), fixed, full, partial, ev.rows)
        tabs = self._current(tables)
        keep_all = self._needs_graph(tabs)
        chunk = self._budget(comp, ev, keep_all, "log P(evidence)")
        chunk = _smaller(chunk, self._cache_chunk(comp, ev, tabs))
        parts = []
        for sub in split_rows(ev, chunk):
            t, ls = self._sum_product(comp, sub, tabs)
            logz = t.log()
            parts.append(logz + ls if ls is not None else logz)
        out = parts[0] if len(parts) == 1 else torch.cat(parts, 0)
        return out[inverse] if inverse is not None else out

    def marginals(
        self, evidence: Mapping[str, object] | None = None, *, tables=None
    ) -> dict[str, Tensor]:
        """Posterior of every unobserved variable, name -> (card,) or (R, card), from one forward
        and one backward pass: P(x_v = k | e) = λ_v[k] · ∂ log Z / ∂λ_v[k]. (A network whose
        whole joint has at most 4,096 entries answers one evidence row from its joint, kept
        while the tables do not change; so does :meth:`mpe`.)"""
        ev, inverse = unique_rows(parse_evidence(evidence, self.states), self._cards)
        small = self._small_joint(ev, tables)
        if small is not None:
            self._zero(ev, small[0].sum() > 0)
            return KeptJoint.marginals(*small)
        fixed, full, partial = self._planner.pattern(ev)
        comp = self._planner.compile("marginals", (), fixed, full, partial, ev.rows)
        tabs = self._current(tables)
        graph = self._needs_graph(tabs)
        chunk = self._budget(comp, ev, True, "the posterior marginals")
        pieces = comp.extra.get("parts") or [comp]
        parts = []
        for sub in split_rows(ev, chunk):
            found: dict[str, Tensor] = {}
            for piece in pieces:
                for n, m in self._marginals(piece, tabs, sub, graph).items():
                    found.setdefault(n, m)
            parts.append({n: found[n] for n in self.names if n in found})
        out = parts[0]
        if len(parts) > 1:
            out = {n: torch.cat([p[n] for p in parts], 0) for n in parts[0]}
        if inverse is not None:
            out = {n: m[inverse] for n, m in out.items()}
        return out

    def _small_joint(self, ev: Evidence, tables) -> tuple[Tensor, list[str]] | None:
        """P(x)[e] and the free variables for one evidence row of a small network whose tables
        need no gradient (:mod:`.small_joint`); None otherwise."""
        if ev.rows is not None or self._joint is None:
            return None
        tabs = self._current(tables)
        if self._needs_graph(tabs):
            return None
        return self._joint.sliced(tabs, {self._id[n]: c for n, c in ev.fixed.items()})

    def _marginals(self, comp: Compiled, tabs: list[Tensor], ev: Evidence, graph: bool):
        wrt: dict[int, int] = {}  # variable -> operand position holding its λ (or its table)
        for k, op in enumerate(comp.operands):
            if op.kind == "indicator":
                wrt[op.var] = k
            elif ev.rows is None and op.indices and op.indices[-1] == op.var:
                wrt[op.var] = k
        order = sorted(wrt)
        if graph:  # differentiable marginals: autograd with create_graph
            with torch.enable_grad():
                ops = self._planner.operands(comp, tabs, ev)
                for k in set(wrt.values()):
                    if not ops[k].requires_grad:
                        ops[k] = ops[k].detach().requires_grad_()
                t, _ = self._sum_product(comp, ev, tabs, ops)
                self._zero(ev, t.detach() > 0)
                grads = torch.autograd.grad(
                    t.log().sum(),
                    [ops[wrt[v]] for v in order],
                    create_graph=True,
                    allow_unused=True,
                )
        else:  # one forward sweep keeping the intermediates, one backward sweep by hand
            with torch.no_grad():
                ops = self._planner.operands(comp, tabs, ev)
                tensors, norms, t = self._forward_keep(comp, ops)
                self._zero(ev, t > 0)
                found = backward(comp.plan, tensors, norms, 1.0 / t, [wrt[v] for v in order])
                grads = [found.get(wrt[v]) for v in order]
        out: dict[str, Tensor] = {}
        for v, g in zip(order, grads, strict=True):
            op = ops[wrt[v]]
            fam = op * g if g is not None else torch.zeros_like(op)
            if ev.rows is None:
                fam = fam.sum(tuple(range(fam.dim() - 1))) if fam.dim() > 1 else fam
            out[self.names[v]] = fam
        return {n: out[n] for n in self.names if n in out}

    def _forward_keep(self, comp: Compiled, ops: list[Tensor]):
        """Forward sweep keeping every intermediate: (tensors, norms, final T of shape (R,)
        or ()), rescaled when the plain product underflows (or ``rescale=True``)."""
        plan = comp.plan
        rescale = self.rescale is True
        norms: list = []
        tensors, _ = run_steps(plan, ops, rescale=rescale, norms=norms)
        t = tensors[plan.final]
        if self.rescale is None and not bool(((t > _UNDERFLOW) & torch.isfinite(t)).all()):
            norms = []
            tensors, _ = run_steps(plan, ops, rescale=True, norms=norms)
            t = tensors[plan.final]
        return tensors, norms, t

    # ------------------------------------------------------------------ introspection
    def estimate(
        self, targets=None, evidence: Mapping[str, object] | None = None, kind: str = "query"
    ) -> dict:
        """The plan of a query without running it: ``flops`` (multiply-adds), ``bytes`` (the
        memory estimate checked against ``memory_budget``) and the path ``method``.
        ``kind``: ``"query"``, ``"log_evidence"``, ``"marginals"``, ``"mpe"`` or ``"map"``."""
        kinds = {
            "query": "query",
            "log_evidence": "logz",
            "marginals": "marginals",
            "mpe": "mpe",
            "map": "map",
        }
        if kind not in kinds:
            raise ValueError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
        names: list[str] = []
        extra: dict = {}
        if kind in ("query", "map"):
            if targets is None:
                raise ValueError(f"kind {kind!r} needs targets")
            names, extra = parse_targets(targets, self.states)
        ev = with_query_evidence(evidence, extra, self.states)
        fixed, full, partial = self._planner.pattern(ev)
        comp = self._planner.compile(
            kinds[kind], tuple(self._id[t] for t in names), fixed, full, partial, ev.rows
        )
        keep_all = kind in ("marginals", "mpe", "map")
        pieces = comp.extra.get("parts") or [comp]
        method = comp.plan.method
        if len(pieces) > 1:
            method = f"{len(pieces)} ancestral sub-networks"
        return {
            "flops": sum(c.plan.flops for c in pieces),
            "bytes": self._planner.estimate(comp, ev.rows, keep_all=keep_all),
            "method": method,
            "tensors": sum(len(c.operands) for c in pieces),
        }

    def __repr__(self) -> str:
        return f"ExactInference({len(self.names)} variables)"
