"""The counting and persistence helpers of the HMM tagger: tag trigram counts, Brants's deleted
interpolation weights, sentence-start flags, suffix keys, the spelling model's fit on word
types, and tensors as JSON-safe text (safetensors in base64, sparse coordinate lists).
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor

from .spelling import SpellingModel

__all__ = [
    "deleted_interpolation",
    "first_flags",
    "fit_spelling",
    "sparse",
    "suffix_key",
    "tensors_from_text",
    "tensors_to_text",
    "to_sparse",
    "trigram_counts",
]


def fit_spelling(
    words: list[str], first: np.ndarray, tags: np.ndarray, K: int, l2: float
) -> SpellingModel:
    """Fit the spelling model on tokens, grouped first into (form, sentence-initial) types."""
    keys = pd.Series([f"{int(f)}\t{w}" for w, f in zip(words, first, strict=True)], dtype=object)
    codes, types = pd.factorize(keys)
    counts = torch.bincount(
        torch.as_tensor(codes * K + tags, dtype=torch.long), minlength=len(types) * K
    ).reshape(len(types), K)  # (U, K) tag counts of each type
    type_first, _, type_words = zip(*(t.partition("\t") for t in types), strict=True)
    return SpellingModel(K, l2).fit(list(type_words), [f == "1" for f in type_first], counts)


def tensors_to_text(tensors: dict[str, Tensor]) -> str:
    return base64.b64encode(st_save({k: v.contiguous() for k, v in tensors.items()})).decode()


def tensors_from_text(text: str) -> dict[str, Tensor]:
    return st_load(base64.b64decode(text, validate=True))


def suffix_key(word: str, shape: str, i: int) -> str:
    return f"{shape}|{word[len(word) - i :] if i else ''}"


def first_flags(lengths: Tensor) -> Tensor:
    """(N,) True at the first token of each sentence."""
    first = torch.zeros(int(lengths.sum()), dtype=torch.bool)
    first[torch.cumsum(lengths, 0) - lengths] = True
    return first


def to_sparse(counts: Tensor) -> list[list[int]]:
    """A count tensor as coordinate lists [index along each axis ..., values] (for JSON)."""
    idx = counts.nonzero(as_tuple=True)
    return [i.tolist() for i in idx] + [counts[idx].tolist()]


def sparse(coords, shape: tuple[int, ...]) -> Tensor:
    *idx, vals = (torch.tensor(x, dtype=torch.long) for x in coords)
    if len(idx) != len(shape):
        raise ValueError(f"expected {len(shape)} index lists, got {len(idx)}")
    out = torch.zeros(shape, dtype=torch.long)
    out[tuple(idx)] = vals
    return out


def trigram_counts(tags: Tensor, lengths: Tensor, K: int) -> Tensor:
    """Counts f(t1, t2, t3) over sentences padded as <s> <s> t_1 .. t_n </s> (boundary = K)."""
    B = len(lengths)
    aug_len = lengths + 3
    aug = torch.full((int(aug_len.sum()),), K, dtype=torch.long)
    starts = torch.cumsum(aug_len, 0) - aug_len  # (B,)
    pos = torch.arange(len(tags)) - torch.repeat_interleave(
        torch.cumsum(lengths, 0) - lengths, lengths
    )
    aug[torch.repeat_interleave(starts, lengths) + 2 + pos] = tags
    # windows starting at offsets start .. start + n (n + 1 trigrams per sentence)
    first = torch.repeat_interleave(starts, lengths + 1) + (
        torch.arange(int((lengths + 1).sum()))
        - torch.repeat_interleave(torch.cumsum(lengths + 1, 0) - (lengths + 1), lengths + 1)
    )
    idx = (aug[first] * (K + 1) + aug[first + 1]) * (K + 1) + aug[first + 2]
    del B
    return torch.bincount(idx, minlength=(K + 1) ** 3).reshape(K + 1, K + 1, K + 1)


def deleted_interpolation(f123: Tensor) -> Tensor:
    """λ1, λ2, λ3 of Brants (2000): each trigram votes, with its count, for the n-gram order
    whose leave-one-out relative frequency is largest."""
    N = f123.sum()
    f3 = f123.sum((0, 1))
    f23 = f123.sum(0)
    f2 = f23.sum(1)  # count of t2 as a context
    f12 = f123.sum(2)
    i, j, k = f123.nonzero(as_tuple=True)
    c = f123[i, j, k]
    d3 = f12[i, j] - 1
    d2 = f2[j] - 1
    r3 = torch.where(d3 > 0, (c - 1) / d3.clamp_min(1), 0)
    r2 = torch.where(d2 > 0, (f23[j, k] - 1) / d2.clamp_min(1), 0)
    r1 = (f3[k] - 1) / (N - 1)
    pick = torch.stack([r1, r2, r3], 1).argmax(1)  # ties: the lower order (argmax: first)
    lam = torch.zeros(3, dtype=f123.dtype).index_add_(0, pick, c)
    return lam / lam.sum()
