"""Conditional probability tables: a categorical child of discrete parents."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from math import prod

import numpy as np
import torch
from torch import Tensor

from .. import _constants
from .._budget import check_memory
from ..variables import Discrete
from .base import Factor
from .categorical import ExactCategorical

__all__ = ["Table", "UnseenParentsWarning"]

#: rows that miss summing to 1 by at most this much are renormalized with a warning
ROW_TOLERANCE = _constants.ROW_TOLERANCE
#: misses up to this are rounding in the given numbers: the table is kept exactly as given
ROUNDING = 1e-6


class UnseenParentsWarning(UserWarning):
    """A table row whose parent configuration has neither data nor pseudo-counts."""


def _as_array(name: str, probs) -> np.ndarray:
    """``probs`` as a float64 array; nested lists that are ragged or hold non-numbers are one
    clear error naming the variable (not torch's message about sequences)."""
    try:
        return np.asarray(probs, dtype=np.float64)
    except (ValueError, TypeError) as err:
        ragged = "inhomogeneous" in str(err) or "sequence" in str(err)
        what = "ragged (its rows have different lengths)" if ragged else "not all numbers"
        raise ValueError(f"table of {name!r} is {what}: {_clip(probs)}") from None


def _as_table(name: str, probs, dtype: torch.dtype) -> Tensor:
    """``probs`` as a tensor of ``dtype`` (see :func:`_as_array` for the errors)."""
    if isinstance(probs, Tensor):
        return probs.to(dtype)
    return torch.as_tensor(_as_array(name, probs), dtype=dtype)


def _clip(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Table(Factor):
    """p(x | Pa(x)) as a table of shape (*parent_cards, card), the child on the last axis.

    ``probs[i_1, ..., i_k, :]`` is the distribution of the child when the parents take the states
    ``i_1..i_k`` (in the order of ``parents``). Rows are validated: non-negative, summing to 1.
    Rows that miss by at most 1e-3 (0.3333 × 3 in some published networks) are renormalized with
    one warning naming the factor; a larger miss is an error naming the factor and the row.
    Misses below 1e-6 are rounding in the given numbers and are kept exactly as given:
    ``forward`` returns an :class:`ExactCategorical`, which neither renormalizes the row nor
    clamps its logarithm, so a zero entry has log-probability −inf.
    """

    probs: Tensor

    def __init__(
        self,
        variable: Discrete,
        parents: Sequence[Discrete] = (),
        probs=None,
        *,
        dtype: torch.dtype = torch.float64,
        validate: bool = True,
    ):
        super().__init__(variable, parents)
        for v in (variable, *self.parents):
            if not isinstance(v, Discrete):
                raise TypeError(f"a Table needs discrete variables; {v.name!r} is {v!r}")
        shape = self.shape
        check_memory(
            8 * prod(shape),
            f"the table of {variable.name!r} ({' x '.join(map(str, shape))} entries)",
            advice="give the variable fewer parents",
        )
        if probs is None:
            table = torch.full(shape, 1.0 / variable.card, dtype=dtype)
        else:
            # numbers given as lists or arrays are checked in NumPy (a few µs a table; torch's
            # small-tensor overhead made reading a 50,000-table file take seconds)
            in_numpy = not isinstance(probs, Tensor) and dtype == torch.float64
            table = (
                _as_array(variable.name, probs)
                if in_numpy
                else _as_table(variable.name, probs, dtype)
            )
            if tuple(table.shape) != shape:
                want = " x ".join(f"{v.name}:{v.card}" for v in (*self.parents, variable))
                raise ValueError(
                    f"table of {variable.name!r} has shape {tuple(table.shape)}, expected "
                    f"{shape} ({want}; the child on the last axis)"
                )
            if validate:
                table = self._validated(table)
            if in_numpy:
                table = torch.as_tensor(table, dtype=dtype)
        self.register_buffer("probs", table)

    @property
    def shape(self) -> tuple[int, ...]:
        return (*(p.card for p in self.parents), self.variable.card)

    def _validated(self, table: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """``table`` checked (and renormalized when rows miss by a little): a tensor or a
        float64 array, returned as the same kind."""
        name = self.variable.name
        xp = np if isinstance(table, np.ndarray) else torch
        if not xp.isfinite(table).all():
            raise ValueError(f"table of {name!r} has non-finite entries")
        if (table < 0).any():
            idx = tuple(int(i) for i in xp.argwhere(table < 0)[0])
            raise ValueError(f"table of {name!r} has a negative entry at {self._row_name(idx)}")
        miss = abs(table.sum(-1) - 1)
        if (miss > ROW_TOLERANCE).any():
            idx = tuple(int(i) for i in xp.argwhere(miss > ROW_TOLERANCE)[0])
            total = float(table[idx].sum())
            raise ValueError(
                f"table of {name!r}: row {self._row_name(idx)} sums to {total:.6g}, not 1"
            )
        off = miss >= ROUNDING
        if off.any():
            warnings.warn(
                f"table of {name!r}: {int(off.sum())} row(s) miss summing to 1 by at "
                f"most {float(miss.max()):.2g}; renormalized",
                stacklevel=3,
            )
            table = table / table.sum(-1)[..., None]
        return table

    def _row_name(self, index: tuple[int, ...]) -> str:
        parts = [f"{p.name}={p.states[i]}" for p, i in zip(self.parents, index, strict=False)]
        return "(" + ", ".join(parts) + ")" if parts else "(no parents)"

    def forward(
        self, parents: Mapping[str, Tensor], context: Tensor | None = None
    ) -> ExactCategorical:
        """The row p(x | pa) of each parent configuration, kept exactly (zeros score −inf)."""
        if not self.parents:
            return ExactCategorical(self.probs)  # batch ()
        index = []
        for p in self.parents:
            if p.name not in parents:
                raise ValueError(f"factor of {self.name!r}: missing value of parent {p.name!r}")
            index.append(parents[p.name].long())
        return ExactCategorical(self.probs[tuple(index)])  # batch (B,), probs (B, card)

    def draw(self, parents: Mapping[str, Tensor], n: int) -> Tensor:
        """Codes (n,) drawn from p(x | pa) for each of n rows of parent values: the draws of
        ``forward(parents).sample()`` (same random numbers), without building a distribution.
        """
        if not self.parents:  # one row for all n draws, as Categorical.sample((n,))
            return torch.multinomial(self.probs.reshape(1, -1), n, True).reshape(n)
        index = []
        for p in self.parents:
            if p.name not in parents:
                raise ValueError(f"factor of {self.name!r}: missing value of parent {p.name!r}")
            index.append(parents[p.name].long())
        rows = self.probs[tuple(index)]  # (n, card)
        return torch.multinomial(rows, 1, True).reshape(n)

    def num_parameters(self) -> int:
        """(K − 1) Π_{p ∈ Pa} K_p free parameters."""
        return self.probs.numel() // self.variable.card * (self.variable.card - 1)

    # ------------------------------------------------------------------ learning
    def summarize(
        self, value: Tensor, parents: Mapping[str, Tensor], weight: Tensor | None = None
    ) -> Tensor:
        """Sufficient statistics: the (weighted) count table N[pa, x], shape (*parent_cards, card).

        Rows with a missing (−1) child or parent are ignored here; EM handles them.
        """
        codes = [parents[p.name].long() for p in self.parents] + [value.long()]
        keep = torch.stack([c >= 0 for c in codes]).all(0)
        flat = torch.zeros_like(codes[0])
        for c, card in zip(codes, self.shape, strict=True):  # mixed-radix index (B,)
            flat = flat * card + c.clamp_min(0)
        w = torch.ones_like(flat, dtype=self.probs.dtype) if weight is None else weight
        w = w.to(self.probs.dtype) * keep
        counts = torch.zeros(self.probs.numel(), dtype=self.probs.dtype, device=flat.device)
        return counts.index_add_(0, flat, w).reshape(self.shape)

    @torch.no_grad()
    def from_summaries(self, counts: Tensor, pseudo_counts: Tensor | float = 0.0) -> Table:
        """MLE (or MAP/posterior mean with pseudo-counts α): θ = (N + α) / Σ_x (N + α).

        A parent configuration with no data and no pseudo-counts has no estimate: its row
        becomes uniform with an :class:`UnseenParentsWarning` naming the configurations (use a
        prior, e.g. ``BDeu()``, to give every row an estimate).
        """
        total = counts + pseudo_counts
        norm = total.sum(-1, keepdim=True)
        unseen = (norm <= 0).squeeze(-1)  # (*parent_cards,)
        if self.parents and bool(unseen.any()):
            warnings.warn(self._unseen_message(unseen), UnseenParentsWarning, stacklevel=3)
        uniform = torch.full_like(total, 1.0 / self.variable.card)
        self.probs.copy_(torch.where(norm > 0, total / norm.clamp_min(_constants.TINY), uniform))
        return self

    def _unseen_message(self, unseen: Tensor, show: int = 3) -> str:
        rows = unseen.nonzero().tolist()
        names = [
            "("
            + ", ".join(f"{p.name}={p.states[i]}" for p, i in zip(self.parents, r, strict=True))
            + ")"
            for r in rows[:show]
        ]
        more = f" and {len(rows) - show} more" if len(rows) > show else ""
        return (
            f"p({self.name} | {', '.join(self.parent_names)}): {len(rows)} parent "
            f"configuration(s) never seen in the data and without pseudo-counts, "
            f"{', '.join(names)}{more}, have no estimate; their rows are set uniform (give a "
            "prior such as BDeu() to estimate every row)"
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={self.shape}"
