"""KDE (eq. 14) and the empirical distribution (eq. 13) against scikit-learn's KernelDensity,
scipy's gaussian_kde, brute-force sums, the chapter's own code, and sampling statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity

from bayesgen.models.kde import KDE, KERNELS, EmpiricalDistribution, log_kernel_norm

TOL = 1e-8  # the tolerance on densities (float64)


def _brute_log_density(Q, X, w, H, kernel):
    """log Σ_k w_k K_H(q - x_k) by a plain numpy sum over all pairs (small inputs only)."""
    L = np.linalg.cholesky(H)
    Z = np.linalg.solve(L, (Q[:, None, :] - X[None, :, :]).reshape(-1, Q.shape[1]).T).T
    r = np.sqrt((Z**2).sum(1)).reshape(len(Q), len(X))
    with np.errstate(divide="ignore"):
        logk = {
            "gaussian": -0.5 * r**2,
            "tophat": np.log((r < 1).astype(float)),
            "epanechnikov": np.log(np.clip(1 - r**2, 0, None)),
            "exponential": -r,
            "linear": np.log(np.clip(1 - r, 0, None)),
        }[kernel]
    d = Q.shape[1]
    return (
        logsumexp(logk, b=w / w.sum(), axis=1)
        + log_kernel_norm(kernel, d)
        - np.log(np.diag(L)).sum()
    )


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(0)
    return {
        d: (
            rng.normal(size=(400, d)) @ rng.normal(size=(d, d)),
            rng.normal(size=(300, d)) * 2,
            rng.uniform(0.1, 2.0, 400),
        )
        for d in (1, 2, 3)
    }


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_matches_sklearn_kernel_density(cloud, kernel, d):
    X, Q, w = cloud[d]
    h = 0.45
    sk = np.exp(KernelDensity(bandwidth=h, kernel=kernel).fit(X, sample_weight=w).score_samples(Q))
    kde = KDE(h, kernel).fit(X, sample_weight=w)
    ours = kde.score_samples(Q).exp().numpy()
    np.testing.assert_allclose(ours, sk, rtol=TOL, atol=TOL * sk.max())
    # the log density is exact, also in the tails where sklearn's tree drops contributions
    brute = _brute_log_density(Q, X, w, h**2 * np.eye(d), kernel)
    fin = np.isfinite(brute)
    ls = kde.score_samples(Q).numpy()
    assert np.array_equal(np.isfinite(ls), fin)
    np.testing.assert_allclose(ls[fin], brute[fin], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("rule", ["scott", "silverman"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_matches_scipy_gaussian_kde(cloud, rule, d):
    X, Q, w = cloud[d]
    g = stats.gaussian_kde(X.T, bw_method=rule, weights=w)
    ours = KDE(rule).fit(X, sample_weight=w)
    np.testing.assert_allclose(ours.score_samples(Q).exp().numpy(), g.pdf(Q.T), rtol=TOL)
    np.testing.assert_allclose(ours.score_samples(Q).numpy(), g.logpdf(Q.T), rtol=1e-12)
    np.testing.assert_allclose(ours.bandwidth_matrix_.numpy(), g.covariance, rtol=1e-12)
    assert ours.bandwidth_factor_ == pytest.approx(g.factor, rel=1e-14)
    assert ours.n_eff_ == pytest.approx(g.neff, rel=1e-12)
    # a scalar bw_method (a factor of the data covariance) is the matrix given explicitly
    g2 = stats.gaussian_kde(X.T, bw_method=0.3)
    m = KDE(g2.covariance).fit(X)
    np.testing.assert_allclose(m.score_samples(Q).exp().numpy(), g2.pdf(Q.T), rtol=TOL)


def test_sklearn_rules_are_unscaled_factors(cloud):
    """sklearn's 'scott' is h = n^{-1/(d+4)} with no data scale; pass that scalar to match it."""
    X, Q, _ = cloud[2]
    sk = KernelDensity(bandwidth="silverman").fit(X)
    ours = KDE(sk.bandwidth_).fit(X)
    ref = np.exp(sk.score_samples(Q))
    np.testing.assert_allclose(
        ours.score_samples(Q).exp().numpy(), ref, rtol=TOL, atol=TOL * ref.max()
    )


