"""Data for fitting: columns of labels or codes to tensors, missing entries, duplicate rows.

A data set is a DataFrame or a mapping name -> values; :func:`encode_data` turns it into
name -> tensor (B, *shape) with discrete states as integer codes 0..r−1. Missing cells become
−1 (discrete) or NaN (continuous); a variable with no column at all is missing in every row
(latent). :func:`missing_variables` gives the mask of unobserved rows per variable. Identical rows
of all-discrete data can be merged into one weighted row (:func:`merge_duplicates`): a weighted
sum over the distinct rows,

    Σ_b w_b f(x_b) = Σ_u (Σ_{b: x_b = u} w_b) f(u),

leaves every full-batch objective unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..variables import Discrete

__all__ = [
    "encode_data",
    "widen",
    "code_dtype",
    "missing_variables",
    "n_rows",
    "merge_duplicates",
]


def encode_data(
    net: Any, data: Any, *, allow_missing: bool = True, compact: bool = False
) -> dict[str, Tensor]:
    """``net.encode`` with a fast path for DataFrame columns of state labels (categorical dtype:
    the column's own codes, through a lookup table when its categories are not the states in
    order; object or string dtype: one hash pass per column). Missing cells become −1
    (discrete) or NaN (continuous). ``compact`` keeps discrete codes in the smallest signed
    integer type that holds them (int8 for up to 127 states) instead of int64: counting then
    moves an eighth of the memory."""
    if not isinstance(data, pd.DataFrame):
        out = net.encode(data, allow_missing=allow_missing)
        return _compact(net, out) if compact else out
    done: dict[str, Tensor] = {}
    rest = []
    variables = net.variables
    for col, series in data.items():
        var = variables.get(col) if isinstance(col, str) else None
        codes = _label_codes(series, var) if isinstance(var, Discrete) else None
        if codes is None:
            rest.append(col)
            continue
        if not allow_missing and bool((codes < 0).any()):
            row = int((codes < 0).nonzero()[0])
            raise ValueError(f"column {col!r} has a missing value in row {row}")
        done[col] = codes if compact else codes.long()
    out = net.encode(data[rest], allow_missing=allow_missing) if rest else {}
    if compact:
        out = _compact(net, out)
    out.update(done)
    return {n: out[n] for n in net.order if n in out}


def code_dtype(card: int) -> torch.dtype:
    """The smallest signed integer type holding the codes −1..card−1."""
    for dtype in (torch.int8, torch.int16, torch.int32):
        if card <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


def _compact(net: Any, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Discrete codes in :func:`code_dtype` of their variable's cardinality."""
    out = {}
    variables = net.variables
    for n, v in values.items():
        var = variables[n]
        out[n] = v.to(code_dtype(var.card)) if isinstance(var, Discrete) else v
    return out


def widen(net: Any, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Discrete codes back to int64 (what factors and the inference engine index with)."""
    variables = net.variables
    return {
        n: v.long() if isinstance(variables[n], Discrete) and v.dtype != torch.long else v
        for n, v in values.items()
    }


def _label_codes(series: pd.Series, var: Discrete) -> Tensor | None:
    """Compact codes of a column of state labels, or None when it needs the general path."""
    dtype = code_dtype(var.card)
    if isinstance(series.dtype, pd.CategoricalDtype):
        cat = series.array  # a pandas Categorical
        cats = [str(c) for c in cat.categories]
        if not all(c in var.states for c in cats):
            return None
        codes = np.array(cat.codes, copy=True)  # −1 where missing
        if cats != list(var.states[: len(cats)]):  # other order: through a lookup table
            lut = np.array([var.states.index(c) for c in cats] + [-1], dtype=np.int64)
            codes = lut[codes]
        return torch.from_numpy(codes).to(dtype)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        codes = pd.Index(var.states).get_indexer(series)  # −1: missing or unknown
        if ((codes < 0) & series.notna().to_numpy()).any():
            return None  # numbers as codes, or unknown labels: the general path reports them
        return torch.from_numpy(codes).to(dtype)
    return None


def missing_variables(net: Any, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """name -> boolean mask (B,) of the rows where the variable is unobserved, for every variable
    that is missing somewhere (an absent column is missing in every row)."""
    if not values:
        raise ValueError(f"data has none of the network's variables {list(net.variables)}")
    b = next(iter(values.values())).shape[0]
    out = {}
    for name, var in net.variables.items():
        if name not in values:
            out[name] = torch.ones(b, dtype=torch.bool)
            continue
        v = values[name]
        if isinstance(var, Discrete):
            if v.numel() == 0 or int(v.min()) >= 0:  # one reduction, no mask, when complete
                continue
            mask = v < 0
        else:
            mask = torch.isnan(v.reshape(b, -1)).any(1)
        if mask.any():
            out[name] = mask
    return out


def n_rows(values: Mapping[str, Tensor]) -> int:
    """The number of rows B of encoded data (the leading size of its first column)."""
    return int(next(iter(values.values())).shape[0])


def merge_duplicates(
    net: Any, values: Mapping[str, Tensor], weights: Tensor | None = None
) -> tuple[Mapping[str, Tensor], Tensor | None]:
    """Identical rows of all-discrete data merged into one row weighted by their total weight
    (full-batch objectives are unchanged; their cost falls to the number of distinct rows)."""
    names = list(values)
    variables = net.variables
    if not names or not all(isinstance(variables[n], Discrete) for n in names):
        return values, weights
    codes = torch.stack([values[n] for n in names], 1)  # (B, V)
    uniq, inverse = torch.unique(codes, dim=0, return_inverse=True)  # (U, V), (B,)
    if uniq.shape[0] == codes.shape[0]:
        return values, weights
    w = torch.ones(codes.shape[0], dtype=torch.float64) if weights is None else weights.double()
    merged = torch.zeros(uniq.shape[0], dtype=torch.float64).index_add_(0, inverse, w)  # (U,)
    return {n: uniq[:, j].contiguous() for j, n in enumerate(names)}, merged
