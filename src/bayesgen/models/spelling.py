"""The spelling model of a tagger: p(t | w) for words never seen in training, from their spelling.

A multinomial logistic regression over sparse binary features φ(w) of the word form (suffixes
and prefixes of the lowercase word, its shape, capitals, digits, hyphens, '@', URLs, length):

    p(t | w) = softmax_t(Σ_{f ∈ φ(w)} W[f, t] + b_t),

fitted by L-BFGS on the rare words of the training text (a stand-in for the unseen ones) with an
L2 penalty λ ||W||². The rare words are first grouped into their distinct (form, sentence-initial)
types with a tag-count vector each, which is the sufficient statistic of the loss

    L(W) = -(1/N) Σ_u Σ_t c[u, t] log p(t | w_u) + λ ||W||²,

so a type seen 40 times costs one row, not 40. In an HMM the model enters as the emission
p(w | t) ∝ p(t | w) / P̂(t) (Bayes' rule, with the p(w) factor constant across tags).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from .._checks import check_int, check_real
from ..train.quasi_newton import minimize

__all__ = ["SpellingModel", "spelling_features"]

_UPPER, _LOWER, _DIGIT = re.compile("[A-Z]"), re.compile("[a-z]"), re.compile("[0-9]")
_RUN = re.compile(r"(.)\1+")


def _shape(word: str) -> str:
    """'Xxx-dd' for 'Hello-2021': letters and digits by class, runs cut to two, first 6 kept."""
    s = _DIGIT.sub("d", _LOWER.sub("x", _UPPER.sub("X", word)))
    return _RUN.sub(r"\1\1", s)[:6]


def spelling_features(word: str, first: bool = False) -> list[str]:
    """The binary features φ(w) of a word form (``first``: it opens its sentence)."""
    low = word.lower()
    f = ["bias", "shape=" + _shape(word), f"len={min(len(word), 12)}", "w=" + low]
    f += [f"s{i}={low[-i:]}" for i in range(1, min(len(low), 5) + 1)]
    f += [f"p{i}={low[:i]}" for i in range(1, min(len(low), 3) + 1)]
    if word[0].isupper():
        f.append("cap-first" if first else "cap")
    if word.isupper() and len(word) > 1:
        f.append("all-caps")
    if any(ch.isdigit() for ch in word):
        f.append("digit")
    if not any(ch.isalnum() for ch in word):
        f.append("no-alnum")
    if "-" in word:
        f.append("hyphen")
    if "." in word:
        f.append("period")
    if "@" in word:
        f.append("at")
    if low.startswith(("http", "www")):
        f.append("url")
    return f


class SpellingModel(nn.Module):
    """p(t | w) = softmax(Σ_{f ∈ φ(w)} W[f] + b): a log-linear tag model of the word form.

    Parameters
    ----------
    n_tags : number of tags K.
    l2 : weight λ of the penalty λ ||W||² (the loss is a per-token mean).
    max_iter : L-BFGS iterations.
    """

    def __init__(self, n_tags: int, l2: float = 1e-5, max_iter: int = 150):
        super().__init__()
        self.n_tags = check_int("n_tags", n_tags, low=1, expected="an integer >= 1")
        self.l2 = check_real("l2", l2, low=0)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.features_: pd.Index = pd.Index([], dtype=object)
        self.weight = nn.Parameter(torch.zeros(0, n_tags, dtype=torch.float64))  # (F, K)
        self.bias = nn.Parameter(torch.zeros(n_tags, dtype=torch.float64))  # (K,)

    def encode(self, words: Sequence[str], first: Sequence[bool]) -> tuple[Tensor, Tensor]:
        """Known feature ids of each word, flat (M,), and the offset of each word's ids (U,)."""
        feats = [spelling_features(w, f) for w, f in zip(words, first, strict=True)]
        ids = self.features_.get_indexer([x for f in feats for x in f])
        word = np.repeat(np.arange(len(feats)), [len(f) for f in feats])
        keep = ids >= 0  # features never seen in training carry no weight
        ids, word = ids[keep], word[keep]
        offsets = np.searchsorted(word, np.arange(len(feats)))
        return torch.as_tensor(ids, dtype=torch.long), torch.as_tensor(offsets, dtype=torch.long)

    def logits(self, ids: Tensor, offsets: Tensor) -> Tensor:
        """Σ_{f ∈ φ(w)} W[f] + b for each word: (U, K)."""
        sums = nn.functional.embedding_bag(ids, self.weight, offsets, mode="sum")  # (U, K)
        return sums + self.bias

    def forward(self, words: Sequence[str], first: Sequence[bool] | None = None) -> Categorical:
        """The distribution p(t | w) of each word, batch shape (U,)."""
        first = [False] * len(words) if first is None else first
        return Categorical(logits=self.logits(*self.encode(words, first)))

    def fit(self, words: Sequence[str], first: Sequence[bool], tag_counts: Tensor) -> SpellingModel:
        """Fit on word types with their tag counts c (U, K), the loss's sufficient statistic."""
        tag_counts = torch.as_tensor(tag_counts, dtype=torch.float64)
        if tag_counts.shape != (len(words), self.n_tags):
            raise ValueError(
                f"tag_counts must have shape ({len(words)}, {self.n_tags}), "
                f"got {tuple(tag_counts.shape)}"
            )
        if len(words) == 0 or tag_counts.sum() <= 0:
            raise ValueError("the spelling model needs at least one tagged word to fit")
        feats = [x for w, f in zip(words, first, strict=True) for x in spelling_features(w, f)]
        self.features_ = pd.Index(pd.unique(pd.Series(feats, dtype=object)))
        with torch.no_grad():
            self.weight.data = torch.zeros(len(self.features_), self.n_tags, dtype=torch.float64)
            self.bias.zero_()
        ids, offsets = self.encode(words, first)
        n = tag_counts.sum()

        def loss() -> Tensor:
            logp = torch.log_softmax(self.logits(ids, offsets), dim=1)  # (U, K)
            return -(tag_counts * logp).sum() / n + self.l2 * self.weight.square().sum()

        minimize(loss, self.parameters(), max_iter=self.max_iter, history_size=10)
        return self

    def extra_repr(self) -> str:
        return f"n_tags={self.n_tags}, n_features={len(self.features_)}, l2={self.l2}"
