"""The chapter's neural example (§2.4.4): the class prior of a two-Gaussian mixture learned by SGD,
against the exact MLE; and figure 18, the learning-rate sweep."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from bayesgen.factors import Gaussian, NeuralBernoulli
from bayesgen.learning.neural_mixture import (
    COMPONENTS,
    SWEEP_LEARNING_RATES,
    TRUE_R,
    exact_mle,
    fit_prior,
    learning_rate_sweep,
    main,
    mixture_network,
    mixture_nll,
    sample_mixture,
)
from bayesgen.plot.learning import plot_learning_rate_sweep, plot_training_curves


@pytest.fixture(scope="module")
def x():
    return sample_mixture(1000, seed=0)


def test_the_mixture_is_a_bayes_net_sampled_ancestrally(x):
    net = mixture_network()
    assert net.dag.edges == (("z", "x"),) or list(net.dag.edges) == [("z", "x")]
    assert isinstance(net["z"], NeuralBernoulli) and isinstance(net["x"], Gaussian)
    assert float(torch.sigmoid(net["z"].raw.detach()[0])) == pytest.approx(TRUE_R)
    assert [p.requires_grad for p in net.parameters()] == [True]  # only the logit is learned
    xs, zs = sample_mixture(4000, seed=1, return_z=True)
    # class frequencies and the components, within their sampling errors
    assert float(zs.double().mean()) == pytest.approx(TRUE_R, abs=4 * math.sqrt(0.16 / 4000))
    for k, (m, s) in enumerate(COMPONENTS):
        part = xs[zs == k].numpy()
        assert part.mean() == pytest.approx(m, abs=4 * s / math.sqrt(len(part)))
        assert stats.kstest(part, "norm", args=(m, s)).pvalue > 1e-3
    assert x.shape == (1000,)


def test_exact_mle_agrees_with_a_1d_search(x):
    mle = exact_mle(x)
    ref = optimize.minimize_scalar(
        lambda r: mixture_nll(x, r),
        bounds=(1e-6, 1 - 1e-6),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert mle.r == pytest.approx(ref.x, abs=1e-6)
    assert mle.nll == pytest.approx(ref.fun, abs=1e-12)
    assert mle.nll <= mixture_nll(x, TRUE_R)
    # the standard error is the binomial one inflated by the overlap of the components
    assert math.sqrt(TRUE_R * (1 - TRUE_R) / 1000) < mle.stderr < 2 * math.sqrt(0.16 / 1000)
    assert abs(mle.r - TRUE_R) < 3 * mle.stderr


def test_sgd_lands_on_the_exact_mle(x):
    """SPEC: logit initialised at 0.5, SGD with lr=1 for 500 full-batch epochs on the mean NLL."""
    net, history = fit_prior(x, lr=1.0, epochs=500, init_logit=0.5)
    mle = exact_mle(x)
    r = history["r"][-1]
    assert r == pytest.approx(float(torch.sigmoid(net["z"].raw.detach()[0])))
    assert abs(r - mle.r) < 1e-6  # converged to the MLE, far inside its sampling error
    assert abs(r - TRUE_R) < 3 * mle.stderr  # and near the truth, like the chapter's 0.7847
    loss = history["loss"]
    assert len(loss) == 501 and loss[0] == pytest.approx(mixture_nll(x, 1 / (1 + math.exp(-0.5))))
    assert all(b <= a + 1e-12 for a, b in pairwise(loss))  # full-batch GD: monotone here
    assert loss[-1] == pytest.approx(mle.nll, abs=1e-10)
    # the component parameters are known, not trained
    torch.testing.assert_close(net["x"].mean[:, 0], torch.tensor([-1.0, 3.0], dtype=torch.float64))


def test_figure_18_learning_rate_sweep(x, tmp_path):
    sweep = learning_rate_sweep(x)
    assert list(sweep) == list(SWEEP_LEARNING_RATES)
    mle = exact_mle(x)
    for h in sweep.values():
        assert len(h["loss"]) == 101 and len(h["r"]) == 101  # the start and 100 steps
        # both panels read the same parameters: loss[i] is the NLL at r[i] (they were one step
        # apart, the loss before each step and r after it)
        nll = [mixture_nll(x, r) for r in h["r"]]
        np.testing.assert_allclose(h["loss"], nll, rtol=1e-12)
        assert h["loss"][0] == pytest.approx(mixture_nll(x, 1 / (1 + math.exp(-0.1))))
    # lr = 0.1 is still on its way after 100 steps; lr = 1 and 10 reach the MLE
    assert abs(sweep[0.1]["r"][-1] - mle.r) > 0.02
    assert abs(sweep[10.0]["r"][-1] - mle.r) < 1e-4
    assert abs(sweep[1.0]["r"][-1] - mle.r) < 1e-3
    # the largest rates overshoot: r leaves [r̂ − 0.01, r̂ + 0.01] after having been near it
    assert max(abs(v - mle.r) for v in sweep[30.0]["r"][50:]) > 0.01
    fig = plot_learning_rate_sweep(
        sweep, true_nll=mixture_nll(x, TRUE_R), true_value=TRUE_R, path=tmp_path / "fig18.png"
    )
    assert len(fig.axes) == 10 and (tmp_path / "fig18.png").stat().st_size > 10_000
    left, right = fig.axes[0], fig.axes[1]
    np.testing.assert_allclose(left.lines[1].get_ydata(), sweep[0.1]["loss"])
    assert right.lines[0].get_ydata()[0] == TRUE_R
    ax = plot_training_curves(sweep[1.0], ["loss"], reference={"loss": mle.nll})
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match=r"history has no \['val_loss'\]"):
        plot_training_curves(sweep[1.0], ["val_loss"])
    with pytest.raises(ValueError, match="needs 'loss' and 'r'"):
        plot_learning_rate_sweep({1.0: {"loss": [1.0]}}, true_nll=1.0, true_value=0.8)


def test_runnable_example_prints_the_estimate_and_the_mle(capsys):
    assert main(["--n", "1000", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "Estimate: 0." in out and "True value: 0.8" in out and "Exact MLE:" in out
    with pytest.raises(ValueError, match="r must be in"):
        mixture_network(r=1.5)
    with pytest.raises(ValueError, match="components must be two"):
        mixture_network(components=[(0.0, 1.0)])
