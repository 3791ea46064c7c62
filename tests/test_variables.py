import numpy as np
import pytest
import torch

from bayesgen import Continuous, Discrete


def test_discrete_states_and_codes():
    v = Discrete("a", ["Asy/Patch", "<5", "12+"])
    assert v.card == 3 and v.index("12+") == 2 and v.index(1) == 1
    codes = v.encode(np.array(["<5", None, "12+", "Asy/Patch"], dtype=object))
    assert codes.tolist() == [1, -1, 2, 0]
    assert Discrete("b", 3).states == ("0", "1", "2")
    assert v.encode(torch.tensor([2, -1])).tolist() == [2, -1]


def test_unknown_state_lists_valid_ones():
    v = Discrete("weather", ["sun", "rain"])
    with pytest.raises(ValueError, match=r"unknown state 'snow' of 'weather'.*\['sun', 'rain'\]"):
        v.encode(["sun", "snow"])
    with pytest.raises(ValueError, match="out of range"):
        v.encode(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="duplicate states"):
        Discrete("x", ["a", "a"])


def test_continuous_shape():
    assert Continuous("z", 3).shape == (3,)
    assert Continuous("x").shape == ()
    with pytest.raises(ValueError, match="shape must be positive"):
        Continuous("z", (0,))
    with pytest.raises(TypeError, match="non-empty string"):
        Continuous("")
