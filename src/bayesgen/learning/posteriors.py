"""Conjugate posteriors p(θ | D) ∝ p(D | θ) p(θ) (eqs. 24–26 of the chapter) from sufficient stats.

    BetaPosterior          r = P(x = 1), Beta(a, b) prior, counts (n0, n1)  -> Beta(a + n1, b + n0)
    DirichletPosterior     a table's rows, Dirichlet(α) prior, counts n     -> Dirichlet(α + n)
    NormalPosterior        Gaussian mean μ, known std σ, N(μ0, τ0²) prior   -> N(μ_n, τ_n²)
    NormalGammaPosterior   Gaussian (μ, λ = 1/σ²), NormalGamma prior        -> NormalGamma

Each holds its prior and statistics and gives ``mean``, ``mode`` (the MAP estimate, eq. 25),
``credible_interval(level)`` (equal-tailed), ``sample(n)``, ``update(stats)``, the torch
``distribution`` and ``log_marginal_likelihood`` = log p(D), the evidence of the observed sequence.
Statistics come from ``summarize(x)`` (data batch first) and add up, so data can arrive in chunks.
Quantiles are computed in torch (no scipy) by the special functions of :mod:`bayesgen.special`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from .._constants import TINY
from ..special import (
    betainc,
    betaincinv,
    gamma_icdf,
    student_t_icdf,
)
from .priors import K2, BDeu, Beta, Dirichlet, NormalGamma, TablePrior
from .priors import Normal as NormalPrior

__all__ = [
    "GaussianStats",
    "BetaPosterior",
    "DirichletPosterior",
    "NormalPosterior",
    "NormalGammaPosterior",
    "NormalGammaDistribution",
    "betainc",
    "betaincinv",
]


def _level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return n


def _tails(level: float, like: Tensor) -> Tensor:
    """The quantile levels ((1 - level)/2, (1 + level)/2) of an equal-tailed interval: (2,)."""
    level = _level(level)
    return torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=like.dtype, device=like.device)


def _beta_interval(a: Tensor, b: Tensor, level: float) -> tuple[Tensor, Tensor]:
    """Equal-tailed interval of Beta(a, b), elementwise: (lower, upper), each a's shape."""
    bounds = betaincinv(a[..., None], b[..., None], _tails(level, a))  # (..., 2)
    return bounds[..., 0], bounds[..., 1]


class _Posterior:
    """What the posteriors share: draws from their torch ``distribution``."""

    distribution: Distribution  # a property of each posterior

    def sample(self, n: int) -> Tensor:
        """n draws of the parameters from the posterior: (n, *distribution shape)."""
        return self.distribution.sample((_n(n),))


# ----------------------------------------------------------------------------- count posteriors
def _counts(counts: object, name: str = "counts") -> Tensor:
    c = torch.as_tensor(counts)
    c = c if c.is_floating_point() else c.to(torch.get_default_dtype())
    if c.ndim == 0:
        raise ValueError(f"{name} must have the states on a last axis, got a scalar")
    lo, hi = torch.aminmax(c) if c.numel() else (c.new_zeros(()), c.new_zeros(()))
    if not bool((lo >= 0) & (hi <= torch.finfo(c.dtype).max)):  # one pass; NaN fails
        raise ValueError(f"{name} must be non-negative and finite, got minimum {c.min().item():g}")
    return c


def _dirichlet_mode(alpha: Tensor) -> Tensor:
    """arg max of Π θ_k^(α_k - 1) on the simplex, per row: θ_k ∝ max(α_k - 1, 0).

    Where no α_k exceeds 1 the density has no interior maximum: all α_k = 1 (flat) gives the
    uniform row; otherwise it is unbounded at the vertices and the vertex of the largest α_k
    (the first one on ties) is returned.
    """
    excess = (alpha - 1).clamp_min(0)  # (..., K)
    total = excess.sum(-1, keepdim=True)
    interior = excess / total.clamp_min(torch.finfo(alpha.dtype).tiny)
    flat = (alpha == 1).all(-1, keepdim=True)
    uniform = torch.full_like(alpha, 1 / alpha.shape[-1])
    vertex = torch.nn.functional.one_hot(alpha.argmax(-1), alpha.shape[-1]).to(alpha.dtype)
    return torch.where(total > 0, interior, torch.where(flat, uniform, vertex))


