"""An n-gram model's ``network`` is the chain of its own conditionals: its ``log_prob`` of a
length-T sequence (with the end nodes observed as ``</s>``) is ``NGramLM.log_prob``, and its
DAG is the unrolled chain. (Sampling through it is tests/models/test_networks.py.)"""

from __future__ import annotations

import pytest
import torch

from bayesgen.data.text import lines, read_text
from bayesgen.models import NGramLM
from bayesgen.models.ngram import unrolled_chain_dag
from bayesgen.models.ngram_network import NGramFactor, token_states

T = 4


@pytest.fixture(scope="module")
def corpus(data_dir):
    """Tiny Shakespeare lines as characters and as words: 150 to fit, held-out ones to score."""
    text = read_text(data_dir / "text" / "tinyshakespeare.txt")[:20_000]
    return {level: lines(text, level=level) for level in ("char", "word")}


def _prefixes(seqs, n=25):
    return [s[:T] for s in seqs if len(s) >= T][:n]


def _check(lm, seqs):
    net = lm.unrolled(T)
    expected = lm.log_prob(seqs)
    got = net.log_prob(lm.assignment(seqs))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    return got


@pytest.mark.parametrize("order", [0, 1, 2, 3])
@pytest.mark.parametrize("smoothing", ["kneser-ney", "modified-kneser-ney", "laplace"])
@pytest.mark.parametrize("level", ["char", "word"])
def test_network_log_prob_is_the_models(corpus, level, smoothing, order):
    """Held-out prefixes (unseen n-grams, <unk> words included): exact to 1e-10."""
    seqs = corpus[level]
    lm = NGramLM(order, smoothing).fit(seqs[:150])
    got = _check(lm, _prefixes(seqs[150:]))
    assert torch.isfinite(got).all()


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize(("padding", "eos"), [("markov", False), ("nltk", True), ("nltk", False)])
def test_paddings_and_no_end(corpus, padding, eos, order):
    """nltk padding scores k </s> (k end nodes), no eos none (the T tokens as a prefix)."""
    lm = NGramLM(order, "modified-kneser-ney", padding=padding, eos=eos).fit(corpus["word"][:150])
    r = order if (padding == "nltk" and eos) else int(eos)
    assert len(lm.unrolled(T)) == T + r
    _check(lm, _prefixes(corpus["word"][150:]))


def test_mle_keeps_zero_probabilities(corpus):
    """MLE: training prefixes are exact, an unseen last trigram is -inf both ways."""
    train = corpus["word"][:150]
    lm = NGramLM(2, "mle", eos=False).fit(train)
    seqs = _prefixes(train)
    assert torch.isfinite(_check(lm, seqs)).all()
    odd = [seqs[0][:-1] + [w] for w in lm.vocabulary_.itos_[3:]]
    lp = lm.log_prob(odd)
    assert torch.isinf(lp).any() and torch.isfinite(lp).any()
    _check(lm, odd)


def test_kneser_ney_with_nltk_padding_is_renormalized(corpus):
    """NLTK's Kneser–Ney rows p(. | <s> <s>) sum to more than 1 under its everygram counts; the
    network's factor renormalizes them, so it differs from log_prob by exactly Σ_t log Z_t."""
    train = corpus["word"][:150]
    lm = NGramLM(2, "kneser-ney", padding="nltk", eos=False).fit(train)
    seqs = _prefixes(corpus["word"][150:])
    values = lm.assignment(seqs)
    bos = lm.vocabulary_.bos_id
    ids = torch.stack([values[f"x{t}"] for t in range(1, T + 1)], 1)  # (B, T)
    history = torch.cat([torch.full((len(seqs), 2), bos), ids], 1)  # (B, T + 2)
    ctx = history.unfold(1, 2, 1)[:, :T].reshape(-1, 2)  # (B T, 2)
    log_z = lm._next_probs(lm._context_ranks(ctx)).sum(1).log().reshape(len(seqs), T).sum(1)
    assert float(log_z.abs().max()) > 1e-4  # the rows really are off
    got = lm.unrolled(T).log_prob(values)
    torch.testing.assert_close(got, lm.log_prob(seqs) - log_z, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("order", "eos"), [(0, True), (1, False), (2, True), (3, True)])
def test_dag_is_the_unrolled_chain(corpus, order, eos):
    lm = NGramLM(order, eos=eos).fit(corpus["char"][:50])
    net = lm.unrolled(T)
    chain = unrolled_chain_dag(order, T + int(eos))
    assert net.dag.nodes == chain.nodes
    assert set(net.dag.edges) == set(chain.edges)
    assert all(isinstance(f, NGramFactor) and f.lm is lm for f in net.factors.values())
    assert len(lm.network) == order + 3 + int(eos)


def test_states_and_errors(corpus):
    lm = NGramLM(1).fit(corpus["char"][:50])
    states = lm.network.variables["x1"].states
    assert states[:3] == ("<unk>", "<s>", "</s>") and "' '" in states  # the space, readable
    assert token_states(["a", " ", "' '"]) == ["0", "1", "2"]  # labels would collide
    with pytest.raises(ValueError, match="of one length"):
        lm.assignment(["abcd", "abc"])
    with pytest.raises(ValueError, match="T must be"):
        lm.unrolled(0)
    from bayesgen.models.mixture.errors import NotFittedError

    with pytest.raises(NotFittedError):
        _ = NGramLM(1).network
