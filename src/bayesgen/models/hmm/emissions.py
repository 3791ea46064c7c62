"""The HMM's emission factor p(x_t | z_t) as objects: likelihoods in, expected statistics out.

An :class:`Emission` (:class:`CategoricalEmission`, :class:`GaussianEmission`) owns its
parameters' names and shapes, its factor in the unrolled network, its likelihoods on a chunk, its
sufficient statistics (expected or counted), its M-step, its random start and its sampler; the
names map to them through :func:`make_emission`.

Categorical emissions B_km = p(x = m | z = k) are a gather from the table with an extra column
of ones for the symbol M that stands for a missing observation or padding (likelihood 1 in every
state marginalizes it out). A diagonal Gaussian is one matmul on the chunk's features
[o, x², x] (o = observed, x centred):

    log N(x; μ_k, σ²_k) = Σ_d o_d [-½ log 2πσ²_kd - μ²_kd/2σ²_kd] - x²_d/2σ²_kd + x_d μ_kd/σ²_kd,

so a missing dimension (o_d = 0, x_d = 0) drops out. The expected statistics of the E-step are
Σ_t γ_t(k) [x_t = m] (categorical) and Σ γ o, Σ γ x, Σ γ x² (Gaussian, over observed values).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import Categorical, Dirichlet, Distribution, Independent, Normal

from ..._constants import TINY
from ..._options import Option, make_option
from ...factors import Gaussian, Table
from ...learning.kmeans import kmeans
from ...variables import Continuous, Discrete, Variable
from ._input import Chunk, Flat

if TYPE_CHECKING:
    from .model import HMM

__all__ = [
    "EMISSIONS",
    "Emission",
    "CategoricalEmission",
    "GaussianEmission",
    "make_emission",
    "emission_likelihoods",
]


def _shifted(logE: Tensor, log: bool, inplace: bool) -> tuple[Tensor, Tensor]:
    """logE (K, T, B) minus its per-step max (T, B) (0 where no state is possible), as
    likelihoods or (``log``) log-likelihoods; a new tensor unless ``inplace``."""
    shift = logE.amax(0)  # (T, B)
    shift = torch.where(torch.isfinite(shift), shift, 0)
    E = logE.sub_(shift) if inplace else logE - shift  # (K, T, B)
    if not log:
        E.exp_()
    return E, shift


def _allowed(E: Tensor, chunk: Chunk, log: bool) -> Tensor:
    """Clamp known states (labels): E is a new tensor in every case, changed in place."""
    if chunk.allowed is None:
        return E
    return E.add_(torch.log(chunk.allowed)) if log else E.mul_(chunk.allowed)


class Emission(Option, ABC):
    """The emission factor p(x_t | z_t) of an HMM with K states and F features."""

    name: ClassVar[str]
    #: the model's parameter buffers of this emission
    params: ClassVar[tuple[str, ...]]
    #: those whose rows are probability distributions
    stochastic: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def n_features_of(self, model: HMM) -> int:
        """F read from the parameters' shapes (-1 when they have the wrong rank)."""

    @abstractmethod
    def infer_n_features(self, flat: Flat) -> int:
        """F from training data."""

    @abstractmethod
    def n_parameters(self, K: int, F: int) -> int:
        """Free parameters (a distribution loses one to normalization)."""

    @abstractmethod
    def check(self, model: HMM) -> None:
        """Raise on constraints beyond shapes, finiteness and stochastic rows."""

    @abstractmethod
    def distribution(self, model: HMM) -> Distribution:
        """p(x | z) for every state, batch shape (K,)."""

    @abstractmethod
    def variable(self, name: str, model: HMM) -> Variable:
        """The observed variable x_t of the unrolled network."""

    @abstractmethod
    def factor(self, x: Variable, z: Discrete, model: HMM) -> Any:
        """The factor p(x_t | z_t) of the unrolled network."""

    @abstractmethod
    def likelihoods(self, chunk: Chunk, model: HMM, log: bool) -> tuple[Tensor, Tensor | None]:
        """E (K, T, B) ∝ p(x_t | z_t = k) and the shift (T, B) or None (see
        :func:`emission_likelihoods`)."""

    @abstractmethod
    def empty_stats(self, K: int, F: int, **z: Any) -> dict[str, Tensor]:
        """Zero sufficient statistics."""

    @abstractmethod
    def add_stats(self, stats: dict, chunk: Chunk, gamma: Tensor, F: int) -> None:
        """Add the expected statistics of a chunk under the posteriors γ (K, T, B)."""

    @abstractmethod
    def count_stats(self, stats: dict, z: Tensor, v: Tensor, K: int, F: int) -> None:
        """Add the statistics of observations v with known states z (N,)."""

    @abstractmethod
    def m_step(self, model: HMM, stats: dict) -> None:
        """Set the emission parameters from the statistics."""

    @abstractmethod
    def random_start(self, model: HMM, flat: Flat) -> None:
        """Random starting parameters (inside the caller's seeded generator)."""

    @abstractmethod
    def sample(self, model: HMM, Z: Tensor) -> Tensor:
        """x_t | z_t for states Z (B, T)."""


