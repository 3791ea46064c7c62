"""The verbs every classic model shares.

A classic model is a fixed-shape Bayesian network with a fast path. Whatever its data, its
verbs read the same:

=======================================  ===========================================================
``fit(data, ...)``                       learn the tables / parameters; returns ``self``
``log_prob(x)``                          log p(x) of each observation (row, sequence), shape (B,)
``score_samples(x)``                     scikit-learn's name for ``log_prob``
``sample(n, *, generator=None, ...)``    n draws of the *observed* variables, in the form
                                         ``log_prob`` takes (a tensor (n, ...); token lists for
                                         an n-gram model over strings)
``sample_joint(n, *, generator=None)``   latent-variable models: (observed, latent) draws
``network``                              the fitted model as a real BayesNet
=======================================  ===========================================================

Model-specific sampling options are keyword-only (``length=`` of a sequence model, ``y=`` of a
class-conditional one). Randomness comes from a ``torch.Generator`` (``None``: torch's global
generator; GaussianMixture, as scikit-learn, then draws from its ``random_state``); the
constructors' ``random_state`` seeds fitting.
Using a model before ``fit`` raises
:class:`~bayesgen.models.mixture.errors.NotFittedError`.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Fitted", "LearnedState", "Model", "forked_rng"]


class Fitted:
    """The not-fitted check: ``_fitted_attrs`` names what ``fit`` sets."""

    _fitted_attrs: tuple[str, ...] = ()

    @property
    def is_fitted(self) -> bool:
        return all(_present(self, a) for a in self._fitted_attrs)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            from .mixture.errors import NotFittedError  # here: the mixture package imports us

            name = type(self).__name__
            raise NotFittedError(
                f"this {name} is not fitted yet; call fit first (or load a fitted state)"
            )


def _present(obj: Any, attr: str) -> bool:
    value = getattr(obj, attr, None)
    return value is not None and not (isinstance(value, Tensor) and value.numel() == 0)


class LearnedState:
    """state_dict support for what ``fit`` makes (mixed into an ``nn.Module``).

    A fitted module's state_dict holds its learned tensors (buffers registered by ``fit``) and,
    as extra state, its learned plain values (``n_features_in_``, ``bandwidth_``, ...), so a
    fresh, unfitted module of the same constructor arguments loads it: a buffer that ``fit``
    registers is made room for, and (``_resize_buffers``) one whose shape ``fit`` decides takes
    the saved shape.
    """

    _resize_buffers: bool = False

    def get_extra_state(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_") and _plain(v)
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def _load_from_state_dict(self, state_dict, prefix, *args: Any, **kwargs: Any) -> None:
        for key, value in state_dict.items():
            name = key[len(prefix) :]
            if (
                key.startswith(prefix)
                and "." not in name
                and name != "_extra_state"
                and name not in self._parameters
                and (self._resize_buffers or self._buffers.get(name) is None)
                and isinstance(value, Tensor)
            ):
                self._buffers[name] = torch.empty_like(value)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Model(Fitted, LearnedState, nn.Module, ABC):
    """Base of the classic models (GaussianMixture, NaiveBayes, KDE, MarkovChain, NGramLM, HMM)."""

    @abstractmethod
    def fit(self, *args: Any, **kwargs: Any) -> Model:
        """Learn the model from data; returns ``self``."""

    @abstractmethod
    def log_prob(self, x: Any, *args: Any, **kwargs: Any) -> Tensor:
        """log p(x) of each observation, shape (B,)."""

    @abstractmethod
    def sample(self, n: int, *, generator: torch.Generator | None = None, **kwargs: Any) -> Any:
        """n draws of the observed variables (see the module docstring)."""

    def score_samples(self, x: Any, *args: Any, **kwargs: Any) -> Tensor:
        """scikit-learn's name for :meth:`log_prob`: shape (B,)."""
        return self.log_prob(x, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # a property that raised AttributeError (NotFittedError is one) lands here; run it
        # again so that its own error surfaces instead of "object has no attribute"
        prop = getattr(type(self), name, None)
        if isinstance(prop, property) and prop.fget is not None:
            return prop.fget(self)
        return super().__getattr__(name)


def _plain(v: Any) -> bool:
    """Values that ``torch.load(weights_only=True)`` reads back: None, bool, int, float, str and
    lists/tuples of them."""
    if v is None or isinstance(v, bool | int | float | str):
        return True
    return isinstance(v, list | tuple) and all(_plain(u) for u in v)


@contextlib.contextmanager
def forked_rng(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Draw through torch's global generator seeded from ``generator`` (restored afterwards),
    for samplers (``torch.distributions``) that take no generator; ``None``: the global one."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
    devices = [] if device.type != "cuda" else [device]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
