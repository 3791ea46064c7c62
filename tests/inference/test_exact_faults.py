"""Exact inference given what a new user might try: a single −1 code, a number as targets, and
a network too wide for exact inference (the memory-budget error, not an einsum limit)."""

import time

import pytest
import torch

from bayesgen import BayesNet, Discrete, Table
from bayesgen.errors import MemoryBudgetError
from bayesgen.examples import student


def test_single_query_rejects_minus_one():
    net = student()
    with pytest.raises(ValueError, match=r"state code -1 of 'x2' is out of range 0\.\.1") as info:
        net.query("x4", evidence={"x2": -1})
    assert "only in a batch of rows" in str(info.value)
    for call in (net.mpe, net.log_evidence, net.marginals):
        with pytest.raises(ValueError, match="state code -1"):
            call({"x2": -1})
    with pytest.raises(ValueError, match="unknown state '-1' of 'x2'"):
        net.query("P(x4 | x2=-1)")
    with pytest.raises(ValueError, match="state code 7 of 'x2'"):
        net.query("x4", evidence={"x2": 7})


def test_batched_evidence_keeps_minus_one_as_unobserved():
    net = student()
    post = net.query("x4", evidence={"x2": torch.tensor([-1, 1])})
    torch.testing.assert_close(post.probs[0], net.query("x4").probs)
    torch.testing.assert_close(post.probs[1], net.query("x4", {"x2": 1}).probs)


@pytest.mark.parametrize("targets", [42, 4.5, None, {"x1": 1}])
def test_targets_of_the_wrong_kind(targets):
    with pytest.raises(TypeError, match=r"targets must be a variable name, a list of names or"):
        student().query(targets)


def _wide_network(n: int = 200, k: int = 4, seed: int = 0) -> BayesNet:
    """n binary variables, each after the first k with k random earlier parents."""
    g = torch.Generator().manual_seed(seed)
    vs = [Discrete(f"v{i}", 2) for i in range(n)]
    factors = []
    for i, v in enumerate(vs):
        parents = [] if i < k else [vs[j] for j in sorted(torch.randperm(i, generator=g)[:k])]
        p = torch.rand(*([2] * len(parents)), 2, generator=g, dtype=torch.float64)
        factors.append(Table(v, parents, p / p.sum(-1, keepdim=True)))
    return BayesNet(factors)


def test_too_wide_network_raises_the_memory_budget_error():
    """200 nodes with 4 random parents each: one step of any plan joins more than 52 variables;
    mpe and marginals used to fail with "a pairwise contraction has more than 52 indices"."""
    net = _wide_network()
    start = time.process_time()
    for call, what in ((net.mpe, "most probable explanation"), (net.marginals, "marginals")):
        with pytest.raises(MemoryBudgetError) as info:
            call()
        err = info.value
        assert what in str(err) and "approximate inference" in str(err)
        assert err.estimate > 2**52 and err.budget == net._engine.memory_budget
    assert time.process_time() - start < 30  # the plans are refused quickly


def test_plans_over_52_indices_are_never_run():
    from bayesgen.inference.contraction import plan_contraction
    from bayesgen.inference.executors import run_steps

    # 60 binary variables all in two tensors: the one step contracts 60 indices
    inputs = [tuple(range(60)), tuple(range(60))]
    sizes = dict.fromkeys(range(60), 1)  # size-1 axes: the estimate alone would not catch it
    plan = plan_contraction(inputs, (), sizes)
    assert plan.extra["too_wide"] == 60
    ones = torch.ones([1] * 60, dtype=torch.float64)
    with pytest.raises(ValueError, match="contract 60 variables at once, more than the 52"):
        run_steps(plan, [ones, ones])
    binary = plan_contraction(inputs, (), dict.fromkeys(range(60), 2))
    assert binary.memory(dict.fromkeys(range(60), 2)) >= 8 * 2**60
