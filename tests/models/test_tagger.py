"""The CoNLL-U reader, the trigram-HMM tagger (TnT) and the ``bayesgen tag`` command."""

from __future__ import annotations

import io
import itertools
import json
import math

import numpy as np
import pytest
import torch

from bayesgen.cli import main
from bayesgen.data.conllu import parse_conllu, read_conllu
from bayesgen.models.tagger import HMMTagger, word_shape
from bayesgen.models.tagger_counts import deleted_interpolation
from bayesgen.models.tagger_input import tokenize

TINY_TRAIN = """\
# sent_id = 1
# text = The dog runs.
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\tVBZ\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tdo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\trun\trun\tVERB\tVB\t_\t0\troot\t_\t_
3.1\trun\trun\tVERB\tVB\t_\t_\t_\t0:root\t_
4\t!\t!\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tsleeps\tsleep\tVERB\tVBZ\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\tVBZ\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_
"""

TINY_TEST = """\
1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tsleeps\tsleep\tVERB\tVBZ\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_
"""


def tagged(text: str):
    return list(parse_conllu(text.splitlines(keepends=True)))


# ----------------------------------------------------------------------------- CoNLL-U
def test_reader_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = tmp_path / "tiny.conllu"
    path.write_text(TINY_TRAIN, encoding="utf-8")
    sents = read_conllu(path)
    assert len(sents) == 4
    assert sents[0].words == ["The", "dog", "runs", "."]
    assert sents[0].upos == ["DET", "NOUN", "VERB", "PUNCT"]
    assert sents[0].sent_id == "1" and sents[0].text == "The dog runs."
    assert sents[1].words == ["do", "n't", "run", "!"]  # no "don't", no copy node 3.1
    assert sents[1].xpos == ["VBP", "RB", "VB", "."]
    assert sents[3].line == 21


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("1\tThe\tthe\tDET\n", 1, "expected 10 tab-separated fields"),
        ("# c\n1\ta\t_\tX\t_\t_\t_\t_\t_\t_\nx\tb\t_\tX\t_\t_\t_\t_\t_\t_\n", 3, "ID must be"),
        ("1\ta\t_\tX\t_\t_\t_\t_\t_\t_\n3\tb\t_\tX\t_\t_\t_\t_\t_\t_\n", 2, "expected 2, got 3"),
        ("1\ta\t_\t\t_\t_\t_\t_\t_\t_\n", 1, "UPOS"),
        ("1\ta\t_\tX\t_\t_\t_\t_\t_\t_\n# late\n", 2, "comment line inside a sentence"),
    ],
)
def test_reader_names_the_malformed_line(text, line, what):
    with pytest.raises(ValueError, match=f"f.conllu:{line}: malformed CoNLL-U: .*{what}"):
        list(parse_conllu(io.StringIO(text), source="f.conllu"))


# ----------------------------------------------------------------------------- the model
def test_deleted_interpolation_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    f = torch.as_tensor(rng.poisson(1.5, size=(4, 4, 4)), dtype=torch.float64)
    N, lam = f.sum().item(), np.zeros(3)
    for i, j, k in itertools.product(range(4), repeat=3):
        c = f[i, j, k].item()
        if c == 0:
            continue
        f12, f2 = f[i, j].sum().item(), f[:, j].sum().item()
        f23, f3 = f[:, j, k].sum().item(), f[:, :, k].sum().item()
        r = [(f3 - 1) / (N - 1), (f23 - 1) / (f2 - 1) if f2 > 1 else 0.0]
        r.append((c - 1) / (f12 - 1) if f12 > 1 else 0.0)
        lam[int(np.argmax(r))] += c
    np.testing.assert_allclose(deleted_interpolation(f).numpy(), lam / lam.sum())


def test_tagger_estimates_from_counts():
    train = tagged(TINY_TRAIN)
    tagger = HMMTagger().fit(train)
    assert tagger.tags_ == ["AUX", "DET", "NOUN", "PART", "PUNCT", "VERB"]
    K = len(tagger.tags_)
    hmm = tagger.hmm_
    # interpolated trigram transitions are distributions over the next tag
    np.testing.assert_allclose(hmm.transmat2_.sum(-1).numpy(), np.ones((K, K)))
    assert math.isclose(float(tagger.lambdas_.sum()), 1.0)
    # p(<s> <s> -> DET): 3 of the 4 sentences start with DET; with λ-mixing it stays the largest
    assert tagger.tags_[int(hmm.startprob_.argmax())] == "DET"
    # known words: p(t | w) = f(w, t) / f(w) once the suffix smoothing is off
    plain = HMMTagger(smoothing=0.0).fit(train)
    scores, known = plain.log_emissions(["cat", "zebra"])
    assert known.tolist() == [True, False]
    noun = plain.tags_.index("NOUN")
    prior = plain.log_prior_
    assert float(scores[0, noun] + prior[noun]) == pytest.approx(0.0)  # p(NOUN | cat) = 1
    assert torch.isinf(scores[0]).sum() == K - 1
    assert torch.isfinite(scores[1]).all()  # unknown: the suffix model gives every tag a score
    assert tagger.predict(train) == [s.upos for s in train]
    assert tagger.predict(tagged(TINY_TEST)) == [["DET", "NOUN", "VERB", "PUNCT"]]


def test_word_shapes_and_tokenizer():
    assert [word_shape(w) for w in ["3rd", ":-)", "USA", "Paris", "dog"]] == list("dpACl")
    assert word_shape("The", first=True) == "S"
    assert tokenize("Google's CEO doesn't live in the U.S., see http://x.org!\n\nOK.") == [
        ["Google", "'s", "CEO", "does", "n't", "live", "in", "the", "U.S.", ",", "see",
         "http://x.org", "!"],
        ["OK", "."],
    ]  # fmt: skip


