"""The networks an autoregressive model can use, as option objects, and the modules they build.

Every module maps codes x (B, T) (token ids, or 0/1 pixels in raster order) and a context
c (B, C) or None to logits (B, T, P) whose row t depends on x_<t only (P = the vocabulary, or
one Bernoulli logit), and reports that structure as ``dependency()``, a (T, T) bool matrix
D[t, s] = "output t reads input s" — the parents of x_t in the network.

=====================  ====================================================================
:class:`Transformer`   causal self-attention (tokens or pixels); y by prefix or cross-attention
:class:`GRU`           a recurrent network: h_t = GRU(h_{t-1}, x_{t-1}); y by prefix
:class:`MADE`          one masked MLP pass for all T conditionals (binary pixels)
:class:`PixelCNN`      masked convolutions (binary images (H, W)); parents = receptive field
=====================  ====================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from math import prod
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .. import nn as bnn
from .._checks import check_int
from .pixelcnn import PixelCNNNet
from .transformer import CausalTransformer

__all__ = ["Backbone", "Transformer", "GRU", "MADE", "PixelCNN", "as_backbone", "GRUNet", "MADENet"]


def _check_dropout(value: object) -> None:
    if not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"dropout must be a float in [0, 1), got {value!r}")


class Backbone:
    """Base of the backbone options: a name, JSON round trip, and ``build``."""

    name: ClassVar[str] = ""
    #: True where the network runs one position at a time (it can extend any prefix)
    sequential: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def build(
        self, event_shape: tuple[int, ...], vocab_size: int | None, context_size: int
    ) -> nn.Module:
        raise TypeError(f"{type(self).__name__} is not a backbone option")


@dataclasses.dataclass(frozen=True)
class Transformer(Backbone):
    """A causal transformer: ``n_layer`` pre-LayerNorm blocks of ``n_head`` heads, width
    ``n_embd``, at most ``block_size`` positions (default: the event size T), weight-tied
    output. ``conditioning``: ``"prefix"`` or ``"attention"``."""

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int | None = None
    dropout: float = 0.0
    conditioning: str = "prefix"
    name: ClassVar[str] = "transformer"
    sequential: ClassVar[bool] = True

    def __post_init__(self):
        check_int("n_layer", self.n_layer, 1)
        check_int("n_head", self.n_head, 1)
        check_int("n_embd", self.n_embd, 1)
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd must be a multiple of n_head={self.n_head}, got {self.n_embd}"
            )
        if self.block_size is not None:
            check_int("block_size", self.block_size, 1)
        _check_dropout(self.dropout)
        if self.conditioning not in ("prefix", "attention"):
            raise ValueError(
                f"conditioning must be 'prefix' or 'attention', got {self.conditioning!r}"
            )

    def build(self, event_shape, vocab_size, context_size):
        T = prod(event_shape)
        block = self.block_size or T
        if block < T:
            raise ValueError(f"block_size must be >= the event size {T}, got {block}")
        return CausalTransformer(
            vocab_size or 2,
            vocab_size or 1,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            block_size=block,
            dropout=self.dropout,
            context_size=context_size,
            conditioning=self.conditioning,
        )


@dataclasses.dataclass(frozen=True)
class GRU(Backbone):
    """A recurrent network: token embedding of width ``n_embd``, ``n_layer`` GRU layers of
    ``hidden`` units, a linear head; y enters as the embedding of the start token."""

    n_layer: int = 1
    n_embd: int = 32
    hidden: int = 128
    dropout: float = 0.0
    name: ClassVar[str] = "gru"
    sequential: ClassVar[bool] = True

    def __post_init__(self):
        check_int("n_layer", self.n_layer, 1)
        check_int("n_embd", self.n_embd, 1)
        check_int("hidden", self.hidden, 1)
        _check_dropout(self.dropout)

    def build(self, event_shape, vocab_size, context_size):
        return GRUNet(
            vocab_size or 2,
            vocab_size or 1,
            n_layer=self.n_layer,
            n_embd=self.n_embd,
            hidden=self.hidden,
            dropout=self.dropout,
            context_size=context_size,
        )


@dataclasses.dataclass(frozen=True)
class MADE(Backbone):
    """A masked MLP (:class:`bayesgen.nn.MADE`) with ``hidden`` layers, binary data only; y
    joins the first layer (``conditioning="concat"``) or modulates every hidden layer
    (``"film"``), and enters every output's logit directly."""

    hidden: tuple[int, ...] = (256, 256)
    conditioning: str = "concat"
    name: ClassVar[str] = "made"

    def __post_init__(self):
        hidden = tuple(self.hidden)
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of ints >= 1, got {hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        if self.conditioning not in ("concat", "film"):
            raise ValueError(
                f"the MADE backbone's conditioning must be 'concat' or 'film', got "
                f"{self.conditioning!r}"
            )

    def build(self, event_shape, vocab_size, context_size):
        if vocab_size is not None:
            raise ValueError(f"the MADE backbone models binary data; got vocab_size={vocab_size}")
        return MADENet(prod(event_shape), self.hidden, context_size, self.conditioning)


@dataclasses.dataclass(frozen=True)
class PixelCNN(Backbone):
    """Masked convolutions over binary images (H, W): a ``first_kernel`` mask-A layer, then
    ``n_layers`` residual blocks with ``kernel`` mask-B convolutions of ``channels``."""

    channels: int = 64
    n_layers: int = 5
    kernel: int = 3
    first_kernel: int = 7
    name: ClassVar[str] = "pixelcnn"

    def __post_init__(self):
        check_int("channels", self.channels, 2)
        check_int("n_layers", self.n_layers, 0)
        for k in ("kernel", "first_kernel"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1 or v % 2 == 0:
                raise ValueError(f"{k} must be an odd int >= 1, got {v!r}")

    def build(self, event_shape, vocab_size, context_size):
        if vocab_size is not None:
            raise ValueError(f"the PixelCNN backbone models binary images; got {vocab_size=}")
        if len(event_shape) != 2:
            raise ValueError(
                f"the PixelCNN backbone needs images: event_shape (H, W), got {event_shape}"
            )
        return PixelCNNNet(
            *event_shape,
            channels=self.channels,
            n_layers=self.n_layers,
            kernel=self.kernel,
            first_kernel=self.first_kernel,
            context_size=context_size,
        )


_OPTIONS: dict[str, type[Backbone]] = {c.name: c for c in (Transformer, GRU, MADE, PixelCNN)}


def as_backbone(value: Backbone | Mapping[str, Any] | str) -> Backbone:
    """A backbone option from itself, its name (defaults), or its ``to_dict()``."""
    if isinstance(value, Backbone):
        return value
    if isinstance(value, str):
        value = {"type": value}
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind not in _OPTIONS:
            raise ValueError(f"backbone type must be one of {sorted(_OPTIONS)}, got {kind!r}")
        return _OPTIONS[kind](**{k: v for k, v in value.items() if k != "type"})
    else:
        raise TypeError(
            f"backbone must be a Transformer, GRU, MADE or PixelCNN option, got "
            f"{type(value).__name__}"
        )


# ---------------------------------------------------------------------------- modules
def _lower_triangle(T: int, device) -> Tensor:
    return torch.ones(T, T, dtype=torch.bool, device=device).tril(-1)  # D[t, s] = s < t


class GRUNet(nn.Module):
    """x (B, T) → logits (B, T, n_out): h_t = GRU(h_{t-1}, e(x_{t-1})), e(x_0) = start (+ y)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        n_layer: int,
        n_embd: int,
        hidden: int,
        dropout: float,
        context_size: int,
    ):
        super().__init__()
        self.context_size = context_size
        self.wte = nn.Embedding(n_in, n_embd)
        self.start = nn.Parameter(torch.zeros(n_embd))
        self.prefix = nn.Linear(context_size, n_embd, bias=False) if context_size else None
        self.rnn = nn.GRU(
            n_embd, hidden, n_layer, batch_first=True, dropout=dropout if n_layer > 1 else 0.0
        )
        self.head = nn.Linear(hidden, n_out)

    def run(
        self, tokens: Tensor, c: Tensor | None, state: Tensor | None = None, *, start: bool = True
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, L [+1], n_out) after [start,] tokens from ``state``; the new state."""
        if self.context_size and c is None:
            raise ValueError(f"this GRU needs a context of size {self.context_size}")
        h = self.wte(tokens.long())  # (B, L, E)
        if start:
            s = self.start.expand(len(tokens), 1, -1)  # (B, 1, E)
            if self.prefix is not None:
                s = s + self.prefix(c.to(s.dtype))[:, None, :]
            h = torch.cat([s, h], dim=1)  # (B, L + 1, E)
        out, state = self.rnn(h, state)  # (B, L + 1, hidden)
        return self.head(out), state

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.run(x[:, :-1], c)[0]  # (B, T, n_out)

    def dependency(self, T: int) -> Tensor:
        return _lower_triangle(T, self.start.device)


class MADENet(nn.Module):
    """x (B, D) 0/1 → one logit per dimension (B, D, 1) through :class:`bayesgen.nn.MADE`; a
    context also enters every output directly (the first output has no masked inputs)."""

    def __init__(
        self, features: int, hidden: tuple[int, ...], context_size: int, conditioning: str
    ):
        super().__init__()
        self.made = bnn.MADE(
            features, 1, hidden, context_size=context_size, conditioning=conditioning
        )
        self.direct = nn.Linear(context_size, features, bias=False) if context_size else None

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        dtype = self.made.net[0].weight.dtype
        out = self.made(2 * x.to(dtype) - 1, c)  # (B, D, 1), inputs as ±1
        if self.direct is not None:
            out = out + self.direct(c.to(dtype))[:, :, None]
        return out

    def dependency(self, T: int | None = None) -> Tensor:
        """D[t, s]: a path of unmasked weights joins input s to output t."""
        D = self.made.features
        masks = [m.mask for m in self.made.net if isinstance(m, bnn.MaskedLinear)]
        conn = masks[0][:, :D]  # (h1, D): the data inputs (the context columns come after)
        for m in masks[1:]:
            conn = (m @ conn).clamp(max=1)
        return conn > 0  # (D, D)
