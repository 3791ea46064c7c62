"""GaussianMixture (eq. 9): agreement with scikit-learn and scipy, EM invariants, bad input."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from bayesgen.models import GaussianMixture
from bayesgen.models.mixture import (
    ConvergenceWarning,
    DegenerateCovarianceWarning,
    NotFittedError,
)

matplotlib.use("Agg")

COV_TYPES = ["full", "tied", "diag", "spherical"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def overlapping(n: int = 600, seed: int = 0) -> np.ndarray:
    """Three overlapping, correlated 3-D clusters: EM needs tens of iterations."""
    rng = np.random.default_rng(seed)
    parts = []
    for c in range(3):
        A = rng.normal(size=(3, 3))
        parts.append(rng.normal(size=(n // 3, 3)) @ A + 1.5 * c * np.ones(3))
    return np.concatenate(parts)


def shared_init(X: np.ndarray, ct: str, k: int = 3, seed: int = 1) -> dict:
    """A deliberately poor initialization both libraries start from."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    cov = np.cov(X.T)
    prec = {
        "full": np.stack([np.linalg.inv(cov)] * k),
        "tied": np.linalg.inv(cov),
        "diag": np.tile(1.0 / np.diag(cov), (k, 1)),
        "spherical": np.full(k, 1.0 / np.diag(cov).mean()),
    }[ct]
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": X[rng.choice(len(X), k, replace=False)] + 0.1 * rng.normal(size=(k, d)),
        "precisions_init": prec,
    }


def fit_both(X, ct, **kw):
    init = shared_init(X, ct)
    opts = {"tol": 1e-8, "max_iter": 500, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        sk = SkGaussianMixture(3, covariance_type=ct, **opts, **init).fit(X)
    ours = GaussianMixture(3, covariance_type=ct, **opts, **init).fit(X)
    return ours, sk


def mixture_logpdf_scipy(X: np.ndarray, weights, means, covs) -> np.ndarray:
    """log Σ_k w_k N(x_o; μ_o, Σ_oo) row by row with scipy (the oracle)."""
    out = np.empty(len(X))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        if not o.any():
            out[i] = 0.0
            continue
        comps = [
            np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(x[o])
            for w, m, c in zip(weights, means, covs, strict=True)
        ]
        out[i] = np.logaddexp.reduce(comps)
    return out


def full_covs(gm: GaussianMixture) -> np.ndarray:
    k, d = gm.means_.shape
    c = gm.covariances_.cpu().numpy()
    return {
        "full": c,
        "tied": np.broadcast_to(c, (k, d, d)),
        "diag": np.stack([np.diag(v) for v in c]) if c.ndim == 2 else None,
        "spherical": np.stack([v * np.eye(d) for v in c]) if c.ndim == 1 else None,
    }[gm.covariance_type]


# --------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("ct", COV_TYPES)
def test_em_matches_sklearn_from_same_init(ct):
    X = overlapping()
    ours, sk = fit_both(X, ct)
    assert ours.n_iter_ == sk.n_iter_ > 5
    assert ours.converged_ == sk.converged_
    np.testing.assert_allclose(ours.score_samples(X).numpy(), sk.score_samples(X), atol=1e-4)
    np.testing.assert_allclose(ours.weights_.numpy(), sk.weights_, atol=1e-6)
    np.testing.assert_allclose(ours.means_.numpy(), sk.means_, atol=1e-5)
    np.testing.assert_allclose(ours.covariances_.numpy(), sk.covariances_, atol=1e-5)
    np.testing.assert_allclose(
        ours.precisions_cholesky_.numpy(), sk.precisions_cholesky_, atol=1e-4
    )
    np.testing.assert_allclose(ours.precisions_.numpy(), sk.precisions_, rtol=1e-5, atol=1e-5)
    assert ours.lower_bound_ == pytest.approx(sk.lower_bound_, abs=1e-8)
    np.testing.assert_array_equal(ours.predict(X).numpy(), sk.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X).numpy(), sk.predict_proba(X), atol=1e-5)
    assert ours.score(X) == pytest.approx(sk.score(X), abs=1e-8)
    assert ours.bic(X) == pytest.approx(sk.bic(X), rel=1e-9)
    assert ours.aic(X) == pytest.approx(sk.aic(X), rel=1e-9)
    assert ours._n_parameters() == sk._n_parameters()


