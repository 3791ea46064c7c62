"""The protocol every generative paradigm follows: a network of factors plus a fast path.

A paradigm is a :class:`GenerativeModel`: an ``nn.Module`` whose ``network`` property is a real
:class:`~bayesgen.network.BayesNet` built from the model's own factors (sharing its parameters),
and whose verbs are the same everywhere:

==========================  ==================================================================
``loss(x, y)``              the training objective, a scalar to minimise
``sample(n, y, generator)`` n draws, shape (n, *event_shape)
``log_prob(x, y)``          log p(x | y), shape (B,), where the paradigm has it exactly
``metrics(x, y)``           named held-out numbers (the loss, and a bound or NLL where named)
``network`` / ``networks``  the DAG(s) of the chapter's figures, as BayesNets
``joint(x, y)``             a full assignment of the network's variables and its fast log-density
``parameter_groups()``      the parameters of each objective (two for a GAN)
==========================  ==================================================================

``joint`` is what makes the thesis a test: ``model.network.log_prob(values, context=c)`` summed
factor by factor must equal the log-density the fast path computes for the same values.

Conditioning (eq. 19): ``y`` is either class labels (B,) of ``num_classes`` classes, or real
features (B, context_size). :meth:`GenerativeModel.context` turns it into the feature matrix
(B, C) that the conditioning blocks of :mod:`bayesgen.nn` consume.

Models are saved as a JSON config plus safetensors weights (never pickle); ``config`` follows
scikit-learn's ``get_params``: every constructor argument is stored under its own name.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .._checks import check_int
from ..network import BayesNet

__all__ = ["GenerativeModel", "PARADIGMS", "build", "load_model"]

#: paradigm name -> class, filled by ``class X(GenerativeModel, paradigm="x")``
PARADIGMS: dict[str, type[GenerativeModel]] = {}

FORMAT = "bayesgen.generative/1"


class GenerativeModel(nn.Module, ABC):
    """Base of the paradigms (VAE, flow, ARM, diffusion, GAN, energy).

    Parameters
    ----------
    event_shape: shape of one observation x (e.g. ``(2,)``, ``(784,)``, ``(T,)`` tokens).
    num_classes: y are class labels 0..num_classes-1 (one-hot encoded as the context).
    context_size: y are real feature vectors of this size. At most one of the two is set.
    """

    paradigm: ClassVar[str]
    #: True where ``log_prob`` is exact (ARM, flow); bounds have their own names.
    exact_likelihood: ClassVar[bool] = False

    def __init_subclass__(cls, paradigm: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if paradigm is not None:
            if paradigm in PARADIGMS:
                raise ValueError(f"paradigm {paradigm!r} is registered twice")
            cls.paradigm = paradigm
            PARADIGMS[paradigm] = cls

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        *,
        num_classes: int | None = None,
        context_size: int | None = None,
    ):
        super().__init__()
        shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
        if not shape or any(not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"event_shape must be a tuple of positive ints, got {event_shape!r}")
        if num_classes is not None and context_size is not None:
            raise ValueError("give num_classes (labels) or context_size (features), not both")
        num_classes = check_int("num_classes", num_classes, low=2, optional=True)
        context_size = check_int("context_size", context_size, low=1, optional=True)
        self.event_shape = shape
        self.num_classes = num_classes
        self.context_size = context_size

    # ------------------------------------------------------------------ conditioning
    @property
    def context_features(self) -> int:
        """C, the width of the context matrix (0 when unconditional)."""
        return self.num_classes or self.context_size or 0

    @property
    def conditional(self) -> bool:
        return self.context_features > 0

    def context(self, y: Tensor | None, batch: int) -> Tensor | None:
        """The condition y as a feature matrix (B, C): labels one-hot encoded, features as
        given; ``None`` for an unconditional model. Checks y against the model."""
        if not self.conditional:
            if y is not None:
                raise ValueError(f"{type(self).__name__} is unconditional; got a condition y")
            return None
        if y is None:
            raise ValueError(f"{type(self).__name__} is conditional; give y")
        y = torch.as_tensor(y, device=self.device)
        if self.num_classes is not None:
            if y.dim() == 0:
                y = y.expand(batch)
            if y.dim() != 1 or y.is_floating_point():
                raise ValueError(f"y must be integer class labels of shape ({batch},), got {y}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise ValueError(
                    f"y must be class labels in [0, {self.num_classes}), got values in "
                    f"[{int(y.min())}, {int(y.max())}]"
                )
            c = nn.functional.one_hot(y.long(), self.num_classes).to(self.dtype)
        else:
            if y.dim() == 1:
                y = y.expand(batch, -1)
            if y.dim() != 2 or y.shape[1] != self.context_size:
                raise ValueError(
                    f"y must have shape ({batch}, {self.context_size}), got {tuple(y.shape)}"
                )
            c = y.to(self.dtype)
        if c.shape[0] != batch:
            raise ValueError(f"y has {c.shape[0]} rows, x has {batch}")
        return c  # (B, C)

    def check_x(self, x: Tensor) -> Tensor:
        """x as a float tensor (B, *event_shape) on the model's device; a clear error for a
        wrong shape or a non-finite value."""
        x = torch.as_tensor(x, device=self.device)
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"x must have shape (B, {', '.join(map(str, self.event_shape))}), got "
                f"{tuple(x.shape)}"
            )
        if x.is_floating_point():
            bad = ~torch.isfinite(x.reshape(len(x), -1)).all(1)
            if bad.any():
                raise ValueError(f"x has a non-finite value in row {int(bad.nonzero()[0])}")
            x = x.to(self.dtype)
        return x

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        p = next(self.parameters(), None)
        return p.dtype if p is not None else torch.get_default_dtype()

    # ------------------------------------------------------------------ the verbs
    @abstractmethod
    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """The training objective (a scalar) of parameter group ``group`` (None: the only one)."""

    @abstractmethod
    def sample(
        self, n: int, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """n draws from p(x | y), shape (n, *event_shape)."""

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log p(x | y), shape (B,). Paradigms without it name their bounds instead."""
        raise TypeError(
            f"{type(self).__name__} has no exact log-likelihood; use its bound "
            f"({', '.join(self.bounds) or 'none'})"
        )

    #: names of the methods giving a lower bound on log p(x | y) per row (e.g. 'elbo', 'iwae')
    bounds: ClassVar[tuple[str, ...]] = ()

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Held-out numbers averaged over rows: the loss, and the NLL where it is exact."""
        out = {"loss": self.loss(x, y)}
        if self.exact_likelihood:
            out["nll"] = -self.log_prob(x, y).mean()
        return out

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters of each objective, stepped in turn by the training loop (one for most
        paradigms; a GAN's discriminator and generator)."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    # ------------------------------------------------------------------ the network view
    @property
    @abstractmethod
    def network(self) -> BayesNet:
        """The generative network p (its factors share the model's parameters)."""

    @property
    def networks(self) -> dict[str, BayesNet]:
        """Every network of the paradigm's figure by name (e.g. the VAE's ``p`` and ``q``)."""
        return {"p": self.network}

    @abstractmethod
    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """A complete assignment of ``network``'s variables consistent with x (latents drawn
        where x does not fix them) and the fast path's log-density of it, shape (B,)."""

    @abstractmethod
    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        """x, shape (B, *event_shape), from a full assignment of the network's variables (as
        ``network.sample`` returns it)."""

    # ------------------------------------------------------------------ persistence
    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, read from attributes of the same names (JSON types)."""
        out = {}
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if not hasattr(self, name):
                raise AttributeError(
                    f"{type(self).__name__} must store its argument {name!r} as self.{name}"
                )
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (JSON: paradigm and config) and ``path`` + ``.safetensors`` (weights
        and buffers). Returns the JSON path."""
        from safetensors.torch import save_file

        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path.with_suffix(".safetensors")))
        meta = {"format": FORMAT, "paradigm": self.paradigm, "config": self.config}
        path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return path

    def extra_repr(self) -> str:
        cond = f", num_classes={self.num_classes}" if self.num_classes else ""
        cond += f", context_size={self.context_size}" if self.context_size else ""
        return f"event_shape={self.event_shape}{cond}"


def build(paradigm: str, **config: Any) -> GenerativeModel:
    """A model of a registered paradigm from its constructor arguments."""
    if paradigm not in PARADIGMS:
        raise ValueError(f"unknown paradigm {paradigm!r}; known: {sorted(PARADIGMS)}")
    return PARADIGMS[paradigm](**config)


def load_model(path: str | Path, *, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """Read a model written by :meth:`GenerativeModel.save` (no code is executed)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a bayesgen model file ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a bayesgen model file (format {FORMAT!r} expected)")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: field 'config' must be an object, got {config!r}")
    try:
        model = build(meta.get("paradigm"), **config)
    except TypeError as err:  # an argument the constructor does not take
        raise ValueError(f"{path}: field 'config' does not fit the paradigm ({err})") from None
    weights = path.with_suffix(".safetensors")
    try:
        state = load_file(str(weights), device=str(map_location))
    except (OSError, SafetensorError) as err:
        raise ValueError(f"{weights}: cannot read the weights ({err})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        wrong = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
        raise ValueError(
            f"{weights}: weights do not match the config: "
            + ", ".join(f"{k} is {got.get(k)}, expected {expected.get(k)}" for k in wrong[:5])
        )
    model.load_state_dict(state)
    return model.to(map_location)
