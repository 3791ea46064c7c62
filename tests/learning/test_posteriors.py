"""Conjugate posteriors of §2.3 against scipy, brute-force integration and enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
import torch
from scipy import integrate

from bayesgen.learning.posteriors import (
    BetaPosterior,
    DirichletPosterior,
    GaussianStats,
    NormalGammaDistribution,
    NormalGammaPosterior,
    NormalPosterior,
)
from bayesgen.learning.priors import K2, BDeu, Beta, Dirichlet, Normal, NormalGamma

D64 = torch.float64


def t64(x):
    return torch.as_tensor(x, dtype=D64)


def test_beta_posterior_against_scipy():
    x = t64([1, 0, 1, 1, 0, 1, 1, 1, 0, 1])  # 7 ones, 3 zeros
    post = BetaPosterior.from_data(Beta(2.0, 3.0), x)
    assert torch.equal(post.counts, t64([3.0, 7.0]))
    assert (post.a.item(), post.b.item()) == (9.0, 6.0)
    ref = st.beta(9, 6)
    assert post.mean.item() == pytest.approx(ref.mean(), rel=1e-14)
    assert post.mode.item() == pytest.approx(8 / 13, rel=1e-14)
    for level in (0.5, 0.9, 0.95, 0.999):
        lo, hi = post.credible_interval(level)
        assert lo.item() == pytest.approx(ref.ppf((1 - level) / 2), abs=1e-10)
        assert hi.item() == pytest.approx(ref.ppf((1 + level) / 2), abs=1e-10)
    d = post.distribution
    assert isinstance(d, torch.distributions.Beta)
    assert (d.concentration1.item(), d.concentration0.item()) == (9.0, 6.0)


def test_map_is_the_argmax_of_likelihood_times_prior():
    """eq. 26: θ_MAP = arg max log p(D | θ) + log p(θ), by grid search."""
    r = torch.linspace(1e-4, 1 - 1e-4, 9999, dtype=D64)
    for prior, n0, n1 in ((Beta(2.0, 3.0), 3, 7), (Beta(0.5, 4.0), 10, 2), (Beta(1, 1), 4, 1)):
        post = BetaPosterior(prior, t64([n0, n1]))
        objective = n1 * r.log() + n0 * torch.log1p(-r) + prior.log_prob(r)
        assert post.mode.item() == pytest.approx(r[objective.argmax()].item(), abs=1e-4)
        assert BetaPosterior(Beta(1, 1), t64([n0, n1])).mode.item() == pytest.approx(n1 / (n0 + n1))


@pytest.mark.parametrize(
    ("a", "b", "mode"),
    [
        (0.5, 3.5, 0.0),
        (3.5, 0.5, 1.0),
        (1.0, 4.0, 0.0),
        (4.0, 1.0, 1.0),
        (1.0, 1.0, 0.5),
        (0.5, 0.8, 0.0),
        (0.8, 0.5, 1.0),
        (2.0, 2.0, 0.5),
    ],
)
def test_beta_mode_boundary_cases(a, b, mode):
    post = BetaPosterior(Beta(a, b))
    assert post.mode.item() == pytest.approx(mode)
    if not (a == b == 1):  # a flat density has no unique mode
        grid = np.linspace(0, 1, 100_001)[1:-1]  # the density may be infinite at 0 and 1
        assert grid[np.argmax(st.beta.pdf(grid, a, b))] == pytest.approx(mode, abs=1e-5)


def test_beta_evidence_by_integration_and_enumeration():
    prior = Beta(1.5, 0.7)
    for n0, n1 in ((0, 0), (3, 2), (1, 9)):
        lml = BetaPosterior(prior, t64([n0, n1])).log_marginal_likelihood.item()
        brute = integrate.quad(
            lambda r, n0=n0, n1=n1: r**n1 * (1 - r) ** n0 * st.beta.pdf(r, 1.5, 0.7),
            0,
            1,
            epsabs=1e-14,
        )[0]
        assert lml == pytest.approx(math.log(brute), abs=1e-9)
    # the evidence is a distribution over sequences: Σ over all 2^N sequences of p(D) = 1
    seqs = torch.tensor(list(itertools.product([0, 1], repeat=7)), dtype=D64)  # (128, 7)
    post = BetaPosterior(prior, BetaPosterior.summarize(seqs.T))  # batched over sequences
    assert torch.logsumexp(post.log_marginal_likelihood, 0).item() == pytest.approx(0, abs=1e-12)


def test_updates_in_chunks_equal_one_update_and_sampling_is_calibrated():
    torch.manual_seed(0)
    x = (torch.rand(300, 4, dtype=D64) < t64([0.1, 0.4, 0.6, 0.95])).to(D64)  # 4 parameters
    whole = BetaPosterior.from_data(Beta(2, 2), x)
    chunked = BetaPosterior(Beta(2, 2), BetaPosterior.summarize(x[:100]))
    chunked = chunked.update(BetaPosterior.summarize(x[100:]))
    assert torch.equal(whole.a, chunked.a) and torch.equal(whole.b, chunked.b)
    assert torch.allclose(whole.log_marginal_likelihood, chunked.log_marginal_likelihood)
    draws = whole.sample(20_000)  # (20000, 4)
    assert draws.shape == (20_000, 4)
    se = whole.distribution.variance.sqrt() / math.sqrt(20_000)
    assert ((draws.mean(0) - whole.mean).abs() < 4 * se).all()
    lo, hi = whole.credible_interval(0.9)
    inside = ((draws > lo) & (draws < hi)).to(D64).mean(0)
    assert ((inside - 0.9).abs() < 4 * math.sqrt(0.9 * 0.1 / 20_000)).all()


# ------------------------------------------------------------------------------ Dirichlet
def test_dirichlet_posterior_on_a_table():
    counts = t64([[[3, 0, 5], [1, 1, 1]], [[0, 0, 2], [7, 2, 0]]])  # (2, 2, 3): 4 parent rows
    post = DirichletPosterior(BDeu(12.0), counts)
    alpha = counts + 1.0  # BDeu(12) on (2, 2, 3): 12 / 12 = 1 per cell
    assert torch.allclose(post.concentration, alpha)
    assert torch.allclose(post.mean, alpha / alpha.sum(-1, keepdim=True))
    assert torch.allclose(post.mode, counts / counts.sum(-1, keepdim=True))  # α = 1: the MLE
    assert isinstance(post.distribution, torch.distributions.Dirichlet)
    assert post.sample(5).shape == (5, 2, 2, 3)
    lo, hi = post.credible_interval(0.95)
    a = alpha.numpy()
    b = a.sum(-1, keepdims=True) - a
    np.testing.assert_allclose(lo.numpy(), st.beta.ppf(0.025, a, b), atol=1e-10)
    np.testing.assert_allclose(hi.numpy(), st.beta.ppf(0.975, a, b), atol=1e-10)
    # a K2 prior is Dirichlet(1); K2 and Dirichlet(1) give the same posterior
    assert torch.equal(
        DirichletPosterior(K2(), counts).concentration,
        DirichletPosterior(Dirichlet(1.0), counts).concentration,
    )
    # with no data the posterior is the prior
    assert torch.equal(
        DirichletPosterior(Dirichlet(t64([1.0, 2.0, 3.0])), cardinality=3).concentration,
        t64([1.0, 2.0, 3.0]),
    )


def test_dirichlet_mode_is_the_argmax_on_the_simplex():
    g = np.linspace(0, 1, 401)
    t1, t2 = np.meshgrid(g, g, indexing="ij")
    t3 = 1 - t1 - t2
    ok = t3 >= -1e-12
    for alpha in ([3.0, 2.0, 5.0], [1.0, 2.5, 4.0], [0.5, 3.0, 2.0]):
        mode = DirichletPosterior(Dirichlet(t64(alpha)), cardinality=3).mode.numpy()
        a = np.array(alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            logd = (
                (a[0] - 1) * np.log(t1)
                + (a[1] - 1) * np.log(t2)
                + (a[2] - 1) * np.log(np.clip(t3, 0, None))
            )
        logd = np.where(ok & np.isfinite(logd), logd, -np.inf)
        if (a < 1).any():  # unbounded on the face θ_k = 0 of each α_k < 1
            assert (mode[a < 1] == 0).all()
            continue
        i, j = np.unravel_index(np.argmax(logd), logd.shape)
        np.testing.assert_allclose(mode, [g[i], g[j], 1 - g[i] - g[j]], atol=2.5e-3)
    # nothing above 1: flat gives uniform, otherwise the vertex of the largest α
    assert torch.allclose(DirichletPosterior(K2(), cardinality=4).mode, torch.full((4,), 0.25))
    vertex = DirichletPosterior(Dirichlet(t64([0.3, 0.9, 0.5])), cardinality=3).mode
    assert torch.equal(vertex, t64([0.0, 1.0, 0.0]))


def test_dirichlet_evidence_by_integration_and_enumeration():
    alpha = t64([0.7, 1.5, 2.0])
    counts = t64([2, 0, 1])
    lml = DirichletPosterior(Dirichlet(alpha), counts).log_marginal_likelihood.item()

    a, n = alpha.numpy(), counts.numpy()
    log_norm = sp.gammaln(a.sum()) - sp.gammaln(a).sum()

    def integrand(t2, t1):  # Π θ_k^{n_k} × Dirichlet(θ; α), written out
        t3 = max(1 - t1 - t2, 0.0)
        return (
            t1 ** (n[0] + a[0] - 1)
            * t2 ** (n[1] + a[1] - 1)
            * t3 ** (n[2] + a[2] - 1)
            * math.exp(log_norm)
        )

    brute = integrate.dblquad(integrand, 0, 1, 0, lambda t1: 1 - t1, epsabs=1e-13)[0]
    assert lml == pytest.approx(math.log(brute), abs=1e-7)
    # Σ over all 3^6 sequences of p(D) = 1
    seqs = torch.tensor(list(itertools.product(range(3), repeat=6)))  # (729, 6)
    post = DirichletPosterior(Dirichlet(alpha), DirichletPosterior.summarize(seqs.T, 3).to(D64))
    assert post.log_marginal_likelihood.shape == (729,)
    assert torch.logsumexp(post.log_marginal_likelihood, 0).item() == pytest.approx(0, abs=1e-12)


# ------------------------------------------------------------------------------ Gaussian
def test_gaussian_stats_merge_exactly_and_stably():
    torch.manual_seed(1)
    x = 1e8 + torch.randn(1000, 3, dtype=D64)
    whole = GaussianStats.from_data(x)
    merged = (
        GaussianStats.from_data(x[:123])
        + GaussianStats.from_data(x[123:700])
        + GaussianStats.from_data(x[700:])
    )
    ref = x.numpy().var(0) * 1000
    np.testing.assert_allclose(whole.m2.numpy(), ref, rtol=1e-9)
    np.testing.assert_allclose(merged.m2.numpy(), ref, rtol=1e-9)
    assert torch.allclose(merged.mean, x.mean(0), rtol=1e-15)
    assert torch.equal(merged.n, torch.full((3,), 1000.0, dtype=D64))
    empty = GaussianStats.empty((3,), dtype=D64)
    assert torch.allclose((empty + whole).m2, whole.m2) and torch.equal((whole + empty).n, whole.n)


def test_normal_posterior_known_variance():
    torch.manual_seed(2)
    x = torch.randn(12, dtype=D64) * 1.5 + 2.0
    prior, sigma = Normal(0.5, 2.0), 1.5
    post = NormalPosterior.from_data(prior, x, std=sigma)
    prec = 1 / 4 + 12 / sigma**2
    mean = (0.5 / 4 + x.sum().item() / sigma**2) / prec
    assert post.mean.item() == pytest.approx(mean, rel=1e-14)
    assert post.mode.item() == pytest.approx(mean, rel=1e-14)
    assert post.distribution.scale.item() == pytest.approx(prec**-0.5, rel=1e-14)
    lo, hi = post.credible_interval(0.9)
    assert lo.item() == pytest.approx(st.norm.ppf(0.05, mean, prec**-0.5), abs=1e-10)
    assert hi.item() == pytest.approx(st.norm.ppf(0.95, mean, prec**-0.5), abs=1e-10)
    # evidence: x ~ N(μ0 1, σ² I + τ0² 11ᵀ) exactly (scipy), and by integrating over μ
    cov = sigma**2 * np.eye(12) + 4.0 * np.ones((12, 12))
    ref = st.multivariate_normal(np.full(12, 0.5), cov).logpdf(x.numpy())
    assert post.log_marginal_likelihood.item() == pytest.approx(ref, abs=1e-10)
    small = x[:3].numpy()
    brute = integrate.quad(
        lambda m: np.prod(st.norm.pdf(small, m, sigma)) * st.norm.pdf(m, 0.5, 2),
        -30,
        30,
        epsabs=1e-15,
    )[0]
    lml3 = NormalPosterior.from_data(prior, x[:3], std=sigma).log_marginal_likelihood.item()
    assert lml3 == pytest.approx(math.log(brute), abs=1e-9)
    # sequential updating
    seq = NormalPosterior(prior, GaussianStats.from_data(x[:5]), std=sigma)
    seq = seq.update(GaussianStats.from_data(x[5:]))
    assert seq.mean.item() == pytest.approx(mean, rel=1e-13)


def test_normal_gamma_posterior():
    torch.manual_seed(3)
    x = torch.randn(9, dtype=D64) * 0.8 - 1.0
    prior = NormalGamma(mean=0.5, kappa=2.0, a=3.0, b=2.0)
    post = NormalGammaPosterior.from_data(prior, x)
    n, xbar = 9, x.mean().item()
    kn, an = 2.0 + n, 3.0 + n / 2
    mun = (2.0 * 0.5 + n * xbar) / kn
    bn = 2.0 + 0.5 * ((x - xbar) ** 2).sum().item() + 2.0 * n * (xbar - 0.5) ** 2 / (2 * kn)
    assert post.mean.numpy() == pytest.approx([mun, an / bn], rel=1e-13)
    assert post.mode.numpy() == pytest.approx([mun, (an - 0.5) / bn], rel=1e-13)
    # the mode maximizes the joint posterior density
    d = post.distribution
    assert isinstance(d, NormalGammaDistribution) and d.event_shape == (2,)
    eps = t64([[0, 0], [1e-3, 0], [-1e-3, 0], [0, 1e-3], [0, -1e-3]])
    lp = d.log_prob(post.mode + eps)
    assert (lp[0] > lp[1:]).all()
    # marginal intervals: μ is Student-t(2 a_n, μ_n, sqrt(b_n / (a_n κ_n))), λ is Gamma(a_n, b_n)
    lo, hi = post.credible_interval(0.95)
    tdist = st.t(2 * an, mun, math.sqrt(bn / (an * kn)))
    gdist = st.gamma(an, scale=1 / bn)
    assert lo.numpy() == pytest.approx([tdist.ppf(0.025), gdist.ppf(0.025)], abs=1e-10)
    assert hi.numpy() == pytest.approx([tdist.ppf(0.975), gdist.ppf(0.975)], abs=1e-10)
    # evidence: the data are multivariate Student-t under the prior
    shape = (2.0 / 3.0) * (np.eye(n) + np.ones((n, n)) / 2.0)
    ref = st.multivariate_t(np.full(n, 0.5), shape, df=6.0).logpdf(x.numpy())
    assert post.log_marginal_likelihood.item() == pytest.approx(ref, abs=1e-10)
    # ... and by integrating the likelihood against the prior density (n = 2)
    small = x[:2].numpy()
    lml2 = NormalGammaPosterior.from_data(prior, x[:2]).log_marginal_likelihood.item()

    def integrand(mu, lam):  # likelihood × Gamma(λ; 3, rate 2) × N(μ; 0.5, 1/(2λ)), by hand
        sd = 1 / math.sqrt(lam)
        like = math.exp(-((small - mu) ** 2).sum() / (2 * sd * sd)) / (2 * math.pi * sd * sd)
        gam = 2.0**3 * lam**2 * math.exp(-2.0 * lam) / math.gamma(3.0)
        nor = math.sqrt(2 * lam / (2 * math.pi)) * math.exp(-2 * lam * (mu - 0.5) ** 2 / 2)
        return like * gam * nor

    brute = integrate.dblquad(integrand, 0, 40, -15, 15, epsabs=1e-11)[0]
    assert lml2 == pytest.approx(math.log(brute), abs=1e-6)
    # sampling: (n, 2) draws whose means match
    torch.manual_seed(4)
    draws = post.sample(40_000)
    assert draws.shape == (40_000, 2)
    se = draws.std(0) / math.sqrt(40_000)
    assert ((draws.mean(0) - post.mean).abs() < 4 * se).all()


def test_posterior_input_errors():
    with pytest.raises(ValueError, match="counts must be non-negative and finite, got minimum -1"):
        BetaPosterior(Beta(), t64([-1.0, 2.0]))
    with pytest.raises(ValueError, match=r"last axis of size 2, got shape \(3,\)"):
        BetaPosterior(Beta(), t64([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"counts must have shape \(2,\), got \(3,\)"):
        BetaPosterior(Beta(), t64([1.0, 2.0])).update(t64([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        BetaPosterior.summarize(t64([0, 1, 2]))
    with pytest.raises(ValueError, match=r"codes in \[0, 3\), got values in \[0, 5\]"):
        DirichletPosterior.summarize(torch.tensor([0, 1, 5]), 3)
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\), got 1.5"):
        BetaPosterior().credible_interval(1.5)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        BetaPosterior().sample(0)
    with pytest.raises(TypeError, match="prior must be a table prior"):
        DirichletPosterior(Normal(), t64([1.0, 2.0]))
    with pytest.raises(TypeError, match="prior must be priors.Normal"):
        NormalPosterior(Beta(), None)
    with pytest.raises(TypeError, match="stats must be GaussianStats"):
        NormalGammaPosterior(NormalGamma(), (1, 2, 3))
    with pytest.raises(ValueError, match="std must be positive and finite"):
        NormalPosterior(Normal(), None, std=0.0)
    with pytest.raises(ValueError, match="pass counts, or cardinality"):
        DirichletPosterior(K2())


# ------------------------------------------------------------------------------ fast paths
def test_beta_posterior_intervals_of_a_large_batch_match_scipy():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 300, size=(3000, 2)).astype(float)
    counts[:40] = 0.0  # prior-only rows: a = b = 0.5
    counts[40:80, 0] = 0.0
    post = BetaPosterior(Beta(0.5, 0.5), t64(counts))
    a, b = counts[:, 1] + 0.5, counts[:, 0] + 0.5
    for level in (0.95, 0.999999):
        lo, hi = post.credible_interval(level)
        np.testing.assert_allclose(
            lo.numpy(), st.beta.ppf((1 - level) / 2, a, b), rtol=1e-11, atol=1e-14
        )
        np.testing.assert_allclose(
            hi.numpy(), st.beta.ppf((1 + level) / 2, a, b), rtol=1e-11, atol=1e-14
        )


def test_normal_gamma_intervals_with_shared_and_distinct_counts_match_scipy():
    rng = np.random.default_rng(1)
    prior = NormalGamma(0.5, 2.0, 1.5, 3.0)
    stats = GaussianStats.from_data(t64(rng.normal(size=(12, 50)) * 3 - 1))
    stats = stats + GaussianStats.from_data(t64(rng.normal(size=(1, 50))))  # n = 13
    few = GaussianStats.from_data(t64(rng.normal(size=(2, 7))))  # n = 2: small df
    for st_ in (stats, few):
        post = NormalGammaPosterior(prior, st_)
        a, b = post.concentration.numpy(), post.rate.numpy()
        k, mu = post.kappa.numpy(), post.loc.numpy()
        for level in (0.5, 0.95, 0.9999):
            lo, hi = post.credible_interval(level)
            s = np.sqrt(b / (a * k))
            for j, qq in ((0, (1 - level) / 2), (1, (1 + level) / 2)):
                bound = (lo, hi)[j]
                np.testing.assert_allclose(
                    bound[..., 0].numpy(), st.t.ppf(qq, 2 * a, mu, s), rtol=1e-12, atol=1e-13
                )
                np.testing.assert_allclose(
                    bound[..., 1].numpy(), st.gamma.ppf(qq, a, scale=1 / b), rtol=1e-12
                )
    # one posterior (no batch axes)
    post = NormalGammaPosterior(prior, GaussianStats.from_data(t64([0.3, 1.2, -0.4])))
    lo, hi = post.credible_interval(0.9)
    assert lo.shape == hi.shape == (2,)
    a, b = post.concentration.item(), post.rate.item()
    s = math.sqrt(b / (a * post.kappa.item()))
    assert hi[0].item() == pytest.approx(st.t.ppf(0.95, 2 * a, post.loc.item(), s), rel=1e-12)
    assert lo[1].item() == pytest.approx(st.gamma.ppf(0.05, a, scale=1 / b), rel=1e-12)


@pytest.mark.parametrize(
    "prior, counts_kind",
    [
        (Dirichlet(0.7), "int"),
        (K2(), "int"),
        (BDeu(10.0), "int"),
        (Dirichlet(0.7), "frac"),
        (Dirichlet(torch.linspace(0.2, 2.0, 6, dtype=D64)), "int"),
    ],
)
@pytest.mark.parametrize("rows, big", [(12_000, 5000.0), (30, 0.0), (30, 170.0)])
def test_dirichlet_evidence_of_a_large_table_matches_gammaln(prior, counts_kind, rows, big):
    # a symmetric prior with whole counts looks log Γ up in a table of the count values (when
    # no longer than the cells); row totals above the number of rows go to lgamma directly
    rng = np.random.default_rng(2)
    c = rng.integers(0, 60, size=(rows, 6)).astype(float)
    c[:3] = 0.0
    c[3, 0] = big
    if counts_kind == "frac":
        c[4, 3] = 2.5
    post = DirichletPosterior(prior, t64(c))
    alpha = post.pseudo_counts.numpy()
    ref = (
        sp.gammaln(alpha.sum(-1))
        - sp.gammaln((alpha + c).sum(-1))
        + (sp.gammaln(alpha + c) - sp.gammaln(alpha)).sum(-1)
    )
    np.testing.assert_allclose(post.log_marginal_likelihood.numpy(), ref, rtol=1e-13, atol=1e-10)