@pytest.mark.parametrize("ct", COV_TYPES)
def test_lower_bound_never_decreases(ct):
    X = overlapping(seed=3)
    ours, _ = fit_both(X, ct)
    lb = np.asarray(ours.lower_bounds_)
    assert len(lb) == ours.n_iter_ > 5
    assert np.all(np.diff(lb) >= -1e-10)


@pytest.mark.parametrize("ct", ["full", "diag"])
def test_data_far_from_the_origin_fit_as_well(ct):
    """Statistics are accumulated about the data's mean: shifting X by 1e5 changes nothing."""
    X = overlapping()
    init = shared_init(X, ct)
    near = GaussianMixture(3, covariance_type=ct, tol=1e-8, max_iter=500, **init).fit(X)
    init["means_init"] = init["means_init"] + 1e5
    far = GaussianMixture(3, covariance_type=ct, tol=1e-8, max_iter=500, **init).fit(X + 1e5)
    assert far.n_iter_ == near.n_iter_
    np.testing.assert_allclose(
        far.score_samples(X + 1e5).numpy(), near.score_samples(X).numpy(), atol=1e-7
    )


@pytest.mark.parametrize("ct", COV_TYPES)
def test_blocked_and_uncached_paths_give_the_same_fit(ct, monkeypatch):
    """Large data go through row blocks and skip the feature cache: same numbers."""
    from bayesgen.models.mixture import _budget

    X = overlapping(seed=12)
    X[::7, 1] = np.nan
    init = shared_init(np.nan_to_num(X), ct)
    ref = GaussianMixture(3, covariance_type=ct, tol=1e-6, max_iter=300, **init).fit(X)
    monkeypatch.setattr(_budget, "_BLOCK_ELEMENTS", 1 << 10)
    monkeypatch.setattr(_budget, "_CACHE_ELEMENTS", 1 << 8)
    small = GaussianMixture(3, covariance_type=ct, tol=1e-6, max_iter=300, **init).fit(X)
    assert small.n_iter_ == ref.n_iter_
    torch.testing.assert_close(small.score_samples(X), ref.score_samples(X), atol=1e-10, rtol=0)
    xs = small.sample(5000)
    assert xs.shape == (5000, 3)


def test_kmeans_init_finds_the_same_optimum_as_sklearn():
    X, _ = make_blobs(n_samples=1500, centers=4, n_features=2, cluster_std=0.6, random_state=7)
    ours = GaussianMixture(4, random_state=0).fit(X)
    sk = SkGaussianMixture(4, random_state=0).fit(X)
    assert ours.score(X) == pytest.approx(sk.score(X), abs=1e-4)
    order = lambda m: m[np.lexsort(m.T)]  # noqa: E731
    np.testing.assert_allclose(order(ours.means_.numpy()), order(sk.means_), atol=1e-3)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_init_params_fit_blobs(init_params):
    X, _ = make_blobs(n_samples=600, centers=3, n_features=2, cluster_std=0.5, random_state=2)
    best = SkGaussianMixture(3, random_state=0).fit(X).score(X)
    ours = GaussianMixture(3, init_params=init_params, n_init=3, random_state=0, tol=1e-9)
    ours.max_iter = 1000
    ours.fit(X)
    assert ours.converged_
    assert ours.score(X) == pytest.approx(best, abs=1e-3)


