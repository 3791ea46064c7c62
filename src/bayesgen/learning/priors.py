"""Priors over parameters (§2.3 of the chapter): p(θ) in p(θ | D) ∝ p(D | θ) p(θ).

Table priors (conjugate to categorical tables; the table's states on the last axis):

    Beta(a, b)      r = P(x = 1) ~ Beta(a, b): pseudo-counts (b, a) for states (0, 1)
    Dirichlet(α)    each row ~ Dirichlet(α), α a scalar or a tensor broadcast to the table
    K2()            Dirichlet(1): one pseudo-count per cell (the K2 score's prior)
    BDeu(ess)       Dirichlet(ess / (q r)) with r states and q parent configurations

Gaussian priors: Normal(mean, std) on a Gaussian's mean, NormalGamma on (mean, precision).
Priors on neural weights, whose MAP (eq. 26) is a penalized likelihood:

    Gaussian(λ)     θ ~ N(0, I/λ):  -log p(θ) = λ/2 ||θ||² + c   (weight decay λ, eq. 27)
    Laplace(b)      θ ~ Laplace(0, b):  -log p(θ) = ||θ||_1 / b + c   (L1, LASSO)

Which prior a factor takes, and what it adds to the fit (:func:`resolve_priors`): tables take
the table priors as pseudo-counts α (:func:`table_pseudo_counts`), whose log-density enters the
M-step objective as Σ α log θ (posterior mean) or Σ (α − 1) log θ (MAP, :func:`log_prior`);
linear-Gaussians take ``Gaussian(λ)`` as a ridge λ (:func:`ridge`) or, without continuous
parents, ``Normal`` on the mean; neural factors take ``Gaussian`` or ``Laplace`` on the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.distributions import Distribution

from .._constants import TINY
from ..factors import LinearGaussian, NeuralFactor, Table
from ..factors.base import Factor

__all__ = [
    "TablePrior",
    "Beta",
    "Dirichlet",
    "K2",
    "BDeu",
    "Normal",
    "NormalGamma",
    "Gaussian",
    "Laplace",
    "TABLE_PRIORS",
    "WEIGHT_PRIORS",
    "resolve_priors",
    "table_pseudo_counts",
    "ridge",
    "log_prior",
    "table_log_prior",
]


@runtime_checkable
class TablePrior(Protocol):
    """A prior that turns into Dirichlet pseudo-counts for a table of a given shape."""

    def pseudo_counts(
        self, shape: Iterable[int], dtype: torch.dtype | None = None, device=None
    ) -> Tensor: ...


def _number(owner: object, name: str, value: object, *, positive: bool) -> float:
    """A finite (and positive) float, or an error naming the owner, the parameter and the value."""
    cls = type(owner).__name__
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, Tensor) and value.numel() == 1:
            value = value.item()
        else:
            what = "a positive finite number" if positive else "a finite number"
            raise TypeError(f"{cls}: {name} must be {what}, got {value!r}")
    if not math.isfinite(value) or (positive and value <= 0):
        what = "positive and finite" if positive else "finite"
        raise ValueError(f"{cls}: {name} must be {what}, got {value!r}")
    return float(value)


def _positive(owner: object, name: str, value: object) -> float:
    return _number(owner, name, value, positive=True)


def _finite(owner: object, name: str, value: object) -> float:
    return _number(owner, name, value, positive=False)


def _shape(shape: Iterable[int], owner: object) -> tuple[int, ...]:
    s = tuple(int(d) for d in shape)
    if len(s) == 0 or any(d < 1 for d in s):
        raise ValueError(
            f"{type(owner).__name__}: a table shape is (*parent_cards, card) with "
            f"positive sizes, got {s}"
        )
    return s


def _theta(theta: object, dtype: torch.dtype | None = None) -> Tensor:
    t = torch.as_tensor(theta, dtype=dtype)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


class _ScalarPrior:
    """A prior that is a torch distribution over each parameter θ (elementwise); subclasses
    give ``_dist(dtype, device)``."""

    _dist: Callable[..., Distribution]

    @property
    def distribution(self) -> Distribution:
        """The prior as a ``torch.distributions`` object."""
        return self._dist()

    def log_prob(self, theta: Tensor) -> Tensor:
        """log p(θ), elementwise in θ (in its dtype and on its device)."""
        t = _theta(theta)
        return self._dist(t.dtype, t.device).log_prob(t)


class _RowDirichlet:
    """A table prior that is Dirichlet(pseudo-counts) on each row of the table."""

    pseudo_counts: Callable[..., Tensor]

    def log_prob(self, theta: Tensor) -> Tensor:
        """log Dirichlet(θ_row; α) for each row of θ (states on the last axis): θ.shape[:-1]."""
        t = _theta(theta)
        conc = self.pseudo_counts(t.shape, dtype=t.dtype, device=t.device)
        if bool((conc <= 0).any()):
            raise ValueError(
                f"{self!r} has zero pseudo-counts: an improper prior without a density"
            )
        return torch.distributions.Dirichlet(conc).log_prob(t)


@dataclass(frozen=True)
class Beta(_ScalarPrior):
    """Beta(a, b) on r = P(x = 1): density ∝ r^(a-1) (1-r)^(b-1); a, b > 0 are pseudo-counts."""

    a: float = 1.0
    b: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "a", _positive(self, "a", self.a))
        object.__setattr__(self, "b", _positive(self, "b", self.b))

    def _dist(self, dtype: torch.dtype | None = None, device=None) -> Distribution:
        return torch.distributions.Beta(
            torch.tensor(self.a, dtype=dtype, device=device),
            torch.tensor(self.b, dtype=dtype, device=device),
        )

    def pseudo_counts(
        self, shape: Iterable[int], dtype: torch.dtype | None = None, device=None
    ) -> Tensor:
        """(b, a) in every row of a binary table of shape (*parent_cards, 2)."""
        s = _shape(shape, self)
        if s[-1] != 2:
            raise ValueError(
                f"Beta: a Beta prior needs a binary table (last axis 2), got shape {s}"
            )
        row = torch.tensor([self.b, self.a], dtype=dtype, device=device)
        return row.expand(s).clone()


@dataclass(frozen=True, eq=False)
class Dirichlet(_RowDirichlet):
    """Dirichlet(α) on each row of a table: density ∝ Π_k θ_k^(α_k - 1).

    ``alpha`` is a non-negative scalar (symmetric) or a tensor broadcast to the table's shape.
    Zero pseudo-counts are allowed (as pgmpy allows them): the estimate (N + α) / Σ (N + α)
    then rests on the data alone in those cells, but the prior has no density (``log_prob``).
    """

    alpha: float | Tensor = 1.0

    def __post_init__(self):
        if isinstance(self.alpha, (int, float)) and not isinstance(self.alpha, bool):
            alpha = _finite(self, "alpha", self.alpha)
            if alpha < 0:
                raise ValueError(f"{type(self).__name__}: alpha must be >= 0, got {self.alpha!r}")
            object.__setattr__(self, "alpha", alpha)
            return
        a = torch.as_tensor(self.alpha)
        a = a if a.is_floating_point() else a.to(torch.get_default_dtype())
        if a.numel() == 0 or not torch.isfinite(a).all() or (a < 0).any():
            raise ValueError(
                f"{type(self).__name__}: alpha must be finite and >= 0, got {self.alpha!r}"
            )
        object.__setattr__(self, "alpha", a)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = torch.as_tensor(self.alpha), torch.as_tensor(other.alpha)
        return a.shape == b.shape and bool((a == b).all())

    def __hash__(self) -> int:
        return hash((type(self), tuple(torch.as_tensor(self.alpha).flatten().tolist())))

    def pseudo_counts(
        self, shape: Iterable[int], dtype: torch.dtype | None = None, device=None
    ) -> Tensor:
        """α broadcast to ``shape`` = (*parent_cards, card)."""
        s = _shape(shape, self)
        a = torch.as_tensor(self.alpha, dtype=dtype, device=device)
        try:
            return a.expand(s).clone()
        except RuntimeError as err:
            raise ValueError(
                f"{type(self).__name__}: alpha of shape {tuple(a.shape)} does not "
                f"broadcast to the table shape {s}"
            ) from err


@dataclass(frozen=True, eq=False)
class K2(Dirichlet):
    """Dirichlet(1) on every row: the uniform prior of the K2 score (Cooper & Herskovits)."""

    alpha: float = field(default=1.0, init=False)


@dataclass(frozen=True)
class BDeu(_RowDirichlet):
    """Bayesian Dirichlet equivalent uniform: each cell gets ess / (q r) pseudo-counts.

    For a table of shape (*parent_cards, r), q = Π parent_cards; the whole table holds ``ess``
    (the equivalent sample size) pseudo-counts, spread uniformly.
    """

    ess: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "ess", _positive(self, "ess", self.ess))

    def pseudo_counts(
        self, shape: Iterable[int], dtype: torch.dtype | None = None, device=None
    ) -> Tensor:
        s = _shape(shape, self)
        return torch.full(s, self.ess / math.prod(s), dtype=dtype, device=device)


@dataclass(frozen=True)
class Normal(_ScalarPrior):
    """N(mean, std²) on the mean μ of a Gaussian (conjugate when the variance is known)."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "mean", _finite(self, "mean", self.mean))
        object.__setattr__(self, "std", _positive(self, "std", self.std))

    def _dist(self, dtype: torch.dtype | None = None, device=None) -> Distribution:
        return torch.distributions.Normal(
            torch.tensor(self.mean, dtype=dtype, device=device),
            torch.tensor(self.std, dtype=dtype, device=device),
        )


