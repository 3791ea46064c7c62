"""Reading and writing networks: BIF files, pgmpy and networkx interchange, bnlearn's networks.

``bnlearn.load("alarm")`` reads a network shipped with pgmpy; ``read_bif``/``write_bif`` handle
BIF files; ``to_pgmpy``/``from_pgmpy`` and ``to_networkx``/``from_networkx`` convert.
"""

from . import bnlearn
from .bif import parse_bif, read_bif, to_bif, write_bif
from .networkx import from_networkx, to_networkx
from .pgmpy import from_pgmpy, to_pgmpy

__all__ = [
    "bnlearn",
    "read_bif",
    "write_bif",
    "parse_bif",
    "to_bif",
    "to_pgmpy",
    "from_pgmpy",
    "to_networkx",
    "from_networkx",
]
