"""The GAN: its objectives at the optimal discriminator equal their divergences, the gradient
penalty and packing by hand, spectral normalization, the figure-10 networks, and a short
training run on one Gaussian."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, stats

from bayesgen.data.source import TensorData
from bayesgen.generative import GAN
from bayesgen.generative.adversarial import FDivergence, Minimax, WassersteinGP, as_objective
from bayesgen.train import Adam, TrainConfig, train

MU = 1.0  # P = N(0, 1) (data), Q = N(MU, 1) (generator)


def _log_ratio(x: torch.Tensor) -> torch.Tensor:
    """log p(x)/q(x) for P = N(0, 1), Q = N(MU, 1)."""
    return -0.5 * x**2 + 0.5 * (x - MU) ** 2


def _jsd() -> float:
    p, q = stats.norm(0, 1).pdf, stats.norm(MU, 1).pdf

    def integrand(x):
        m = 0.5 * (p(x) + q(x))
        return 0.5 * p(x) * math.log(p(x) / m) + 0.5 * q(x) * math.log(q(x) / m)

    return integrate.quad(integrand, -15, 15)[0]


# the optimal raw output v*(x) = g_f⁻¹(f'(p/q)) and the divergence D_f(P ‖ Q)
OPTIMA = {
    "kl": (lambda x: 1 + _log_ratio(x), MU**2 / 2),
    "reverse-kl": (_log_ratio, MU**2 / 2),
    "pearson": (lambda x: 2 * (_log_ratio(x).exp() - 1), math.exp(MU**2) - 1),
    "js": (_log_ratio, None),  # 2 JSD
    "gan": (_log_ratio, None),  # 2 JSD − log 4
}


@pytest.mark.parametrize("divergence", sorted(OPTIMA))
def test_fgan_bound_at_the_optimal_discriminator_is_the_divergence(divergence):
    g = torch.Generator().manual_seed(0)
    n = 400_000
    real = torch.randn(n, generator=g, dtype=torch.float64)
    fake = torch.randn(n, generator=g, dtype=torch.float64) + MU
    v, value = OPTIMA[divergence]
    if divergence == "js":
        value = 2 * _jsd()
    elif divergence == "gan":
        value = 2 * _jsd() - math.log(4)
    rule = FDivergence(divergence)
    terms_p, terms_q = rule.activation(v(real)), rule.conjugate(v(fake))
    se = math.sqrt(terms_p.var() / n + terms_q.var() / n)
    assert float(rule.bound(v(real), v(fake))) == pytest.approx(value, abs=5 * se + 1e-6)
    # any other discriminator gives a smaller bound
    worse = float(rule.bound(0.5 * v(real), 0.5 * v(fake)))
    assert worse < value


def test_minimax_at_the_optimum_and_generator_losses():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200_000, generator=g, dtype=torch.float64)
    fake = torch.randn(200_000, generator=g, dtype=torch.float64) + MU
    value = -float(Minimax().discriminator_loss(_log_ratio(real), _log_ratio(fake)))
    assert value == pytest.approx(2 * _jsd() - math.log(4), abs=5e-3)
    v = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(Minimax().generator_loss(v), torch.log1p(-torch.sigmoid(v)).mean())
    torch.testing.assert_close(
        as_objective("nonsaturating").generator_loss(v), -torch.log(torch.sigmoid(v)).mean()
    )


def test_gradient_penalty_of_a_linear_critic():
    """v(x) = w·x + b has ∇v = w everywhere: the penalty is (‖w‖ − 1)²."""
    model = GAN(3, disc_hidden=(), objective="wgan-gp", gp_weight=2.0)
    lin = model.discriminator.linears[0]
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # ‖w‖ = 3
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    assert model._gradient_penalty(real, fake, None).item() == pytest.approx(4.0)
    assert isinstance(model.rule, WassersteinGP) and model.rule.gradient_penalty == 2.0


def test_packing_feeds_m_rows_at_once():
    torch.manual_seed(0)
    model = GAN(2, pack=4, disc_hidden=(8,))
    x = torch.randn(10, 2)
    v = model.critic(x[:8])
    assert v.shape == (2,)
    expected = model.discriminator(x[:8].reshape(2, 8)).squeeze(-1)
    torch.testing.assert_close(v, expected)
    assert model.loss(x).dim() == 0  # 10 rows: the last 2 are left out
    with pytest.raises(ValueError, match="at least pack=4 rows"):
        model.loss(x[:3])


def test_spectral_norm_bounds_each_layer():
    torch.manual_seed(0)
    model = GAN(2, disc_hidden=(32, 32), spectral_norm=True)
    model.train()
    for _ in range(30):  # power iterations run in training forwards
        model.critic(torch.randn(16, 2))
    for layer in model.discriminator.linears:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05)


def test_figure_10_networks():
    model = GAN(2, latent_dim=3, pack=2)
    nets = model.networks
    assert nets["p"].dag.edges == (("z", "x"),)
    assert set(nets["discriminator"].dag.edges) == {("x1", "d"), ("x2", "d")}
    x = torch.randn(6, 2)
    d = nets["discriminator"]
    values = {"x1": x[::2], "x2": x[1::2], "d": torch.ones(3, dtype=torch.long)}
    expected = torch.nn.functional.logsigmoid(model.critic(x))
    torch.testing.assert_close(d.log_prob(values), expected)


@pytest.mark.parametrize("pack", [1, 2])
def test_auxiliary_classifier_losses_by_hand(pack):
    """AC-GAN: the discriminator's loss adds −λ mean log q(y | x) on the real rows, the
    generator's −λ mean log q(y | G(z, y)) on its own; q(y | x) reads the outputs after v."""
    torch.manual_seed(0)
    lam, K = 0.5, 3
    model = GAN(2, latent_dim=2, hidden=(8,), disc_hidden=(8,), num_classes=K, pack=pack,
                classifier_weight=lam)  # fmt: skip
    x, y = torch.randn(6, 2), torch.tensor([0, 2, 1, 1, 0, 2])
    c = torch.nn.functional.one_hot(y, K).float()
    out = model.discriminator(x.reshape(6 // pack, -1), c.reshape(6 // pack, -1))
    assert out.shape == (6 // pack, 1 + pack * K)
    torch.testing.assert_close(model.critic(x, c), out[:, 0])
    torch.testing.assert_close(model.class_logits(x, c), out[:, 1:].reshape(6, K))

    def by_hand(group):
        torch.manual_seed(1)
        z = torch.randn(6, 2)
        fake = model.generate(z, c)
        if group == "discriminator":
            adv = model.rule.discriminator_loss(model.critic(x, c), model.critic(fake, c))
            return adv + lam * torch.nn.functional.cross_entropy(model.class_logits(x, c), y)
        adv = model.rule.generator_loss(model.critic(fake, c))
        return adv + lam * torch.nn.functional.cross_entropy(model.class_logits(fake, c), y)

    for group in ("discriminator", "generator"):
        torch.manual_seed(1)
        torch.testing.assert_close(model.loss(x, y, group=group), by_hand(group))


def test_bad_options():
    with pytest.raises(ValueError, match="objective must be one of"):
        GAN(2, objective="hinge")
    with pytest.raises(ValueError, match="divergence must be one of"):
        FDivergence("tv")
    with pytest.raises(ValueError, match="group must be 'discriminator' or 'generator'"):
        GAN(2).loss(torch.randn(4, 2), group="critic")
    with pytest.raises(ValueError, match="classifier_weight > 0 needs class labels"):
        GAN(2, classifier_weight=1.0)
    with pytest.raises(ValueError, match="classifier_weight must be a number >= 0, got -1"):
        GAN(2, num_classes=3, classifier_weight=-1)
    with pytest.raises(ValueError, match="no auxiliary classifier"):
        GAN(2, num_classes=3).class_logits(torch.randn(4, 2))


def test_a_short_run_learns_one_gaussian():
    """1,500 steps of the non-saturating GAN move the generator onto N(3, 0.5²): its mean
    lands within 0.2 (the spread of a GAN this short varies with the seed; the benchmark
    measures mode coverage and quality)."""
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(4000, 1, generator=g) * 0.5 + 3.0).float()
    torch.manual_seed(0)
    model = GAN(1, latent_dim=1, hidden=(32,), disc_hidden=(32,))
    config = TrainConfig(steps=1500, batch_size=128, lr=2e-3, optimizer=Adam(betas=(0.5, 0.999)))
    train(model, TensorData(data), config=config)
    s = model.sample(4000, generator=torch.Generator().manual_seed(1)).detach()
    assert float(s.mean()) == pytest.approx(3.0, abs=0.2)
    assert 0.2 < float(s.std()) < 1.0
