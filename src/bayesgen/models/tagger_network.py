"""The HMM tagger's decoding objective, and the tagger as a Bayesian network where it is one.

Viterbi maximizes over the tags t_1..t_n of a sentence w_1..w_n the score

    s(t, w) = Σ_i log p(t_i | t_{i-2}, t_{i-1}) + Σ_i e(w_i, t_i) [+ log p(</s> | t_n)]
              [+ a Σ_i ℓ_i(t_{i-1}, t_i)],

with e(w, t) = log p(t | w) − log P̂(t) (= log p(w | t) − log p̂(w) by Bayes' rule), the end
term with ``end`` and the lexical log-ratios ℓ with ``lexical_weight`` a > 0 (order 2).
:func:`tagger_score` computes it for given tags (:meth:`HMMTagger.viterbi_score`).

Adding Σ_i log p̂(w_i), p̂(w) = f(w) / N the training word frequency, changes no argmax over tags
and, for known words with ``smoothing=0`` and no lexical factors, turns every e(w, t) into
log f(w, t) / f(t), a normalized emission over the training vocabulary. Then

    log p(t, w) = s(t, w) + Σ_i log p̂(w_i)

is the log-density of the Bayesian network t_{i-2}, t_{i-1} → t_i → w_i (:func:`tagger_network`,
plus a binary node ``end`` ← t_n observed ``"yes"`` with ``end``), whose Tables are the tagger's
own: ``startprob_``, ``transmat_``, ``transmat2_`` of its HMM, f(w, t) / f(t) and p(</s> | t_n).
Elsewhere the score is no normalized joint: with ``smoothing`` c > 0 the emissions of known words
mix in the unknown-word model, Σ_w p(t | w) p̂(w) / P̂(t) ≠ 1; the lexical factors are
unnormalized log-ratios (a product of experts); an unseen word's e(w, t) has no p̂(w) > 0 over
an open vocabulary (its log p(t, w) is −inf, and it is no state of the network's words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from .._checks import check_int
from ..factors import Table
from ..graph import time_layout
from ..network import BayesNet
from ..variables import Discrete
from .ngram_network import token_states

if TYPE_CHECKING:
    from .tagger import HMMTagger

__all__ = ["check_generative", "tagger_network", "tagger_score", "word_log_frequency"]


def check_generative(tagger: HMMTagger) -> None:
    """Raise unless the tagger's score is a normalized joint (``smoothing=0``, no lexical
    factors; see the module)."""
    if tagger.smoothing != 0:
        raise ValueError(
            f"smoothing must be 0 for the tagger to be a Bayesian network (emissions of known "
            f"words that mix in the unknown-word model are not normalized over words), got "
            f"{tagger.smoothing!r}; use with_options(smoothing=0)"
        )
    if tagger.lexical_weight > 0 and tagger.order == 2:
        raise ValueError(
            f"lexical_weight must be 0 for the tagger to be a Bayesian network (its lexical "
            f"factors are unnormalized log-ratios, a product of experts), got "
            f"{tagger.lexical_weight!r}; use with_options(lexical_weight=0)"
        )


def tagger_score(tagger: HMMTagger, words: list[list[str]], tags: list[list[str]]) -> Tensor:
    """s(t, w) of each tagged sentence (see the module), shape (B,)."""
    lengths = torch.tensor([len(s) for s in words], dtype=torch.long)  # (B,)
    flat = [w for s in words for w in s]
    flat_tags = [x for s in tags for x in s]
    t = torch.as_tensor(pd.Index(tagger.tags_).get_indexer(flat_tags), dtype=torch.long)  # (N,)
    unknown = torch.nonzero(t < 0).squeeze(1)
    if unknown.numel():
        raise ValueError(
            f"tags must be among the tagger's {tagger.tags_}, got {flat_tags[int(unknown[0])]!r}"
        )
    scores, _ = tagger._emission_scores(flat, lengths)  # (N, K), or (N, K, K) lexical
    N = len(flat)
    i = torch.arange(N)
    pos = i - (torch.cumsum(lengths, 0) - lengths).repeat_interleave(lengths)  # (N,) in sentence
    prev = torch.where(pos >= 1, t[(i - 1).clamp_min(0)], 0)  # t_{i-1} (0 at i = 1)
    prev2 = torch.where(pos >= 2, t[(i - 2).clamp_min(0)], 0)  # t_{i-2}
    emit = scores[i, prev, t] if scores.dim() == 3 else scores[i, t]  # (N,)
    hmm = tagger.hmm_
    start, A = hmm.startprob_.log(), hmm.transmat_.log()  # (K,), (K, K)
    trans = torch.where(pos == 0, start[t], A[prev, t])  # (N,)
    if tagger.order == 2:
        trans = torch.where(pos >= 2, hmm.transmat2_.log()[prev2, prev, t], trans)
    seq = torch.arange(len(words)).repeat_interleave(lengths)  # (N,)
    return torch.zeros(len(words), dtype=emit.dtype).index_add_(0, seq, trans + emit)


def word_log_frequency(tagger: HMMTagger, words: list[str]) -> Tensor:
    """log p̂(w) = log f(w) / N of each token (−inf for a word unseen in training), (N,)."""
    freq = tagger.word_tag_counts_.sum(1).to(tagger.dtype)  # (V,)
    ids = torch.as_tensor(tagger._vocab_index.get_indexer(words), dtype=torch.long)  # (N,)
    logf = torch.log(freq / freq.sum())[ids.clamp_min(0)]
    return torch.where(ids >= 0, logf, float("-inf"))


def tagger_network(tagger: HMMTagger, T: int) -> BayesNet:
    """The tagger as the Bayesian network of T tags and words (see the module)."""
    tagger._check_fitted()
    check_generative(tagger)
    T = check_int("T", T, low=1)
    hmm = tagger.hmm_
    t = [Discrete(f"t{i}", tagger.tags_) for i in range(1, T + 1)]
    words = token_states(tagger.vocab_)
    w = [Discrete(f"w{i}", words) for i in range(1, T + 1)]
    factors = [Table(t[0], probs=hmm.startprob_)]
    for i in range(1, T):
        if tagger.order == 2 and i >= 2:
            factors.append(Table(t[i], [t[i - 2], t[i - 1]], probs=hmm.transmat2_))
        else:
            factors.append(Table(t[i], [t[i - 1]], probs=hmm.transmat_))
    emission = tagger.log_emission_.T.exp()  # (K, V): f(w, t) / f(t)
    factors += [Table(w[i], [t[i]], probs=emission) for i in range(T)]
    top = [v.name for v in t]
    if tagger.end:
        end = Discrete("end", ["no", "yes"])
        p_end = tagger.log_end_.exp()  # (K,) p(</s> | t_n)
        factors.append(Table(end, [t[-1]], probs=torch.stack([1 - p_end, p_end], -1)))
        top.append(end.name)
    name = f"{'trigram' if tagger.order == 2 else 'bigram'} HMM tagger, {T} words"
    return BayesNet(factors, name=name, layout=time_layout(top, [v.name for v in w]))