def test_n_init_keeps_the_best_restart():
    X = overlapping(seed=5)
    one = GaussianMixture(3, init_params="random", random_state=4, max_iter=300).fit(X)
    many = GaussianMixture(3, init_params="random", n_init=4, random_state=4, max_iter=300).fit(X)
    assert many.lower_bound_ >= one.lower_bound_ - 1e-12


# --------------------------------------------------------------------------- missing features
@pytest.mark.parametrize("ct", COV_TYPES)
def test_missing_features_score_is_the_marginal_mixture(ct):
    X = overlapping(seed=2)
    gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    rng = np.random.default_rng(0)
    Xm = X[:200].copy()
    Xm[rng.random(Xm.shape) < 0.35] = np.nan
    Xm[0] = np.nan  # a row with nothing observed has log p = log 1 = 0
    Xm[1, :2] = np.nan
    oracle = mixture_logpdf_scipy(Xm, gm.weights_.numpy(), gm.means_.numpy(), full_covs(gm))
    np.testing.assert_allclose(gm.score_samples(Xm).numpy(), oracle, atol=1e-8)
    complete = ~np.isnan(Xm).any(1)
    np.testing.assert_allclose(
        gm.score_samples(Xm[complete]).numpy(), gm.score_samples(X[:200][complete]).numpy()
    )


@pytest.mark.parametrize("ct", COV_TYPES)
def test_em_with_missing_features_is_exact_em(ct):
    """EM's fixed point with NaN marginalized is stationary for the observed-data likelihood."""
    X = overlapping(300, seed=4)
    rng = np.random.default_rng(1)
    X[rng.random(X.shape) < 0.2] = np.nan
    w = torch.as_tensor(rng.uniform(0.5, 2.0, len(X)))
    gm = GaussianMixture(3, covariance_type=ct, tol=1e-8, max_iter=1000, reg_covar=0.0)
    gm.fit(X, sample_weight=w)
    assert gm.converged_
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-10)
    # gradient of Σ w_i log p(x_i,o) w.r.t. means and weight logits is zero at the fixed point
    Xt = torch.as_tensor(X)
    means = gm.means_.clone().requires_grad_(True)
    logits = gm.weights_.log().clone().requires_grad_(True)
    lp = gm._component_log_prob(Xt, means=means) + torch.log_softmax(logits, 0)
    (w * torch.logsumexp(lp, 1)).sum().backward()
    scale = float(w.sum())
    assert float(means.grad.abs().max()) / scale < 1e-4
    assert float(logits.grad.abs().max()) / scale < 1e-4


def test_missing_raise_and_all_nan_column():
    X = overlapping()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN .*row 3, column 1.*missing='raise'"):
        GaussianMixture(2, missing="raise").fit(X)
    Y = overlapping()
    Y[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \[2\] have no observed value"):
        GaussianMixture(2).fit(Y)


# --------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("ct", COV_TYPES)
def test_sample_moments_match_the_mixture(ct):
    X = overlapping(seed=6)
    gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    n = 40_000
    xs, z = gm.sample_joint(n)
    assert xs.shape == (n, 3) and z.shape == (n,)
    w = gm.weights_.numpy()
    mu = gm.means_.numpy()
    covs = full_covs(gm)
    # component frequencies: binomial standard error
    freq = np.bincount(z.numpy(), minlength=3) / n
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / n))
    # mixture mean and covariance
    mean = w @ mu
    cov = np.einsum("k,kde->de", w, covs + mu[:, :, None] * mu[:, None, :]) - np.outer(mean, mean)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(xs.numpy().mean(0) - mean) < 5 * se_mean)
    emp = np.cov(xs.numpy().T)
    se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)  # Gaussian approx.
    assert np.all(np.abs(emp - cov) < 6 * se_cov * 1.5)
    # per-component: samples given z=k have component k's mean
    for k in range(3):
        sel = xs.numpy()[z.numpy() == k]
        se = np.sqrt(np.diag(covs[k]) / len(sel))
        assert np.all(np.abs(sel.mean(0) - mu[k]) < 5 * se)


