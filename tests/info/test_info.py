"""bayesgen.info against scipy / sklearn, brute force, and the properties of §2.4.3."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import scipy.stats as st
import torch
from scipy import integrate
from scipy.optimize import linprog
from scipy.spatial.distance import cdist, jensenshannon, pdist
from sklearn.metrics.pairwise import rbf_kernel
from torch.distributions import (
    Bernoulli,
    Binomial,
    Categorical,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    Poisson,
)

from bayesgen import info
from bayesgen.info import Estimate

D64 = torch.float64


def _tables(*shape, seed=0, zeros=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(*shape, generator=g, dtype=D64)
    if zeros:
        t[..., 0] = 0
    return t / t.sum(-1, keepdim=True)


def _mixture(weights=(0.5, 0.5), locs=(-3.0, 3.0), scales=(1.0, 1.0)):
    return MixtureSameFamily(
        Categorical(torch.tensor(weights, dtype=D64)),
        Normal(torch.tensor(locs, dtype=D64), torch.tensor(scales, dtype=D64)),
    )


def _quad(f, lo=-30, hi=30):
    return integrate.quad(f, lo, hi, limit=400, epsabs=1e-13, epsrel=1e-12)[0]


# ------------------------------------------------------------------------------------ tables
def test_information_bits_nats_and_additivity():
    assert info.information(torch.tensor(0.25), base=2).item() == pytest.approx(2.0, abs=1e-15)
    assert info.information(torch.tensor(0.25), unit="bits").item() == pytest.approx(2.0)
    assert info.information(torch.tensor(1 / math.e)).item() == pytest.approx(1.0)
    assert info.information(torch.tensor(1.0)).item() == 0.0
    assert info.information(torch.tensor(0.0)).item() == math.inf
    # independent events: I(A ∩ B) = I(A) + I(B)
    pa, pb = torch.tensor(0.3, dtype=D64), torch.tensor(0.45, dtype=D64)
    assert info.information(pa * pb, base=2) == pytest.approx(
        (info.information(pa, base=2) + info.information(pb, base=2)).item(), abs=1e-14
    )
    # the information of an outcome under a distribution
    d = Categorical(probs=torch.tensor([0.5, 0.25, 0.25], dtype=D64))
    assert info.information(d, torch.tensor(1), base=2).item() == pytest.approx(2.0, abs=1e-14)


def test_entropy_matches_scipy_in_nats_and_bits():
    p = _tables(6, 5, zeros=True)
    for kw, base in (({}, None), ({"base": 2}, 2), ({"unit": "bits"}, 2), ({"base": 10}, 10)):
        got = info.entropy(p, **kw).numpy()
        np.testing.assert_allclose(got, st.entropy(p.numpy(), base=base, axis=-1), atol=1e-12)


def test_kl_and_cross_entropy_match_scipy_and_ce_is_h_plus_kl():
    p, q = _tables(4, 3, 7, seed=1, zeros=True), _tables(4, 3, 7, seed=2)
    kl = info.kl_divergence(p, q)
    np.testing.assert_allclose(kl.numpy(), st.entropy(p.numpy(), q.numpy(), axis=-1), atol=1e-12)
    np.testing.assert_allclose(
        info.kl_divergence(p, q, base=2).numpy(),
        st.entropy(p.numpy(), q.numpy(), base=2, axis=-1),
        atol=1e-12,
    )
    ce = info.cross_entropy(p, q)
    np.testing.assert_allclose(ce.numpy(), -(p * q.log()).sum(-1).numpy(), atol=1e-12)
    # eq. 46: CE(p, q) = H(p) + KL(p, q)
    np.testing.assert_allclose(ce.numpy(), (info.entropy(p) + kl).numpy(), atol=1e-12)
    # q = 0 where p > 0: KL is infinite (scipy agrees)
    pz, qz = torch.tensor([0.5, 0.5], dtype=D64), torch.tensor([1.0, 0.0], dtype=D64)
    assert info.kl_divergence(pz, qz).item() == math.inf == st.entropy(pz.numpy(), qz.numpy())


def test_gibbs_inequality_and_asymmetry():
    p, q = _tables(2000, 4, seed=3), _tables(2000, 4, seed=4)
    kl = info.kl_divergence(p, q)
    assert (kl >= 0).all()
    assert torch.allclose(info.kl_divergence(p, p), torch.zeros(2000, dtype=D64), atol=1e-15)
    # equality only for p = q
    assert (kl > 0).all()
    # not symmetric: a concrete pair with closed forms
    a = torch.tensor([0.9, 0.1], dtype=D64)
    b = torch.tensor([0.5, 0.5], dtype=D64)
    kl_ab = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    kl_ba = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert info.kl_divergence(a, b).item() == pytest.approx(kl_ab, rel=1e-14)
    assert info.kl_divergence(b, a).item() == pytest.approx(kl_ba, rel=1e-14)
    assert abs(kl_ab - kl_ba) > 0.1
    assert (
        (info.kl_divergence(p, q) - info.kl_divergence(q, p)).abs() > 1e-6
    ).float().mean() > 0.99


def test_bernoulli_entropy_is_maximal_at_one_half():
    r = torch.linspace(0, 1, 1001, dtype=D64)
    h = info.entropy(torch.stack([1 - r, r], -1), base=2)  # bits
    assert r[h.argmax()].item() == pytest.approx(0.5)
    assert h.max().item() == pytest.approx(1.0, abs=1e-15)
    assert h[0].item() == 0 and h[-1].item() == 0
    # the same through torch.distributions.Bernoulli
    hb = info.entropy(Bernoulli(probs=r[1:-1]), unit="bits")
    np.testing.assert_allclose(hb.numpy(), h[1:-1].numpy(), atol=1e-12)


def test_jensen_shannon_matches_scipy():
    p, q = _tables(5, 6, seed=5, zeros=True), _tables(5, 6, seed=6)
    for base in (None, 2):
        d = info.js_distance(p, q, base=base).numpy()
        np.testing.assert_allclose(
            d, jensenshannon(p.numpy(), q.numpy(), base=base, axis=-1), atol=1e-12
        )
    js = info.js_divergence(p, q, base=2)
    assert torch.allclose(js, info.js_divergence(q, p, base=2), atol=1e-15)  # symmetric
    assert (js >= 0).all() and (js <= 1).all()  # 0 <= JS <= log_2 2 = 1 bit
    disjoint = info.js_divergence(
        torch.tensor([1.0, 0.0], dtype=D64), torch.tensor([0.0, 1.0], dtype=D64), base=2
    )
    assert disjoint.item() == pytest.approx(1.0)


def test_mle_is_argmin_of_cross_entropy_to_the_empirical_distribution():
    torch.manual_seed(0)
    # Bernoulli: arg min_r CE(p_D, Bernoulli(r)) = fraction of ones (eq. 45)
    x = (torch.rand(500, dtype=D64) < 0.37).to(D64)
    r = torch.linspace(0.001, 0.999, 999, dtype=D64)
    ce = info.empirical_cross_entropy(x[:, None], Bernoulli(probs=r))  # (999,)
    assert r[ce.argmin()].item() == pytest.approx(x.mean().item(), abs=0.0005 + 1e-12)
    # CE(p_D, q) = -(1/K) log p_θ(D) exactly, and = H(p_D) + KL(p_D, q) on the table
    q = Bernoulli(probs=torch.tensor(0.3, dtype=D64))
    assert info.empirical_cross_entropy(x, q).item() == pytest.approx(
        -q.log_prob(x).sum().item() / 500, rel=1e-14
    )
    emp = torch.stack([1 - x.mean(), x.mean()])
    table_q = torch.tensor([0.7, 0.3], dtype=D64)
    assert info.empirical_cross_entropy(x, q).item() == pytest.approx(
        (info.entropy(emp) + info.kl_divergence(emp, table_q)).item(), rel=1e-12
    )
    # Gaussian: the grid minimizer of CE is (mean, biased std) of the data
    y = torch.randn(200, dtype=D64) * 1.7 + 0.4
    mu = torch.linspace(-0.5, 1.5, 201, dtype=D64)  # step 0.01
    sd = torch.linspace(1.0, 2.5, 151, dtype=D64)  # step 0.01
    ce = info.empirical_cross_entropy(y[:, None, None], Normal(mu[:, None], sd[None, :]))
    i, j = divmod(int(ce.argmin()), sd.numel())
    assert mu[i].item() == pytest.approx(y.mean().item(), abs=0.005 + 1e-12)
    assert sd[j].item() == pytest.approx(y.std(correction=0).item(), abs=0.005 + 1e-12)


# ------------------------------------------------------------------------------------ distributions
def test_distributions_closed_forms_and_monte_carlo_within_its_standard_error():
    torch.manual_seed(1)
    p = Normal(torch.tensor(0.3, dtype=D64), torch.tensor(1.2, dtype=D64))
    q = Normal(torch.tensor(-0.5, dtype=D64), torch.tensor(0.7, dtype=D64))
    exact = math.log(0.7 / 1.2) + (1.2**2 + 0.8**2) / (2 * 0.7**2) - 0.5
    kl = info.kl_divergence(p, q)
    assert isinstance(kl, torch.Tensor) and kl.item() == pytest.approx(exact, rel=1e-13)
    mc = info.kl_divergence(p, q, method="mc", n_samples=20_000)
    assert isinstance(mc, Estimate) and mc.stderr.item() > 0
    assert abs(mc.value.item() - exact) < 4 * mc.stderr.item()
    assert mc.stderr.item() < 0.05
    h = info.entropy(p, base=2).item()
    assert h == pytest.approx(0.5 * math.log2(2 * math.pi * math.e * 1.44), rel=1e-13)
    ce = info.cross_entropy(p, q).item()
    assert ce == pytest.approx(info.entropy(p).item() + exact, rel=1e-13)
    with pytest.raises(ValueError, match="no closed form.*method='mc'"):
        info.entropy(_mixture(), method="exact")


def test_monte_carlo_for_a_mixture_agrees_with_quadrature():
    torch.manual_seed(2)
    p = _mixture((0.3, 0.7), (-2.0, 1.5), (0.6, 1.1))
    q = Normal(torch.tensor(0.5, dtype=D64), torch.tensor(2.0, dtype=D64))
    pdf_p = lambda x: 0.3 * st.norm.pdf(x, -2, 0.6) + 0.7 * st.norm.pdf(x, 1.5, 1.1)  # noqa: E731
    exact_h = _quad(lambda x: -pdf_p(x) * np.log(pdf_p(x)) if pdf_p(x) > 0 else 0.0)
    exact_kl = _quad(
        lambda x: pdf_p(x) * (np.log(pdf_p(x)) - st.norm.logpdf(x, 0.5, 2)) if pdf_p(x) > 0 else 0.0
    )
    h = info.entropy(p, n_samples=20_000)
    kl = info.kl_divergence(p, q, n_samples=20_000)
    rkl = info.kl_divergence(q, p, n_samples=20_000)
    exact_rkl = _quad(
        lambda x: st.norm.pdf(x, 0.5, 2) * (st.norm.logpdf(x, 0.5, 2) - np.log(pdf_p(x)))
    )
    for est, ref in ((h, exact_h), (kl, exact_kl), (rkl, exact_rkl)):
        assert isinstance(est, Estimate)
        assert abs(est.value.item() - ref) < 4 * est.stderr.item(), (est, ref)
    # reverse KL by grid quadrature (used by the fit) agrees with scipy's quad
    assert info.reverse_kl(q, p).item() == pytest.approx(exact_rkl, rel=1e-8)
    # bits are nats / ln 2 for estimates too
    torch.manual_seed(3)
    hb = info.entropy(p, base=2, n_samples=20_000)
    torch.manual_seed(3)
    hn = info.entropy(p, n_samples=20_000)
    assert hb.value.item() == pytest.approx(hn.value.item() / math.log(2), rel=1e-12)
    assert hb.stderr.item() == pytest.approx(hn.stderr.item() / math.log(2), rel=1e-12)


def test_js_between_distributions_exact_when_enumerable_and_monte_carlo_otherwise():
    torch.manual_seed(4)
    p, q = _tables(3, 5, seed=7), _tables(3, 5, seed=8)
    exact = info.js_divergence(Categorical(probs=p), Categorical(probs=q), base=2)
    assert torch.allclose(exact, info.js_divergence(p, q, base=2), atol=1e-14)
    mc = info.js_divergence(Categorical(probs=p), Categorical(probs=q), base=2, method="mc")
    assert ((mc.value - exact).abs() < 4 * mc.stderr).all()
    # Binomial vs Poisson: KL by enumerating the Binomial's support
    b, po = Binomial(10, torch.tensor(0.3, dtype=D64)), Poisson(torch.tensor(2.5, dtype=D64))
    k = np.arange(11)
    ref = float(
        np.sum(st.binom.pmf(k, 10, 0.3) * (st.binom.logpmf(k, 10, 0.3) - st.poisson.logpmf(k, 2.5)))
    )
    assert info.kl_divergence(b, po).item() == pytest.approx(ref, rel=1e-12)
    # two Gaussians: JS by Monte Carlo, against quadrature
    n1 = Normal(torch.tensor(0.0, dtype=D64), torch.tensor(1.0, dtype=D64))
    n2 = Normal(torch.tensor(1.5, dtype=D64), torch.tensor(0.5, dtype=D64))

    def half(pa, pb):
        return lambda x: pa(x) * np.log(pa(x) / (0.5 * pa(x) + 0.5 * pb(x))) if pa(x) > 0 else 0.0

    f1, f2 = (lambda x: st.norm.pdf(x, 0, 1)), (lambda x: st.norm.pdf(x, 1.5, 0.5))
    ref = 0.5 * _quad(half(f1, f2), -15, 15) + 0.5 * _quad(half(f2, f1), -15, 15)
    js = info.js_divergence(n1, n2, n_samples=20_000)
    assert abs(js.value.item() - ref) < 4 * js.stderr.item()
    d = info.js_distance(n1, n2, n_samples=20_000)
    assert abs(d.value.item() - math.sqrt(ref)) < 4 * d.stderr.item()


# ------------------------------------------------------------------------------------ sample sets
def test_wasserstein_1d_matches_scipy_with_and_without_weights():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(300, generator=g, dtype=D64)
    y = 1.5 * torch.randn(170, generator=g, dtype=D64) + 0.4
    wx, wy = torch.rand(300, generator=g, dtype=D64), torch.rand(170, generator=g, dtype=D64)
    assert info.wasserstein_distance(x, y).item() == pytest.approx(
        st.wasserstein_distance(x.numpy(), y.numpy()), abs=1e-10
    )
    assert info.wasserstein_distance(x, y, x_weights=wx, y_weights=wy).item() == pytest.approx(
        st.wasserstein_distance(x.numpy(), y.numpy(), wx.numpy(), wy.numpy()), abs=1e-10
    )
    # ties and (N, 1) input
    xi = torch.tensor([0.0, 0.0, 1.0, 3.0], dtype=D64)
    yi = torch.tensor([1.0, 1.0, 2.0], dtype=D64)
    assert info.wasserstein_distance(xi[:, None], yi[:, None]).item() == pytest.approx(
        st.wasserstein_distance(xi.numpy(), yi.numpy()), abs=1e-12
    )


def test_wasserstein_p_matches_a_linear_program():
    g = torch.Generator().manual_seed(10)
    x, y = torch.randn(7, generator=g, dtype=D64), torch.randn(5, generator=g, dtype=D64) + 1
    wx, wy = torch.rand(7, generator=g, dtype=D64), torch.rand(5, generator=g, dtype=D64)
    a, b = (wx / wx.sum()).numpy(), (wy / wy.sum()).numpy()
    for p in (1, 2, 3.5):
        cost = np.abs(x.numpy()[:, None] - y.numpy()[None, :]) ** p
        a_eq = np.vstack([np.kron(np.eye(7), np.ones(5)), np.kron(np.ones(7), np.eye(5))])
        lp = linprog(
            cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs"
        )
        got = info.wasserstein_distance(x, y, p, x_weights=wx, y_weights=wy).item()
        assert got == pytest.approx(lp.fun ** (1 / p), rel=1e-7)
    # equal sizes, no weights: W_2² = mean of squared sorted differences
    u, v = torch.randn(50, generator=g, dtype=D64), torch.randn(50, generator=g, dtype=D64)
    ref = (u.sort().values - v.sort().values).square().mean().sqrt()
    assert info.wasserstein_distance(u, v, 2).item() == pytest.approx(ref.item(), rel=1e-12)


def test_sliced_wasserstein():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(200, 3, generator=g, dtype=D64)
    y = torch.randn(150, 3, generator=g, dtype=D64) * 2
    theta = torch.randn(16, 3, generator=g, dtype=D64)
    sw = info.sliced_wasserstein_distance(x, y, p=1, projections=theta)
    unit = (theta / theta.norm(dim=1, keepdim=True)).numpy()
    per = [st.wasserstein_distance(x.numpy() @ t, y.numpy() @ t) for t in unit]
    assert sw.value.item() == pytest.approx(np.mean(per), abs=1e-10)
    assert sw.stderr.item() == pytest.approx(np.std(per, ddof=1) / 4, rel=1e-8)
    # a translation by c: W_2 on direction θ is |θ·c| exactly, so SW_2² = E(θ·c)² = |c|²/D
    torch.manual_seed(12)
    c = torch.tensor([3.0, -1.0, 2.0], dtype=D64)
    est = info.wasserstein_distance(x, x + c, 2, projections=4000)  # n-D: sliced
    assert isinstance(est, Estimate)
    assert abs(est.value.item() - math.sqrt(c.square().sum().item() / 3)) < 4 * est.stderr.item()


def test_energy_distance_matches_scipy_in_1d_and_brute_force_in_nd():
    g = torch.Generator().manual_seed(13)
    x, y = torch.randn(120, generator=g, dtype=D64), torch.randn(90, generator=g, dtype=D64) + 0.5
    wx, wy = torch.rand(120, generator=g, dtype=D64), torch.rand(90, generator=g, dtype=D64)
    assert info.energy_distance(x, y).item() == pytest.approx(
        st.energy_distance(x.numpy(), y.numpy()), abs=1e-10
    )
    assert info.energy_distance(x, y, x_weights=wx, y_weights=wy).item() == pytest.approx(
        st.energy_distance(x.numpy(), y.numpy(), wx.numpy(), wy.numpy()), abs=1e-10
    )
    xs, ys = torch.randn(80, 4, generator=g, dtype=D64), torch.randn(60, 4, generator=g, dtype=D64)
    a, b = xs.numpy(), ys.numpy()
    ref = np.sqrt(2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean())
    assert info.energy_distance(xs, ys).item() == pytest.approx(ref, abs=1e-10)
    # the pairwise form and the CDF form agree in 1-D
    pair = np.sqrt(
        2 * cdist(x[:, None], y[:, None]).mean()
        - cdist(x[:, None], x[:, None]).mean()
        - cdist(y[:, None], y[:, None]).mean()
    )
    assert info.energy_distance(x, y).item() == pytest.approx(pair, abs=1e-10)


def test_mmd_matches_sklearn_kernels_and_median_heuristic():
    g = torch.Generator().manual_seed(14)
    x = torch.randn(70, 3, generator=g, dtype=D64)
    y = torch.randn(50, 3, generator=g, dtype=D64) + 0.3
    a, b = x.numpy(), y.numpy()
    h = 1.3
    kxx, kyy, kxy = (rbf_kernel(u, v, gamma=1 / (2 * h * h)) for u, v in ((a, a), (b, b), (a, b)))
    biased = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    unbiased = (kxx.sum() - 70) / (70 * 69) + (kyy.sum() - 50) / (50 * 49) - 2 * kxy.mean()
    assert info.mmd2(x, y, bandwidth=h, biased=True).item() == pytest.approx(biased, abs=1e-12)
    assert info.mmd2(x, y, bandwidth=h).item() == pytest.approx(unbiased, abs=1e-12)
    # the median heuristic is the median pooled pairwise distance
    med = np.median(pdist(np.vstack([a, b])))
    assert info.median_heuristic(x, y).item() == pytest.approx(med, rel=1e-12)
    k = rbf_kernel(np.vstack([a, b]), gamma=1 / (2 * med * med))
    ref = k[:70, :70].mean() + k[70:, 70:].mean() - 2 * k[:70, 70:].mean()
    assert info.mmd2(x, y, biased=True).item() == pytest.approx(ref, abs=1e-12)
    # a sum of kernels is the sum of the MMDs
    both = info.mmd2(x, y, bandwidth=[0.5, 2.0]).item()
    assert both == pytest.approx(
        info.mmd2(x, y, bandwidth=0.5).item() + info.mmd2(x, y, bandwidth=2.0).item(), abs=1e-12
    )


def test_unbiased_mmd_has_mean_zero_under_the_null_and_biased_is_positive():
    torch.manual_seed(15)
    x = torch.randn(60, 30, 2, dtype=D64)
    y = torch.randn(60, 30, 2, dtype=D64)
    u = torch.stack([info.mmd2(a, b, bandwidth=1.0) for a, b in zip(x, y, strict=True)])
    v = torch.stack(
        [info.mmd2(a, b, bandwidth=1.0, biased=True) for a, b in zip(x, y, strict=True)]
    )
    assert abs(u.mean().item()) < 4 * u.std().item() / math.sqrt(60)
    assert (v > 0).all() and v.mean() > u.mean() + 4 * u.std() / math.sqrt(60)
    # a real shift is detected far outside the null spread
    shifted = info.mmd2(x[0], y[0] + 2.0, bandwidth=1.0).item()
    assert shifted > u.mean().item() + 6 * u.std().item()


# ------------------------------------------------------------------------------------ figure 16
def test_forward_kl_fit_is_moment_matching_and_mle():
    p = _mixture((0.4, 0.6), (-3.0, 2.0), (1.0, 0.8))
    f = info.fit_gaussian_forward_kl(p)
    mean = 0.4 * -3 + 0.6 * 2
    var = 0.4 * (1 + 9) + 0.6 * (0.64 + 4) - mean**2
    assert f.loc.item() == pytest.approx(mean, rel=1e-14)
    assert f.scale.item() == pytest.approx(math.sqrt(var), rel=1e-14)
    # on samples: the Gaussian MLE (sklearn's GaussianMixture with one component agrees)
    from sklearn.mixture import GaussianMixture

    torch.manual_seed(16)
    xs = torch.randn(500, 2, dtype=D64) @ torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=D64)
    g = info.fit_gaussian_forward_kl(xs)
    gm = GaussianMixture(1, covariance_type="full", reg_covar=0).fit(xs.numpy())
    np.testing.assert_allclose(g.loc.numpy(), gm.means_[0], atol=1e-10)
    np.testing.assert_allclose(g.covariance_matrix.numpy(), gm.covariances_[0], atol=1e-8)


def test_forward_kl_covers_both_modes_reverse_kl_locks_onto_one():
    torch.manual_seed(17)
    p = _mixture((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0))
    fwd, rev = info.fit_gaussian_forward_kl(p), info.fit_gaussian_reverse_kl(p)
    # forward: centred between the modes, wide enough to cover both
    assert abs(fwd.loc.item()) < 1e-12 and fwd.scale.item() == pytest.approx(math.sqrt(10))
    # reverse: on one mode, with about that mode's width
    assert min(abs(rev.loc.item() - 3), abs(rev.loc.item() + 3)) < 0.05
    assert rev.scale.item() == pytest.approx(1.0, abs=0.05)

    # each fit wins its own objective (KL values by scipy quadrature)
    def pdf(x):
        return 0.5 * st.norm.pdf(x, -3, 1) + 0.5 * st.norm.pdf(x, 3, 1)

    def kl_pq(q):  # KL(p, q)
        m, s = q.loc.item(), q.scale.item()
        return _quad(lambda x: pdf(x) * (np.log(pdf(x)) - st.norm.logpdf(x, m, s)))

    def kl_qp(q):  # KL(q, p)
        m, s = q.loc.item(), q.scale.item()
        return _quad(lambda x: st.norm.pdf(x, m, s) * (st.norm.logpdf(x, m, s) - np.log(pdf(x))))

    assert kl_pq(fwd) < kl_pq(rev) and kl_qp(rev) < kl_qp(fwd)
    # the reverse fit is the minimizer: brute force over a (μ, σ) grid, KL(q, p) by the
    # trapezoid rule on a fixed fine x grid (numpy, independent of the library's quadrature)
    x = np.linspace(-12, 12, 8001)
    m = np.sign(rev.loc.item()) * np.arange(2.8, 3.2001, 0.01)[:, None, None]
    s = np.arange(0.9, 1.1001, 0.01)[None, :, None]
    logq = st.norm.logpdf(x, m, s)
    vals = np.trapezoid(np.exp(logq) * (logq - np.log(pdf(x))), x, axis=-1)  # (41, 21)
    i, j = np.unravel_index(vals.argmin(), vals.shape)
    assert abs(rev.loc.item() - m[i, 0, 0]) <= 0.01 and abs(rev.scale.item() - s[0, j, 0]) <= 0.01
    assert kl_qp(rev) <= vals.min() + 1e-9


def test_reverse_kl_by_monte_carlo_in_2d_picks_a_mode():
    torch.manual_seed(18)
    comp = MultivariateNormal(
        torch.tensor([[-3.0, 0.0], [3.0, 0.0]], dtype=D64),
        torch.eye(2, dtype=D64).expand(2, 2, 2) * 0.5,
    )
    p = MixtureSameFamily(Categorical(torch.tensor([0.5, 0.5], dtype=D64)), comp)
    rev = info.fit_gaussian_reverse_kl(p, n_restarts=2, n_steps=120, n_samples=128, lr=0.1)
    fwd = info.fit_gaussian_forward_kl(p)
    assert isinstance(rev, MultivariateNormal)
    assert min((rev.loc - comp.loc[0]).norm(), (rev.loc - comp.loc[1]).norm()) < 0.1
    assert torch.allclose(rev.covariance_matrix, 0.5 * torch.eye(2, dtype=D64), atol=0.06)
    assert fwd.covariance_matrix[0, 0] > 9  # covers both modes: variance 0.5 + 9


def test_plot_kl_fits_draws_the_target_and_both_fits(tmp_path):
    from bayesgen.plot.info import plot_kl_fits

    torch.manual_seed(19)
    p = _mixture()
    fwd, rev = info.fit_gaussian_forward_kl(p), info.fit_gaussian_reverse_kl(p)
    path = tmp_path / "fig16.png"
    left, right = plot_kl_fits(p, path, forward=fwd, reverse=rev)
    assert path.stat().st_size > 0
    for ax, fit in ((left, fwd), (right, rev)):
        target_line, fit_line = ax.get_lines()[:2]
        x = torch.as_tensor(target_line.get_xdata())
        np.testing.assert_allclose(target_line.get_ydata(), p.log_prob(x).exp().numpy(), atol=1e-12)
        np.testing.assert_allclose(fit_line.get_ydata(), fit.log_prob(x).exp().numpy(), atol=1e-12)
    # drawn with no fits given: the library fits them; the reverse curve peaks on a mode
    left, right = plot_kl_fits(p)
    line = right.get_lines()[1]
    peak = line.get_xdata()[np.argmax(line.get_ydata())]
    assert min(abs(peak - 3), abs(peak + 3)) < 0.1
    np.testing.assert_allclose(
        left.get_lines()[1].get_ydata(),
        fwd.log_prob(torch.as_tensor(left.get_lines()[1].get_xdata())).exp().numpy(),
        atol=1e-12,
    )
    assert "p, q" in left.get_title() and "q, p" in right.get_title()
    with pytest.raises(ValueError, match="1-D"):
        plot_kl_fits(MultivariateNormal(torch.zeros(2), torch.eye(2)))


# ------------------------------------------------------------------------------------ errors
def test_errors_name_the_parameter_constraint_and_value():
    p = torch.tensor([0.5, 0.4], dtype=D64)
    with pytest.raises(ValueError, match=r"sum to 1, got sum 0.9"):
        info.entropy(p)
    with pytest.raises(ValueError, match="non-negative"):
        info.entropy(torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="same number of states"):
        info.kl_divergence(torch.tensor([0.5, 0.5]), torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="unit must be one of.*got 'bytes'"):
        info.entropy(torch.tensor([0.5, 0.5]), unit="bytes")
    with pytest.raises(ValueError, match="base must be a finite number > 1, got 1"):
        info.entropy(torch.tensor([0.5, 0.5]), base=1)
    with pytest.raises(ValueError, match="contradicts"):
        info.entropy(torch.tensor([0.5, 0.5]), base=10, unit="bits")
    with pytest.raises(ValueError, match="method must be one of.*got 'magic'"):
        info.entropy(Normal(0.0, 1.0), method="magic")
    with pytest.raises(ValueError, match="tables are summed exactly"):
        info.entropy(torch.tensor([0.5, 0.5]), method="mc")
    with pytest.raises(TypeError, match=r"both be tables \(tensors\) or both distributions"):
        info.kl_divergence(torch.tensor([0.5, 0.5]), Normal(0.0, 1.0))
    with pytest.raises(ValueError, match=r"p must be probabilities in \[0, 1\]"):
        info.information(torch.tensor(1.5))
    with pytest.raises(ValueError, match="x and y must have the same dimension"):
        info.wasserstein_distance(torch.randn(5, 2), torch.randn(5, 3))
    with pytest.raises(ValueError, match="p must be a finite number >= 1, got 0.5"):
        info.wasserstein_distance(torch.randn(5), torch.randn(5), 0.5)
    with pytest.raises(ValueError, match=r"x_weights must have shape \(5,\)"):
        info.wasserstein_distance(torch.randn(5), torch.randn(4), x_weights=torch.ones(4))
    with pytest.raises(ValueError, match="bandwidth must be positive and finite, got -1"):
        info.mmd2(torch.randn(5, 2), torch.randn(5, 2), bandwidth=-1.0)
    with pytest.raises(ValueError, match="bandwidth must be .* or 'median', got 'mean'"):
        info.mmd2(torch.randn(5, 2), torch.randn(5, 2), bandwidth="mean")
    with pytest.raises(ValueError, match=r"x must have shape \(N,\) or \(N, D\)"):
        info.energy_distance(torch.randn(2, 3, 4), torch.randn(3))
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2, got 1"):
        info.entropy(_mixture(), n_samples=1)
    with pytest.raises(ValueError, match="method='quadrature' is for scalar events"):
        info.fit_gaussian_reverse_kl(
            MultivariateNormal(torch.zeros(2), torch.eye(2)), method="quadrature"
        )
    with pytest.raises(ValueError, match="support must be"):
        info.fit_gaussian_reverse_kl(torch.distributions.Uniform(0.0, 1.0), n_restarts=2, n_steps=5)