def test_eq14_is_the_seeds_code():
    """Figures 6 and 7: the chapter's numpy KDE with h=0.1 (D=1) and h=0.2 (D=2) on 5 points."""
    rng = np.random.default_rng(7)
    data = rng.random(5)
    x = np.linspace(0, 1, 100)
    chapter_kde = np.mean(
        [np.exp(-0.5 * ((x - xi) / 0.1) ** 2) / (np.sqrt(2 * np.pi) * 0.1) for xi in data], axis=0
    )
    np.testing.assert_allclose(
        KDE(0.1).fit(data).score_samples(x).exp().numpy(), chapter_kde, rtol=1e-12
    )
    data2 = rng.random((2, 5))
    xg, yg = np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30))
    dens = np.zeros_like(xg)
    for xi, yi in zip(data2[0], data2[1], strict=True):
        dens += np.exp(-0.5 * ((xg - xi) ** 2 + (yg - yi) ** 2) / 0.2**2) / (2 * np.pi * 0.2**2)
    dens /= 5
    q = np.stack([xg.ravel(), yg.ravel()], 1)
    np.testing.assert_allclose(
        KDE(0.2).fit(data2.T).score_samples(q).exp().numpy().reshape(30, 30), dens, rtol=1e-12
    )


def test_to_distribution_is_the_same_mixture(cloud):
    X, Q, w = cloud[2]
    kde = KDE("scott").fit(X[:50], sample_weight=w[:50])
    torch.testing.assert_close(
        kde.to_distribution().log_prob(torch.tensor(Q[:100])),
        kde.score_samples(Q[:100]),
        rtol=1e-12,
        atol=1e-12,
    )


def test_chunked_evaluation_is_exact_and_bounded(cloud):
    X, Q, w = cloud[2]
    Q = Q[:40]
    full = KDE(0.3, chunk_bytes=1 << 30).fit(X, sample_weight=w).score_samples(Q)
    for cb in (8 * 37, 8 * 400 * 7):  # part of a row per block, several rows per block
        tiny = KDE(0.3, chunk_bytes=cb).fit(X, sample_weight=w).score_samples(Q)
        torch.testing.assert_close(tiny, full, rtol=1e-13, atol=1e-13)
    from bayesgen.models.kde_sums import _block_sizes

    for M, N, cb in [(20000, 20000, 1 << 25), (10, 10**7, 1 << 20), (5, 3, 1 << 30)]:
        bq, bx = _block_sizes(M, N, cb, 8)
        assert 1 <= bq <= M and 1 <= bx <= N
        assert bq * bx * 8 <= max(cb, 8)


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov", "exponential"])
def test_skipping_far_leaves_stays_exact(kernel):
    """Many points, small h: most leaf pairs are skipped, the sums still match brute force."""
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(size=(2400, 2)), rng.normal(5, 0.3, size=(600, 2))])
    Q = np.concatenate([rng.normal(size=(150, 2)) * 1.5, [[20.0, 20.0], [2.5, 2.5]]])
    w = rng.uniform(0.5, 1.5, len(X))
    h = 0.04
    brute = _brute_log_density(Q, X, w, h**2 * np.eye(2), kernel)
    fin = np.isfinite(brute)
    for rtol in (1e-13, 0.0):
        ls = KDE(h, kernel, rtol=rtol).fit(X, sample_weight=w).score_samples(Q).numpy()
        assert np.array_equal(np.isfinite(ls), fin)
        # r² = |q|² + |x|² - 2 q·x around a block's centre errs by ~eps (block size / h)²
        np.testing.assert_allclose(ls[fin], brute[fin], rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2])
