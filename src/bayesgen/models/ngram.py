"""N-gram language models: order-k Markov chains over tokens (eq. 11 of the chapter).

An order-k model factorizes a sequence as the Bayesian network

    p(x_1..x_T, </s>) = Π_{t=1}^{T+1} p(x_t | x_{t-k}..x_{t-1}),   x_{1-k}..x_0 = <s>,

one homogeneous table shared by every step (parameter tying). k = 0 is the unigram
(bag-of-words) model, k = 1 the bigram, k = 2 the trigram, in general the (k+1)-gram. Tokens are
characters (a sequence given as ``str``) or words (a list of ``str``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from .._checks import check_bool, check_int, check_option, check_real
from ..graph import DAG, time_layout
from ..network import BayesNet
from .base import Model
from .ngram_counts import PADDINGS, NGramCounts, PaddedBatch, _Level, pad_sequences
from .ngram_network import ngram_assignment, ngram_network
from .ngram_smoothing import Smoothing, make_smoothing
from .vocab import Vocabulary, as_sequences

__all__ = ["NGramLM", "unrolled_chain_dag", "stationary_distribution"]


def unrolled_chain_dag(order: int, n_steps: int | None = None, prefix: str = "x") -> DAG:
    """The DAG of an order-k chain unrolled over ``n_steps`` steps: x_t has parents
    x_{t-k}..x_{t-1}. Default: 4 steps for k ≤ 2, 5 otherwise."""
    if n_steps is None:
        n_steps = 4 if order <= 2 else 5
    check_int("n_steps", n_steps, low=1)
    nodes = [f"{prefix}{t}" for t in range(1, n_steps + 1)]
    edges = [(nodes[s], nodes[t]) for t in range(n_steps) for s in range(max(0, t - order), t)]
    return DAG(nodes=nodes, edges=edges, layout=time_layout(nodes))


def stationary_distribution(
    P: Tensor, method: str = "eig", tol: float = 1e-10, max_iter: int = 100_000
) -> Tensor:
    """π with π P = π, Σ π = 1, for a row-stochastic matrix ``P`` (S, S).

    ``method="eig"``: the left eigenvector of P for the eigenvalue 1 (``torch.linalg.eig`` of
    Pᵀ); refused when 1 is a repeated eigenvalue (a reducible chain has many stationary
    distributions). ``method="power"``: iterate π ← π P from the uniform distribution until the
    change is below ``tol`` (needs an aperiodic chain).
    """
    P = torch.as_tensor(P, dtype=torch.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"transition matrix must be square (S, S), got shape {tuple(P.shape)}")
    rows = P.sum(1)
    bad = torch.nonzero((rows - 1).abs() > 1e-8).squeeze(1)
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"transition matrix row {i} sums to {float(rows[i]):.6g}, not 1 ({bad.numel()} such "
            f"rows); a stationary distribution needs a stochastic matrix (use smoothing)"
        )
    if method == "eig":
        vals, vecs = torch.linalg.eig(P.T)
        close = torch.nonzero((vals - 1).abs() < 1e-8).squeeze(1)
        if close.numel() != 1:
            raise ValueError(
                f"the eigenvalue 1 has multiplicity {close.numel()}: the chain is reducible and "
                f"its stationary distribution is not unique"
            )
        pi = vecs[:, close[0]].real
        pi = pi / pi.sum()
        return pi.clamp(min=0) / pi.clamp(min=0).sum()
    if method == "power":
        pi = torch.full((P.shape[0],), 1.0 / P.shape[0], dtype=torch.float64)
        for _ in range(max_iter):  # loop over iterations, not data
            new = pi @ P
            if (new - pi).abs().sum() < tol:
                return new / new.sum()
            pi = new
        raise ValueError(
            f"power iteration did not converge in max_iter={max_iter} steps "
            f"(periodic chain?); use method='eig'"
        )
    raise ValueError(f"method must be one of ('eig', 'power'), got {method!r}")


_LEVEL_BUFFERS = ("keys", "count", "suffix")  # a trie level's constructor arguments


class NGramLM(Model):
    """Order-k n-gram language model (a (k+1)-gram) with pluggable smoothing.

    Parameters
    ----------
    order : k ≥ 0, the number of previous tokens each token depends on (n = k+1).
    smoothing : a :class:`~bayesgen.models.ngram_smoothing.Smoothing` or one of ``"mle"``,
        ``"laplace"``, ``"add-k"``, ``"kneser-ney"``, ``"modified-kneser-ney"`` (default),
        ``"stupid-backoff"``.
    min_count, unk_policy : the :class:`Vocabulary` built at ``fit`` (ignored when
        ``vocabulary`` is given). ``unk_policy="map"`` scores out-of-vocabulary tokens as
        ``<unk>``, ``"error"`` raises.
    eos : append ``</s>`` to each sequence (the model then also predicts where sequences end).
    padding : ``"markov"`` (k ``<s>``, one ``</s>``, counts at predicted positions) or
        ``"nltk"`` (NLTK's ``padded_everygram_pipeline``: k ``<s>``, k ``</s>``, every
        everygram counted), see :mod:`~bayesgen.models.ngram_counts`.

    Fitted state: ``vocabulary_``, ``counts_`` (the count trie), ``smoothing_``.

    >>> lm = NGramLM(order=1, smoothing="mle").fit(["abab", "ab"])
    >>> round(float(lm.log_prob(["ab"]).exp()), 4)  # p(a|<s>) p(b|a) p(</s>|b) = 1 * 1 * 2/3
    0.6667
    """

    def __init__(
        self,
        order: int = 2,
        smoothing: str | Smoothing = "modified-kneser-ney",
        *,
        vocabulary: Vocabulary | None = None,
        min_count: int = 1,
        unk_policy: str = "map",
        eos: bool = True,
        padding: str = "markov",
        device: str | torch.device | None = None,
    ):
        super().__init__()
        order = check_int("order", order, low=0)
        check_option("padding", padding, PADDINGS)
        check_bool("eos", eos)
        make_smoothing(smoothing)  # validate early
        self.order, self.smoothing, self.vocabulary = order, smoothing, vocabulary
        self.min_count, self.unk_policy = min_count, unk_policy
        self.eos, self.padding = eos, padding
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        if vocabulary is None:
            Vocabulary(min_count=min_count, unk_policy=unk_policy)  # validate early

    @property
    def n(self) -> int:
        """n-gram length k+1."""
        return self.order + 1

    # ------------------------------------------------------------------ fitting
    def _right_pad(self) -> int:
        if not self.eos:
            return 0
        return 1 if self.padding == "markov" else self.order

    def _pad(self, sequences, name: str) -> PaddedBatch:
        flat, lengths = self.vocabulary_.encode_batch(as_sequences(sequences, name))
        empty = torch.nonzero(lengths == 0).squeeze(1)
        if empty.numel():
            raise ValueError(
                f"{name}[{int(empty[0])}] is an empty sequence ({empty.numel()} empty in all); "
                f"every sequence needs at least one token"
            )
        v = self.vocabulary_
        dev = self._device()
        return pad_sequences(
            flat.to(dev), lengths, self.order, self._right_pad(), v.bos_id, v.eos_id
        )

    def _device(self) -> torch.device:
        if hasattr(self, "counts_"):
            return self.counts_.level(1).keys.device
        return self.device

    def _support(self) -> Tensor:
        """The tokens the model can predict: all but ``<s>`` (and ``</s>`` without eos)."""
        v = self.vocabulary_
        s = torch.ones(len(v), dtype=torch.bool, device=self._device())
        if self.padding == "markov" or self.order == 0:
            s[v.bos_id] = False
        if not self.eos or (self.padding == "nltk" and self.order == 0):
            s[v.eos_id] = False
        return s

    def fit(self, sequences) -> NGramLM:
        """Count every m-gram, m = 1..k+1, of the training ``sequences`` and fit the smoothing.

        ``sequences``: a list of ``str`` (characters) or of lists of ``str`` tokens.
        """
        seqs = as_sequences(sequences)
        if self.vocabulary is not None:
            self.vocabulary_ = self.vocabulary
            self.vocabulary_._check_fitted()
        else:
            self.vocabulary_ = Vocabulary(self.min_count, self.unk_policy).fit(seqs)
        longest = max(map(len, seqs))
        if self.order > longest:
            raise ValueError(
                f"order={self.order} is larger than the longest training sequence ({longest} "
                f"tokens): no {self.n}-gram of real tokens exists; lower the order"
            )
        batch = self._pad(seqs, "sequences")
        self.counts_ = NGramCounts(self.n, len(self.vocabulary_), self.padding).fit(batch)
        self.smoothing_ = make_smoothing(self.smoothing).fit(self.counts_, self._support())
        self.n_tokens_ = int(batch.target.sum())
        return self

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> dict[str, Any]:
        state = super().get_extra_state()
        if self.is_fitted:
            v = self.vocabulary_
            state["vocabulary"] = {
                "tokens": list(v.itos_[3:]),
                "specials": [v.unk_token, v.bos_token, v.eos_token],
                "unk_policy": v.unk_policy,
            }
            state["hyperparameters"] = {
                k: h
                for k, h in self.smoothing_.hyperparameters().items()
                if isinstance(h, bool | int | float)
            }
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        state = {k: v for k, v in state.items() if k not in ("vocabulary", "hyperparameters")}
        super().set_extra_state(state)

    def _load_from_state_dict(self, state_dict, prefix, *args: Any, **kwargs: Any) -> None:
        # vocabulary, count trie and smoothing are made by fit: rebuild them from the saved
        # tokens and counts (the smoothing's tables, tuned or not, are then loaded over them)
        extra = state_dict.get(prefix + "_extra_state", {})
        saved = extra.get("vocabulary") if isinstance(extra, dict) else None
        if saved is not None and not self.is_fitted:
            unk, bos, eos = saved["specials"]
            self.vocabulary_ = self.vocabulary
            if self.vocabulary_ is None:
                self.vocabulary_ = Vocabulary.from_tokens(
                    saved["tokens"],
                    unk_policy=saved["unk_policy"],
                    unk_token=unk,
                    bos_token=bos,
                    eos_token=eos,
                )
            sub = prefix + "counts_."
            tables = {k[len(sub) :]: v for k, v in state_dict.items() if k.startswith(sub)}
            counts = NGramCounts(self.n, len(self.vocabulary_), self.padding)
            counts.levels = nn.ModuleList(
                _Level(*(torch.empty_like(tables[f"levels.{i}.{b}"]) for b in _LEVEL_BUFFERS))
                for i in range(self.n)
            )
            counts.load_state_dict(tables)
            self.counts_ = counts
            self.smoothing_ = make_smoothing(self.smoothing).fit(counts, self._support())
            for name, value in extra.get("hyperparameters", {}).items():
                setattr(self.smoothing_, name, value)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def with_smoothing(self, smoothing: str | Smoothing) -> NGramLM:
        """A fitted model with another smoothing that shares this one's vocabulary and counts
        (nothing is recounted)."""
        self._check_fitted()
        new = NGramLM(
            self.order,
            smoothing,
            vocabulary=self.vocabulary_,
            eos=self.eos,
            padding=self.padding,
            device=self._device(),
        )
        new.vocabulary_, new.counts_, new.n_tokens_ = self.vocabulary_, self.counts_, self.n_tokens_
        new.smoothing_ = make_smoothing(smoothing).fit(self.counts_, self._support())
        return new

    _fitted_attrs = ("counts_",)

    def tune(self, heldout) -> NGramLM:
        """Re-fit the smoothing's hyperparameters (add-k's k, Kneser–Ney's discounts) to
        minimize the cross-entropy of the ``heldout`` sequences; the counts stay."""
        self._check_fitted()
        ctx, grams, words, _ = self.counts_.context_grams(self._pad(heldout, "heldout"))
        self.smoothing_.tune(ctx, grams, words)
        return self

    # ------------------------------------------------------------------ scoring
    def _check_normalized(self, allow_unnormalized: bool) -> None:
        if not self.smoothing_.normalized and not allow_unnormalized:
            raise ValueError(
                f"{type(self.smoothing_).__name__} scores are not normalized probabilities, so "
                f"log-likelihoods and perplexities are meaningless; pass "
                f"allow_unnormalized=True to get the scores anyway"
            )

    def token_log_probs(self, sequences, allow_unnormalized: bool = False) -> tuple[Tensor, Tensor]:
        """log p(x_t | context) at every predicted position of every sequence.

        Returns the log-probabilities ``(N_t,)`` (float64) and each one's sequence index.
        """
        lp, seq, _ = self._score(sequences, allow_unnormalized)
        return lp, seq

    def _score(self, sequences, allow_unnormalized: bool) -> tuple[Tensor, Tensor, int]:
        self._check_fitted()
        self._check_normalized(allow_unnormalized)
        batch = self._pad(sequences, "sequences")
        ctx, grams, words, seq = self.counts_.context_grams(batch)
        lp = torch.log(self.smoothing_.prob(ctx, grams, words))  # (N_t,)
        return lp, seq, batch.n_seqs

    def log_prob(self, sequences, allow_unnormalized: bool = False) -> Tensor:
        """log p(sequence) of each sequence, shape ``(B,)`` (float64); ``-inf`` where a token
        has probability 0 (MLE on unseen n-grams)."""
        lp, seq, B = self._score(sequences, allow_unnormalized)
        return torch.zeros(B, dtype=lp.dtype, device=lp.device).index_add_(0, seq, lp)

    def cross_entropy(
        self, sequences, bits: bool = False, allow_unnormalized: bool = False
    ) -> float:
        """−(1/N) Σ_t log p(x_t | context) over all N predicted tokens, in nats (bits with
        ``bits=True``); ``inf`` if any token has probability 0."""
        lp, _ = self.token_log_probs(sequences, allow_unnormalized)
        h = float(-lp.mean())
        return h / math.log(2) if bits else h

    def perplexity(self, sequences, allow_unnormalized: bool = False) -> float:
        """exp(cross-entropy): the effective number of equally likely next tokens."""
        return math.exp(self.cross_entropy(sequences, allow_unnormalized=allow_unnormalized))

    # ------------------------------------------------------------------ conditionals
    def _context_ranks(self, history: Tensor) -> list[Tensor]:
        """Trie ranks of the last j tokens of each history row, j = 0..k; history (B, k)."""
        B = history.shape[0]
        root = torch.zeros(B, dtype=torch.long, device=history.device)
        ranks = [root]
        for j in range(1, self.order + 1):
            r = root
            for i in range(self.order - j, self.order):  # walk the j-gram from its first token
                r = self.counts_.child_ranks(r, i - (self.order - j) + 1, history[:, i])
            ranks.append(r)
        return ranks

    def _next_probs(self, ctx: list[Tensor]) -> Tensor:
        """p(w | context) for every w, shape (B, V), from the context ranks (B,) per length."""
        V = len(self.vocabulary_)
        words = torch.arange(V, device=ctx[0].device)[None, :]  # (1, V)
        cols = [c[:, None] for c in ctx]  # (B, 1) each
        grams = [self.counts_.child_ranks(cols[m - 1], m, words) for m in range(1, self.n + 1)]
        return self.smoothing_.prob(cols, grams, words)  # (B, V)

    def forward(self, context: Tensor) -> Categorical:
        """The factor p(x_t | x_{t-k}..x_{t-1}): context ids ``(B, k)`` → Categorical over V
        (unnormalized strategies are normalized here)."""
        self._check_fitted()
        context = torch.as_tensor(context, dtype=torch.long, device=self._device())
        if context.ndim != 2 or context.shape[1] != self.order:
            raise ValueError(
                f"context must have shape (B, order={self.order}), got {tuple(context.shape)}"
            )
        V = len(self.vocabulary_)
        lo, hi = (int(context.min()), int(context.max())) if context.numel() else (0, 0)
        if lo < 0 or hi >= V:
            raise ValueError(f"context ids must lie in [0, V={V}), got {lo}..{hi}")
        probs = self._next_probs(self._context_ranks(context))  # (B, V)
        self._check_mass(probs)
        # logits keep a zero probability (MLE) at log 0 = -inf; probs= would clamp it
        return Categorical(logits=torch.log(probs))

    def _check_mass(self, probs: Tensor) -> None:
        empty = torch.nonzero(probs.sum(-1) <= 0).squeeze(-1)
        if empty.numel():
            raise ValueError(
                f"context row {int(empty[0])} has no probability mass under "
                f"{type(self.smoothing_).__name__} (an unseen context); use a smoothing such as "
                f"'modified-kneser-ney'"
            )

    @property
    def transition_matrix_(self) -> Tensor:
        """P[i, j] = p(x_{t+1} = j | x_t = i) over the vocabulary ids, shape (V, V); order 1."""
        self._check_fitted()
        if self.order != 1:
            raise ValueError(
                f"transition_matrix_ needs order=1 (a bigram model), got order={self.order}"
            )
        ids = torch.arange(len(self.vocabulary_), device=self._device())[:, None]  # (V, 1)
        return self._next_probs(self._context_ranks(ids))

    def stationary_distribution(self, method: str = "eig") -> Tensor:
        """π = π P of the order-1 transition matrix (see :func:`stationary_distribution`)."""
        return stationary_distribution(self.transition_matrix_, method)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int = 1,
        *,
        length: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        prompt=None,
        stop_at_eos: bool = True,
    ) -> list[list[str]]:
        """Ancestral sampling of ``n`` continuations of ``length`` tokens each.

        Each step draws x_t ∝ p(x_t | context)^(1/temperature) (temperature < 1 sharpens,
        > 1 flattens). ``prompt`` (a str or list of tokens) conditions the start; otherwise the
        context is k ``<s>``. With ``stop_at_eos`` a sample ends at ``</s>`` (not included).
        Returns a list of token lists (join characters with ``"".join``).
        """
        self._check_fitted()
        n_tokens = check_int("length", length, low=1)
        n_samples = check_int("n", n, low=1)
        check_real(
            "temperature", temperature, low=0, open_low=True, finite=False, expected="a float > 0"
        )
        v, dev, k = self.vocabulary_, self._device(), self.order
        history = torch.full((n_samples, k), v.bos_id, dtype=torch.long, device=dev)  # (B, k)
        if prompt is not None and k > 0:
            ids = v.encode(prompt).to(dev)[-k:]
            if ids.numel():
                history[:, k - ids.numel() :] = ids
        gen = generator
        ctx = self._context_ranks(history)
        out = torch.empty((n_samples, n_tokens), dtype=torch.long, device=dev)  # (B, n_tokens)
        done = torch.zeros(n_samples, dtype=torch.bool, device=dev)  # (B,)
        for t in range(n_tokens):  # a loop over time steps, batched over samples
            p = self._next_probs(ctx)  # (B, V)
            if stop_at_eos:  # finished rows just repeat </s>
                p[done] = 0.0
                p[done, v.eos_id] = 1.0
            self._check_mass(p)
            logits = torch.log(p / p.sum(1, keepdim=True)) / temperature
            x = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=gen).squeeze(1)
            out[:, t] = x
            done |= x == v.eos_id
            ctx = self.counts_.extend(ctx, x)
        out = out.cpu()
        lengths = torch.full((n_samples,), n_tokens)
        if stop_at_eos:
            is_eos = out == v.eos_id
            first = torch.where(is_eos.any(1), is_eos.int().argmax(1), n_tokens)
            lengths = first
        tokens = np.asarray(v._itos_array)[out.numpy()]  # (B, n_tokens) of str
        return [row[:n].tolist() for row, n in zip(tokens, lengths.tolist(), strict=True)]

    # ------------------------------------------------------------------ structure
    @property
    def network(self) -> BayesNet:
        """The fitted model unrolled over k + 3 tokens (:meth:`unrolled`)."""
        return self.unrolled(self.order + 3)

    def unrolled(self, T: int) -> BayesNet:
        """The fitted model as the Bayesian network of T tokens x1..xT, x_t ← x_{t-k}..x_{t-1},
        plus its end nodes (``</s>`` observed: one with ``eos``, k with ``padding="nltk"``), so
        that its ``log_prob`` of a length-T sequence is :meth:`log_prob`
        (:mod:`~bayesgen.models.ngram_network`; values from :meth:`assignment`)."""
        return ngram_network(self, T)

    def assignment(self, sequences) -> dict[str, Tensor]:
        """The values of :meth:`unrolled` for ``sequences`` of one length T: token ids (B,) by
        variable, the end nodes set to ``</s>``."""
        return ngram_assignment(self, sequences)

    def extra_repr(self) -> str:
        return f"order={self.order}, smoothing={self.smoothing!r}, padding={self.padding!r}"
