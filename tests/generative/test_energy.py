"""Energy and score models: shapes, gradients, save/load, the MRF view instead of a DAG, the
score as −∇E, Langevin on a known density, and the Song–Ermon toy (plain Langevin gets the mode
weights wrong; annealed Langevin recovers them, with the exact score and with a learned one)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as D
from short_training import adam

from bayesgen.data import TensorData
from bayesgen.generative import EnergyModel, load_model
from bayesgen.generative.energy import (
    annealed_langevin,
    gaussian_mixture_score,
    geometric_sigmas,
    langevin,
)
from bayesgen.train import train

CASES = {
    "dsm-energy": dict(objective="dsm", parameterization="energy"),
    "dsm-score": dict(objective="dsm", parameterization="score"),
    "cd": dict(objective="cd", parameterization="energy", cd_steps=5),
}


def seeded(fn, seed: int = 0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()


def make(name: str, conditional: bool):
    torch.manual_seed(0)
    kwargs = dict(CASES[name], hidden=(16, 16), levels=4, steps=5)
    if conditional:
        kwargs["num_classes"] = 3
    model = EnergyModel(2, **kwargs)
    x = torch.randn(16, 2)
    y = torch.arange(16) % 3 if conditional else None
    return model, x, y


@pytest.fixture(params=[(k, c) for k in CASES for c in (False, True)], ids=str)
def example(request):
    return make(*request.param)


def test_shapes_and_gradients(example):
    model, x, y = example
    s = model.sample(8, None if y is None else y[:8], generator=torch.Generator().manual_seed(0))
    assert s.shape == (8, 2) and torch.isfinite(s).all()
    loss = seeded(lambda: model.loss(x, y))
    assert loss.dim() == 0 and torch.isfinite(loss)
    model.zero_grad()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert all(v.dim() == 0 for v in seeded(lambda: model.metrics(x, y)).values())


@pytest.mark.parametrize("name", ["dsm-energy", "dsm-score"])  # CD's surrogate need not drop
@pytest.mark.parametrize("conditional", [False, True])
def test_one_step_lowers_the_loss(name, conditional):
    model, x, y = make(name, conditional)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = seeded(lambda: model.loss(x, y))
    opt.zero_grad()
    before.backward()
    opt.step()
    assert seeded(lambda: model.loss(x, y)) < before


def test_save_load_round_trip(example, tmp_path):
    model, x, y = example
    again = load_model(model.save(tmp_path / "energy.json"))
    assert type(again) is EnergyModel and again.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    torch.testing.assert_close(seeded(lambda: again.loss(x, y)), seeded(lambda: model.loss(x, y)))


def test_it_is_an_mrf_not_a_bayesian_network(example):
    model, x, y = example
    with pytest.raises(TypeError, match="Markov random field"):
        _ = model.network
    with pytest.raises(TypeError, match="Markov random field"):
        model.joint(x, y)
    g = model.graph
    assert sorted(g.nodes) == ["x[0]", "x[1]"] and g.number_of_edges() == 1
    five = EnergyModel(5, hidden=(8,))
    assert five.graph.number_of_edges() == 10 and not five.graph.is_directed()


def test_bad_input_is_a_clear_error(example):
    model, x, y = example
    with pytest.raises(ValueError, match="shape"):
        model.loss(x[:, :1], y)
    bad = x.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="row 1"):
        model.loss(bad, y)
    with pytest.raises(ValueError, match="objective must be"):
        EnergyModel(2, objective="nce")
    with pytest.raises(ValueError, match="needs parameterization='energy'"):
        EnergyModel(2, objective="cd", parameterization="score")
    with pytest.raises(ValueError, match="sampler must be"):
        model.sample(2, None if y is None else y[:2], sampler="hmc")


def test_score_is_minus_the_energy_gradient():
    torch.manual_seed(0)
    model = EnergyModel(3, hidden=(16,)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    sigma = 0.3
    s = model.score(x, sigma)
    h = 1e-6
    for d in range(3):  # finite differences per coordinate
        e = torch.zeros(3, dtype=torch.float64)
        e[d] = h
        fd = (model.energy(x + e, sigma) - model.energy(x - e, sigma)) / (2 * h)
        torch.testing.assert_close(s[:, d], -fd, rtol=1e-5, atol=1e-7)


def test_langevin_samples_a_gaussian():
    """With the exact score of N(m, v I), Langevin chains end at N(m, v) (up to the O(η) bias
    of the unadjusted chain: variance v / (1 − η / (4v)))."""
    m, v, eta = torch.tensor([1.0, -2.0]), 0.5, 0.01
    g = torch.Generator().manual_seed(0)
    x = langevin(lambda z: (m - z) / v, torch.zeros(4000, 2), step_size=eta, steps=800, generator=g)
    n = len(x)
    assert ((x.mean(0) - m).abs() < 4 * math.sqrt(v / n)).all()
    var = v / (1 - eta / (4 * v))
    assert ((x.var(0) - var).abs() < 4 * var * math.sqrt(2 / n)).all()


# ---------------------------------------------------------------------------- Song & Ermon's toy
MEANS = torch.tensor([[5.0, 5.0], [-5.0, -5.0]])
WEIGHTS = torch.tensor([0.8, 0.2])


def mixture_score(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """∇ log of 0.8 N((5,5), (1 + σ²) I) + 0.2 N((−5,−5), (1 + σ²) I), the data noised by σ."""
    return gaussian_mixture_score(x, MEANS, WEIGHTS, 1 + sigma**2)


def test_gaussian_mixture_score_is_the_gradient_of_the_mixture_log_density():
    """Against autograd of torch's MixtureSameFamily log-density, three modes in 3-D."""
    g = torch.Generator().manual_seed(0)
    means = torch.randn(3, 3, generator=g, dtype=torch.float64) * 2
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    var = 0.7
    x = (torch.randn(50, 3, generator=g, dtype=torch.float64) * 3).requires_grad_()
    components = D.Independent(D.Normal(means, math.sqrt(var) * torch.ones_like(means)), 1)
    p = D.MixtureSameFamily(D.Categorical(weights), components)
    (grad,) = torch.autograd.grad(p.log_prob(x).sum(), x)
    torch.testing.assert_close(gaussian_mixture_score(x.detach(), means, weights, var), grad)
    with pytest.raises(ValueError, match="variance must be > 0"):
        gaussian_mixture_score(x.detach(), means, weights, 0.0)


