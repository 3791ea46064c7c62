"""Validation of constructor and method arguments, with one message form.

Every check raises ``<name> must be <constraint>, got <value!r>`` and returns the value in its
plain Python form (``int``, ``float``, ``bool``), so a constructor validates and stores in one
line. The constraint is written from the bounds, e.g. for ``check_real("tol", -1, low=0)``:

    tol must be a finite number >= 0, got -1

and ``expected=`` replaces those words where a model documents its own (``"1 or 2"``).

A value of the wrong type raises :class:`ParameterTypeError`, which is a ``TypeError`` and also
a ``ValueError`` (as scikit-learn's ``InvalidParameterError``), so callers that catch either
see it; a value of the right type outside its range raises ``ValueError``. ``bool`` is not
accepted as a number.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "ParameterTypeError",
    "check_bool",
    "check_dtype",
    "check_int",
    "check_option",
    "check_real",
]

T = TypeVar("T")


class ParameterTypeError(TypeError, ValueError):
    """An argument of the wrong type (also a ``ValueError``: an invalid parameter value)."""


def _fail(name: str, expected: str, value: Any, *, wrong_type: bool = False) -> None:
    error = ParameterTypeError if wrong_type else ValueError
    raise error(f"{name} must be {expected}, got {value!r}")


def _describe(
    noun: str,
    low: float | None,
    high: float | None,
    open_low: bool = False,
    open_high: bool = False,
    optional: bool = False,
) -> str:
    """Words for a bounded number: ``an int >= 1``, ``a finite number in (0, 1]``, ..."""
    if low is not None and high is not None:
        words = f"{noun} in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif low is not None:
        words = f"{noun} {'>' if open_low else '>='} {low}"
    elif high is not None:
        words = f"{noun} {'<' if open_high else '<='} {high}"
    else:
        words = noun
    return f"{words} or None" if optional else words


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def check_int(
    name: str,
    value: Any,
    low: int | None = None,
    high: int | None = None,
    *,
    optional: bool = False,
    expected: str | None = None,
) -> int | None:
    """``value`` as an ``int`` with low ≤ value ≤ high (a bound of None is open-ended).

    Python and NumPy integers pass; ``bool`` and floats do not. ``optional`` lets None through.
    """
    if optional and value is None:
        return None
    words = expected or _describe("an int", low, high, optional=optional)
    if _is_bool(value) or not isinstance(value, Integral):
        _fail(name, words, value, wrong_type=True)
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(name, words, value)
    return int(value)


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    finite: bool = True,
    optional: bool = False,
    expected: str | None = None,
) -> float | None:
    """``value`` as a ``float`` in [low, high] (``open_low``/``open_high``: strict bounds).

    Any real number passes (int, float, NumPy scalars), never ``bool`` or NaN; ±inf only with
    ``finite=False``. ``optional`` lets None through.
    """
    if optional and value is None:
        return None
    bounded = low is not None and high is not None  # finite by its bounds
    noun = "a finite number" if finite and not bounded else "a number"
    words = expected or _describe(noun, low, high, open_low, open_high, optional)
    if _is_bool(value) or not isinstance(value, Real):
        _fail(name, words, value, wrong_type=True)
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        _fail(name, words, value)
    if low is not None and (v <= low if open_low else v < low):
        _fail(name, words, value)
    if high is not None and (v >= high if open_high else v > high):
        _fail(name, words, value)
    return v


def check_option(
    name: str, value: T, choices: Collection[Any], *, expected: str | None = None
) -> T:
    """``value`` if it is one of ``choices`` (compared with ``in``), else a ``ValueError``
    that lists them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set or dict of choices
        ok = False
    if not ok:
        _fail(name, expected or f"one of {tuple(choices)}", value)
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool``: only ``True``/``False`` (and NumPy's) pass, not 0 or 1."""
    if not _is_bool(value):
        _fail(name, "a bool", value, wrong_type=True)
    return bool(value)


def check_dtype(
    name: str,
    value: Any,
    choices: Collection[torch.dtype] | None = (torch.float32, torch.float64),
) -> torch.dtype:
    """``value`` if it is one of the torch dtypes ``choices`` (None: any floating dtype)."""
    if choices is None:
        ok = isinstance(value, torch.dtype) and value.is_floating_point
        words = "a floating torch.dtype"
    else:
        ok = isinstance(value, torch.dtype) and value in choices
        names = [str(c) for c in choices]
        words = " or ".join(names) if len(names) <= 2 else f"one of ({', '.join(names)})"
    if not ok:
        _fail(name, words, value, wrong_type=True)
    return value