def test_taylor_expansion_of_far_groups_stays_exact(d, monkeypatch):
    """Many points at a moderate bandwidth: far (block, group) pairs go through the Taylor
    expansion (the fast Gauss transform), near ones are summed directly; both match brute force
    to the default rtol's order."""
    from bayesgen.models import kde_sums as kde_module

    calls = []
    moments = kde_module._moments
    monkeypatch.setattr(kde_module, "_moments", lambda *a: calls.append(len(a[1])) or moments(*a))
    rng = np.random.default_rng(d)
    X = rng.normal(size=(8000, d))
    Q = np.concatenate([rng.normal(size=(400, d)) * 1.5, X[:100]])
    w = rng.uniform(0.5, 1.5, len(X))
    kde = KDE(0.2).fit(X, sample_weight=w)
    ls = kde.score_samples(Q).numpy()
    assert sum(calls) > 0  # some pairs were expanded
    H = kde.bandwidth_matrix_.numpy()
    np.testing.assert_allclose(ls, _brute_log_density(Q, X, w, H, "gaussian"), rtol=1e-12)


def test_far_queries_do_not_underflow():
    """exp(-r²/2) underflows at r > 38; the log-space fallback keeps log p exact."""
    data = np.array([[0.0], [1.0]])
    kde = KDE(0.1).fit(data)
    q = np.array([[0.5], [10.0], [100.0], [-1e3]])
    exact = logsumexp(
        [stats.norm(0, 0.1).logpdf(q[:, 0]), stats.norm(1, 0.1).logpdf(q[:, 0])], axis=0
    ) - np.log(2)
    np.testing.assert_allclose(kde.score_samples(q).numpy(), exact, rtol=1e-13)
    e = KDE(0.01, "exponential").fit(data)
    np.testing.assert_allclose(
        e.score_samples(q).numpy(),
        logsumexp([-np.abs(q[:, 0]) / 0.01, -np.abs(q[:, 0] - 1) / 0.01], axis=0)
        - np.log(2)
        - np.log(2 * 0.01),
        rtol=1e-13,
    )
    assert torch.isinf(KDE(0.1, "tophat").fit(data).score_samples(q)[1:]).all()


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # sklearn's -inf
def test_cross_validated_bandwidth_matches_grid_search(cloud):
    X = cloud[2][0][:200]
    grid = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]
    for kernel in ("gaussian", "epanechnikov"):
        gs = GridSearchCV(KernelDensity(kernel=kernel), {"bandwidth": grid}, cv=KFold(5)).fit(X)
        ours = KDE(grid, kernel, cv=5).fit(X)
        assert ours.bandwidth_ == gs.best_params_["bandwidth"]
        # held-out scores exactly as a brute-force sum over the same contiguous folds ...
        folds = np.array_split(np.arange(len(X)), 5)
        brute = [
            np.mean(
                [
                    _brute_log_density(
                        X[f], np.delete(X, f, 0), np.ones(len(X) - len(f)), h**2 * np.eye(2), kernel
                    ).sum()
                    for f in folds
                ]
            )
            for h in grid
        ]
        np.testing.assert_allclose(ours.cv_scores_, brute, rtol=1e-10)
        # ... and as GridSearchCV's, up to sklearn's tree dropping far tail terms at small h
        sk = gs.cv_results_["mean_test_score"]
        ok = np.isfinite(sk)
        np.testing.assert_allclose(np.array(ours.cv_scores_)[ok], sk[ok], rtol=1e-6)
        if kernel == "gaussian":
            ref = KDE(ours.bandwidth_).fit(X)
            torch.testing.assert_close(ours.score_samples(X), ref.score_samples(X))


@pytest.mark.parametrize("kernel", KERNELS)
def test_sampling_follows_the_density_1d(kernel):
    """Kolmogorov-Smirnov of KDE samples against the CDF integrated from score_samples."""
    torch.manual_seed(0)
    data = np.array([0.1, 0.15, 0.4, 0.8, 0.85])
    kde = KDE(0.07, kernel).fit(data, sample_weight=[1, 2, 1, 3, 1])
    x = np.linspace(-1.5, 2.5, 40001)
    pdf = kde.score_samples(x).exp().numpy()
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x))])
    # the density integrates to 1 (the trapezoid rule errs by ~step * height at a jump)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-3 if kernel == "tophat" else 1e-6)
    s = kde.sample(4000)[:, 0].numpy()
    p = stats.kstest(s, lambda v: np.interp(v, x, cdf)).pvalue
    assert p > 1e-3


