"""Naive Bayes (eq. 10) against scikit-learn's four naive Bayes classifiers, brute-force
marginalization of missing features, sampling statistics and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from sklearn import datasets
from sklearn import naive_bayes as sknb
from torch.distributions import Bernoulli, Categorical, Multinomial, Normal

from bayesgen.models.mixture.errors import NotFittedError
from bayesgen.models.naive_bayes import NaiveBayes

TOL = 1e-6  # the tolerance on probabilities; agreement is ~1e-12 in practice


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits(return_X_y=True)


def _agree(ours: NaiveBayes, sk, X, *, joint_offset=None, atol=TOL):
    """Posteriors, log posteriors and joint log-likelihoods equal to scikit-learn's."""
    np.testing.assert_allclose(ours.predict_proba(X).numpy(), sk.predict_proba(X), atol=atol)
    np.testing.assert_allclose(
        ours.predict_log_proba(X).numpy(), sk.predict_log_proba(X), rtol=1e-9, atol=atol
    )
    jll = ours.predict_joint_log_proba(X).numpy()
    if joint_offset is not None:
        jll = jll - joint_offset[:, None]
    np.testing.assert_allclose(jll, sk.predict_joint_log_proba(X), rtol=1e-9, atol=atol)
    np.testing.assert_array_equal(ours.predict(X).numpy(), sk.predict(X))
    np.testing.assert_allclose(
        ours.class_log_prior_.numpy(),
        getattr(sk, "class_log_prior_", None)
        if hasattr(sk, "class_log_prior_")
        else np.log(sk.class_prior_),
    )


@pytest.mark.parametrize("loader", ["iris", "wine", "breast_cancer"])
def test_gaussian_matches_sklearn(loader):
    X, y = getattr(datasets, f"load_{loader}")(return_X_y=True)
    sk = sknb.GaussianNB().fit(X, y)
    ours = NaiveBayes("gaussian").fit(X, y)
    _agree(ours, sk, X)
    np.testing.assert_allclose(ours.theta_.numpy(), sk.theta_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_.numpy(), sk.var_, rtol=1e-10)
    assert ours.epsilon_ == pytest.approx(sk.epsilon_, rel=1e-12)
    np.testing.assert_allclose(ours.class_count_.numpy(), sk.class_count_)


