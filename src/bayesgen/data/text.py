"""Text corpora as token sequences: read a file as characters or words, split train/validation.

Nothing here downloads anything: the caller passes the path of a local file (for instance Tiny
Shakespeare, ``text/tinyshakespeare.txt`` in the project's data directory).
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

__all__ = ["read_text", "tokenize", "load_corpus", "train_val_split", "lines"]

_WORD = re.compile(r"\w+|[^\w\s]")
_LEVELS = ("char", "word")


def read_text(path: str | PathLike, encoding: str = "utf-8") -> str:
    """The whole file as one string."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {str(path)!r} not found")
    return path.read_text(encoding=encoding)


def tokenize(text: str, level: str = "char") -> str | list[str]:
    """Tokens of ``text``: ``"char"`` keeps the string itself (a sequence of characters),
    ``"word"`` splits into words and punctuation marks (regex ``\\w+|[^\\w\\s]``)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if level == "char":
        return text
    if level == "word":
        return _WORD.findall(text)
    raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")


def train_val_split(tokens, val_fraction: float = 0.1):
    """Contiguous split: the first ``1 - val_fraction`` of the tokens train, the rest validate
    (the usual split of a single text, e.g. 90 % / 10 % for Tiny Shakespeare)."""
    if not isinstance(val_fraction, int | float) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a float in (0, 1), got {val_fraction!r}")
    n = len(tokens)
    if n < 2:
        raise ValueError(f"need at least 2 tokens to split, got {n}")
    cut = min(max(int(n * (1 - val_fraction)), 1), n - 1)
    return tokens[:cut], tokens[cut:]


def load_corpus(
    path: str | PathLike, level: str = "char", val_fraction: float = 0.1, encoding: str = "utf-8"
):
    """Read, tokenize and split a text file: returns ``(train, val)`` token sequences
    (``str`` for characters, lists of ``str`` for words)."""
    return train_val_split(tokenize(read_text(path, encoding), level), val_fraction)


def lines(text: str, level: str = "char", keep_empty: bool = False) -> list:
    """One sequence per line (a sentence-like unit), tokenized at ``level``; empty lines are
    dropped unless ``keep_empty``."""
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    parts = text.split("\n")
    out = parts if level == "char" else list(map(_WORD.findall, parts))
    return out if keep_empty else list(filter(len, out))
