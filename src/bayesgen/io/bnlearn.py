"""The bnlearn repository's discrete networks (alarm, asia, child, munin, ...) shipped in pgmpy.

pgmpy's wheel carries them as ``pgmpy/utils/example_models/<name>.bif.gz``; they are found
without importing pgmpy and read with :func:`bayesgen.io.read_bif`. Nothing is downloaded.

>>> from bayesgen.io import bnlearn
>>> net = bnlearn.load("asia")
>>> len(net)
8
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from .bif import read_bif

if TYPE_CHECKING:
    from ..network import BayesNet

__all__ = ["available", "path", "load"]

_SUFFIX = ".bif.gz"


def _directory() -> Path:
    spec = importlib.util.find_spec("pgmpy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the bnlearn networks ship with pgmpy; install it with `pip install pgmpy`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "utils" / "example_models"


def available() -> tuple[str, ...]:
    """Names of the networks shipped with the installed pgmpy, sorted."""
    directory = _directory()
    if not directory.is_dir():
        raise FileNotFoundError(f"this pgmpy has no example_models folder at {directory}")
    return tuple(sorted(p.name[: -len(_SUFFIX)] for p in directory.glob(f"*{_SUFFIX}")))


def path(name: str) -> Path:
    """The ``.bif.gz`` file of network ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    names = available()
    if name not in names:
        raise ValueError(f"unknown bnlearn network {name!r}; available: {', '.join(names)}")
    return _directory() / f"{name}{_SUFFIX}"


def load(name: str) -> BayesNet:
    """The network ``name`` (e.g. ``"alarm"``) as a :class:`~bayesgen.network.BayesNet`."""
    return read_bif(path(name), name=name)
