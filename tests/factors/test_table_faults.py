"""Tables and neural factors given malformed sizes: clear errors naming the variable, and sizes
checked against the memory budget before anything is allocated."""

import pytest

from bayesgen import Continuous, Discrete, NeuralCategorical, NeuralNormal, Table
from bayesgen.errors import MemoryBudgetError


def test_ragged_table_is_named():
    a, b = Discrete("a", 2), Discrete("b", 2)
    with pytest.raises(ValueError, match=r"table of 'b' is ragged \(its rows have different"):
        Table(b, [a], [[0.5, 0.5], [1.0]])
    with pytest.raises(ValueError, match="table of 'b' is not all numbers"):
        Table(b, [a], [["x", "y"], [1.0, 0.0]])


def test_table_too_large_for_the_budget():
    parents = [Discrete(f"p{i}", 2) for i in range(40)]
    with pytest.raises(MemoryBudgetError, match=r"the table of 'c' \(2 x 2 x .* 16\.0 TiB"):
        Table(Discrete("c", 2), parents)


@pytest.mark.parametrize("hidden", [[-3], [0], [2.5], "64", [True]])
def test_hidden_sizes_are_checked(hidden):
    with pytest.raises(ValueError, match="hidden must be a sequence of positive ints"):
        NeuralCategorical(Discrete("y", 3), [Discrete("a", 2)], hidden=hidden)


def test_hidden_sizes_against_the_budget():
    with pytest.raises(MemoryBudgetError, match=r"the network of the factor of 'y' .*use smaller"):
        NeuralNormal(Continuous("y"), [Discrete("a", 2)], hidden=[200_000, 200_000])