def test_save_and_load_round_trip(tmp_path):
    train = tagged(TINY_TRAIN)
    tagger = HMMTagger(smoothing=0.5).fit(train)
    path = tmp_path / "model.json"
    tagger.save(path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format"] == "bayesgen.HMMTagger" and payload["config"]["smoothing"] == 0.5
    loaded = HMMTagger.load(path)
    sents = [["The", "zebra", "sleeps", "."], ["A", "dog", "runs", "!"]]
    assert loaded.predict(sents) == tagger.predict(sents)
    words = ["The", "zebra", "Sleepers", "42", "cat"]
    torch.testing.assert_close(loaded.log_emissions(words)[0], tagger.log_emissions(words)[0])
    for unknown in ("suffix", "spelling"):  # both unknown-word models survive the trip
        one = HMMTagger(unknown=unknown).fit(train)
        one.save(path)
        torch.testing.assert_close(
            HMMTagger.load(path).log_emissions(words)[0], one.log_emissions(words)[0]
        )
    np.testing.assert_array_equal(loaded.hmm_.transmat2_.numpy(), tagger.hmm_.transmat2_.numpy())
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a bayesgen.HMMTagger model file"):
        HMMTagger.load(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("\x80 not json")
    with pytest.raises(ValueError, match="not a JSON file"):
        HMMTagger.load(tmp_path / "junk.json")


def test_bad_input_errors():
    with pytest.raises(ValueError, match="fit needs tagged sentences"):
        HMMTagger().fit([["a", "b"]])
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        HMMTagger().fit([(["a"], ["X"]), ([], [])])
    with pytest.raises(ValueError, match="sentence 0 has 2 words but 1 tags"):
        HMMTagger().fit([(["a", "b"], ["X"])])
    with pytest.raises(ValueError, match="not fitted"):
        HMMTagger().predict([["a"]])
    with pytest.raises(ValueError, match="smoothing must be a finite number >= 0"):
        HMMTagger(smoothing=-1)
    with pytest.raises(ValueError, match="unknown must be 'spelling' or 'suffix', got 'hmm'"):
        HMMTagger(unknown="hmm")
    with pytest.raises(ValueError, match="spelling_l2 must be a finite number >= 0, got -1"):
        HMMTagger(spelling_l2=-1)


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def ewt(data_dir):
    root = data_dir / "ud" / "UD_English-EWT"
    return read_conllu(root / "en_ewt-ud-train.conllu"), read_conllu(root / "en_ewt-ud-test.conllu")


def test_ewt_train_to_test_accuracy(ewt):
    """Full UD English-EWT, train -> test (25 094 tokens): 95.1% with the spelling model
    (94.2% with TnT's suffix model instead; TnT alone, without the lexical factors: 92.8%)."""
    train, test = ewt
    r = HMMTagger().fit(train).evaluate(test)
    assert r["n_tokens"] == 25094
    assert r["accuracy"] >= 0.95
    assert r["known_accuracy"] >= 0.96 and r["unknown_accuracy"] >= 0.80
    assert 0.09 < r["unknown_rate"] < 0.092


def test_against_nltk_tnt(ewt):
    """The same model family in NLTK (TnT with its suffix model), on the same data: without the
    lexical factors and with the suffix model ours is TnT and scores the same; the full model
    is better."""
    from nltk.tag.tnt import TnT

    train, test = ewt[0][:2000], ewt[1][:400]
    peer = TnT()
    peer.train([list(zip(s.words, s.upos, strict=True)) for s in train])
    gold = [t for s in test for t in s.upos]
    theirs = [t for sent in peer.tagdata([s.words for s in test]) for _, t in sent]
    peer_acc = float(np.mean([a == b for a, b in zip(theirs, gold, strict=True)]))
    tnt = HMMTagger(lexical_weight=0.0, unknown="suffix").fit(train).accuracy(test)
    assert abs(tnt - peer_acc) < 0.005, (tnt, peer_acc)
    assert HMMTagger().fit(train).accuracy(test) > peer_acc + 0.005


# ----------------------------------------------------------------------------- the command
def test_command_trains_scores_saves_and_tags_stdin(tmp_path, capsys, monkeypatch):
    train, test = tmp_path / "train.conllu", tmp_path / "test.conllu"
    train.write_text(TINY_TRAIN, encoding="utf-8")
    test.write_text(TINY_TEST, encoding="utf-8")
    model = tmp_path / "model.json"
    assert main(["tag", str(train), str(test), "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy 1.0000 (4/4 tokens)")
    assert json.loads(model.read_text(encoding="utf-8"))["tags"][0] == "AUX"
    monkeypatch.setattr("sys.stdin", io.StringIO("The cat sleeps.\nA dog runs !\n"))
    assert main(["tag", "--model", str(model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["The/DET cat/NOUN sleeps/VERB ./PUNCT", "A/DET dog/NOUN runs/VERB !/PUNCT"]
    assert main(["tag", "--model", str(model), str(test)]) == 0
    assert "accuracy 1.0000" in capsys.readouterr().out


def test_command_reports_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.conllu"
    bad.write_text(TINY_TEST + "\n1\tx\tx\tX\n", encoding="utf-8")
    assert main(["tag", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.conllu:6: malformed CoNLL-U" in err and "Traceback" not in err
    assert main(["tag", str(tmp_path / "missing.conllu")]) == 2
    assert "missing.conllu" in capsys.readouterr().err
    assert main(["tag"]) == 2
    assert "give a TRAIN.conllu file" in capsys.readouterr().err
