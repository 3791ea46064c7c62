"""A part-of-speech tagger: a second-order HMM over tags with word emissions (TnT, Brants 2000),
lexicalized for frequent words.

The tags t_1..n of a sentence are the hidden chain, the words w_1..n the observations:

    p(w, t) = Π_i p(t_i | t_{i-2}, t_{i-1}) p(w_i | t_i),

with two sentence-boundary tags before t_1 (so p(t_1 | <s>, <s>) is ``startprob_`` of the HMM and
p(t_2 | <s>, t_1) its ``transmat_``) and, optionally, one after t_n. Everything is estimated by
counting labelled sentences:

* transitions by deleted interpolation of unigram, bigram and trigram relative frequencies,
  p(t3 | t1, t2) = λ1 P̂(t3) + λ2 P̂(t3 | t2) + λ3 P̂(t3 | t1, t2), the λ from leave-one-out counts;
* known words: p(w | t) = f(w, t) / f(t);
* unknown words: p(w | t) ∝ P(t | w) / P̂(t), with P(t | w) learnt from the rare training words
  (frequency ≤ ``rare_threshold``), which stand in for the unseen ones. ``unknown="spelling"``
  (the default) takes it from :class:`~bayesgen.models.spelling.SpellingModel`, a log-linear
  model of the word's suffixes, prefixes, shape, capitals, digits and hyphens;
  ``unknown="suffix"`` is TnT's suffix model, one table per word shape (capitalized, containing
  a digit, punctuation only, other), P(t | l_{n-i+1..n}) = (P̂(t | l_{n-i+1..n})
  + θ P(t | l_{n-i+2..n})) / (1 + θ), θ the standard deviation of the tag unigram probabilities.

Lexical factors (after Lee, Rim & Seo 2000 and Thede & Harper 1999) add two edges to the graph
that Viterbi decodes, for words seen at least ``lexical_min_count`` times: w_{i-1} -> t_i (the
transition depends on the previous word) and t_{i-1} -> w_i (the emission depends on the
previous tag). Each enters as a log-ratio to the plain factor, smoothed towards it with weight
β (``lexical_prior``):

    log p(t_i | t_{i-1}, w_{i-1}) / p(t_i | t_{i-1}) + log p(w_i | t_{i-1}, t_i) / p(w_i | t_i),

scaled by ``lexical_weight`` (0 turns them off and leaves TnT). They make the emission score a
function of (t_{i-1}, t_i), which the second-order Viterbi of :class:`bayesgen.models.HMM` takes
as pair emissions. A model is saved as JSON counts (never pickle) and rebuilt on load.

:meth:`HMMTagger.viterbi_score` is the objective Viterbi maximizes. Without the lexical factors
and with ``smoothing=0`` the tagger is a normalized joint p(t, w) (:meth:`~HMMTagger.log_joint`),
and :attr:`~HMMTagger.network` is that Bayesian network, of Tables (see
:mod:`~bayesgen.models.tagger_network`, which also says why the other options are no joint).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .._checks import check_int, check_option, check_real
from ..network import BayesNet
from .base import Fitted
from .hmm import HMM
from .spelling import SpellingModel
from .tagger_counts import (
    deleted_interpolation,
    first_flags,
    fit_spelling,
    sparse,
    suffix_key,
    tensors_from_text,
    tensors_to_text,
    to_sparse,
    trigram_counts,
)
from .tagger_input import as_sentences
from .tagger_network import check_generative, tagger_network, tagger_score, word_log_frequency

__all__ = ["HMMTagger", "word_shape"]

FORMAT = "bayesgen.HMMTagger"
_OPTIONS = (
    "suffix_length",
    "rare_threshold",
    "unknown",
    "spelling_l2",
    "smoothing",
    "lexical_weight",
    "lexical_min_count",
    "lexical_prior",
    "end",
    "lowercase_backoff",
    "order",
    "dtype",
)  # the constructor's arguments
_SCORING_OPTIONS = (
    "smoothing",
    "lexical_weight",
    "lexical_prior",
    "end",
    "lowercase_backoff",
    "order",
)
_COUNTS = (
    "tags_",
    "vocab_",
    "word_tag_counts_",
    "ngram_counts_",
    "suffix_keys_",
    "suffix_counts_",
    "lexical_words_",
    "prev_word_counts_",
    "word_pair_counts_",
)  # what fit counts; _build makes the probabilities from them
UNKNOWN_MODELS = ("spelling", "suffix")  # p(t | w) of words not seen in training
VERSION = 2


def word_shape(word: str, first: bool = False) -> str:
    """The word-shape class of the unknown-word model: 'd' has a digit, 'p' has no letter or
    digit (punctuation, symbols), 'A' is all capitals (two letters or more), 'S' is capitalized
    and first in its sentence, 'C' capitalized elsewhere, 'l' otherwise."""
    if any(ch.isdigit() for ch in word):
        return "d"
    if not any(ch.isalnum() for ch in word):
        return "p"
    if len(word) > 1 and word.isupper():
        return "A"
    if word[0].isupper():
        return "S" if first else "C"
    return "l"


class HMMTagger(Fitted):
    """Trigram HMM part-of-speech tagger (TnT), lexicalized, with a spelling model for unknown
    words.

    Parameters
    ----------
    unknown : the unknown-word model, "spelling" (log-linear, the default) or "suffix" (TnT).
    suffix_length : longest suffix of the "suffix" model (TnT: 10).
    rare_threshold : words seen at most this often train the unknown-word model (TnT: 10).
    spelling_l2 : L2 penalty λ of the "spelling" model.
    smoothing : weight c of the unknown-word model in the emissions of known words (0: TnT).
    lexical_weight, lexical_min_count, lexical_prior : the lexical factors (see the module).
    end : score the sentence end, p(</s> | t_n), in decoding.
    lowercase_backoff : an unknown word whose lowercase form is known takes that form's
        emissions (sentence-initial and headline capitals).
    order : 2 (trigram transitions, TnT) or 1 (bigram).
    """

    def __init__(
        self,
        suffix_length: int = 10,
        rare_threshold: int = 10,
        *,
        unknown: str = "spelling",
        spelling_l2: float = 1e-5,
        smoothing: float = 1.0,
        lexical_weight: float = 1.0,
        lexical_min_count: int = 2,
        lexical_prior: float = 10.0,
        end: bool = True,
        lowercase_backoff: bool = True,
        order: int = 2,
        dtype: torch.dtype = torch.float64,
    ):
        self.suffix_length = check_int("suffix_length", suffix_length, low=0)
        self.rare_threshold = check_int("rare_threshold", rare_threshold, low=1)
        self.unknown = check_option(
            "unknown", unknown, UNKNOWN_MODELS, expected="'spelling' or 'suffix'"
        )
        self.spelling_l2 = check_real("spelling_l2", spelling_l2, low=0)
        self.order = check_option("order", order, (1, 2), expected="1 or 2")
        self.smoothing = check_real("smoothing", smoothing, low=0)
        self.lexical_weight = check_real("lexical_weight", lexical_weight, low=0)
        self.lexical_prior = check_real("lexical_prior", lexical_prior, low=0)
        self.lexical_min_count = check_int("lexical_min_count", lexical_min_count, low=1)
        self.end = end
        self.lowercase_backoff = lowercase_backoff
        self.dtype = dtype

    # ------------------------------------------------------------------ counting
    def fit(self, sentences: Iterable) -> HMMTagger:
        """Count tag n-grams, word/tag pairs and suffixes of rare words in tagged sentences."""
        words, tags = as_sentences(sentences)
        if tags is None:
            raise ValueError("fit needs tagged sentences (every word with a tag)")
        flat_w = [w for s in words for w in s]
        flat_t = [t for s in tags for t in s]
        self.tags_ = sorted(set(flat_t))
        K = len(self.tags_)
        tag_ids = torch.as_tensor(pd.Index(self.tags_).get_indexer(flat_t), dtype=torch.long)
        word_codes, vocab = pd.factorize(pd.Series(flat_w, dtype=object))
        self.vocab_ = list(vocab)
        V = len(self.vocab_)
        word_ids = torch.as_tensor(word_codes, dtype=torch.long)
        lengths = torch.tensor([len(s) for s in words], dtype=torch.long)
        self.word_tag_counts_ = torch.bincount(word_ids * K + tag_ids, minlength=V * K).reshape(
            V, K
        )
        self.ngram_counts_ = trigram_counts(tag_ids, lengths, K)
        # lexical statistics of frequent words: f(w_{i-1}, t_{i-1}, t_i) and f(w_i, t_{i-1}, t_i)
        freq = self.word_tag_counts_.sum(1)  # (V,)
        self.lexical_words_ = (freq >= self.lexical_min_count).nonzero().squeeze(1)  # (F,)
        lex = torch.full((V,), -1, dtype=torch.long)
        lex[self.lexical_words_] = torch.arange(len(self.lexical_words_))
        F = len(self.lexical_words_)
        i = torch.arange(1, len(word_ids))
        i = i[~first_flags(lengths)[i]]  # positions with a previous word in the sentence
        pair = tag_ids[i - 1] * K + tag_ids[i]  # (t_{i-1}, t_i)
        for name, at in (("prev_word_counts_", i - 1), ("word_pair_counts_", i)):
            f = lex[word_ids[at]]
            keep = f >= 0
            counts = torch.bincount(f[keep] * K * K + pair[keep], minlength=F * K * K)
            setattr(self, name, counts.reshape(F, K, K))
        # suffix statistics of rare words, token-wise, one table per word shape
        rare = (freq[word_ids] <= self.rare_threshold).numpy()
        first = first_flags(lengths).numpy()
        rare_words = [w for w, r in zip(flat_w, rare, strict=True) if r]
        rare_shapes = [word_shape(w, f) for w, f in zip(rare_words, first[rare], strict=True)]
        rare_tags = tag_ids.numpy()[rare]
        rare_len = np.array([len(w) for w in rare_words], dtype=np.int64)
        keys, key_tags = [], []
        for i in range(self.suffix_length + 1):
            sel = np.flatnonzero(rare_len >= i)
            keys += [suffix_key(rare_words[j], rare_shapes[j], i) for j in sel]
            key_tags.append(rare_tags[sel])
        codes, uniq = pd.factorize(pd.Series(keys, dtype=object))
        S = len(uniq)
        kt = np.concatenate(key_tags) if key_tags else np.zeros(0, dtype=np.int64)
        self.suffix_keys_ = list(uniq)
        self.suffix_counts_ = torch.bincount(
            torch.as_tensor(codes * K + kt, dtype=torch.long), minlength=S * K
        ).reshape(S, K)
        if self.unknown == "spelling":
            if not rare.any():  # every word is frequent: learn the spelling of them all
                rare[:] = True
            self.spelling_ = fit_spelling(
                [w for w, r in zip(flat_w, rare, strict=True) if r],
                first[rare],
                tag_ids.numpy()[rare],
                K,
                self.spelling_l2,
            )
        self._build()
        return self

    @property
    def network(self) -> BayesNet:
        """The tagger over 4 words as a Bayesian network (:meth:`unrolled`)."""
        return self.unrolled(4)

    def unrolled(self, T: int) -> BayesNet:
        """The Bayesian network of T tags and words, t_{i-2}, t_{i-1} → t_i → w_i (and
        ``end`` ← t_T with ``end``), of Tables holding the tagger's own probabilities; its
        ``log_prob`` is :meth:`log_joint`. Needs ``smoothing=0`` and ``lexical_weight=0``,
        where the tagger is a normalized joint (:mod:`~bayesgen.models.tagger_network`)."""
        return tagger_network(self, T)

    def viterbi_score(self, sentences: Iterable) -> Tensor:
        """The score Viterbi maximizes over tags, of each tagged sentence, shape (B,):
        Σ_i log p(t_i | t_{i-2}, t_{i-1}) + Σ_i [log p(w_i | t_i) − log p̂(w_i)]
        [+ log p(</s> | t_n)] [+ the lexical log-ratios]; :meth:`predict` is its argmax."""
        self._check_fitted()
        words, tags = as_sentences(sentences)
        if tags is None:
            raise ValueError("viterbi_score needs tagged sentences (every word with a tag)")
        return tagger_score(self, words, tags)

    def log_joint(self, sentences: Iterable) -> Tensor:
        """log p(t, w) = :meth:`viterbi_score` + Σ_i log p̂(w_i) of each tagged sentence, (B,): the
        log-density of :meth:`unrolled` (−inf with a word unseen in training). Needs
        ``smoothing=0`` and ``lexical_weight=0``."""
        self._check_fitted()
        check_generative(self)
        words, _ = as_sentences(sentences)
        flat = [w for s in words for w in s]
        seq = torch.arange(len(words)).repeat_interleave(torch.tensor([len(s) for s in words]))
        logf = word_log_frequency(self, flat)  # (N,)
        return self.viterbi_score(sentences) + torch.zeros(len(words), dtype=logf.dtype).index_add_(
            0, seq, logf
        )

    def with_options(self, **options) -> HMMTagger:
        """A fitted copy with other scoring options (``smoothing``, ``lexical_weight``,
        ``lexical_prior``, ``end``, ``lowercase_backoff``, ``order``) over the same counts:
        nothing is recounted."""
        self._check_fitted()
        bad = sorted(set(options) - set(_SCORING_OPTIONS))
        if bad:
            raise ValueError(f"with_options changes {list(_SCORING_OPTIONS)}; {bad} need a new fit")
        config = {name: getattr(self, name) for name in _OPTIONS} | options
        new = HMMTagger(**config)
        for name in _COUNTS + (("spelling_",) if self.unknown == "spelling" else ()):
            setattr(new, name, getattr(self, name))
        new._build()
        return new

    # ------------------------------------------------------------------ estimation
    def _build(self) -> None:
        """Probabilities from counts: interpolated transitions, emissions, suffix model."""
        K = len(self.tags_)
        dt = self.dtype
        f123 = self.ngram_counts_.to(dt)  # (K+1, K+1, K+1), index K = sentence boundary
        self.lambdas_ = deleted_interpolation(f123)
        l1, l2, l3 = self.lambdas_.tolist()
        N = f123.sum()
        f3 = f123.sum((0, 1))  # (K+1,) count of t3
        f23 = f123.sum(0)  # (K+1, K+1)
        f12 = f123.sum(2)  # (K+1, K+1)
        p1 = f3 / N
        p2 = f23 / f23.sum(1, keepdim=True).clamp_min(1)
        p3 = f123 / f12.unsqueeze(2).clamp_min(1)
        P = l1 * p1 + l2 * p2.unsqueeze(0) + l3 * p3  # (K+1, K+1, K+1): p(t3 | t1, t2)
        B = K  # the boundary index
        real = P[..., :K]
        real = real / real.sum(-1, keepdim=True)  # p(t3 | t1, t2, the sentence goes on)
        hmm = HMM(K, "categorical", n_features=1, order=self.order, dtype=dt)
        hmm.startprob_ = real[B, B]
        if self.order == 2:
            hmm.transmat_ = real[B, :K]
            hmm.transmat2_ = real[:K, :K]
        else:
            bigram = l1 * p1 + l2 * p2  # (K+1, K+1): p(t2 | t1)
            bigram = bigram[:, :K] / bigram[:, :K].sum(-1, keepdim=True)
            hmm.startprob_ = bigram[B]
            hmm.transmat_ = bigram[:K]
        hmm.emissionprob_ = torch.ones(K, 1, dtype=dt)
        self.hmm_ = hmm
        # the end of the sentence, p(</s> | t_n), scored on the last word's tag
        self.log_end_ = torch.log(l1 * p1[B] + (l2 + l3) * p2[:K, B])  # (K,)
        # known words
        wt = self.word_tag_counts_.to(dt)  # (V, K)
        tag_total = wt.sum(0)  # (K,)
        self.log_emission_ = torch.log(wt) - torch.log(tag_total)  # (V, K); -inf where unseen
        self.log_prior_ = torch.log(tag_total / tag_total.sum())  # (K,)
        prior = tag_total / tag_total.sum()
        self.theta_ = float(prior.std(unbiased=True)) if K > 1 else 1.0
        # lexical factors: log-ratios to the tag bigram, smoothed towards it (weight β)
        big = f123.sum(0)[:K, :K]  # (K, K) f(t_{i-1}, t_i) inside sentences
        p_next = big / big.sum(1, keepdim=True).clamp_min(1)  # p(t_i | t_{i-1})
        p_prev = big / big.sum(0, keepdim=True).clamp_min(1)  # p(t_{i-1} | t_i)
        beta, tiny = self.lexical_prior, torch.finfo(dt).tiny
        c = self.prev_word_counts_.to(dt)  # (F, K, K)
        p = (c + beta * p_next) / (c.sum(2, keepdim=True) + beta)  # p(t_i | t_{i-1}, w_{i-1})
        self.log_prev_word_ = torch.log(p.clamp_min(tiny)) - torch.log(p_next.clamp_min(tiny))
        c = self.word_pair_counts_.to(dt)
        p = (c + beta * p_prev) / (c.sum(1, keepdim=True) + beta)  # p(t_{i-1} | t_i, w_i)
        self.log_word_pair_ = torch.log(p.clamp_min(tiny)) - torch.log(p_prev.clamp_min(tiny))
        self._lexical_index = torch.full((len(self.vocab_),), -1, dtype=torch.long)
        self._lexical_index[self.lexical_words_] = torch.arange(len(self.lexical_words_))
        self._vocab_index = pd.Index(self.vocab_)
        self._suffix_index = pd.Index(self.suffix_keys_)

    def _suffix_posterior(self, words: Sequence[str], shapes: Sequence[str]) -> Tensor:
        """P(t | shape, longest known suffix) by Brants' recursion over suffix lengths. (U, K)."""
        K = len(self.tags_)
        counts = self.suffix_counts_.to(self.dtype)  # (S, K)
        U = len(words)
        theta = self.theta_
        prior = torch.exp(self.log_prior_).expand(U, K)
        P = prior
        alive = torch.ones(U, dtype=torch.bool)
        for i in range(self.suffix_length + 1):
            keys = [
                suffix_key(w, h, i) if len(w) >= i else ""
                for w, h in zip(words, shapes, strict=True)
            ]
            idx = torch.as_tensor(self._suffix_index.get_indexer(keys), dtype=torch.long)
            alive = alive & (idx >= 0)  # (U,) this suffix (and all shorter ones) was seen
            rows = counts[idx.clamp_min(0)]  # (U, K)
            phat = rows / rows.sum(1, keepdim=True).clamp_min(1)
            # i = 0 is the word shape alone; an unseen shape keeps the tag prior P̂(t)
            P = torch.where(alive.unsqueeze(1), (phat + theta * P) / (1 + theta), P)
        return P

    def _unknown_posterior(self, words: Sequence[str], first: Sequence[bool]) -> Tensor:
        """P(t | w) of the unknown-word model for word types: (U, K)."""
        if self.unknown == "spelling":
            with torch.no_grad():
                return self.spelling_(words, first).probs.to(self.dtype)
        elif self.unknown == "suffix":
            shapes = [word_shape(w, f) for w, f in zip(words, first, strict=True)]
            return self._suffix_posterior(words, shapes)
        else:
            raise ValueError(f"unknown must be 'spelling' or 'suffix', got {self.unknown!r}")

    def log_emissions(
        self, words: Sequence[str], first: Sequence[bool] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Emission scores log p(w | t) + const(w) of tokens (N, K), and which were known (N,).

        With f(w, t) the training counts and P_s(t | w) the suffix model,
        p(t | w) = (f(w, t) + c P_s(t | w)) / (f(w) + c) (c = ``smoothing``) and
        p(w | t) ∝ p(t | w) / P̂(t); unknown words (f(w) = 0) get the suffix model alone.
        ``first`` marks sentence-initial tokens (their capital is not evidence of a name).
        """
        words = list(words)
        first = [False] * len(words) if first is None else list(first)
        codes, types = pd.factorize(
            pd.Series([f"{int(f)}\t{w}" for w, f in zip(words, first, strict=True)], dtype=object)
        )
        type_first, _, type_words = zip(*(t.partition("\t") for t in types), strict=True)
        type_first = [f == "1" for f in type_first]
        ids = torch.as_tensor(self._vocab_index.get_indexer(list(type_words)), dtype=torch.long)
        known = ids >= 0  # (U,)
        if self.lowercase_backoff:
            low = self._vocab_index.get_indexer([w.lower() for w in type_words])
            low = torch.as_tensor(low, dtype=torch.long)
            ids = torch.where(known, ids, low)
        counts = torch.where(
            (ids >= 0).unsqueeze(1), self.word_tag_counts_[ids.clamp_min(0)].to(self.dtype), 0.0
        )  # (U, K)
        suffix = self._unknown_posterior(type_words, type_first)  # (U, K)
        c = self.smoothing
        total = counts.sum(1, keepdim=True)
        post = torch.where(total > 0, (counts + c * suffix) / (total + c), suffix)
        scores = torch.log(post) - self.log_prior_  # (U, K)
        codes = torch.as_tensor(codes, dtype=torch.long)
        return scores[codes], known[codes]

    # ------------------------------------------------------------------ decoding
    def _emission_scores(self, flat: list[str], lengths: Tensor) -> tuple[Tensor, Tensor]:
        """What Viterbi reads per token: e(w_i, t) (N, K), the end term added at each last
        word, or pair scores (N, K, K) over (t_{i-1}, t_i) with the lexical factors; and which
        words were known (N,)."""
        logE, known = self.log_emissions(flat, first_flags(lengths).tolist())  # (N, K)
        if self.end:
            last = torch.cumsum(lengths, 0) - 1  # (B,)
            logE[last] = logE[last] + self.log_end_
        if self.lexical_weight > 0 and self.order == 2:
            logE = self._lexical_scores(flat, lengths, logE)  # (N, K, K)
        return logE, known

    def _decode(self, words: list[list[str]]) -> tuple[Tensor, Tensor, Tensor]:
        """Viterbi: the best tags (N,), which words were known (N,), the best scores (B,)."""
        lengths = torch.tensor([len(s) for s in words], dtype=torch.long)
        logE, known = self._emission_scores([w for s in words for w in s], lengths)
        best, states = self.hmm_.decode_emissions(logE, lengths.tolist())
        return states, known, best

    def _lexical_scores(self, flat: list[str], lengths: Tensor, logE: Tensor) -> Tensor:
        """Pair scores s_i(t_{i-1}, t_i) = log p(w_i | t_i) + a [log p(t_i | t_{i-1}, w_{i-1})
        / p(t_i | t_{i-1}) + log p(w_i | t_{i-1}, t_i) / p(w_i | t_i)] for frequent words."""
        K = len(self.tags_)
        ids = torch.as_tensor(self._vocab_index.get_indexer(flat), dtype=torch.long)
        lex = torch.where(ids >= 0, self._lexical_index[ids.clamp_min(0)], -1)  # (N,)
        pair = logE.unsqueeze(1).expand(-1, K, -1).clone()  # (N, K, K)
        i = torch.arange(1, len(flat))
        i = i[~first_flags(lengths)[i]]
        a = self.lexical_weight
        for at, table in ((i - 1, self.log_prev_word_), (i, self.log_word_pair_)):
            f = lex[at]
            keep = f >= 0
            pair[i[keep]] += a * table[f[keep]]
        return pair

    def predict(self, sentences: Iterable) -> list[list[str]]:
        """Tag sentences (lists of words, or Sentence objects): one list of tags per sentence."""
        self._check_fitted()
        words, _ = as_sentences(sentences)
        states, _, _ = self._decode(words)
        names = np.array(self.tags_, dtype=object)[states.numpy()]
        return [list(x) for x in np.split(names, np.cumsum([len(s) for s in words])[:-1])]

    def evaluate(self, sentences: Iterable) -> dict:
        """Accuracy on tagged sentences, overall and on known / unknown words."""
        self._check_fitted()
        words, tags = as_sentences(sentences)
        if tags is None:
            raise ValueError("evaluate needs tagged sentences (every word with a tag)")
        states, known, _ = self._decode(words)
        gold = pd.Index(self.tags_).get_indexer([t for s in tags for t in s])
        correct = states.numpy() == gold
        k = known.numpy()
        return {
            "accuracy": float(correct.mean()),
            "known_accuracy": float(correct[k].mean()) if k.any() else math.nan,
            "unknown_accuracy": float(correct[~k].mean()) if (~k).any() else math.nan,
            "unknown_rate": float((~k).mean()),
            "n_tokens": int(len(correct)),
        }

    def accuracy(self, sentences: Iterable) -> float:
        """Fraction of tokens whose predicted tag equals the gold tag."""
        return self.evaluate(sentences)["accuracy"]

    _fitted_attrs = ("hmm_",)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | PathLike) -> None:
        """Write the model as JSON counts (readable, safe to load: no code is executed)."""
        self._check_fitted()
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "config": {
                "unknown": self.unknown,
                "spelling_l2": self.spelling_l2,
                "suffix_length": self.suffix_length,
                "rare_threshold": self.rare_threshold,
                "smoothing": self.smoothing,
                "lexical_weight": self.lexical_weight,
                "lexical_min_count": self.lexical_min_count,
                "lexical_prior": self.lexical_prior,
                "end": self.end,
                "lowercase_backoff": self.lowercase_backoff,
                "order": self.order,
            },
            "tags": self.tags_,
            "vocab": self.vocab_,
            "word_tag_counts": to_sparse(self.word_tag_counts_),
            "ngram_counts": self.ngram_counts_.reshape(-1).tolist(),
            "suffix_keys": self.suffix_keys_,
            "suffix_counts": to_sparse(self.suffix_counts_),
            "lexical_words": self.lexical_words_.tolist(),
            "prev_word_counts": to_sparse(self.prev_word_counts_),
            "word_pair_counts": to_sparse(self.word_pair_counts_),
        }
        if self.unknown == "spelling":  # features and weights (safetensors, base64)
            payload["spelling"] = {
                "features": list(self.spelling_.features_),
                "tensors": tensors_to_text(
                    {"weight": self.spelling_.weight.data, "bias": self.spelling_.bias.data}
                ),
            }
        Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | PathLike) -> HMMTagger:
        """Read a model written by :meth:`save`."""
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a JSON file ({err})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} model file")
        if payload.get("version") != VERSION:
            raise ValueError(f"{path}: unsupported model version {payload.get('version')!r}")
        try:
            self = cls(**payload["config"])
            self.tags_ = list(payload["tags"])
            self.vocab_ = list(payload["vocab"])
            K, V = len(self.tags_), len(self.vocab_)
            self.word_tag_counts_ = sparse(payload["word_tag_counts"], (V, K))
            self.ngram_counts_ = torch.tensor(payload["ngram_counts"], dtype=torch.long).reshape(
                K + 1, K + 1, K + 1
            )
            self.suffix_keys_ = list(payload["suffix_keys"])
            self.suffix_counts_ = sparse(payload["suffix_counts"], (len(self.suffix_keys_), K))
            self.lexical_words_ = torch.tensor(payload["lexical_words"], dtype=torch.long)
            F = len(self.lexical_words_)
            self.prev_word_counts_ = sparse(payload["prev_word_counts"], (F, K, K))
            self.word_pair_counts_ = sparse(payload["word_pair_counts"], (F, K, K))
            if self.unknown == "spelling":
                spelling = SpellingModel(K, self.spelling_l2)
                spelling.features_ = pd.Index(payload["spelling"]["features"], dtype=object)
                tensors = tensors_from_text(payload["spelling"]["tensors"])
                weight, bias = tensors["weight"], tensors["bias"]
                if weight.shape != (len(spelling.features_), K) or bias.shape != (K,):
                    raise ValueError(
                        f"spelling weights of shape {tuple(weight.shape)} and "
                        f"{tuple(bias.shape)} for {len(spelling.features_)} features, {K} tags"
                    )
                spelling.weight.data, spelling.bias.data = weight, bias
                self.spelling_ = spelling
        except (KeyError, TypeError, RuntimeError, IndexError, ValueError) as err:
            raise ValueError(f"{path}: malformed {FORMAT} model file ({err!r})") from None
        self._build()
        return self


# --------------------------------------------------------------------------- internals