@dataclass(frozen=True)
class NormalGamma:
    """Normal-Gamma on (μ, λ) of a Gaussian with unknown mean and precision λ = 1/σ²:

        λ ~ Gamma(a, rate=b),   μ | λ ~ N(mean, 1 / (kappa λ)).

    ``kappa`` and ``2a`` act as prior sample sizes for μ and λ (equivalently, a
    Normal-inverse-gamma prior on (μ, σ²)).
    """

    mean: float = 0.0
    kappa: float = 1.0
    a: float = 1.0
    b: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "mean", _finite(self, "mean", self.mean))
        for name in ("kappa", "a", "b"):
            object.__setattr__(self, name, _positive(self, name, getattr(self, name)))

    def log_prob(self, theta: Tensor) -> Tensor:
        """log p(μ, λ) for θ = (..., 2) holding (μ, λ) on its last axis."""
        t = _theta(theta)
        if t.ndim == 0 or t.shape[-1] != 2:
            raise ValueError(
                f"NormalGamma: theta must have (mean, precision) on its last axis "
                f"(size 2), got shape {tuple(t.shape)}"
            )
        mu, lam = t[..., 0], t[..., 1]
        gamma = torch.distributions.Gamma(
            torch.tensor(self.a, dtype=t.dtype, device=t.device),
            torch.tensor(self.b, dtype=t.dtype, device=t.device),
        )
        normal = torch.distributions.Normal(self.mean, (self.kappa * lam).rsqrt())
        return gamma.log_prob(lam) + normal.log_prob(mu)