def test_gaussian_weights_priors_and_var_smoothing():
    X, y = datasets.load_wine(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    sk = sknb.GaussianNB(var_smoothing=1e-3, priors=[0.5, 0.3, 0.2]).fit(X, y, sample_weight=w)
    ours = NaiveBayes(var_smoothing=1e-3, class_prior=[0.5, 0.3, 0.2]).fit(X, y, sample_weight=w)
    _agree(ours, sk, X)
    np.testing.assert_allclose(ours.var_.numpy(), sk.var_, rtol=1e-10)


@pytest.mark.parametrize("alpha,binarize,fit_prior", [(1.0, 7.0, True), (0.3, 0.0, False)])
def test_bernoulli_matches_sklearn(digits, alpha, binarize, fit_prior):
    X, y = digits
    sk = sknb.BernoulliNB(alpha=alpha, binarize=binarize, fit_prior=fit_prior).fit(X, y)
    ours = NaiveBayes("bernoulli", alpha=alpha, binarize=binarize, fit_prior=fit_prior).fit(X, y)
    _agree(ours, sk, X)
    np.testing.assert_allclose(ours.feature_log_prob_.numpy(), sk.feature_log_prob_, rtol=1e-12)
    np.testing.assert_allclose(ours.feature_count_.numpy(), sk.feature_count_)


def test_bernoulli_breast_cancer_binarized_at_median():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    Xb = (X > np.median(X, 0)).astype(float)
    sk = sknb.BernoulliNB(binarize=None).fit(Xb, y)
    _agree(NaiveBayes("bernoulli", binarize=None).fit(Xb, y), sk, Xb)


@pytest.mark.parametrize("alpha", [1.0, 0.05])
def test_multinomial_matches_sklearn(digits, alpha):
    X, y = digits
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    prior = np.full(10, 0.1)
    sk = sknb.MultinomialNB(alpha=alpha, class_prior=prior).fit(X, y, sample_weight=w)
    ours = NaiveBayes("multinomial", alpha=alpha, class_prior=prior).fit(X, y, sample_weight=w)
    # log p(x, y) is the true multinomial pmf: sklearn leaves out log n! - Σ log x_d!
    coef = torch.lgamma(torch.tensor(X.sum(1)) + 1) - torch.lgamma(torch.tensor(X) + 1).sum(1)
    _agree(ours, sk, X, joint_offset=coef.numpy())
    np.testing.assert_allclose(ours.feature_log_prob_.numpy(), sk.feature_log_prob_, rtol=1e-12)


def test_multinomial_log_prob_is_torch_multinomial(digits):
    X, y = digits
    m = NaiveBayes("multinomial").fit(X, y)
    x = torch.tensor(X[:7])
    lp = m.log_prob(x, y[:7])
    ref = (
        torch.stack(
            [
                Multinomial(int(r.sum()), logits=m.feature_log_prob_[c]).log_prob(r)
                for r, c in zip(x, y[:7], strict=True)
            ]
        )
        + m.class_log_prior_[torch.tensor(y[:7])]
    )
    torch.testing.assert_close(lp, ref, rtol=1e-12, atol=1e-10)


def test_categorical_matches_sklearn(digits):
    X, y = digits
    sk = sknb.CategoricalNB(alpha=0.5).fit(X, y)
    ours = NaiveBayes("categorical", alpha=0.5).fit(X, y)
    _agree(ours, sk, X)
    np.testing.assert_array_equal(ours.n_categories_.numpy(), sk.n_categories_)
    for a, b in zip(ours.feature_log_prob_, sk.feature_log_prob_, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12)


def test_categorical_iris_binned_min_categories():
    X, y = datasets.load_iris(return_X_y=True)
    Xc = np.stack([np.digitize(c, np.quantile(c, [0.25, 0.5, 0.75])) for c in X.T], 1)
    sk = sknb.CategoricalNB(min_categories=6).fit(Xc, y)
    ours = NaiveBayes("categorical", min_categories=6).fit(Xc, y)
    _agree(ours, sk, Xc)
    assert ours.n_categories_.tolist() == [6] * 4


def test_mixed_features_sum_the_families():
    """Gaussian columns + categorical columns: log p(x, y) = log p(y) + both families' terms."""
    X, y = datasets.load_wine(return_X_y=True)
    Xg = X[:, :7]
    Xc = np.stack([np.digitize(c, np.quantile(c, [0.33, 0.66])) for c in X[:, 7:].T], 1)
    Xm = np.concatenate([Xg, Xc], 1).astype(float)
    kinds = ["gaussian"] * 7 + ["categorical"] * Xc.shape[1]
    ours = NaiveBayes(kinds).fit(Xm, y)
    g = sknb.GaussianNB().fit(Xg, y)
    c = sknb.CategoricalNB().fit(Xc, y)
    jll = g.predict_joint_log_proba(Xg) + c.predict_joint_log_proba(Xc) - c.class_log_prior_
    np.testing.assert_allclose(ours.predict_joint_log_proba(Xm).numpy(), jll, rtol=1e-10)
    post = np.exp(jll - jll.max(1, keepdims=True))
    np.testing.assert_allclose(
        ours.predict_proba(Xm).numpy(), post / post.sum(1, keepdims=True), atol=TOL
    )
    assert ours.feature_kinds_ == kinds
    # the same model specified by a dict over DataFrame column names
    import pandas as pd

    df = pd.DataFrame(Xm, columns=[f"f{j}" for j in range(Xm.shape[1])])
    by_name = NaiveBayes({f"f{j}": k for j, k in enumerate(kinds)}).fit(df, y)
    torch.testing.assert_close(
        by_name.predict_joint_log_proba(df), ours.predict_joint_log_proba(Xm)
    )
    with pytest.raises(AttributeError, match="one family"):
        _ = ours.feature_count_


def test_partial_fit_equals_fit_and_sklearn(digits):
    X, y = digits
    parts = np.array_split(np.arange(len(y)), 4)
    for kind, sk in [
        ("multinomial", sknb.MultinomialNB()),
        ("categorical", sknb.CategoricalNB()),
        ("bernoulli", sknb.BernoulliNB(binarize=4.0)),
    ]:
        ours = NaiveBayes(kind, binarize=4.0)
        for p in parts:
            ours.partial_fit(X[p], y[p], classes=np.arange(10))
            sk.partial_fit(X[p], y[p], classes=np.arange(10))
        full = NaiveBayes(kind, binarize=4.0).fit(X, y)
        torch.testing.assert_close(
            ours.predict_joint_log_proba(X), full.predict_joint_log_proba(X), rtol=1e-12, atol=1e-9
        )
        np.testing.assert_allclose(ours.predict_proba(X).numpy(), sk.predict_proba(X), atol=TOL)
    # Gaussian: sklearn's partial_fit subtracts the *new* batch's epsilon from variances that
    # hold the previous one, so it only equals a clean streaming update at var_smoothing=0.
    Xg, yg = datasets.load_breast_cancer(return_X_y=True)
    sk, ours = sknb.GaussianNB(var_smoothing=0), NaiveBayes(var_smoothing=0)
    stream = NaiveBayes()
    for p in np.array_split(np.arange(len(yg)), 3):
        sk.partial_fit(Xg[p], yg[p], classes=[0, 1])
        ours.partial_fit(Xg[p], yg[p], classes=[0, 1])
        stream.partial_fit(Xg[p], yg[p], classes=[0, 1])
    _agree(ours, sk, Xg)
    np.testing.assert_allclose(ours.var_.numpy(), sk.var_, rtol=1e-9)
    # with smoothing: the exact pooled variance plus epsilon of the last batch
    full = NaiveBayes(var_smoothing=0).fit(Xg, yg)
    last = Xg[np.array_split(np.arange(len(yg)), 3)[-1]]
    np.testing.assert_allclose(
        stream.var_.numpy(), full.var_.numpy() + 1e-9 * last.var(0).max(), rtol=1e-10
    )


def test_partial_fit_grows_categorical_states():
    """States first seen in a later batch widen the table, as CategoricalNB's partial_fit."""
    rng = np.random.default_rng(4)
    X1, y1 = rng.integers(0, 3, (60, 4)), rng.integers(0, 2, 60)
    X2, y2 = rng.integers(0, 6, (60, 4)), rng.integers(0, 2, 60)
    ours = NaiveBayes("categorical").partial_fit(X1, y1, classes=[0, 1])
    assert ours.n_categories_.max() == 3
    ours.partial_fit(X2, y2)
    sk = sknb.CategoricalNB().partial_fit(X1, y1, classes=[0, 1]).partial_fit(X2, y2)
    X = np.concatenate([X1, X2])
    _agree(ours, sk, X)
    full = NaiveBayes("categorical").fit(X, np.concatenate([y1, y2]))
    torch.testing.assert_close(ours.predict_joint_log_proba(X), full.predict_joint_log_proba(X))


def test_summarize_then_from_summaries_is_fit():
    X, y = datasets.load_iris(return_X_y=True)
    m = NaiveBayes().partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    first = m.theta_.clone()
    m.summarize(X[10:], y[10:])  # statistics only: parameters unchanged until from_summaries
    assert torch.equal(m.theta_, first) and not torch.allclose(
        m.theta_, torch.tensor(sknb.GaussianNB().fit(X, y).theta_)
    )
    m.from_summaries()
    torch.testing.assert_close(m.theta_, NaiveBayes().fit(X, y).theta_, rtol=1e-12, atol=1e-12)


def test_missing_discrete_feature_is_brute_force_marginal(digits):
    """NaN drops p(x_d | y): equal to Σ over every value of x_d of the joint (enumeration)."""
    X, y = digits
    for kind in ("categorical", "bernoulli"):
        m = NaiveBayes(kind, binarize=None if kind == "categorical" else 0.0).fit(X, y)
        x = torch.tensor(X[:20], dtype=torch.float64)
        if kind == "bernoulli":
            x = (x > 0).double()
        d = 37
        values = range(int(m.n_categories_[d])) if kind == "categorical" else (0, 1)
        joints = []
        for v in values:  # enumerate the states of one feature (a handful)
            xv = x.clone()
            xv[:, d] = v
            joints.append(m.predict_joint_log_proba(xv))
        brute = torch.logsumexp(torch.stack(joints), 0)  # (B, C)
        xm = x.clone()
        xm[:, d] = float("nan")
        torch.testing.assert_close(m.predict_joint_log_proba(xm), brute, rtol=1e-10, atol=1e-10)


def test_missing_gaussian_feature_is_integrated_out():
    X, y = datasets.load_iris(return_X_y=True)
    m = NaiveBayes().fit(X, y)
    x = X[3].copy()
    xm = torch.tensor(x)[None].clone()
    xm[0, 2] = float("nan")
    ours = m.predict_joint_log_proba(xm)[0].exp().numpy()

    def joint(v, c):
        xv = torch.tensor(x)[None].clone()
        xv[0, 2] = v
        return float(m.predict_joint_log_proba(xv)[0, c].exp())

    for c in range(3):
        mu, sd = float(m.theta_[c, 2]), float(m.var_[c, 2].sqrt())
        quad, _ = integrate.quad(
            joint,
            mu - 12 * sd,
            mu + 12 * sd,
            args=(c,),
            epsabs=0,
            epsrel=1e-11,
            points=[mu],
            limit=200,
        )
        assert ours[c] == pytest.approx(quad, rel=1e-8)
    # and the posterior ignores the missing feature entirely: same as a model without it
    keep = [0, 1, 3]
    sk = sknb.GaussianNB(var_smoothing=0).fit(X[:, keep], y)
    m0 = NaiveBayes(var_smoothing=0).fit(X, y)
    np.testing.assert_allclose(
        m0.predict_proba(xm).numpy(), sk.predict_proba(x[None, keep]), atol=1e-12
    )


def test_fit_with_missing_values_is_mle_of_observed_entries():
    X, y = datasets.load_iris(return_X_y=True)
    Xn = X.copy()
    rng = np.random.default_rng(3)
    Xn[rng.random(X.shape) < 0.2] = np.nan
    m = NaiveBayes(var_smoothing=0).fit(Xn, y)
    for c in range(3):
        col = Xn[y == c]
        np.testing.assert_allclose(m.theta_[c].numpy(), np.nanmean(col, 0), rtol=1e-12)
        np.testing.assert_allclose(m.var_[c].numpy(), np.nanvar(col, 0), rtol=1e-10)


def _mixed_digits_with_nan(digits):
    """Digits as four blocks of 16 columns (one per family), 15% NaN in the first three
    blocks and whole-row NaN in the multinomial block; integer weights 1..3."""
    X, y = digits
    rng = np.random.default_rng(7)
    Xn = X.astype(float)
    Xn[:, :48][rng.random((len(X), 48)) < 0.15] = np.nan
    Xn[rng.random(len(X)) < 0.05, 48:] = np.nan
    kinds = ["gaussian"] * 16 + ["bernoulli"] * 16 + ["categorical"] * 16 + ["multinomial"] * 16
    return Xn, y, kinds, rng.integers(1, 4, len(y))


def test_blocked_and_weighted_paths_are_the_one_shot_answer(digits):
    """Row blocks, weighted scatter-adds and NaN codes change nothing: tiny blocks give the
    default answer, integer weights equal repeated rows, categorical counts equal a direct
    count of the observed entries, epsilon is the unweighted variance of the batch."""
    Xn, y, kinds, r = _mixed_digits_with_nan(digits)
    kw = dict(binarize=4.0, var_smoothing=0.0)
    big = NaiveBayes(kinds, **kw).fit(Xn, y, sample_weight=r)
    tiny = NaiveBayes(kinds, chunk_bytes=4096, **kw).fit(Xn, y, sample_weight=r)
    rep = NaiveBayes(kinds, **kw).fit(np.repeat(Xn, r, 0), np.repeat(y, r))
    for name, b in big.state_dict().items():
        torch.testing.assert_close(tiny.state_dict()[name], b, rtol=1e-12, atol=1e-12)
        if not name.endswith("total_count_"):  # Σ n and rows seen are unweighted
            torch.testing.assert_close(rep.state_dict()[name], b, rtol=1e-12, atol=1e-9)
    m = NaiveBayes(kinds, binarize=4.0).fit(Xn, y, sample_weight=r)  # var > 0: finite jll
    jll = m.predict_joint_log_proba(Xn)
    m.chunk_bytes = 4096  # a few rows per block
    torch.testing.assert_close(m.predict_joint_log_proba(Xn), jll, rtol=1e-12, atol=1e-9)
    assert torch.isfinite(jll).all()
    # N_cdk = Σ_b w_b [y_b = c, x_bd = k] over the observed entries, counted directly
    Xc = Xn[:, 32:48]
    want = np.zeros(big.families_["categorical"].category_counts_.shape)
    b, d = np.nonzero(~np.isnan(Xc))
    np.add.at(want, (y[b], d, Xc[b, d].astype(int)), r[b])
    np.testing.assert_array_equal(big.families_["categorical"].category_counts_.numpy(), want)
    # epsilon: var_smoothing * max_d of the unweighted variance of the observed x_d
    Xg = Xn[:, :16]
    eps = 1e-3 * np.nanvar(Xg, 0).max()
    for w in (None, r):
        assert NaiveBayes(var_smoothing=1e-3).fit(Xg, y, sample_weight=w).epsilon_ == (
            pytest.approx(eps, rel=1e-12)
        )


def test_log_prob_joint_and_marginal():
    X, y = datasets.load_iris(return_X_y=True)
    m = NaiveBayes().fit(X, y)
    jll = m.predict_joint_log_proba(X)
    torch.testing.assert_close(m.log_prob(X, y), jll[torch.arange(len(y)), torch.tensor(y)])
    torch.testing.assert_close(m.log_prob(X), torch.logsumexp(jll, 1))
    torch.testing.assert_close(m.score_samples(X), m.log_prob(X))
    # eq. 10 literally, with torch's Normal: log p(y) + Σ_d log N(x_d; θ_yd, σ²_yd)
    lit = m.class_log_prior_[torch.tensor(y)] + Normal(
        m.theta_[torch.tensor(y)], m.var_[torch.tensor(y)].sqrt()
    ).log_prob(torch.tensor(X)).sum(1)
    torch.testing.assert_close(m.log_prob(X, y), lit, rtol=1e-12, atol=1e-12)
    assert m.score(X, y) == pytest.approx(sknb.GaussianNB().fit(X, y).score(X, y))


def test_string_labels_round_trip():
    X, y = datasets.load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    m = NaiveBayes().fit(X, names)
    assert list(m.classes_) == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(m.predict(X), sknb.GaussianNB().fit(X, names).predict(X))
    Xs, ys = m.sample_joint(4, y="virginica")
    assert list(ys) == ["virginica"] * 4 and Xs.shape == (4, 4)


def test_ancestral_sampling_statistics(digits):
    """y ~ p(y), x | y ~ Π_d p(x_d | y): frequencies and means within 5 standard errors."""
    torch.manual_seed(0)
    X, y = datasets.load_iris(return_X_y=True)
    m = NaiveBayes(class_prior=[0.2, 0.3, 0.5]).fit(X, y)
    n = 20000
    Xs, ys = m.sample_joint(n)
    freq = np.bincount(ys.numpy(), minlength=3) / n
    se = np.sqrt(np.array([0.2, 0.3, 0.5]) * np.array([0.8, 0.7, 0.5]) / n)
    assert np.all(np.abs(freq - [0.2, 0.3, 0.5]) < 5 * se)
    for c in range(3):
        xc = Xs[ys == c]
        se = (m.var_[c] / len(xc)).sqrt()
        assert torch.all((xc.mean(0) - m.theta_[c]).abs() < 5 * se)
        # variance: sd of s² is about σ² sqrt(2 / n)
        assert torch.all((xc.var(0) / m.var_[c] - 1).abs() < 5 * np.sqrt(2 / len(xc)))
    Xd, yd = digits
    b = NaiveBayes("bernoulli", binarize=7.0).fit(Xd, yd)
    Xb = b.sample(5000, y=3)
    p = b.feature_log_prob_[3].exp()
    assert torch.all((Xb.mean(0) - p).abs() < 5 * (p * (1 - p) / 5000).sqrt() + 1e-12)
    cat = NaiveBayes("categorical").fit(Xd, yd)
    Xc = cat.sample(5000, y=np.full(5000, 8))
    d = 20
    probs = cat.feature_log_prob_[d][8].exp()
    f = torch.bincount(Xc[:, d].long(), minlength=len(probs)).double() / 5000
    assert torch.all((f - probs).abs() < 5 * (probs * (1 - probs) / 5000).sqrt() + 1e-12)
    mn = NaiveBayes("multinomial").fit(Xd, yd)
    Xm = mn.sample(3000, y=1, total_count=50)
    assert torch.all(Xm.sum(1) == 50)
    theta = mn.feature_log_prob_[1].exp()
    se = (50 * theta * (1 - theta) / 3000).sqrt()
    assert torch.all((Xm.mean(0) - 50 * theta).abs() < 5 * se + 1e-12)


def test_families_are_torch_conditionals():
    X, y = datasets.load_digits(return_X_y=True)
    m = NaiveBayes(["gaussian"] * 20 + ["bernoulli"] * 20 + ["categorical"] * 24, binarize=5.0).fit(
        X, y
    )
    yi = torch.tensor([0, 3, 9])
    assert isinstance(m.families_["gaussian"](yi), Normal)
    assert isinstance(m.families_["bernoulli"](yi), Bernoulli)
    assert isinstance(m.families_["categorical"](yi), Categorical)
    assert m.families_["categorical"](yi).batch_shape == (3, 24)
    # each family's all-class log-likelihood (matmuls / a gather) is its torch distribution's
    # log_prob summed over the observed features
    x = torch.tensor(X[:50], dtype=torch.float64)
    x[3, 5] = x[7, 30] = x[9, 50] = float("nan")
    for kind, fam in m.families_.items():
        xb = fam.check(fam.block(x), torch.isnan(fam.block(x)), "predict")
        miss = torch.isnan(xb)
        lp = fam.distribution().log_prob(
            xb.nan_to_num(0.0)[:, None, :].to(torch.long if kind == "categorical" else xb.dtype)
        )  # (50, C, D)
        ref = lp.masked_fill(miss[:, None, :], 0.0).sum(-1)
        torch.testing.assert_close(fam.log_likelihood(xb, miss), ref, rtol=1e-12, atol=1e-10)
    mn = NaiveBayes("multinomial").fit(X, y).families_["multinomial"]
    xm = torch.tensor(X[:20], dtype=torch.float64)
    ref = torch.stack(
        [
            Multinomial(int(r.sum()), logits=mn.feature_log_prob_, validate_args=False).log_prob(r)
            for r in xm
        ]
    )  # (20, C)
    torch.testing.assert_close(mn.log_likelihood(xm, None), ref, rtol=1e-12, atol=1e-10)


def test_network_is_figure_3():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    g = NaiveBayes().fit(X, y).network.dag
    assert g.nodes == ("y", "x1", "x2", "x3")
    assert g.edges == (("y", "x1"), ("y", "x2"), ("y", "x3"))
    assert g.d_separated("x1", "x2", given="y") and not g.d_separated("x1", "x2")


def test_dtype_and_device_moves():
    X, y = datasets.load_iris(return_X_y=True)
    m32 = NaiveBayes(dtype=torch.float32, device="cpu").fit(X, y)
    assert m32.theta_.dtype == torch.float32
    np.testing.assert_allclose(
        m32.predict_proba(X).numpy(), sknb.GaussianNB().fit(X, y).predict_proba(X), atol=1e-4
    )
    m = NaiveBayes("categorical").fit(X.astype(int), y).to("cpu")
    buffers = dict(m.named_buffers())  # .to(device) moves exactly these
    for name in (
        "class_log_prior_",
        "families_.categorical.log_probs_",
        "families_.categorical.category_counts_",
        "families_.categorical.n_categories_",
    ):
        assert buffers[name].device.type == "cpu"


def test_bad_input_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"features must be one of .*'poisson'"):
        NaiveBayes("poisson")
    with pytest.raises(ValueError, match=r"alpha must be a finite float >= 0; got -1"):
        NaiveBayes(alpha=-1)
    with pytest.raises(ValueError, match=r"var_smoothing must be .* >= 0; got -0.1"):
        NaiveBayes(var_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"X must be 2-D .* got shape \(1797,\)"):
        NaiveBayes().fit(X[:, 0], y)
    with pytest.raises(ValueError, match=r"y must have shape \(1797,\)"):
        NaiveBayes().fit(X, y[:-1])
    with pytest.raises(ValueError, match="y in fit contains NaN"):
        NaiveBayes().fit(X[:3], np.array([0.0, np.nan, 1.0]))
    m = NaiveBayes("multinomial").fit(X, y)
    with pytest.raises(ValueError, match=r"X has 10 features .* n_features_in_=64"):
        m.predict(X[:, :10])
    with pytest.raises(ValueError, match=r"unknown class label\(s\) \[11\].*classes_ are"):
        m.log_prob(X[:2], [0, 11])
    with pytest.raises(ValueError, match=r"unknown class label\(s\) \[42\]"):
        m.partial_fit(X[:2], [1, 42])
    with pytest.raises(ValueError, match=r"multinomial features .* counts >= 0; got min -3"):
        NaiveBayes("multinomial").fit(np.where(X == 0, -3.0, X), y)
    Xp = X[:3].astype(float)
    Xp[0, 5] = np.nan
    with pytest.raises(ValueError, match="may be missing .* as a whole but not in part; row 0"):
        m.predict(Xp)
    with pytest.raises(ValueError, match=r"must be 0 or 1 when binarize=None; got values \["):
        NaiveBayes("bernoulli", binarize=None).fit(X, y)
    with pytest.raises(ValueError, match=r"integer codes >= 0; got \[0.5\]"):
        NaiveBayes("categorical").fit(np.full((4, 2), 0.5), [0, 1, 0, 1])
    c = NaiveBayes("categorical").fit(X, y)
    Xbig = X[:2].copy()
    Xbig[1, 3] = 40
    with pytest.raises(ValueError, match=r"categorical feature 3 of X has value 40 .* states"):
        c.predict(Xbig)
    with pytest.raises(ValueError, match=r"features lists 2 families but X has 64 columns"):
        NaiveBayes(["gaussian", "bernoulli"]).fit(X, y)
    with pytest.raises(ValueError, match=r"class_prior must have one probability per class"):
        NaiveBayes(class_prior=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        NaiveBayes().partial_fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        NaiveBayes().predict(X)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(1797,\)"):
        NaiveBayes().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"total_count must be an int >= 0, got -2"):
        m.sample(3, total_count=-2)


