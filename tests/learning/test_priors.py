"""Priors of §2.3: pseudo-counts for tables, log-densities against scipy, weight-decay bridges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch

from bayesgen.learning.priors import (
    K2,
    BDeu,
    Beta,
    Dirichlet,
    Gaussian,
    Laplace,
    Normal,
    NormalGamma,
    TablePrior,
)

D64 = torch.float64


def test_table_pseudo_counts():
    assert torch.equal(Beta(2, 5).pseudo_counts((3, 2)), torch.tensor([[5.0, 2.0]] * 3))
    assert torch.equal(Dirichlet(0.5).pseudo_counts((2, 4)), torch.full((2, 4), 0.5))
    alpha = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(Dirichlet(alpha).pseudo_counts((2, 3)), alpha.expand(2, 3))
    assert torch.equal(K2().pseudo_counts((2, 2, 3)), torch.ones(2, 2, 3))
    # BDeu: ess / (q r) per cell, so the whole table holds ess pseudo-counts
    pc = BDeu(12.0).pseudo_counts((2, 3, 4), dtype=D64)
    assert pc.dtype == D64 and torch.allclose(pc, torch.full((2, 3, 4), 0.5, dtype=D64))
    assert pc.sum().item() == pytest.approx(12.0)
    assert BDeu(5.0).pseudo_counts((5,)).sum().item() == pytest.approx(5.0)
    for prior in (Beta(), Dirichlet(), K2(), BDeu()):
        assert isinstance(prior, TablePrior)
    assert isinstance(K2(), Dirichlet) and K2() == K2() and K2().alpha == 1.0


def test_log_probs_match_scipy():
    r = torch.tensor([0.1, 0.5, 0.93], dtype=D64)
    np.testing.assert_allclose(
        Beta(2.5, 0.7).log_prob(r).numpy(), st.beta.logpdf(r.numpy(), 2.5, 0.7), rtol=1e-12
    )
    theta = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dtype=D64)
    alpha = np.array([0.5, 2.0, 3.0])
    got = Dirichlet(torch.tensor(alpha)).log_prob(theta).numpy()
    np.testing.assert_allclose(
        got, [st.dirichlet.logpdf(t, alpha) for t in theta.numpy()], rtol=1e-12
    )
    # BDeu on a (2, 3) table: each row Dirichlet(ess / 6)
    got = BDeu(3.0).log_prob(theta).numpy()
    np.testing.assert_allclose(
        got, [st.dirichlet.logpdf(t, [0.5] * 3) for t in theta.numpy()], rtol=1e-12
    )
    x = torch.linspace(-3, 3, 7, dtype=D64)
    np.testing.assert_allclose(
        Normal(1.0, 2.0).log_prob(x).numpy(), st.norm.logpdf(x.numpy(), 1, 2), rtol=1e-12
    )
    np.testing.assert_allclose(
        Gaussian(4.0).log_prob(x).numpy(), st.norm.logpdf(x.numpy(), 0, 0.5), rtol=1e-12
    )
    np.testing.assert_allclose(
        Laplace(0.5).log_prob(x).numpy(), st.laplace.logpdf(x.numpy(), 0, 0.5), rtol=1e-12
    )
    # Normal-Gamma: Gamma(a, rate b) on λ times N(m, 1/(κ λ)) on μ
    th = torch.tensor([[0.3, 2.0], [-1.0, 0.5]], dtype=D64)
    got = NormalGamma(0.5, 2.0, 3.0, 1.5).log_prob(th).numpy()
    ref = [
        st.gamma.logpdf(lam, 3.0, scale=1 / 1.5) + st.norm.logpdf(mu, 0.5, 1 / math.sqrt(2 * lam))
        for mu, lam in th.numpy()
    ]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert isinstance(Beta(2, 3).distribution, torch.distributions.Beta)


def test_gaussian_prior_is_weight_decay_and_laplace_is_l1():
    """eq. 27: -log N(θ; 0, I/λ) = λ/2 ||θ||² + const; SGD's weight_decay=λ is its gradient."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    params = list(lin.parameters())
    prior = Gaussian(0.3)
    total = sum(p.numel() for p in params)
    const = 0.5 * total * math.log(2 * math.pi / 0.3)
    neg_log = -sum(prior.log_prob(p.detach().double()).sum() for p in params)
    assert prior.penalty(params).item() == pytest.approx(neg_log.item() - const, rel=1e-6)
    # one SGD step on the penalty equals one step of torch's weight decay on a zero loss
    a = torch.nn.Linear(3, 2)
    a.load_state_dict(lin.state_dict())
    b = torch.nn.Linear(3, 2)
    b.load_state_dict(lin.state_dict())
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_a.zero_grad()
    prior.penalty(a.parameters()).backward()
    opt_a.step()
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=prior.weight_decay)
    opt_b.zero_grad()
    (0 * sum(p.sum() for p in b.parameters())).backward()
    opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-7)
    lap = Laplace(0.25)
    w = torch.tensor([1.0, -2.0, 0.5])
    assert lap.penalty(w).item() == pytest.approx(3.5 / 0.25)
    assert lap.penalty([w, w]).item() == pytest.approx(2 * 3.5 / 0.25)
    assert (-lap.log_prob(w).sum() - lap.penalty(w)).item() == pytest.approx(3 * math.log(0.5))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Beta(0, 1), "Beta: a must be positive and finite, got 0"),
        (lambda: Beta(1, -2), "Beta: b must be positive and finite, got -2"),
        (lambda: Beta(1, math.inf), "Beta: b must be positive and finite, got inf"),
        (lambda: Dirichlet(-1.0), "Dirichlet: alpha must be >= 0, got -1"),
        (lambda: Dirichlet(torch.tensor([1.0, -0.5])), "Dirichlet: alpha must be finite and >= 0"),
        (lambda: BDeu(0.0), "BDeu: ess must be positive and finite, got 0"),
        (lambda: Normal(math.nan, 1.0), "Normal: mean must be finite, got nan"),
        (lambda: Normal(0.0, 0.0), "Normal: std must be positive and finite, got 0"),
        (lambda: Gaussian(-0.1), "Gaussian: lam must be positive and finite, got -0.1"),
        (lambda: Laplace(math.nan), "Laplace: b must be positive and finite, got nan"),
        (lambda: NormalGamma(kappa=0.0), "NormalGamma: kappa must be positive and finite"),
        (lambda: Beta(2, 3).pseudo_counts((4, 3)), "needs a binary table"),
        (lambda: Dirichlet(torch.ones(3)).pseudo_counts((2, 4)), "does not broadcast"),
        (lambda: K2().pseudo_counts((2, 0)), "positive sizes"),
        (lambda: NormalGamma().log_prob(torch.ones(3)), "last axis"),
    ],
)
def test_bad_hyperparameters_are_named(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_type_errors():
    with pytest.raises(TypeError, match="Beta: a must be a positive finite number, got 'x'"):
        Beta("x", 1)
    with pytest.raises(TypeError, match="iterable of tensors"):
        Gaussian(1.0).penalty([1.0, 2.0])
