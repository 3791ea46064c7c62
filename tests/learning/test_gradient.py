"""The gradient trainer: priors as penalties (weight decay, L1), optimizers, seeding, validation
and early stopping."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bayesgen.learning.gradient import Trainer, penalty
from bayesgen.learning.priors import Gaussian, Laplace


def _problem(seed: int = 0, n: int = 256):
    """A small regression net and data; the loss per row is a Gaussian NLL."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = torch.sin(x @ torch.tensor([1.0, -0.5, 0.3, 2.0], dtype=torch.float64)) + 0.1 * torch.randn(
        n, generator=g, dtype=torch.float64
    )
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    return model, {"x": x, "y": y}


def _nll(model):
    def loss(batch):
        return 0.5 * (model(batch["x"]).squeeze(-1) - batch["y"]) ** 2  # (B,)

    return loss


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)])
def test_gaussian_prior_is_torch_weight_decay(name, cls):
    lam = 0.05
    ours, data = _problem()
    ref, _ = _problem()
    Trainer(optimizer=name, lr=0.05, epochs=40, prior=Gaussian(lam), seed=0).fit(
        _nll(ours), ours.parameters(), data
    )
    opt = cls(ref.parameters(), lr=0.05, weight_decay=lam)
    for _ in range(40):  # the same full-batch steps, decay done by torch
        opt.zero_grad()
        _nll(ref)(data).mean().backward()
        opt.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    fresh = _problem()[0].parameters()
    moved = max(
        float((a - b).detach().abs().max()) for a, b in zip(ours.parameters(), fresh, strict=True)
    )
    assert moved > 1e-2  # training did change the parameters


def test_laplace_prior_is_l1_and_penalties_match_the_log_densities():
    params = [torch.tensor([0.5, -2.0]), torch.tensor([[1.0, 0.0], [-0.25, 3.0]])]
    flat = torch.cat([p.reshape(-1) for p in params])
    # −log p(θ) up to the constant that does not depend on θ
    lap = -torch.distributions.Laplace(0.0, 0.7).log_prob(flat).sum()
    assert float(penalty(Laplace(0.7), params)) == pytest.approx(
        float(lap) - flat.numel() * math.log(2 * 0.7)
    )
    gauss = -torch.distributions.Normal(0.0, 2.0**-0.5).log_prob(flat).sum()
    assert float(penalty(Gaussian(2.0), params)) == pytest.approx(
        float(gauss) - flat.numel() * 0.5 * math.log(2 * math.pi / 2.0)
    )
    # SGD with the L1 penalty equals SGD with the subgradient sign(θ)/b added by hand
    ours, data = _problem(1)
    ref, _ = _problem(1)
    Trainer(optimizer="sgd", lr=0.05, epochs=25, prior=Laplace(0.5), seed=0).fit(
        _nll(ours), ours.parameters(), data
    )
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for _ in range(25):
        opt.zero_grad()
        _nll(ref)(data).mean().backward()
        for p in ref.parameters():
            p.grad += torch.sign(p.detach()) / 0.5
        opt.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_minibatches_history_tracking_and_seeding():
    def run(seed):
        model, data = _problem(2)
        t = Trainer(
            optimizer="adam",
            lr=0.01,
            epochs=12,
            batch_size=50,
            seed=seed,
            track={"w0": lambda: float(model[0].weight[0, 0])},
        )
        return t.fit(_nll(model), model.parameters(), data)

    a, b, c = run(3), run(3), run(4)
    assert a.n_epochs_ == 12 and len(a.history_["loss"]) == 12 and len(a.history_["w0"]) == 12
    assert a.history_ == b.history_  # same seed, same shuffles, same numbers
    assert a.history_["loss"] != c.history_["loss"]
    assert a.history_["loss"][-1] < a.history_["loss"][0]


def test_weights_count_as_replicated_rows():
    model_a, data = _problem(3, n=40)
    model_b, _ = _problem(3, n=40)
    reps = torch.arange(40) % 3 + 1
    rep_data = {k: v.repeat_interleave(reps, 0) for k, v in data.items()}
    Trainer(optimizer="sgd", lr=0.1, epochs=10).fit(
        _nll(model_a), model_a.parameters(), data, weights=reps.double()
    )
    Trainer(optimizer="sgd", lr=0.1, epochs=10).fit(_nll(model_b), model_b.parameters(), rep_data)
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_early_stopping_on_a_validation_split_restores_the_best_parameters():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 10, generator=g, dtype=torch.float64)
    y = x[:, 0] + 0.5 * torch.randn(60, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1)).double()
    t = Trainer(optimizer="adam", lr=0.03, epochs=400, validation=0.3, patience=15, seed=0)
    t.fit(_nll(model), model.parameters(), {"x": x, "y": y})
    val = t.history_["val_loss"]
    assert t.stopped_early_ and t.n_epochs_ < 400
    assert t.n_epochs_ == t.best_epoch_ + 16
    assert min(val) == val[t.best_epoch_]
    # the restored parameters give the best validation loss again
    perm = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    held = perm[:18]
    with torch.no_grad():
        again = float(_nll(model)({"x": x[held], "y": y[held]}).mean())
    assert again == pytest.approx(val[t.best_epoch_], rel=1e-12)


def test_bad_settings_are_rejected():
    model, data = _problem()
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adagrad', 'adam'"):
        Trainer(optimizer="lbfgs-ish").fit(_nll(model), model.parameters(), data)
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        Trainer(lr=-1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        Trainer(epochs=0)
    with pytest.raises(ValueError, match="validation must be a fraction in"):
        Trainer(validation=1.5)
    with pytest.raises(TypeError, match="Gaussian"):
        Trainer(prior="ridge")
    with pytest.raises(ValueError, match="nothing to train"):
        Trainer().fit(_nll(model), [torch.zeros(2)], data)
    with pytest.raises(ValueError, match="weights has 3 entries, data has 256 rows"):
        Trainer().fit(_nll(model), model.parameters(), data, weights=torch.ones(3))
    with pytest.raises(FloatingPointError, match="lower lr"):
        Trainer(optimizer="sgd", lr=1e6, epochs=50).fit(_nll(model), model.parameters(), data)