def test_posterior_is_bayes_rule_chi2_calibration():
    """Calibration on the generative model itself: sample (x, y), bin by predicted p(y=1|x),
    observed frequencies match the mean predicted probability (chi-square, fixed seed)."""
    torch.manual_seed(1)
    X, y = datasets.load_breast_cancer(return_X_y=True)
    m = NaiveBayes().fit(X[:, :4], y)
    Xs, ys = m.sample_joint(20000)
    p = m.predict_proba(Xs)[:, 1].numpy()
    bins = np.quantile(p, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 9)
    obs = np.bincount(idx, weights=ys.numpy(), minlength=10)
    exp = np.bincount(idx, weights=p, minlength=10)
    var = np.bincount(idx, weights=p * (1 - p), minlength=10)
    chi2 = float(((obs - exp) ** 2 / np.maximum(var, 1e-12)).sum())
    assert stats.chi2.sf(chi2, 10) > 1e-3


# --------------------------------------------------------------------------- per-feature smoothing
def test_per_feature_alpha_equals_sklearn_multinomial():
    import sklearn.naive_bayes as sknb

    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(300, 5)).astype(float)
    y = rng.integers(0, 3, size=300)
    alpha = np.array([0.0, 0.5, 1.0, 2.0, 10.0])
    sk = sknb.MultinomialNB(alpha=alpha, force_alpha=True).fit(X, y)
    for spec in (list(alpha), dict(enumerate(alpha)), alpha):
        ours = NaiveBayes("multinomial", alpha=spec).fit(X, y)
        np.testing.assert_allclose(
            ours.predict_log_proba(X).numpy(), sk.predict_log_proba(X), rtol=1e-10, atol=1e-10
        )


