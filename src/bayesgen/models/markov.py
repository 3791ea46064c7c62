"""Markov chains (eq. 11 of the chapter) over integer states, and n-gram models over tokens.

A homogeneous order-k Markov chain is the Bayesian network

    p(x_1..x_T) = p(x_1..x_k) Π_{t=k+1}^{T} p(x_t | x_{t-k}..x_{t-1}),

with one transition table shared by every step. For k = 1 the table is the transition matrix
P_ij = p(x_{t+1} = j | x_t = i). :class:`MarkovChain` stores it densely (small state spaces);
:class:`~bayesgen.models.ngram.NGramLM` is the text-facing model over tokens, with sparse counts
and smoothing. Both are exported here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical

from .._checks import check_int, check_real
from .._constants import TINY
from ..factors import Table
from ..graph import time_layout
from ..network import BayesNet
from ..variables import Discrete
from .base import Model
from .ngram import NGramLM, stationary_distribution, unrolled_chain_dag

__all__ = ["MarkovChain", "NGramLM", "stationary_distribution", "unrolled_chain_dag"]

_MAX_TABLE = 50_000_000


def _as_state_sequences(sequences, name: str = "sequences") -> tuple[Tensor, Tensor]:
    """Flat states (N,) and lengths (B,) from a (B, T) tensor/array or a list of 1-D ones."""
    if isinstance(sequences, Tensor | np.ndarray):
        x = torch.as_tensor(sequences)
        if x.ndim != 2:
            raise ValueError(f"{name} as an array must have shape (B, T), got {tuple(x.shape)}")
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        flat = x.reshape(-1)
    else:
        if isinstance(sequences, str):
            raise TypeError(f"{name} must hold integer state sequences, got a str; use NGramLM")
        seqs = []
        for i, s in enumerate(sequences):
            try:
                seqs.append(torch.as_tensor(s))
            except (TypeError, ValueError, RuntimeError) as e:
                raise TypeError(
                    f"{name}[{i}] must be a 1-D sequence of integer states, got "
                    f"{type(s).__name__} {str(s)[:40]!r} ({e}); for tokens use NGramLM"
                ) from e
        if any(s.ndim != 1 for s in seqs):
            raise ValueError(f"each of {name} must be a 1-D sequence of states")
        lengths = torch.tensor([s.numel() for s in seqs], dtype=torch.long)
        flat = torch.cat(seqs) if seqs else torch.zeros(0, dtype=torch.long)
    if lengths.numel() == 0:
        raise ValueError(f"{name} is empty: need at least one sequence")
    empty = torch.nonzero(lengths == 0).squeeze(1)
    if empty.numel():
        raise ValueError(f"{name}[{int(empty[0])}] is an empty sequence")
    if flat.is_floating_point():
        if not torch.equal(flat, flat.round()):
            raise TypeError(f"{name} must hold integer states, got non-integer floats")
    elif flat.dtype == torch.bool or flat.is_complex():
        raise TypeError(f"{name} must hold integer states, got dtype {flat.dtype}")
    flat = flat.long()
    if (flat < 0).any():
        raise ValueError(f"states must be integers >= 0, got {int(flat.min())}")
    return flat, lengths


class MarkovChain(Model):
    """Homogeneous order-k Markov chain over states {0..S-1}, with dense tables.

    Parameters
    ----------
    n_states : S; inferred as max state + 1 at ``fit`` when ``None``.
    order : k ≥ 1.
    alpha : additive pseudo-count (the posterior mean under a symmetric Dirichlet(alpha)
        prior on every row); 0 is the MLE. A context never seen in training gets the uniform
        row when alpha = 0 (its MLE is undefined).

    Fitted state: ``initial_`` p(x_1..x_k), shape (S,)*k; ``transition_matrix_``
    p(x_t | x_{t-k}..x_{t-1}), shape (S,)*k + (S,) (child on the last axis; (S, S) for k = 1);
    ``transition_counts_`` and ``initial_counts_`` alongside.
    """

    def __init__(self, n_states: int | None = None, order: int = 1, alpha: float = 0.0):
        super().__init__()
        self.order = check_int(
            "order", order, low=1, expected="an int >= 1 (use NGramLM for order 0)"
        )
        check_int("n_states", n_states, low=1, optional=True)
        self.n_states = n_states
        self.alpha = check_real("alpha", alpha, low=0)

    # ------------------------------------------------------------------ fitting
    def _keys(self, flat: Tensor, lengths: Tensor, width: int, S: int) -> tuple[Tensor, Tensor]:
        """Mixed-radix code Σ_j x_{s+j} S^(width-1-j) of every window of ``width`` states
        inside a sequence, and each window's sequence index."""
        starts = torch.cumsum(lengths, 0) - lengths  # (B,)
        seq = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)  # (N,)
        pos = torch.arange(flat.numel()) - starts[seq]
        ok = torch.nonzero(pos + width <= lengths[seq]).squeeze(1)  # window starts
        key = torch.zeros(ok.numel(), dtype=torch.long)
        for j in range(width):  # loop over the window, not the data
            key = key * S + flat[ok + j]
        return key, seq[ok]

    def summarize(self, sequences) -> tuple[Tensor, Tensor]:
        """Sufficient statistics: initial counts (S,)*k and transition counts (S,)*(k+1)."""
        flat, lengths = _as_state_sequences(sequences)
        S = self.n_states_ if hasattr(self, "n_states_") else self.n_states
        if S is None:
            S = int(flat.max()) + 1
        if int(flat.max()) >= S:
            raise ValueError(f"states must lie in [0, n_states={S}), got {int(flat.max())}")
        k = self.order
        if S ** (k + 1) > _MAX_TABLE:
            raise ValueError(
                f"a dense order-{k} table over {S} states needs S^(k+1) = {S ** (k + 1)} cells "
                f"(> {_MAX_TABLE}); use NGramLM, which stores counts sparsely"
            )
        longest = int(lengths.max())
        if longest <= k:
            raise ValueError(
                f"order={k} needs sequences longer than {k} states to see a transition; the "
                f"longest has {longest}"
            )
        self.n_states_ = S
        # x_1..x_k of every sequence with at least k states
        first = (torch.cumsum(lengths, 0) - lengths)[lengths >= k]  # (B',)
        init_key = torch.zeros(first.numel(), dtype=torch.long)
        for j in range(k):  # loop over the window, not the data
            init_key = init_key * S + flat[first + j]
        init = torch.bincount(init_key, minlength=S**k).reshape((S,) * k)
        tkey, _ = self._keys(flat, lengths, k + 1, S)
        trans = torch.bincount(tkey, minlength=S ** (k + 1)).reshape((S,) * (k + 1))
        return init, trans

    def from_summaries(self, init: Tensor, trans: Tensor) -> MarkovChain:
        """Normalize the counts into ``initial_`` and ``transition_matrix_``."""
        S, a = self.n_states_, self.alpha
        init_f, trans_f = init.double() + a, trans.double() + a
        rows = trans_f.sum(-1, keepdim=True)
        P = torch.where(rows > 0, trans_f / rows.clamp(min=TINY), torch.full_like(trans_f, 1 / S))
        tot = init_f.sum()
        pi0 = init_f / tot if tot > 0 else torch.full_like(init_f, 1 / init_f.numel())
        for name, t in [
            ("initial_counts_", init),
            ("transition_counts_", trans),
            ("initial_", pi0),
            ("transition_matrix_", P),
        ]:
            self.register_buffer(name, t)
        return self

    def fit(self, sequences) -> MarkovChain:
        """MLE (alpha = 0) or posterior mean of the tables from state sequences: a (B, T)
        tensor/array or a list of 1-D sequences of different lengths."""
        if hasattr(self, "n_states_") and self.n_states is None:
            del self.n_states_
        return self.from_summaries(*self.summarize(sequences))

    _fitted_attrs = ("transition_matrix_",)

    # ------------------------------------------------------------------ scoring
    def forward(self, context: Tensor) -> Categorical:
        """The factor p(x_t | x_{t-k}..x_{t-1}): context (B, k) → Categorical over S states."""
        self._check_fitted()
        context = torch.as_tensor(context, dtype=torch.long, device=self.transition_matrix_.device)
        if context.ndim != 2 or context.shape[1] != self.order:
            raise ValueError(
                f"context must have shape (B, order={self.order}), got {tuple(context.shape)}"
            )
        return Categorical(probs=self.transition_matrix_[tuple(context.T)])

    def log_prob(self, sequences) -> Tensor:
        """log p(x_1..x_T) per sequence, shape (B,): log p(x_1..x_k) + Σ_t log P[context, x_t]."""
        self._check_fitted()
        flat, lengths = _as_state_sequences(sequences)
        S, k = self.n_states_, self.order
        if int(flat.max()) >= S:
            raise ValueError(f"states must lie in [0, n_states={S}), got {int(flat.max())}")
        short = torch.nonzero(lengths < k).squeeze(1)
        if short.numel():
            raise ValueError(
                f"sequences[{int(short[0])}] has {int(lengths[short[0]])} states; "
                f"an order-{k} chain scores sequences of at least {k}"
            )
        dev = self.transition_matrix_.device
        first = torch.cumsum(lengths, 0) - lengths
        ikey = torch.zeros(lengths.numel(), dtype=torch.long)
        for j in range(k):
            ikey = ikey * S + flat[first + j]
        out = self.initial_.reshape(-1).log()[ikey.to(dev)]  # (B,)
        tkey, seq = self._keys(flat, lengths, k + 1, S)
        lp = self.transition_matrix_.reshape(-1).log()[tkey.to(dev)]
        return out.index_add_(0, seq.to(dev), lp)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, length: int, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral sampling: (n, length) states, x_1..x_k from ``initial_`` and each
        later state from its row of the transition table."""
        self._check_fitted()
        n_samples = check_int("n", n, low=1)
        check_int("length", length, low=self.order)
        S, k, dev = self.n_states_, self.order, self.transition_matrix_.device
        gen = generator
        x = torch.empty((n_samples, length), dtype=torch.long, device=dev)  # (B, T)
        flat0 = torch.multinomial(
            self.initial_.reshape(-1).float(), n_samples, replacement=True, generator=gen
        )  # (B,) codes of x_1..x_k
        for j in range(k - 1, -1, -1):
            x[:, j] = flat0 % S
            flat0 = flat0 // S
        rows = self.transition_matrix_.reshape(-1, S)  # (S^k, S)
        for t in range(k, length):  # loop over time steps, batched over samples
            ctx = torch.zeros(n_samples, dtype=torch.long, device=dev)
            for j in range(t - k, t):
                ctx = ctx * S + x[:, j]
            x[:, t] = torch.multinomial(rows[ctx], 1, generator=gen).squeeze(1)
        return x

    # ------------------------------------------------------------------ structure
    def stationary_distribution(self, method: str = "eig") -> Tensor:
        """π with π P = π for an order-1 chain (see :func:`stationary_distribution`)."""
        self._check_fitted()
        if self.order != 1:
            raise ValueError(f"stationary_distribution needs order=1, got order={self.order}")
        return stationary_distribution(self.transition_matrix_, method)

    @property
    def network(self) -> BayesNet:
        """The fitted chain unrolled over k + 3 steps (:meth:`unrolled`)."""
        return self.unrolled(self.order + 3)

    def unrolled(self, T: int) -> BayesNet:
        """The fitted chain as the Bayesian network of T states (eq. 11): the start
        p(x_1..x_k) as the chain of its conditionals p(x_j | x_<j), j ≤ k (a zero-probability
        prefix gets a uniform row), then p(x_t | x_{t−k}..x_{t−1}) from the one transition table.
        Its ``log_prob`` of a sequence is :meth:`log_prob`."""
        self._check_fitted()
        k = self.order
        check_int("T", T, low=k)
        S = self.n_states_
        x = [Discrete(f"x{t}", S) for t in range(1, T + 1)]
        factors = []
        for j in range(k):  # p(x_{j+1} | x_1..x_j) from the joint start table
            joint = self.initial_.sum(dim=tuple(range(j + 1, k))) if j + 1 < k else self.initial_
            rows = joint.sum(-1, keepdim=True)
            cond = torch.where(rows > 0, joint / rows.clamp_min(TINY), 1.0 / S)
            factors.append(Table(x[j], x[:j], probs=cond))
        for t in range(k, T):
            factors.append(Table(x[t], x[t - k : t], probs=self.transition_matrix_))
        names = [v.name for v in x]
        return BayesNet(factors, name=f"order-{k} Markov chain", layout=time_layout(names))

    def extra_repr(self) -> str:
        return f"n_states={self.n_states}, order={self.order}, alpha={self.alpha}"
