"""Markov chains and n-gram language models (eq. 11): NLTK agreement, brute force, statistics."""

from __future__ import annotations

import io
import math
from collections import Counter

import numpy as np
import pytest
import torch
from nltk.lm import MLE as NltkMLE
from nltk.lm import KneserNeyInterpolated, Laplace
from nltk.lm import StupidBackoff as NltkStupidBackoff
from nltk.lm import Vocabulary as NltkVocabulary
from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
from nltk.util import ngrams

from bayesgen.data.text import lines, load_corpus, read_text, tokenize, train_val_split
from bayesgen.models.markov import MarkovChain, NGramLM, stationary_distribution
from bayesgen.models.ngram_smoothing import (
    MLE,
    AddK,
    KneserNey,
    ModifiedKneserNey,
    StupidBackoff,
)
from bayesgen.models.vocab import Vocabulary

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shakespeare(data_dir):
    return read_text(data_dir / "text" / "tinyshakespeare.txt")


@pytest.fixture(scope="module")
def word_corpus(shakespeare):
    """Real sentences: 150 training lines and 40 held-out lines of Tiny Shakespeare, as words."""
    sents = lines(shakespeare[:20_000], level="word")
    return sents[:150], sents[150:190]


def _nltk_model(kind: str, n: int, train):
    vocab = NltkVocabulary(unk_label="<unk>")
    if kind == "mle":
        lm = NltkMLE(n, vocabulary=vocab)
    elif kind == "laplace":
        lm = Laplace(n, vocabulary=vocab)
    elif kind == "kn":
        lm = KneserNeyInterpolated(n, discount=0.1, vocabulary=vocab)
    elif kind == "stupid":
        lm = NltkStupidBackoff(0.4, n, vocabulary=vocab)
    else:
        raise ValueError(kind)
    ngram_text, vocab_text = padded_everygram_pipeline(n, train)
    lm.fit(ngram_text, vocab_text)
    return lm


_OURS = {
    "mle": lambda: MLE(),
    "laplace": lambda: AddK(1.0),
    "kn": lambda: KneserNey(0.1, uniform_base=False),
    "stupid": lambda: StupidBackoff(0.4),
}


def _nltk_scores(lm, sents, n):
    grams = [g for s in sents for g in ngrams(list(pad_both_ends(s, n=n)), n)]
    return np.array([lm.score(g[-1], g[:-1]) for g in grams]), grams


# ---------------------------------------------------------------------------- NLTK agreement


# NLTK's KneserNeyInterpolated(1) divides by zero (no bigrams to continue), hence no (kn, 1)
_NLTK_CASES = [(k, n) for k in ("mle", "laplace", "kn", "stupid") for n in (1, 2, 3, 4)]


@pytest.mark.parametrize(("kind", "n"), [c for c in _NLTK_CASES if c != ("kn", 1)])
def test_nltk_padding_matches_nltk_lm(word_corpus, kind, n):
    """padding='nltk' reproduces nltk.lm's padded_everygram_pipeline models token by token."""
    train, test = word_corpus
    nl = _nltk_model(kind, n, train)
    ours = NGramLM(order=n - 1, smoothing=_OURS[kind](), padding="nltk").fit(train)
    assert len(ours.vocabulary_) - (3 if n == 1 else 1) == len(nl.vocab) - 1
    for sents in (train[:25], test[:25]):
        want, grams = _nltk_scores(nl, sents, n)
        lp, _ = ours.token_log_probs(sents, allow_unnormalized=True)
        assert lp.shape == (len(grams),)
        np.testing.assert_allclose(lp.exp().numpy(), want, rtol=1e-12, atol=1e-15)
        if kind == "stupid":
            with pytest.raises(ValueError, match="not normalized"):
                ours.perplexity(sents)
            continue
        ppl_nltk = nl.perplexity(grams)
        ppl = ours.perplexity(sents)
        if math.isfinite(ppl_nltk):
            assert ppl == pytest.approx(ppl_nltk, rel=1e-6)
        else:
            assert ppl == math.inf  # an unseen n-gram (MLE) or an unseen word (NLTK's KN)


