"""The tagger's input: raw text split into sentences of tokens, and the forms of (tagged)
sentences :class:`~bayesgen.models.tagger.HMMTagger` accepts."""

from __future__ import annotations

import re

__all__ = ["tokenize", "as_sentences"]

_TOKEN = re.compile(
    r"[A-Za-z]+(?=n't\b)|n't\b|'(?:s|re|ll|ve|m|d)\b"  # clitics: do n't, it 's
    r"|(?:https?://|www\.)\S+?(?=[.,!?;:)\]'\"]*(?:\s|$))"  # URLs, less trailing punctuation
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|(?:[A-Za-z]\.){2,}"  # abbreviations: U.S.
    r"|\d+(?:[.,:/]\d+)*|\w+(?:[-.]\w+)*|[^\w\s]"  # numbers, words, one punctuation mark
)


def tokenize(text: str) -> list[list[str]]:
    """Split raw text into sentences (one per non-empty line) of tokens: whitespace and
    punctuation split, with English clitics ("n't", "'s") and URLs kept as tokens."""
    return [toks for line in text.splitlines() if (toks := _TOKEN.findall(line))]


def as_sentences(data) -> tuple[list[list[str]], list[list[str]] | None]:
    """Accept Sentence objects, (words, tags) pairs, or lists of words."""
    words, tags = [], []
    for i, s in enumerate(data):
        if hasattr(s, "words"):
            w, t = list(s.words), list(getattr(s, "upos", []) or [])
        elif isinstance(s, tuple) and len(s) == 2 and not isinstance(s[0], str):
            w, t = list(s[0]), list(s[1])
        elif isinstance(s, (list, tuple)):
            w, t = list(s), []
        else:
            raise TypeError(
                f"sentence {i} must be a Sentence, a (words, tags) pair or a list of words, "
                f"got {type(s).__name__}"
            )
        if not w:
            raise ValueError(f"sentence {i} is empty")
        if t and len(t) != len(w):
            raise ValueError(f"sentence {i} has {len(w)} words but {len(t)} tags")
        if not all(isinstance(x, str) and x for x in w):
            raise TypeError(f"sentence {i}: words must be non-empty strings")
        words.append(w)
        tags.append(t)
    if not words:
        raise ValueError("no sentences given")
    has = [bool(t) for t in tags]
    return words, (tags if all(has) else None)