@pytest.mark.parametrize("kernel", KERNELS)
def test_sampling_moments_2d(kernel):
    """Mean Σ w x_k and covariance Cov_w(data) + c_K H, c_K = E[u uᵀ] of the unit kernel."""
    torch.manual_seed(1)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    w = rng.uniform(0.5, 1.5, 30)
    H = np.array([[0.3, 0.1], [0.1, 0.2]])
    kde = KDE(H, kernel).fit(X, sample_weight=w)
    n = 40000
    s = kde.sample(n).numpy()
    d = 2
    c = {
        "gaussian": 1.0,
        "tophat": 1 / (d + 2),
        "epanechnikov": 1 / (d + 4),
        "exponential": d + 1.0,
        "linear": (d + 1) / ((d + 2) * (d + 3)),
    }[kernel]
    wn = w / w.sum()
    mean = wn @ X
    cov = ((X - mean).T * wn) @ (X - mean) + c * H
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(s.mean(0) - mean) < 5 * se)
    emp = np.cov(s.T, bias=True)
    # sd of a sample (co)variance ≈ sqrt((σ_ii σ_jj + σ_ij²) / n) for near-Gaussian tails;
    # allow 8 sd for the heavier-tailed exponential kernel
    sd = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(emp - cov) < 8 * sd)


def test_empirical_distribution_eq13():
    torch.manual_seed(3)
    data = torch.tensor([[0, 1], [1, 1], [0, 1], [2, 0], [0, 1], [1, 1]])
    emp = EmpiricalDistribution(data)
    q = torch.tensor([[0, 1], [1, 1], [2, 0], [5, 5]])
    torch.testing.assert_close(
        emp.log_prob(q), torch.log(torch.tensor([3 / 6, 2 / 6, 1 / 6, 0.0], dtype=torch.float64))
    )
    assert emp.enumerate_support().shape == (3, 2)
    assert float(emp.entropy()) == pytest.approx(stats.entropy([3, 2, 1]))
    s = emp.sample((30000,))
    assert s.shape == (30000, 2)
    f = emp.log_prob(s).exp().numpy()  # every sample is a data point
    assert (f > 0).all()
    frac = (s == torch.tensor([0, 1])).all(1).double().mean().item()
    assert abs(frac - 0.5) < 5 * math.sqrt(0.25 / 30000)
    # weighted scalars: log_prob is the log of the total weight of equal points
    e1 = EmpiricalDistribution(torch.tensor([0.5, 1.5, 0.5]), weights=[1.0, 2.0, 1.0])
    torch.testing.assert_close(
        e1.log_prob(torch.tensor([0.5, 1.5, 0.7])),
        torch.log(torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)),
    )
    assert float(e1.mean) == pytest.approx(1.0)
    # a KDE's empirical distribution is its data
    kde = KDE(0.1).fit(np.array([[0.0], [1.0], [1.0]]))
    assert float(kde.empirical.log_prob(torch.tensor([[1.0]]))[0]) == pytest.approx(math.log(2 / 3))


def test_float32_and_device_moves(cloud):
    X, Q, w = cloud[2]
    k64 = KDE(0.4).fit(X, sample_weight=w)
    k32 = KDE(0.4, dtype=torch.float32, device="cpu").fit(X, sample_weight=w)
    assert k32.data_.dtype == torch.float32
    torch.testing.assert_close(
        k32.score_samples(Q).double(), k64.score_samples(Q), rtol=1e-4, atol=1e-4
    )
    buffers = dict(k64.to("cpu").named_buffers())
    assert {"data_", "weights_", "bandwidth_matrix_", "scale_tril_"} <= set(buffers)


