"""Closed-form MLE and MAP per node (§2.4.1, §2.3.1): tables against pgmpy, Gaussians against
numpy, ridge against scikit-learn, conjugate posteriors, weights, chunks and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as st
from torch import nn

from bayesgen import BayesNet, Continuous, Discrete, Gaussian, LinearGaussian, Table
from bayesgen.examples import student
from bayesgen.factors import NeuralCategorical
from bayesgen.io import bnlearn, to_pgmpy
from bayesgen.learning.encoding import encode_data
from bayesgen.learning.fit import fit_network
from bayesgen.learning.posteriors import BetaPosterior, DirichletPosterior, NormalPosterior
from bayesgen.learning.priors import K2, BDeu, Beta, Dirichlet, Laplace, Normal
from bayesgen.learning.priors import Gaussian as GaussianPrior
from bayesgen.learning.statistics import summarize, table_counts


def pgmpy_table(cpd, net, name) -> np.ndarray:
    """A pgmpy CPD (child first, its own state order) as our table (*parents, child)."""
    variables = cpd.variables
    values = cpd.values
    for axis, v in enumerate(variables):
        names = [str(s) for s in cpd.state_names[v]]
        values = np.take(values, [names.index(s) for s in net.variables[v].states], axis=axis)
    perm = [variables.index(p) for p in net[name].parent_names] + [0]
    return values.transpose(perm)


@pytest.fixture(scope="module")
def alarm_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = bnlearn.load("alarm")
    return net, net.sample(2000, seed=0, as_frame=True)


def _max_diff(cpds, net) -> float:
    return max(
        float(np.abs(pgmpy_table(c, net, c.variable) - net[c.variable].probs.numpy()).max())
        for c in cpds
    )


def _states(net) -> dict[str, list[str]]:
    return {n: list(v.states) for n, v in net.variables.items()}


def test_table_mle_equals_pgmpy(alarm_data):
    from pgmpy.parameter_estimator import DiscreteMLE

    net, frame = alarm_data
    cpds = DiscreteMLE(state_names=_states(net)).fit(to_pgmpy(net), frame).parameters_
    fitted = fit_network(net, frame)
    assert fitted is net and net.fit_report_.method == "closed_form"
    assert len(cpds) == len(net)
    assert _max_diff(cpds, net) < 1e-9


def test_table_bdeu_equals_pgmpy_bayesian_estimator(alarm_data):
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator

    net, frame = alarm_data
    est = DiscreteBayesianEstimator(_states(net), prior_type="BDeu", equivalent_sample_size=10)
    cpds = est.fit(to_pgmpy(net), frame).parameters_
    net.fit(frame, prior=BDeu(10))
    assert _max_diff(cpds, net) < 1e-9


def test_dirichlet_with_zero_pseudo_counts_equals_pgmpy():
    """Zero pseudo-counts where the data give counts are allowed, as in pgmpy's "dirichlet"."""
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator

    net = student()
    frame = net.sample(300, seed=3, as_frame=True)
    g = torch.Generator().manual_seed(0)
    alphas = {n: torch.randint(0, 3, net[n].shape, generator=g).double() for n in net}
    alphas["x1"] = torch.tensor([0.0, 0.0])  # MLE for the root
    pseudo = {n: a.reshape(-1, a.shape[-1]).T.numpy() for n, a in alphas.items()}
    est = DiscreteBayesianEstimator(_states(net), prior_type="dirichlet", pseudo_counts=pseudo)
    cpds = est.fit(to_pgmpy(net), frame).parameters_
    net.fit(frame, prior={n: Dirichlet(a) for n, a in alphas.items()})
    assert _max_diff(cpds, net) < 1e-12
    with pytest.raises(ValueError, match="zero pseudo-counts: an improper prior"):
        Dirichlet(alphas["x1"]).log_prob(torch.tensor([0.5, 0.5]))


