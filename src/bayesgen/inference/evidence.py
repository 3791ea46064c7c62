"""Evidence: from what a user writes to integer codes, single or batched.

Evidence maps a variable name to a state, given as an integer code or a state label. A 1-D
tensor, array or list instead of a single state is a batch of R rows; −1 (or ``None`` / NaN in a
list) means "not observed in this row". A single state must be a valid one: −1 there is an
out-of-range code (to leave a variable unobserved in a single query, leave it out).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Evidence",
    "parse_evidence",
    "parse_targets",
    "with_query_evidence",
    "check_variables",
    "check_targets_free",
    "evidence_codes",
    "unique_rows",
    "split_rows",
]


@dataclass(frozen=True)
class Evidence:
    """Evidence in codes: ``fixed`` name -> code (one state for every row), ``batched``
    name -> long tensor (R,) with −1 where unobserved, and ``rows`` = R (None if unbatched)."""

    fixed: dict[str, int]
    batched: dict[str, Tensor]
    rows: int | None
    origin: Tensor | None = None  # after deduplication: an original row of each distinct row

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fixed) + tuple(self.batched)

    def labels(self, states: Mapping[str, Sequence[str]]) -> dict:
        """The fixed evidence as labels, batched variables as ``"<batched>"``."""
        out = self.describe(states)
        for n in self.batched:
            out[n] = "<batched>"
        return out

    def describe(self, states: Mapping[str, Sequence[str]], row: int | None = None) -> dict:
        """Evidence as labels (one row of a batch when ``row`` is given)."""
        out: dict = {v: states[v][k] for v, k in self.fixed.items()}
        if row is not None:
            for v, codes in self.batched.items():
                k = int(codes[row])
                if k >= 0:
                    out[v] = states[v][k]
        return out


def _valid(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) > 30:
        return ", ".join(map(repr, names[:30])) + f", ... ({len(names) - 30} more)"
    return ", ".join(map(repr, names))


def check_variables(names: Sequence[str], states: Mapping[str, Sequence[str]], what: str) -> None:
    """Raise a ValueError naming every unknown variable and listing the valid ones."""
    unknown = [v for v in names if v not in states]
    if unknown:
        raise ValueError(
            f"unknown {what} {', '.join(map(repr, unknown))}; the network's variables are "
            f"{_valid(states)}"
        )


def _code(name: str, value: object, labels: Sequence[str]) -> int:
    """The code of one state given as a label or an int (NaN: unobserved)."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, str):
        if value in labels:
            return list(labels).index(value)
        raise ValueError(f"unknown state {value!r} of {name!r}; valid states are {list(labels)}")
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return -1  # unobserved
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and value == int(value):
            value = int(value)
        else:
            raise TypeError(
                f"evidence on {name!r} must be a state label or an integer code, got {value!r}"
            )
    code = int(value)
    if not 0 <= code < len(labels):
        unobserved = (
            f"; -1 means unobserved only in a batch of rows: leave {name!r} out of the evidence"
            if code == -1
            else ""
        )
        raise ValueError(
            f"state code {code} of {name!r} is out of range 0..{len(labels) - 1} "
            f"(states {list(labels)}){unobserved}"
        )
    return code


def _codes(name: str, values: object, labels: Sequence[str]) -> Tensor:
    """Codes (R,) of a batch of labels or ints, vectorized; −1, None or NaN mean unobserved."""
    if isinstance(values, Tensor):
        if values.dim() != 1:
            raise ValueError(
                f"batched evidence on {name!r} must be 1-D (R,), got shape {tuple(values.shape)}"
            )
        if values.is_floating_point():
            values = values.detach().cpu().numpy()
        else:
            codes = values.long()
            bad = (codes < -1) | (codes >= len(labels))
            if bad.any():
                raise ValueError(
                    f"state code {int(codes[bad][0])} of {name!r} is out of range "
                    f"0..{len(labels) - 1} (states {list(labels)}); use -1 for unobserved"
                )
            return codes
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.ndim != 1:
        raise ValueError(f"batched evidence on {name!r} must be 1-D (R,), got shape {array.shape}")
    if array.dtype.kind in "iu":
        return _codes(name, torch.as_tensor(array.astype(np.int64)), labels)
    import pandas as pd  # imported when first needed: the command line starts faster

    series = pd.Series(array, dtype=object)
    missing = series.isna().to_numpy()
    text = series.where(~missing, "").astype(str).to_numpy()
    codes = pd.Index(list(labels)).get_indexer(text).astype(np.int64)  # -1 where no label
    unmatched = (codes < 0) & ~missing
    if unmatched.any():
        numeric = pd.to_numeric(pd.Series(array[unmatched]), errors="coerce").to_numpy(float)
        ok = np.isfinite(numeric) & (numeric == np.round(numeric))
        ok &= (numeric >= -1) & (numeric < len(labels))
        # ints are codes, but strings must be labels
        ok &= np.array([not isinstance(v, str) for v in array[unmatched]], dtype=bool)
        if not ok.all():
            bad = array[unmatched][~ok][0]
            raise ValueError(f"unknown state {bad!r} of {name!r}; valid states are {list(labels)}")
        codes[unmatched] = numeric.astype(np.int64)
    codes[missing] = -1
    return torch.from_numpy(codes)


def _is_series(value: object) -> bool:
    pd = sys.modules.get("pandas")  # a Series exists only once pandas is imported
    return pd is not None and isinstance(value, pd.Series)


