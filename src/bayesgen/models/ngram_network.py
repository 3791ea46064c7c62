"""An n-gram language model as a Bayesian network: its conditional as a factor, unrolled in time.

An order-k model over sequences of T tokens is the chain (eq. 11)

    p(x_1..x_T, x_{T+1}..x_{T+r}) = Π_{t=1}^{T+r} p(x_t | x_{t-k}..x_{t-1}),   x_{1-k}..x_0 = <s>,

where the r end nodes x_{T+1}..x_{T+r} are observed as ``</s>``: r = 1 with ``eos`` and
``padding="markov"``, r = k with ``padding="nltk"``, r = 0 without ``eos``. With them
``log_prob`` of a sequence of exactly T tokens is :meth:`NGramLM.log_prob` of it (the model
predicts where a sequence ends, so a length-T sequence is "T tokens, then ``</s>``"); without
``eos`` it is the log-probability of the T tokens as they are.

Each factor is the model's row p(. | context) as a Categorical, which normalizes it. The rows of
every normalized smoothing sum to 1 (to rounding), so the equality is exact; two are not
distributions and the network then holds the renormalized rows (what :meth:`NGramLM.sample`
draws from): stupid backoff (its scores), and the NLTK-compatible ``"kneser-ney"`` under
``padding="nltk"``, whose rows after ``<s>`` sum to slightly more than 1 (as NLTK's do); there
``log_prob`` is :meth:`NGramLM.log_prob` − Σ_t log Z_t, Z_t the row's sum.

A dense table of an order-k factor would have V^k rows, so :class:`NGramFactor` holds the fitted
model and asks it for one row per context (its ``forward``, whatever the smoothing). Step t ≤ k
has the t − 1 earlier tokens as parents and sees k − t + 1 ``<s>`` before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.distributions import Categorical

from .._checks import check_int
from ..factors.base import Factor
from ..graph import time_layout
from ..network import BayesNet
from ..variables import Discrete

if TYPE_CHECKING:
    from .ngram import NGramLM

__all__ = ["NGramFactor", "ngram_network", "ngram_assignment", "token_states"]


def token_states(tokens: Sequence[str]) -> list[str]:
    """State labels of the token variables: the tokens, blank ones (a space, a newline) as their
    ``repr``; the ids 0..V-1 if that would make two labels equal."""
    labels = [t if t.strip() else repr(t) for t in tokens]
    return labels if len(set(labels)) == len(labels) else [str(i) for i in range(len(tokens))]


class NGramFactor(Factor):
    """p(x_t | x_{t-j}..x_{t-1}) of a fitted :class:`NGramLM`, j = len(parents) ≤ k, the
    context left-padded with k − j ``<s>``. A factor without parents returns batch shape ()."""

    def __init__(self, variable: Discrete, parents: Sequence[Discrete], lm: NGramLM):
        super().__init__(variable, parents)
        if len(self.parents) > lm.order:
            raise ValueError(
                f"an order-{lm.order} factor has at most {lm.order} parents, got "
                f"{len(self.parents)} for {variable.name!r}"
            )
        self.lm = lm

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Categorical:
        lm = self.lm
        k, j, bos = lm.order, len(self.parents), lm.vocabulary_.bos_id
        dev = lm._device()
        if j == 0:
            history = torch.full((1, k), bos, dtype=torch.long, device=dev)  # (1, k)
            return Categorical(logits=lm(history).logits[0])  # batch (), event over V
        cols = [torch.as_tensor(parents[n], device=dev).long() for n in self.parent_names]
        B = cols[0].shape[0]
        pad = torch.full((B, k - j), bos, dtype=torch.long, device=dev)  # (B, k - j)
        return lm(torch.cat([pad, torch.stack(cols, 1)], 1))  # context (B, k) -> (B,) over V


def _end_nodes(lm: NGramLM) -> int:
    """r: how many ``</s>`` end a scored sequence."""
    return lm._right_pad()


def ngram_network(lm: NGramLM, T: int) -> BayesNet:
    """The fitted ``lm`` as the Bayesian network of T tokens and its r end nodes (see the
    module): x_t ← x_{t-k}..x_{t-1}, one :class:`NGramFactor` per step sharing ``lm``."""
    lm._check_fitted()
    T = check_int("T", T, low=1)
    n, k = T + _end_nodes(lm), lm.order
    states = token_states(lm.vocabulary_.itos_)
    x = [Discrete(f"x{t}", states) for t in range(1, n + 1)]
    factors = [NGramFactor(x[t], x[max(0, t - k) : t], lm) for t in range(n)]
    names = [v.name for v in x]
    return BayesNet(factors, name=f"order-{k} n-gram model, {T} tokens", layout=time_layout(names))


def ngram_assignment(lm: NGramLM, sequences) -> dict[str, Tensor]:
    """The network's values for ``sequences`` of one length T: ``{"x1": ids (B,), ...}``, the
    end nodes x_{T+1}..x_{T+r} set to ``</s>``; unknown tokens follow the vocabulary's policy."""
    lm._check_fitted()
    v = lm.vocabulary_
    flat, lengths = v.encode_batch(sequences)  # (N,), (B,)
    T = int(lengths[0]) if lengths.numel() else 0
    if T == 0 or bool((lengths != T).any()):
        raise ValueError(
            f"sequences must be non-empty and of one length, got lengths "
            f"{sorted(set(lengths.tolist()))}"
        )
    ids = flat.reshape(-1, T)  # (B, T)
    end = torch.full((ids.shape[0], _end_nodes(lm)), v.eos_id, dtype=torch.long)  # (B, r)
    ids = torch.cat([ids, end], 1)  # (B, T + r)
    return {f"x{t + 1}": ids[:, t] for t in range(ids.shape[1])}