def test_a_parent_configuration_never_seen_is_named_not_silently_uniform():
    from bayesgen.factors.table import UnseenParentsWarning

    net = student()
    frame = net.sample(400, seed=0, as_frame=True)
    frame = frame[~((frame.x2 == "0") & (frame.x3 == "1"))]  # (x2=0, x3=1) never seen
    with pytest.warns(UnseenParentsWarning, match=r"p\(x4 \| x2, x3\): 1 parent configuration"):
        net.fit(frame)
    with pytest.warns(UnseenParentsWarning, match=r"\(x2=0, x3=1\)"):
        net.fit(frame)
    torch.testing.assert_close(net["x4"].probs[0, 1], torch.tensor([0.5, 0.5]).double())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.fit(frame, prior=BDeu(1.0))  # a prior estimates every row


def test_table_k2_equals_pgmpy_and_dirichlet_formula():
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator

    net = bnlearn.load("asia")
    frame = net.sample(500, seed=1, as_frame=True)
    est = DiscreteBayesianEstimator(_states(net), prior_type="K2")
    cpds = est.fit(to_pgmpy(net), frame).parameters_
    fit_network(net, frame, prior=K2())
    assert _max_diff(cpds, net) < 1e-9
    # Dirichlet(α): (N + α) / (N_pa + K α), counted here with pandas
    fit_network(net, frame, prior=Dirichlet(2.5))
    for name in net.order:
        pa = list(net[name].parent_names)
        counts = (
            frame.groupby(pa + [name], observed=False).size() if pa else frame[name].value_counts()
        )
        var = net.variables[name]
        got = net[name].probs.numpy()
        for key, n in counts.items():
            key = key if isinstance(key, tuple) else (key,)
            idx = tuple(
                net.variables[v].states.index(str(k)) for v, k in zip(pa + [name], key, strict=True)
            )
            row = counts.loc[key[:-1]].sum() if pa else counts.sum()
            assert got[idx] == pytest.approx((n + 2.5) / (row + var.card * 2.5), abs=1e-12)


