"""The factor protocol: p(x_n | Pa(x_n), y) as a module that returns a torch Distribution."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from ..variables import Continuous, Discrete, Variable

__all__ = ["Factor", "parent_features"]


class Factor(nn.Module, ABC):
    """A conditional distribution of one variable given its parents (and an optional context y).

    ``forward(parents, context)`` maps a mapping ``parent name -> Tensor`` with batch shape (B,)
    (discrete parents as long codes, continuous ones as (B, *shape) floats) to a
    ``torch.distributions.Distribution`` with batch shape (B,) and the variable's event shape.
    A root factor may return batch shape (); the network expands it.
    """

    def __init__(self, variable: Variable, parents: Sequence[Variable] = ()):
        super().__init__()
        if not isinstance(variable, Variable):
            raise TypeError(f"variable must be a Variable, got {type(variable).__name__}")
        parents = tuple(parents)
        for p in parents:
            if not isinstance(p, Variable):
                raise TypeError(
                    f"parents of {variable.name!r} must be Variables, got {type(p).__name__}"
                )
        names = [p.name for p in parents]
        if variable.name in names:
            raise ValueError(f"factor of {variable.name!r} lists itself as a parent")
        if len(set(names)) != len(names):
            raise ValueError(f"factor of {variable.name!r} has duplicate parents {names}")
        self.variable = variable
        self.parents = parents

    @property
    def name(self) -> str:
        return self.variable.name

    @property
    def parent_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parents)

    @abstractmethod
    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        """The distribution of the variable given parent values, batch shape (B,) or ()."""

    def log_prob(
        self, value: Tensor, parents: Mapping[str, Tensor], context: Tensor | None = None
    ) -> Tensor:
        """log p(x_n | Pa(x_n), y) per row, shape (B,)."""
        return self(parents, context).log_prob(value)

    def num_parameters(self) -> int:
        """Number of free parameters of this conditional."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        pa = ", ".join(self.parent_names)
        return f"{self.name} | {pa}" if pa else self.name


def parent_features(
    parents: Sequence[Variable], values: Mapping[str, Tensor], context: Tensor | None = None
) -> Tensor:
    """Concatenate parent values into one real feature matrix (B, F) for a neural or linear head.

    Discrete parents are one-hot encoded, continuous ones flattened; the context y, if any, is
    appended last (conditioning by concatenation, eq. 19).
    """
    columns = []
    for p in parents:
        if p.name not in values:
            raise ValueError(f"missing value of parent {p.name!r}")
        v = values[p.name]
        if isinstance(p, Discrete):
            columns.append(nn.functional.one_hot(v.long(), p.card).to(torch.get_default_dtype()))
        elif isinstance(p, Continuous):
            columns.append(v.reshape(v.shape[0], -1))
        else:
            raise TypeError(f"unsupported parent variable {p!r}")
    if context is not None:
        columns.append(context.reshape(context.shape[0], -1))
    if not columns:
        raise ValueError("a factor without parents or context has no features")
    dtype = torch.promote_types(torch.get_default_dtype(), columns[0].dtype)
    return torch.cat([c.to(dtype) for c in columns], dim=-1)
