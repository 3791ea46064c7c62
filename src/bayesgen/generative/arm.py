"""Autoregressive models (§2.2.2.1, eq. 15): the chain rule as a network of T factors.

    p(x | y) = Π_{t=1}^{T} p(x_t | x_<t, y)

Each factor is a Categorical over a vocabulary (tokens) or a Bernoulli (binary pixels) whose
parameters one shared network computes from the earlier values; the log-likelihood is exact
(one pass computes all T conditionals) and sampling is ancestral, one position at a time, with a
temperature τ (p ∝ p^{1/τ}; τ → 0 is the argmax) and top-k truncation. The network is the DAG
of figure 8: x_1 → x_2 → … → x_T with every forward edge (for a PixelCNN, the parents of a pixel
are exactly its receptive field). The backbone is an option object from
:mod:`bayesgen.generative.backbones`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from math import prod
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution
from torch.nn import functional as F

from .._checks import check_int
from ..factors.base import Factor
from ..factors.neural import _CodedBernoulli
from ..network import BayesNet
from ..variables import Discrete
from .backbones import GRU, MADE, Backbone, PixelCNN, Transformer, as_backbone
from .base import GenerativeModel
from .transformer import CausalTransformer, KVCache

__all__ = [
    "ARM",
    "ARMConditional",
    "Transformer",
    "GRU",
    "MADE",
    "PixelCNN",
    "generate_text",
    "stream_log_probs",
]


@contextmanager
def _evaluating(module: nn.Module):
    """The module in eval mode (no dropout) inside the block, its mode restored after."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


def _check_sampling(temperature: float, top_k: int | None) -> None:
    if not isinstance(temperature, int | float) or not temperature >= 0:
        raise ValueError(f"temperature must be a float >= 0, got {temperature!r}")
    check_int("top_k", top_k, low=1, optional=True)


