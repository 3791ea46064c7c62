"""Reading and writing networks: BIF files, pgmpy and networkx interchange, bnlearn's networks.

``bnlearn.load("alarm")`` reads a network shipped with pgmpy; ``read_bif``/``write_bif`` handle
BIF files; ``save``/``load`` write any network (hybrid and neural too) as JSON;
``to_pgmpy``/``from_pgmpy`` and ``to_networkx``/``from_networkx`` convert.
"""

from . import bnlearn
from .bif import parse_bif, read_bif, to_bif, write_bif
from .json import from_json, load, save, to_json
from .networkx import from_networkx, to_networkx
from .pgmpy import from_pgmpy, to_pgmpy

__all__ = [
    "bnlearn",
    "read_bif",
    "write_bif",
    "parse_bif",
    "to_bif",
    "save",
    "load",
    "to_json",
    "from_json",
    "to_pgmpy",
    "from_pgmpy",
    "to_networkx",
    "from_networkx",
]
