"""The max-product queries of :class:`~bayesgen.inference.exact.ExactInference`.

- ``mpe``: the most probable explanation x* = argmax_x P(x, e), by max-product on log tables
  with an argmax traceback (from the kept joint on small networks).
- ``map``: marginal MAP q* = argmax_q Σ_{others} P(q, others, e): the others are summed out
  first (min-fill order), then max-product over what is left.

:class:`MaxProduct` is a mixin: it uses the engine's planner, tables, evidence checks and memory
budget, and holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from .contraction import ROW, Plan
from .evidence import (
    Evidence,
    check_targets_free,
    parse_evidence,
    parse_targets,
    split_rows,
    unique_rows,
    with_query_evidence,
)
from .executors import max_contract, run_steps, traceback
from .planner import Compiled
from .result import Explanation
from .small_joint import KeptJoint

__all__ = ["MaxProduct"]


class MaxProduct:
    """``mpe`` and ``map`` for :class:`~bayesgen.inference.exact.ExactInference`."""

    def mpe(self, evidence: Mapping[str, object] | None = None, *, tables=None) -> Explanation:
        """Most probable explanation argmax_x P(x, e) over every unobserved variable
        (max-product); the explanation also lists the observed values, and ``log_prob`` is
        log P(x*, e)."""
        ev, inverse = unique_rows(parse_evidence(evidence, self.states), self._cards)
        small = self._small_joint(ev, tables)
        if small is not None:  # argmax over the sliced joint
            codes, log_p = KeptJoint.argmax(*small)
            self._zero(ev, log_p > float("-inf"))
            codes.update(ev.fixed)
            return Explanation({n: codes[n] for n in self.names}, log_p, self.states)
        fixed, full, partial = self._planner.pattern(ev)
        comp = self._planner.compile("mpe", (), fixed, full, partial, ev.rows)
        tabs = self._current(tables)
        chunk = self._budget(comp, ev, True, "the most probable explanation")
        parts = [self._max(comp, comp.plan, tabs, sub, None) for sub in split_rows(ev, chunk)]
        return self._explanation(parts, ev, list(self.names), inverse)

    def map(
        self, targets, evidence: Mapping[str, object] | None = None, *, tables=None
    ) -> Explanation:
        """Marginal MAP argmax_q P(q, e) = argmax_q Σ_{others} P(q, others, e): the others are
        summed out first, then max-product over ``targets``; ``log_prob`` is log P(q*, e)."""
        names, extra = parse_targets(targets, self.states)
        ev = with_query_evidence(evidence, extra, self.states)
        check_targets_free(names, ev)
        fixed, full, partial = self._planner.pattern(ev)
        tids = tuple(self._id[t] for t in names)
        ev, inverse = unique_rows(ev, self._cards)
        comp = self._planner.compile("map", tids, fixed, full, partial, ev.rows)
        tabs = self._current(tables)
        chunk = self._budget(comp, ev, True, f"MAP over {names}")
        parts = []
        for sub in split_rows(ev, chunk):
            ops = self._planner.operands(comp, tabs, sub)
            tensors, scales = run_steps(comp.plan, ops, rescale=True) if ops else ([], [])
            logs = []
            for k in comp.extra["live_ids"]:
                t, ls = tensors[k], scales[k]
                lt = t.log()
                indices = comp.plan.extra["live"][k]
                if ls.dim() == 1:
                    lt = lt + ls.reshape([-1 if i == ROW else 1 for i in indices])
                else:
                    lt = lt + ls
                logs.append(lt)
            parts.append(self._max(comp, comp.extra["max_plan"], tabs, sub, logs))
        return self._explanation(parts, ev, names, inverse)

    def _max(self, comp: Compiled, plan: Plan, tabs, ev: Evidence, logs):
        if logs is None:
            logs = self._planner.operands(comp, tabs, ev, log=True)
        sizes = self._planner.sizes(ev.rows)
        if logs:
            val, trace = max_contract(plan, logs, sizes)
            if ev.rows is not None and val.dim() == 0:  # nothing depended on the rows
                val = val.expand(ev.rows)
        else:
            val = torch.zeros((ev.rows,) if ev.rows is not None else (), dtype=torch.float64)
            trace = None
        self._zero(ev, val.detach() > float("-inf"))
        known = {}
        if ev.rows is not None:
            known[ROW] = torch.arange(ev.rows, device=val.device)
        assign = traceback(trace, known) if trace is not None else known
        return val, assign, ev

    def _explanation(self, parts, ev: Evidence, names: Sequence[str], inverse=None) -> Explanation:
        out: dict[str, int | Tensor] = {}
        vals = [p[0] for p in parts]
        val = vals[0] if len(vals) == 1 else torch.cat(vals, 0)
        for n in names:
            v = self._id[n]
            if n in ev.fixed:
                out[n] = ev.fixed[n] if ev.rows is None else torch.full((ev.rows,), ev.fixed[n])
                continue
            pieces = []
            for _, assign, sub in parts:
                if v in assign:
                    code = assign[v]
                    if sub.rows is not None:
                        code = code.expand(sub.rows)
                        if n in sub.batched:  # observed in some rows
                            obs = sub.batched[n].to(code.device)
                            code = torch.where(obs >= 0, obs, code)
                    pieces.append(code.cpu())
                else:
                    pieces.append(sub.batched[n])  # observed in every row (gathered)
            code = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 0)
            out[n] = int(code) if ev.rows is None else code.long().cpu()
        if inverse is not None:
            out = {n: c[inverse] for n, c in out.items()}
            val = val[inverse.to(val.device)]
        return Explanation(out, val, self.states)
