"""Where the loop's minibatches come from: the index stream of one seeded generator, the
source's device, moving batches to the training device, and the check for NaN or inf rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["Stream", "storage", "to_device", "bad_row"]


def storage(source) -> torch.device:
    """The device a BatchSource keeps its tensors on (TensorData's x, Windows' tokens)."""
    for name in ("x", "tokens"):
        t = getattr(source, name, None)
        if isinstance(t, Tensor):
            return t.device
    return torch.device("cpu")


def to_device(x: Any, device: torch.device) -> Any:
    """A tensor, or a mapping of them, on ``device``."""
    if isinstance(x, Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, Mapping):
        return {k: to_device(v, device) for k, v in x.items()}
    return x


def bad_row(x: Any) -> int | None:
    """The first row of x (a tensor or a mapping of them) holding a NaN or inf, else None."""
    if isinstance(x, Mapping):
        rows = [r for r in (bad_row(v) for v in x.values()) if r is not None]
        return min(rows) if rows else None
    if isinstance(x, Tensor) and x.is_floating_point() and x.numel():
        if torch.isfinite(x.sum()):  # one pass; NaN and inf propagate through the sum
            return None
        bad = ~torch.isfinite(x.reshape(len(x), -1)).all(1) if x.dim() else ~torch.isfinite(x)
        if bool(bad.any()):
            return int(bad.nonzero()[0]) if x.dim() else 0
    return None


class Stream:
    """Minibatch indices of the global batch: per epoch a permutation (``epochs``), per step a
    draw of B of the N items without replacement (``steps``)."""

    def __init__(self, n: int, batch: int, by_epoch: bool, shuffle: bool, gen: torch.Generator):
        self.n, self.batch, self.by_epoch, self.shuffle, self.gen = n, batch, by_epoch, shuffle, gen
        self.per_epoch = math.ceil(n / batch) if n else 1
        self.pos = 0  # batches drawn so far
        self.perm: Tensor | None = None

    def next(self) -> Tensor | None:
        if self.n == 0:
            self.pos += 1
            return None
        j = self.pos % self.per_epoch
        self.pos += 1
        if self.by_epoch:
            if j == 0 or self.perm is None:
                self.perm = (
                    torch.randperm(self.n, generator=self.gen)
                    if self.shuffle
                    else torch.arange(self.n)
                )
            return self.perm[j * self.batch : (j + 1) * self.batch]
        if self.shuffle:
            return torch.randperm(self.n, generator=self.gen)[: self.batch]
        return (torch.arange(self.batch) + (self.pos - 1) * self.batch) % self.n

    @property
    def epoch(self) -> float:
        return self.pos / self.per_epoch
