"""The neural blocks the paradigms share: an MLP, masked layers (MADE), time embeddings, and the
three ways of injecting a condition y into a network (eq. 19, §2.2.3).

Conditioning is an option object: :class:`Concat` appends the context c to the network's input,
:class:`FiLM` scales and shifts every hidden layer, h ← (1 + γ(c)) ⊙ h + β(c),
:class:`CrossAttention` lets every hidden layer attend to tokens made from c,
h ← h + W_o softmax(q(h) k(c)ᵀ / √d) v(c), and :class:`Projection` adds a bilinear term between
the last hidden layer and c to the output, f_j(x, c) = w_jᵀ h + b_j + hᵀ U_j c (the projection
discriminator of Miyato & Koyama, 2018, where c is one-hot: D(x, y) = ψ(h) + e_yᵀ h). Every block
is batch first: h has shape (B, *, H) and the context c has shape (B, C) (or (B, K, C) tokens for
cross-attention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._checks import check_int

__all__ = [
    "Conditioning",
    "Concat",
    "FiLM",
    "CrossAttention",
    "Projection",
    "as_conditioning",
    "MLP",
    "MaskedLinear",
    "MADE",
    "SinusoidalEmbedding",
]


# ---------------------------------------------------------------------------- conditioning
class Conditioning:
    """How a context c enters a network. ``block(features, context_size)`` builds the module
    that maps (h, c) to the conditioned h (same shape); ``None`` where c enters at the input."""

    name: str = ""

    def block(self, features: int, context_size: int) -> nn.Module | None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Concat(Conditioning):
    """y concatenated to the input: f([x, c])."""

    name = "concat"


class FiLM(Conditioning):
    """Feature-wise linear modulation of every hidden layer: (1 + γ(c)) ⊙ h + β(c)."""

    name = "film"

    def block(self, features: int, context_size: int) -> nn.Module:
        return _FiLMBlock(features, context_size)


class CrossAttention(Conditioning):
    """Every hidden layer attends to ``tokens`` tokens made from c (or to c's own tokens when c
    is (B, K, C)), with ``heads`` heads and a residual connection."""

    name = "attention"

    def __init__(self, heads: int = 4, tokens: int = 4):
        heads = check_int("heads", heads, low=1)
        tokens = check_int("tokens", tokens, low=1)
        self.heads, self.tokens = heads, tokens

    def block(self, features: int, context_size: int) -> nn.Module:
        return CrossAttentionBlock(features, context_size, heads=self.heads, tokens=self.tokens)

    def __repr__(self) -> str:
        return f"CrossAttention(heads={self.heads}, tokens={self.tokens})"


class Projection(Conditioning):
    """c enters at the output only, through a bilinear term with the last hidden layer h:
    f(x, c) = W h + b + (hᵀ U_j c)_j. With a one-hot c and one output this is the projection
    discriminator, D(x, y) = ψ(h) + e_yᵀ h with e_y = U[:, :, y]."""

    name = "projection"


def as_conditioning(value: Conditioning | str) -> Conditioning:
    """A :class:`Conditioning` from itself or its name ('concat', 'film', 'attention',
    'projection')."""
    if isinstance(value, Conditioning):
        return value
    if value == "concat":
        return Concat()
    elif value == "film":
        return FiLM()
    elif value in ("attention", "cross-attention"):
        return CrossAttention()
    elif value == "projection":
        return Projection()
    else:
        raise ValueError(
            f"conditioning must be 'concat', 'film', 'attention' or 'projection', got {value!r}"
        )


def _broadcast(c: Tensor, h: Tensor) -> Tensor:
    """c (B, F) viewed as (B, 1, ..., F) to broadcast against h (B, *, H)."""
    return c.reshape(c.shape[0], *([1] * (h.dim() - 2)), c.shape[-1])


class _FiLMBlock(nn.Module):
    def __init__(self, features: int, context_size: int):
        super().__init__()
        self.proj = nn.Linear(context_size, 2 * features)
        nn.init.zeros_(self.proj.weight)  # starts as the identity modulation
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        gamma, beta = _broadcast(self.proj(c), h).chunk(2, dim=-1)  # (B, 1.., H) each
        return h * (1 + gamma) + beta


class CrossAttentionBlock(nn.Module):
    """h ← h + W_o Attention(q = W_q LN(h), k, v from the context tokens). h: (B, *, H); c:
    (B, C), split into ``tokens`` learned tokens, or (B, K, C) tokens."""

    def __init__(self, features: int, context_size: int, *, heads: int = 4, tokens: int = 4):
        super().__init__()
        self.heads = heads if features % heads == 0 else 1
        self.tokens = tokens
        self.norm = nn.LayerNorm(features)
        self.q = nn.Linear(features, features)
        self.to_tokens = nn.Linear(context_size, tokens * features)  # for a (B, C) context
        self.kv = nn.Linear(features, 2 * features)
        self.proj = nn.Linear(features, features)
        self.to_tokens_seq = nn.Linear(context_size, features)  # for a (B, K, C) context
        nn.init.zeros_(self.proj.weight)  # starts as the identity
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        B, H = h.shape[0], h.shape[-1]
        nh = self.heads
        q = self.q(self.norm(h)).reshape(B, -1, nh, H // nh).transpose(1, 2)  # (B, nh, N, hd)
        if c.dim() == 2:
            tok = self.to_tokens(c).reshape(B, self.tokens, H)  # (B, K, H)
        else:
            tok = self.to_tokens_seq(c)  # (B, K, H)
        k, v = self.kv(tok).reshape(B, -1, 2, nh, H // nh).permute(2, 0, 3, 1, 4)  # (B, nh, K, hd)
        a = nn.functional.scaled_dot_product_attention(q, k, v)  # (B, nh, N, hd)
        return h + self.proj(a.transpose(1, 2).reshape(h.shape))


# ---------------------------------------------------------------------------- MLP
class MLP(nn.Module):
    """x (B, *, n_in) → (B, *, n_out) through ``hidden`` layers, with an optional context
    c (B, C) entering as ``conditioning`` says (concatenated to the input by default)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: Sequence[int] = (64, 64),
        *,
        activation: type[nn.Module] = nn.ReLU,
        context_size: int = 0,
        conditioning: Conditioning | str = "concat",
    ):
        super().__init__()
        self.context_size = int(context_size)
        self.conditioning = as_conditioning(conditioning)
        self.concat = self.context_size > 0 and isinstance(self.conditioning, Concat)
        sizes = [n_in + (self.context_size if self.concat else 0), *hidden, n_out]
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.activation = activation()
        self.projection = None
        blocks = []
        if self.context_size and isinstance(self.conditioning, Projection):
            if not hidden:
                raise ValueError("projection conditioning needs at least one hidden layer")
            self.projection = nn.Bilinear(hidden[-1], self.context_size, n_out, bias=False)
            nn.init.zeros_(self.projection.weight)  # starts unconditioned
        elif self.context_size and not self.concat:
            blocks = [self.conditioning.block(h, self.context_size) for h in hidden]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if self.context_size:
            if context is None:
                raise ValueError(f"this network needs a context of size {self.context_size}")
            if self.concat:
                c = _broadcast(context, x).expand(*x.shape[:-1], self.context_size)
                x = torch.cat([x, c.to(x.dtype)], dim=-1)  # (B, *, n_in + C)
        for i, linear in enumerate(self.linears[:-1]):
            x = self.activation(linear(x))
            if self.blocks:
                x = self.blocks[i](x, context)
        out = self.linears[-1](x)  # (B, *, n_out)
        if self.projection is not None:  # + (hᵀ U_j c)_j, c broadcast over the extra axes
            c = _broadcast(context, x).expand(*x.shape[:-1], self.context_size)
            out = out + self.projection(x, c.to(x.dtype))
        return out


