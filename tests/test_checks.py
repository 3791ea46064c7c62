"""Argument checks: what passes, what fails, with which exception and which exact message."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from bayesgen._checks import (
    ParameterTypeError,
    check_bool,
    check_dtype,
    check_int,
    check_option,
    check_real,
)


def message(name, words, value) -> str:
    """The one message form, as a regular expression matching the whole text."""
    return "^" + re.escape(f"{name} must be {words}, got {value!r}") + "$"


# --------------------------------------------------------------------------- the error class
def test_a_wrong_type_is_both_a_type_error_and_a_value_error():
    assert issubclass(ParameterTypeError, TypeError)
    assert issubclass(ParameterTypeError, ValueError)
    for exc in (TypeError, ValueError, ParameterTypeError):
        with pytest.raises(exc):
            check_int("n", "3", low=1)
    with pytest.raises(ValueError) as info:  # out of range: a plain ValueError
        check_int("n", 0, low=1)
    assert type(info.value) is ValueError


# --------------------------------------------------------------------------- check_int
@given(st.integers(-(10**6), 10**6), st.integers(-100, 100), st.integers(0, 200))
def test_check_int_accepts_exactly_the_closed_interval(value, low, width):
    high = low + width
    if low <= value <= high:
        out = check_int("k", value, low=low, high=high)
        assert out == value and type(out) is int
    else:
        with pytest.raises(ValueError, match=message("k", f"an int in [{low}, {high}]", value)):
            check_int("k", value, low=low, high=high)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"low": 1}, "an int >= 1"),
        ({"high": 5}, "an int <= 5"),
        ({"low": 0, "high": 3}, "an int in [0, 3]"),
        ({}, "an int"),
        ({"low": 1, "optional": True}, "an int >= 1 or None"),
        ({"low": 1, "expected": "a positive integer"}, "a positive integer"),
    ],
)
def test_check_int_words(kwargs, words):
    for bad in (2.5, "2", None if not kwargs.get("optional") else [2], True):
        with pytest.raises(ParameterTypeError, match=message("n", words, bad)):
            check_int("n", bad, **kwargs)


def test_check_int_converts_numpy_and_rejects_bools_and_floats():
    out = check_int("n", np.int64(7), low=1)
    assert out == 7 and type(out) is int
    assert check_int("n", np.uint8(3), low=0, high=3) == 3
    assert check_int("n", None, low=1, optional=True) is None
    for bad in (True, False, np.bool_(True), 3.0, np.float64(3.0), torch.tensor(3)):
        with pytest.raises(ParameterTypeError):
            check_int("n", bad, low=0)
    with pytest.raises(ParameterTypeError, match=r"^n must be an int >= 1, got None$"):
        check_int("n", None, low=1)  # None only when optional


# --------------------------------------------------------------------------- check_real
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_real_half_open_interval(value):
    ok = (not math.isnan(value)) and 0.0 < value <= 1.0
    if ok:
        assert check_real("p", value, low=0, high=1, open_low=True) == value
    else:
        with pytest.raises(ValueError, match=message("p", "a number in (0, 1]", value)):
            check_real("p", value, low=0, high=1, open_low=True)


@pytest.mark.parametrize(
    ("kwargs", "words", "good", "bad"),
    [
        ({"low": 0}, "a finite number >= 0", [0, 0.0, 2, 1e300], [-1e-300, -1]),
        ({"low": 0, "open_low": True}, "a finite number > 0", [1e-300, 5], [0, -1.0]),
        ({"high": 1, "open_high": True}, "a finite number < 1", [0.999, -5], [1, 2.0]),
        ({"low": 0, "high": 1}, "a number in [0, 1]", [0, 0.5, 1], [-0.1, 1.1]),
        ({"low": 0, "high": 1, "open_high": True}, "a number in [0, 1)", [0, 0.99], [1.0]),
        ({"low": 0, "finite": False}, "a number >= 0", [0, math.inf], [-math.inf, -1]),
        ({}, "a finite number", [-1e9, 0, 1e9], [math.inf, -math.inf]),
    ],
)
def test_check_real_bounds_and_words(kwargs, words, good, bad):
    for value in good:
        out = check_real("x", value, **kwargs)
        assert out == float(value) and type(out) is float
    for value in [*bad, math.nan]:
        with pytest.raises(ValueError, match=message("x", words, value)):
            check_real("x", value, **kwargs)
    for value in ("1", None, True, [1.0], 1j):
        with pytest.raises(ParameterTypeError, match=message("x", words, value)):
            check_real("x", value, **kwargs)


def test_check_real_numpy_optional_and_expected():
    out = check_real("tol", np.float32(0.5), low=0)
    assert out == 0.5 and type(out) is float
    assert check_real("tol", np.int64(2), low=0) == 2.0
    assert check_real("binarize", None, optional=True) is None
    with pytest.raises(ParameterTypeError, match=r"^b must be a finite number or None, got 'a'$"):
        check_real("b", "a", optional=True)
    with pytest.raises(ValueError, match=r"^reg must be a finite real number >= 0\.0, got -1\.0$"):
        check_real("reg", -1.0, low=0, expected="a finite real number >= 0.0")


# --------------------------------------------------------------------------- check_option
def test_check_option_returns_the_value_and_lists_the_choices():
    assert check_option("kind", "diag", ("full", "diag")) == "diag"
    assert check_option("order", 2, (1, 2)) == 2
    assert check_option("mode", "b", {"a": 1, "b": 2}) == "b"  # any container: `in`
    words = "one of ('full', 'tied', 'diag', 'spherical')"
    with pytest.raises(ValueError, match=message("covariance_type", words, "banded")):
        check_option("covariance_type", "banded", ("full", "tied", "diag", "spherical"))
    with pytest.raises(ValueError, match=r"^order must be 1 or 2, got 3$"):
        check_option("order", 3, (1, 2), expected="1 or 2")


def test_check_option_refuses_unhashable_values_with_a_value_error():
    with pytest.raises(ValueError, match=r"^mode must be one of \('a', 'b'\), got \['a'\]$"):
        check_option("mode", ["a"], ("a", "b"))
    with pytest.raises(ValueError, match=r"got \['a'\]$"):
        check_option("mode", ["a"], {"a", "b"})  # `["a"] in set` is a TypeError in Python


# --------------------------------------------------------------------------- check_bool
def test_check_bool_takes_only_true_and_false():
    assert check_bool("eos", True) is True
    assert check_bool("eos", np.bool_(False)) is False
    for bad in (0, 1, 1.0, "True", None):
        with pytest.raises(ParameterTypeError, match=message("eos", "a bool", bad)):
            check_bool("eos", bad)


# --------------------------------------------------------------------------- check_dtype
def test_check_dtype_choices_and_floating():
    assert check_dtype("dtype", torch.float32) is torch.float32
    assert check_dtype("dtype", torch.float16, choices=None) is torch.float16
    words = "torch.float32 or torch.float64"
    for bad in (torch.int64, torch.float16, "float64", np.float64):
        with pytest.raises(ParameterTypeError, match=message("dtype", words, bad)):
            check_dtype("dtype", bad)
    with pytest.raises(ParameterTypeError, match=r"^dtype must be a floating torch\.dtype, got"):
        check_dtype("dtype", torch.int32, choices=None)
    three = (torch.float16, torch.float32, torch.float64)
    with pytest.raises(
        TypeError,
        match=r"^d must be one of \(torch\.float16, torch\.float32, torch\.float64\), got",
    ):
        check_dtype("d", torch.bfloat16, choices=three)