def pick(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One draw per row from softmax(logits / τ) (B, K) restricted to the ``top_k`` largest;
    τ = 0 gives the argmax. Returns codes (B,)."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.double(), dim=-1)  # (B, K)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


class ARM(GenerativeModel, paradigm="arm"):
    """An autoregressive model p(x | y) = Π_t p(x_t | x_<t, y).

    Parameters
    ----------
    event_shape: (T,) for sequences, (H, W) for images (raster order), any shape for MADE.
    vocab_size: tokens 0..V-1 with Categorical factors; ``None``: binary data (floats 0/1)
        with Bernoulli factors.
    backbone: a :class:`Transformer`, :class:`GRU`, :class:`MADE` or :class:`PixelCNN` option,
        its name (default options), or its ``to_dict()`` (stored as that dict in ``config``).
    num_classes, context_size: the condition y (see :class:`GenerativeModel`).

    ``loss`` is the NLL per position (nats per token/pixel); ``log_prob`` the exact log p(x | y)
    of each row (nats per sequence).
    """

    exact_likelihood = True

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        *,
        vocab_size: int | None = None,
        backbone: Backbone | Mapping[str, Any] | str = "transformer",
        num_classes: int | None = None,
        context_size: int | None = None,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        if vocab_size is not None and (
            not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 2
        ):
            raise ValueError(f"vocab_size must be an int >= 2 or None (binary), got {vocab_size!r}")
        option = as_backbone(backbone)
        self.vocab_size = vocab_size
        self.backbone = option.to_dict()  # JSON, for config
        self.option = option
        self.T = prod(self.event_shape)
        self.net = option.build(self.event_shape, vocab_size, self.context_features)

    # ------------------------------------------------------------------ data
    @property
    def tokens(self) -> bool:
        return self.vocab_size is not None

    @property
    def card(self) -> int:
        """States of each variable: V tokens, or 2 for a binary pixel."""
        return self.vocab_size or 2

    def check_x(self, x: Tensor) -> Tensor:
        """x (B, *event_shape): token ids (long; floats only if integral) in [0, V), or binary
        values 0/1 (returned as floats)."""
        x = super().check_x(x)
        flat = x.reshape(len(x), -1)
        if x.is_floating_point():
            bad = (flat != flat.round()).any(1)
            if bad.any():
                what = "integer token ids" if self.tokens else "binary values 0/1"
                raise ValueError(
                    f"x must be {what}, got a non-integral value in row {int(bad.nonzero()[0])}"
                )
        bad = ((flat < 0) | (flat >= self.card)).any(1)
        if bad.any():
            what = f"token ids in [0, {self.card})" if self.tokens else "binary values 0/1"
            raise ValueError(
                f"x must be {what}, got {flat[bad][0].tolist()} in row {int(bad.nonzero()[0])}"
            )
        return x.long() if self.tokens else x.to(self.dtype)

    def _codes(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), self.T).long()  # (B, T)

    def _out(self, codes: Tensor) -> Tensor:
        """Codes (B, T) as the model's observations (B, *event_shape)."""
        x = codes.reshape(len(codes), *self.event_shape)
        return x if self.tokens else x.to(self.dtype)

    def _two_class(self, logits: Tensor) -> Tensor:
        """Logits (..., P) as per-state logits (..., card): a Bernoulli logit l is [0, l]."""
        if self.tokens:
            return logits
        return torch.cat([torch.zeros_like(logits), logits], dim=-1)

    # ------------------------------------------------------------------ density
    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The raw outputs (B, T, P) of all T conditionals in one pass (P = V, or 1)."""
        x = self.check_x(x)
        return self.net(self._codes(x), self.context(y, len(x)))

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x | y) = Σ_t log p(x_t | x_<t, y), shape (B,)."""
        x = self.check_x(x)
        codes = self._codes(x)
        out = self.net(codes, self.context(y, len(x)))  # (B, T, P)
        return self._token_log_probs(out, codes).sum(1)

    def _token_log_probs(self, out: Tensor, codes: Tensor) -> Tensor:
        """log p(x_t | x_<t) (B, T) from the outputs (B, T, P) and codes (B, T)."""
        if self.tokens:
            return -F.cross_entropy(out.transpose(1, 2), codes, reduction="none")
        return -F.binary_cross_entropy_with_logits(
            out[..., 0], codes.to(out.dtype), reduction="none"
        )

    def token_log_probs(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x_t | x_<t, y) per position, shape (B, T)."""
        x = self.check_x(x)
        codes = self._codes(x)
        return self._token_log_probs(self.net(codes, self.context(y, len(x))), codes)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """The NLL per position, −(1/T) mean_rows log p(x | y) (nats per token or pixel)."""
        if group not in (None, "model"):
            raise ValueError(f"group must be None or 'model', got {group!r}")
        return -self.log_prob(x, y).mean() / self.T

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        nll = -self.log_prob(x, y).mean()
        return {"loss": nll / self.T, "nll": nll, "nll_per_position": nll / self.T}

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> Tensor:
        """n draws (n, *event_shape), x_t ~ p(x_t | x_<t, y)^{1/τ} (top-k truncated), in order."""
        n = check_int("n", n, low=1)
        _check_sampling(temperature, top_k)
        c = self.context(y, n)
        with torch.no_grad(), _evaluating(self):
            if self.option.sequential:
                empty = torch.zeros(n, 0, dtype=torch.long, device=self.device)
                codes = self._generate(empty, self.T, c, temperature, top_k, generator, True)
            else:
                codes = torch.zeros(n, self.T, dtype=torch.long, device=self.device)
                for t in range(self.T):  # one pass per position, batched over the n rows
                    out = self.net(codes, c)[:, t]  # (n, P)
                    codes[:, t] = pick(self._two_class(out), temperature, top_k, generator)
        return self._out(codes)

    def generate(
        self,
        prefix: Tensor,
        n_new: int,
        y: Tensor | None = None,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Continue token sequences ``prefix`` (B, L) by ``n_new`` tokens: (B, L + n_new).

        Sequential backbones only. A transformer sees the last block_size − 1 tokens (a sliding
        window); ``use_cache`` keeps the keys and values of the window instead of re-running
        it at every step (same draws, same generator). A GRU carries its state."""
        if not self.option.sequential:
            raise ValueError(
                f"generate needs a sequential backbone (transformer, gru), got "
                f"{self.backbone['type']!r}; use sample"
            )
        n_new = check_int("n_new", n_new, low=0)
        _check_sampling(temperature, top_k)
        prefix = torch.as_tensor(prefix, device=self.device)
        if prefix.dim() != 2 or prefix.is_floating_point():
            raise ValueError(f"prefix must be token ids of shape (B, L), got {prefix!r}")
        if prefix.numel() and (int(prefix.min()) < 0 or int(prefix.max()) >= self.card):
            raise ValueError(f"prefix must hold ids in [0, {self.card})")
        c = self.context(y, len(prefix))
        with torch.no_grad(), _evaluating(self):
            new = self._generate(prefix.long(), n_new, c, temperature, top_k, generator, use_cache)
        return torch.cat([prefix.long(), new], dim=1)

    def _generate(self, idx, n_new, c, temperature, top_k, generator, use_cache) -> Tensor:
        """The n_new tokens (B, n_new) after idx (B, L) (a loop over time steps)."""
        net = self.net
        B = len(idx)
        out = torch.empty(B, n_new, dtype=torch.long, device=idx.device)
        if isinstance(net, CausalTransformer):
            window = net.block_size - 1
            cache = None
            for t in range(n_new):
                if use_cache and cache is not None and cache.length < net.block_size:
                    logits = net.step(out[:, t - 1], c, cache)  # (B, P)
                else:
                    seq = torch.cat([idx, out[:, :t]], dim=1)[:, -window:] if window else idx[:, :0]
                    cache = KVCache(net.n_layer) if use_cache else None
                    logits = net.run(seq, c, cache)[:, -1]
                out[:, t] = pick(self._two_class(logits), temperature, top_k, generator)
            return out
        # GRU: the state after the prefix, then one step per token
        state = None
        for t in range(n_new):
            if use_cache and t > 0:
                logits, state = net.run(out[:, t - 1 : t], c, state, start=False)
            else:
                logits, state = net.run(torch.cat([idx, out[:, :t]], dim=1), c)
            out[:, t] = pick(self._two_class(logits[:, -1]), temperature, top_k, generator)
        return out

    # ------------------------------------------------------------------ the network view
    def dependency(self) -> Tensor:
        """D (T, T) bool: D[t, s] = x_s is a parent of x_t (s < t; for a PixelCNN only the
        receptive field; for a MADE the masks' connectivity)."""
        return self.net.dependency(self.T)

    def parents_of(self, t: int) -> list[int]:
        """0-based positions of the parents of x_{t+1} (raster order)."""
        if not isinstance(t, int) or not 0 <= t < self.T:
            raise ValueError(f"t must be an int in [0, {self.T}), got {t!r}")
        return self.dependency()[t].nonzero()[:, 0].tolist()

    @property
    def network(self) -> BayesNet:
        """x_1 → … → x_T: factor t is p(x_t | Pa(x_t), y) computed by the shared backbone."""
        net = self.__dict__.get("_network")
        if net is None:
            D = self.dependency().cpu()
            variables = [Discrete(f"x{t + 1}", self.card) for t in range(self.T)]
            factors = [
                ARMConditional(self, t, [variables[s] for s in D[t].nonzero()[:, 0].tolist()])
                for t in range(self.T)
            ]
            net = BayesNet([*factors], name="arm")
            self.__dict__["_network"] = net  # cached, not a submodule
        return net

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """Every variable is observed: x_t's code by name, and log p(x | y) of the fast path."""
        x = self.check_x(x)
        codes = self._codes(x)
        values = {f"x{t + 1}": codes[:, t] for t in range(self.T)}
        return values, self.log_prob(x, y)

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        codes = torch.stack([values[f"x{t + 1}"] for t in range(self.T)], dim=1)  # (B, T)
        return self._out(codes.long().to(self.device))

    def extra_repr(self) -> str:
        kind = f"vocab_size={self.vocab_size}" if self.tokens else "binary"
        return f"{super().extra_repr()}, {kind}, backbone={self.option}"


