"""How much work a Gaussian-mixture call does at once: row blocks, the fit cache, threads.

The budgets are read when a call runs, so a test (or a user with little memory) can lower them
on this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["fits_in_cache", "row_blocks", "sized", "threads_for"]

# Rows are processed in blocks holding at most this many (row, component, feature[, feature])
# numbers, so memory stays bounded whatever the number of samples.
_BLOCK_ELEMENTS = 1 << 24
# Below this many (row, component, feature) numbers a call runs on one thread: the fork/join of
# a parallel region costs more than it saves (and far more on a busy machine), as scikit-learn's
# KMeans limits BLAS threads in its loop.
_PARALLEL_MIN_WORK = 1 << 20
# Rows prepared, used once and dropped (scoring, or EM without the cache) go in blocks of at most
# this many numbers: they stay in cache, and the allocator reuses their memory instead of mapping
# (and page-faulting in) fresh pages for every large block.
_STREAM_ELEMENTS = 1 << 18
# ``fit`` keeps the centred data and its features across EM iterations up to this many numbers.
_CACHE_ELEMENTS = 1 << 27


def row_blocks(
    n: int, per_row: int, budget: int | None = None, stream: bool = False
) -> list[tuple[int, int]]:
    """[start, stop) ranges of rows, each holding at most ``budget`` numbers of ``per_row``
    (default: the module's block budget; ``stream``: the smaller one for rows used once)."""
    if budget is None:
        budget = min(_BLOCK_ELEMENTS, _STREAM_ELEMENTS) if stream else _BLOCK_ELEMENTS
    step = max(1, budget // max(1, per_row))
    return [(s, min(n, s + step)) for s in range(0, n, step)]


def fits_in_cache(n_numbers: int) -> bool:
    """Whether ``fit`` may keep this many numbers of prepared data across EM iterations."""
    return n_numbers <= _CACHE_ELEMENTS


@contextmanager
def threads_for(work: int) -> Iterator[None]:
    """Run on one intra-op thread when ``work`` is small; restore the setting afterwards."""
    n = torch.get_num_threads()
    if work >= _PARALLEL_MIN_WORK or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def sized(method: Callable) -> Callable:
    """Decorate a method taking X first: size its threads by n_samples·n_features·K."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        shape = X.shape if hasattr(X, "shape") else np.shape(X)
        work = int(np.prod(shape)) * max(self.n_components, shape[-1] if len(shape) else 1)
        with threads_for(work):
            return method(self, X, *args, **kwargs)

    return wrapper
