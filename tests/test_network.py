import pandas as pd
import pytest
import torch

from bayesgen import (
    BayesNet,
    Continuous,
    Discrete,
    Gaussian,
    LinearGaussian,
    NeuralBernoulli,
    NeuralNormal,
    Table,
)
from bayesgen.examples import student
from bayesgen.graph import CycleError


def hybrid():
    """A table, a Gaussian with a discrete parent, a linear-Gaussian and a neural factor."""
    a = Discrete("a", ["off", "on"])
    u = Continuous("u")
    y = Continuous("y")
    z = Discrete("z", 2)
    torch.manual_seed(0)
    return BayesNet(
        [
            Table(a, probs=[0.4, 0.6]),
            Gaussian(u, [a], mean=[-1.0, 3.0], std=[0.5, 2.0]),
            LinearGaussian(y, [u], weight=[[0.7]], bias=[1.0], scale=[0.3]),
            NeuralBernoulli(z, [y], hidden=(4,)),
        ]
    )


def test_hybrid_sample_moments_match_linear_gaussian_algebra():
    net = hybrid()
    n = 200_000
    s = net.sample(n, seed=0)
    p_on = 0.6
    mean_u = 0.4 * -1.0 + p_on * 3.0
    var_u = 0.4 * (0.25 + 1.0) + p_on * (4.0 + 9.0) - mean_u**2  # E[u²] − E[u]²
    mean_y, var_y = 0.7 * mean_u + 1.0, 0.49 * var_u + 0.09
    u, y = s["u"].double(), s["y"].double()
    assert abs(u.mean() - mean_u) < 4 * (var_u / n) ** 0.5
    assert abs(y.mean() - mean_y) < 4 * (var_y / n) ** 0.5
    # the variance estimator's standard error, with the 4th moment taken from the sample
    se_var = ((y - y.mean()) ** 4).mean().sub(var_y**2).div(n).sqrt()
    assert abs(y.var() - var_y) < 4 * se_var
    assert abs(s["a"].double().mean() - p_on) < 4 * (p_on * (1 - p_on) / n) ** 0.5


def test_log_prob_is_the_sum_of_factors():
    net = hybrid()
    s = net.sample(7, seed=1)
    total = sum(f(s).log_prob(s[name]) for name, f in net.factors.items())
    torch.testing.assert_close(net.log_prob(s), total)
    assert net.log_prob(s).shape == (7,)


def test_sample_is_seeded_and_frames_round_trip():
    net = hybrid()
    a, b = net.sample(5, seed=3), net.sample(5, seed=3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    frame = net.sample(5, seed=3, as_frame=True)
    assert list(frame["a"].astype(str)) == [["off", "on"][i] for i in a["a"].tolist()]
    torch.testing.assert_close(net.log_prob(frame), net.log_prob(a))


def test_sample_frequencies_match_exact_marginals():
    net = student()
    n = 100_000
    s = net.sample(n, seed=0)
    joint = net.full_joint()
    for i, name in enumerate(net.order):
        p = joint.sum(dim=[j for j in range(4) if j != i])[1]
        freq = s[name].double().mean()
        assert abs(freq - p) < 4 * (p * (1 - p) / n) ** 0.5, name


def test_conditional_network_passes_context():
    x = Continuous("x", 2)
    net = BayesNet([NeuralNormal(x, context_size=3, hidden=(8,))])
    y = torch.randn(10, 3)
    s = net.sample(10, context=y, seed=0)
    assert s["x"].shape == (10, 2)
    assert net.log_prob(s, context=y).shape == (10,)
    with pytest.raises(ValueError, match="needs a context y of size 3"):
        net.sample(4)


def test_structure_errors_name_the_thing():
    a, b = Discrete("a", 2), Discrete("b", 2)
    with pytest.raises(ValueError, match="parent 'a' of 'b' has no factor"):
        BayesNet([Table(b, [a])])
    with pytest.raises(CycleError, match="a -> b -> a"):
        BayesNet([Table(a, [b]), Table(b, [a])])
    with pytest.raises(ValueError, match="two factors for variable 'a'"):
        BayesNet([Table(a), Table(a)])
    with pytest.raises(ValueError, match="its own factor declares"):
        BayesNet([Table(Discrete("a", 3)), Table(b, [a])])


def test_data_errors_name_the_thing():
    net = student()
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['x9'\]"):
        net.log_prob({"x9": torch.tensor([0])})
    with pytest.raises(ValueError, match=r"unknown state '2' of 'x1'"):
        net.log_prob(pd.DataFrame({"x1": ["2"], "x2": ["0"], "x3": ["0"], "x4": ["0"]}))
    with pytest.raises(ValueError, match="data lacks"):
        net.log_prob({"x1": torch.tensor([0])})
    with pytest.raises(ValueError, match="column 'x2' has a missing value in row 1"):
        net.log_prob(
            pd.DataFrame({"x1": ["1", "1"], "x2": ["0", None], "x3": ["0", "1"], "x4": ["1", "1"]})
        )
    with pytest.raises(ValueError, match="n must be a positive int"):
        net.sample(0)


def test_parameter_counts_of_hybrid_network():
    net = hybrid()
    counts = [f.num_parameters() for f in net.factors.values()]
    assert counts[:3] == [1, 4, 3]
    assert net.num_parameters() == sum(counts)
