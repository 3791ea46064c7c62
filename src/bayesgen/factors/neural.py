"""Neural conditionals: a simple distribution whose parameters a network computes from Pa(x), y.

    p(x | Pa(x), y) = D(x; η),   η = g(f_φ([Pa(x), y]))

f_φ is any ``nn.Module`` mapping features (B, F) to (B, H); the head g splits and constrains its
output (sigmoid → Bernoulli probabilities, softmax → Categorical, identity/tanh mean and softplus
scale → Normal). Discrete parents are one-hot encoded, continuous ones flattened, and the context
y is concatenated (eq. 19); a root neural factor (no parents, no context) learns free parameters.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from math import prod

import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli, Categorical, Distribution, Independent, Normal

from .._budget import check_memory
from .._checks import ParameterTypeError, check_int
from .._format import readable_int
from ..variables import Continuous, Discrete, Variable
from .base import Factor, parent_features

__all__ = ["NeuralFactor", "NeuralBernoulli", "NeuralCategorical", "NeuralNormal", "mlp"]


def mlp(n_in: int, n_out: int, hidden: Sequence[int] = (64, 64), activation=nn.ReLU) -> nn.Module:
    """A multilayer perceptron n_in → hidden… → n_out."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), activation()]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def _check_hidden(hidden) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive ints (the widths of the hidden layers)."""
    expected = "a sequence of positive ints (the hidden layers' widths)"
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ParameterTypeError(f"hidden must be {expected}, got {hidden!r}")
    for h in hidden:
        try:
            check_int("hidden", h, 1)
        except ParameterTypeError:
            raise ParameterTypeError(f"hidden must be {expected}, got {hidden!r}") from None
        except ValueError:
            raise ValueError(f"hidden must be {expected}, got {hidden!r}") from None
    return tuple(int(h) for h in hidden)


def _input_size(parents: Sequence[Variable], context_size: int) -> int:
    size = context_size
    for p in parents:
        size += p.card if isinstance(p, Discrete) else prod(p.shape)
    return size


class NeuralFactor(Factor):
    """Base of the neural heads: ``net`` maps features (B, F) to ``n_params`` numbers per row.

    ``net=None`` builds an MLP with ``hidden`` layers; a root factor with no parents and no
    context holds its raw head parameters as one ``nn.Parameter``.
    """

    def __init__(
        self,
        variable: Variable,
        parents: Sequence[Variable] = (),
        net: nn.Module | None = None,
        *,
        context_size: int = 0,
        hidden: Sequence[int] = (64, 64),
    ):
        super().__init__(variable, parents)
        self.context_size = check_int("context_size", context_size, 0)
        if net is None:
            hidden = _check_hidden(hidden)
        self.hidden = hidden if net is None else None  # None: a user-supplied network
        n_in = _input_size(self.parents, self.context_size)
        if net is None and n_in:
            sizes = (n_in, *hidden, self.n_params)
            weights = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
            itemsize = torch.tensor([], dtype=torch.get_default_dtype()).element_size()
            check_memory(
                itemsize * weights,
                f"the network of the factor of {variable.name!r} ({readable_int(weights)} "
                f"weights, layers {list(sizes)})",
                advice="use smaller hidden layers",
            )
        if n_in == 0:
            if net is not None:
                raise ValueError(f"factor of {variable.name!r} has no inputs for its network")
            self.raw = nn.Parameter(torch.zeros(self.n_params))
            self.net = None
        else:
            self.raw = None
            self.net = net if net is not None else mlp(n_in, self.n_params, hidden)

    @property
    @abstractmethod
    def n_params(self) -> int:
        """How many raw outputs the head consumes per row."""

    def raw_params(self, parents: Mapping[str, Tensor], context: Tensor | None) -> Tensor:
        if self.net is None:
            return self.raw  # (n_params,): batch shape ()
        if self.context_size and context is None:
            raise ValueError(
                f"factor of {self.name!r} needs a context y of size {self.context_size}"
            )
        features = parent_features(self.parents, parents, context if self.context_size else None)
        features = features.to(next(self.net.parameters()).dtype)
        out = self.net(features)  # (B, n_params)
        if out.shape[-1] != self.n_params:
            raise ValueError(
                f"factor of {self.name!r}: its network returns {out.shape[-1]} values per row, "
                f"the head needs {self.n_params}"
            )
        return out

    def _event(self, flat: Tensor) -> Tensor:
        return flat.reshape(flat.shape[:-1] + self.variable.shape)