#: largest count for which log Γ(α + n) is looked up in a table of log Γ(α + j), j = 0..n_max
_LOOKUP_MAX = 1 << 20


def _lgamma_table(alpha: Tensor, n: Tensor) -> Tensor:
    """log Γ(α + n) - log Γ(α) for whole n >= 0 (any shape), gathered from a table over
    j = 0..max n: the same float arguments α + j, so the same values as computing each cell."""
    j = torch.arange(int(n.amax()) + 1, dtype=alpha.dtype, device=alpha.device)
    table = torch.lgamma(alpha + j) - torch.lgamma(alpha)  # (max n + 1,)
    return table[n]


def _dirichlet_evidence(prior: Tensor, counts: Tensor, uniform: bool | None = None) -> Tensor:
    """log p(D) of a sequence with counts n under θ ~ Dirichlet(α), per row:
    log Γ(α0) - log Γ(α0 + N) + Σ_k [log Γ(α_k + n_k) - log Γ(α_k)].

    With one α for every cell and whole counts (a symmetric prior and observed counts), the
    log Γ terms are looked up in tables over the distinct counts (one lgamma per count value,
    not one per cell). ``uniform``: whether every α is known to be the same (None: look).
    """
    first = prior.reshape(-1, prior.shape[-1])[:1]  # (1, K)
    if (
        counts.numel() >= 64
        and counts.shape == prior.shape
        and not (torch.is_grad_enabled() and (prior.requires_grad or counts.requires_grad))
        and (bool((prior == first[:, :1]).all()) if uniform is None else uniform)
    ):
        whole = counts.long()
        # tables no longer than the cells they stand for
        if bool((whole == counts).all()) and int(whole.amax()) <= min(_LOOKUP_MAX, whole.numel()):
            cells = _lgamma_table(first[0, :1], whole).sum(-1)  # (...,)
            total = whole.sum(-1)  # (...,) N per row, exact
            a0 = first.sum(-1)  # (1,) α0, the same for every row
            if int(total.amax()) <= min(_LOOKUP_MAX, total.numel()):
                return cells - _lgamma_table(a0, total)
            return cells + torch.lgamma(a0) - torch.lgamma(a0 + total)
    return (
        torch.lgamma(prior.sum(-1))
        - torch.lgamma((prior + counts).sum(-1))
        + (torch.lgamma(prior + counts) - torch.lgamma(prior)).sum(-1)
    )