class ARMConditional(Factor):
    """p(x_t | Pa(x_t), y): the model's backbone run on the parents' values (the other
    positions, which output t does not read, are set to 0) and its t-th output taken."""

    def __init__(self, model: ARM, t: int, parents: Sequence[Discrete]):
        super().__init__(Discrete(f"x{t + 1}", model.card), parents)
        self.net = model.net  # shared: the network's parameters are the model's
        object.__setattr__(self, "_model", model)  # not a submodule
        self.t = t
        self.register_buffer(
            "index", torch.tensor([int(p.name[1:]) - 1 for p in parents], dtype=torch.long)
        )

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        model = self._model
        if self.parents:
            B = len(parents[self.parents[0].name])
        else:
            B = 1 if context is None else len(context)
        codes = torch.zeros(B, model.T, dtype=torch.long, device=model.device)  # (B, T)
        if self.parents:
            vals = torch.stack([parents[p.name].long() for p in self.parents], dim=1)
            codes[:, self.index.to(codes.device)] = vals.to(codes.device)
        out = self.net(codes, context)[:, self.t]  # (B, P)
        if not self.parents and context is None:
            out = out[0]  # a root: batch shape ()
        if model.tokens:
            return Categorical(logits=out)
        return _CodedBernoulli(logits=out[..., 0])