def test_sample_is_reproducible_with_random_state():
    X = overlapping()
    gm = GaussianMixture(2, random_state=3).fit(X)
    a, za = gm.sample_joint(50)
    b, zb = gm.sample_joint(50)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(za, zb)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_covariance_types_are_objects(ct):
    """A CovarianceType object and its name fit the same mixture; unknown names are refused."""
    from bayesgen.models.mixture.covariance import CovarianceType, make_covariance

    obj = make_covariance(ct)
    assert isinstance(obj, CovarianceType) and obj.name == ct and make_covariance(obj) is obj
    X = overlapping()
    a = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    b = GaussianMixture(2, covariance_type=obj, random_state=0).fit(X)
    assert b.covariance_type == ct
    torch.testing.assert_close(a.score_samples(X), b.score_samples(X), rtol=0, atol=0)
    assert obj.shape(2, 3) == tuple(a.covariances_.shape)
    with pytest.raises(ValueError, match=r"covariance_type must be one of .*got 'banded'"):
        make_covariance("banded")


# --------------------------------------------------------------------------- structure, API
@pytest.mark.parametrize("ct", COV_TYPES)
def test_as_distribution_and_network(ct):
    X = overlapping()
    gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    dist = gm.as_distribution()
    Xt = torch.as_tensor(X)
    torch.testing.assert_close(dist.log_prob(Xt), gm.log_prob(Xt), atol=1e-10, rtol=0)
    torch.testing.assert_close(gm(Xt), gm.score_samples(X))
    assert gm.network.dag.edges == (("z", "x"),)
    assert gm.network.parents("x") == ("z",)


