"""The verbs every classic model shares (``bayesgen.models.base``), checked once for all.

Add a model by appending to ``EXAMPLES``: an unfitted model, how to fit it, a batch of
observations, the keyword options of its ``sample`` and an observation of the wrong shape.
(The agreement of each model's ``network`` with its fast path is tests/models/test_networks.py.)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from bayesgen.models import HMM, KDE, GaussianMixture, MarkovChain, NaiveBayes, NGramLM
from bayesgen.models.base import Model
from bayesgen.models.mixture.errors import NotFittedError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@dataclass
class Example:
    make: Callable[[], Model]  # an unfitted model
    fit: Callable[[Model], Model]  # model -> model.fit(training data)
    x: Any  # B observations for log_prob
    bad: Any  # an observation log_prob must refuse
    sample: dict = field(default_factory=dict)  # keyword options of sample


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


_X2 = torch.cat([torch.randn(80, 2, generator=_gen(0)) - 2, torch.randn(80, 2, generator=_gen(1))])
_SEQ = torch.randint(0, 3, (20, 12), generator=_gen(2))
_TEXT = ["abracadabra", "banana bread", "a cabbage", "bad data"]
_NB_X = np.column_stack(
    [
        np.random.default_rng(3).integers(0, 2, 120),
        np.random.default_rng(4).normal(size=120),
    ]
)
_NB_Y = np.random.default_rng(5).integers(0, 3, 120)
_NB_COUNTS = np.random.default_rng(6).integers(0, 4, (120, 3)).astype(float)

EXAMPLES: dict[str, Example] = {
    **{
        f"gmm-{ct}": Example(
            lambda ct=ct: GaussianMixture(2, covariance_type=ct, random_state=0),
            lambda m: m.fit(_X2.double()),
            _X2[:7].double(),
            torch.zeros(3, 5),
        )
        for ct in ("full", "tied", "diag", "spherical")
    },
    **{
        f"kde-{k}": Example(
            lambda k=k: KDE(2.0, kernel=k),
            lambda m: m.fit(_X2[:40]),
            _X2[40:47].double(),
            torch.zeros(3, 5),
        )
        for k in ("gaussian", "tophat", "exponential")
    },
    "naive-bayes": Example(
        lambda: NaiveBayes(["bernoulli", "gaussian"], binarize=None),
        lambda m: m.fit(_NB_X, _NB_Y),
        torch.as_tensor(_NB_X[:7]),
        torch.zeros(3, 5),
    ),
    "naive-bayes-discrete": Example(
        lambda: NaiveBayes(["categorical", "multinomial", "multinomial"], alpha=0.5),
        lambda m: m.fit(_NB_COUNTS, _NB_Y),
        torch.as_tensor(_NB_COUNTS[:7]),
        torch.zeros(3, 5),
    ),
    "markov-2": Example(
        lambda: MarkovChain(order=2, alpha=0.5),
        lambda m: m.fit(_SEQ),
        _SEQ[:7],
        torch.tensor([[0, 1, 7]]),
        {"length": 6},
    ),
    "ngram-2": Example(
        lambda: NGramLM(order=2, eos=False, unk_policy="error"),
        lambda m: m.fit(_TEXT),
        _TEXT,
        ["xyz"],
        {"length": 8},
    ),
    **{
        f"hmm-{e}-{o}": Example(
            lambda e=e, o=o: HMM(2, e, order=o, n_iter=3, random_state=0),
            (lambda m: m.fit(_SEQ))
            if e == "categorical"
            else (lambda m: m.fit(_X2.double().reshape(16, 10, 2))),
            _SEQ[:7] if e == "categorical" else _X2[:70].double().reshape(7, 10, 2),
            torch.zeros(2, 10, 5) if e == "gaussian" else torch.full((2, 10), 9),
            {"length": 5},
        )
        for e in ("categorical", "gaussian")
        for o in (1, 2)
    },
}


@pytest.fixture(params=sorted(EXAMPLES), ids=str)
def case(request) -> tuple[Example, Model]:
    ex = EXAMPLES[request.param]
    return ex, ex.fit(ex.make())


def _rows(x: Any) -> int:
    return len(x)


def test_fit_returns_self_and_log_prob_is_per_observation(case):
    ex, model = case
    fresh = ex.make()
    assert ex.fit(fresh) is fresh
    assert isinstance(model, Model)
    lp = model.log_prob(ex.x)
    assert lp.shape == (_rows(ex.x),) and lp.dtype == torch.float64
    assert torch.isfinite(lp).all()
    torch.testing.assert_close(model.score_samples(ex.x), lp, rtol=0, atol=0)


def test_sample_returns_observations_that_log_prob_takes(case):
    ex, model = case
    n = 5
    xs = model.sample(n, generator=_gen(0), **ex.sample)
    assert _rows(xs) == n
    if isinstance(xs, torch.Tensor):
        shape = model.sample(1, generator=_gen(0), **ex.sample).shape[1:]
        assert xs.shape[1:] == shape
    lp = model.log_prob(xs)
    assert lp.shape == (n,) and torch.isfinite(lp).all()


def test_a_generator_fixes_the_draws(case):
    ex, model = case
    a = model.sample(6, generator=_gen(7), **ex.sample)
    b = model.sample(6, generator=_gen(7), **ex.sample)
    c = model.sample(6, generator=_gen(8), **ex.sample)
    assert _equal(a, b) and not _equal(a, c)


def _equal(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


LATENT = sorted(n for n, ex in EXAMPLES.items() if hasattr(ex.make(), "sample_joint"))


@pytest.mark.parametrize("name", LATENT)
def test_sample_joint_pairs_observations_with_latents(name):
    ex = EXAMPLES[name]
    model = ex.fit(ex.make())
    x, z = model.sample_joint(6, generator=_gen(3), **ex.sample)
    torch.testing.assert_close(x, model.sample(6, generator=_gen(3), **ex.sample))
    assert len(z) == 6


def test_verbs_need_a_fitted_model(case):
    ex, _ = case
    model = ex.make()
    assert not model.is_fitted
    for verb in (
        lambda: model.log_prob(ex.x),
        lambda: model.sample(2, **ex.sample),
        lambda: model.network if not isinstance(model, NGramLM) else model.perplexity(ex.x),
    ):
        with pytest.raises(NotFittedError, match="not fitted"):
            verb()


def test_bad_input_is_refused(case):
    ex, model = case
    with pytest.raises((ValueError, TypeError)):
        model.log_prob(ex.bad)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(-1, **ex.sample)


def test_state_dict_round_trip(case):
    ex, model = case
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = ex.make()
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.is_fitted
    torch.testing.assert_close(fresh.log_prob(ex.x), model.log_prob(ex.x), rtol=0, atol=0)
    assert _equal(
        fresh.sample(4, generator=_gen(1), **ex.sample),
        model.sample(4, generator=_gen(1), **ex.sample),
    )


@pytest.mark.parametrize("device", DEVICES)
def test_device_move_keeps_the_scores(case, device):
    ex, model = case
    lp = model.log_prob(ex.x)
    model.to(device)
    x = ex.x.to(device) if isinstance(ex.x, torch.Tensor) else ex.x
    moved = model.log_prob(x)
    assert moved.device.type == device
    torch.testing.assert_close(moved.cpu(), lp, rtol=1e-12, atol=1e-12)
    g = torch.Generator(device=device).manual_seed(0)
    xs = model.sample(3, generator=g, **ex.sample)
    if isinstance(xs, torch.Tensor):
        assert xs.device.type == device
