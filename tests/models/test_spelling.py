"""The spelling model p(t | w): features, agreement with scikit-learn, sufficient statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bayesgen.models.spelling import SpellingModel, spelling_features

WORDS = [
    "running", "jumped", "quickly", "happiness", "Paris", "London", "42", "3rd", "walks",
    "slowly", "sadness", "played", "Berlin", "1999", "talking", "sings", "kindness", "Rome",
    "well-known", "e-mail", "NASA", "http://x.org", "a@b.com", ":-)",
]  # fmt: skip
TAGS = [
    "VERB", "VERB", "ADV", "NOUN", "PROPN", "PROPN", "NUM", "ADJ", "VERB", "ADV", "NOUN",
    "VERB", "PROPN", "NUM", "VERB", "VERB", "NOUN", "PROPN", "ADJ", "NOUN", "PROPN", "X", "X",
    "SYM",
]  # fmt: skip


def _data(seed: int = 0):
    """Word types with random tag counts around their tag (a word may take several tags)."""
    names = sorted(set(TAGS))
    K = len(names)
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, 2, (len(WORDS), K), generator=g).double()  # (U, K) noise
    counts[torch.arange(len(WORDS)), [names.index(t) for t in TAGS]] += torch.randint(
        1, 6, (len(WORDS),), generator=g
    ).double()
    first = [i % 5 == 0 for i in range(len(WORDS))]
    return WORDS, first, counts, K


def test_features():
    f = spelling_features("Well-known", first=True)
    assert {"bias", "shape=Xxx-xx", "cap-first", "hyphen", "s2=wn", "p3=wel", "w=well-known"} <= (
        set(f)
    )
    assert "cap" in spelling_features("Paris") and "cap-first" not in spelling_features("Paris")
    assert {"digit", "shape=dd"} <= set(spelling_features("1999"))
    assert {"url", "period"} <= set(spelling_features("http://x.org"))
    assert "at" in spelling_features("a@b.com") and "no-alnum" in spelling_features(":-)")
    assert "all-caps" in spelling_features("NASA") and "all-caps" not in spelling_features("A")


def test_matches_sklearn_logistic_regression():
    """Our loss (1/N) Σ c log p + λ||W||² is sklearn's C Σ c log p + ||W||²/2 with
    C = 1 / (2 λ N): the same optimum, so the same probabilities."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    words, first, counts, K = _data()
    lam = 1e-2
    ours = SpellingModel(K, l2=lam, max_iter=500).fit(words, first, counts)
    p = ours(words, first).probs  # (U, K)
    # the same rows in sklearn: one row per (type, tag) with the count as sample weight
    u, k = counts.nonzero(as_tuple=True)
    feats = [
        {x: 1.0 for x in spelling_features(words[i], first[i]) if x != "bias"} for i in u.tolist()
    ]
    vec = DictVectorizer()
    X = vec.fit_transform(feats)
    peer = LogisticRegression(C=1 / (2 * lam * float(counts.sum())), tol=1e-10, max_iter=10000)
    peer.fit(X, k.numpy(), sample_weight=counts[u, k].numpy())
    Xq = vec.transform(
        [{x: 1.0 for x in spelling_features(w, f)} for w, f in zip(words, first, strict=True)]
    )
    np.testing.assert_allclose(p.detach().numpy(), peer.predict_proba(Xq), atol=1e-4)


def test_counts_are_sufficient_statistics():
    """Fitting on types with counts is fitting on the tokens they stand for."""
    words, first, counts, K = _data(1)
    by_type = SpellingModel(K, l2=1e-2, max_iter=500).fit(words, first, counts)
    u, k = counts.nonzero(as_tuple=True)
    reps = counts[u, k].long()
    tok = torch.repeat_interleave(torch.arange(len(u)), reps)  # one row per token
    tok_words = [words[i] for i in u[tok].tolist()]
    tok_first = [first[i] for i in u[tok].tolist()]
    one_hot = torch.nn.functional.one_hot(k[tok], K).double()
    by_token = SpellingModel(K, l2=1e-2, max_iter=500).fit(tok_words, tok_first, one_hot)
    torch.testing.assert_close(
        by_type(words, first).probs, by_token(words, first).probs, atol=1e-5, rtol=0
    )


def test_unseen_features_and_gradients():
    words, first, counts, K = _data()
    model = SpellingModel(K).fit(words, first, counts)
    d = model(["zzzqqq", "Xyzzy"], [False, True])  # nothing known but bias and shapes
    assert d.batch_shape == (2,) and torch.allclose(
        d.probs.sum(1), torch.ones(2, dtype=d.probs.dtype)
    )
    d.log_prob(torch.tensor([0, 1])).sum().backward()
    assert model.weight.grad is not None and model.bias.grad is not None


def test_bad_input():
    with pytest.raises(ValueError, match="n_tags must be an integer >= 1, got 0"):
        SpellingModel(0)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -1"):
        SpellingModel(3, l2=-1)
    with pytest.raises(ValueError, match=r"tag_counts must have shape \(2, 3\), got \(2, 4\)"):
        SpellingModel(3).fit(["a", "b"], [False, False], torch.ones(2, 4))
    with pytest.raises(ValueError, match="at least one tagged word"):
        SpellingModel(3).fit(["a"], [False], torch.zeros(1, 3))
