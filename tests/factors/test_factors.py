"""Generic checks for every factor family, driven from a list of examples (as torch.distributions
tests do): batch/event shapes, sample mean vs the distribution's mean, gradients reaching every
parameter, and a JSON save/load round trip inside a network."""

import warnings

import pytest
import torch

from bayesgen import (
    BayesNet,
    Continuous,
    Discrete,
    Gaussian,
    LinearGaussian,
    NeuralBernoulli,
    NeuralCategorical,
    NeuralNormal,
    Table,
)
from bayesgen.io.json import from_json, to_json

A = Discrete("a", ["lo", "hi"])
C = Discrete("c", 3)
U = Continuous("u")
V = Continuous("v", 2)

# roots that generate every parent used below
ROOTS = {
    "a": lambda: Table(A, probs=[0.3, 0.7]),
    "c": lambda: Table(C, probs=[0.2, 0.5, 0.3]),
    "u": lambda: Gaussian(U, mean=1.0, std=2.0),
    "v": lambda: Gaussian(V, mean=[0.0, 1.0], std=[1.0, 0.5]),
}


def examples():
    torch.manual_seed(0)
    x = Discrete("x", 3)
    y = Continuous("y")
    w = Continuous("w", 3)
    b = Continuous("b", (2, 2))
    return [
        Table(x, [A, C], probs=torch.softmax(torch.randn(2, 3, 3), -1)),
        Table(x, probs=[0.1, 0.6, 0.3]),
        Gaussian(y, [A], mean=[-1.0, 2.0], std=[0.5, 1.5]),
        Gaussian(
            w,
            covariance="full",
            mean=[0.0, 1.0, 2.0],
            scale_tril=[[1.0, 0, 0], [0.5, 1.0, 0], [0.2, -0.3, 0.7]],
        ),
        LinearGaussian(y, [U, A], weight=[[0.5], [-1.0]], bias=[0.0, 1.0], scale=[1.0, 0.3]),
        LinearGaussian(w, [U, V], weight=torch.randn(3, 3), bias=torch.randn(3), scale=[1, 2, 3]),
        NeuralBernoulli(Discrete("z", 2), [U, C], hidden=(8,)),
        NeuralBernoulli(b, [V], hidden=(8,)),
        NeuralCategorical(x, [A, V], hidden=(8,)),
        NeuralNormal(w, [U, C], hidden=(8,)),
        NeuralNormal(y, [], hidden=()),
        NeuralNormal(y, [A], mean="tanh", scale=0.5, hidden=(4,)),
    ]


def parents_batch(factor, n, seed=0):
    net = BayesNet([ROOTS[p.name]() for p in factor.parents])
    return net.sample(n, seed=seed) if len(net) else {}


@pytest.mark.parametrize("factor", examples(), ids=lambda f: f"{type(f).__name__}({f})")
def test_shapes(factor):
    parents = parents_batch(factor, 5)
    dist = factor(parents)
    batch = (5,) if factor.parents else dist.batch_shape
    assert dist.batch_shape in ((5,), ()) and tuple(dist.batch_shape) == tuple(batch)
    assert tuple(dist.event_shape) == factor.variable.shape
    value = dist.sample() if factor.parents else dist.sample((5,))
    assert factor.log_prob(value, parents).shape == (5,)


@pytest.mark.parametrize("factor", examples(), ids=lambda f: f"{type(f).__name__}({f})")
def test_sample_mean_matches_distribution(factor):
    n = 20000
    one = parents_batch(factor, 1, seed=3)
    parents = {k: v.expand(n, *v.shape[1:]) for k, v in one.items()}
    torch.manual_seed(1)
    dist = factor(parents)
    x = (dist.sample() if factor.parents else dist.sample((n,))).double()
    if isinstance(factor.variable, Discrete) and not isinstance(factor, NeuralBernoulli):
        x = torch.nn.functional.one_hot(x.long(), factor.variable.card).double()
        mean = dist.probs[0] if factor.parents else dist.probs
        std = (mean * (1 - mean)).sqrt()
    else:
        mean = (dist.mean[0] if factor.parents else dist.mean).double()
        std = (dist.stddev[0] if factor.parents else dist.stddev).double()
    se = std / n**0.5
    assert ((x.mean(0) - mean).abs() <= 5 * se + 1e-12).all()


@pytest.mark.parametrize(
    "factor", [f for f in examples() if list(f.parameters())], ids=lambda f: type(f).__name__
)
def test_gradients_reach_every_parameter(factor):
    parents = parents_batch(factor, 64)
    dist = factor(parents)
    value = dist.sample() if factor.parents else dist.sample((64,))
    (-factor.log_prob(value, parents).mean()).backward()
    for name, p in factor.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("factor", examples(), ids=lambda f: f"{type(f).__name__}({f})")
def test_json_round_trip(factor):
    net = BayesNet([ROOTS[p.name]() for p in factor.parents] + [factor])
    data = net.sample(50, seed=2)
    again = from_json(to_json(net))
    torch.testing.assert_close(again.log_prob(data), net.log_prob(data), rtol=0, atol=0)


def test_table_validation_names_factor_and_row():
    x = Discrete("x", 2)
    with pytest.raises(ValueError, match=r"table of 'x': row \(a=hi\) sums to 1.2"):
        Table(x, [A], probs=[[0.5, 0.5], [0.6, 0.6]])
    with pytest.raises(ValueError, match=r"table of 'x' has shape \(2,\), expected \(2, 2\)"):
        Table(x, [A], probs=[0.5, 0.5])
    with pytest.raises(ValueError, match="negative entry"):
        Table(x, probs=[1.5, -0.5])
    with pytest.warns(UserWarning, match="table of 'x'.*renormalized"):
        t = Table(Discrete("x", 3), probs=[0.3333, 0.3333, 0.3333])
    torch.testing.assert_close(t.probs, torch.full((3,), 1 / 3, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Table(x, probs=[0.25, 0.75])


def test_factor_errors():
    with pytest.raises(TypeError, match="needs discrete variables"):
        Table(Discrete("x", 2), [U])
    with pytest.raises(ValueError, match="lists itself as a parent"):
        Table(A, [A], probs=[[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="NeuralBernoulli needs a binary variable"):
        NeuralBernoulli(C, [A])
    with pytest.raises(ValueError, match="covariance must be 'diag' or 'full'"):
        LinearGaussian(U, covariance="spherical")
    with pytest.raises(ValueError, match="scale must be > 0"):
        Gaussian(U, std=-1.0)
    with pytest.raises(ValueError, match="bias has shape"):
        LinearGaussian(V, bias=[1.0, 2.0, 3.0])
