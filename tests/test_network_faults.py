"""BayesNet and variables given what a new user might try: huge chains (linear time), huge
sample counts and seeds, states written as one string, empty state names."""

import time

import numpy as np
import pytest
import torch

from bayesgen import BayesNet, Discrete, Table
from bayesgen.errors import MemoryBudgetError
from bayesgen.examples import student


def chain(n: int) -> BayesNet:
    vs = [Discrete(f"v{i}", ["off", "on"]) for i in range(n)]
    step = [[0.9, 0.1], [0.2, 0.8]]
    return BayesNet(
        [Table(vs[0], probs=[0.3, 0.7])]
        + [Table(v, [u], probs=step) for u, v in zip(vs[:-1], vs[1:], strict=True)]
    )


def test_fifty_thousand_variable_chain_is_linear():
    """Building, sampling and one query on a 50,000-variable chain took minutes when
    ``variables`` was rebuilt on every access; it is a few seconds. CPU time is measured, so
    that a machine busy with other work does not count."""
    n = 50_000
    start = time.process_time()
    net = chain(n)
    sample = net.sample(5, seed=0)
    post = net.query(f"v{n - 1}", {"v0": "on"})
    elapsed = time.process_time() - start
    assert len(sample) == n and all(s.shape == (5,) for s in sample.values())
    # the chain forgets its start: the stationary distribution of [[.9, .1], [.2, .8]] is (2/3, 1/3)
    torch.testing.assert_close(post.probs, torch.tensor([2 / 3, 1 / 3], dtype=torch.float64))
    assert elapsed < 20, f"{elapsed:.1f} s of CPU"
    assert net.variables is net.variables  # built once, not per access


def test_sampling_draws_as_the_distributions_do():
    """The table fast path draws exactly what each factor's distribution would draw."""
    net = student()
    got = net.sample(300, seed=11)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        want: dict = {}
        for name, f in net.factors.items():
            d = f(want, None)
            want[name] = d.sample((300,)) if d.batch_shape == () else d.sample()
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_huge_sample_count_is_refused_before_allocating():
    with pytest.raises(MemoryBudgetError, match=r"^sampling 100000000000 rows of 4 variables"):
        student().sample(100_000_000_000)


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1, 10**30])
def test_seed_beyond_64_bits(seed):
    with pytest.raises(ValueError, match=r"seed must be an int in \[-2\*\*63, 2\*\*64 - 1\]"):
        student().sample(3, seed=seed)
    student().sample(3, seed=2**64 - 1)  # the largest seed torch takes


def test_seed_of_the_wrong_type():
    with pytest.raises(TypeError, match="seed must be"):
        student().sample(3, seed="1")


def test_states_as_one_string_are_rejected():
    with pytest.raises(TypeError, match=r"states must be a list of labels .* got the string 'yes'"):
        Discrete("a", "yes")
    assert Discrete("a", ["yes"]).states == ("yes",)
    assert Discrete("a", np.int64(3)).states == ("0", "1", "2")


@pytest.mark.parametrize("states", [["a", ""], [" ", "b"]])
def test_empty_state_names_are_rejected(states):
    with pytest.raises(ValueError, match="is an empty name"):
        Discrete("x", states)


def test_full_joint_checks_its_size_first():
    with pytest.raises(MemoryBudgetError, match="the full joint table of 40 variables.*use query"):
        chain(40).full_joint()


def test_unknown_variable_message_is_short():
    with pytest.raises(KeyError, match=r"unknown variable 'nope'; .* and 70 more"):
        chain(100).parents("nope")
