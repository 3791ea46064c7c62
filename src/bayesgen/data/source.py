"""Where minibatches come from: a ``BatchSource`` has a length (how many items) and returns the
items at given indices, so the training loop draws index permutations from one seeded
generator and never loops over rows in Python.

``TensorData`` holds rows x (N, *event) with optional labels y (N,) and an optional random
transform applied per batch (e.g. dynamic binarization, x ~ Bernoulli(pixel intensities)).
``Windows`` holds one long token sequence and serves its windows of T + 1 tokens (text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["BatchSource", "TensorData", "Windows", "binarize"]

Transform = Callable[[Tensor, torch.Generator | None], Tensor]


@runtime_checkable
class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def batch(
        self, index: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """x (and y, or None) of the items at ``index`` (a long tensor)."""
        ...


def binarize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Dynamic binarization: each pixel ~ Bernoulli(its intensity in [0, 1])."""
    return torch.bernoulli(x, generator=generator)


class TensorData:
    """Rows x (N, *event) and optional labels y (N,) or features (N, C)."""

    def __init__(self, x: Tensor, y: Tensor | None = None, transform: Transform | None = None):
        if y is not None and len(y) != len(x):
            raise ValueError(f"y has {len(y)} rows, x has {len(x)}")
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, index: Tensor, generator: torch.Generator | None = None):
        x = self.x[index]
        if self.transform is not None:
            x = self.transform(x, generator)
        return x, (None if self.y is None else self.y[index])

    def to(self, device) -> TensorData:
        y = None if self.y is None else self.y.to(device)
        return TensorData(self.x.to(device), y, self.transform)


class Windows:
    """Windows of ``length`` consecutive tokens of one sequence (N,): item i is
    tokens[i : i + length], shape (length,); there are N − length + 1 of them."""

    def __init__(self, tokens: Tensor, length: int):
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be one sequence (N,), got shape {tuple(tokens.shape)}")
        if not isinstance(length, int) or not 1 <= length <= len(tokens):
            raise ValueError(f"length must be an int in [1, {len(tokens)}], got {length!r}")
        self.tokens, self.length = tokens, length
        self._offsets = torch.arange(length, device=tokens.device)

    def __len__(self) -> int:
        return len(self.tokens) - self.length + 1

    def batch(self, index: Tensor, generator: torch.Generator | None = None):
        return self.tokens[index[:, None] + self._offsets], None  # (B, length)
