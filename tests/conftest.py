"""Shared fixtures: the project's real data (beside the repository) and pgmpy's bnlearn networks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BAYESGEN_DATA", ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    # The tests run many small tensor ops; a second intra-op thread only adds synchronisation
    # (and OpenMP spin-waiting when the machine is busy), so the whole suite uses one thread.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data sets (Tiny Shakespeare, UD English-EWT, MNIST)."""
    if not DATA.is_dir():
        raise FileNotFoundError(f"data directory {DATA} not found; set BAYESGEN_DATA")
    return DATA


def bnlearn_path(name: str) -> Path:
    """Path of a bnlearn network shipped in pgmpy's wheel."""
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models" / f"{name}.bif.gz"