def generate_text(
    model: ARM,
    vocab: str | Sequence[str] | Mapping[str, int],
    prompt: str = "",
    n: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> str:
    """The prompt followed by ``n`` characters drawn from a character-level ``model``.

    ``vocab``: the characters by id (a string or a list), or a mapping character → id."""
    if isinstance(vocab, Mapping):
        stoi = dict(vocab)
        itos = {i: s for s, i in stoi.items()}
    else:
        itos = dict(enumerate(vocab))
        stoi = {s: i for i, s in itos.items()}
    if model.vocab_size is None or len(itos) != model.vocab_size:
        raise ValueError(
            f"vocab has {len(itos)} tokens, the model's vocab_size is {model.vocab_size}"
        )
    unknown = sorted({ch for ch in prompt if ch not in stoi})
    if unknown:
        raise ValueError(f"prompt has characters outside the vocabulary: {unknown}")
    prefix = torch.tensor([[stoi[ch] for ch in prompt]], dtype=torch.long)  # (1, L)
    ids = model.generate(prefix, n, temperature=temperature, top_k=top_k, generator=generator)[
        0, len(prompt) :
    ]
    return prompt + "".join(itos[i] for i in ids.tolist())


def stream_log_probs(
    model: ARM, tokens: Tensor, *, stride: int | None = None, batch_size: int = 64
) -> Tensor:
    """log p(x_n | up to T previous tokens) for every token of one long sequence (N,).

    Windows of the model's length T start every ``stride`` tokens (default T/2); the first
    window scores all its tokens, each later one only the tokens after the previous window's
    end, so every token (but those of the first window) sees at least T − stride tokens of
    context. Returns (N,) float64."""
    tokens = torch.as_tensor(tokens)
    if tokens.dim() != 1 or tokens.is_floating_point():
        raise ValueError(f"tokens must be one sequence of ids (N,), got {tokens!r}")
    if model.vocab_size is None or len(model.event_shape) != 1:
        raise ValueError("stream_log_probs needs a token model with event_shape (T,)")
    T, N = model.T, len(tokens)
    stride = stride or max(T // 2, 1)
    if not isinstance(stride, int) or not 1 <= stride <= T:
        raise ValueError(f"stride must be an int in [1, {T}], got {stride!r}")
    if N < T:
        raise ValueError(f"tokens must hold at least T={T} tokens, got {N}")
    starts = torch.arange(0, N - T + 1, stride)
    if int(starts[-1]) != N - T:
        starts = torch.cat([starts, torch.tensor([N - T])])
    # window j scores its tokens after the end of window j − 1 (all of them for j = 0)
    keep_from = torch.cat([torch.zeros(1, dtype=torch.long), starts[:-1] + T - starts[1:]])
    out = torch.empty(N, dtype=torch.float64)
    offsets = torch.arange(T)
    with torch.no_grad(), _evaluating(model):
        for i in range(0, len(starts), batch_size):  # batches of windows
            s = starts[i : i + batch_size]
            lp = model.token_log_probs(tokens[s[:, None] + offsets].to(model.device))  # (b, T)
            keep = offsets[None, :] >= keep_from[i : i + batch_size, None]  # (b, T)
            out[(s[:, None] + offsets)[keep]] = lp.cpu().double()[keep]
    return out