@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
def test_per_feature_alpha_equals_one_model_per_column(family):
    """Naive Bayes factorizes over features, so the tables of feature d smoothed by alpha_d are
    those of a model of column d alone with the scalar alpha_d (itself checked against
    scikit-learn above; sklearn's BernoulliNB and CategoricalNB take no per-feature alpha)."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2 if family == "bernoulli" else 4, size=(300, 4)).astype(float)
    y = rng.integers(0, 3, size=300)
    alpha = [0.0, 0.5, 2.0, 10.0]
    kw = {"binarize": None} if family == "bernoulli" else {}
    name = "feature_log_prob_" if family == "bernoulli" else "log_probs_"
    both = NaiveBayes(family, alpha=alpha, **kw).fit(X, y)
    for d, a in enumerate(alpha):
        one = NaiveBayes(family, alpha=a, **kw).fit(X[:, d : d + 1], y)
        got = getattr(both.families_[family], name)[:, d]
        torch.testing.assert_close(got, getattr(one.families_[family], name)[:, 0])


def test_per_feature_alpha_in_mixed_families_and_bad_values():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 2, 200), rng.integers(0, 4, 200), rng.normal(size=200)])
    y = rng.integers(0, 2, 200)
    features = ["bernoulli", "categorical", "gaussian"]
    nb = NaiveBayes(features, alpha=[0.5, 3.0, 1.0], binarize=None).fit(X, y)
    single = NaiveBayes(["categorical"], alpha=3.0).fit(X[:, 1:2], y)
    torch.testing.assert_close(
        nb.families_["categorical"].log_probs_, single.families_["categorical"].log_probs_
    )
    with pytest.raises(ValueError, match="alpha lists 2 values but X has 3 columns"):
        NaiveBayes(features, alpha=[1.0, 1.0], binarize=None).fit(X, y)
    with pytest.raises(ValueError, match=r"alpha\[1\] must be a finite float >= 0; got -1"):
        NaiveBayes(features, alpha=[1.0, -1, 1.0], binarize=None).fit(X, y)
    with pytest.raises(
        ValueError, match=r"alpha must give a value for every column; columns \[2\]"
    ):
        NaiveBayes(features, alpha={0: 1.0, 1: 2.0}, binarize=None).fit(X, y)