def _markov_ngrams(sents, n):
    """Every m-gram (m ≤ n) ending at a predicted position of <s>^(n-1) x </s>."""
    k = n - 1
    out = []
    for s in sents:
        p = ["<s>"] * k + list(s) + ["</s>"]
        out.append([tuple(p[t - m + 1 : t + 1]) for t in range(k, len(p)) for m in range(1, n + 1)])
    return out


@pytest.mark.parametrize("kind", ["mle", "kn", "stupid"])
def test_markov_padding_matches_nltk_on_the_same_ngrams(word_corpus, kind):
    """The default padding ('markov') is NLTK's model fed our n-grams: same numbers."""
    train, test = word_corpus
    n = 3
    vocab = NltkVocabulary(unk_label="<unk>")
    nl = {
        "mle": NltkMLE(n, vocabulary=vocab),
        "kn": KneserNeyInterpolated(n, discount=0.1, vocabulary=vocab),
        "stupid": NltkStupidBackoff(0.4, n, vocabulary=vocab),
    }[kind]
    nl.fit(_markov_ngrams(train, n), [t for s in train for t in ["<s>", *s, "</s>"]])
    ours = NGramLM(order=n - 1, smoothing=_OURS[kind]()).fit(train)
    seen = set(ours.vocabulary_.itos_)
    held = [s for s in test if set(s) <= seen][:20]
    for sents in (train[:40], held):
        grams = [g for s in sents for g in ngrams(["<s>"] * (n - 1) + list(s) + ["</s>"], n)]
        want = np.array([nl.score(g[-1], g[:-1]) for g in grams])
        lp, _ = ours.token_log_probs(sents, allow_unnormalized=True)
        np.testing.assert_allclose(lp.exp().numpy(), want, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------- brute force MKN


def _reference_mkn(train, k, D, support):
    """Interpolated modified Kneser–Ney written from Chen & Goodman's formulas with dicts."""
    n = k + 1
    counts = [Counter() for _ in range(n + 1)]
    for s in train:
        p = ["<s>"] * k + list(s) + ["</s>"]
        for t in range(k, len(p)):
            for m in range(1, n + 1):
                counts[m][tuple(p[t - m + 1 : t + 1])] += 1

    def cprime(m, g):
        if m == n:
            return counts[n][g]
        return sum(1 for h in counts[m + 1] if h[1:] == g)

    def prob(m, w, h):
        if m == 0:
            return 1.0 / len(support) if w in support else 0.0
        kids = {g[-1]: cprime(m, g) for g in counts[m] if g[:-1] == h}
        den = sum(kids.values())
        lower = prob(m - 1, w, h[1:])
        if den == 0:
            return lower

        def disc(c):
            return 0.0 if c == 0 else float(D[m - 1][min(c, 3) - 1])

        gamma = sum(disc(c) for c in kids.values())
        c = kids.get(w, 0)
        return (max(c - disc(c), 0.0) + gamma * lower) / den

    return prob, counts, cprime


def test_modified_kneser_ney_matches_brute_force(word_corpus):
    train, test = word_corpus
    train = train[:60]
    k = 2
    lm = NGramLM(order=k, smoothing="modified-kneser-ney").fit(train)
    D = lm.smoothing_.D[:, 1:].tolist()
    support = set(lm.vocabulary_.itos_) - {"<s>"}
    prob, counts, cprime = _reference_mkn(train, k, D, support)
    # Chen & Goodman's discount estimates from the count-of-counts of c'
    for m in range(1, k + 2):
        nc = Counter(cprime(m, g) for g in counts[m])
        y = nc[1] / (nc[1] + 2 * nc[2])
        est = [j - (j + 1) * y * nc[j + 1] / nc[j] for j in (1, 2, 3)]
        est = [
            min(max(e, lo), hi)
            for e, lo, hi in zip(est, (0.05, 0.1, 0.15), (0.99, 1.98, 2.97), strict=True)
        ]
        np.testing.assert_allclose(D[m - 1], est, rtol=1e-12)
    sents = train[:10] + test[:10]
    lp, _ = lm.token_log_probs(sents)
    unk = lm.vocabulary_
    want = []
    for s in sents:
        p = ["<s>"] * k + [t if t in unk else "<unk>" for t in s] + ["</s>"]
        want += [prob(k + 1, p[t], tuple(p[t - k : t])) for t in range(k, len(p))]
    np.testing.assert_allclose(lp.exp().numpy(), want, rtol=1e-10)


@pytest.mark.parametrize(
    "smoothing",
    [AddK(0.3), KneserNey(0.75), ModifiedKneserNey(), MLE()],
    ids=["add-k", "kn", "mkn", "mle"],
)
def test_conditionals_sum_to_one(word_corpus, smoothing):
    """Every row p(. | h), over seen, partly seen and unseen contexts, sums to 1."""
    train, _ = word_corpus
    lm = NGramLM(order=2, smoothing=smoothing).fit(train)
    v = lm.vocabulary_
    seen = v.encode(train[3])[:2]
    ctx = torch.stack(
        [
            seen,
            torch.tensor([v.bos_id, v.bos_id]),
            torch.tensor([5, 7]),
            torch.tensor([v.unk_id, 9]),
        ]
    )
    if isinstance(smoothing, MLE):  # MLE: an unseen context has no distribution
        torch.testing.assert_close(lm(ctx[:2]).probs.sum(1), torch.ones(2, dtype=torch.float64))
        with pytest.raises(ValueError, match="context row 0 has no probability mass under MLE"):
            lm(ctx[2:])
        return
    probs = lm(ctx).probs
    torch.testing.assert_close(probs.sum(1), torch.ones(4, dtype=torch.float64))
    assert float(probs[:, v.bos_id].max()) == 0.0  # <s> is never predicted


# ---------------------------------------------------------------------------- Markov chain


def _random_chain(S=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    P = torch.rand(S, S, generator=g, dtype=torch.float64) + 0.1
    return P / P.sum(1, keepdim=True)


def test_markov_chain_tables_are_normalized_counts():
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, 4, (int(n),), generator=g) for n in torch.randint(2, 30, (40,))]
    mc = MarkovChain(n_states=4).fit(seqs)
    counts = np.zeros((4, 4))
    first = np.zeros(4)
    for s in seqs:  # brute force over a small data set
        s = s.tolist()
        first[s[0]] += 1
        for a, b in zip(s[:-1], s[1:], strict=True):
            counts[a, b] += 1
    P = mc.transition_matrix_.numpy()
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(P, counts / counts.sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(mc.transition_counts_.numpy(), counts)
    np.testing.assert_allclose(mc.initial_.numpy(), first / first.sum())
    # log-likelihood by brute force
    want = [
        math.log(first[s[0]] / len(seqs))
        + sum(math.log(P[a, b]) for a, b in zip(s[:-1].tolist(), s[1:].tolist(), strict=True))
        for s in seqs[:5]
    ]
    np.testing.assert_allclose(mc.log_prob(seqs[:5]).numpy(), want, rtol=1e-12)
    # Dirichlet pseudo-counts
    mc2 = MarkovChain(n_states=4, alpha=0.5).fit(seqs)
    np.testing.assert_allclose(
        mc2.transition_matrix_.numpy(), (counts + 0.5) / (counts + 0.5).sum(1, keepdims=True)
    )


def test_order_two_markov_chain_table():
    x = torch.tensor([[0, 1, 2, 0, 1, 1, 2, 0, 1, 2]])
    mc = MarkovChain(order=2).fit(x)
    assert mc.transition_matrix_.shape == (3, 3, 3) and mc.initial_.shape == (3, 3)
    # (0,1) -> 2 twice, -> 1 once
    torch.testing.assert_close(
        mc.transition_matrix_[0, 1], torch.tensor([0, 1 / 3, 2 / 3], dtype=torch.float64)
    )
    assert float(mc.initial_[0, 1]) == 1.0
    assert float(mc.log_prob(x)) == pytest.approx(
        float(
            torch.log(
                mc.transition_matrix_[tuple(torch.stack([x[0, :-2], x[0, 1:-1], x[0, 2:]]))]
            ).sum()
        )
    )


def test_stationary_distribution_against_numpy_eig():
    P = _random_chain(5, seed=3)
    pi = stationary_distribution(P)
    torch.testing.assert_close(pi @ P, pi)
    vals, vecs = np.linalg.eig(P.numpy().T)
    ref = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    np.testing.assert_allclose(pi.numpy(), ref / ref.sum(), rtol=1e-10)
    torch.testing.assert_close(stationary_distribution(P, "power"), pi, rtol=1e-8, atol=1e-10)
    # reducible chain: not unique
    with pytest.raises(ValueError, match="multiplicity 2"):
        stationary_distribution(torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="row 0 sums to"):
        stationary_distribution(torch.tensor([[0.5, 0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="method must be one of"):
        stationary_distribution(P, "svd")


def test_markov_chain_samples_match_transition_matrix():
    """Empirical transitions of sampled chains vs P: every |z| below 5 standard errors."""
    P = _random_chain(4, seed=5)
    mc = MarkovChain(n_states=4).fit(torch.zeros(1, 2, dtype=torch.long))
    mc.transition_matrix_ = P
    x = mc.sample(400, length=200, generator=torch.Generator().manual_seed(0))  # (400, 200)
    counts = torch.zeros(4, 4, dtype=torch.float64).index_put_(
        (x[:, :-1].reshape(-1), x[:, 1:].reshape(-1)),
        torch.tensor(1.0, dtype=torch.float64),
        accumulate=True,
    )
    n_i = counts.sum(1, keepdim=True)
    z = (counts / n_i - P) / torch.sqrt(P * (1 - P) / n_i)
    assert float(z.abs().max()) < 5
    # and the long-run state frequencies approach the stationary distribution
    freq = torch.bincount(x[:, 100:].reshape(-1), minlength=4).double() / x[:, 100:].numel()
    torch.testing.assert_close(freq, mc.stationary_distribution(), atol=0.01, rtol=0)
    # refitting the samples recovers P
    refit = MarkovChain(n_states=4).fit(x)
    torch.testing.assert_close(refit.transition_matrix_, counts / n_i)


def _max_z(samples, vocab, P):
    """Largest |z| of the empirical transition frequencies against ``P`` over the cells with
    expected count ≥ 10 in rows seen ≥ 300 times; given the previous token the next one is a
    multinomial draw, so each z is close to N(0, 1)."""
    V = len(P)
    ids = torch.stack([vocab.encode(s) for s in samples])  # (B, T)
    counts = torch.bincount((ids[:, :-1] * V + ids[:, 1:]).reshape(-1), minlength=V * V)
    counts = counts.reshape(V, V).double()
    n_i = counts.sum(1, keepdim=True)
    assert float(counts[P == 0].sum()) == 0  # impossible transitions never happen
    ok = (n_i >= 300) & (n_i * P >= 10) & (n_i * (1 - P) >= 10)
    z = (counts / n_i.clamp(min=1) - P) / torch.sqrt(P * (1 - P) / n_i.clamp(min=1))
    return int((n_i >= 300).sum()), float(z[ok].abs().max())


def test_ngram_samples_match_bigram_table(shakespeare):
    lm = NGramLM(order=1, smoothing=AddK(0.5), eos=False).fit([shakespeare[:30_000]])
    P = lm.transition_matrix_  # (V, V)
    torch.testing.assert_close(P.sum(1), torch.ones(len(P), dtype=torch.float64))
    rows, z = _max_z(
        lm.sample(200, length=150, generator=torch.Generator().manual_seed(1)), lm.vocabulary_, P
    )
    assert rows >= 10 and z < 5
    # temperature T: the frequencies follow P^(1/T), renormalized
    sharp = P**2 / (P**2).sum(1, keepdim=True)
    rows, z = _max_z(
        lm.sample(200, length=150, generator=torch.Generator().manual_seed(2), temperature=0.5),
        lm.vocabulary_,
        sharp,
    )
    assert rows >= 10 and z < 5


def test_bigram_transition_matrix_and_stationary(word_corpus):
    train, _ = word_corpus
    lm = NGramLM(order=1, smoothing="mle").fit(train)
    v = lm.vocabulary_
    c = Counter()
    for s in train:
        p = ["<s>", *s, "</s>"]
        c.update(zip(p[:-1], p[1:], strict=True))
    P = lm.transition_matrix_
    tot = Counter()
    for (a, _), cnt in c.items():
        tot[a] += cnt
    stoi = v.stoi
    for (a, b), cnt in c.items():
        assert float(P[stoi[a], stoi[b]]) == pytest.approx(cnt / tot[a], rel=1e-12)
    assert int((P > 0).sum()) == len(c)  # and nothing else has mass
    seen_rows = P.sum(1) > 0
    torch.testing.assert_close(
        P.sum(1)[seen_rows], torch.ones(int(seen_rows.sum()), dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="sums to 0"):
        lm.stationary_distribution()  # MLE: </s> and <unk> rows are empty
    kn = lm.with_smoothing("kneser-ney")
    assert kn.counts_ is lm.counts_
    pi = kn.stationary_distribution()
    torch.testing.assert_close(pi @ kn.transition_matrix_, pi)
    np.testing.assert_allclose(pi.numpy(), kn.stationary_distribution("power").numpy(), atol=1e-8)


# ---------------------------------------------------------------------------- OOV and errors


def test_unknown_token_policy(word_corpus):
    train, test = word_corpus
    oov = [["the", "zyzzyva", "of", "qwertyuiop"]]
    for sm in ("kneser-ney", "modified-kneser-ney", "laplace"):
        lm = NGramLM(order=2, smoothing=sm).fit(train)
        assert math.isfinite(lm.perplexity(oov)) and math.isfinite(lm.perplexity(test))
    # NLTK's convention (no uniform base) gives unseen words probability 0
    nl = NGramLM(order=2, smoothing=KneserNey(uniform_base=False)).fit(train)
    assert nl.perplexity(oov) == math.inf
    strict = NGramLM(order=2, unk_policy="error").fit(train)
    with pytest.raises(ValueError, match=r"not in the vocabulary.*zyzzyva"):
        strict.perplexity(oov)
    # min_count maps rare training words to <unk>, which then has training counts
    rare = NGramLM(order=1, min_count=2).fit(train)
    assert rare.counts_.level(1).count[rare.vocabulary_.unk_id] > 0
    with pytest.raises(ValueError, match="needs unk_policy='map'"):
        Vocabulary(min_count=2, unk_policy="error")


def test_errors_name_the_problem(word_corpus):
    train, _ = word_corpus
    with pytest.raises(ValueError, match=r"order=9 is larger than the longest"):
        NGramLM(order=9).fit([["a", "b"], ["c"]])
    with pytest.raises(ValueError, match=r"sequences\[1\] is an empty sequence"):
        NGramLM(order=1).fit([["a"], []])
    with pytest.raises(ValueError, match="sequences is empty"):
        NGramLM(order=1).fit([])
    with pytest.raises(TypeError, match="got one str"):
        NGramLM(order=1).fit("hello")
    with pytest.raises(ValueError, match="order must be an int >= 0"):
        NGramLM(order=-1)
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGramLM(smoothing="good-turing")
    with pytest.raises(ValueError, match="padding must be one of"):
        NGramLM(padding="both")
    lm = NGramLM(order=2).fit(train)
    with pytest.raises(ValueError, match=r"sequences\[0\] is an empty sequence"):
        lm.log_prob([[]])
    for t in (0, -1.0):
        with pytest.raises(ValueError, match="temperature must be a float > 0"):
            lm.sample(1, length=5, temperature=t)
    with pytest.raises(ValueError, match="length must be an int >= 1"):
        lm.sample(1, length=0)
    with pytest.raises(ValueError, match=r"context ids must lie in \[0, V="):
        lm(torch.tensor([[0, 10**6]]))
    with pytest.raises(ValueError, match=r"context must have shape \(B, order=2\)"):
        lm(torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="transition_matrix_ needs order=1"):
        _ = lm.transition_matrix_
    with pytest.raises(ValueError, match="no hyperparameter to tune"):
        NGramLM(order=1, smoothing="mle").fit(train).tune(train[:5])
    with pytest.raises(ValueError, match="discount must be a float in"):
        KneserNey(1.5)
    with pytest.raises(ValueError, match=r"special token\(s\) \['<s>'\]"):
        NGramLM(order=1).fit([["<s>", "a"]])
    with pytest.raises(ValueError, match="order=3 needs sequences longer than 3"):
        MarkovChain(order=3).fit([[0, 1, 2], [1, 0]])
    with pytest.raises(ValueError, match="states must be integers >= 0"):
        MarkovChain().fit([[0, -1, 2]])
    with pytest.raises(ValueError, match=r"sequences\[1\] is an empty sequence"):
        MarkovChain().fit([[0, 1], []])
    with pytest.raises(TypeError, match=r"sequences\[0\] must be a 1-D sequence of integer states"):
        MarkovChain().fit(["abcab"])
    with pytest.raises(ValueError, match="stationary_distribution needs order=1"):
        MarkovChain(order=2).fit([[0, 1, 0, 1]]).stationary_distribution()


# ---------------------------------------------------------------------------- structure


def test_network_is_the_unrolled_chain():
    g1 = MarkovChain(order=1).fit(torch.tensor([[0, 1, 1, 0, 2]])).network.dag
    assert g1.nodes == ("x1", "x2", "x3", "x4")
    assert set(g1.edges) == {("x1", "x2"), ("x2", "x3"), ("x3", "x4")}
    chars = ["abcab", "bacca", "cab"]
    g2 = NGramLM(order=2).fit(chars).unrolled(3).dag  # x1 x2 x3 and the end x4 = </s>
    assert set(g2.edges) == {("x1", "x2"), ("x1", "x3"), ("x2", "x3"), ("x2", "x4"), ("x3", "x4")}
    assert g2.parents("x4") == ("x2", "x3")
    assert g2.d_separated("x1", "x4", given=["x2", "x3"])  # the order-2 Markov property
    assert NGramLM(order=0).fit(chars).network.dag.edges == ()  # bag of words
    g3 = NGramLM(order=3).fit(chars).unrolled(4).dag
    assert len(g3) == 5 and g3.parents("x5") == ("x2", "x3", "x4")


# ---------------------------------------------------------------------------- real data


def test_tiny_shakespeare_order5(data_dir):
    """Characters, first 90 % train / last 10 % validation: a 6-gram with modified
    Kneser–Ney (estimated discounts) beats add-k and reaches < 1.60 nats/char."""
    train, val = load_corpus(data_dir / "text" / "tinyshakespeare.txt", level="char")
    assert len(train) == int(0.9 * 1115394) and len(train) + len(val) == 1115394
    lm = NGramLM(order=5, eos=False).fit([train])
    nll = lm.cross_entropy([val])
    assert nll < 1.60
    assert lm.cross_entropy([val], bits=True) == pytest.approx(nll / math.log(2))
    assert lm.perplexity([val]) == pytest.approx(math.exp(nll))
    addk = lm.with_smoothing(AddK(0.05)).cross_entropy([val])
    assert nll < addk - 0.1
    text = "".join(
        lm.sample(length=200, generator=torch.Generator().manual_seed(0), prompt="ROMEO:")[0]
    )
    assert len(text) == 200 and set(text) <= set(train)


def test_tuning_lowers_heldout_cross_entropy(shakespeare):
    text = shakespeare[:100_000]
    a, b = train_val_split(text, 0.1)
    for sm in (ModifiedKneserNey(), KneserNey(0.5), AddK(1.0)):
        lm = NGramLM(order=3, smoothing=sm, eos=False).fit([a])
        before = lm.cross_entropy([b])
        after = lm.tune([b]).cross_entropy([b])
        assert after <= before + 1e-9
    assert lm.smoothing_.k < 1.0  # add-one is far too much for characters


def test_vocabulary_and_text_readers(tmp_path):
    v = Vocabulary().fit(["abca", ["b", "c"]])
    assert v.itos_ == ["<unk>", "<s>", "</s>", "a", "b", "c"]
    assert v.decode(v.encode("cab")) == ["c", "a", "b"]
    assert v.encode("xa").tolist() == [v.unk_id, 3]
    flat, lengths = v.encode_batch(["ab", ["c"]])
    assert flat.tolist() == [3, 4, 5] and lengths.tolist() == [2, 1]
    p = tmp_path / "t.txt"
    p.write_text("To be, or not\n\nto be.\n")
    assert tokenize(read_text(p), "word") == ["To", "be", ",", "or", "not", "to", "be", "."]
    assert lines(read_text(p)) == ["To be, or not", "to be."]
    assert load_corpus(p, val_fraction=0.5) == ("To be, or n", "ot\n\nto be.\n")
    with pytest.raises(ValueError, match="level must be one of"):
        tokenize("x", "byte")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_text(tmp_path / "missing.txt")


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_device_moves_the_tables(word_corpus, device):
    train, test = word_corpus
    ref = NGramLM(order=2).fit(train)
    lm = NGramLM(order=2, device=device).fit(train)
    assert lm.counts_.level(3).keys.device.type == device
    assert lm.smoothing_.D.device.type == device
    assert lm.perplexity(test) == pytest.approx(ref.perplexity(test), rel=1e-12)
    assert len(lm.sample(3, length=20, generator=torch.Generator(device).manual_seed(0))) == 3
    x = torch.randint(0, 3, (10, 30), generator=torch.Generator().manual_seed(0))
    mc = MarkovChain().fit(x)
    lp = mc.log_prob(x)
    mc.to(device)
    assert mc.transition_matrix_.device.type == device
    torch.testing.assert_close(mc.log_prob(x).cpu(), lp)
    assert mc.sample(4, length=6, generator=torch.Generator(device).manual_seed(0)).shape == (4, 6)


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney", "modified-kneser-ney"])
def test_tuned_state_round_trips(smoothing):
    """A fresh NGramLM loads a tuned model's state_dict: same scores (the generic round trip
    is in test_models.py)."""
    text = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"]
    lm = NGramLM(order=2, smoothing=smoothing).fit(text).tune(["the cat sat on the log"])
    buf = io.BytesIO()
    torch.save(lm.state_dict(), buf)
    buf.seek(0)
    fresh = NGramLM(order=2, smoothing=smoothing)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    test = ["the dog sat on the mat", "a cat"]
    torch.testing.assert_close(fresh.log_prob(test), lm.log_prob(test), rtol=0, atol=0)
    assert fresh.smoothing_.hyperparameters() == lm.smoothing_.hyperparameters()