def uniform_starts(seed: int) -> tuple[torch.Tensor, torch.Generator]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1280, 2, generator=g) * 16 - 8, g  # 1,280 chains in [−8, 8]²


def weight_of_first_mode(x: torch.Tensor) -> float:
    return float(((x - MEANS[0]).norm(dim=1) < (x - MEANS[1]).norm(dim=1)).float().mean())


SIGMAS = geometric_sigmas(20.0, 1.0, 10)  # Song & Ermon: σ from 20 to 1, 10 levels


def test_plain_langevin_gets_the_weights_wrong():
    """Chains stay in the basin they start in: the weight follows the uniform start (≈ 1/2)."""
    x0, g = uniform_starts(0)
    x = langevin(mixture_score, x0, step_size=0.1, steps=1000, generator=g)
    assert abs(weight_of_first_mode(x) - 0.5) < 0.06  # 1,280 chains: sd 0.014


def test_annealed_langevin_recovers_the_weights():
    x0, g = uniform_starts(0)
    x = annealed_langevin(mixture_score, x0, SIGMAS, step_size=0.1, steps=100, generator=g)
    assert abs(weight_of_first_mode(x) - 0.8) < 0.02  # sd of the proportion 0.011


def test_annealed_langevin_with_a_learned_score_recovers_the_weights():
    """A score network trained by denoising score matching (1,500 Adam steps) drives annealed
    Langevin to the right weights too (within 0.03)."""
    torch.manual_seed(0)
    model = EnergyModel(
        2,
        parameterization="score",
        sigma_max=20.0,
        sigma_min=1.0,
        levels=10,
        hidden=(64, 64),
        step_size=0.1,
        steps=100,
    )
    g = torch.Generator().manual_seed(1)
    k = (torch.rand(10000, generator=g) < 0.2).long()
    data = MEANS[k] + torch.randn(10000, 2, generator=g)
    train(model, TensorData(data), config=adam(1500, lr=3e-3, batch_size=256))
    x0, gs = uniform_starts(0)
    x = model.sample(1280, generator=gs, init=x0)
    assert abs(weight_of_first_mode(x) - 0.8) < 0.03


