"""BIF, the Bayesian Interchange Format (0.15), for discrete Bayesian networks: read and write.

The dialect written by bnlearn, pgmpy and JavaBayes::

    network alarm { }
    variable LVFAILURE { type discrete [ 2 ] { TRUE, FALSE }; }
    variable HISTORY { type discrete [ 2 ] { TRUE, FALSE }; property "position = (1, 2)"; }
    probability ( LVFAILURE ) { table 0.05, 0.95; }
    probability ( HISTORY | LVFAILURE ) {
      (TRUE) 0.9, 0.1;        // p(HISTORY | LVFAILURE=TRUE)
      (FALSE) 0.01, 0.99;
    }

Each probability block is one factor p(x | Pa(x)), read into a table of shape
(*parent_cards, card) with the child on the last axis and the parents in the order the block lists
them. Besides labelled rows a block may hold ``default v, ...;`` (every row not listed) and
``table v, ...;`` (the whole table, child-major: ``table[x, pa]``, JavaBayes' order); a
``default`` line with a whole table's values is that table, as pgmpy reads it. Names are
any run of characters other than white space and ``{ } ( ) [ ] , ; |`` (so ``Asy/Patch``,
``<5``, ``12+`` and ``>=7.5`` are names), or a double-quoted string; ``//`` and ``/* */`` are
comments. Numbers are read with ``float`` and nothing in a file is ever evaluated. Every error
names the file and the line: ``alarm.bif:123: expected ';' after probability row, got '}'``.
A table too large for the memory budget (a variable with 40 parents) is refused before it is
allocated, an empty file is an error, and a UTF-8 byte-order mark is ignored.

The writer prints every probability with ``repr`` (the shortest string that reads back to the
same float64), so ``parse_bif(to_bif(net))`` reproduces the tables bit for bit.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from .bif_parser import Parser

if TYPE_CHECKING:
    from ..network import BayesNet

__all__ = ["read_bif", "parse_bif", "write_bif", "to_bif"]

_BARE_NAME = re.compile(r'[^\s{}()\[\],;|"]+')
_LISTED = 20  # tables named in the renormalization warning


# ---------------------------------------------------------------------------------- reading
def read_bif(path_or_text: str | os.PathLike | IO[bytes], *, name: str | None = None) -> BayesNet:
    """Read a discrete Bayesian network from a ``.bif`` or gzipped ``.bif.gz`` file.

    ``path_or_text`` is a path, a binary file object, or BIF text itself (a string holding a
    newline or a brace that names no file goes to :func:`parse_bif`). Gzip is recognised by its
    magic bytes, not the file name. ``name`` overrides the network's name; otherwise the
    ``network NAME`` of the file is used, or the file's stem when the file calls itself
    ``unknown`` (as bnlearn's files do) or has no name.
    """
    path = path_or_text
    if hasattr(path, "read"):
        raw = path.read()
        source = os.path.basename(str(getattr(path, "name", "<stream>")))
        stem = None
    else:
        if not isinstance(path, (str, os.PathLike)):
            kind = type(path).__name__
            raise TypeError(f"path_or_text must be a str, a path or a binary file, got {kind}")
        if isinstance(path, str) and ("{" in path or "\n" in path) and not os.path.isfile(path):
            return parse_bif(path, name=name)
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no BIF file at {str(path)!r}")
        raw = p.read_bytes()
        source = p.name
        stem = re.sub(r"(\.bif)?(\.gz)?$", "", p.name, flags=re.IGNORECASE) or None
    if isinstance(raw, str):
        text = raw
    else:
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (EOFError, OSError, zlib.error) as err:
                raise ValueError(
                    f"{source}: not a complete gzip file (truncated or corrupt: {err})"
                ) from None
        text = _decode(raw)
    return _build(Parser(text, source).parse(), name=name, default_name=stem, source=source)


def parse_bif(text: str, *, name: str | None = None, source: str = "<string>") -> BayesNet:
    """Parse BIF text into a :class:`~bayesgen.network.BayesNet`; ``source`` names it in errors."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _build(Parser(text, source).parse(), name=name, default_name=None, source=source)


def _decode(raw: bytes) -> str:
    """UTF-8 (a byte-order mark is dropped), else Latin-1."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _build(parser: Parser, *, name: str | None, default_name: str | None, source: str) -> BayesNet:
    """Tables and network from the parsed blocks.

    Tables whose rows miss summing to 1 (rounded values in published networks) are renormalized
    by :class:`~bayesgen.factors.Table`; their warnings are gathered into one per file that names
    every such table.
    """
    from ..factors import Table
    from ..network import BayesNet
    from ..variables import Discrete

    variables = {v: Discrete(v, states) for v, states in parser.states.items()}
    factors = []
    renormalized: dict[str, float] = {}  # table -> largest miss
    for v in parser.states:  # declaration order
        block = parser.blocks[v]
        probs = parser.body(block)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                factor = Table(variables[v], [variables[p] for p in block.parents], probs)
            except ValueError as e:
                raise ValueError(f"{source}:{parser.line(block.at)}: {e}") from e
        for w in caught:
            if "renormaliz" in str(w.message):
                renormalized[v] = float(np.abs(probs.sum(-1) - 1).max())
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        factors.append(factor)
    if renormalized:
        listed = ", ".join(list(renormalized)[:_LISTED])
        more = f" and {len(renormalized) - _LISTED} more" if len(renormalized) > _LISTED else ""
        warnings.warn(
            f"{source}: rows that missed summing to 1 by at most "
            f"{max(renormalized.values()):.2g} were renormalized in {len(renormalized)} "
            f"table(s): {listed}{more}",
            stacklevel=3,
        )
    if name is None:  # bnlearn names every network 'unknown'
        unnamed = parser.name is None or parser.name.lower() in ("", "unknown")
        name = default_name if unnamed else parser.name
    return BayesNet(factors, name=name)


# ---------------------------------------------------------------------------------- writing
def to_bif(net: BayesNet) -> str:
    """The network as BIF text; every factor must be a :class:`~bayesgen.factors.Table`.

    Rows are listed with the last parent varying fastest; probabilities are printed with
    ``repr`` so reading the text back gives the same float64 tables bit for bit.
    """
    buf = io.StringIO()
    _write(net, buf)
    return buf.getvalue()


def write_bif(net: BayesNet, path: str | os.PathLike) -> None:
    """Write the network to ``path`` as BIF (gzipped when the name ends in ``.gz``)."""
    text = to_bif(net)
    p = Path(path)
    if p.name.endswith(".gz"):
        with gzip.open(p, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        p.write_text(text, encoding="utf-8")


def _quote(name: str, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"BIF cannot write the empty or non-string {what} {name!r}")
    if _BARE_NAME.fullmatch(name) and "//" not in name and "/*" not in name:
        return name
    if '"' in name or "\n" in name:
        raise ValueError(f"BIF cannot write the {what} {name!r} (it holds a quote or a newline)")
    return f'"{name}"'


def _write(net: BayesNet, out: IO[str]) -> None:
    from ..factors import Table

    tables = list(net.factors.values())
    for f in tables:
        if not isinstance(f, Table):
            raise TypeError(
                f"BIF holds only tables; the factor of {f.variable.name!r} is a {type(f).__name__}"
            )
    names = {f.variable.name: _quote(f.variable.name, "variable name") for f in tables}
    states = {
        f.variable.name: [_quote(s, f"state of {f.variable.name!r}") for s in f.variable.states]
        for f in tables
    }
    out.write(f"network {_quote(net.name or 'unknown', 'network name')} {{\n}}\n")
    for f in tables:
        v = f.variable.name
        out.write(f"variable {names[v]} {{\n")
        out.write(f"  type discrete [ {len(states[v])} ] {{ {', '.join(states[v])} }};\n}}\n")
    for f in tables:
        v = f.variable.name
        parents: Sequence[str] = f.parent_names
        probs = f.probs.detach().cpu().double().numpy().reshape(-1, f.variable.card)  # (rows, card)
        if not parents:
            out.write(f"probability ( {names[v]} ) {{\n")
            out.write(f"  table {', '.join(map(repr, probs[0].tolist()))};\n}}\n")
            continue
        out.write(f"probability ( {names[v]} | {', '.join(names[p] for p in parents)} ) {{\n")
        labels = itertools.product(*(states[p] for p in parents))  # C order, as probs' rows
        out.writelines(
            f"  ({', '.join(lab)}) {', '.join(map(repr, row))};\n"
            for lab, row in zip(labels, probs.tolist(), strict=True)
        )
        out.write("}\n")