class _CountPosterior(_Posterior):
    """A table prior's pseudo-counts α plus (possibly fractional) counts n, states on the last
    axis: the posterior Dirichlet(α + n) of each row, whatever its parametrization."""

    prior: TablePrior
    counts: Tensor
    pseudo_counts: Tensor

    def _add_prior(self, prior: TablePrior, counts: Tensor) -> Tensor:
        """Keep ``prior`` and ``counts``; return the posterior concentration α + n (..., K)."""
        self.prior, self.counts = prior, counts
        self.pseudo_counts = prior.pseudo_counts(
            counts.shape, dtype=counts.dtype, device=counts.device
        )
        return self.pseudo_counts + self.counts

    def update(self, counts: Tensor) -> Self:
        """The posterior after more data with ``counts`` (same shape): Dirichlet(α + n + n')."""
        new = _counts(counts).to(self.counts)
        if new.shape != self.counts.shape:
            raise ValueError(
                f"counts must have shape {tuple(self.counts.shape)}, got {tuple(new.shape)}"
            )
        return type(self)(self.prior, self.counts + new)

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log ∫ Π_k θ_k^{n_k} Dir(θ; α) dθ per row (sum them for the table); for a
        Beta, log B(a + n1, b + n0) - log B(a, b)."""
        p = self.prior
        uniform = isinstance(p, BDeu) or (
            isinstance(p, Dirichlet) and isinstance(p.alpha, float)  # symmetric: one α
        )
        return _dirichlet_evidence(self.pseudo_counts, self.counts, uniform or None)


class DirichletPosterior(_CountPosterior):
    """Posterior Dirichlet(α + n) of each row θ of a categorical table (states on the last axis).

    ``prior`` is any table prior (:class:`Dirichlet`, :class:`K2`, :class:`BDeu`, :class:`Beta`);
    ``counts`` has the table's shape (*parent_cards, K) and may be fractional (expected counts).
    """

    def __init__(
        self,
        prior: TablePrior | None = None,
        counts: Tensor | None = None,
        *,
        cardinality: int | None = None,
    ):
        prior = K2() if prior is None else prior
        if not isinstance(prior, TablePrior):
            raise TypeError(
                f"prior must be a table prior with pseudo_counts (Dirichlet, K2, BDeu, "
                f"Beta), got {type(prior).__name__}"
            )
        if counts is None:
            if cardinality is None:
                raise ValueError("pass counts, or cardinality for a posterior with no data")
            counts = torch.zeros(int(cardinality))
        counts = _counts(counts)
        if counts.shape[-1] < 2:
            raise ValueError(
                f"counts must have at least 2 states on the last axis, got shape "
                f"{tuple(counts.shape)}"
            )
        self.concentration = self._add_prior(prior, counts)  # (..., K)

    @staticmethod
    def summarize(x: Tensor, cardinality: int) -> Tensor:
        """Counts of states 0..K-1 in integer data x (N, *batch): (*batch, K)."""
        x = torch.as_tensor(x)
        if x.is_floating_point() and not bool((x == x.round()).all()):
            raise ValueError("x must hold integer state codes")
        x = x.long()
        if x.ndim == 0 or bool(((x < 0) | (x >= cardinality)).any()):
            raise ValueError(
                f"x must be batch first with codes in [0, {cardinality}), got values "
                f"in [{x.min().item()}, {x.max().item()}]"
            )
        return torch.nn.functional.one_hot(x, cardinality).sum(0).to(torch.get_default_dtype())

    @classmethod
    def from_data(cls, prior: TablePrior | None, x: Tensor, cardinality: int):
        return cls(prior, cls.summarize(x, cardinality))

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Dirichlet(self.concentration)

    @property
    def mean(self) -> Tensor:
        """E[θ_k | D] = (α_k + n_k) / (α_0 + N): the table smoothed by the pseudo-counts."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """MAP table: (α_k + n_k - 1) / (α_0 + N - K) when every α_k + n_k > 1 (see
        :func:`_dirichlet_mode` for the boundary cases)."""
        return _dirichlet_mode(self.concentration)

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed interval of each θ_k from its marginal Beta(α_k, α_0 - α_k): (..., K)."""
        a = self.concentration
        return _beta_interval(a, a.sum(-1, keepdim=True) - a, level)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prior={self.prior!r}, shape={tuple(self.counts.shape)})"


