"""What the sub-commands share: resolving a NETWORK argument to a BayesNet."""

from __future__ import annotations

from pathlib import Path

from .. import examples
from ..network import BayesNet

__all__ = ["load_network", "BUILTIN"]

BUILTIN = {"student": examples.student}


def load_network(spec: str) -> BayesNet:
    """A built-in name (``student``), a bnlearn name shipped with pgmpy (``alarm``, ``asia``, ...),
    or a path to a ``.bif``/``.bif.gz``/``.json`` file."""
    if spec in BUILTIN:
        return BUILTIN[spec]()
    path = Path(spec)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise ValueError(f"no such file: {spec}")
        from ..io.json import load

        return load(path)
    if suffixes.endswith((".bif", ".bif.gz")):
        if not path.is_file():
            raise ValueError(f"no such file: {spec}")
        from ..io.bif import read_bif

        return read_bif(path)
    from ..io import bnlearn

    try:
        names = bnlearn.available()
    except ImportError:
        names = []
    if spec in names:
        return bnlearn.load(spec)
    known = sorted(BUILTIN) + sorted(names)
    raise ValueError(
        f"unknown network {spec!r}: give a .bif/.json path or one of {', '.join(known)}"
    )
