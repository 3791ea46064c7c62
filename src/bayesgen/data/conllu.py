"""A reader for CoNLL-U treebanks (Universal Dependencies): sentences of words and their tags.

Each token line has 10 tab-separated fields: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC.
Comment lines (``#``) are metadata, a blank line ends a sentence. Multiword-token lines (ID
``1-2``, e.g. "don't" above its syntactic words "do" and "n't") and empty nodes of enhanced
dependencies (ID ``8.1``) are skipped, so a sentence is its sequence of syntactic words, which is
what UPOS tags. A malformed line raises ``ValueError`` naming the file and line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

__all__ = ["Sentence", "read_conllu", "parse_conllu", "write_conllu"]

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*")
_EMPTY_ID = re.compile(r"[0-9]+\.[1-9][0-9]*")


@dataclass
class Sentence:
    """One sentence: its words, their universal (UPOS) and language-specific (XPOS) tags."""

    words: list[str]
    upos: list[str]
    xpos: list[str] = field(default_factory=list)
    sent_id: str | None = None
    text: str | None = None
    line: int = 0  # line number of the sentence's first token

    def __len__(self) -> int:
        return len(self.words)


def parse_conllu(lines: Iterable[str], source: str = "<string>") -> Iterator[Sentence]:
    """Parse CoNLL-U lines into sentences (a generator)."""
    words: list[str] = []
    upos: list[str] = []
    xpos: list[str] = []
    meta: dict[str, str] = {}
    first = 0
    lineno = 0

    def fail(message: str):
        raise ValueError(f"{source}:{lineno}: malformed CoNLL-U: {message}")

    for lineno, raw in enumerate(lines, start=1):  # noqa: B007 (fail() reads lineno)
        line = raw.rstrip("\r\n")
        if not line.strip():
            if words:
                yield Sentence(words, upos, xpos, meta.get("sent_id"), meta.get("text"), first)
            elif meta:
                fail("a sentence with comments but no word lines")
            words, upos, xpos, meta = [], [], [], {}
            continue
        if line.startswith("#"):
            if words:
                fail("a comment line inside a sentence (a blank line must end the sentence)")
            key, sep, value = line[1:].partition("=")
            if sep:
                meta[key.strip()] = value.strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            fail(f"expected 10 tab-separated fields (ID FORM LEMMA UPOS ...), got {len(cols)}")
        ident = cols[0]
        if _RANGE_ID.fullmatch(ident) or _EMPTY_ID.fullmatch(ident):
            continue  # multiword token or empty node
        if not _WORD_ID.fullmatch(ident):
            fail(f"ID must be an integer, a range 'i-j' or a decimal 'i.k', got {ident!r}")
        if int(ident) != len(words) + 1:
            fail(f"word IDs must count 1, 2, 3, ...; expected {len(words) + 1}, got {ident}")
        if not cols[1]:
            fail("FORM (field 2) is empty")
        if not cols[3]:
            fail("UPOS (field 4) is empty")
        if not words:
            first = lineno
        words.append(cols[1])
        upos.append(cols[3])
        xpos.append(cols[4])
    if words:
        yield Sentence(words, upos, xpos, meta.get("sent_id"), meta.get("text"), first)


def read_conllu(path: str | PathLike) -> list[Sentence]:
    """All sentences of a CoNLL-U file (UTF-8)."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        return list(parse_conllu(f, source=str(path)))


def write_conllu(sentences: Iterable[Sentence], path: str | PathLike) -> None:
    """Write sentences with ID, FORM, UPOS and XPOS filled (other fields ``_``)."""
    with Path(path).open("w", encoding="utf-8") as f:
        for s in sentences:
            if s.sent_id is not None:
                f.write(f"# sent_id = {s.sent_id}\n")
            if s.text is not None:
                f.write(f"# text = {s.text}\n")
            xpos = s.xpos or ["_"] * len(s.words)
            for i, (w, u, x) in enumerate(zip(s.words, s.upos, xpos, strict=True), start=1):
                f.write(f"{i}\t{w}\t_\t{u}\t{x}\t_\t_\t_\t_\t_\n")
            f.write("\n")
