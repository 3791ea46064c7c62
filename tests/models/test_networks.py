"""Every classic model's ``network`` is a real BayesNet of its fitted factors: summing its
``log_prob`` over the latent variables (by enumerating their states) gives the model's own
log-density, and ancestral sampling through it draws from the model (a two-sample test).

Add a model by appending to ``EXAMPLES``: a factory returning (network, observed values, the
model's log-density of them, the latent variables with their state counts, a sampler of the
model's observed variables).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch

from bayesgen.models import HMM, KDE, GaussianMixture, MarkovChain, NaiveBayes, NGramLM

Example = tuple[object, dict, torch.Tensor, dict[str, int], Callable[[int], dict]]


def _gmm(ct: str) -> Example:
    g = torch.Generator().manual_seed(0)
    X = torch.cat([torch.randn(150, 2, generator=g) - 2, torch.randn(150, 2, generator=g) + 2])
    gm = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X.double())
    x = X[:20].double()
    return gm.network, {"x": x}, gm.log_prob(x), {"z": 2}, lambda n: {"x": gm.sample(n)}


def _kde(kernel: str) -> Example:
    X = torch.randn(30, 2, generator=torch.Generator().manual_seed(1)).double()
    kde = KDE(0.6, kernel=kernel).fit(X)
    q = torch.randn(12, 2, generator=torch.Generator().manual_seed(2)).double() * 0.8
    return kde.network, {"x": q}, kde.log_prob(q), {"z": 30}, lambda n: {"x": kde.sample(n)}


def _hmm(emission: str, order: int) -> Example:
    g = torch.Generator().manual_seed(3)
    if emission == "categorical":
        X = torch.randint(0, 4, (60,), generator=g)
    else:
        X = torch.randn(60, 2, generator=g).double()
    hmm = HMM(2, emission, order=order, n_iter=5, random_state=0).fit(X, lengths=[30, 30])
    T = 4
    seqs = X[:20].reshape(5, T, *X.shape[1:])
    observed = {f"x{t + 1}": seqs[:, t] for t in range(T)}

    def sampler(n):
        x = hmm.sample(n, length=T, generator=torch.Generator().manual_seed(0))  # (n, T, ...)
        return {f"x{t + 1}": x[:, t].reshape(n, *X.shape[1:]) for t in range(T)}

    return (
        hmm.unrolled(T),
        observed,
        hmm.score_samples(seqs),
        {f"z{t}": 2 for t in range(1, 5)},
        sampler,
    )


def _markov(order: int) -> Example:
    X = torch.randint(0, 3, (40, 8), generator=torch.Generator().manual_seed(4))
    mc = MarkovChain(order=order, alpha=0.5).fit(X)
    T = order + 3
    x = X[:10, :T]
    observed = {f"x{t + 1}": x[:, t] for t in range(T)}

    def sampler(n):
        s = mc.sample(n, length=T, generator=torch.Generator().manual_seed(0))
        return {f"x{t + 1}": s[:, t] for t in range(T)}

    return mc.network, observed, mc.log_prob(x), {}, sampler


_TEXT = [
    "the cat sat on the mat",
    "a dog sat on a log",
    "the dog and the cat ran",
    "a cat ran to the dog",
    "on the mat sat a dog",
]


def _ngram(level: str, order: int, smoothing: str) -> Example:
    """An n-gram model unrolled over T tokens and its end node x_{T+1} = </s>."""
    seqs = _TEXT if level == "char" else [s.split() for s in _TEXT]
    lm = NGramLM(order, smoothing).fit(seqs)
    T = 4
    x = [s[:T] for s in seqs]
    n_nodes = T + 1

    def sampler(n):
        s = lm.sample(
            n, length=n_nodes, stop_at_eos=False, generator=torch.Generator().manual_seed(0)
        )
        ids = lm.vocabulary_.encode_batch(s)[0].reshape(n, n_nodes)  # (n, T + 1)
        return {f"x{t + 1}": ids[:, t] for t in range(n_nodes)}

    return lm.unrolled(T), lm.assignment(x), lm.log_prob(x), {}, sampler


def _naive_bayes() -> Example:
    rng = np.random.default_rng(5)
    X = np.column_stack(
        [rng.integers(0, 2, 200), rng.integers(0, 3, 200), rng.normal(size=200)]
    ).astype(float)
    y = rng.integers(0, 3, 200)
    nb = NaiveBayes(["bernoulli", "categorical", "gaussian"], binarize=None).fit(X, y)
    x = torch.as_tensor(X[:25])
    observed = {"x1": x[:, 0].long(), "x2": x[:, 1].long(), "x3": x[:, 2]}

    def sampler(n):
        s = nb.sample(n)
        return {"x1": s[:, 0].long(), "x2": s[:, 1].long(), "x3": s[:, 2]}

    return nb.network, observed, nb.log_prob(X[:25]), {"y": 3}, sampler


EXAMPLES: dict[str, Callable[[], Example]] = {
    **{f"gmm-{ct}": (lambda ct=ct: _gmm(ct)) for ct in ("full", "tied", "diag", "spherical")},
    **{f"kde-{k}": (lambda k=k: _kde(k)) for k in ("gaussian", "epanechnikov", "exponential")},
    **{
        f"hmm-{e}-{o}": (lambda e=e, o=o: _hmm(e, o))
        for e in ("categorical", "gaussian")
        for o in (1, 2)
    },
    **{f"markov-{k}": (lambda k=k: _markov(k)) for k in (1, 2)},
    "naive-bayes": _naive_bayes,
    **{
        f"ngram-{level}-{k}-{sm}": (lambda level=level, k=k, sm=sm: _ngram(level, k, sm))
        for level, k, sm in [
            ("char", 0, "laplace"),
            ("char", 2, "modified-kneser-ney"),
            ("word", 1, "kneser-ney"),
            ("word", 3, "modified-kneser-ney"),
        ]
    },
}


def marginal_log_prob(net, observed: dict, latent: dict[str, int]) -> torch.Tensor:
    """log Σ_latent p(latent, observed) by enumerating every joint latent state at once."""
    if not latent:
        return net.log_prob(observed)
    B = len(next(iter(observed.values())))
    states = torch.tensor(list(itertools.product(*[range(k) for k in latent.values()])))  # (S, L)
    S = len(states)
    values = {n: states[:, i].repeat_interleave(B) for i, n in enumerate(latent)}  # (S B,)
    values.update({n: v.repeat(S, *([1] * (v.dim() - 1))) for n, v in observed.items()})
    return net.log_prob(values).reshape(S, B).logsumexp(0)


@pytest.fixture(params=sorted(EXAMPLES), ids=str)
def example(request):
    return EXAMPLES[request.param]()


def test_network_log_prob_equals_the_model(example):
    net, observed, expected, latent, _ = example
    torch.testing.assert_close(
        marginal_log_prob(net, observed, latent), expected.double(), rtol=1e-9, atol=1e-9
    )


def test_network_samples_like_the_model(example):
    """Energy two-sample test at level 0.01 between the network's ancestral samples and the
    model's own sampler, on the observed variables."""
    net, observed, _, _, sampler = example
    n = 200
    ours = net.sample(n, seed=0)
    theirs = sampler(n)
    a = torch.cat([ours[k].double().reshape(n, -1) for k in observed], 1)
    b = torch.cat([theirs[k].double().reshape(n, -1) for k in observed], 1)
    pooled = torch.cat([a, b])

    def stat(p, q):
        return 2 * torch.cdist(p, q).mean() - torch.cdist(p, p).mean() - torch.cdist(q, q).mean()

    observed_stat = stat(a, b)
    g = torch.Generator().manual_seed(0)
    hits = 0
    for _ in range(199):  # permutations, not rows
        idx = torch.randperm(2 * n, generator=g)
        hits += int(stat(pooled[idx[:n]], pooled[idx[n:]]) >= observed_stat)
    assert (hits + 1) / 200 > 0.01