def test_network_and_bad_input(cloud):
    X = cloud[2][0]
    assert KDE().fit(X).network.dag.edges == (("z", "x"),)
    with pytest.raises(ValueError, match=r"bandwidth must be a float > 0.*got -0.5"):
        KDE(-0.5)
    with pytest.raises(ValueError, match=r"bandwidth must be a float > 0.*got 0"):
        KDE(0)
    with pytest.raises(ValueError, match=r"bandwidth must be .*got 'scot'"):
        KDE("scot")
    with pytest.raises(ValueError, match=r"bandwidth grid values must be > 0; got \[0.1, -1.0\]"):
        KDE([0.1, -1.0])
    with pytest.raises(ValueError, match=r"kernel must be one of .*got 'cosine'"):
        KDE(kernel="cosine")
    with pytest.raises(ValueError, match="cv must be an int >= 2; got 1"):
        KDE([0.1, 0.2], cv=1)
    with pytest.raises(ValueError, match="symmetric positive definite; got eigenvalues"):
        KDE(np.array([[1.0, 2.0], [2.0, 1.0]])).fit(X)
    with pytest.raises(ValueError, match=r"bandwidth matrix must be \(2, 2\) for D=2"):
        KDE(np.eye(3)).fit(X)
    with pytest.raises(ValueError, match="X must be finite; it contains NaN"):
        KDE().fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D .* got shape \(2, 2, 2\)"):
        KDE().fit(np.zeros((2, 2, 2)))
    kde = KDE(0.3).fit(X)
    with pytest.raises(ValueError, match="X has 3 features but the KDE was fitted with"):
        kde.score_samples(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(400,\)"):
        KDE().fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="n must be an int >= 0; got -1"):
        kde.sample(-1)
    with pytest.raises(ValueError, match="needs kernel='gaussian'"):
        KDE(kernel="tophat").fit(X).to_distribution()


def test_plots_draw_live_kdes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesgen.plot.kde import plot_kde_1d, plot_kde_2d

    ax = plot_kde_1d(bandwidths=(0.02, 0.1, 0.5), seed=4, path=tmp_path / "fig6.png")
    curves, points = ax.lines[:3], ax.lines[3]
    assert len(points.get_xdata()) == 5 and np.all(points.get_ydata() == 0)
    data = points.get_xdata()
    for line, h in zip(curves, (0.02, 0.1, 0.5), strict=True):
        x = line.get_xdata()
        ref = np.mean([stats.norm(xi, h).pdf(x) for xi in data], axis=0)
        np.testing.assert_allclose(line.get_ydata(), ref, rtol=1e-10)
    # small h: tall spikes; large h: one smooth bump
    assert curves[0].get_ydata().max() > 3 * curves[2].get_ydata().max()
    assert (tmp_path / "fig6.png").stat().st_size > 0
    axes = plot_kde_2d(bandwidths=(0.05, 0.2), grid=40, seed=4, path=tmp_path / "fig7.png")
    assert len(axes) == 2
    for ax2, h in zip(axes, (0.05, 0.2), strict=True):
        img = ax2.images[0].get_array()
        pts = ax2.collections[0].get_offsets()
        assert pts.shape == (5, 2) and img.shape == (40, 40)
        t = np.linspace(0, 1, 40)
        # pixel (row i, column j) is the density at (x1 = t[j], x2 = t[i]), origin lower
        i, j = 13, 31
        ref = np.mean(
            [stats.multivariate_normal(p, h**2 * np.eye(2)).pdf([t[j], t[i]]) for p in pts]
        )
        assert img[i, j] == pytest.approx(ref, rel=1e-10)
    fitted = KDE(0.1).fit(np.array([0.2, 0.3, 0.9]))
    ax = plot_kde_1d(fitted)
    assert len(ax.lines) == 2 and list(ax.lines[1].get_xdata()) == [0.2, 0.3, 0.9]
    with pytest.raises(ValueError, match="draws D=2 KDEs; got one with n_features_in_=1"):
        plot_kde_2d(fitted)
    plt.close("all")