def test_contrastive_divergence_learns_where_the_data_is():
    """300 CD steps on N((1, −0.5), 0.3² I): the energy is lower on the data than away from
    it, and the short-run Langevin chain (the training's negative sampler) draws near the data:
    mean within 0.1, spread within 50% of 0.3."""
    torch.manual_seed(0)
    model = EnergyModel(
        2, objective="cd", hidden=(32, 32), sigma_max=1.0, sigma_min=0.1, levels=2, cd_steps=20
    )
    g = torch.Generator().manual_seed(1)
    centre = torch.tensor([1.0, -0.5])
    data = centre + 0.3 * torch.randn(4000, 2, generator=g)
    train(model, TensorData(data), config=adam(300, lr=3e-3))
    with torch.no_grad():
        assert model.energy(data[:500]).mean() < model.energy(data[:500] + 2.0).mean() - 1.0
    s = model.sample(2000, generator=torch.Generator().manual_seed(2))
    assert (s.mean(0) - centre).abs().max() < 0.1, s.mean(0)
    assert ((s.std(0) - 0.3).abs() < 0.15).all(), s.std(0)


class ExactGaussianNet(torch.nn.Module):
    """h(x, log σ) for data N(m, s² I): the score −(x − m)/(s² + σ²) as σ·score (score
    parameterization) or the energy |x − m|²/(2(s² + σ²)) as σ·E (energy parameterization)."""

    def __init__(self, m: torch.Tensor, s: float, energy: bool):
        super().__init__()
        self.m, self.s2, self.energy = m, s * s, energy

    def forward(self, h: torch.Tensor, context=None) -> torch.Tensor:
        x, sigma = h[:, :-1], h[:, -1:].exp()  # (B, D), (B, 1)
        var = self.s2 + sigma**2
        if self.energy:
            return sigma * (x - self.m).pow(2).sum(-1, keepdim=True) / (2 * var)  # (B, 1)
        return -sigma * (x - self.m) / var  # (B, D)


@pytest.mark.parametrize("parameterization", ["score", "energy"])
def test_dsm_loss_of_the_exact_score_is_its_closed_form_minimum(parameterization):
    """With the exact noised score, ½ E||σ s(x + σε, σ) + ε||² = ½ D E_σ[s²/(s² + σ²)]."""
    m, s, D = torch.tensor([1.0, -2.0, 0.5]), 0.7, 3
    model = EnergyModel(D, parameterization=parameterization, sigma_max=2.0, sigma_min=0.05)
    model = model.double()
    model.net = ExactGaussianNet(m.double(), s, parameterization == "energy")
    n = 200_000
    x = m.double() + s * torch.randn(n, D, generator=torch.Generator().manual_seed(0)).double()
    loss = float(seeded(lambda: model.loss(x)).detach())
    r = s**2 / (s**2 + model.sigmas.pow(2))  # (L,)
    want = 0.5 * D * float(r.mean())
    # a row's loss is ½ r χ²_D (sd r √(D/2) ≤ 1.23) at a random level (sd of ½ D r ≤ 0.75)
    assert abs(loss - want) < 4 * 1.5 / math.sqrt(n), (loss, want)
