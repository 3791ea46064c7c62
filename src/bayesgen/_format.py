"""Printing numbers a user reads: integers too long for ``str`` in scientific form."""

from __future__ import annotations

import math

__all__ = ["scientific", "readable_int"]

#: integers with more digits than this are printed in scientific form
_MAX_DIGITS = 15


def scientific(n: int, digits: int = 6) -> str:
    """``n`` as ``d.ddddde+E`` with ``digits`` significant digits, exactly (integer arithmetic),
    for integers of any size (``str`` refuses those over 4,300 digits)."""
    if n < 0:
        return "-" + scientific(-n, digits)
    if n == 0:
        return "0"
    exponent = int(math.log10(n))  # may be off by one for huge n; fixed below
    while n >= 10 ** (exponent + 1):
        exponent += 1
    while n < 10**exponent:
        exponent -= 1
    shift = exponent - (digits - 1)
    lead = (n + 10**shift // 2) // 10**shift if shift > 0 else n * 10**-shift  # rounded
    if lead >= 10**digits:  # 9.99999 rounded up to 10.0000
        lead //= 10
        exponent += 1
    text = str(lead)
    return f"{text[0]}.{text[1:]}e+{exponent}"


def readable_int(n: int) -> str:
    """Digits for ordinary integers, scientific form beyond 10^15."""
    return str(n) if abs(n) < 10**_MAX_DIGITS else scientific(n)
