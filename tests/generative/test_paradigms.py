"""The generic checks every paradigm passes, driven from a list of small examples (as
torch.distributions and zuko test their distributions): shapes, gradients, one optimizer step,
save/load, the fast path equal to the network path, and clear errors for bad input.

Add a paradigm by appending a factory to ``EXAMPLES`` in ``tests/generative/paradigm_examples.py``:
``name -> () -> (model, x, y)`` with a tiny model and a small batch x (and labels y, or None).
"""

from __future__ import annotations

import pytest
import torch
from paradigm_examples import EXAMPLES

from bayesgen.generative import load_model


def seeded(fn, seed: int = 0):
    """fn() with the global RNG at ``seed`` (common random numbers for stochastic losses)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()


def energy_statistic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """2 E|a − b| − E|a − a'| − E|b − b'| (V-statistic) for rows flattened to vectors."""
    a, b = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    return 2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()


def permutation_p_value(a, b, n_perm: int = 200, seed: int = 0) -> float:
    """p-value of the energy two-sample test by permuting the pooled rows."""
    g = torch.Generator().manual_seed(seed)
    pooled = torch.cat([a.reshape(len(a), -1), b.reshape(len(b), -1)]).double()
    observed = energy_statistic(a, b)
    hits = 0
    for _ in range(n_perm):  # permutations, not rows
        idx = torch.randperm(len(pooled), generator=g)
        hits += int(energy_statistic(pooled[idx[: len(a)]], pooled[idx[len(a) :]]) >= observed)
    return (hits + 1) / (n_perm + 1)


@pytest.fixture(params=sorted(EXAMPLES), ids=str)
def example(request):
    torch.manual_seed(0)
    return EXAMPLES[request.param]()


def test_shapes(example):
    model, x, y = example
    n = len(x)
    s = model.sample(n, y, generator=torch.Generator().manual_seed(0))
    assert tuple(s.shape) == (n, *model.event_shape)
    loss = seeded(lambda: model.loss(x, y))
    assert loss.dim() == 0 and torch.isfinite(loss)
    if model.exact_likelihood:
        assert model.log_prob(x, y).shape == (n,)
    for name in model.bounds:
        assert getattr(model, name)(x, y).shape == (n,)
    metrics = seeded(lambda: model.metrics(x, y))
    assert all(v.dim() == 0 and torch.isfinite(v) for v in metrics.values())


def test_gradients_reach_every_parameter(example):
    model, x, y = example
    groups = model.parameter_groups()
    grouped = {id(p) for ps in groups.values() for p in ps}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert not [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in grouped]
    for group, params in groups.items():
        model.zero_grad()
        seeded(lambda g=group: model.loss(x, y, group=g if len(groups) > 1 else None)).backward()
        missing = [n for n, p in model.named_parameters() if id(p) in {id(q) for q in params}]
        missing = [n for n in missing if dict(model.named_parameters())[n].grad is None]
        assert not missing, f"group {group!r}: no gradient reaches {missing}"
    assert trainable


def test_one_step_lowers_the_loss(example):
    model, x, y = example
    groups = model.parameter_groups()
    for group, params in groups.items():
        g = group if len(groups) > 1 else None
        opt = torch.optim.Adam(params, lr=1e-3)
        before = seeded(lambda g=g: model.loss(x, y, group=g))
        opt.zero_grad()
        before.backward()
        opt.step()
        after = seeded(lambda g=g: model.loss(x, y, group=g))
        assert after < before, f"group {group!r}: {float(before)} -> {float(after)}"


def test_save_load_round_trip(example, tmp_path):
    model, x, y = example
    path = model.save(tmp_path / "model.json")
    again = load_model(path)
    assert type(again) is type(model) and again.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    torch.testing.assert_close(
        seeded(lambda: again.loss(x, y)), seeded(lambda: model.loss(x, y)), rtol=0, atol=0
    )


def test_fast_path_equals_network_path(example):
    model, x, y = example
    with torch.no_grad():
        values, fast = model.joint(x, y, generator=torch.Generator().manual_seed(0))
        slow = model.network.log_prob(values, context=model.context(y, len(x)))
    torch.testing.assert_close(slow, fast, rtol=1e-5, atol=1e-4)


def test_network_samples_like_the_model(example):
    """Ancestral sampling through the network's factors (eq. 17/20) draws from the model's
    distribution: an energy two-sample test at level 0.01 does not reject."""
    model, x, y = example
    n = 300
    yn = None if y is None else y[torch.arange(n) % len(y)]
    with torch.no_grad():
        fast = model.sample(n, yn, generator=torch.Generator().manual_seed(1))
        values = model.network.sample(n, seed=2, context=model.context(yn, n))
        slow = model.observation(values)
    assert slow.shape == fast.shape
    assert permutation_p_value(fast.float(), slow.float()) > 0.01


def test_bad_input_is_a_clear_error(example):
    model, x, y = example
    with pytest.raises(ValueError, match="shape"):
        model.loss(x.reshape(len(x), -1)[:, :1].float(), y)
    if x.is_floating_point():
        bad = x.clone()
        bad[1].reshape(-1)[0] = float("nan")
        with pytest.raises(ValueError, match="row 1"):
            model.loss(bad, y)
