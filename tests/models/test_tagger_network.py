"""The tagger's decoding score and its Bayesian network: ``viterbi_score`` is what Viterbi maximizes
(brute force over every tag sequence, and Viterbi's own best value), and where the tagger is a
normalized joint (``smoothing=0``, no lexical factors) the network's ``log_prob`` is
``log_joint`` and its most probable explanation is ``predict``."""

from __future__ import annotations

import itertools

import pytest
import torch

from bayesgen.data.conllu import read_conllu
from bayesgen.models import HMMTagger
from bayesgen.models.mixture.errors import NotFittedError

PLAIN = {"smoothing": 0.0, "lexical_weight": 0.0}


@pytest.fixture(scope="module")
def ewt(data_dir):
    """1500 training sentences of UD English-EWT and the test set."""
    root = data_dir / "ud" / "UD_English-EWT"
    return read_conllu(root / "en_ewt-ud-train.conllu")[:1500], read_conllu(
        root / "en_ewt-ud-test.conllu"
    )


@pytest.fixture(scope="module")
def tagger(ewt):
    return HMMTagger(unknown="suffix").fit(ewt[0])


def _known(tagger, sents, n, length):
    vocab = set(tagger.vocab_)
    return [s for s in sents if len(s.words) == length and set(s.words) <= vocab][:n]


def _values(net, sents):
    """The network's values of tagged sentences: tag and word codes, and end = "yes"."""
    out = {}
    for i in range(len(sents[0].words)):
        for name, seq in ((f"t{i + 1}", "upos"), (f"w{i + 1}", "words")):
            states = net.variables[name].states
            out[name] = torch.tensor([states.index(getattr(s, seq)[i]) for s in sents])
    if "end" in net.variables:
        out["end"] = torch.ones(len(sents), dtype=torch.long)
    return out


@pytest.mark.parametrize("options", [{}, {"end": False}, {"order": 1}], ids=str)
def test_network_log_prob_is_the_log_joint(tagger, ewt, options):
    plain = tagger.with_options(**PLAIN, **options)
    sents = _known(plain, ewt[0], 6, 4) + _known(plain, ewt[1], 6, 4)
    assert len(sents) >= 8
    net = plain.network
    expected = plain.log_joint(sents)
    assert torch.isfinite(expected).all()
    torch.testing.assert_close(net.log_prob(_values(net, sents)), expected, rtol=0, atol=1e-10)
    longer = _known(plain, ewt[1], 4, 9)
    net9 = plain.unrolled(9)
    torch.testing.assert_close(
        net9.log_prob(_values(net9, longer)), plain.log_joint(longer), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("options", [{}, {"order": 1}], ids=str)
def test_most_probable_explanation_is_viterbi(tagger, ewt, options):
    plain = tagger.with_options(**PLAIN, **options)
    net = plain.network
    for s in _known(plain, ewt[1], 5, 4):
        evidence = {f"w{i + 1}": w for i, w in enumerate(s.words)} | {"end": "yes"}
        best = net.mpe(evidence).assignment
        tags = [plain.tags_[best[f"t{i}"]] for i in range(1, 5)]
        assert tags == plain.predict([s.words])[0]


@pytest.mark.parametrize(
    "options", [{}, PLAIN, {"unknown": "spelling"}, {"order": 1}, {"end": False}], ids=str
)
def test_score_is_what_viterbi_maximizes(ewt, tagger, options):
    """Every tag sequence of real 3-word sentences (unknown words included), brute force; and
    Viterbi's best value on longer sentences, lexical factors and the end term included."""
    if options.get("unknown") == "spelling":
        model = HMMTagger().fit(ewt[0][:600])
    else:
        model = tagger.with_options(**options)
    K = len(model.tags_)
    short = [s for s in ewt[1] if len(s.words) == 3][:3]
    assert not all(set(s.words) <= set(model.vocab_) for s in short)  # an unseen word
    every = list(itertools.product(model.tags_, repeat=3))  # K^3 tag sequences
    for s in short:
        scores = model.viterbi_score([(s.words, list(tags)) for tags in every])  # (K^3,)
        assert list(every[int(scores.argmax())]) == model.predict([s.words])[0]
    assert len(every) == K**3
    sents = [s for s in ewt[1][:40] if len(s.words) > 3]
    words = [s.words for s in sents]
    states, _, best = model._decode(words)
    predicted = model.predict(words)
    torch.testing.assert_close(
        model.viterbi_score(list(zip(words, predicted, strict=True))), best, rtol=0, atol=1e-9
    )
    gold = model.viterbi_score([(s.words, s.upos) for s in sents])
    assert bool((gold <= best + 1e-9).all())


def test_with_options_is_a_fit_with_those_options(ewt, tagger):
    fresh = HMMTagger(unknown="suffix", **PLAIN).fit(ewt[0])
    copy = tagger.with_options(**PLAIN)
    sents = ewt[1][:30]
    assert copy.predict(sents) == fresh.predict(sents)
    tagged = [(s.words, s.upos) for s in sents]
    torch.testing.assert_close(copy.viterbi_score(tagged), fresh.viterbi_score(tagged))
    assert tagger.smoothing == 1.0  # the original is untouched
    with pytest.raises(ValueError, match=r"\['rare_threshold'\] need a new fit"):
        tagger.with_options(rare_threshold=3)


def test_log_joint_of_an_unseen_word_is_minus_infinity(tagger):
    plain = tagger.with_options(**PLAIN)
    sentence = [(["The", "zxqwv", "."], ["DET", "NOUN", "PUNCT"])]
    assert float(plain.log_joint(sentence)) == float("-inf")
    assert torch.isfinite(plain.viterbi_score(sentence)).all()


def test_dag(tagger):
    g = tagger.with_options(**PLAIN).network.dag
    assert set(g.parents("t3")) == {"t1", "t2"} and g.parents("w3") == ("t3",)
    assert g.parents("end") == ("t4",)
    assert g.d_separated("w1", "w4", given=["t1", "t2", "t3", "t4"])
    g1 = tagger.with_options(**PLAIN, order=1, end=False).unrolled(3).dag
    assert g1.parents("t3") == ("t2",) and "end" not in g1.nodes


def test_errors_name_the_option(tagger):
    with pytest.raises(ValueError, match="smoothing must be 0 .* got 1.0"):
        _ = tagger.network
    no_smooth = tagger.with_options(smoothing=0)
    with pytest.raises(ValueError, match="lexical_weight must be 0 .* product of experts"):
        no_smooth.unrolled(3)
    with pytest.raises(ValueError, match="lexical_weight must be 0"):
        no_smooth.log_joint([(["The"], ["DET"])])
    assert len(no_smooth.with_options(order=1).unrolled(3)) == 7  # order 1: no lexical edges
    with pytest.raises(ValueError, match="tags must be among"):
        tagger.viterbi_score([(["The"], ["XYZ"])])
    with pytest.raises(NotFittedError):
        _ = HMMTagger(**PLAIN).network
