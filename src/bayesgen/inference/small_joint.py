"""Small networks answered from their whole joint.

When the joint P(x) = Π_n p(x_n | Pa(x_n)) has at most :data:`MAX_ENTRIES` entries, one
evidence row is cheapest answered from it directly — sliced at the evidence e,

    P(x_v | e) = Σ_{x \\ v} P(x)[e] / Σ_x P(x)[e],     x* = argmax_x P(x)[e],

with the joint computed once and kept while the tables are unchanged (the same tensors at the
same version), as a junction tree keeps its potentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from .contraction import plan_contraction
from .executors import contract

__all__ = ["MAX_ENTRIES", "KeptJoint"]

#: networks whose full joint has at most this many entries answer single rows from it
MAX_ENTRIES = 4096


class KeptJoint:
    """The joint of a network of tables, kept between calls. ``names`` in the engine's order,
    ``families`` the variable ids (parents..., child) of each table, ``cards`` the sizes."""

    def __init__(
        self, names: Sequence[str], families: Sequence[tuple[int, ...]], cards: Sequence[int]
    ):
        self.names = tuple(names)
        n = len(self.names)
        sizes = dict(enumerate(cards))
        self._plan = plan_contraction([tuple(f) for f in families], tuple(range(n)), sizes)
        self._order = [self._plan.final_indices.index(k) for k in range(n)]
        self._key: tuple | None = None
        self._joint: Tensor | None = None

    def sliced(self, tables: Sequence[Tensor], fixed: Mapping[int, int]) -> tuple[Tensor, list]:
        """P(x)[e] (axes: the free variables in order) and the free variables' names, for the
        evidence ``fixed`` (variable id -> code)."""
        key = tuple((id(t), t._version) for t in tables)
        if key != self._key:
            joint, _ = contract(self._plan, list(tables))
            self._joint, self._key = joint.permute(self._order), key  # (*cards)
        index = tuple(fixed.get(k, slice(None)) for k in range(len(self.names)))
        free = [n for k, n in enumerate(self.names) if k not in fixed]
        return self._joint[index], free

    @staticmethod
    def marginals(sliced: Tensor, free: Sequence[str]) -> dict[str, Tensor]:
        """P(x_v | e) for every free v, from the sliced joint."""
        z = sliced.sum()
        out = {}
        for k, n in enumerate(free):  # variables, not rows
            others = tuple(a for a in range(len(free)) if a != k)
            out[n] = (sliced.sum(others) if others else sliced) / z
        return out

    @staticmethod
    def argmax(sliced: Tensor, free: Sequence[str]) -> tuple[dict[str, int], Tensor]:
        """x* = argmax P(x)[e] over the free variables (codes) and log P(x*, e)."""
        flat = sliced.reshape(-1)
        best = torch.unravel_index(flat.argmax(), sliced.shape)
        return {n: int(c) for n, c in zip(free, best, strict=True)}, flat.max().log()
