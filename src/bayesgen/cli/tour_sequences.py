"""The tour's sections on sequences, in the chapter's order: a Markov chain learnt back from
its samples, n-gram language models, the hidden Markov model and the part-of-speech tagger. The
n-gram and tagger sections read real corpora from a data folder when one is given (Tiny
Shakespeare, UD English-EWT) and say so when it is not.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import torch

from .report import Figure, ResultTable, Section, no_data, save_dag

__all__ = ["SECTIONS"]


def markov_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.3: a homogeneous Markov chain's transition matrix learnt back from its samples."""
    from ..models import MarkovChain

    states = ["sunny", "cloudy", "rainy"]
    P = torch.tensor(
        [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]], dtype=torch.float64
    )  # P[i, j] = p(x_{t+1} = j | x_t = i)
    true = MarkovChain(3)
    true.n_states_ = 3
    true.from_summaries(torch.ones(3, dtype=torch.float64), P)  # rows already sum to one
    train = true.sample(200, length=50, generator=torch.Generator().manual_seed(0))  # (200, 50)
    test = true.sample(200, length=50, generator=torch.Generator().manual_seed(1))
    learnt = MarkovChain(3).fit(train)
    trans = [
        [states[i], states[j], float(P[i, j]), float(learnt.transition_matrix_[i, j]),
         int(learnt.transition_counts_[i, j])]
        for i, j in itertools.product(range(3), range(3))
    ]  # fmt: skip
    pi_true, pi_learnt = true.stationary_distribution(), learnt.stationary_distribution()
    freq = torch.bincount(train.reshape(-1), minlength=3).double() / train.numel()
    stationary = [
        [states[i], float(pi_true[i]), float(pi_learnt[i]), float(freq[i])] for i in range(3)
    ]
    steps = test.shape[0] * (test.shape[1] - 1)
    nll = [
        ["true chain", float(-true.log_prob(test).sum() / test.numel())],
        ["learnt chain", float(-learnt.log_prob(test).sum() / test.numel())],
    ]
    fig = save_dag(learnt.network, out / "markov_dag.png")
    return Section(
        "A Markov chain (§2.1.3.3)",
        f"The transition matrix of a 3-state weather chain estimated by maximum likelihood "
        f"(normalized transition counts) from 200 sampled sequences of 50 days; scored on 200 "
        f"more ({steps:,} transitions).",
        "A first-order chain assumes the future is independent of the past given the present, "
        "p(xₜ₊₁ | x₁, …, xₜ) = p(xₜ₊₁ | xₜ), with one transition matrix shared by every "
        "step (a homogeneous chain).",
        figures=[
            Figure(
                fig, "The DAG of a Markov chain, unrolled over four steps: x1 → x2 → x3 → x4.", "4"
            )
        ],
        tables=[
            ResultTable(
                "Transition probabilities p(xₜ₊₁ | xₜ)",
                ["from", "to", "true", "learnt", "transitions seen"],
                trans,
            ),
            ResultTable(
                "Stationary distribution π = π P",
                ["state", "true π", "learnt π", "frequency in the data"],
                stationary,
            ),
            ResultTable("Held-out negative log-likelihood, nats per day", ["model", "NLL"], nll),
        ],
    )


