"""Labelled results of inference: a posterior table and a most probable explanation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .._checks import check_int

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Posterior", "Explanation"]


#: the most decimals printed (float64 carries 17 significant digits)
_MAX_DIGITS = 17


def _condition(evidence: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in evidence.items())


class Posterior:
    """P(variables | evidence) as a labelled tensor.

    ``probs`` has shape (*cards) or, for batched evidence, (R, *cards); ``states[i]`` are the
    labels of ``variables[i]``. Index by state labels (or codes): ``post["1"]``,
    ``post["yes", "no"]`` for a joint; the result is a tensor of shape () or (R,).
    """

    def __init__(
        self,
        variables: Sequence[str],
        states: Sequence[Sequence[str]],
        probs: Tensor,
        evidence: Mapping[str, object] | None = None,
        batched: bool = False,
    ):
        self.variables = tuple(variables)
        self.states = tuple(tuple(s) for s in states)
        self.probs = probs
        self.evidence = dict(evidence or {})
        self.batched = batched

    @property
    def rows(self) -> int | None:
        return self.probs.shape[0] if self.batched else None

    def _codes(self, key) -> tuple[int, ...]:
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) != len(self.variables):
            raise KeyError(
                f"{self.title} needs one state per variable {list(self.variables)}, got {key!r}"
            )
        codes = []
        for v, labels, k in zip(self.variables, self.states, key, strict=True):
            if isinstance(k, str):
                if k not in labels:
                    raise KeyError(f"unknown state {k!r} of {v!r}; valid states are {list(labels)}")
                codes.append(labels.index(k))
            elif isinstance(k, int) and 0 <= k < len(labels):
                codes.append(k)
            else:
                raise KeyError(f"unknown state {k!r} of {v!r}; valid states are {list(labels)}")
        return tuple(codes)

    def __getitem__(self, key) -> Tensor:
        codes = self._codes(key)
        return self.probs[(slice(None), *codes)] if self.batched else self.probs[codes]

    @property
    def title(self) -> str:
        cond = _condition(self.evidence)
        head = ", ".join(self.variables)
        if self.batched:
            cond = (cond + ", " if cond else "") + f"{self.rows} evidence rows"
        return f"P({head} | {cond})" if cond else f"P({head})"

    def _rows(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        for codes in itertools.product(*(range(len(s)) for s in self.states)):
            label = ", ".join(
                f"{v}={s[c]}" for v, s, c in zip(self.variables, self.states, codes, strict=True)
            )
            yield label, codes

    def __str__(self) -> str:
        return self.to_string()

    def to_string(self, digits: int = 4) -> str:
        """The table as text, each probability with ``digits`` decimals."""
        digits = check_int("digits", digits, 0, _MAX_DIGITS)
        rows = list(self._rows())
        width = max(len(label) for label, _ in rows)
        lines = [self.title]
        probs = self.probs.detach().cpu()
        if not self.batched:
            for label, codes in rows:
                lines.append(f"{label:<{width}}  {float(probs[codes]):.{digits}f}")
            return "\n".join(lines)
        shown = min(self.rows, 5)
        col = max(7, digits + 3)
        head = "  ".join(f"{'row ' + str(r):>{col}}" for r in range(shown))
        lines.append(" " * width + "  " + head)
        for label, codes in rows:
            vals = "  ".join(f"{float(probs[(r, *codes)]):>{col}.{digits}f}" for r in range(shown))
            lines.append(f"{label:<{width}}  {vals}")
        if self.rows > shown:
            lines.append(f"... ({self.rows - shown} more rows)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Posterior({self.title}, shape={tuple(self.probs.shape)})"

    def to_pandas(self) -> pd.DataFrame:
        """One row per joint state (columns: the variables, then ``probability``); batched:
        one row per evidence row and one column per joint state."""
        import pandas as pd  # imported when first needed: the command line starts faster

        rows = list(self._rows())
        probs = self.probs.detach().cpu()
        if not self.batched:
            data = {
                v: [self.states[i][codes[i]] for _, codes in rows]
                for i, v in enumerate(self.variables)
            }
            data["probability"] = [float(probs[codes]) for _, codes in rows]
            return pd.DataFrame(data)
        flat = probs.reshape(self.rows, -1).numpy()
        columns = [label for label, _ in rows]
        return pd.DataFrame(flat, columns=columns)

    def to_dict(self) -> dict:
        """A JSON-ready dict: variables, states, evidence and the nested list of probabilities."""
        return {
            "variables": list(self.variables),
            "states": {v: list(s) for v, s in zip(self.variables, self.states, strict=True)},
            "evidence": {k: v for k, v in self.evidence.items()},
            "probs": self.probs.detach().cpu().tolist(),
        }


class Explanation(Mapping):
    """A most probable (joint or marginal-MAP) assignment: a mapping name -> state code (an int,
    or a long tensor (R,) for batched evidence), plus ``log_prob`` = log P(assignment, evidence)."""

    def __init__(
        self,
        assignment: Mapping[str, int | Tensor],
        log_prob: Tensor,
        states: Mapping[str, Sequence[str]],
    ):
        self.assignment = dict(assignment)
        self.log_prob = log_prob
        self._states = {k: tuple(states[k]) for k in self.assignment}

    def __getitem__(self, name: str) -> int | Tensor:
        return self.assignment[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.assignment)

    def __len__(self) -> int:
        return len(self.assignment)

    @property
    def prob(self) -> Tensor:
        return self.log_prob.exp()

    @property
    def labels(self) -> dict[str, str | list[str]]:
        """The assignment as state labels (lists of labels when batched)."""
        out: dict[str, str | list[str]] = {}
        for k, v in self.assignment.items():
            if isinstance(v, Tensor):
                out[k] = [self._states[k][int(c)] for c in v.tolist()]
            else:
                out[k] = self._states[k][v]
        return out

    def to_dict(self) -> dict:
        lp = self.log_prob.detach().cpu()
        return {
            "assignment": self.labels,
            "log_prob": lp.tolist() if lp.dim() else float(lp),
        }

    def __str__(self) -> str:
        return self.to_string()

    def to_string(self, digits: int = 4) -> str:
        """The assignment as ``name=state, ...  (p = ...)``, p to ``digits`` significant digits."""
        digits = check_int("digits", digits, 1, _MAX_DIGITS)
        lp = self.log_prob.detach().cpu()
        if lp.dim():
            shown = [round(v, digits) for v in lp[:5].tolist()]
            return f"Explanation({lp.shape[0]} rows, log_prob {shown}...)"
        body = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        return f"{body}  (p = {float(torch.exp(lp)):.{digits}g})"

    def __repr__(self) -> str:
        return f"Explanation({self.assignment!r}, log_prob={self.log_prob!r})"
