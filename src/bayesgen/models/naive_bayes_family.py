"""The protocol of a naive Bayes feature family: p(x_block | y) as a module of class-indexed
tables, one factor of the network y -> x_1 .. x_D for every column it owns.

A family owns the columns of X it models, its sufficient statistics (``summarize`` adds a batch,
``from_summaries`` sets the parameters), its log-likelihood under every class at once, and its
sampler; the families themselves are in ``naive_bayes_features``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from .base import LearnedState
from .naive_bayes_stats import CHUNK_BYTES

__all__ = ["Features"]


class Features(LearnedState, nn.Module, ABC):
    """p(x_block | y) for the columns ``columns`` of X that share one family.

    Statistics live in buffers so ``.to(device)`` moves them; ``summarize`` adds a batch to them
    and ``from_summaries`` turns them into parameters. ``forward(y)`` is the factor: it maps the
    parent's values (class indices, shape (B,)) to a Distribution with batch shape (B, D_block).
    ``log_likelihood`` evaluates every class at once and equals
    ``distribution().log_prob(x[:, None]).sum(-1)`` over the observed entries.

    Every method takes the block x (B, D_block) and ``miss``, its NaN mask, or None when the
    block is complete (the fast path). x is the caller's memory: it is never written to.
    """

    _resize_buffers = True  # a loaded state has the shapes its data gave
    kind: str = ""

    @classmethod
    @abstractmethod
    def options(cls, model: Any, alpha: float | Tensor) -> dict[str, Any]:
        """The constructor's keyword options from a NaiveBayes ``model`` (``alpha``: its
        smoothing, one float or one value per column of this family)."""

    @abstractmethod
    def network_factors(self, y: Any, names: list[str]) -> dict[int, Any]:
        """The family's factors of the network y -> x, by column of X (``names``: the
        variables' names, one per column)."""

    def __init__(self, columns: Sequence[int], n_classes: int, dtype: torch.dtype, device):
        super().__init__()
        cols = torch.as_tensor(list(columns), dtype=torch.long, device=device)
        self.register_buffer("columns", cols)
        lo = int(cols[0]) if len(cols) else 0
        contiguous = list(columns) == list(range(lo, lo + len(cols)))
        self.span = slice(lo, lo + len(cols)) if contiguous else None  # a view, not a copy
        self.n_classes = n_classes
        self.dtype = dtype
        self.reset(device)

    @property
    def n_features(self) -> int:
        return int(self.columns.numel())

    def block(self, X: Tensor) -> Tensor:
        """This family's columns of X: (B, D_block)."""
        return X[:, self.span] if self.span is not None else X[:, self.columns]

    def _zeros(self, *shape, device=None) -> Tensor:
        return torch.zeros(*shape, dtype=self.dtype, device=device)

    @abstractmethod
    def reset(self, device=None) -> None:
        """Zero the statistics (buffers shaped for n_classes and the block's columns)."""

    def check(
        self,
        x: Tensor,
        miss: Tensor | None,
        where: str,
        bounds: tuple[float, float] | None = None,
    ) -> Tensor:
        """Validate (and, for Bernoulli, binarize) a block of X; ``bounds`` is its observed
        (min, max) when the caller already has it (see ``observed_bounds``)."""
        return x

    @abstractmethod
    def summarize(
        self,
        x: Tensor,
        miss: Tensor | None,
        y: Tensor,
        w: Tensor | None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        """Add a batch: y (B,) class indices and w (B,) sample weights (None: all 1)."""

    @abstractmethod
    def from_summaries(self) -> None:
        """Set the parameters from the accumulated statistics (closed-form MLE/MAP)."""

    @abstractmethod
    def distribution(self) -> Distribution:
        """p(x_block | y = c) for every class c: batch shape (C, D_block)."""

    @abstractmethod
    def forward(self, y: Tensor) -> Distribution:
        """The factor p(x_block | y) for class indices y (B,): batch shape (B, D_block)."""

    @abstractmethod
    def log_likelihood(
        self, x: Tensor, miss: Tensor | None, constant: bool = True, chunk_bytes: int = 0
    ) -> Tensor:
        """Σ_d log p(x_d | y = c) over the observed entries, for every class: (B, C).
        ``constant=False`` may drop terms that do not depend on y."""

    def sample(self, y: Tensor, **kwargs: Any) -> Tensor:
        """Draw x_block | y for a batch of class indices y (n,): (n, D_block)."""
        return self(y).sample().to(self.dtype)