class BetaPosterior(_CountPosterior):
    """Posterior Beta(a + n1, b + n0) of r = P(x = 1) for binary data.

    ``counts`` is (..., 2) with (n0, n1) = (#x=0, #x=1) on the last axis, as a binary table's
    states; ``prior`` a :class:`Beta` (or any table prior).
    """

    def __init__(self, prior: TablePrior | None = None, counts: Tensor | None = None):
        prior = Beta() if prior is None else prior
        if not isinstance(prior, TablePrior):
            raise TypeError(f"prior must be a Beta (or a table prior), got {type(prior).__name__}")
        counts = _counts(torch.zeros(2) if counts is None else counts)
        if counts.shape[-1] != 2:
            raise ValueError(
                f"counts must have (n0, n1) on a last axis of size 2, got shape "
                f"{tuple(counts.shape)}"
            )
        conc = self._add_prior(prior, counts)  # (..., 2)
        self.a, self.b = conc[..., 1], conc[..., 0]  # Beta(a, b) on r = P(x = 1)

    @staticmethod
    def summarize(x: Tensor) -> Tensor:
        """(n0, n1) of binary data x (N, *batch): (*batch, 2)."""
        x = torch.as_tensor(x)
        if x.ndim == 0 or bool(((x != 0) & (x != 1)).any()):
            raise ValueError("x must be batch first and hold only 0 and 1")
        n1 = x.to(x.dtype if x.is_floating_point() else torch.get_default_dtype()).sum(0)
        return torch.stack([x.shape[0] - n1, n1], -1)

    @classmethod
    def from_data(cls, prior: TablePrior | None, x: Tensor) -> BetaPosterior:
        return cls(prior, cls.summarize(x))

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Beta(self.a, self.b)

    @property
    def mean(self) -> Tensor:
        """E[r | D] = a / (a + b)."""
        return self.a / (self.a + self.b)

    @property
    def mode(self) -> Tensor:
        """MAP r: (a - 1) / (a + b - 2) when a, b > 1; 0 or 1 when a <= 1 < b or b <= 1 < a;
        1/2 for a = b = 1; for a, b <= 1 (U-shaped) the end of the larger parameter's state
        (0 on ties)."""
        return _dirichlet_mode(torch.stack([self.b, self.a], -1))[..., 1]

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed interval (F^{-1}((1 - level)/2), F^{-1}((1 + level)/2)) of r."""
        return _beta_interval(self.a, self.b, level)

    def __repr__(self) -> str:
        return f"BetaPosterior(prior={self.prior!r}, shape={tuple(self.a.shape)})"


# ----------------------------------------------------------------------------- Gaussian posteriors
@dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of Gaussian data: count n, mean and m2 = Σ (x - mean)².

    Batched over trailing axes; ``a + b`` merges two chunks exactly (Chan et al.'s update), so
    no precision is lost to Σx² - (Σx)²/n.
    """

    n: Tensor
    mean: Tensor
    m2: Tensor

    @classmethod
    def from_data(cls, x: Tensor) -> GaussianStats:
        """Statistics of x (N, *batch) along its first axis."""
        x = torch.as_tensor(x)
        x = x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(
                f"x must be batch first with at least one row, got shape {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite")
        mean = x.mean(0)
        n = torch.full_like(mean, x.shape[0])
        return cls(n, mean, (x - mean).square().sum(0))

    @classmethod
    def empty(cls, shape: tuple[int, ...] = (), dtype: torch.dtype | None = None) -> GaussianStats:
        z = torch.zeros(shape, dtype=dtype)
        return cls(z, z, z)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        if not isinstance(other, GaussianStats):
            return NotImplemented
        n = self.n + other.n
        delta = other.mean - self.mean
        w = torch.where(n > 0, other.n / n.clamp_min(TINY), torch.zeros_like(n))
        return GaussianStats(
            n, self.mean + delta * w, self.m2 + other.m2 + delta.square() * self.n * w
        )

    @property
    def sum(self) -> Tensor:
        return self.n * self.mean

    @property
    def sum_sq(self) -> Tensor:
        return self.m2 + self.n * self.mean.square()


def _stats(stats: GaussianStats | None, dtype: torch.dtype | None = None) -> GaussianStats:
    if stats is None:
        return GaussianStats.empty(dtype=dtype)
    if not isinstance(stats, GaussianStats):
        raise TypeError(
            f"stats must be GaussianStats (GaussianStats.from_data(x)), got {type(stats).__name__}"
        )
    return stats