def test_weighted_counts_equal_replicated_rows():
    net = student()
    data = net.sample(400, seed=3)
    reps = torch.randint(0, 4, (400,), generator=torch.Generator().manual_seed(0))
    replicated = {k: v.repeat_interleave(reps) for k, v in data.items()}
    a, b = student(), student()
    fit_network(a, data, weights=reps.double())
    fit_network(b, replicated)
    for n in a.order:
        torch.testing.assert_close(a[n].probs, b[n].probs, rtol=0, atol=1e-12)
    # fractional weights: the counts are the weighted sums
    w = torch.rand(400, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    counts = summarize(a, data, w)["x1"]
    torch.testing.assert_close(counts[1], w[data["x1"] == 1].sum())


def test_fast_counts_equal_table_summarize_and_chunks_add_up():
    net = student()
    data = net.sample(1000, seed=4)
    w = torch.rand(1000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    fast = table_counts(net, data, list(net.order), w)
    for n in net.order:
        torch.testing.assert_close(fast[n], net[n].summarize(data[n], data, w))
    chunked = summarize(net, data, w, chunk_size=77)
    for n in net.order:
        torch.testing.assert_close(chunked[n], fast[n])
    a, b = student(), student()
    fit_network(a, data, chunk_size=128, n_jobs=2)
    fit_network(b, data)
    for n in a.order:
        torch.testing.assert_close(a[n].probs, b[n].probs)


def test_dataframe_labels_categorical_and_codes_encode_alike():
    net = student()
    frame = net.sample(300, seed=5, as_frame=True)
    as_text = frame.astype(str)
    codes = {c: torch.tensor(frame[c].cat.codes.to_numpy(), dtype=torch.long) for c in frame}
    e1, e2, e3 = encode_data(net, frame), encode_data(net, as_text), net.encode(codes)
    for n in net.order:
        assert torch.equal(e1[n], e2[n]) and torch.equal(e1[n], e3[n])
    with pytest.raises(ValueError, match="unknown state 'maybe' of 'x1'"):
        encode_data(net, as_text.assign(x1=["maybe"] + list(as_text.x1[1:])))


def test_bernoulli_table_is_the_fraction_of_ones_and_beta_posterior():
    x = Discrete("x", 2)
    net = BayesNet([Table(x)])
    data = {"x": torch.tensor([1, 1, 0, 1, 1, 1, 0, 1, 1, 1])}
    fit_network(net, data)
    assert float(net["x"].probs[1]) == pytest.approx(0.8)
    _, post = fit_network(net, data, prior=Beta(2, 3), return_posteriors=True)
    p = post["x"]
    assert isinstance(p, BetaPosterior)
    # Beta(a + n1, b + n0) = Beta(10, 5): mean and mode, the fitted mean, credible interval
    assert float(p.mean) == pytest.approx(10 / 15)
    assert float(net["x"].probs[1]) == pytest.approx(10 / 15)
    assert float(p.mode) == pytest.approx(9 / 13)
    lo, hi = p.credible_interval(0.9)
    assert float(lo) == pytest.approx(st.beta.ppf(0.05, 10, 5), abs=1e-8)
    assert float(hi) == pytest.approx(st.beta.ppf(0.95, 10, 5), abs=1e-8)
    fit_network(net, data, prior=Beta(2, 3), estimate="mode")
    assert float(net["x"].probs[1]) == pytest.approx(9 / 13)
    assert p.sample(5).shape == (5,)


def test_dirichlet_posteriors_of_a_network_match_the_fitted_tables():
    net = student()
    data = net.sample(500, seed=6)
    fit_network(net, data, prior=BDeu(4), return_posteriors=False)
    _, post = fit_network(student(), data, prior=BDeu(4), return_posteriors=True)
    for n in net.order:
        assert isinstance(post[n], (BetaPosterior, DirichletPosterior))
    d = DirichletPosterior(BDeu(4), net["x4"].summarize(data["x4"], data))
    torch.testing.assert_close(d.mean, net["x4"].probs)
    fit_network(net, data, prior=BDeu(4), estimate="mode")
    torch.testing.assert_close(d.mode, net["x4"].probs)


def test_gaussian_mle_is_empirical_mean_and_biased_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, 500)
    v = Continuous("v")
    net = BayesNet([Gaussian(v)])
    fit_network(net, {"v": torch.as_tensor(x)})
    assert float(net["v"].mean) == pytest.approx(x.mean(), abs=1e-12)
    assert float(net["v"].scale) ** 2 == pytest.approx(x.var(ddof=0), rel=1e-10)


def test_multivariate_and_conditional_gaussian_mle_equal_numpy():
    rng = np.random.default_rng(1)
    cov = np.array([[2.0, 0.6, 0.1], [0.6, 1.0, -0.3], [0.1, -0.3, 0.5]])
    z = rng.integers(0, 2, 800)
    x = rng.multivariate_normal([0, 0, 0], cov, 800) + 3.0 * z[:, None]
    zv, xv = Discrete("z", 2), Continuous("x", 3)
    net = BayesNet([Table(zv), Gaussian(xv, [zv], covariance="full")])
    fit_network(net, {"z": torch.as_tensor(z), "x": torch.as_tensor(x)})
    f = net["x"]
    for k in (0, 1):
        xs = x[z == k]
        np.testing.assert_allclose(f.mean[k].numpy(), xs.mean(0), atol=1e-12)
        fitted = (f.scale_tril[k] @ f.scale_tril[k].T).numpy()
        np.testing.assert_allclose(fitted, np.cov(xs.T, bias=True), atol=1e-9)
    assert float(net["z"].probs[1]) == pytest.approx(z.mean())


def test_linear_gaussian_mle_is_least_squares_through_the_pseudo_inverse():
    rng = np.random.default_rng(2)
    u = rng.normal(size=(600, 3))
    y = u @ np.array([1.5, -2.0, 0.5]) + 0.7 + rng.normal(0, 0.4, 600)
    uv, yv = Continuous("u", 3), Continuous("y")
    net = BayesNet([Gaussian(uv, covariance="full"), LinearGaussian(yv, [uv])])
    fit_network(net, {"u": torch.as_tensor(u), "y": torch.as_tensor(y)})
    design = np.hstack([u, np.ones((600, 1))])
    theta = np.linalg.pinv(design) @ y  # X⁺Y
    np.testing.assert_allclose(net["y"].weight[0].numpy(), theta[:3], atol=1e-10)
    assert float(net["y"].bias[0]) == pytest.approx(theta[3], abs=1e-10)
    resid = y - design @ theta
    assert float(net["y"].scale[0]) ** 2 == pytest.approx(np.mean(resid**2), rel=1e-9)


def test_ridge_is_map_under_a_gaussian_prior_and_equals_sklearn():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    u = rng.normal(size=(80, 5))
    y = u @ rng.normal(size=5) - 1.0 + rng.normal(0, 1.0, 80)
    uv, yv = Continuous("u", 5), Continuous("y")
    net = BayesNet([Gaussian(uv, covariance="full"), LinearGaussian(yv, [uv])])
    data = {"u": torch.as_tensor(u), "y": torch.as_tensor(y)}
    lam = 7.0
    fit_network(net, data, prior={"y": GaussianPrior(lam)})
    ref = Ridge(alpha=lam, fit_intercept=True).fit(u, y)  # the intercept is not penalized
    np.testing.assert_allclose(net["y"].weight[0].numpy(), ref.coef_, atol=1e-10)
    assert float(net["y"].bias[0]) == pytest.approx(ref.intercept_, abs=1e-10)
    # the MAP: the gradient of the log posterior (unit noise, prior N(0, I/λ)) vanishes there
    w = net["y"].weight[0].clone().requires_grad_(True)
    b = net["y"].bias[0].clone().requires_grad_(True)
    resid = torch.as_tensor(y) - torch.as_tensor(u) @ w - b
    log_post = -0.5 * (resid**2).sum() - lam / 2 * (w**2).sum()
    gw, gb = torch.autograd.grad(log_post, (w, b))
    assert float(gw.abs().max()) < 1e-9 and abs(float(gb)) < 1e-9
    # and it shrinks the weights compared to the MLE
    mle = BayesNet([Gaussian(uv, covariance="full"), LinearGaussian(yv, [uv])])
    fit_network(mle, data)
    assert net["y"].weight.norm() < mle["y"].weight.norm()


def test_normal_prior_on_a_gaussian_mean_is_the_conjugate_posterior():
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 2.0, 30)
    v = Continuous("v")
    net = BayesNet([Gaussian(v, mean=0.0, std=2.0)])
    _, post = fit_network(
        net, {"v": torch.as_tensor(x)}, prior=Normal(-1.0, 0.5), return_posteriors=True
    )
    prec = 1 / 0.5**2 + 30 / 2.0**2
    expected = (-1.0 / 0.5**2 + x.sum() / 2.0**2) / prec
    assert float(net["v"].mean) == pytest.approx(expected, abs=1e-12)
    assert float(net["v"].scale) == 2.0  # the known σ is kept
    assert isinstance(post["v"], NormalPosterior)
    assert float(post["v"].mode) == pytest.approx(expected, abs=1e-12)
    assert float(post["v"].scale) == pytest.approx(prec**-0.5)


