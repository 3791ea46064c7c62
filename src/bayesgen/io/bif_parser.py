"""The BIF parser: tokens, the grammar of network, variable and probability blocks, and the
tables read from the blocks' bodies.

Structure is walked token by token (recursive descent); a probability block in the usual layout
``(l1, .., lk) v1, .., vc;`` is read column-wise without a Python loop over its rows
(:meth:`Parser.regular_rows`), any other block row by row (:meth:`Parser.body`), which is where
errors are located. Token indices stand in for positions: a line number is computed only for an
error message. Numbers are read with ``float`` after a character check, so nothing in a file is
ever evaluated.
"""

from __future__ import annotations

import itertools
import re
from math import prod

import numpy as np

from .._budget import check_memory, memory_budget
from .._format import readable_int

__all__ = ["Parser"]

_PUNCT = frozenset("{}()[],;|")
# a quoted string | one punctuation mark | a bare word | a stray quote (an unterminated string)
_TOKEN = re.compile(r'"[^"\n]*"|[{}()\[\],;|]|[^\s{}()\[\],;|"]+|"')
# quoted strings are kept (a '//' inside one is not a comment); a '/*' without its '*/' is an error
_COMMENT = re.compile(r'("[^"\n]*")|//[^\n]*|/\*.*?\*/|(/\*)', re.DOTALL)
# characters that may appear in a number; anything else (letters, '_', '(', quotes) is rejected
# before float() sees it, so 'nan', 'inf', '1_0' or an expression never pass as a probability
_NOT_NUMERIC = re.compile(r"[^0-9eE.+\-\s]")
_SHOWN_PARENTS = 5  # parents named in an error about a table's size


def _short(header: str) -> str:
    """``p(C | P0, P1, ..., P39)`` for a long header: the first parents and how many."""
    head, bar, parents = header[2:-1].partition(" | ")
    names = parents.split(", ") if bar else []
    if len(names) <= _SHOWN_PARENTS:
        return header
    shown = ", ".join(names[:_SHOWN_PARENTS])
    return f"p({head} | {shown}, ... {len(names)} parents)"


class _Block:
    """One probability block: child, parents and where its body lies in the token list."""

    __slots__ = ("child", "parents", "at", "body", "end")

    def __init__(self, child: str, parents: list[str], at: int, body: int, end: int):
        self.child, self.parents, self.at, self.body, self.end = child, parents, at, body, end


class _Rows:
    """What the row-by-row reading of a block collects: per labelled row its flat parent index
    and token index; per value list (row, 'table' or 'default') its values, first token and
    stride; and which value lists are the 'table' and the 'default'."""

    __slots__ = ("flat", "at", "segments", "table", "default")

    def __init__(self) -> None:
        self.flat: list[int] = []
        self.at: list[int] = []
        self.segments: list[tuple[list[str], int, int]] = []
        self.table: int | None = None
        self.default: int | None = None


