"""Option objects without parameters (a covariance type, a kernel, an emission family): equal
when of the same class, shown by class name, and made from an instance or a name by one rule
that ends in an error naming the valid choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypeVar

__all__ = ["Option", "make_option"]

O = TypeVar("O", bound="Option")


class Option:
    """A choice among classes; ``name`` is what a string option calls it."""

    name: ClassVar[str] = ""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def make_option(value: O | str, choices: Sequence[type[O]], base: type[O], what: str) -> O:
    """``value`` itself if it is a ``base``, else a new instance of the choice named ``value``."""
    if isinstance(value, base):
        return value
    for cls in choices:
        if value == cls.name:
            return cls()
    names = tuple(c.name for c in choices)
    raise ValueError(f"{what} must be one of {names} or a {base.__name__}, got {value!r}")