def test_hybrid_network_mixes_closed_form_and_gradient_factors():
    a, b = Discrete("a", 3), Discrete("b", 2)
    truth = BayesNet(
        [
            Table(a, probs=[0.2, 0.5, 0.3]),
            Table(b, [a], probs=[[0.9, 0.1], [0.4, 0.6], [0.25, 0.75]]),
        ]
    )
    data = truth.sample(3000, seed=7)
    torch.manual_seed(0)
    model = BayesNet([Table(a), NeuralCategorical(b, [a], net=nn.Linear(3, 2))])
    fit_network(model, data, optimizer="adam", lr=0.1, epochs=300, seed=0)
    report = model.fit_report_
    assert report.method == "per_node" and set(report.histories) == {"b"}
    loss = report.histories["b"]["loss"]
    assert loss[-1] < loss[0]
    # softmax of a linear map of one-hot parents is a free table: its optimum is the table MLE
    mle = BayesNet([Table(a), Table(b, [a])])
    fit_network(mle, data)
    with torch.no_grad():
        probs = model["b"]({"a": torch.arange(3)}).probs
    torch.testing.assert_close(probs.double(), mle["b"].probs, atol=2e-3, rtol=0)
    torch.testing.assert_close(model["a"].probs, mle["a"].probs)


def test_priors_on_neural_factors_penalize_and_wrong_priors_fail():
    a, b = Discrete("a", 3), Discrete("b", 2)
    data = {"a": torch.tensor([0, 1, 2, 1]), "b": torch.tensor([0, 1, 1, 0])}
    model = BayesNet([Table(a), NeuralCategorical(b, [a], net=nn.Linear(3, 2))])
    fit_network(model, data, prior={"b": Laplace(0.5), "a": K2()}, epochs=5, seed=0)
    assert "penalty" in model.fit_report_.histories["b"]
    with pytest.raises(TypeError, match="does not apply to the Table factor of 'a'"):
        fit_network(model, data, prior={"a": Normal(0.0, 1.0)})
    with pytest.raises(TypeError, match="applies to none of the factors"):
        fit_network(BayesNet([Table(a)]), {"a": data["a"]}, prior=Laplace(1.0))
    with pytest.raises(ValueError, match="unknown variable"):
        fit_network(model, data, prior={"zz": K2()})


