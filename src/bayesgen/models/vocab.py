"""Token vocabularies for sequence models: token <-> integer id, with special tokens.

A :class:`Vocabulary` maps the tokens of a corpus (characters or words, any ``str``) to ids
``0..V-1``. Three special tokens always come first::

    0: <unk>   stands for every token outside the vocabulary
    1: <s>     left padding: the k-token context before the first token of a sequence
    2: </s>    end of sequence

Tokens seen fewer than ``min_count`` times in the fitting corpus are left out and read as
``<unk>``. What happens to an out-of-vocabulary token at encoding time is the *unknown-token
policy*: ``"map"`` reads it as ``<unk>`` (so a smoothed model gives it a finite probability),
``"error"`` raises a ``ValueError`` naming it.

Encoding is vectorized: a hash lookup of the whole flat token list (``pandas.Index``), never a
Python loop over tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .._checks import check_int, check_option

__all__ = ["Vocabulary", "as_sequences"]

_POLICIES = ("map", "error")


def as_sequences(sequences: Iterable[Sequence[str] | str], name: str = "sequences") -> list:
    """Check that ``sequences`` is a non-empty list of token sequences and return it as a list.

    A sequence is a ``str`` (read as its characters) or a list/tuple of ``str`` tokens. A bare
    ``str`` is refused: it would be read as many one-token sequences, which is never meant.
    """
    if isinstance(sequences, str):
        raise TypeError(
            f"{name} must be a list of sequences (str or list of str tokens), got one str; "
            f"pass [text] to use a single text"
        )
    if isinstance(sequences, Tensor | np.ndarray):
        raise TypeError(
            f"{name} must be a list of token sequences (str or list of str); for integer state "
            f"sequences use MarkovChain"
        )
    seqs = list(sequences)
    if not seqs:
        raise ValueError(f"{name} is empty: need at least one sequence")
    bad = set(map(type, seqs)) - {str, list, tuple}
    if bad:
        raise TypeError(
            f"each of {name} must be a str or a list/tuple of str tokens, got "
            f"{sorted(t.__name__ for t in bad)}"
        )
    return seqs


class Vocabulary:
    """Token <-> id map with ``<unk>``, ``<s>``, ``</s>`` and a min-count cut-off.

    Parameters
    ----------
    min_count : tokens seen fewer times than this in the fitting corpus become ``<unk>``.
    unk_policy : ``"map"`` (unknown tokens read as ``<unk>``) or ``"error"`` (raise).
    unk_token, bos_token, eos_token : the spellings of the three special tokens.

    >>> v = Vocabulary().fit(["abca"])
    >>> v.encode("cab").tolist()
    [5, 3, 4]
    >>> v.decode([3, 0, 2])
    ['a', '<unk>', '</s>']
    """

    def __init__(
        self,
        min_count: int = 1,
        unk_policy: str = "map",
        unk_token: str = "<unk>",
        bos_token: str = "<s>",
        eos_token: str = "</s>",
    ):
        min_count = check_int("min_count", min_count, low=1)
        check_option("unk_policy", unk_policy, _POLICIES)
        if unk_policy == "error" and min_count > 1:
            raise ValueError(
                f"min_count={min_count} maps rare training tokens to <unk>, which needs "
                f"unk_policy='map' (got unk_policy='error')"
            )
        specials = (unk_token, bos_token, eos_token)
        if len(set(specials)) != 3 or not all(isinstance(s, str) and s for s in specials):
            raise ValueError(f"the special tokens must be 3 distinct non-empty str, got {specials}")
        self.min_count = min_count
        self.unk_policy = unk_policy
        self.unk_token, self.bos_token, self.eos_token = specials
        self.unk_id, self.bos_id, self.eos_id = 0, 1, 2

    # ------------------------------------------------------------------ fitting
    def fit(self, sequences: Iterable[Sequence[str] | str]) -> Vocabulary:
        """Collect the tokens of ``sequences`` seen at least ``min_count`` times.

        Token ids after the specials follow the tokens' sorted order (so characters keep their
        code-point order).
        """
        seqs = as_sequences(sequences)
        if _all_text(seqs):  # characters: count code points, no Python objects per token
            cps = _codepoints("".join(seqs))
            bc = np.bincount(cps) if cps.size else np.zeros(0, dtype=np.int64)
            present = np.flatnonzero(bc)
            counts = pd.Series(bc[present], index=pd.Index(list(map(chr, present)), dtype=object))
        else:
            counts = pd.Series(_flatten(seqs), dtype=object).value_counts(sort=False)
        if counts.empty:
            raise ValueError("sequences contain no tokens: every sequence is empty")
        specials = {self.unk_token, self.bos_token, self.eos_token}
        clash = specials & set(counts.index)
        if clash:
            raise ValueError(
                f"the corpus contains the special token(s) {sorted(clash)}; choose other "
                f"spellings with Vocabulary(unk_token=..., bos_token=..., eos_token=...)"
            )
        kept = sorted(counts.index[counts.to_numpy() >= self.min_count])
        self.itos_: list[str] = [self.unk_token, self.bos_token, self.eos_token, *kept]
        self.counts_: dict[str, int] = {t: int(c) for t, c in counts.items()}
        self._index = pd.Index(self.itos_, dtype=object)
        self._itos_array = np.array(self.itos_, dtype=object)
        chars = [(ord(t), i) for i, t in enumerate(self.itos_) if len(t) == 1]
        self._char_ids = np.full(max((c for c, _ in chars), default=-1) + 1, -1, dtype=np.int64)
        for c, i in chars:  # a loop over the vocabulary, not the data
            self._char_ids[c] = i
        return self

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], **kwargs) -> Vocabulary:
        """A vocabulary holding exactly ``tokens`` (each counted once, ``min_count`` 1)."""
        return cls(**kwargs).fit([list(tokens)])

    def _check_fitted(self) -> None:
        if not hasattr(self, "itos_"):
            raise RuntimeError("this Vocabulary is not fitted yet; call fit(sequences) first")

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        self._check_fitted()
        return len(self.itos_)

    def __contains__(self, token: object) -> bool:
        self._check_fitted()
        return token in self._index

    def __repr__(self) -> str:
        size = len(self.itos_) if hasattr(self, "itos_") else "unfitted"
        return (
            f"Vocabulary(size={size}, min_count={self.min_count}, unk_policy={self.unk_policy!r})"
        )

    @property
    def stoi(self) -> dict[str, int]:
        self._check_fitted()
        return {t: i for i, t in enumerate(self.itos_)}

    # ------------------------------------------------------------------ encode / decode
    def encode(self, sequence: Sequence[str] | str) -> Tensor:
        """Ids of one sequence, shape ``(T,)``; unknown tokens follow ``unk_policy``."""
        if not isinstance(sequence, str | list | tuple):
            raise TypeError(
                f"sequence must be a str or a list/tuple of str tokens, got {type(sequence)}"
            )
        if isinstance(sequence, str):
            return self.encode_text(sequence)
        return self.encode_flat(list(sequence))

    def encode_batch(self, sequences: Iterable[Sequence[str] | str]) -> tuple[Tensor, Tensor]:
        """All sequences at once: flat ids ``(N,)`` and lengths ``(B,)``."""
        seqs = as_sequences(sequences)
        lengths = torch.tensor(list(map(len, seqs)), dtype=torch.long)
        if _all_text(seqs):
            return self.encode_text("".join(seqs)), lengths
        return self.encode_flat(_flatten(seqs)), lengths

    def encode_text(self, text: str) -> Tensor:
        """Ids of the characters of ``text`` (a code-point table lookup), shape ``(T,)``."""
        self._check_fitted()
        cps = _codepoints(text)
        ids = np.full(cps.shape, -1, dtype=np.int64)
        inside = cps < self._char_ids.size
        ids[inside] = self._char_ids[cps[inside]]
        return self._resolve_unknown(ids, lambda missing: list(map(chr, cps[missing])))

    def encode_flat(self, tokens: list) -> Tensor:
        self._check_fitted()
        if not tokens:
            return torch.zeros(0, dtype=torch.long)
        ids = self._index.get_indexer(pd.Index(tokens, dtype=object))
        return self._resolve_unknown(
            ids, lambda missing: list(np.asarray(tokens, dtype=object)[missing])
        )

    def _resolve_unknown(self, ids: np.ndarray, unknown_tokens) -> Tensor:
        """Apply the unknown-token policy to the ids -1 of tokens outside the vocabulary."""
        missing = ids < 0
        if missing.any():
            if self.unk_policy == "error":
                unknown = pd.unique(np.asarray(unknown_tokens(missing), dtype=object))
                raise ValueError(
                    f"{len(unknown)} token(s) not in the vocabulary (unk_policy='error'): "
                    f"{list(unknown[:10])}{' ...' if len(unknown) > 10 else ''}; use "
                    f"unk_policy='map' to read them as {self.unk_token!r}"
                )
            ids[missing] = self.unk_id
        return torch.from_numpy(ids.astype(np.int64))

    def decode(self, ids: Tensor | Sequence[int]) -> list[str]:
        """Tokens of a 1-D id sequence."""
        self._check_fitted()
        ids = np.asarray(torch.as_tensor(ids).cpu(), dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.itos_)):
            raise ValueError(
                f"ids must lie in [0, {len(self.itos_)}), got {ids.min()}..{ids.max()}"
            )
        return self._itos_array[ids].tolist()


def _all_text(seqs: list) -> bool:
    return set(map(type, seqs)) == {str}


def _codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as int64, shape ``(len(text),)``."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def _flatten(seqs: list) -> list:
    """Concatenate sequences (a str contributes its characters) into one list of tokens."""
    flat = list(chain.from_iterable(seqs))
    if flat and set(map(type, flat)) - {str}:
        bad = sorted({type(t).__name__ for t in flat} - {"str"})
        raise TypeError(f"tokens must be str, got {bad}; for integer states use MarkovChain")
    return flat
