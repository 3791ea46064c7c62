"""Random variables of a network: a name plus either named discrete states or a continuous shape."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from torch import Tensor

__all__ = ["Variable", "Discrete", "Continuous"]


@dataclass(frozen=True)
class Variable:
    """A node of a Bayesian network. Use :class:`Discrete` or :class:`Continuous`."""

    name: str

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a variable name must be a non-empty string, got {self.name!r}")

    @property
    def is_discrete(self) -> bool:
        return isinstance(self, Discrete)


@dataclass(frozen=True)
class Discrete(Variable):
    """A categorical variable with ``card`` named states, coded 0..card-1.

    ``states`` is a sequence of labels, or an int ``k`` for the labels ``"0"..str(k-1)``.
    """

    states: tuple[str, ...] = ()

    def __init__(self, name: str, states: Sequence[object] | int = 2):
        if isinstance(states, bool) or isinstance(states, (str, bytes)):
            # a string is not a list of one-character states: Discrete("a", "yes") is a mistake
            raise TypeError(
                f"variable {name!r}: states must be a list of labels or a number of states, "
                f"got the string {states!r} (write [{states!r}] for one state)"
            )
        if isinstance(states, Integral):
            if states < 1:
                raise ValueError(f"variable {name!r}: states must be >= 1, got {states}")
            labels = tuple(str(i) for i in range(states))
        else:
            if not isinstance(states, Iterable):
                raise TypeError(
                    f"variable {name!r}: states must be a list of labels or a number of "
                    f"states, got {states!r}"
                )
            labels = tuple(str(s) for s in states)
            if not labels:
                raise ValueError(f"variable {name!r} needs at least one state")
            if len(set(labels)) != len(labels):
                seen: set[str] = set()
                dup = sorted({s for s in labels if s in seen or seen.add(s)})
                raise ValueError(f"variable {name!r} has duplicate states {dup}")
            if any(not s.strip() for s in labels):
                k = next(k for k, s in enumerate(labels) if not s.strip())
                raise ValueError(
                    f"variable {name!r}: state #{k} is an empty name {labels[k]!r}; "
                    "a state needs a label"
                )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "states", labels)
        self.__post_init__()

    @property
    def card(self) -> int:
        return len(self.states)

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    def index(self, state: object) -> int:
        """Integer code of a state given as a label or a code."""
        if isinstance(state, str):
            try:
                return self.states.index(state)
            except ValueError:
                valid = list(self.states)
                raise ValueError(
                    f"unknown state {state!r} of {self.name!r}; valid states are {valid}"
                ) from None
        if isinstance(state, Tensor):
            state = state.item()
        if isinstance(state, (int,)) or (
            hasattr(state, "__index__") and not isinstance(state, bool)
        ):
            code = int(state)
            if 0 <= code < self.card:
                return code
        # labels such as "0", "1" given as numbers in a CSV
        if str(state) in self.states:
            return self.states.index(str(state))
        raise ValueError(
            f"unknown state {state!r} of {self.name!r}; valid states are {list(self.states)}"
        )

    def encode(self, values: Iterable[object] | Tensor) -> Tensor:
        """Codes (a long tensor) of labels or codes, vectorized; missing values become −1.

        Missing is −1, ``None`` or NaN. Labels are matched first; values that are not labels
        but valid integer codes are taken as codes.
        """
        if isinstance(values, Tensor) and not values.is_floating_point():
            codes = values.long()
            bad = (codes < -1) | (codes >= self.card)
            if bad.any():
                raise ValueError(
                    f"{self.name!r}: code {int(codes[bad][0])} out of range 0..{self.card - 1}"
                )
            return codes
        if isinstance(values, Tensor):
            values = values.detach().cpu().numpy()
        import pandas as pd  # imported when first needed: the command line starts faster

        array = np.asarray(pd.Series(list(values) if not hasattr(values, "__array__") else values))
        missing = np.asarray(pd.isna(array))
        as_text = np.where(missing, "", array.astype(str))
        codes = pd.Index(self.states).get_indexer(as_text).astype(np.int64)
        unmatched = (codes < 0) & ~missing
        if unmatched.any():
            numeric = pd.to_numeric(pd.Series(array[unmatched]), errors="coerce").to_numpy()
            ok = np.isfinite(numeric) & (numeric == np.round(numeric))
            ok &= (numeric >= -1) & (numeric < self.card)
            if not ok.all():
                bad = array[unmatched][~ok][0]
                raise ValueError(
                    f"unknown state {bad!r} of {self.name!r}; valid states are {list(self.states)}"
                )
            codes[unmatched] = numeric.astype(np.int64)
        return torch.from_numpy(codes)

    def __repr__(self) -> str:
        return f"Discrete({self.name!r}, {list(self.states)})"


@dataclass(frozen=True)
class Continuous(Variable):
    """A real-valued variable; ``shape`` is its event shape (``()`` for a scalar)."""

    shape: tuple[int, ...] = ()

    def __init__(self, name: str, shape: int | Sequence[int] = ()):
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if any(s < 1 for s in shape):
            raise ValueError(f"variable {name!r}: shape must be positive, got {shape}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", shape)
        self.__post_init__()

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"Continuous({self.name!r}, shape={self.shape})"
