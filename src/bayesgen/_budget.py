"""One memory budget, checked before anything large is allocated.

Exact inference (its intermediate tensors), full joint tables, tables read from a file, batches
of samples and neural factors rebuilt from a file all ask :func:`check_memory` first, so a
request that cannot fit is one clear :class:`~bayesgen.errors.MemoryBudgetError` naming what
asked and how much, instead of a memory error (or a swapping machine) halfway through.

:data:`MEMORY_BUDGET` is read at every call: lower it on this module to be stricter.
"""

from __future__ import annotations

from .errors import MemoryBudgetError

__all__ = ["MEMORY_BUDGET", "memory_budget", "check_memory"]

#: bytes one computation may allocate at once (4 GiB)
MEMORY_BUDGET = 4 * 2**30


def memory_budget(budget: int | float | None = None) -> int:
    """``budget`` if given (bytes), else the module's :data:`MEMORY_BUDGET`."""
    return int(MEMORY_BUDGET if budget is None else budget)


def check_memory(
    nbytes: int | float,
    what: str,
    *,
    budget: int | float | None = None,
    advice: str | None = None,
) -> int:
    """``nbytes`` if it fits the budget, else a :class:`MemoryBudgetError` naming ``what``.

    ``what`` says who asks (``"alarm.bif:12: the table of p(X | ...)"``), ``advice`` what to
    do instead. Python ints of any size are accepted (a table of 2^40 rows is just a number).
    """
    limit = memory_budget(budget)
    if nbytes > limit:
        raise MemoryBudgetError(nbytes, limit, what, advice, exact=False)
    return int(nbytes)
