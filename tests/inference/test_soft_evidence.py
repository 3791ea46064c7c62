"""Soft (virtual) evidence against brute force on the full joint and against pgmpy's
``virtual_evidence``."""

from __future__ import annotations

import math

import pytest
import torch

from bayesgen.examples import student
from bayesgen.io import bnlearn


def brute(net, lams: dict, evidence: dict) -> torch.Tensor:
    """The full joint × Π λ, restricted to the hard evidence (axes in ``net.order``)."""
    joint = net.full_joint().double()
    for name, lam in lams.items():
        axis = net.order.index(name)
        shape = [1] * joint.dim()
        shape[axis] = -1
        joint = joint * torch.as_tensor(lam, dtype=torch.float64).reshape(shape)
    for name, code in evidence.items():
        axis = net.order.index(name)
        keep = torch.zeros(joint.shape[axis], dtype=torch.float64)
        keep[code] = 1
        shape = [1] * joint.dim()
        shape[axis] = -1
        joint = joint * keep.reshape(shape)
    return joint


LAMS = [{"x2": [0.2, 0.8]}, {"x4": [1.0, 3.0], "x3": [0.5, 0.25]}, {"x1": [0.0, 2.0]}]


CASES = [(lams, ev) for lams in LAMS for ev in ({}, {"x4": 1}) if not set(lams) & set(ev)]


@pytest.mark.parametrize(("lams", "evidence"), CASES)
def test_query_marginals_log_evidence_mpe_map_equal_brute_force(lams, evidence):
    net = student()
    joint = brute(net, lams, evidence)
    order = net.order
    z = joint.sum()
    torch.testing.assert_close(
        net.log_evidence(evidence, soft_evidence=lams),
        z.log().to(torch.float64),
        rtol=1e-12,
        atol=0,
    )
    marg = net.marginals(evidence, soft_evidence=lams)
    assert set(marg) == {n for n in order if n not in evidence}
    for name, probs in marg.items():
        axes = [k for k, n in enumerate(order) if n != name]
        expected = joint.sum(axes) / z
        torch.testing.assert_close(probs.double(), expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(
            net.query(name, evidence, soft_evidence=lams).probs.double(),
            expected,
            rtol=1e-10,
            atol=1e-12,
        )
    best = torch.argmax(joint)
    codes = torch.unravel_index(best, joint.shape)
    mpe = net.mpe(evidence, soft_evidence=lams)
    assert {n: int(mpe[n]) for n in order if n not in evidence} == {
        n: int(c) for n, c in zip(order, codes, strict=True) if n not in evidence
    }
    assert float(mpe.log_prob) == pytest.approx(math.log(float(joint.max())), rel=1e-12)
    pair = net.map(["x2", "x3"], evidence, soft_evidence=lams)
    summed = joint.sum([order.index("x1"), order.index("x4")])  # axes x2, x3 remain
    i, j = divmod(int(torch.argmax(summed)), 2)
    assert (int(pair["x2"]), int(pair["x3"])) == (i, j)


def test_only_ratios_matter_for_posteriors_and_labels_are_accepted():
    net = student()
    a = net.query("x1", soft_evidence={"x2": [0.2, 0.8]}).probs
    b = net.query("x1", soft_evidence={"x2": {"1": 8.0, "0": 2.0}}).probs
    torch.testing.assert_close(a, b)
    # soft evidence [0, 1] is hard evidence x2 = 1
    hard = net.query("x1", {"x2": 1}).probs
    torch.testing.assert_close(net.query("x1", soft_evidence={"x2": [0, 1]}).probs, hard)


def test_soft_evidence_equals_pgmpy_virtual_evidence():
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    from bayesgen.io import to_pgmpy

    net = bnlearn.load("asia")
    model = to_pgmpy(net)
    lam = [0.3, 0.7]
    var = "xray"
    states = list(net.variables[var].states)
    cpd = TabularCPD(var, 2, [[lam[0]], [lam[1]]], state_names={var: states})
    theirs = VariableElimination(model).query(["lung"], virtual_evidence=[cpd], show_progress=False)
    ours = net.query("lung", soft_evidence={var: lam})
    for k, s in enumerate(net.variables["lung"].states):
        assert float(ours.probs[k]) == pytest.approx(theirs.get_value(lung=s), abs=1e-12)


def test_bad_soft_evidence():
    net = student()
    with pytest.raises(ValueError, match="unknown soft-evidence variable 'x9'"):
        net.query("x1", soft_evidence={"x9": [1, 1]})
    with pytest.raises(ValueError, match=r"one likelihood per state \(2\), got shape \(3,\)"):
        net.query("x1", soft_evidence={"x2": [1, 1, 1]})
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        net.query("x1", soft_evidence={"x2": [0, 0]})
    with pytest.raises(ValueError, match="both hard and soft evidence"):
        net.query("x1", {"x2": 1}, soft_evidence={"x2": [0.5, 0.5]})
    assert set(net.marginals(soft_evidence={"x2": [1, 2]})) == set(net.order)