def test_bad_arguments_fail_with_clear_messages():
    net = student()
    data = net.sample(50, seed=8)
    with pytest.raises(ValueError, match="method must be one of"):
        fit_network(net, data, method="magic")
    with pytest.raises(ValueError, match="estimate must be one of"):
        fit_network(net, data, estimate="median")
    with pytest.raises(ValueError, match="weights has 3 entries, data has 50 rows"):
        fit_network(net, data, weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        fit_network(net, data, weights=-torch.ones(50))
    with pytest.raises(KeyError, match="unknown variable 'x9'"):
        fit_network(net, data, nodes=["x9"])
    with pytest.raises(ValueError, match="unknown column"):
        fit_network(net, pd.DataFrame({"x1": ["0", "1"], "bogus": ["a", "b"]}))
    holes = {k: v.clone() for k, v in data.items()}
    holes["x2"][0] = -1
    with pytest.raises(
        ValueError, match=r"method='closed_form' needs fully observed data; \['x2'\]"
    ):
        fit_network(net, holes, method="closed_form")


def test_conditional_neural_factor_learns_from_a_context():
    """p(x | y) with y the context (eq. 19): x = 2y + 1 + noise, a linear Normal head."""
    from bayesgen.factors import NeuralNormal

    g = torch.Generator().manual_seed(0)
    y = torch.randn(500, 1, generator=g, dtype=torch.float64)
    x = 2 * y[:, 0] + 1 + 0.1 * torch.randn(500, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    xv = Continuous("x")
    net = BayesNet([NeuralNormal(xv, net=nn.Linear(1, 2).double(), context_size=1)])
    fit_network(net, {"x": x}, context=y, optimizer="adam", lr=0.1, epochs=800, seed=0)
    with torch.no_grad():
        dist = net["x"]({}, torch.tensor([[0.0], [1.0]], dtype=torch.float64))
    torch.testing.assert_close(
        dist.mean, torch.tensor([1.0, 3.0], dtype=torch.float64), atol=0.05, rtol=0
    )
    assert float(dist.stddev.mean()) == pytest.approx(0.1, abs=0.03)