# ---------------------------------------------------------------------------- masked layers
class MaskedLinear(nn.Linear):
    """y = x (W ⊙ M)ᵀ + b with a fixed 0/1 mask M (out, in), a registered buffer."""

    def __init__(self, n_in: int, n_out: int, mask: Tensor):
        super().__init__(n_in, n_out)
        if tuple(mask.shape) != (n_out, n_in):
            raise ValueError(f"mask must have shape ({n_out}, {n_in}), got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    Maps x (B, D) to (B, D, P): the P numbers of dimension d depend on x only through the
    dimensions that come before d in ``order`` (a permutation of 0..D-1, default 0, 1, ...), so
    p(x) = Π_d p(x_d | x_<d) with one pass. Degrees: input d has m(d) = rank of d in the order
    + 1, hidden unit k has m(k) ∈ [1, D-1] (from 0 with a context), spread evenly over that
    range; a hidden mask keeps m(k) ≥ m(in), the output mask keeps m(out) > m(in). A context
    c (B, C) enters as ``conditioning`` says: ``"concat"`` joins it to the first layer
    unmasked, with degree 0; ``"film"`` modulates every hidden layer, h ← (1 + γ(c)) ⊙ h + β(c),
    unit by unit, so no unit's degree changes (cross-attention would mix the units, and the
    masks with them). With ``"film"`` the first output in the order reads nothing: a caller
    adds c to the outputs itself (the autoregressive models and flows have a linear head).
    """

    def __init__(
        self,
        features: int,
        params: int = 1,
        hidden: Sequence[int] = (64, 64),
        *,
        context_size: int = 0,
        order: Sequence[int] | None = None,
        activation: type[nn.Module] = nn.ReLU,
        conditioning: Conditioning | str = "concat",
    ):
        super().__init__()
        D = int(features)
        self.conditioning = as_conditioning(conditioning)
        if not isinstance(self.conditioning, Concat | FiLM):
            raise ValueError(
                f"a MADE's conditioning must be 'concat' or 'film' (the others mix the masked "
                f"units), got {self.conditioning!r}"
            )
        film = bool(context_size) and isinstance(self.conditioning, FiLM)
        order = torch.arange(D) if order is None else torch.as_tensor(order, dtype=torch.long)
        if sorted(order.tolist()) != list(range(D)):
            raise ValueError(f"order must be a permutation of 0..{D - 1}, got {order.tolist()}")
        self.features, self.params, self.context_size = D, int(params), int(context_size)
        degrees_in = torch.empty(D, dtype=torch.long)
        degrees_in[order] = torch.arange(1, D + 1)
        self.register_buffer("degrees", degrees_in)
        layers: list[nn.Module] = []
        joined = 0 if film else self.context_size  # the context's inputs to the first layer
        prev = torch.cat([degrees_in, torch.zeros(joined, dtype=torch.long)])
        low = 0 if joined else 1  # degree-0 units carry a joined context alone
        for h in hidden:
            # (h,) spread evenly over [low, D - 1], each degree equally often: in a layer
            # narrower than D the degrees step by (D - low) / h (m(k) = k mod (D - 1), the
            # usual choice, would stop at h and leave the last D - h inputs to no unit)
            deg = low + torch.arange(h) * max(D - low, 1) // h
            layers += [MaskedLinear(len(prev), h, (deg[:, None] >= prev[None, :]).float())]
            layers.append(activation())
            prev = deg
        out_deg = degrees_in.repeat_interleave(self.params)  # (D * P,)
        layers.append(MaskedLinear(len(prev), D * self.params, (out_deg[:, None] > prev).float()))
        self.net = nn.Sequential(*layers)
        blocks = [_FiLMBlock(h, self.context_size) for h in hidden] if film else []
        self.film = nn.ModuleList(blocks)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        B = x.shape[0]
        if self.context_size:
            if context is None:
                raise ValueError(f"this MADE needs a context of size {self.context_size}")
            context = context.to(x.dtype)
            if not self.film:
                x = torch.cat([x, context], dim=-1)  # (B, D + C)
        modulations = iter(self.film)
        for layer in self.net:  # masked linear, activation, ..., masked linear
            x = layer(x)
            if self.film and not isinstance(layer, MaskedLinear):  # (B, H) after an activation
                x = next(modulations)(x, context)
        return x.reshape(B, self.features, self.params)  # (B, D, P)


# ---------------------------------------------------------------------------- embeddings
class SinusoidalEmbedding(nn.Module):
    """t (B,) → (B, dim): [sin(t ω_k), cos(t ω_k)] with ω_k = max_period^(−k / (dim/2)),
    the time (diffusion) and position embedding of Vaswani et al. The frequencies are a buffer."""

    def __init__(self, dim: int, max_period: float = 10_000.0):
        super().__init__()
        if not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half))

    def forward(self, t: Tensor) -> Tensor:
        angles = t.to(self.freqs.dtype)[..., None] * self.freqs  # (B, dim/2)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, dim)
