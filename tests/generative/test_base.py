"""The paradigm protocol itself: conditioning checks, the registry, config and the model file
format (JSON + safetensors, clear errors for anything else)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.distributions import Independent, Normal

from bayesgen import BayesNet, Continuous, Factor
from bayesgen.generative import PARADIGMS, GenerativeModel, build, load_model


class _DiagonalNormal(Factor):
    def __init__(self, variable, model):
        super().__init__(variable)
        self.model = model

    def forward(self, parents, context=None):
        loc = self.model.loc if context is None else self.model.loc + self.model.shift(context)
        return Independent(Normal(loc, self.model.log_scale.exp()), 1)


class Gauss(GenerativeModel, paradigm="_test_gauss"):
    """x ~ N(μ + W y, diag σ²): a one-factor network, enough to exercise the protocol."""

    exact_likelihood = True

    def __init__(self, event_shape=(2,), *, num_classes=None, context_size=None, scale=1.0):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        self.scale = scale
        d = self.event_shape[0]
        self.loc = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.full((d,), float(scale)).log())
        self.shift = nn.Linear(self.context_features or 1, d, bias=False)

    def _dist(self, y, n):
        c = self.context(y, n)
        loc = self.loc if c is None else self.loc + self.shift(c)
        return Independent(Normal(loc, self.log_scale.exp()), 1)

    def log_prob(self, x, y=None):
        x = self.check_x(x)
        return self._dist(y, len(x)).log_prob(x)

    def loss(self, x, y=None, *, group=None):
        return -self.log_prob(x, y).mean()

    def sample(self, n, y=None, *, generator=None):
        d = self._dist(y, n)
        eps = torch.randn((n, *self.event_shape), generator=generator)
        return d.mean.expand(n, -1) + d.stddev * eps

    @property
    def network(self):
        return BayesNet([_DiagonalNormal(Continuous("x", shape=self.event_shape), self)])

    def joint(self, x, y=None, *, generator=None):
        return {"x": x}, self.log_prob(x, y)

    def observation(self, values):
        return values["x"]


def test_registry_and_build():
    assert PARADIGMS["_test_gauss"] is Gauss
    model = build("_test_gauss", event_shape=[3], scale=2.0)
    assert model.event_shape == (3,) and model.config["scale"] == 2.0
    with pytest.raises(ValueError, match="unknown paradigm 'nope'"):
        build("nope")
    with pytest.raises(ValueError, match="registered twice"):

        class Again(Gauss, paradigm="_test_gauss"):
            pass


def test_context_checks_labels_and_features():
    labelled = Gauss(num_classes=3)
    c = labelled.context(torch.tensor([0, 2]), 2)
    torch.testing.assert_close(c, torch.tensor([[1.0, 0, 0], [0, 0, 1]]))
    assert labelled.context(torch.tensor(1), 4).shape == (4, 3)  # one label for the batch
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\), got values in \[0, 3\]"):
        labelled.context(torch.tensor([0, 3]), 2)
    with pytest.raises(ValueError, match="is conditional; give y"):
        labelled.context(None, 2)
    with pytest.raises(ValueError, match="y has 2 rows, x has 3"):
        labelled.context(torch.tensor([0, 1]), 3)
    features = Gauss(context_size=2)
    with pytest.raises(ValueError, match=r"y must have shape \(3, 2\)"):
        features.context(torch.zeros(3, 5), 3)
    with pytest.raises(ValueError, match="is unconditional"):
        Gauss().context(torch.zeros(2), 2)
    with pytest.raises(ValueError, match="not both"):
        Gauss(num_classes=2, context_size=2)


def test_check_x_names_the_shape_and_the_bad_row():
    model = Gauss()
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\), got \(4, 3\)"):
        model.log_prob(torch.zeros(4, 3))
    x = torch.zeros(4, 2)
    x[2, 1] = float("inf")
    with pytest.raises(ValueError, match="non-finite value in row 2"):
        model.log_prob(x)


def test_log_prob_of_a_model_without_one_names_its_bounds():
    class Bounded(Gauss, paradigm="_test_bounded"):
        exact_likelihood = False
        bounds = ("elbo",)
        log_prob = GenerativeModel.log_prob

    with pytest.raises(TypeError, match=r"no exact log-likelihood; use its bound \(elbo\)"):
        Bounded().log_prob(torch.zeros(1, 2))


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Gauss(num_classes=2, scale=0.5)
    nn.init.normal_(model.loc)
    path = model.save(tmp_path / "m.json")
    again = load_model(path)
    x, y = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1])
    torch.testing.assert_close(again.log_prob(x, y), model.log_prob(x, y), rtol=0, atol=0)
    assert json.loads(path.read_text())["paradigm"] == "_test_gauss"


def test_load_errors_name_the_file_and_the_problem(tmp_path):
    model = Gauss()
    path = model.save(tmp_path / "m.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not a bayesgen model file"):
        load_model(bad)
    meta = json.loads(path.read_text())
    meta["config"]["event_shape"] = [3]
    path.write_text(json.dumps(meta))
    match = r"weights do not match the config: loc is \(2,\), expected \(3,\)"
    with pytest.raises(ValueError, match=match):
        load_model(path)
    path.with_suffix(".safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="cannot read the weights"):
        load_model(path)


def test_network_is_the_models_density():
    torch.manual_seed(0)
    model = Gauss(context_size=2)
    x, y = torch.randn(6, 2), torch.randn(6, 2)
    values, fast = model.joint(x, y)
    slow = model.network.log_prob(values, context=model.context(y, 6))
    torch.testing.assert_close(slow, fast)