class CategoricalEmission(Emission):
    """Symbols 0..M-1: B_km = p(x = m | z = k) in ``emissionprob_`` (K, M)."""

    name = "categorical"
    params = ("emissionprob_",)
    stochastic = ("emissionprob_",)

    def n_features_of(self, model: HMM) -> int:
        B = model.emissionprob_
        return B.shape[-1] if B.dim() == 2 else -1

    def infer_n_features(self, flat: Flat) -> int:
        seen = flat.values[flat.values >= 0]
        return int(seen.max()) + 1 if len(seen) else 1

    def n_parameters(self, K: int, F: int) -> int:
        return K * (F - 1)

    def check(self, model: HMM) -> None:
        return None  # nonnegative rows summing to 1: checked as stochastic

    def distribution(self, model: HMM) -> Distribution:
        return Categorical(probs=model.emissionprob_)

    def variable(self, name: str, model: HMM) -> Variable:
        return Discrete(name, model.emissionprob_.shape[1])

    def factor(self, x: Variable, z: Discrete, model: HMM) -> Any:
        return Table(x, [z], probs=model.emissionprob_)

    def likelihoods(self, chunk: Chunk, model: HMM, log: bool) -> tuple[Tensor, Tensor | None]:
        T, B = chunk.mask.shape
        emissionprob = model.emissionprob_
        K = emissionprob.shape[0]
        ones = emissionprob.new_ones(K, 1)  # the extra symbol M: missing / padding
        table = torch.cat([emissionprob, ones], 1)  # (K, M+1)
        if log:
            table = torch.log(table)
        index = chunk.data.reshape(1, -1).expand(K, -1)  # (K, T*B)
        E = torch.gather(table, 1, index).reshape(K, T, B)  # (K, T, B)
        return _allowed(E, chunk, log), None

    def empty_stats(self, K: int, F: int, **z: Any) -> dict[str, Tensor]:
        return {"counts": torch.zeros(K, F, **z)}

    def add_stats(self, stats: dict, chunk: Chunk, gamma: Tensor, F: int) -> None:
        K, T, B = gamma.shape
        M1 = F + 1
        if chunk.count_index is None:
            k = torch.arange(K, device=gamma.device).view(K, 1, 1) * M1
            chunk.count_index = (chunk.data.unsqueeze(0) + k).reshape(-1)  # (K*T*B,)
        counts = torch.bincount(
            chunk.count_index, weights=gamma.reshape(-1), minlength=K * M1
        ).reshape(K, M1)
        stats["counts"] += counts[:, :-1]  # missing observations land in the last column

    def count_stats(self, stats: dict, z: Tensor, v: Tensor, K: int, F: int) -> None:
        seen = v >= 0
        idx = z[seen] * F + v[seen]
        dtype = stats["counts"].dtype
        stats["counts"] += torch.bincount(idx, minlength=K * F).reshape(K, F).to(dtype)

    def m_step(self, model: HMM, stats: dict) -> None:
        from .statistics import normalize

        model.emissionprob_ = normalize(stats["counts"] + model.pseudocount)

    def random_start(self, model: HMM, flat: Flat) -> None:
        K, F = model.n_components, model.n_features
        model.emissionprob_ = Dirichlet(torch.ones(K, F, dtype=model.dtype)).sample()

    def sample(self, model: HMM, Z: Tensor) -> Tensor:
        return Categorical(probs=model.emissionprob_[Z]).sample()  # (B, T)


