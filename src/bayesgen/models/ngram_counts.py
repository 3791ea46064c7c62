"""Vectorized n-gram counting: every m-gram (m = 1..k+1) of a corpus in sorted int64 tables.

Each m-gram is one int64 key, a two-digit mixed-radix number

    key(x_1..x_m) = rank(x_1..x_{m-1}) * V + x_m,

where ``rank`` is the position of the (m-1)-gram in the sorted table of level m-1 (the root,
level 0, has rank 0). The keys of a level are computed for every position of the corpus at once
and reduced with ``torch.unique`` (or, when the key range is small, a dense presence table and
its cumulative sum); lookups are ``torch.searchsorted``. No Python loop runs over tokens, only
over the k+1 levels. Because a rank is smaller than the number of tokens, keys never overflow
int64 whatever V and k are (a plain mixed-radix code V^(k+1) would overflow for word
vocabularies, and hashing would risk collisions), and the tables are a trie stored in sorted
arrays: the children of a node are contiguous and ``key // V`` is the parent's rank.

Per level m the tables hold, for every m-gram node u (shapes ``(U_m,)``):

    keys     the sorted keys
    count    c(u): occurrences that are counted (see ``padding``)
    suffix   rank at level m-1 of u without its first token (the back-off context)
    cont     N1+(. u) = #{x : c(x u) > 0}, the Kneser-Ney continuation count

Padding conventions (``padding``), for an order-k model:

* ``"markov"``: a sequence x_1..x_T is read as ``<s>``*k x_1..x_T ``</s>`` and the model is the
  order-k chain p(x_1..x_T, </s>) = Π_t p(x_t | x_{t-k}..x_{t-1}); an m-gram is counted once for
  every predicted position it ends at, so lower-order counts are marginals of the top order.
* ``"nltk"``: NLTK's ``padded_everygram_pipeline``: k ``<s>`` and k ``</s>``, every m-gram of the
  padded sequence counted (so ``<s>`` and repeated ``</s>`` appear as unigrams).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import check_option

__all__ = ["PADDINGS", "PaddedBatch", "NGramCounts", "pad_sequences", "lookup"]

PADDINGS = ("markov", "nltk")


class PaddedBatch:
    """Sequences padded and concatenated into one flat array.

    ``ids`` (L,) the padded tokens; ``end`` (L,) index of the last position of each position's
    sequence; ``target`` (L,) True where a token is predicted (not a left pad); ``seq`` (L,) the
    sequence index of each position.
    """

    def __init__(self, ids: Tensor, end: Tensor, target: Tensor, seq: Tensor, n_seqs: int):
        self.ids, self.end, self.target, self.seq, self.n_seqs = ids, end, target, seq, n_seqs

    def __len__(self) -> int:
        return self.ids.numel()


def pad_sequences(
    flat: Tensor, lengths: Tensor, left: int, right: int, bos: int, eos: int
) -> PaddedBatch:
    """Pad each sequence with ``left`` ``bos`` and ``right`` ``eos`` ids, all in one pass.

    ``flat`` (N,) holds the concatenated sequences, ``lengths`` (B,) their lengths.
    """
    device = flat.device
    lengths = lengths.to(device)
    B = lengths.numel()
    plen = lengths + left + right  # (B,)
    pstart = torch.cumsum(plen, 0) - plen  # (B,)
    L = int(plen.sum())
    ids = torch.full((L,), eos, dtype=torch.long, device=device)
    if left:
        ids[(pstart[:, None] + torch.arange(left, device=device)).reshape(-1)] = bos
    seq_of_tok = torch.repeat_interleave(torch.arange(B, device=device), lengths)  # (N,)
    # token j of the flat array moves right by the pads of its own and all earlier sequences
    ids[torch.arange(flat.numel(), device=device) + left + seq_of_tok * (left + right)] = flat
    seq = torch.repeat_interleave(torch.arange(B, device=device), plen)  # (L,)
    end = (pstart + plen - 1)[seq]
    target = torch.arange(L, device=device) - pstart[seq] >= left
    return PaddedBatch(ids, end, target, seq, B)


def lookup(keys: Tensor, queries: Tensor) -> Tensor:
    """Rank of each query in the sorted ``keys``, or -1 where absent; negative queries give -1."""
    if keys.numel() == 0:
        return torch.full_like(queries, -1)
    idx = torch.searchsorted(keys, queries.clamp(min=0)).clamp(max=keys.numel() - 1)
    found = (keys[idx] == queries) & (queries >= 0)
    return torch.where(found, idx, torch.full_like(idx, -1))


def _unique(keys: Tensor, bound: int) -> tuple[Tensor, Tensor]:
    """Sorted distinct keys >= 0 and each key's rank in them (-1 for the negative keys).

    Keys lie in [-1, bound); when ``bound`` is small next to the number of keys, a dense
    presence table and its cumulative sum replace the sort of ``torch.unique``.
    """
    if bound <= max(4 * keys.numel(), 1 << 16):
        present = torch.bincount(keys + 1, minlength=bound + 1)[1:] > 0  # (bound,)
        rank = torch.cumsum(present, 0) - 1  # (bound,)
        uniq = torch.nonzero(present).squeeze(1)
        inv = torch.where(keys >= 0, rank[keys.clamp(min=0)], -1)
        return uniq, inv
    uniq, inv = torch.unique(keys, sorted=True, return_inverse=True)
    if uniq.numel() and uniq[0] < 0:  # drop the "invalid window" key; its rank becomes -1
        uniq, inv = uniq[1:], inv - 1
    return uniq, inv


class _Level(nn.Module):
    """The tables of one trie level, as registered buffers."""

    def __init__(self, keys: Tensor, count: Tensor, suffix: Tensor):
        super().__init__()
        self.register_buffer("keys", keys)  # (U,)
        self.register_buffer("count", count)  # (U,)
        self.register_buffer("suffix", suffix)  # (U,)
        self.register_buffer("cont", torch.zeros_like(count))  # (U,)

    def __len__(self) -> int:
        return self.keys.numel()


class NGramCounts(nn.Module):
    """All m-gram counts, m = 1..n, of a padded corpus, as a trie in sorted int64 arrays."""

    def __init__(self, n: int, vocab_size: int, padding: str = "markov"):
        super().__init__()
        check_option("padding", padding, PADDINGS)
        self.n, self.V, self.padding = int(n), int(vocab_size), padding
        self.levels = nn.ModuleList()

    def level(self, m: int) -> _Level:
        """Tables of the m-grams, m = 1..n."""
        return self.levels[m - 1]

    def size(self, m: int) -> int:
        """Number of nodes at level m (level 0 is the root: 1)."""
        return 1 if m == 0 else len(self.levels[m - 1])

    def parent(self, m: int) -> Tensor:
        """Rank at level m-1 of each level-m node's context (its first m-1 tokens)."""
        return self.level(m).keys // self.V

    def fit(self, batch: PaddedBatch) -> NGramCounts:
        """Count every m-gram of ``batch`` (one ``torch.unique`` per level)."""
        X, L = batch.ids, len(batch)
        dev = X.device
        pos = torch.arange(L, device=dev)
        levels = []
        r_prev = torch.zeros(L, dtype=torch.long, device=dev)  # rank of the (m-1)-gram at s
        for m in range(1, self.n + 1):
            W = L - m + 1  # windows starting at s = 0..W-1 (slices, no gathers)
            valid = pos[:W] + m - 1 <= batch.end[:W]  # (W,) the window stays in its sequence
            keys_at = torch.where(valid, r_prev[:W] * self.V + X[m - 1 :], -1)  # (W,)
            keys, inv = _unique(keys_at, bound=(len(levels[-1]) if levels else 1) * self.V)
            U = keys.numel()
            counted = valid & batch.target[m - 1 :] if self.padding == "markov" else valid
            count = torch.bincount(torch.where(counted, inv + 1, 0), minlength=U + 1)[1:]
            suffix = torch.zeros(U + 1, dtype=torch.long, device=dev)
            if m > 1:  # rank of the (m-1)-gram starting one position later
                suffix.scatter_(0, torch.where(valid, inv, U), r_prev[1 : W + 1])
            levels.append(_Level(keys, count, suffix[:U].clone()))
            r_prev = torch.full((L,), -1, dtype=torch.long, device=dev)
            r_prev[:W] = inv
        for m in range(2, self.n + 1):  # N1+(. u) for u at level m-1
            lv = levels[m - 1]
            levels[m - 2].cont = torch.bincount(
                lv.suffix[lv.count > 0], minlength=len(levels[m - 2])
            )
        self.levels = nn.ModuleList(levels)
        return self

    def ranks(self, batch: PaddedBatch) -> list[Tensor]:
        """``r[m][s]``: rank at level m of the m-gram starting at position s (-1 if unseen).

        ``r[0]`` is all zeros (the root). Shapes ``(L,)``.
        """
        X, L = batch.ids, len(batch)
        pos = torch.arange(L, device=X.device)
        r = [torch.zeros(L, dtype=torch.long, device=X.device)]
        for m in range(1, self.n + 1):
            W = max(L - m + 1, 0)
            prev = r[-1][:W]
            valid = (pos[:W] + m - 1 <= batch.end[:W]) & (prev >= 0)
            rm = torch.full((L,), -1, dtype=torch.long, device=X.device)
            rm[:W] = lookup(self.level(m).keys, torch.where(valid, prev * self.V + X[m - 1 :], -1))
            r.append(rm)
        return r

    def context_grams(
        self, batch: PaddedBatch
    ) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor]:
        """For each predicted position t and order m = 1..n: the context and m-gram ranks.

        Returns ``ctx[m-1]`` (rank at level m-1 of x_{t-m+1..t-1}), ``grams[m-1]`` (rank at
        level m of x_{t-m+1..t}), the target ids ``w`` and their sequence index, all ``(N_t,)``.
        """
        r = self.ranks(batch)
        t = torch.nonzero(batch.target).squeeze(1)  # (N_t,)
        ctx = [r[m - 1][t - m + 1] for m in range(1, self.n + 1)]
        grams = [r[m][t - m + 1] for m in range(1, self.n + 1)]
        return ctx, grams, batch.ids[t], batch.seq[t]

    def child_ranks(self, ctx: Tensor, m: int, words: Tensor) -> Tensor:
        """Rank at level m of (context ``ctx`` at level m-1, word): broadcasts; -1 if absent."""
        return lookup(self.level(m).keys, torch.where(ctx >= 0, ctx * self.V + words, -1))

    def extend(self, ctx: list[Tensor], word: Tensor) -> list[Tensor]:
        """Context ranks after appending ``word``: ``ctx[j]`` is the rank of the last j tokens.

        ``ctx`` holds k+1 tensors (B,) for context lengths 0..k (``ctx[0]`` the root).
        """
        new = [ctx[0]]
        for j in range(1, len(ctx)):
            new.append(self.child_ranks(ctx[j - 1], j, word))
        return new