def parse_evidence(
    evidence: Mapping[str, object] | None, states: Mapping[str, Sequence[str]]
) -> Evidence:
    """Validate and encode ``evidence`` against the variables' ``states``."""
    if evidence is None:
        return Evidence({}, {}, None)
    if not isinstance(evidence, Mapping):
        raise TypeError(
            f"evidence must be a mapping variable -> state, got {type(evidence).__name__}"
        )
    check_variables(list(evidence), states, "evidence variable")
    fixed: dict[str, int] = {}
    batched: dict[str, Tensor] = {}
    rows = None
    for name, value in evidence.items():
        labels = states[name]
        scalar = isinstance(value, (str, int, float, np.integer, np.floating)) or (
            isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0
        )
        if scalar:
            code = _code(name, value, labels)
            if code >= 0:
                fixed[name] = code
            continue
        if value is None:
            continue
        series = _is_series(value)
        if not (isinstance(value, (Tensor, np.ndarray, Sequence)) or series):
            raise TypeError(
                f"evidence on {name!r} must be a state, or a 1-D batch of states, "
                f"got {type(value).__name__}"
            )
        codes = _codes(name, value.to_numpy() if series else value, labels)
        if rows is None:
            rows = len(codes)
        elif len(codes) != rows:
            raise ValueError(
                f"batched evidence must have one length R; {name!r} has {len(codes)} rows, "
                f"others have {rows}"
            )
        if bool((codes >= 0).any()):
            batched[name] = codes
    return Evidence(fixed, batched, rows)


def to_device(ev: Evidence, device: torch.device | None) -> Evidence:
    if device is None:
        return ev
    return Evidence(ev.fixed, {k: v.to(device) for k, v in ev.batched.items()}, ev.rows)


def evidence_codes(ev: Evidence) -> dict[str, int | Tensor]:
    """Evidence back as a plain mapping of codes (ints and (R,) tensors)."""
    return {**ev.fixed, **ev.batched}


def unique_rows(ev: Evidence, cards: Mapping[str, int]) -> tuple[Evidence, Tensor | None]:
    """Evidence with repeated rows merged, and the inverse index (R,) that expands results on
    the distinct rows back to every row (None when nothing repeats).

    Each row is packed into one integer key Σ_j (code_j + 1) Π_{i<j} (card_i + 1), so finding
    the distinct rows is one sort of R integers."""
    if ev.rows is None or ev.rows < 2 or not ev.batched:
        return ev, None
    names = list(ev.batched)
    radix = [cards[n] + 1 for n in names]
    if sum(np.log2(radix)) > 62:  # keys would overflow int64: keep every row
        return ev, None
    key = torch.zeros(ev.rows, dtype=torch.long)
    stride = 1
    for n, r in zip(names, radix, strict=True):
        key += (ev.batched[n].cpu() + 1) * stride
        stride *= r
    distinct, inverse = torch.unique(key, return_inverse=True)  # (U,), (R,)
    if len(distinct) == ev.rows:
        return ev, None
    origin = torch.empty(len(distinct), dtype=torch.long).scatter_(
        0, inverse.flip(0), torch.arange(ev.rows - 1, -1, -1)
    )  # the first row of each distinct row
    batched = {n: ev.batched[n][origin] for n in names}
    return Evidence(ev.fixed, batched, len(distinct), origin), inverse


def split_rows(ev: Evidence, chunk: int | None) -> Iterator[Evidence]:
    """The evidence in consecutive chunks of at most ``chunk`` rows (all of it when None)."""
    if chunk is None or ev.rows is None:
        yield ev
        return
    for start in range(0, ev.rows, chunk):  # chunks of rows, not rows
        stop = min(ev.rows, start + chunk)
        origin = ev.origin[start:stop] if ev.origin is not None else None
        batched = {n: c[start:stop] for n, c in ev.batched.items()}
        yield Evidence(ev.fixed, batched, stop - start, origin)


def parse_targets(targets, states: Mapping[str, Sequence[str]]) -> tuple[list[str], dict]:
    """Query targets as a list of names, and the evidence a query string carried: ``targets``
    is a name, a list of names or a string ``"P(x1, x2 | x3=1)"``."""
    extra: dict = {}
    if isinstance(targets, str):
        if targets.strip().startswith("P("):
            from ..query import parse_query

            targets, extra = parse_query(targets)
        else:
            targets = [targets]
    elif not isinstance(targets, (list, tuple)):
        raise TypeError(
            "targets must be a variable name, a list of names or a query string like "
            f"'P(x1 | x2=0)', got {targets!r}"
        )
    targets = list(targets)
    if not targets:
        raise ValueError("targets must name at least one variable")
    for t in targets:
        if not isinstance(t, str):
            raise TypeError(f"targets must be variable names, got {t!r}")
    check_variables(targets, states, "target")
    seen: set[str] = set()
    dup = sorted({t for t in targets if t in seen or seen.add(t)})
    if dup:
        raise ValueError(f"targets {dup} are repeated")
    return targets, extra


def with_query_evidence(evidence, extra: Mapping[str, str], states) -> Evidence:
    """Parse ``evidence`` merged with the labels a query string gave (``extra``, name ->
    label or code as text); the explicit evidence wins."""
    if extra:
        coded: dict = {}
        for n, label in extra.items():
            check_variables([n], states, "evidence variable")
            if label not in states[n] and label.lstrip("-").isdigit():
                coded[n] = int(label)
            else:
                coded[n] = label
        evidence = {**coded, **(evidence or {})}
    return parse_evidence(evidence, states)


def check_targets_free(targets: Sequence[str], ev: Evidence) -> None:
    """Raise if a query target is also observed."""
    both = [t for t in targets if t in ev.fixed or t in ev.batched]
    if both:
        raise ValueError(
            f"{both} are both query targets and observed in the evidence; "
            "remove them from one of the two"
        )