class GaussianEmission(Emission):
    """Diagonal Gaussians: ``means_`` (K, D) and variances ``covars_`` (K, D).

    On a chunk's features [o, x², x] (o = observed, x centred) the log-likelihood is one matmul:
    log N(x; μ_k, σ²_k) = Σ_d o_d [-½ log 2πσ²_kd - μ²_kd/2σ²_kd] - x²_d/2σ²_kd + x_d μ_kd/σ²_kd.
    """

    name = "gaussian"
    params = ("means_", "covars_")

    def n_features_of(self, model: HMM) -> int:
        return model.means_.shape[-1] if model.means_.dim() == 2 else -1

    def infer_n_features(self, flat: Flat) -> int:
        return flat.values.shape[1]

    def n_parameters(self, K: int, F: int) -> int:
        return 2 * K * F

    def check(self, model: HMM) -> None:
        if (model.covars_ <= 0).any():
            raise ValueError(f"covars_ must be positive variances, got min {model.covars_.min()}")

    def distribution(self, model: HMM) -> Distribution:
        return Independent(Normal(model.means_, model.covars_.sqrt()), 1)

    def variable(self, name: str, model: HMM) -> Variable:
        return Continuous(name, shape=(model.means_.shape[1],))

    def factor(self, x: Variable, z: Discrete, model: HMM) -> Any:
        return Gaussian(x, [z], mean=model.means_, std=model.covars_.sqrt())

    def likelihoods(self, chunk: Chunk, model: HMM, log: bool) -> tuple[Tensor, Tensor | None]:
        T, B = chunk.mask.shape
        K = model.means_.shape[0]
        mu = model.means_ - chunk.center  # (K, D)
        var = model.covars_  # (K, D)
        W = torch.cat(
            [-0.5 * (torch.log(2 * math.pi * var) + mu * mu / var), -0.5 / var, mu / var],
            dim=1,
        )  # (K, 3D)
        logE = (W @ chunk.data).reshape(K, T, B)  # (K, T, B)
        E, shift = _shifted(logE, log, inplace=True)
        return _allowed(E, chunk, log), shift

    def empty_stats(self, K: int, F: int, **z: Any) -> dict[str, Tensor]:
        return {key: torch.zeros(K, F, **z) for key in ("post", "obs", "obs**2")}

    def add_stats(self, stats: dict, chunk: Chunk, gamma: Tensor, F: int) -> None:
        K = gamma.shape[0]
        D = F
        G = gamma.reshape(K, -1)  # (K, T*B)
        S = G @ chunk.data.T  # (K, 3D): [Σγ o, Σγ xc², Σγ xc]; zero at padding
        post, sq, lin = S[:, :D], S[:, D : 2 * D], S[:, 2 * D :]
        c = chunk.center
        stats["post"] += post
        stats["obs"] += lin + c * post
        stats["obs**2"] += sq + 2 * c * lin + c * c * post

    def count_stats(self, stats: dict, z: Tensor, v: Tensor, K: int, F: int) -> None:
        dtype = stats["post"].dtype
        o = ~torch.isnan(v)
        x = torch.where(o, v, 0)
        onehot = torch.zeros(len(z), K, dtype=dtype, device=z.device)  # (N, K)
        onehot[torch.arange(len(z)), z] = torch.ones(len(z), dtype=dtype, device=z.device)
        stats["post"] += onehot.T @ o.to(dtype)
        stats["obs"] += onehot.T @ x
        stats["obs**2"] += onehot.T @ (x * x)

    def m_step(self, model: HMM, stats: dict) -> None:
        """μ = Σγx / Σγ and σ² = (covars_prior + Σγ(x - μ)²) / Σγ; a state without data keeps
        its old values."""
        post, obs, obs2 = stats["post"], stats["obs"], stats["obs**2"]
        old_mu = model._buffers.get("means_")
        mu = obs / post.clamp_min(TINY)
        if old_mu is not None:
            mu = torch.where(post > 0, mu, old_mu)
        c_n = obs2 - 2 * mu * obs + mu * mu * post
        var = (model.covars_prior + c_n) / post.clamp_min(1e-5)
        old_var = model._buffers.get("covars_")
        if old_var is not None:
            var = torch.where(post > 0, var, old_var)
        model.means_ = mu
        model.covars_ = var.clamp_min(torch.finfo(model.dtype).tiny)

    def random_start(self, model: HMM, flat: Flat) -> None:
        """Means from k-means (:mod:`bayesgen.learning.kmeans`, seeded from the global RNG the
        restart fixed) on up to 20,000 fully observed steps; the data's variances."""
        K = model.n_components
        v = flat.values
        o = ~torch.isnan(v)
        rows = v[o.all(1)]
        if len(rows) == 0:
            raise ValueError("gaussian X needs at least one fully observed step to initialize")
        gen = torch.Generator(device=rows.device).manual_seed(int(torch.randint(2**62, (1,))))
        sub = rows[torch.randperm(len(rows), generator=gen, device=rows.device)[:20000]]
        means, _ = kmeans(sub, K, torch.ones(len(sub), dtype=sub.dtype, device=sub.device), gen)
        x = torch.where(o, v, 0)
        mean = x.sum(0) / o.sum(0).clamp_min(1)
        var = (torch.where(o, v - mean, 0) ** 2).sum(0) / (o.sum(0) - 1).clamp_min(1)
        model.means_ = means
        model.covars_ = (var + model.min_covar).expand(K, model.n_features).clone()

    def sample(self, model: HMM, Z: Tensor) -> Tensor:
        return Normal(model.means_[Z], model.covars_[Z].sqrt()).sample()  # (B, T, D)