def ngram_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.3: character n-gram models of Tiny Shakespeare (first 90% train, last 10%
    validation), Kneser–Ney smoothing, NLL for orders 1..6."""
    title = "Character n-grams of Tiny Shakespeare (§2.1.3.3)"
    path = None if data is None else data / "text" / "tinyshakespeare.txt"
    if path is None or not path.exists():
        return Section(title, no_data(data, "text/tinyshakespeare.txt"))
    from ..data.text import read_text, train_val_split
    from ..models import NGramLM

    train, val = train_val_split(read_text(path))
    rows = []
    for k in range(1, 7):
        lm = NGramLM(order=k, eos=False).fit([train])  # Kneser–Ney
        nll = lm.cross_entropy([val])
        rows.append([k, k - 1, nll, nll / math.log(2)])
    text = "".join(
        lm.sample(length=300, generator=torch.Generator().manual_seed(0), prompt="ROMEO:\n")[0]
    )
    return Section(
        title,
        f"Character n-gram models of orders 1 to 6 with Kneser–Ney smoothing, counted on the "
        f"first 90% of Tiny Shakespeare ({len(train):,} characters) and scored on the last 10% "
        f"({len(val):,}).",
        "An n-gram is a Markov chain of order n − 1 over characters: each character depends on "
        "the n − 1 before it. Longer contexts predict better until the counts become too sparse.",
        tables=[
            ResultTable(
                "Validation negative log-likelihood",
                ["n", "Markov order", "nats/char", "bits/char"],
                rows,
            ),
            ResultTable("A sample of the 6-gram model", ["after 'ROMEO:'"], [[text]]),
        ],
    )


def hmm_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.4: the occasionally dishonest casino, an HMM learnt back by Baum–Welch."""
    from ..models import HMM

    casino = HMM(2, "categorical", n_features=6)
    casino.startprob_ = torch.tensor([0.5, 0.5], dtype=torch.float64)
    casino.transmat_ = torch.tensor([[0.95, 0.05], [0.10, 0.90]], dtype=torch.float64)
    loaded = [0.1] * 5 + [0.5]
    casino.emissionprob_ = torch.tensor([[1 / 6] * 6, loaded], dtype=torch.float64)
    X, Z = casino.sample_joint(
        20, length=300, generator=torch.Generator().manual_seed(0)
    )  # (20, 300, 1), (20, 300)
    fitted = HMM(2, "categorical", n_iter=200, n_init=4, random_state=0).fit(X)
    _, path = casino.decode(X)
    _, guess = fitted.decode(X)
    # the learnt states are the true ones up to a permutation: the loaded die favours the six
    perm = torch.argsort(fitted.emissionprob_[:, 5])  # perm[k]: the learnt state of true state k
    inverse = torch.argsort(perm)
    A = fitted.transmat_[perm][:, perm]
    B = fitted.emissionprob_[perm]
    names = ["fair", "loaded"]
    trans = [
        [names[i], names[j], float(casino.transmat_[i, j]), float(A[i, j])]
        for i, j in itertools.product(range(2), range(2))
    ]
    emission = [
        [face + 1, float(casino.emissionprob_[0, face]), float(B[0, face]),
         float(casino.emissionprob_[1, face]), float(B[1, face])]
        for face in range(6)
    ]  # fmt: skip
    scores = [
        ["true parameters", float(casino.score(X)), float((path == Z).double().mean())],
        ["learnt by Baum–Welch", float(fitted.score(X)),
         float((inverse[guess] == Z).double().mean())],
    ]  # fmt: skip
    fig = save_dag(casino.network, out / "hmm_dag.png", observed=[f"x{t}" for t in range(1, 5)])
    return Section(
        "A hidden Markov model (§2.1.3.4)",
        "Baum–Welch (EM, 4 restarts) on 20 sequences of 300 rolls sampled from the occasionally "
        "dishonest casino (a fair die and a loaded one), then Viterbi decoding of the dice.",
        "The hidden state zₜ (which die is in use) is a Markov chain; each roll xₜ depends only "
        "on zₜ. The learnt states are matched to the true ones by the probability of a six.",
        figures=[
            Figure(
                fig,
                "The DAG of a hidden Markov model over four steps: the hidden chain z1 → z2 → z3 → "
                "z4, and each zt → xt (the observations, shaded).",
                "5",
            )
        ],
        tables=[
            ResultTable("Fit and decoding", ["parameters", "log p(X)", "Viterbi accuracy"], scores),
            ResultTable(
                "Transition probabilities p(zₜ₊₁ | zₜ)", ["from", "to", "true", "learnt"], trans
            ),
            ResultTable(
                "Emission probabilities p(xₜ | zₜ)",
                ["face", "fair, true", "fair, learnt", "loaded, true", "loaded, learnt"],
                emission,
            ),
        ],
    )


def tagger_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.4: the part-of-speech HMM trained on UD English-EWT train, scored on test."""
    title = "A part-of-speech HMM (§2.1.3.4)"
    root = None if data is None else data / "ud" / "UD_English-EWT"
    if root is None or not root.exists():
        return Section(title, no_data(data, "ud/UD_English-EWT"))
    from ..data.conllu import read_conllu
    from ..models import HMMTagger

    train = read_conllu(root / "en_ewt-ud-train.conllu")
    tagger = HMMTagger().fit(train)
    r = tagger.evaluate(read_conllu(root / "en_ewt-ud-test.conllu"))
    sentence = "I saw her duck with a telescope .".split()
    tags = tagger.predict([sentence])[0]
    # its Bayesian network: TnT without the lexical factors and the emission smoothing (with
    # them the score is no normalized joint), on the same counts
    fig = save_dag(
        tagger.with_options(smoothing=0, lexical_weight=0).network.dag,
        out / "tagger_dag.png",
        observed=[f"w{i}" for i in range(1, 5)] + ["end"],
    )
    return Section(
        title,
        f"A lexicalized trigram HMM tagger counted on the {len(train):,} sentences of UD "
        f"English-EWT train and scored on its test set ({r['n_tokens']:,} tokens).",
        "The tags are the hidden chain and the words the observations; Viterbi decoding finds "
        "the most probable tag sequence of a sentence.",
        figures=[
            Figure(
                fig,
                "The Bayesian network of the trigram HMM tagger over four words: tₜ₋₂, tₜ₋₁ → "
                "tₜ → wₜ, and the sentence end after t4 (the words and the end, shaded, are "
                "observed). The lexical factors that raise the accuracy (wₜ₋₁ → tₜ, tₜ₋₁ → wₜ) "
                "are log-ratios, not probabilities, so they are not part of it.",
            )
        ],
        tables=[
            ResultTable(
                "Tagging accuracy on EWT test",
                ["words", "accuracy"],
                [
                    ["all", float(r["accuracy"])],
                    ["seen in training", float(r["known_accuracy"])],
                    ["unseen in training", float(r["unknown_accuracy"])],
                ],
            ),
            ResultTable("A sentence tagged", ["word", *sentence], [["tag", *tags]]),
        ],
    )


SECTIONS = [markov_section, ngram_section, hmm_section, tagger_section]
