"""What the sub-commands share: resolving a NETWORK argument to a BayesNet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..network import BayesNet

__all__ = ["load_network", "BUILTIN", "NETWORK_HELP", "add_network_argument"]


def _student() -> BayesNet:
    from ..examples import student  # imported when asked for: torch loads only then

    return student()


#: built-in networks: name -> a function building it
BUILTIN = {"student": _student}

NETWORK_HELP = (
    "the network: 'student' (built in), a network shipped with pgmpy ('alarm', 'asia', ...), "
    "or a .bif, .bif.gz or .json file"
)
_SUFFIXES = (".bif", ".bif.gz", ".json")


def add_network_argument(parser) -> None:
    parser.add_argument("network", help=NETWORK_HELP)


def load_network(spec: str) -> BayesNet:
    """A built-in name (``student``), a bnlearn name shipped with pgmpy (``alarm``, ``asia``, ...),
    or a path to a ``.bif``/``.bif.gz``/``.json`` file."""
    if spec in BUILTIN:
        return BUILTIN[spec]()
    path = Path(spec)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.is_dir():
        raise ValueError(f"{spec} is a directory; give a .bif, .bif.gz or .json file")
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
    if path.is_file():
        raise ValueError(
            f"{spec}: unknown kind of network file; the name must end in {', '.join(_SUFFIXES)}"
        )
    from ..io import bnlearn

    try:
        names = bnlearn.available()
    except (ImportError, OSError):
        names = ()
    if spec in names:
        return bnlearn.load(spec)
    known = sorted(BUILTIN) + sorted(names)
    raise ValueError(
        f"unknown network {spec!r}: give a .bif/.json path or one of {', '.join(known)}"
    )
