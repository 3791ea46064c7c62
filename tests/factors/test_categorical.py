"""ExactCategorical, the distribution of a Table's rows: exact zeros score −inf (brute force and
pgmpy), rows kept as given are not renormalized, gradients reach leaf probabilities, and
everything else follows torch's Categorical (shapes, sampling, validation)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import special, stats
from torch.distributions import Categorical, kl_divergence

from bayesgen import BayesNet, Discrete, Table
from bayesgen.factors import ExactCategorical
from bayesgen.io import bnlearn, to_pgmpy

D64 = torch.float64


def _sprinkler() -> BayesNet:
    """rain → wet ← sprinkler with impossible states: dry grass under rain, and a broken
    sprinkler state that never occurs."""
    rain = Discrete("rain", ["no", "yes"])
    spr = Discrete("sprinkler", ["off", "on", "broken"])
    wet = Discrete("wet", ["no", "yes"])
    return BayesNet(
        [
            Table(rain, probs=[0.7, 0.3]),
            Table(spr, probs=[0.6, 0.4, 0.0]),
            Table(
                wet,
                [rain, spr],  # probs[rain, sprinkler, wet]
                probs=[[[1.0, 0.0], [0.1, 0.9], [0.5, 0.5]], [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]]],
            ),
        ]
    )


def _all_states(net: BayesNet) -> dict[str, torch.Tensor]:
    """Every joint state, row-major in ``net.order`` (the layout of ``full_joint``)."""
    cards = [v.card for v in net.variables.values()]
    grid = torch.cartesian_prod(*[torch.arange(c) for c in cards]).reshape(-1, len(cards))
    return {n: grid[:, i] for i, n in enumerate(net.order)}


def test_impossible_rows_have_log_prob_minus_inf():
    net = _sprinkler()
    data = {
        "rain": torch.tensor([1, 0, 0, 1, 0]),
        "sprinkler": torch.tensor([0, 0, 2, 1, 1]),
        "wet": torch.tensor([0, 0, 1, 1, 1]),
    }
    lp = net.log_prob(data)
    assert lp[0] == -math.inf  # dry under rain
    assert lp[2] == -math.inf  # the broken sprinkler
    expect = [math.log(0.7 * 0.6 * 1.0), math.log(0.3 * 0.4 * 1.0), math.log(0.7 * 0.4 * 0.9)]
    torch.testing.assert_close(lp[[1, 3, 4]], torch.tensor(expect, dtype=D64), rtol=1e-15, atol=0)
    # torch's own Categorical clamps log 0 to a finite number: the reason for ExactCategorical
    assert torch.isfinite(Categorical(probs=net["sprinkler"].probs).log_prob(torch.tensor(2)))


def test_brute_force_joint_equals_full_joint_and_pgmpy_with_their_zeros():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = bnlearn.load("asia")  # either = lung OR tub: half of the joint states impossible
    states = _all_states(net)
    lp = net.log_prob(states)  # (256,)
    joint = net.full_joint().reshape(-1)
    zeros = joint == 0
    assert int(zeros.sum()) == 128
    assert torch.equal(lp == -math.inf, zeros)
    torch.testing.assert_close(lp.exp(), joint, rtol=1e-13, atol=0)
    # pgmpy's variable elimination of the whole joint, reordered to our axes and states
    from pgmpy.inference import VariableElimination

    factor = VariableElimination(to_pgmpy(net)).query(list(net.order), joint=True)
    values = factor.values
    for axis, v in enumerate(factor.variables):
        names = [str(s) for s in factor.state_names[v]]
        values = np.take(values, [names.index(s) for s in net.variables[v].states], axis=axis)
    theirs = np.transpose(values, [factor.variables.index(v) for v in net.order]).reshape(-1)
    assert np.array_equal(theirs == 0, zeros.numpy())
    np.testing.assert_allclose(lp.exp().numpy(), theirs, rtol=1e-12, atol=0)


def test_rows_kept_as_given_are_not_renormalized():
    x = Discrete("x", 3)
    a = Discrete("a", 2)
    given = [[0.2, 0.3000004, 0.5], [0.1, 0.2, 0.6999993]]  # rows miss 1 by 4e-7 and 7e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # below 1e-6: rounding, kept without a warning
        t = Table(x, [a], probs=given)
    assert t.probs.tolist() == given
    dist = t({"a": torch.tensor([0, 1])})
    assert torch.equal(dist.probs, torch.tensor(given, dtype=D64))
    lp = dist.log_prob(torch.tensor([1, 2]))
    assert lp.tolist() == torch.tensor([0.3000004, 0.6999993], dtype=D64).log().tolist()
    renormalized = Categorical(probs=torch.tensor(given, dtype=D64)).log_prob(torch.tensor([1, 2]))
    assert (lp - renormalized).abs().min() > 1e-7  # what torch's Categorical would have given
    # from a miss of 1e-6 on, the table renormalizes (with a warning) instead
    with pytest.warns(UserWarning, match=r"table of 'x': 1 row\(s\) miss summing to 1"):
        t = Table(x, probs=[0.2, 0.3, 0.500002])
    assert abs(float(t.probs.sum()) - 1) < 1e-15


def test_gradients_flow_through_leaf_probabilities():
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.5, 0.5, 0.0], [0.1, 0.3, 0.6]], dtype=D64, requires_grad=True)
    pa = torch.randint(0, 2, (200,), generator=g)
    x = torch.where(pa == 0, torch.randint(0, 2, (200,), generator=g), 2 - (pa == 1).long())
    ExactCategorical(probs[pa]).log_prob(x).sum().backward()
    counts = torch.zeros(2, 3, dtype=D64).index_put_((pa, x), torch.ones(200, dtype=D64), True)
    expect = torch.where(counts > 0, counts / probs.detach(), torch.zeros_like(counts))
    torch.testing.assert_close(probs.grad, expect, rtol=1e-14, atol=0)  # ∂/∂θ Σ log θ = N / θ

    # the same through a Table's buffer inside a network
    net = _sprinkler()
    wet = net["wet"].probs.requires_grad_(True)
    data = net.sample(500, seed=1)
    net.log_prob(data).sum().backward()
    n = torch.zeros(2, 3, 2, dtype=D64)
    n.index_put_((data["rain"], data["sprinkler"], data["wet"]), torch.ones(500, dtype=D64), True)
    expect = torch.where(n > 0, n / wet.detach(), torch.zeros_like(n))
    torch.testing.assert_close(wet.grad, expect, rtol=1e-14, atol=0)

    # entropy: ∂H/∂p = −(log p + 1), and 0 (not NaN) at an exact zero
    probs.grad = None
    ExactCategorical(probs).entropy().sum().backward()
    p = probs.detach()
    expect = torch.where(p > 0, -(p.log() + 1), torch.zeros_like(p))
    torch.testing.assert_close(probs.grad, expect, rtol=1e-14, atol=0)


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_shapes_sampling_and_support_follow_torch_categorical(batch):
    g = torch.Generator().manual_seed(len(batch))
    probs = torch.rand(*batch, 5, generator=g, dtype=D64) * (torch.arange(5) != 2)  # state 2: 0
    probs = probs / probs.sum(-1, keepdim=True)
    ours, torchs = ExactCategorical(probs), Categorical(probs=probs)
    assert ours.batch_shape == torchs.batch_shape == batch
    assert ours.event_shape == torchs.event_shape == ()
    assert ours.param_shape == torchs.param_shape
    assert torch.equal(ours.mode, torchs.mode)
    for expand in (True, False):
        assert torch.equal(ours.enumerate_support(expand), torchs.enumerate_support(expand))
    wide = ours.expand((7, *batch))
    assert type(wide) is ExactCategorical and wide.batch_shape == (7, *batch)
    assert torch.equal(wide.probs[3], probs)
    x = ours.enumerate_support()  # (5, *batch)
    lp, ref = ours.log_prob(x), torchs.log_prob(x)
    assert lp.shape == ref.shape == (5, *batch)
    assert (lp[2] == -math.inf).all() and torch.isfinite(ref[2]).all()
    keep = torch.arange(5) != 2
    torch.testing.assert_close(lp[keep], ref[keep], rtol=1e-13, atol=0)
    assert ours.log_prob(torch.tensor(1)).shape == batch  # a scalar value broadcasts
    # sampling: (n, *batch) codes, frequencies within 5 standard errors, never an impossible one
    n = 20_000
    torch.manual_seed(3)
    s = ours.sample((n,))
    assert s.shape == (n, *batch) and s.dtype == torch.long
    freq = torch.nn.functional.one_hot(s, 5).double().mean(0)  # (*batch, 5)
    assert (freq[..., 2] == 0).all()
    assert ((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-12).all()


def test_validation_checks_the_given_simplex_and_the_support():
    off = torch.tensor([0.5, 0.6], dtype=D64)
    with pytest.raises(ValueError, match=r"parameter probs .* constraint Simplex\(\)"):
        ExactCategorical(off, validate_args=True)
    Categorical(probs=off, validate_args=True)  # torch renormalizes, so it accepts these
    unchecked = ExactCategorical(off, validate_args=False)
    assert unchecked.log_prob(torch.tensor(1)).item() == math.log(0.6)  # as given
    d = ExactCategorical(torch.tensor([0.2, 0.8], dtype=D64), validate_args=True)
    with pytest.raises(ValueError, match="within the support"):
        d.log_prob(torch.tensor(2))
    with pytest.raises(TypeError, match="probs must be a tensor, got list"):
        ExactCategorical([0.2, 0.8])
    with pytest.raises(ValueError, match="at least one-dimensional"):
        ExactCategorical(torch.tensor(1.0))


def test_entropy_and_kl_with_zeros_match_scipy():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 1.0, 0.0]], dtype=D64)
    q = torch.tensor(
        [[0.25, 0.25, 0.5, 0.0], [0.4, 0.3, 0.2, 0.1], [0.5, 0.5, 0.0, 0.0]], dtype=D64
    )
    a, b = ExactCategorical(p), ExactCategorical(q)
    np.testing.assert_allclose(a.entropy().numpy(), stats.entropy(p.numpy(), axis=-1), rtol=1e-14)
    kl = kl_divergence(a, b).numpy()  # torch dispatches to the ExactCategorical pair
    ref = special.rel_entr(p.numpy(), q.numpy()).sum(-1)  # [finite, finite, inf]
    assert np.isinf(ref[2]) and np.isinf(kl[2])
    np.testing.assert_allclose(kl[:2], ref[:2], rtol=1e-13)
    assert kl_divergence(b, a)[0] == math.inf  # q puts mass where p has none
