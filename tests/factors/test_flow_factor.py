"""A flow as a node of a Bayesian network: p(x | class) inside a BayesNet, and the chain's
deterministic steps."""

from __future__ import annotations

import math

import pytest
import torch

from bayesgen.factors import NeuralCategorical
from bayesgen.factors.flow import FlowFactor, FlowStep
from bayesgen.factors.latent import StandardNormal
from bayesgen.flows import MaskedAutoregressive
from bayesgen.network import BayesNet
from bayesgen.variables import Continuous, Discrete


def _class_network() -> BayesNet:
    c = Discrete("c", 2)
    x = Continuous("x", shape=2)
    torch.manual_seed(0)
    prior = NeuralCategorical(c)
    flow = FlowFactor(x, [c], kind="maf", layers=1, hidden=(16,))
    return BayesNet([prior, flow])


def _class_data(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = (torch.rand(n, generator=g) < 0.3).long()
    centre = torch.tensor([[-2.0, 1.0], [2.0, -1.0]])[c]
    return {"c": c, "x": centre + 0.5 * torch.randn(n, 2, generator=g)}


def test_network_log_prob_sums_the_class_and_the_flow():
    net = _class_network()
    data = _class_data(32)
    lp = net.log_prob(data)
    flow = net["x"]({"c": data["c"]})
    expected = torch.log_softmax(net["c"].raw, -1)[data["c"]] + flow.log_prob(data["x"])
    torch.testing.assert_close(lp, expected)
    assert flow.batch_shape == (32,) and flow.event_shape == (2,)


def test_a_class_conditional_flow_learns_each_class():
    """Trained by the network's own log_prob, ancestral samples of each class land on its
    centre (within 5 standard errors of the sample mean)."""
    net = _class_network()
    data = _class_data(1024)
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)
    for _ in range(300):
        opt.zero_grad()
        (-net.log_prob(data).mean()).backward()
        opt.step()
    s = net.sample(2000, seed=0)
    assert abs(float(s["c"].float().mean()) - 0.3) < 0.05
    for k, centre in enumerate([[-2.0, 1.0], [2.0, -1.0]]):
        xk = s["x"][s["c"] == k]
        se = 0.5 / len(xk) ** 0.5
        assert (xk.mean(0) - torch.tensor(centre)).abs().max() < 5 * se + 0.05
        assert (xk.std(0) - 0.5).abs().max() < 0.08


def test_flow_factor_matches_an_exact_gaussian():
    """A MAF layer whose MADE outputs only its biases (t, raw) is the affine map with base
    z = x e^s + t, i.e. x ~ N(−t e^{−s}, e^{−2s})."""
    x = Continuous("x", shape=3)
    step = MaskedAutoregressive(3, hidden=(8,))
    last = step.made.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.5, 0.3, -1.0, -0.2, 2.0, 0.1]))  # (t_d, raw_d) pairs
    factor = FlowFactor(x, steps=[step])
    v = torch.randn(10, 3)
    t = torch.tensor([0.5, -1.0, 2.0])
    s = 3 * torch.tanh(torch.tensor([0.3, -0.2, 0.1]) / 3)
    mu, scale = -t * torch.exp(-s), torch.exp(-s)
    expected = torch.distributions.Normal(mu, scale).log_prob(v).sum(-1)
    torch.testing.assert_close(factor({}).log_prob(v), expected)


def test_flow_step_is_a_point_mass_with_the_jacobian_weight():
    z0, z1 = Continuous("z0", shape=2), Continuous("z1", shape=2)
    torch.manual_seed(0)
    step = MaskedAutoregressive(2, hidden=(8,))
    factor = FlowStep(z1, z0, step)
    z = torch.randn(5, 2)
    dist = factor({"z0": z})
    y = dist.sample()
    _, ladj = factor.step(None).forward_and_ladj(z)
    torch.testing.assert_close(dist.log_prob(y), -ladj)
    assert torch.isneginf(dist.log_prob(y + 0.1)).all()
    with pytest.raises(ValueError, match="one value per parent row"):
        dist.sample((3,))


def test_standard_normal_root():
    z = Continuous("z", shape=3)
    d = StandardNormal(z)({})
    v = torch.randn(4, 3)
    torch.testing.assert_close(d.log_prob(v), -0.5 * (v**2).sum(-1) - 1.5 * math.log(2 * math.pi))
    assert StandardNormal(Continuous("s"))({}).sample((7,)).shape == (7,)


def test_flow_factor_errors():
    with pytest.raises(TypeError, match="Continuous"):
        FlowFactor(Discrete("c", 2))
    with pytest.raises(ValueError, match="needs a context"):
        FlowFactor(Continuous("x", shape=2), context_size=3, kind="maf", layers=1)({}, None)
    with pytest.raises(ValueError, match="kind must be one of"):
        FlowFactor(Continuous("x", shape=2), kind="glow")
