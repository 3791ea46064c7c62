"""The Flow paradigm beyond the generic checks: its two network views, the chain's shape, fast
sampling with densities (IAF), conditioning on features, and its argument errors."""

from __future__ import annotations

import pytest
import torch

from bayesgen.factors.flow import FlowStep
from bayesgen.factors.latent import StandardNormal
from bayesgen.generative import Flow


def _x(n: int = 12) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0))


def _perturb(model: Flow) -> Flow:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("transform", ["nsf", "maf", "iaf", "realnvp", "nsf-coupling"])
def test_one_node_view_and_chain_agree_with_the_model(transform):
    model = _perturb(Flow(2, transform=transform, layers=3, hidden=(8,)))
    x = _x()
    with torch.no_grad():
        lp = model.log_prob(x)
        one = model.networks["x"].log_prob({"x": x})
        values, fast = model.joint(x)
        chain = model.network.log_prob(values)
    torch.testing.assert_close(one, lp)
    torch.testing.assert_close(fast, lp)
    torch.testing.assert_close(chain, lp, rtol=1e-5, atol=1e-4)
    net = model.network
    assert net.order == ("z0", "z1", "z2", "x")
    assert [net.parents(v) for v in net.order] == [(), ("z0",), ("z1",), ("z2",)]
    assert isinstance(net["z0"], StandardNormal) and isinstance(net["x"], FlowStep)
    assert net.num_parameters() == sum(p.numel() for p in model.parameters())


def test_iaf_samples_with_their_density_in_one_pass():
    model = _perturb(Flow(3, transform="iaf", layers=2, hidden=(8,)))
    dist = model.distribution(None)
    torch.manual_seed(0)
    with torch.no_grad():
        x, lp = dist.sample_and_log_prob((20,))
        torch.testing.assert_close(lp, model.log_prob(x), rtol=1e-5, atol=1e-5)


def test_conditioning_on_features_changes_the_density():
    model = _perturb(
        Flow(2, transform="realnvp", layers=2, hidden=(8,), context_size=3, conditioning="film")
    )
    x, y = _x(), torch.randn(12, 3)
    with torch.no_grad():
        a, b = model.log_prob(x, y), model.log_prob(x, y + 1)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="conditional; give y"):
        model.log_prob(x)


def test_event_shapes_are_flattened_and_restored():
    model = _perturb(Flow((2, 3), transform="maf", layers=2, hidden=(8,)))
    s = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 2, 3)
    values, fast = model.joint(s)
    assert values["z0"].shape == (5, 6) and values["x"].shape == (5, 2, 3)
    torch.testing.assert_close(model.network.log_prob(values), fast, rtol=1e-5, atol=1e-4)


def test_argument_errors():
    with pytest.raises(ValueError, match="transform must be one of"):
        Flow(2, transform="glow")
    with pytest.raises(ValueError, match="linear must be"):
        Flow(2, linear="shuffle")
    with pytest.raises(ValueError, match="layers must be"):
        Flow(2, layers=0)
    with pytest.raises(ValueError, match="features must be >= 2"):
        Flow(1, transform="realnvp")
    with pytest.raises(ValueError, match="n must be a positive int"):
        Flow(2).sample(0)