def _params(params: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(params, Tensor):
        return [params]
    out = list(params)
    if not all(isinstance(p, Tensor) for p in out):
        raise TypeError(
            "params must be a tensor or an iterable of tensors (e.g. module.parameters())"
        )
    return out


@dataclass(frozen=True)
class Gaussian(_ScalarPrior):
    """θ ~ N(0, I/λ) on neural weights: MAP adds λ/2 ||θ||² to the negative log-likelihood.

    ``weight_decay`` is λ, the argument of the same name of ``torch.optim.SGD`` / ``Adam``
    (which add λθ to the gradient, the gradient of λ/2 ||θ||²).
    """

    lam: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "lam", _positive(self, "lam", self.lam))

    @property
    def weight_decay(self) -> float:
        return self.lam

    def _dist(self, dtype: torch.dtype | None = None, device=None) -> Distribution:
        return torch.distributions.Normal(
            torch.tensor(0.0, dtype=dtype, device=device),
            torch.tensor(self.lam**-0.5, dtype=dtype, device=device),
        )

    def penalty(self, params: Tensor | Iterable[Tensor]) -> Tensor:
        """λ/2 Σ θ² over all ``params``: -log p(θ) up to a constant."""
        return sum(p.square().sum() for p in _params(params)) * (self.lam / 2)


@dataclass(frozen=True)
class Laplace(_ScalarPrior):
    """θ ~ Laplace(0, b) on neural weights: MAP adds ||θ||_1 / b (LASSO) to the NLL."""

    b: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "b", _positive(self, "b", self.b))

    def _dist(self, dtype: torch.dtype | None = None, device=None) -> Distribution:
        return torch.distributions.Laplace(
            torch.tensor(0.0, dtype=dtype, device=device),
            torch.tensor(self.b, dtype=dtype, device=device),
        )

    def penalty(self, params: Tensor | Iterable[Tensor]) -> Tensor:
        """Σ |θ| / b over all ``params``: -log p(θ) up to a constant."""
        return sum(p.abs().sum() for p in _params(params)) / self.b


