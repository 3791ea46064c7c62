"""Named numeric constants, instead of the same literal repeated across modules.

Float64 throughout (the tables and sufficient statistics are float64):

- :data:`TINY` guards a division by a count or a sum that may be exactly zero; it is far below
  any count that means something and above the subnormal range, so ``x / max(n, TINY)`` is 0 for
  ``x == 0`` and exact otherwise.
- :data:`JITTER` is the relative floor of a variance and the diagonal added to a covariance
  before its Cholesky factor, 1e-12 (about 5000 float64 ulps of 1).
- :data:`UNDERFLOW`: a plain product of probabilities below this is redone with rescaling.
- :data:`ROW_TOLERANCE`: how far a table's row may miss summing to 1 (published networks round
  their probabilities to 4 decimals) before it is an error instead of being renormalized.
"""

from __future__ import annotations

__all__ = ["TINY", "JITTER", "UNDERFLOW", "ROW_TOLERANCE"]

TINY = 1e-300
JITTER = 1e-12
UNDERFLOW = 1e-200
ROW_TOLERANCE = 1e-3
