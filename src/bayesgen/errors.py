"""The errors and warnings of bayesgen, in one place.

Every class is also importable from where it is raised (``bayesgen.graph.CycleError``,
``bayesgen.inference.MemoryBudgetError``, ``bayesgen.models.mixture.NotFittedError``, ...); this
module is their one definition. Errors a user can cause are ``ValueError`` subclasses, so code
(and the command line) that catches ``ValueError`` sees them.
"""

from __future__ import annotations

from ._format import readable_int

__all__ = [
    "NotFittedError",
    "ConvergenceWarning",
    "DegenerateCovarianceWarning",
    "MemoryBudgetError",
    "CycleError",
    "format_bytes",
]


class NotFittedError(ValueError, AttributeError):
    """The model has no parameters yet: call ``fit`` (or load a state_dict) first."""


class ConvergenceWarning(UserWarning):
    """EM or gradient training stopped at ``max_iter`` before the change fell below ``tol``."""


class DegenerateCovarianceWarning(UserWarning):
    """A component's covariance collapsed (onto a point or a subspace) and is held by reg_covar."""


class CycleError(ValueError):
    """The edges close a directed cycle; ``cycle`` holds it, first node repeated at the end."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(f"the graph has a directed cycle: {' -> '.join(cycle)}")

    def __reduce__(self):  # pickled with its fields (a worker process re-raises it intact)
        return (type(self), (self.cycle,))


#: advice of the error raised by exact inference
EXACT_ADVICE = (
    "use approximate inference (likelihood_weighting, gibbs_sampling) or raise memory_budget"
)


class MemoryBudgetError(ValueError):
    """A computation would need more memory than its budget allows; raised before allocating.

    ``estimate`` and ``budget`` are in bytes; ``what`` names the computation (and the file or
    field it comes from), ``advice`` says what to do instead.
    """

    def __init__(
        self,
        estimate: float,
        budget: float,
        what: str = "this query",
        advice: str | None = None,
        *,
        exact: bool = True,
    ):
        self.estimate = int(estimate)
        self.budget = int(budget)
        subject = f"exact inference for {what}" if exact else what
        advice = EXACT_ADVICE if advice is None and exact else advice
        self.what, self.advice = subject, advice
        tail = f"; {advice}" if advice else ""
        super().__init__(
            f"{subject} needs an estimated {format_bytes(estimate)} "
            f"({readable_int(int(estimate))} bytes), "
            f"over the memory budget of {format_bytes(budget)}{tail}"
        )

    def __reduce__(self):  # pickled with its fields (a worker process re-raises it intact)
        return (_rebuild, (type(self), self.estimate, self.budget, self.what, self.advice))


def _rebuild(cls, estimate: int, budget: int, what: str, advice: str | None):
    return cls(estimate, budget, what, advice, exact=False)  # ``what`` is the full subject


def format_bytes(nbytes: float) -> str:
    """``512 bytes``, ``1.5 KiB``, ... ``16.0 TiB`` (larger sizes in TiB, scientific)."""
    value = float(min(nbytes, 1e300))
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB" if value < 1e6 else f"{value:.3g} TiB"
