"""Latent diffusion: the composed network z_T → … → z_0 → x equals the fast path, ``sample`` is
the diffusion's sample decoded, the chained bound is a bound, and the two-stage recipe trains
only the diffusion in stage two."""

from __future__ import annotations

import itertools

import pytest
import torch

from bayesgen.generative import Diffusion, LatentDiffusion
from bayesgen.generative.classifier import GenerativeClassifier


def tiny(**kw) -> LatentDiffusion:
    torch.manual_seed(0)
    base = dict(latent_dim=2, hidden=(16,), timesteps=5, diffusion_hidden=(16,), embedding=8)
    return LatentDiffusion(4, **{**base, **kw})


def test_network_is_the_chain_then_the_decoder():
    model = tiny(num_classes=2)
    net = model.network
    assert list(net.order) == ["z5", "z4", "z3", "z2", "z1", "z0", "x"]
    assert net.factors["x"].parent_names == ("z0",)
    x = torch.bernoulli(torch.full((6, 4), 0.5))
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    with torch.no_grad():
        values, fast = model.joint(x, y, generator=torch.Generator().manual_seed(0))
        slow = net.log_prob(values, context=model.context(y, 6))
        # the fast path is the diffusion's joint of z_0..z_T plus the decoder's log p(x | z_0)
        chain = {("x" if k == "z0" else k): v for k, v in values.items() if k != "x"}
        lp_chain = model.diffusion.network.log_prob(chain, context=model.context(y, 6))
        lp_x = model.autoencoder.decoder(values["z0"], None).log_prob(x)
    torch.testing.assert_close(slow, fast, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(lp_chain + lp_x, fast, rtol=1e-5, atol=1e-4)


def test_sample_is_the_latent_sample_decoded():
    model = tiny(num_classes=3, label_dropout=0.1)
    y = torch.tensor([0, 1, 2, 2])
    for kw in ({}, {"sampler": "ddim", "steps": 3, "guidance": 2.0}, {"clip": 0.5}):
        got = model.sample(4, y, generator=torch.Generator().manual_seed(3), mean=True, **kw)
        z0 = model.diffusion.sample(4, y, generator=torch.Generator().manual_seed(3), **kw)
        torch.testing.assert_close(got, model.autoencoder.decode(z0))
    drawn = model.sample(500, torch.zeros(500, dtype=torch.long))
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}


def test_the_bound_sums_to_at_most_one_over_every_binary_x():
    """Σ_x p(x) = 1 over the 16 binary x of 4 pixels, and E[elbo(x)] ≤ log p(x) for each: the
    Monte-Carlo mean of the bound (400 draws) exponentiated sums to at most 1."""
    model = tiny()
    xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))  # (16, 4)
    with torch.no_grad():
        rep = xs.repeat(400, 1)
        bound = model.elbo(rep, generator=torch.Generator().manual_seed(0)).reshape(400, 16)
    assert float(bound.mean(0).exp().sum()) <= 1.0
    assert torch.isfinite(bound).all()


def test_two_stages_train_only_the_diffusion_in_stage_two():
    from bayesgen.data.source import TensorData
    from bayesgen.train import TrainConfig, train

    torch.manual_seed(0)
    # two classes of 4-pixel images: the left pair on, or the right pair on (5% flips)
    y = torch.arange(400) % 2
    clean = torch.stack([y == 0, y == 0, y == 1, y == 1], 1).float()
    x = (clean + (torch.rand(400, 4) < 0.05).float()) % 2
    model = tiny(num_classes=2, timesteps=20, diffusion_hidden=(32, 32), embedding=16)
    cfg = TrainConfig(steps=300, batch_size=100, lr=1e-2, seed=0)
    train(model.autoencoder, TensorData(x), config=cfg)
    model.freeze_autoencoder()
    assert list(model.parameter_groups()) == ["diffusion"]
    before = {k: v.clone() for k, v in model.autoencoder.state_dict().items()}
    with pytest.raises(ValueError, match="frozen"):
        model.loss(x, y, group="autoencoder")
    train(model, TensorData(x, y), config=TrainConfig(steps=400, batch_size=100, lr=5e-3))
    for k, v in model.autoencoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    # class-conditional samples show their class's pattern (tolerance: 5% flips + model error)
    g = torch.Generator().manual_seed(1)
    for label in (0, 1):
        s = model.sample(300, torch.full((300,), label), generator=g, mean=True)
        want = clean[label]
        assert float((s.round() == want).all(1).float().mean()) > 0.8, label
    # and the composed model is a classifier through its bound
    acc = GenerativeClassifier(model, score="elbo").score_accuracy(clean[:2], y[:2])
    assert acc == 1.0


def test_frozen_config_round_trips_and_bad_group_is_clear(tmp_path):
    from bayesgen.generative import load_model

    model = tiny(train_autoencoder=False)
    again = load_model(model.save(tmp_path / "m.json"))
    assert again.config == model.config and not again.train_autoencoder
    assert isinstance(again.diffusion, Diffusion)
    with pytest.raises(ValueError, match="group must be"):
        model.loss(torch.ones(2, 4), group="generator")
    with pytest.raises(ValueError, match="train_autoencoder must be a bool"):
        tiny(train_autoencoder="yes")
