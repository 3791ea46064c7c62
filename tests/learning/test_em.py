"""EM with missing entries and latent variables (§2.4.2): monotone log-likelihood, brute-force
agreement, the two E-steps, a Gaussian mixture against scikit-learn, gradient ascent."""

from __future__ import annotations

import inspect
import itertools
from itertools import pairwise

import numpy as np
import pytest
import torch

from bayesgen import BayesNet, Continuous, Discrete, Gaussian, Table
from bayesgen.examples import student
from bayesgen.factors import NeuralBernoulli
from bayesgen.learning.em import (
    EM,
    enumerate_completions,
    exact_expected_counts,
    marginal_log_likelihood,
)
from bayesgen.learning.fit import fit_network
from bayesgen.learning.priors import BDeu


def _hide(data: dict, frac: float, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in data.items():
        v = v.clone()
        v[torch.rand(v.shape[0], generator=g) < frac] = -1
        out[k] = v
    return out


def _flat(net) -> BayesNet:
    """The same structure with every table uniform."""
    for n in net.order:
        net[n].from_summaries(torch.ones(net[n].shape))
    return net


def brute_force_loglik(net, data: dict) -> float:
    """Σ_b log Σ_{completions of row b} p(x): enumerate the full joint, row by row."""
    joint = net.full_joint().numpy()  # axes in net.order
    order = list(net.order)
    rows = torch.stack([data[n] for n in order], 1).numpy()
    total = 0.0
    for row in rows:  # the reference may loop: it is the slow, obvious computation
        index = tuple(slice(None) if c < 0 else int(c) for c in row)
        total += np.log(joint[index].sum())
    return float(total)


def test_em_log_likelihood_never_decreases_and_matches_brute_force():
    truth = student()
    data = _hide(truth.sample(600, seed=0), 0.3, seed=1)
    net = _flat(student())
    fit_network(net, data, max_iter=60, tol=1e-12)
    report = net.fit_report_
    ll = report.log_likelihood
    assert report.method == "em" and len(ll) >= 10
    assert all(b >= a - 1e-9 for a, b in pairwise(ll)), "EM decreased the log-likelihood"
    assert ll[-1] > ll[0] + 100
    # the tracked value is the marginal log-likelihood of the final parameters
    assert ll[-1] == pytest.approx(brute_force_loglik(net, data), rel=1e-10)
    assert float(marginal_log_likelihood(net, data).sum()) == pytest.approx(ll[-1], rel=1e-10)
    # at a maximum, one more EM step changes nothing
    before = {n: net[n].probs.clone() for n in net.order}
    EM(max_iter=1).fit(net, data)
    for n in net.order:
        torch.testing.assert_close(net[n].probs, before[n], atol=1e-6, rtol=0)


def test_exact_and_enumerated_e_steps_agree():
    truth = student()
    data = _hide(truth.sample(300, seed=2), 0.25, seed=3)
    net = student()
    counts, ll = exact_expected_counts(net, data, None, list(net.order))
    comp = enumerate_completions(net, data)
    assert ll == pytest.approx(float(comp.log_evidence.sum()), rel=1e-12)
    assert ll == pytest.approx(brute_force_loglik(net, data), rel=1e-12)
    for n in net.order:
        expected = net[n].summarize(comp.values[n], comp.values, comp.weight)
        torch.testing.assert_close(counts[n], expected, rtol=1e-10, atol=1e-10)
        assert float(counts[n].sum()) == pytest.approx(300.0)  # one expected family per row
    a, b = _flat(student()), _flat(student())
    fit_network(a, data, e_step="exact", max_iter=30, tol=0)
    fit_network(b, data, e_step="enumerate", max_iter=30, tol=0)
    for n in a.order:
        torch.testing.assert_close(a[n].probs, b[n].probs, rtol=1e-9, atol=1e-12)


def test_map_em_objective_never_decreases():
    data = _hide(student().sample(200, seed=4), 0.4, seed=5)
    for estimate in ("mean", "mode"):
        net = _flat(student())
        net["x4"].from_summaries(
            torch.rand(net["x4"].shape, generator=torch.Generator().manual_seed(0))
        )
        fit_network(net, data, prior=BDeu(8), estimate=estimate, max_iter=40, tol=0)
        obj = net.fit_report_.objective
        assert all(b >= a - 1e-9 for a, b in pairwise(obj))


def test_latent_variable_with_no_data():
    """A latent class model: z has no column; three observed children."""
    z = Discrete("z", 2)
    xs = [Discrete(f"x{i}", 3) for i in range(1, 4)]
    truth = BayesNet(
        [Table(z, probs=[0.35, 0.65])]
        + [Table(x, [z], probs=[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]) for x in xs]
    )
    sample = truth.sample(1500, seed=6)
    data = {k: v for k, v in sample.items() if k != "z"}
    net = BayesNet([Table(z)] + [Table(x, [z]) for x in xs])
    fit_network(net, data, init="random", seed=0, max_iter=500, tol=1e-12)
    ll = net.fit_report_.log_likelihood
    assert all(b >= a - 1e-9 for a, b in pairwise(ll))
    # the fit is at least as likely as the truth, and recovers it up to relabelling z
    true_ll = float(marginal_log_likelihood(truth, data).sum())
    assert ll[-1] >= true_ll - 1e-6
    flip = float(net["z"].probs[0]) > 0.5
    pz = net["z"].probs.flip(0) if flip else net["z"].probs
    assert float(pz[0]) == pytest.approx(0.35, abs=0.05)
    for x in xs:
        table = net[x.name].probs.flip(0) if flip else net[x.name].probs
        torch.testing.assert_close(table, truth[x.name].probs, atol=0.07, rtol=0)
    # the uniform start is a fixed point that EM cannot leave: why init="random" exists
    stuck = BayesNet([Table(z)] + [Table(x, [z]) for x in xs])
    fit_network(stuck, data, max_iter=5, tol=0)
    torch.testing.assert_close(stuck["z"].probs, torch.full((2,), 0.5, dtype=torch.float64))


def test_gaussian_mixture_em_equals_sklearn():
    """A hybrid network (latent z, Gaussian x | z) by the enumerating E-step, against
    scikit-learn's GaussianMixture started from the same parameters."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(-1, 1, 300), rng.normal(3, 2, 700)])
    z, xv = Discrete("z", 2), Continuous("x")
    net = BayesNet(
        [Table(z, probs=[0.5, 0.5]), Gaussian(xv, [z], mean=[-2.0, 1.0], std=[1.5, 1.5])]
    )
    fit_network(net, {"x": torch.as_tensor(x)}, max_iter=300, tol=1e-14)
    assert net.fit_report_.method == "em"
    ll = net.fit_report_.log_likelihood
    assert all(b >= a - 1e-9 for a, b in pairwise(ll))
    gm = GaussianMixture(
        2,
        covariance_type="diag",
        weights_init=[0.5, 0.5],
        means_init=[[-2.0], [1.0]],
        precisions_init=[[1 / 1.5**2], [1 / 1.5**2]],
        reg_covar=0.0,
        tol=1e-14,
        max_iter=2000,
    ).fit(x[:, None])
    np.testing.assert_allclose(net["z"].probs.numpy(), gm.weights_, atol=1e-6)
    np.testing.assert_allclose(net["x"].mean[:, 0].numpy(), gm.means_[:, 0], atol=1e-5)
    np.testing.assert_allclose(net["x"].scale[:, 0].numpy() ** 2, gm.covariances_[:, 0], atol=1e-5)
    assert ll[-1] / len(x) == pytest.approx(gm.score(x[:, None]), abs=1e-8)


def test_gradient_ascent_on_the_marginal_likelihood_reaches_the_em_optimum():
    data = _hide(student().sample(400, seed=8), 0.3, seed=9)
    em_net = _flat(student())
    fit_network(em_net, data, max_iter=300, tol=1e-13)
    gd_net = _flat(student())
    fit_network(gd_net, data, method="gradient", optimizer="adam", lr=0.2, epochs=300, seed=0)
    report = gd_net.fit_report_
    assert report.method == "gradient"
    loss = report.histories["network"]["loss"]
    assert loss[-1] < loss[0]
    em_ll = em_net.fit_report_.log_likelihood[-1]
    gd_ll = float(marginal_log_likelihood(gd_net, data).sum())
    assert gd_ll <= em_ll + 1e-6  # EM is at a maximum
    assert gd_ll == pytest.approx(em_ll, abs=0.1)  # a flat optimum: within 2e-4 relative
    for n in em_net.order:  # the tables went back into the buffers, still normalized
        torch.testing.assert_close(
            gd_net[n].probs.sum(-1), torch.ones(gd_net[n].shape[:-1], dtype=torch.float64)
        )


def test_missing_values_by_label_none_and_nan_in_a_frame():
    truth = student()
    frame = truth.sample(200, seed=10, as_frame=True).astype(object)
    frame.iloc[0, 1] = None
    frame.iloc[1, 2] = np.nan
    frame.iloc[2, 3] = None
    net = _flat(student())
    fit_network(net, frame, max_iter=20)
    assert net.fit_report_.method == "em"
    codes = net.encode(frame, allow_missing=True)
    assert int((torch.stack(list(codes.values())) < 0).sum()) == 3
    assert net.fit_report_.log_likelihood[-1] == pytest.approx(
        brute_force_loglik(net, codes), rel=1e-10
    )


def test_em_errors_name_the_problem():
    z, x = Discrete("z", 2), Continuous("x")
    net = BayesNet([Table(z), Gaussian(x, [z], mean=[0.0, 1.0])])
    with pytest.raises(ValueError, match=r"continuous variable\(s\) \['x'\] have missing values"):
        fit_network(net, {"z": torch.tensor([0, 1]), "x": torch.tensor([0.5, float("nan")])})
    neural = BayesNet([NeuralBernoulli(z), Gaussian(x, [z], mean=[0.0, 1.0])])
    with pytest.raises(ValueError, match="EM needs closed-form factors"):
        fit_network(neural, {"x": torch.tensor([0.5, 1.0])}, method="em")
    with pytest.raises(ValueError, match="e_step must be one of"):
        fit_network(net, {"x": torch.tensor([0.5, 1.0])}, e_step="fast")
    with pytest.raises(ValueError, match="e_step='exact' needs a network of tables"):
        fit_network(net, {"x": torch.tensor([0.5, 1.0])}, e_step="exact")
    big = BayesNet([Table(Discrete(f"h{i}", 4)) for i in range(7)])
    data = {"h0": torch.tensor([0, 1])}
    with pytest.raises(ValueError, match=r"4096 joint states to sum over \(max_configs=100\)"):
        fit_network(big, data, e_step="enumerate", max_configs=100)
    with pytest.raises(ValueError, match="init must be 'current' or 'random'"):
        EM(init="kmeans")
    truth = student()
    zero = student()
    zero["x1"].probs.copy_(torch.tensor([1.0, 0.0], dtype=torch.float64))
    rows = {"x1": torch.tensor([1, -1]), "x2": torch.tensor([0, 1])}
    with pytest.raises(ValueError, match="probability zero"):
        fit_network(zero, rows)
    del truth


def test_enumeration_covers_every_completion():
    net = student()
    data = {
        "x1": torch.tensor([-1, 1]),
        "x2": torch.tensor([0, -1]),
        "x3": torch.tensor([1, 1]),
        "x4": torch.tensor([-1, 0]),
    }
    comp = enumerate_completions(net, data)
    # row 0 misses x1 and x4 (4 completions), row 1 misses x2 (2 completions)
    assert comp.values["x1"].shape == (6,)
    torch.testing.assert_close(torch.bincount(comp.row), torch.tensor([4, 2]))
    torch.testing.assert_close(
        torch.zeros(2, dtype=torch.float64).index_add_(0, comp.row, comp.weight),
        torch.ones(2, dtype=torch.float64),
    )
    joint = net.full_joint()
    p0 = sum(float(joint[a, 0, 1, d]) for a, d in itertools.product(range(2), range(2)))
    assert float(comp.log_evidence[0].exp()) == pytest.approx(p0)


def test_both_e_steps_reject_rows_that_an_exact_zero_rules_out():
    zero = student()
    zero["x1"].probs.copy_(torch.tensor([1.0, 0.0], dtype=torch.float64))  # x1 = 1 impossible
    rows = {"x1": torch.tensor([1, -1]), "x2": torch.tensor([0, 1])}
    for e_step in ("exact", "enumerate"):
        with pytest.raises(ValueError, match="probability zero"):
            fit_network(zero, rows, e_step=e_step)  # raised before any update
    complete = {n: torch.tensor([1, 0]) for n in zero.order}
    ll = marginal_log_likelihood(zero, complete)
    assert ll[0] == -float("inf")
    assert ll[1].item() == pytest.approx(float(zero.full_joint()[0, 0, 0, 0].log()), rel=1e-14)


def test_fit_network_forwards_the_options_and_defaults_of_em():
    ours = inspect.signature(fit_network).parameters
    for name, p in inspect.signature(EM).parameters.items():
        assert name in ours and ours[name].default == p.default, name
