"""A character-level causal transformer (decoder only) with a key/value cache for sampling.

Each position t reads the embedding of the previous token (a learned start token, shifted by a
class/feature embedding when conditioned by prefix, stands before x_1) plus a position
embedding, through ``n_layer`` pre-LayerNorm blocks

    h ← h + Attn(LN(h)) [+ CrossAttn(h, y)],   h ← h + MLP(LN(h)),

where Attn is causal multi-head attention (``scaled_dot_product_attention`` with ``is_causal``),
and ends in logits tied to the token embedding: out_t = LN(h_t) Eᵀ, so out_t depends on
x_<t only and p(x_t | x_<t) = softmax(out_t) (eq. 15).

Sampling one token at a time re-runs the whole prefix unless the keys and values of the past
positions are kept: with a :class:`KVCache` each new token costs one position's work.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..nn import CrossAttentionBlock

__all__ = ["CausalSelfAttention", "TransformerBlock", "CausalTransformer", "KVCache"]


class KVCache:
    """Keys and values (B, nh, L, hd) of the positions seen so far, one pair per layer."""

    def __init__(self, n_layer: int):
        self.layers: list[tuple[Tensor, Tensor] | None] = [None] * n_layer

    @property
    def length(self) -> int:
        first = self.layers[0]
        return 0 if first is None else first[0].shape[2]


class CausalSelfAttention(nn.Module):
    """Multi-head attention where position t attends to positions ≤ t."""

    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd must be a multiple of n_head={n_head}, got {n_embd}")
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, h: Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> Tensor:  # h (B, L, H)
        B, L, H = h.shape
        q, k, v = self.qkv(h).split(H, dim=2)  # (B, L, H) each
        q, k, v = (z.view(B, L, self.n_head, H // self.n_head).transpose(1, 2) for z in (q, k, v))
        past = None if cache is None else cache.layers[layer]
        if past is not None:
            if L != 1:
                raise ValueError(f"a cached step takes one new position, got {L}")
            k = torch.cat([past[0], k], dim=2)  # (B, nh, Lpast + 1, hd)
            v = torch.cat([past[1], v], dim=2)
        if cache is not None:
            cache.layers[layer] = (k, v)
        # one new query against every cached key needs no mask; a full prefix is causal
        a = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=past is None
        )  # (B, nh, L, hd)
        return self.drop(self.proj(a.transpose(1, 2).reshape(B, L, H)))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: h + Attn(LN h) (+ cross-attention to y), then h + MLP(LN h)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, cross_context: int = 0):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.cross = (
            CrossAttentionBlock(n_embd, cross_context, heads=n_head) if cross_context else None
        )
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, h: Tensor, c: Tensor | None, cache: KVCache | None = None, layer: int = 0
    ) -> Tensor:
        h = h + self.attn(self.ln1(h), cache, layer)  # (B, L, H)
        if self.cross is not None:
            h = self.cross(h, c)
        return h + self.drop(self.mlp(self.ln2(h)))


class CausalTransformer(nn.Module):
    """Token codes (B, L) → logits (B, L, n_out) with out[:, t] a function of x[:, :t] (and y).

    ``n_in`` input symbols (the vocabulary, or 2 for bits); ``n_out`` outputs per position (the
    vocabulary's logits, or one Bernoulli logit). The output layer shares the embedding matrix
    when n_out = n_in (weight tying). ``conditioning``: ``"prefix"`` (y's embedding added to the
    start token) or ``"attention"`` (every block cross-attends to y).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        n_layer: int,
        n_head: int,
        n_embd: int,
        block_size: int,
        dropout: float = 0.0,
        context_size: int = 0,
        conditioning: str = "prefix",
    ):
        super().__init__()
        if conditioning not in ("prefix", "attention"):
            raise ValueError(f"conditioning must be 'prefix' or 'attention', got {conditioning!r}")
        self.block_size, self.n_layer = block_size, n_layer
        self.context_size = context_size
        self.wte = nn.Embedding(n_in, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.start = nn.Parameter(torch.zeros(n_embd))
        self.prefix = (
            nn.Linear(context_size, n_embd, bias=False)
            if context_size and conditioning == "prefix"
            else None
        )
        cross = context_size if conditioning == "attention" else 0
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(n_embd, n_head, dropout, cross) for _ in range(n_layer)
        )
        self.ln_f = nn.LayerNorm(n_embd)
        # weight tying: the output layer reads the embedding matrix (one tensor, so the
        # state dict holds it once)
        self.head = None if n_out == n_in else nn.Linear(n_embd, n_out, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # residual projections scaled by depth
            if name.endswith("proj.weight") and ".cross." not in name:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))
        nn.init.normal_(self.start, 0.0, 0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def _start(self, B: int, c: Tensor | None) -> Tensor:
        s = self.start.expand(B, 1, -1)  # (B, 1, H)
        if self.prefix is not None:
            s = s + self.prefix(c.to(s.dtype))[:, None, :]
        return s

    def run(self, tokens: Tensor, c: Tensor | None, cache: KVCache | None = None) -> Tensor:
        """Logits after [start, tokens]: (B, L + 1, n_out); out[:, t] predicts the token at
        position t. With ``cache``, the positions are appended to it (an empty cache takes the
        whole prefix)."""
        B, L = tokens.shape
        if L + 1 > self.block_size:
            raise ValueError(f"at most block_size - 1 = {self.block_size - 1} tokens, got {L}")
        if self.context_size and c is None:
            raise ValueError(f"this transformer needs a context of size {self.context_size}")
        h = torch.cat([self._start(B, c), self.wte(tokens.long())], dim=1)  # (B, L + 1, H)
        return self._blocks(h, 0, c, cache)

    def step(self, token: Tensor, c: Tensor | None, cache: KVCache) -> Tensor:
        """Logits (B, n_out) of the next position after appending ``token`` (B,) to the cache."""
        pos = cache.length
        if pos >= self.block_size:
            raise ValueError(f"the cache is full (block_size={self.block_size})")
        h = self.wte(token.long())[:, None, :]  # (B, 1, H)
        return self._blocks(h, pos, c, cache)[:, -1]

    def _blocks(self, h: Tensor, pos0: int, c: Tensor | None, cache: KVCache | None) -> Tensor:
        L = h.shape[1]
        pos = torch.arange(pos0, pos0 + L, device=h.device)
        h = self.drop(h + self.wpe(pos))  # (B, L, H)
        for i, block in enumerate(self.blocks):
            h = block(h, c, cache, i)
        h = self.ln_f(h)
        if self.head is None:
            return F.linear(h, self.wte.weight)  # (B, L, V), tied to the embedding
        return self.head(h)  # (B, L, n_out)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """x (B, T) → logits (B, T, n_out), out[:, t] from x[:, :t]."""
        return self.run(x[:, :-1], c)

    def dependency(self, T: int) -> Tensor:
        """D (T, T) bool, D[t, s] = s < t: every earlier position is a parent."""
        return torch.ones(T, T, dtype=torch.bool, device=self.start.device).tril(-1)