_EMISSIONS: tuple[type[Emission], ...] = (CategoricalEmission, GaussianEmission)
EMISSIONS = tuple(e.name for e in _EMISSIONS)


def make_emission(emission: str | Emission) -> Emission:
    """The :class:`Emission` for an instance or one of the names in ``EMISSIONS``."""
    return make_option(emission, _EMISSIONS, Emission, "emission")


def emission_likelihoods(
    chunk: Chunk, kind: str, model: HMM | None = None, *, log: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Emission likelihoods of a chunk, shifted per step for range.

    Returns E (K, T, B) with E_t(k) ∝ p(x_t | z_t = k) (max 1 per step), and the shift
    (T, B) or None such that log p(x_t | k) = log E_t(k) + shift_t; ``log=True`` gives log E.
    ``kind`` is an emission's name (its parameters read from ``model``), "logemission" for
    precomputed log-likelihoods in the chunk, or "logemission2" for pair scores (T, B, K, K)
    (returned as they are, shifted, for Viterbi only).
    """
    if kind == "logemission2":  # (T, B, K, K), only for Viterbi
        shift = chunk.data.amax((2, 3))  # (T, B)
        shift = torch.where(torch.isfinite(shift), shift, 0)
        return chunk.data - shift[..., None, None], shift
    elif kind == "logemission":
        E, shift = _shifted(chunk.data, log, inplace=False)  # (K, T, B), a new tensor
        return _allowed(E, chunk, log), shift
    else:
        return make_emission(kind).likelihoods(chunk, model, log)
