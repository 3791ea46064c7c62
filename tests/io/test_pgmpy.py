"""Conversion to and from pgmpy, checked by pgmpy's own reader and inference."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import VariableElimination
from pgmpy.models import DiscreteBayesianNetwork

from bayesgen.examples import student
from bayesgen.factors import Gaussian, Table
from bayesgen.io import bnlearn, from_pgmpy, parse_bif, to_pgmpy
from bayesgen.network import BayesNet
from bayesgen.variables import Continuous, Discrete


def assert_same(a: BayesNet, b: BayesNet) -> None:
    assert list(a.factors) == list(b.factors)
    for v, f in a.factors.items():
        g = b.factors[v]
        assert g.variable == f.variable and g.parent_names == f.parent_names
        assert torch.equal(g.probs, f.probs), v


@pytest.mark.parametrize("name", ["asia", "child", "alarm", "hailfinder", "win95pts"])
def test_round_trip_through_pgmpy_is_identical(name):
    net = bnlearn.load(name)
    model = to_pgmpy(net)
    assert model.check_model()
    assert model.name == name
    again = from_pgmpy(model)
    assert again.name == name
    assert_same(net, again)


def test_to_pgmpy_equals_pgmpys_own_reading_of_the_file():
    from pgmpy.readwrite import BIFReader

    text = gzip.decompress(bnlearn.path("child").read_bytes()).decode()
    theirs = BIFReader(string=text).get_model()
    ours = to_pgmpy(parse_bif(text))
    assert set(ours.edges()) == set(theirs.edges())
    for cpd in theirs.get_cpds():
        mine = ours.get_cpds(cpd.variable)
        assert mine.variables == cpd.variables
        assert mine.state_names == cpd.state_names
        np.testing.assert_array_equal(mine.values, cpd.values)
    # and pgmpy's inference gives the same posteriors on both
    evidence = {"LowerBodyO2": "<5", "ChestXray": "Asy/Patch", "Age": "0-3_days"}
    ve_ours, ve_theirs = VariableElimination(ours), VariableElimination(theirs)
    for target in ("Disease", "LungParench", "Sick"):
        a = ve_ours.query([target], evidence=evidence, show_progress=False)
        b = ve_theirs.query([target], evidence=evidence, show_progress=False)
        assert a.state_names == b.state_names
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)


def test_student_network_through_pgmpy_matches_the_chapter():
    """p(x2=1) = 0.695 and p(x4=1) = 0.76484 (§2.1.1), computed by pgmpy on the converted net."""
    ve = VariableElimination(to_pgmpy(student()))
    p = ve.query(["x2"], show_progress=False).get_value(x2="1")
    assert p == pytest.approx(0.695, abs=1e-12)
    p = ve.query(["x4"], show_progress=False).get_value(x4="1")
    assert p == pytest.approx(0.76484, abs=1e-12)
    p = ve.query(["x1"], evidence={"x2": "0"}, show_progress=False).get_value(x1="1")
    assert p == pytest.approx(0.7377049180327869, abs=1e-12)


def test_from_pgmpy_axis_order_and_integer_states():
    """pgmpy's values are (card, *evidence_cards); ours put the child last."""
    model = DiscreteBayesianNetwork([("a", "c"), ("b", "c")])
    a = TabularCPD("a", 2, [[0.3], [0.7]])
    b = TabularCPD("b", 3, [[0.2], [0.3], [0.5]])
    values = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    c = TabularCPD("c", 2, values, evidence=["b", "a"], evidence_card=[3, 2])
    model.add_cpds(a, b, c)
    net = from_pgmpy(model)
    assert net.variables["b"].states == ("0", "1", "2")  # pgmpy's default integer states
    assert net["c"].parent_names == ("b", "a")
    probs = net["c"].probs  # (b, a, c)
    assert probs.shape == (3, 2, 2)
    for ib in range(3):
        for ia in range(2):
            expected = values[:, ib * 2 + ia]
            np.testing.assert_array_equal(probs[ib, ia].numpy(), expected)
    assert_same(net, from_pgmpy(to_pgmpy(net)))


def test_from_pgmpy_aligns_parent_states_listed_in_another_order():
    """A child CPD that permutes its parent's states is read by the states' names."""
    model = DiscreteBayesianNetwork([("a", "b")])
    a = TabularCPD("a", 2, [[0.3], [0.7]], state_names={"a": ["yes", "no"]})
    # b's CPD lists a's states the other way round: column 0 is a=no
    b = TabularCPD(
        "b",
        2,
        [[0.9, 0.2], [0.1, 0.8]],
        evidence=["a"],
        evidence_card=[2],
        state_names={"b": ["on", "off"], "a": ["no", "yes"]},
    )
    model.add_cpds(a, b)
    net = from_pgmpy(model)
    assert net["b"].probs.tolist() == [[0.2, 0.8], [0.9, 0.1]]  # rows a=yes, a=no
    p_on = float((net["a"].probs[:, None] * net["b"].probs).sum(0)[0])
    assert p_on == pytest.approx(0.3 * 0.2 + 0.7 * 0.9, abs=1e-15)
    with pytest.raises(ValueError, match="state names of a"):  # pgmpy itself refuses this model
        model.check_model()


def test_from_pgmpy_needs_every_cpd():
    model = DiscreteBayesianNetwork([("a", "b")])
    model.add_cpds(TabularCPD("a", 2, [[0.5], [0.5]]))
    with pytest.raises(ValueError, match=r"no CPD for \['b'\]"):
        from_pgmpy(model)


def test_to_pgmpy_rejects_non_table_factors():
    x = Discrete("x", ["a", "b"])
    net = BayesNet([Table(x, probs=[0.5, 0.5]), Gaussian(Continuous("y"), [x])])
    with pytest.raises(TypeError, match="the factor of 'y' is a Gaussian"):
        to_pgmpy(net)