class NormalPosterior(_Posterior):
    """Posterior of the mean μ of N(μ, σ²) with σ = ``std`` known and prior N(μ0, τ0²):

    1/τ_n² = 1/τ0² + n/σ²,   μ_n = τ_n² (μ0/τ0² + Σx/σ²).
    """

    def __init__(
        self,
        prior: NormalPrior | None = None,
        stats: GaussianStats | None = None,
        *,
        std: float | Tensor = 1.0,
    ):
        self.prior = NormalPrior() if prior is None else prior
        if not isinstance(self.prior, NormalPrior):
            raise TypeError(f"prior must be priors.Normal, got {type(self.prior).__name__}")
        self.stats = _stats(stats)
        mean = self.stats.mean
        s = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
        if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
            raise ValueError(f"std must be positive and finite, got {std!r}")
        self.std = s
        prec = 1 / self.prior.std**2 + self.stats.n / s.square()  # 1 / τ_n²
        loc = (self.prior.mean / self.prior.std**2 + self.stats.sum / s.square()) / prec
        self.loc, self.scale = torch.broadcast_tensors(loc, prec.rsqrt())

    summarize = staticmethod(GaussianStats.from_data)

    @classmethod
    def from_data(cls, prior: NormalPrior | None, x: Tensor, *, std: float | Tensor = 1.0):
        return cls(prior, GaussianStats.from_data(x), std=std)

    def update(self, stats: GaussianStats) -> NormalPosterior:
        return NormalPosterior(self.prior, self.stats + _stats(stats), std=self.std)

    @property
    def distribution(self) -> Distribution:
        return torch.distributions.Normal(self.loc, self.scale)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        """MAP μ = posterior mean (a Gaussian's mode)."""
        return self.loc

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        level = _level(level)
        d = self.distribution
        lo = d.icdf(torch.full_like(self.loc, (1 - level) / 2))
        return lo, 2 * self.loc - lo

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log p(D | μ) + log p(μ) - log p(μ | D), at any μ (here μ_n)."""
        st, mu, s2 = self.stats, self.loc, self.std.square()
        loglik = -0.5 * st.n * torch.log(2 * math.pi * s2) - (
            st.m2 + st.n * (st.mean - mu).square()
        ) / (2 * s2)
        prior = torch.distributions.Normal(
            torch.as_tensor(self.prior.mean, dtype=mu.dtype, device=mu.device),
            torch.as_tensor(self.prior.std, dtype=mu.dtype, device=mu.device),
        )
        return loglik + prior.log_prob(mu) - self.distribution.log_prob(mu)

    def __repr__(self) -> str:
        return (
            f"NormalPosterior(prior={self.prior!r}, std={self.std}, shape={tuple(self.loc.shape)})"
        )


class NormalGammaDistribution(Distribution):
    """NormalGamma(loc, kappa, concentration, rate) over θ = (μ, λ), event shape (2,):

    λ ~ Gamma(concentration, rate),   μ | λ ~ N(loc, 1 / (kappa λ)).
    """

    arg_constraints = {
        "loc": constraints.real,
        "kappa": constraints.positive,
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.stack([constraints.real, constraints.positive], dim=-1)
    has_rsample = True

    def __init__(self, loc, kappa, concentration, rate, validate_args=None):
        self.loc, self.kappa, self.concentration, self.rate = torch.broadcast_tensors(
            *(torch.as_tensor(t) for t in (loc, kappa, concentration, rate))
        )
        super().__init__(self.loc.shape, torch.Size([2]), validate_args=validate_args)

    def _gamma(self) -> torch.distributions.Gamma:
        return torch.distributions.Gamma(self.concentration, self.rate)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        lam = self._gamma().rsample(sample_shape)  # (*sample, *batch)
        mu = self.loc + torch.randn_like(lam) * (self.kappa * lam).rsqrt()
        return torch.stack([mu, lam], -1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        mu, lam = value[..., 0], value[..., 1]
        normal = torch.distributions.Normal(self.loc, (self.kappa * lam).rsqrt())
        return self._gamma().log_prob(lam) + normal.log_prob(mu)

    @property
    def mean(self) -> Tensor:
        return torch.stack([self.loc, self.concentration / self.rate], -1)

    @property
    def mode(self) -> Tensor:
        """Joint mode (μ, λ) = (loc, max(concentration - 1/2, 0) / rate)."""
        return torch.stack([self.loc, (self.concentration - 0.5).clamp_min(0) / self.rate], -1)

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration, self.rate
        var_mu = torch.where(a > 1, b / (self.kappa * (a - 1)), torch.full_like(a, math.inf))
        return torch.stack([var_mu, a / b.square()], -1)


class NormalGammaPosterior(_Posterior):
    """Posterior of (μ, λ = 1/σ²) of Gaussian data under a :class:`NormalGamma` prior:

        κ_n = κ0 + n,  μ_n = (κ0 μ0 + n x̄) / κ_n,  a_n = a0 + n/2,
        b_n = b0 + m2/2 + κ0 n (x̄ - μ0)² / (2 κ_n).

    Parameters are stacked (μ, λ) on a last axis of size 2. The marginal of μ is Student-t with
    2 a_n degrees of freedom, location μ_n and scale sqrt(b_n / (a_n κ_n)); that of λ is
    Gamma(a_n, b_n).
    """

    def __init__(self, prior: NormalGamma | None = None, stats: GaussianStats | None = None):
        self.prior = NormalGamma() if prior is None else prior
        if not isinstance(self.prior, NormalGamma):
            raise TypeError(f"prior must be priors.NormalGamma, got {type(self.prior).__name__}")
        self.stats = st = _stats(stats)
        p = self.prior
        self.kappa = p.kappa + st.n
        self.loc = (p.kappa * p.mean + st.n * st.mean) / self.kappa
        self.concentration = p.a + st.n / 2
        self.rate = (
            p.b + st.m2 / 2 + p.kappa * st.n * (st.mean - p.mean).square() / (2 * self.kappa)
        )

    summarize = staticmethod(GaussianStats.from_data)

    @classmethod
    def from_data(cls, prior: NormalGamma | None, x: Tensor) -> NormalGammaPosterior:
        return cls(prior, GaussianStats.from_data(x))

    def update(self, stats: GaussianStats) -> NormalGammaPosterior:
        return NormalGammaPosterior(self.prior, self.stats + _stats(stats))

    @property
    def distribution(self) -> NormalGammaDistribution:
        return NormalGammaDistribution(self.loc, self.kappa, self.concentration, self.rate)

    @property
    def mean(self) -> Tensor:
        """(E[μ], E[λ]) = (μ_n, a_n / b_n): (..., 2)."""
        return self.distribution.mean

    @property
    def mode(self) -> Tensor:
        """MAP (μ, λ) = (μ_n, (a_n - 1/2) / b_n): (..., 2)."""
        return self.distribution.mode

    def credible_interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """Equal-tailed marginal intervals of μ (Student-t) and λ (Gamma): each (..., 2)."""
        q = _tails(level, self.loc)
        a = self.concentration
        # both standard quantiles depend on a_n alone, which posteriors of one count share
        u, inv = torch.unique(a, return_inverse=True)  # (U,), a.shape
        t_lo = student_t_icdf(2 * u[:, None], q[:1])[:, 0][inv]  # t(q_lo) = -t(q_hi) < 0
        g = gamma_icdf(u[:, None], torch.ones_like(u[:, None]), q)[inv]  # (..., 2) of Gamma(a, 1)
        half = torch.sqrt(self.rate / (a * self.kappa)) * t_lo  # (...,)
        lam = g / self.rate[..., None]  # (..., 2)
        return torch.stack([self.loc + half, lam[..., 0]], -1), torch.stack(
            [self.loc - half, lam[..., 1]], -1
        )

    @property
    def log_marginal_likelihood(self) -> Tensor:
        """log p(D) = log Γ(a_n) - log Γ(a0) + a0 log b0 - a_n log b_n + ½ log(κ0/κ_n)
        - (n/2) log 2π."""
        p, st = self.prior, self.stats
        a0 = torch.as_tensor(p.a, dtype=self.rate.dtype, device=self.rate.device)
        return (
            torch.lgamma(self.concentration)
            - torch.lgamma(a0)
            + p.a * math.log(p.b)
            - self.concentration * torch.log(self.rate)
            + 0.5 * torch.log(p.kappa / self.kappa)
            - 0.5 * st.n * math.log(2 * math.pi)
        )

    def __repr__(self) -> str:
        return f"NormalGammaPosterior(prior={self.prior!r}, shape={tuple(self.loc.shape)})"
