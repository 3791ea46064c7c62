"""The student network of §2.1.1: the chapter's oracle answers, independences and counts."""

import itertools

import pytest
import torch

from bayesgen.examples import student


@pytest.fixture(scope="module")
def net():
    return student()


def test_oracle_answers(net):
    assert float(net.query("x2")["1"]) == pytest.approx(0.695, abs=1e-12)
    assert float(net.query("P(x1 | x2=0)")["1"]) == pytest.approx(0.7377049180327869, abs=1e-12)
    assert float(net.query(["x2", "x3"])["1", "1"]) == pytest.approx(0.546, abs=1e-12)
    assert float(net.query("P(x3 | x2=1)")["1"]) == pytest.approx(0.7856115107913669, abs=1e-12)
    assert float(net.query("x4")["1"]) == pytest.approx(0.76484, abs=1e-12)


def test_most_probable_joint_state(net):
    best = net.mpe()
    assert [int(best[v]) for v in net.order] == [1, 1, 1, 1]
    assert best.labels == {"x1": "1", "x2": "1", "x3": "1", "x4": "1"}
    assert float(best.prob) == pytest.approx(0.5346, abs=1e-12)
    joint = net.full_joint()
    assert float(joint.max()) == pytest.approx(0.5346, abs=1e-12)
    assert joint.argmax() == joint.numel() - 1  # the index of (1, 1, 1, 1)


def test_query_agrees_with_brute_force_enumeration(net):
    joint = net.full_joint()  # (x1, x2, x3, x4)
    p_x1_given_x2_0 = joint[:, 0].sum((1, 2)) / joint[:, 0].sum()
    torch.testing.assert_close(net.query("P(x1 | x2=0)").probs, p_x1_given_x2_0)
    torch.testing.assert_close(net.query(["x2", "x3"]).probs, joint.sum((0, 3)))


def test_conditional_independences_by_d_separation_and_numerically(net):
    # x3 ⊥ x2 | x1
    assert net.d_separated("x3", "x2", given="x1")
    for s in ("0", "1"):
        pair = net.query(["x2", "x3"], {"x1": s}).probs
        torch.testing.assert_close(pair, torch.outer(pair.sum(1), pair.sum(0)))
    # x4 ⊥ x1 | x2, x3
    assert net.d_separated("x4", "x1", given=["x2", "x3"])
    for s2, s3 in itertools.product("01", repeat=2):
        pair = net.query(["x1", "x4"], {"x2": s2, "x3": s3}).probs
        torch.testing.assert_close(pair, torch.outer(pair.sum(1), pair.sum(0)))
    # x2 and x3 are NOT marginally independent
    assert not net.d_separated("x2", "x3")
    pair = net.query(["x2", "x3"]).probs
    assert (pair - torch.outer(pair.sum(1), pair.sum(0))).abs().max() > 1e-3


def test_parameter_counts(net):
    assert net.full_joint_parameters() == 2**4 - 1
    assert net.num_parameters() == 1 + 2 + 2 + 4


def test_bad_queries_name_the_problem(net):
    with pytest.raises(ValueError, match="unknown target .x9."):
        net.query("P(x9)")
    with pytest.raises((ValueError, KeyError), match="unknown state '7' of 'x2'"):
        net.query("P(x1 | x2=7)")
    with pytest.raises(ValueError, match="malformed query"):
        net.query("P(x1 | x2)")