def test_sample_weight_equals_repeated_rows():
    X = overlapping(300, seed=8)
    reps = np.random.default_rng(0).integers(0, 4, len(X))
    init = shared_init(X, "full")
    a = GaussianMixture(3, tol=1e-9, max_iter=400, **init).fit(X, sample_weight=reps)
    b = GaussianMixture(3, tol=1e-9, max_iter=400, **init).fit(np.repeat(X, reps, axis=0))
    assert a.n_iter_ == b.n_iter_
    torch.testing.assert_close(a.means_, b.means_, atol=1e-8, rtol=0)
    torch.testing.assert_close(a.covariances_, b.covariances_, atol=1e-8, rtol=0)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, abs=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_minibatch_summaries_equal_one_full_batch_step(ct):
    X = overlapping(seed=9)
    X[::7, 0] = np.nan
    init = shared_init(np.nan_to_num(X), ct)
    with pytest.warns(ConvergenceWarning):
        one = GaussianMixture(3, covariance_type=ct, max_iter=1, tol=0.0, **init).fit(X)
    gm = GaussianMixture(3, covariance_type=ct, max_iter=0, **init).fit(X)
    lls = [gm.summarize(part) for part in np.array_split(X, 4)]
    gm.from_summaries()
    assert float(torch.cat(lls).mean()) == pytest.approx(one.lower_bounds_[0], abs=1e-10)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        torch.testing.assert_close(getattr(gm, name), getattr(one, name), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_state_dict_of_another_shape_is_refused(ct):
    """(The round trip itself is in test_models.py.)"""
    gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(overlapping())
    with pytest.raises(RuntimeError, match="does not fit GaussianMixture"):
        GaussianMixture(2, covariance_type=ct).load_state_dict(gm.state_dict())


@pytest.mark.parametrize("device", DEVICES)
def test_device_and_float32(device):
    X = overlapping()
    gm = GaussianMixture(3, random_state=0, device=device).fit(X)
    assert gm.means_.device.type == device
    ref = GaussianMixture(3, random_state=0).fit(X)
    torch.testing.assert_close(gm.score_samples(X).cpu(), ref.score_samples(X), atol=1e-6, rtol=0)
    moved = ref.to(device)
    assert moved.score_samples(X).device.type == device
    f32 = GaussianMixture(3, random_state=0, dtype=torch.float32, device=device).fit(X)
    assert f32.means_.dtype == torch.float32
    assert f32.score(X) == pytest.approx(ref.score(X), abs=1e-3)


def test_warm_start_continues_em():
    X = overlapping(seed=11)
    init = shared_init(X, "full")
    whole = GaussianMixture(3, tol=0.0, max_iter=10, **init)
    part = GaussianMixture(3, tol=0.0, max_iter=4, warm_start=True, **init)
    with pytest.warns(ConvergenceWarning):
        whole.fit(X)
        part.fit(X)
        part.max_iter = 6
        part.fit(X)
    torch.testing.assert_close(part.means_, whole.means_, atol=1e-10, rtol=0)
    torch.testing.assert_close(part.covariances_, whole.covariances_, atol=1e-10, rtol=0)
    assert part.lower_bounds_ == pytest.approx(whole.lower_bounds_[4:], abs=1e-12)


def test_numpy_torch_pandas_inputs_agree():
    import pandas as pd

    X = overlapping()
    gm = GaussianMixture(3, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    ref = GaussianMixture(3, random_state=0).fit(torch.as_tensor(X, dtype=torch.float32))
    torch.testing.assert_close(gm.means_, ref.means_, atol=1e-5, rtol=0)
    torch.testing.assert_close(gm.score_samples(X.tolist()), gm.score_samples(X))
    assert gm.predict(X).dtype == torch.long and gm.predict_proba(X).shape == (600, 3)
    assert gm.n_features_in_ == 3


def test_small_problems_restore_the_thread_setting():
    before = torch.get_num_threads()
    X = overlapping()
    GaussianMixture(3, random_state=0).fit(X).score_samples(X)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="weights_init must sum to 1"):
        GaussianMixture(2, weights_init=[0.5, 0.4]).fit(X)
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- gradient training
@pytest.mark.parametrize("ct", ["full", "diag"])
def test_gradient_training_reaches_the_em_likelihood(ct):
    X, _ = make_blobs(n_samples=300, centers=2, n_features=2, cluster_std=1.0, random_state=1)
    em = GaussianMixture(2, covariance_type=ct, tol=1e-9, random_state=0).fit(X)
    gd = GaussianMixture(2, covariance_type=ct, init_params="k-means++", random_state=0)
    gd.fit_gradient(X, lr=0.1, max_epochs=1000, tol=1e-6)
    assert gd.converged_
    assert gd.lower_bound_ == pytest.approx(gd.score(X))
    assert gd.lower_bound_ == pytest.approx(em.lower_bound_, abs=1e-3)
    assert gd.loss_curve_[-1] < gd.loss_curve_[0] - 0.5


def test_gradient_training_minibatches_and_missing():
    X, _ = make_blobs(n_samples=300, centers=2, n_features=3, cluster_std=1.0, random_state=2)
    X[::5, 1] = np.nan
    em = GaussianMixture(2, tol=1e-9, random_state=0).fit(X)
    gd = GaussianMixture(2, means_init=em.means_ + 1.5, random_state=0)  # off by 1.5 per axis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = gd.fit_gradient(X, max_epochs=1).score(X)
    gd.warm_start = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gd.fit_gradient(X, lr=0.1, max_epochs=60, batch_size=100)
    assert start < em.score(X) - 0.5
    assert gd.score(X) == pytest.approx(em.score(X), abs=5e-3)


# --------------------------------------------------------------------------- warnings
def test_convergence_warning():
    X = overlapping()
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        gm = GaussianMixture(3, max_iter=2, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2


def test_collapsing_component_is_regularized_and_named():
    rng = np.random.default_rng(0)
    X = np.concatenate([np.tile([[5.0, 5.0]], (40, 1)), rng.normal(size=(200, 2))])
    init = {
        "means_init": [[5.0, 5.0], [0.0, 0.0]],
        "weights_init": [0.5, 0.5],
        "precisions_init": np.stack([np.eye(2), np.eye(2)]),
    }
    with pytest.warns(DegenerateCovarianceWarning, match=r"component\(s\) \[0\] collapsed"):
        gm = GaussianMixture(2, **init).fit(X)
    cov0 = gm.covariances_[0].numpy()
    np.testing.assert_allclose(cov0, 1e-6 * np.eye(2), atol=1e-12)  # held by reg_covar
    assert np.isfinite(gm.score_samples(X).numpy()).all()


def test_singular_covariance_without_reg_covar_is_jittered_with_a_warning():
    t = np.linspace(-1, 1, 100)
    X = np.stack([t, 2 * t], 1)  # on a line: the covariance is singular
    with pytest.warns(DegenerateCovarianceWarning, match="not positive definite"):
        gm = GaussianMixture(1, reg_covar=0.0).fit(X)
    assert np.isfinite(gm.score_samples(X).numpy()).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_singularity_is_judged_by_pivot_size_not_by_cholesky_failing(dtype):
    """A Cholesky of an exactly singular matrix may succeed with a rounding-sized pivot on one
    BLAS build and fail on another; either way the matrix is singular to working precision."""
    from bayesgen.models.mixture.covariance import precision_cholesky

    eps = torch.finfo(dtype).eps
    cov = torch.tensor([[[1.0, 1.0], [1.0, 1.0 + 4 * eps]]], dtype=dtype)  # factorizes, barely
    assert int(torch.linalg.cholesky_ex(cov)[1]) == 0
    with pytest.warns(DegenerateCovarianceWarning, match=r"component\(s\) \[0\]"):
        fixed, _ = precision_cholesky(cov, "full", 0.0)
    assert float(torch.linalg.eigvalsh(fixed).min()) > 100 * 2 * eps
    healthy = torch.tensor([[[1.0, 0.5], [0.5, 1.0]]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same, _ = precision_cholesky(healthy, "full", 0.0)
    assert torch.equal(same, healthy)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_components": 0}, ValueError, r"n_components must be an int >= 1, got 0"),
        ({"n_components": 2.5}, TypeError, r"n_components must be an int"),
        ({"covariance_type": "banded"}, ValueError, r"covariance_type must be one of .*'banded'"),
        ({"init_params": "kmedoids"}, ValueError, r"init_params must be one of .*'kmedoids'"),
        ({"missing": "impute"}, ValueError, r"missing must be one of"),
        ({"reg_covar": -1.0}, ValueError, r"reg_covar must be a finite real number >= 0.0"),
        ({"tol": float("nan")}, ValueError, r"tol must be"),
        ({"max_iter": -1}, ValueError, r"max_iter must be an int >= 0"),
        ({"n_init": 0}, ValueError, r"n_init must be an int >= 1"),
        ({"dtype": torch.int64}, TypeError, r"dtype must be torch.float32 or torch.float64"),
        ({"random_state": "seed"}, TypeError, r"random_state must be None, an int"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        GaussianMixture(**kwargs)


def test_bad_data():
    X = overlapping()
    with pytest.raises(ValueError, match=r"X must be 2-D .*got shape \(600,\).*reshape"):
        GaussianMixture(2).fit(X[:, 0])
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        GaussianMixture(2).fit(X[None])
    with pytest.raises(TypeError, match=r"X must be an array of real numbers"):
        GaussianMixture(2).fit([["a", "b"], ["c", "d"]])
    bad = X.copy()
    bad[5, 2] = np.inf
    with pytest.raises(ValueError, match=r"infinite value \(row 5, column 2\)"):
        GaussianMixture(2).fit(bad)
    with pytest.raises(ValueError, match=r"n_components=5 must be <= n_samples=4"):
        GaussianMixture(5).fit(X[:4])
    with pytest.raises(ValueError, match=r"at least 2 samples"):
        GaussianMixture(1).fit(X[:1])
    gm = GaussianMixture(2, random_state=0)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        gm.score_samples(X)
    assert not hasattr(gm, "n_features_in_")
    gm.fit(X)
    with pytest.raises(ValueError, match=r"X has 2 features, but this GaussianMixture was fitted "):
        gm.score_samples(X[:, :2])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(600,\), got \(3,\)"):
        GaussianMixture(2).fit(X, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match=r"sample_weight must be >= 0"):
        GaussianMixture(2).fit(X, sample_weight=-np.ones(600))
    with pytest.raises(ValueError, match=r"sample_weight must be finite"):
        GaussianMixture(2).fit(X, sample_weight=np.full(600, np.nan))


def test_bad_initial_parameters():
    X = overlapping()
    with pytest.raises(ValueError, match=r"weights_init must sum to 1, got 0.9"):
        GaussianMixture(2, weights_init=[0.5, 0.4]).fit(X)
    with pytest.raises(ValueError, match=r"weights_init must have shape \(2,\)"):
        GaussianMixture(2, weights_init=[1.0]).fit(X)
    with pytest.raises(ValueError, match=r"means_init must have shape \(2, 3\).*got \(2, 2\)"):
        GaussianMixture(2, means_init=np.zeros((2, 2))).fit(X)
    with pytest.raises(ValueError, match=r"means_init must be finite"):
        GaussianMixture(2, means_init=np.full((2, 3), np.nan)).fit(X)
    not_pd = np.stack([np.eye(3), -np.eye(3)])
    with pytest.raises(ValueError, match=r"precisions_init \(full\) must be symmetric positive"):
        GaussianMixture(2, precisions_init=not_pd).fit(X)
    with pytest.raises(ValueError, match=r"precisions_init \(diag\) must be positive"):
        GaussianMixture(2, covariance_type="diag", precisions_init=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match=r"precisions_init must have shape \(3, 3\) for "):
        GaussianMixture(2, covariance_type="tied", precisions_init=np.eye(2)).fit(X)


# --------------------------------------------------------------------------- figure 17
def test_plot_mixture_density_figure_17():
    import matplotlib.pyplot as plt

    from bayesgen.plot.mixture import plot_mixture_density

    # the chapter's example: r = 0.8, components (μ, σ) = (-1, 1) and (3, 2), 1000 samples
    g = torch.Generator().manual_seed(0)
    z = torch.bernoulli(torch.full((1000,), 0.8), generator=g).bool()
    x = torch.where(z, 3 + 2 * torch.randn(1000, generator=g), -1 + torch.randn(1000, generator=g))
    gm = GaussianMixture(2, random_state=0, tol=1e-6).fit(x.double()[:, None])
    np.testing.assert_allclose(sorted(gm.weights_.numpy()), [0.2, 0.8], atol=0.06)
    fig, ax = plt.subplots()
    out = plot_mixture_density(gm, data=x, ax=ax, bins=40)
    assert out is ax
    line = ax.lines[0]
    xs, ys = line.get_data()
    np.testing.assert_allclose(ys, gm.log_prob(xs[:, None]).exp().numpy(), rtol=1e-10)
    assert xs.min() == pytest.approx(float(x.min())) and xs.max() == pytest.approx(float(x.max()))
    # component curves add up to the mixture density
    comp_sum = sum(l.get_data()[1] for l in ax.lines[1:])
    np.testing.assert_allclose(comp_sum, ys, rtol=1e-8)
    bars = ax.patches
    assert len(bars) == 40
    area = sum(b.get_height() * b.get_width() for b in bars)
    assert area == pytest.approx(1.0)
    # the density integrates to ~1 over the drawn range
    assert np.trapezoid(ys, xs) == pytest.approx(1.0, abs=0.02)
    plt.close(fig)
    with pytest.raises(ValueError, match="draws 1-D mixtures; the model has 3 features"):
        plot_mixture_density(GaussianMixture(2, random_state=0).fit(overlapping()))
