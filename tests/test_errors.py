"""One home for the errors (old import locations still work), one memory-budget check, named
constants, and integers printed in scientific form when ``str`` refuses them."""

import math
import pickle
import subprocess
import sys

import pytest

import bayesgen
from bayesgen import _budget, _constants, errors
from bayesgen._format import readable_int, scientific


def test_errors_are_defined_once_and_reexported():
    from bayesgen.graph import CycleError
    from bayesgen.inference import MemoryBudgetError
    from bayesgen.inference.contraction import MemoryBudgetError as ContractionBudget
    from bayesgen.models.mixture import (
        ConvergenceWarning,
        DegenerateCovarianceWarning,
        NotFittedError,
    )

    assert CycleError is errors.CycleError is bayesgen.CycleError
    assert MemoryBudgetError is ContractionBudget is errors.MemoryBudgetError
    assert NotFittedError is errors.NotFittedError is bayesgen.NotFittedError
    assert ConvergenceWarning is errors.ConvergenceWarning
    assert DegenerateCovarianceWarning is errors.DegenerateCovarianceWarning
    # user errors are ValueErrors (the command line prints them as one line)
    for cls in (errors.CycleError, errors.MemoryBudgetError, errors.NotFittedError):
        assert issubclass(cls, ValueError)
    assert issubclass(errors.NotFittedError, AttributeError)
    assert issubclass(errors.ConvergenceWarning, UserWarning)


def test_cycle_error_names_the_cycle():
    err = errors.CycleError(["a", "b", "a"])
    assert (
        err.cycle == ["a", "b", "a"] and str(err) == "the graph has a directed cycle: a -> b -> a"
    )


def test_memory_budget_error_message_and_fields():
    err = errors.MemoryBudgetError(3 * 2**40, 4 * 2**30, "P(x | ...)")
    assert err.estimate == 3 * 2**40 and err.budget == 4 * 2**30
    text = str(err)
    assert text.startswith("exact inference for P(x | ...) needs an estimated 3.0 TiB")
    assert "4.0 GiB" in text and "approximate inference" in text
    other = errors.MemoryBudgetError(2**70, 2**30, "f.bif:3: the table", "split it", exact=False)
    assert str(other).startswith("f.bif:3: the table needs an estimated")
    assert str(other).endswith("over the memory budget of 1.0 GiB; split it")


def test_errors_pickle_with_their_fields():
    err = pickle.loads(pickle.dumps(errors.MemoryBudgetError(10**12, 2**30, "P(x)")))
    assert err.estimate == 10**12 and err.budget == 2**30
    assert str(err) == str(errors.MemoryBudgetError(10**12, 2**30, "P(x)"))
    cycle = pickle.loads(pickle.dumps(errors.CycleError(["a", "b", "a"])))
    assert cycle.cycle == ["a", "b", "a"] and "a -> b -> a" in str(cycle)


def test_check_memory_uses_the_module_budget(monkeypatch):
    assert _budget.check_memory(100, "x") == 100
    monkeypatch.setattr(_budget, "MEMORY_BUDGET", 64)
    with pytest.raises(errors.MemoryBudgetError, match="sampling needs an estimated 65 bytes"):
        _budget.check_memory(65, "sampling")
    assert _budget.check_memory(65, "x", budget=65) == 65
    # a huge Python int (a table of 2^40 rows) is compared, never allocated
    with pytest.raises(errors.MemoryBudgetError, match=r"\(1\.20893e\+24 bytes\)"):
        _budget.check_memory(2**80, "x")


def test_format_bytes():
    assert errors.format_bytes(512) == "512 bytes"
    assert errors.format_bytes(1536) == "1.5 KiB"
    assert errors.format_bytes(16 * 2**40) == "16.0 TiB"


@pytest.mark.parametrize("n", [1, 9, 10, 99999, 10**15, 10**15 - 1, 999_999_499_999, 2**64])
def test_scientific_agrees_with_float_formatting(n):
    assert scientific(n) == f"{n:.5e}".replace("e+0", "e+")


def test_scientific_beyond_str_limit():
    n = 2**9100 - 1  # 2740 digits; 2^15000 has 4516, over Python's 4300-digit str limit
    assert scientific(n) == "2.36026e+2739"
    big = 2**15000
    expected_exponent = math.floor(15000 * math.log10(2))
    assert scientific(big).endswith(f"e+{expected_exponent}")
    assert readable_int(12345) == "12345" and readable_int(big) == scientific(big)


def test_constants_are_named():
    assert _constants.TINY == 1e-300 and _constants.JITTER == 1e-12
    assert 0 < _constants.TINY < _constants.UNDERFLOW < _constants.JITTER


def test_import_is_lazy():
    """``import bayesgen`` and the command line's help import neither torch nor pandas."""
    code = (
        "import sys, bayesgen, bayesgen.cli; print('torch' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert bayesgen.BayesNet.__name__ == "BayesNet" and "BayesNet" in dir(bayesgen)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bayesgen.Nope  # noqa: B018