# ------------------------------------------------------------------------ priors of factors
#: the priors a table takes (K2 is a Dirichlet; Beta only for binary tables)
TABLE_PRIORS = (Dirichlet, BDeu, Beta)
#: the priors on the weights of a neural factor
WEIGHT_PRIORS = (Gaussian, Laplace)


def resolve_priors(net: Any, prior: Any, nodes: Sequence[str]) -> dict[str, Any]:
    """One prior for every factor it applies to, or a mapping name -> prior (checked)."""
    if prior is None:
        return {}
    if isinstance(prior, Mapping):
        unknown = [n for n in prior if n not in net.variables]
        if unknown:
            raise ValueError(
                f"prior names unknown variable(s) {unknown}; variables are {list(net.variables)}"
            )
        out = {}
        for name, p in prior.items():
            if p is None:
                continue
            if not _applies(p, net[name]):
                raise TypeError(
                    f"prior {p!r} does not apply to the {type(net[name]).__name__} factor of "
                    f"{name!r}; {_valid_priors(net[name])}"
                )
            out[name] = p
        return out
    out = {n: prior for n in nodes if _applies(prior, net[n])}
    if not out:
        kinds = sorted({type(net[n]).__name__ for n in nodes})
        raise TypeError(
            f"prior {prior!r} applies to none of the factors to fit ({', '.join(kinds)})"
        )
    return out


def _applies(prior: Any, factor: Factor) -> bool:
    """Whether ``factor`` takes ``prior``."""
    if isinstance(factor, Table):
        if isinstance(prior, Beta):
            return factor.variable.card == 2
        return isinstance(prior, TABLE_PRIORS)
    if isinstance(factor, LinearGaussian):
        if isinstance(prior, Normal):
            return not factor.continuous and factor.covariance == "diag"
        return isinstance(prior, Gaussian)
    if isinstance(factor, NeuralFactor):
        return isinstance(prior, WEIGHT_PRIORS)
    return False


def _valid_priors(factor: Factor) -> str:
    """The priors ``factor`` takes, in words (for error messages)."""
    if isinstance(factor, Table):
        return "tables take Dirichlet, BDeu, K2 or (binary) Beta"
    if isinstance(factor, LinearGaussian):
        return "linear-Gaussians take Gaussian(λ) (ridge) or, without continuous parents, Normal"
    return "neural factors take Gaussian(λ) (weight decay) or Laplace(b) (L1)"


def table_pseudo_counts(prior: TablePrior | None, factor: Table) -> Tensor | float:
    """The pseudo-counts α added to the counts of a table, shape (*parent_cards, card)."""
    if prior is None:
        return 0.0
    return prior.pseudo_counts(factor.shape, dtype=factor.probs.dtype, device=factor.probs.device)


def ridge(prior: Any) -> float:
    """The ridge λ of a linear-Gaussian's ``Gaussian(λ)`` prior (0 without a prior)."""
    if prior is None:
        return 0.0
    if not isinstance(prior, Gaussian):
        raise TypeError(f"a linear-Gaussian takes a Gaussian(λ) prior (ridge), got {prior!r}")
    return prior.lam


def log_prior(net: Any, priors: Mapping[str, Any], estimate: str = "mean") -> float:
    """The table part of log p(θ) that the M-step maximizes together with the log-likelihood
    (constants dropped): Σ α log θ for ``estimate="mean"`` (the update (N + α) / Σ(N + α)),
    Σ (α − 1) log θ for ``"mode"`` (the MAP)."""
    return float(table_log_prior(net, priors, estimate))


def table_log_prior(net: Any, priors: Mapping[str, Any], estimate: str) -> Tensor | float:
    """:func:`log_prior` differentiable in the tables (0.0 when no table has a prior)."""
    shift = 1.0 if estimate == "mode" else 0.0
    return sum(
        ((table_pseudo_counts(p, net[n]) - shift) * net[n].probs.clamp_min(TINY).log()).sum()
        for n, p in priors.items()
        if isinstance(net[n], Table)
    )