class Parser:
    """Recursive descent over a token list; token indices stand in for positions until an error.

    The structure (network, variables, block headers) is walked token by token. A probability
    block in the usual layout is read column-wise in one go (:meth:`regular_rows`); any other
    block, or a wrong one, row by row (:meth:`body`), which is where errors are located. Either
    way the per-entry work is the tokenizer's regex and one ``float`` per number.
    """

    def __init__(self, text: str, source: str):
        self.source = source
        text = text.removeprefix("\ufeff")  # a byte-order mark left by an editor
        if "//" in text or "/*" in text:
            text = _COMMENT.sub(self._strip_comment, text)
        self.text = text
        self.tokens: list[str] = _TOKEN.findall(text)
        self.n = len(self.tokens)
        self.i = 0
        self.name: str | None = None
        self.states: dict[str, tuple[str, ...]] = {}
        self.declared_at: dict[str, int] = {}
        self.blocks: dict[str, _Block] = {}

    # -------------------------------------------------------------------- errors and lines
    def _strip_comment(self, m: re.Match) -> str:
        if m.group(1) is not None:
            return m.group(1)
        if m.group(2) is not None:
            line = m.string.count("\n", 0, m.start()) + 1
            raise ValueError(f"{self.source}:{line}: unterminated comment '/*'")
        return " " + "\n" * m.group(0).count("\n")  # keep the line numbers of what follows

    def line(self, k: int) -> int:
        """Line number of token ``k`` (found again by re-tokenizing; used on errors only)."""
        if k >= self.n:
            return self.text.count("\n") + 1
        m = next(itertools.islice(_TOKEN.finditer(self.text), k, None))
        return self.text.count("\n", 0, m.start()) + 1

    def error(self, message: str, at: int | None = None) -> ValueError:
        return ValueError(f"{self.source}:{self.line(self.i if at is None else at)}: {message}")

    def got(self, k: int | None = None) -> str:
        k = self.i if k is None else k
        if k >= self.n:
            return "end of file"
        tok = self.tokens[k]
        return "an unterminated string" if tok == '"' else repr(tok)

    # -------------------------------------------------------------------- small steps
    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < self.n else None

    def expect(self, tok: str, where: str) -> None:
        if self.peek() != tok:
            raise self.error(f"expected {tok!r} {where}, got {self.got()}")
        self.i += 1

    def word(self, what: str) -> str:
        tok = self.peek()
        if tok is None or tok in _PUNCT or tok == '"':
            raise self.error(f"expected {what}, got {self.got()}")
        if tok[0] == '"' and not tok[1:-1].strip():
            raise self.error(f"expected {what}, got the empty name {tok}")
        self.i += 1
        return tok[1:-1] if tok[0] == '"' else tok

    def skip_property(self) -> None:
        """``property <anything> ;`` (quoted strings are single tokens)."""
        self.i += 1
        try:
            self.i = self.tokens.index(";", self.i) + 1
        except ValueError:
            raise self.error("expected ';' after property, got end of file") from None

    def names_until(self, close: str, what: str) -> list[str]:
        """Names separated by commas (or white space) up to ``close``, which is consumed."""
        out: list[str] = []
        while True:
            if self.peek() == close:
                self.i += 1
                return out
            if out and self.peek() == ",":
                self.i += 1
            out.append(self.word(what))

    # -------------------------------------------------------------------- the grammar
    def parse(self) -> Parser:
        while self.i < self.n:
            kw = self.tokens[self.i]
            if kw == "network":
                self.network()
            elif kw == "variable":
                self.variable()
            elif kw == "probability":
                self.probability_header()
            else:
                raise self.error(
                    f"expected 'network', 'variable' or 'probability', got {self.got()}"
                )
        if not self.states:
            what = "is empty" if not self.tokens else "declares no variable"
            raise self.error(f"the file {what}: a BIF network needs 'variable' blocks", 0)
        for block in self.blocks.values():  # variables may be declared after their use
            for v in (block.child, *block.parents):
                if v not in self.states:
                    spelled = (v, f'"{v}"')
                    k = next(j for j in range(block.at, block.body) if self.tokens[j] in spelled)
                    pa = ", ".join(block.parents)
                    head = f"( {block.child} | {pa} )" if pa else f"( {block.child} )"
                    raise self.error(
                        f"unknown variable {v!r} in probability {head}; it has no 'variable' block",
                        k,
                    )
        for child, at in self.declared_at.items():
            if child not in self.blocks:
                raise self.error(f"variable {child!r} has no probability block", at)
        return self

    def network(self) -> None:
        at = self.i
        self.i += 1
        if self.name is not None:
            raise self.error("a second 'network' block", at)
        self.name = self.word("a network name")
        self.expect("{", "after the network name")
        while (tok := self.peek()) != "}":
            if tok == "property":
                self.skip_property()
            else:
                raise self.error(
                    f"expected 'property' or '}}' in the network block, got {self.got()}"
                )
        self.i += 1

    def variable(self) -> None:
        at = self.i
        self.i += 1
        var = self.word("a variable name")
        if var in self.declared_at:
            first = self.line(self.declared_at[var])
            raise self.error(f"variable {var!r} declared twice (first at line {first})", at + 1)
        self.expect("{", f"after 'variable {var}'")
        states: list[str] | None = None
        while (tok := self.peek()) != "}":
            if tok == "type":
                if states is not None:
                    raise self.error(f"variable {var!r} has a second 'type'")
                states = self.variable_type(var)
            elif tok == "property":
                self.skip_property()
            else:
                raise self.error(
                    f"expected 'type', 'property' or '}}' in variable {var!r}, got {self.got()}"
                )
        self.i += 1
        if states is None:
            raise self.error(f"variable {var!r} has no 'type discrete [ n ] {{ ... }};'", at)
        self.states[var] = tuple(states)
        self.declared_at[var] = at + 1

    def variable_type(self, var: str) -> list[str]:
        """``type discrete [ n ] { s1, s2, ... } ;``"""
        self.i += 1
        kind = self.word("a variable type")
        if kind != "discrete":
            raise self.error(
                f"variable {var!r} has type {kind!r}; only 'discrete' variables are supported",
                self.i - 1,
            )
        self.expect("[", "after 'type discrete'")
        at = self.i
        count = self.word("the number of states")
        if not (count.isascii() and count.isdigit()):
            raise self.error(f"expected the number of states of {var!r}, got {count!r}", at)
        self.expect("]", "after the number of states")
        self.expect("{", "before the states")
        at_states = self.i
        states = self.names_until("}", f"a state name of {var!r}")
        self.expect(";", f"after the states of {var!r}")
        if len(states) != int(count):
            raise self.error(
                f"variable {var!r} declares {count} states but lists {len(states)}: {states}",
                at,
            )
        if len(set(states)) != len(states):
            dup = sorted({s for s in states if states.count(s) > 1})
            raise self.error(f"variable {var!r} lists the states {dup} twice", at_states)
        return states

    def probability_header(self) -> None:
        """``probability ( X | P1, P2 ) {`` or JavaBayes' ``probability ( X P1 P2 ) {``.

        The body is cut at its closing brace and parsed once every variable is declared.
        """
        at = self.i
        self.i += 1
        self.expect("(", "after 'probability'")
        child = self.word("the variable of the probability block")
        if self.peek() == "|":
            self.i += 1
            parents = self.names_until(")", f"a parent of {child!r}")
        else:
            if self.peek() == ",":
                self.i += 1
            parents = self.names_until(")", f"a parent of {child!r}")
        if len(set(parents)) != len(parents) or child in parents:
            raise self.error(f"the probability block of {child!r} repeats a variable", at)
        if child in self.blocks:
            first = self.line(self.blocks[child].at)
            raise self.error(
                f"a second probability block for {child!r} (first at line {first})", at
            )
        self.expect("{", f"after the header of the probability block of {child!r}")
        body = self.i
        try:
            self.i = self.tokens.index("}", self.i) + 1
        except ValueError:
            message = f"the probability block of {child!r} has no closing '}}'"
            raise self.error(message, at) from None
        self.blocks[child] = _Block(child, parents, at, body, self.i - 1)

    def values(self, end: int, what: str) -> tuple[list[str], int, int]:
        """The values from the cursor to the next ';' before token ``end`` (the block's '}').

        ``v, v, ...`` or JavaBayes' ``v v ...``. Returns (values, first token index, stride) so
        that a bad value can be traced back to its line.
        """
        start = self.i
        try:
            stop = self.tokens.index(";", start, end)
        except ValueError:
            stop = end  # no ';' before the block's '}': the error is at the first misfit
        seg = self.tokens[start:stop]
        if not seg:
            raise self.error(f"expected a number in {what}, got {self.got()}")
        if "," not in seg:
            values, stride = seg, 1
            if not _PUNCT.isdisjoint(seg):
                k = start + next(k for k, tok in enumerate(seg) if tok in _PUNCT)
                raise self.error(f"expected ';' after {what}, got {self.got(k)}", k)
        elif len(seg) % 2 and seg[1::2].count(",") == len(seg) // 2:
            values, stride = seg[0::2], 2
        else:  # find where the alternation value , value , ... breaks
            for k, tok in enumerate(seg):
                if k % 2 == 0 and tok == ",":
                    raise self.error(f"expected a number in {what}, got ','", start + k)
                if k % 2 == 1 and tok != ",":
                    got = self.got(start + k)
                    raise self.error(f"expected ';' after {what}, got {got}", start + k)
            raise self.error(f"expected a number in {what}, got {self.got(stop)}", stop)
        if stop == end:
            raise self.error(f"expected ';' after {what}, got {self.got(end)}", end)
        self.i = stop + 1
        return values, start, stride

    def body(self, block: _Block) -> np.ndarray:
        """The table (*parent_cards, card) of one probability block."""
        self.i = block.body
        child, parents = block.child, block.parents
        card = len(self.states[child])
        cards = [len(self.states[p]) for p in parents]
        n_rows = prod(cards)
        lookup = [{s: k for k, s in enumerate(self.states[p])} for p in parents]
        strides = [prod(cards[k + 1 :]) for k in range(len(cards))]
        header = f"p({child} | {', '.join(parents)})" if parents else f"p({child})"
        # a table of 2^40 rows is refused here, before numpy is asked for it
        if 8 * n_rows * card > memory_budget():  # (the line is looked up on errors only)
            check_memory(
                8 * n_rows * card,
                f"{self.source}:{self.line(block.at)}: the table of {_short(header)} "
                f"({readable_int(n_rows)} rows of {card})",
                advice="give the variable fewer parents",
            )

        out = np.empty((n_rows, card))  # (rows, card), rows in C order over the parents
        fast = self.regular_rows(block, card, lookup, strides)
        if fast is not None:  # every row present once, in the canonical layout
            index, data = fast
            if index.size == n_rows and np.unique(index).size == n_rows:
                out[index] = data
                return out.reshape(*cards, card)
        rows = _Rows()
        while (tok := self.peek()) != "}":
            if tok == "(":
                self.labelled_row(block, header, card, lookup, strides, rows)
            elif tok in ("table", "default"):
                self.whole_or_default(block, header, card * n_rows, card, rows)
            elif tok == "property":
                self.skip_property()
            else:
                raise self.error(
                    f"expected '(', 'table', 'default' or '}}' in the probability block of "
                    f"{child!r}, got {self.got()}"
                )
        self.fill(out, block, header, cards, rows)
        return out.reshape(*cards, card)

    def labelled_row(
        self,
        block: _Block,
        header: str,
        card: int,
        lookup: list[dict[str, int]],
        strides: list[int],
        rows: _Rows,
    ) -> None:
        """``(l1, .., lk) v1, .., vc;``: one row, its flat parent index and its values."""
        at = self.i
        self.i += 1
        parents = block.parents
        labels = self.names_until(")", f"a parent state in {header}")
        if len(labels) != len(parents):
            raise self.error(
                f"row ({', '.join(labels)}) of {header} names {len(labels)} parent "
                f"states, expected {len(parents)}",
                at,
            )
        flat = 0
        for k, (label, p) in enumerate(zip(labels, parents, strict=True)):
            code = lookup[k].get(label)
            if code is None:
                raise self.error(
                    f"unknown state {label!r} of {p!r} in a row of {header}; "
                    f"states are {list(self.states[p])}",
                    at,
                )
            flat += code * strides[k]
        seg = self.values(block.end, "probability row")
        if len(seg[0]) != card:
            raise self.error(
                f"row ({', '.join(labels)}) of {header} has {len(seg[0])} values, "
                f"expected {card} (one per state of {block.child!r})",
                at,
            )
        rows.flat.append(flat)
        rows.at.append(at)
        rows.segments.append(seg)

    def whole_or_default(
        self, block: _Block, header: str, size: int, card: int, rows: _Rows
    ) -> None:
        """``table v, ...;`` (the whole table, child-major) or ``default v, ...;``."""
        at = self.i
        tok = self.tokens[at]
        self.i += 1
        seg = self.values(block.end, f"'{tok}' values")
        if tok == "default" and size > card and len(seg[0]) == size:
            tok = "table"  # a whole table after 'default': read as pgmpy reads it
        expected = size if tok == "table" else card
        if len(seg[0]) != expected:
            raise self.error(
                f"'{tok}' of {header} has {len(seg[0])} values, expected {expected}", at
            )
        if (rows.table if tok == "table" else rows.default) is not None:
            raise self.error(f"a second '{tok}' in the probability block of {block.child!r}", at)
        if tok == "table":
            rows.table = len(rows.segments)
        else:
            rows.default = len(rows.segments)
        rows.segments.append(seg)

    def fill(
        self, out: np.ndarray, block: _Block, header: str, cards: list[int], rows: _Rows
    ) -> None:
        """``out`` (rows, card) from the whole table, then the labelled rows, then the default;
        every parent configuration must be covered once."""
        n_rows, card = out.shape
        segments, table, default = rows.segments, rows.table, rows.default
        numbers = self.numbers(segments)  # one float64 vector for the whole block
        bounds = np.cumsum([0] + [len(s[0]) for s in segments])
        filled = np.zeros(n_rows, dtype=bool)
        if table is not None:
            out[:] = numbers[bounds[table] : bounds[table + 1]].reshape(card, n_rows).T
            filled[:] = True
        labelled = [k for k in range(len(segments)) if k not in (table, default)]
        if rows.flat:
            if len(set(rows.flat)) != len(rows.flat):
                seen: set[int] = set()
                for r, at in zip(rows.flat, rows.at, strict=True):
                    if r in seen:
                        raise self.error(f"a second row for the same parent states in {header}", at)
                    seen.add(r)
            # the labelled rows are consecutive segments unless table/default sit between them
            data = np.concatenate([numbers[bounds[k] : bounds[k + 1]] for k in labelled])
            index = np.asarray(rows.flat)
            out[index] = data.reshape(len(index), card)
            filled[index] = True
        if default is not None:
            out[~filled] = numbers[bounds[default] : bounds[default + 1]]
            filled[:] = True
        if not filled.all():
            if not block.parents:
                raise self.error(f"{header} has no 'table' values", block.at)
            first = np.unravel_index(int(np.argmin(filled)), cards)
            pairs = zip(block.parents, first, strict=True)
            example = ", ".join(self.states[p][int(c)] for p, c in pairs)
            raise self.error(
                f"{header} has no row for {int((~filled).sum())} of {n_rows} parent "
                f"configurations, e.g. ({example})",
                block.at,
            )

    def regular_rows(
        self, block: _Block, card: int, lookup: list[dict[str, int]], strides: list[int]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """All rows of a block at once when it is only ``(l1, .., lk) v1, .., vc;`` rows.

        Such a block is a run of rows of L = 2k + 2c + 1 tokens each; the punctuation is checked
        column by column and labels and values are read column-wise, without a Python loop over
        rows. Returns (flat parent index (R,), values (R, c)), or None when the block is anything
        else (or wrong), in which case the row-by-row parser takes over and names the line.
        """
        k = len(block.parents)
        if k == 0:
            return None
        width = 2 * k + 2 * card + 1
        seg = self.tokens[block.body : block.end]
        n = len(seg) // width
        if n == 0 or len(seg) % width:
            return None
        fixed = {0: "(", 2 * k: ")", width - 1: ";"}
        fixed |= {j: "," for j in range(2, 2 * k, 2)}
        fixed |= {j: "," for j in range(2 * k + 2, width - 1, 2)}
        if any(seg[j::width].count(tok) != n for j, tok in fixed.items()):
            return None
        try:
            index = sum(
                np.fromiter(map(lookup[i].__getitem__, seg[1 + 2 * i :: width]), np.int64, n)
                * strides[i]
                for i in range(k)
            )
        except KeyError:  # an unknown or quoted label
            return None
        values = [v for j in range(2 * k + 1, width - 1, 2) for v in seg[j::width]]
        if _NOT_NUMERIC.search(" ".join(values)) is not None:
            return None
        try:
            data = np.fromiter(map(float, values), np.float64, len(values))
        except ValueError:
            return None
        if not np.isfinite(data).all():
            return None
        return index, data.reshape(card, n).T  # (R, c)

    def numbers(self, segments: list[tuple[list[str], int, int]]) -> np.ndarray:
        if not segments:
            return np.empty(0)
        values = [v for seg in segments for v in seg[0]] if len(segments) > 1 else segments[0][0]
        bad = _NOT_NUMERIC.search(" ".join(values)) is not None
        if not bad:
            try:
                out = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
            except ValueError:
                bad = True
        if bad:  # locate the culprit for the message
            for seg, start, stride in segments:
                for k, v in enumerate(seg):
                    if _NOT_NUMERIC.search(v) is None:
                        try:
                            float(v)
                            continue
                        except ValueError:
                            pass
                    k = start + k * stride
                    raise self.error(f"expected a number, got {self.got(k)}", k)
            raise self.error("expected a number", segments[0][1])
        if not np.isfinite(out).all():
            k = int(np.argmin(np.isfinite(out)))
            for seg, start, stride in segments:
                if k < len(seg):
                    raise self.error(f"number {seg[k]} is out of range", start + k * stride)
                k -= len(seg)
        return out