class NeuralBernoulli(NeuralFactor):
    """Binary variable(s) (a Discrete with two states, or a Continuous {0,1} vector such as binary
    pixels) with probabilities sigmoid(f(Pa, y))."""

    def __init__(self, variable: Variable, parents: Sequence[Variable] = (), net=None, **kwargs):
        if isinstance(variable, Discrete) and variable.card != 2:
            raise ValueError(
                f"NeuralBernoulli needs a binary variable; {variable.name!r} has {variable.card} "
                "states (use NeuralCategorical)"
            )
        super().__init__(variable, parents, net, **kwargs)

    @property
    def n_params(self) -> int:
        return 1 if isinstance(self.variable, Discrete) else prod(self.variable.shape)

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        logits = self.raw_params(parents, context)
        if isinstance(self.variable, Discrete):
            return _CodedBernoulli(logits=logits[..., 0])
        dist = Bernoulli(logits=self._event(logits))
        return Independent(dist, len(self.variable.shape)) if self.variable.shape else dist


class NeuralCategorical(NeuralFactor):
    """A discrete variable with probabilities softmax(f(Pa, y))."""

    def __init__(self, variable: Discrete, parents: Sequence[Variable] = (), net=None, **kwargs):
        if not isinstance(variable, Discrete):
            raise TypeError(f"NeuralCategorical needs a Discrete variable, got {variable!r}")
        super().__init__(variable, parents, net, **kwargs)

    @property
    def n_params(self) -> int:
        return self.variable.card

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Categorical:
        return Categorical(logits=self.raw_params(parents, context))


class NeuralNormal(NeuralFactor):
    """A continuous variable with mean head μ = m(f) (``mean="identity"`` or ``"tanh"``) and
    standard deviation σ = softplus(f) + ``min_scale`` (positive), or a fixed ``scale``."""

    def __init__(
        self,
        variable: Continuous,
        parents: Sequence[Variable] = (),
        net: nn.Module | None = None,
        *,
        mean: str = "identity",
        scale: float | None = None,
        min_scale: float = 1e-4,
        **kwargs,
    ):
        if not isinstance(variable, Continuous):
            raise TypeError(f"NeuralNormal needs a Continuous variable, got {variable!r}")
        if mean not in ("identity", "tanh"):
            raise ValueError(f"mean must be 'identity' or 'tanh', got {mean!r}")
        if scale is not None and scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.mean_activation = mean
        self.fixed_scale = scale
        self.min_scale = min_scale
        super().__init__(variable, parents, net, **kwargs)

    @property
    def n_params(self) -> int:
        d = prod(self.variable.shape)
        return d if self.fixed_scale is not None else 2 * d

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        out = self.raw_params(parents, context)
        d = prod(self.variable.shape)
        loc = out[..., :d]
        loc = torch.tanh(loc) if self.mean_activation == "tanh" else loc
        if self.fixed_scale is None:
            scale = nn.functional.softplus(out[..., d:]) + self.min_scale
        else:
            scale = torch.full_like(loc, self.fixed_scale)
        dist = Normal(self._event(loc), self._event(scale))
        return Independent(dist, len(self.variable.shape)) if self.variable.shape else dist


class _CodedBernoulli(Bernoulli):
    """A Bernoulli over the integer codes 0/1 of a two-state Discrete variable."""

    def log_prob(self, value: Tensor) -> Tensor:
        value = value.to(self.logits.dtype)
        # a root's scalar logit against (B,) values: broadcast contiguously (the strided
        # broadcast inside binary_cross_entropy_with_logits is orders of magnitude slower)
        logits = self.logits.expand(torch.broadcast_shapes(self.logits.shape, value.shape))
        return -nn.functional.binary_cross_entropy_with_logits(
            logits.contiguous(), value.expand_as(logits), reduction="none"
        )

    def sample(self, sample_shape=()) -> Tensor:
        return super().sample(sample_shape).long()
