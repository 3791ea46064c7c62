"""The four covariance parametrizations of a Gaussian mixture, and their M-steps.

Each component k has N(μ_k, Σ_k) with Σ_k

    full       one (D, D) matrix per component          covariances_ (K, D, D)
    tied       one (D, D) matrix shared by all           covariances_ (D, D)
    diag       a diagonal per component                  covariances_ (K, D)
    spherical  one variance per component, σ²_k I        covariances_ (K,)

Each type is a :class:`CovarianceType` (:class:`Full`, :class:`Tied`, :class:`Diagonal`,
:class:`Spherical`) owning its shapes, log densities, sampling noise and M-step; the names map
to them through :func:`make_covariance`. Σ is stored with scikit-learn's precision Cholesky
factor U_k (``precisions_cholesky_``, shaped like the covariances): upper triangular with
Σ_k⁻¹ = U_k U_kᵀ (the inverse standard deviations for diag and spherical), so that

    log N(x; μ_k, Σ_k) = -½(D log 2π + ‖(x - μ_k)ᵀ U_k‖²) + log|U_k|.

The M-step from the statistics N_k = Σ r_ik, μ_k = S1_k / N_k and S2_k = Σ r_ik x_i x_iᵀ is

    Σ_k = S2_k / N_k - μ_k μ_kᵀ + reg_covar·I,

pooled over k for tied, its diagonal for diag, the diagonal's mean for spherical.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from ..._constants import JITTER, TINY
from ..._options import Option, make_option
from ._budget import row_blocks
from .errors import DegenerateCovarianceWarning

__all__ = [
    "CovarianceType",
    "Full",
    "Tied",
    "Diagonal",
    "Spherical",
    "make_covariance",
    "COVARIANCE_TYPES",
    "LOG_2PI",
    "correlated_noise",
    "cov_chol_from_prec_chol",
    "covariance_cholesky",
    "covariance_from_stats",
    "covariance_shape",
    "degenerate_components",
    "eye",
    "from_full",
    "from_precisions",
    "log_det_prec_chol",
    "log_gaussian_complete",
    "mahalanobis",
    "n_covariance_parameters",
    "prec_chol_from_cov_chol",
    "precision_cholesky",
    "precisions",
]

LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- linear algebra
def eye(d: int, like: Tensor) -> Tensor:
    """The (D, D) identity with ``like``'s dtype and device."""
    return torch.eye(d, dtype=like.dtype, device=like.device)


def prec_chol_from_cov_chol(L: Tensor) -> Tensor:
    """U = L⁻ᵀ (upper triangular), so that Σ⁻¹ = U Uᵀ when Σ = L Lᵀ.  (..., D, D)"""
    identity = eye(L.shape[-1], L).expand_as(L)
    return torch.linalg.solve_triangular(L, identity, upper=False).mT


def cov_chol_from_prec_chol(U: Tensor) -> Tensor:
    """L = U⁻ᵀ (lower triangular) with Σ = L Lᵀ.  (..., D, D)"""
    identity = eye(U.shape[-1], U).expand_as(U)
    return torch.linalg.solve_triangular(U, identity, upper=True).mT


def _prec_chol_from_precisions(P: Tensor) -> Tensor:
    """The upper-triangular U with P = U Uᵀ (scikit-learn's convention): flip, Cholesky, flip."""
    flipped = P.flip(-1, -2)
    return torch.linalg.cholesky(flipped).flip(-1, -2)


def _numerically_singular(cov: Tensor, L: Tensor, info: Tensor) -> Tensor:
    """Per matrix (K,) or (): Cholesky failed, or a pivot² is within rounding of zero.

    Whether the factorization of an exactly singular matrix fails depends on the BLAS build's
    rounding, so a pivot l_ii² ≤ 100·D·ε·max_j |Σ_jj| counts as a failure too: the matrix is
    singular to working precision on every CPU.
    """
    d = cov.shape[-1]
    tol = 100 * d * torch.finfo(cov.dtype).eps
    scale = cov.diagonal(dim1=-2, dim2=-1).abs().amax(-1)  # (K,) or ()
    pivots = L.diagonal(dim1=-2, dim2=-1).square().amin(-1)  # (K,) or ()
    return (info != 0) | ~(pivots > tol * scale)  # NaN pivots count as singular


# --------------------------------------------------------------------------- the four types
class CovarianceType(Option, ABC):
    """One parametrization of the components' covariances Σ_k (see the module docstring).

    ``U`` below is ``precisions_cholesky_``, shaped like the covariances.
    """

    name: ClassVar[str]
    #: Σ_k are (D, D) matrices (full, tied) rather than variances (diag, spherical)
    matrix: ClassVar[bool]

    @abstractmethod
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        """Shape of ``covariances_`` (and ``precisions_cholesky_``, ``precisions_init``)."""

    @abstractmethod
    def n_parameters(self, k: int, d: int) -> float:
        """Free parameters of the covariances."""

    @abstractmethod
    def from_full(self, cov: Tensor, k: int) -> Tensor:
        """One full (D, D) covariance given to every component, in this type's shape."""

    @abstractmethod
    def cholesky(self, U: Tensor, k: int, d: int) -> Tensor:
        """Cholesky factors L_k of Σ_k as (K, D, D) (tied broadcast to K)."""

    @abstractmethod
    def noise(self, eps: Tensor, z: Tensor, U: Tensor) -> Tensor:
        """L_{z_i} ε_i: standard normal draws ε (N, D) given component z's covariance: (N, D)."""

    @abstractmethod
    def mahalanobis(self, X: Tensor, means: Tensor, U: Tensor) -> Tensor:
        """(x_i - μ_k)ᵀ Σ_k⁻¹ (x_i - μ_k) for fully observed rows: (N, K)."""

    @abstractmethod
    def log_det(self, U: Tensor, d: int) -> Tensor:
        """log|U_k| = -½ log|Σ_k|: (K,), or () for tied."""

    @abstractmethod
    def from_stats(self, nk: Tensor, m: Tensor, sxx: Tensor, reg_covar: float) -> Tensor:
        """M-step: Σ from N_k (K,), the means m (K, D) and S2 (shaped as in the E-step)."""

    def precisions(self, U: Tensor) -> Tensor:
        """Σ_k⁻¹ = U_k U_kᵀ, shaped like the covariances."""
        return U @ U.mT if self.matrix else U.square()

    def from_precisions(self, P: Tensor) -> tuple[Tensor, Tensor]:
        """Covariances and U from given precisions (``precisions_init``)."""
        if self.matrix:
            return torch.cholesky_inverse(torch.linalg.cholesky(P)), _prec_chol_from_precisions(P)
        return P.reciprocal(), P.sqrt()

    def precision_cholesky(self, cov: Tensor, reg_covar: float) -> tuple[Tensor, Tensor]:
        """The covariances (clamped or jittered when not positive definite) and their U.

        A non-positive variance is clamped to reg_covar; a full or tied matrix that is not
        positive definite gets the smallest jitter 10^p·scale·I (p = 1..12) that makes it so,
        with a :class:`DegenerateCovarianceWarning`; a ``ValueError`` when none does.
        """
        if not self.matrix:
            bad = cov <= 0
            if bool(bad.any()):
                comps = torch.nonzero(bad.reshape(cov.shape[0], -1).any(1)).flatten().tolist()
                floor = max(reg_covar, 1e-12)
                warnings.warn(
                    f"component(s) {comps} collapsed: non-positive variance; clamped to "
                    f"reg_covar={floor:g}",
                    DegenerateCovarianceWarning,
                    stacklevel=4,
                )
                cov = cov.clamp_min(floor)
            return cov, cov.rsqrt()
        L, info = torch.linalg.cholesky_ex(cov)
        singular = _numerically_singular(cov, L, info)
        if bool(singular.any()):
            d = cov.shape[-1]
            scale = max(reg_covar, JITTER * float(cov.diagonal(dim1=-2, dim2=-1).abs().max()), TINY)
            comps = torch.nonzero(singular.reshape(-1)).flatten().tolist()
            for power in range(1, 13):
                jitter = scale * 10.0**power
                fixed = cov + jitter * eye(d, cov)
                L, info = torch.linalg.cholesky_ex(fixed)
                if not bool(_numerically_singular(fixed, L, info).any()):
                    warnings.warn(
                        f"covariance of component(s) {comps} is not positive definite (collapsed "
                        f"component); added {jitter:.3g} to its diagonal. Increase reg_covar "
                        f"(got {reg_covar:g}), decrease n_components or scale X.",
                        DegenerateCovarianceWarning,
                        stacklevel=4,
                    )
                    cov = fixed
                    break
            else:
                raise ValueError(
                    f"covariance of component(s) {comps} is not positive definite even with "
                    f"jitter; increase reg_covar (got {reg_covar:g}), decrease n_components "
                    "or scale X"
                )
        return cov, prec_chol_from_cov_chol(L)

    def degenerate(self, covariances: Tensor, U: Tensor, reg_covar: float, k: int) -> list[int]:
        """Components whose smallest Cholesky pivot² is within 10·reg_covar: collapsed."""
        thr = 10.0 * reg_covar
        if self.matrix:
            piv = cov_chol_from_prec_chol(U).diagonal(dim1=-2, dim2=-1).square()  # (K, D)/(D,)
            if isinstance(self, Tied):
                return list(range(k)) if float(piv.min()) <= thr else []
            return torch.nonzero(piv.min(-1).values <= thr).flatten().tolist()
        var = covariances if isinstance(self, Diagonal) else covariances[:, None]
        return torch.nonzero(var.min(-1).values <= thr).flatten().tolist()


class Full(CovarianceType):
    """One (D, D) matrix per component: covariances_ (K, D, D)."""

    name, matrix = "full", True

    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    def n_parameters(self, k: int, d: int) -> float:
        return k * d * (d + 1) / 2

    def from_full(self, cov: Tensor, k: int) -> Tensor:
        d = cov.shape[-1]
        return cov.expand(k, d, d).clone()

    def cholesky(self, U: Tensor, k: int, d: int) -> Tensor:
        return cov_chol_from_prec_chol(U)

    def noise(self, eps: Tensor, z: Tensor, U: Tensor) -> Tensor:
        n, d = eps.shape
        L = cov_chol_from_prec_chol(U)  # (K, D, D)
        parts = [
            (L[z[a:b]] @ eps[a:b, :, None]).squeeze(-1)  # (B, D)
            for a, b in row_blocks(n, d * d)
        ]
        return torch.cat(parts)

    def mahalanobis(self, X: Tensor, means: Tensor, U: Tensor) -> Tensor:
        n, d = X.shape
        k = means.shape[0]
        # one GEMM for all components: (N, D) @ (D, K*D)
        y = (X @ U.permute(1, 0, 2).reshape(d, k * d)).view(n, k, d)  # (N, K, D)
        y = y - torch.einsum("kd,kde->ke", means, U)  # (N, K, D)
        return y.square().sum(-1)

    def log_det(self, U: Tensor, d: int) -> Tensor:
        return U.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def from_stats(self, nk: Tensor, m: Tensor, sxx: Tensor, reg_covar: float) -> Tensor:
        d = m.shape[1]
        cov = sxx / nk[:, None, None] - m[:, :, None] * m[:, None, :]  # (K, D, D)
        return 0.5 * (cov + cov.mT) + reg_covar * eye(d, cov)


class Tied(CovarianceType):
    """One (D, D) matrix shared by all components: covariances_ (D, D)."""

    name, matrix = "tied", True

    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (d, d)

    def n_parameters(self, k: int, d: int) -> float:
        return d * (d + 1) / 2

    def from_full(self, cov: Tensor, k: int) -> Tensor:
        return cov

    def cholesky(self, U: Tensor, k: int, d: int) -> Tensor:
        return cov_chol_from_prec_chol(U).expand(k, d, d)

    def noise(self, eps: Tensor, z: Tensor, U: Tensor) -> Tensor:
        return eps @ cov_chol_from_prec_chol(U).T

    def mahalanobis(self, X: Tensor, means: Tensor, U: Tensor) -> Tensor:
        y = (X @ U)[:, None, :] - means @ U  # (N, K, D)
        return y.square().sum(-1)

    def log_det(self, U: Tensor, d: int) -> Tensor:
        return U.diagonal().log().sum()

    def from_stats(self, nk: Tensor, m: Tensor, sxx: Tensor, reg_covar: float) -> Tensor:
        d = m.shape[1]
        mm = torch.einsum("k,kd,ke->de", nk, m, m)  # (D, D)
        cov = (sxx - mm) / nk.sum()
        return 0.5 * (cov + cov.T) + reg_covar * eye(d, cov)


class Diagonal(CovarianceType):
    """A diagonal per component: covariances_ (K, D) (the variances)."""

    name, matrix = "diag", False

    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d)

    def n_parameters(self, k: int, d: int) -> float:
        return k * d

    def from_full(self, cov: Tensor, k: int) -> Tensor:
        return cov.diagonal().expand(k, cov.shape[-1]).clone()

    def cholesky(self, U: Tensor, k: int, d: int) -> Tensor:
        return torch.diag_embed(U.reciprocal())

    def noise(self, eps: Tensor, z: Tensor, U: Tensor) -> Tensor:
        return eps / U[z]

    def mahalanobis(self, X: Tensor, means: Tensor, U: Tensor) -> Tensor:
        return ((X[:, None, :] - means) * U).square().sum(-1)

    def log_det(self, U: Tensor, d: int) -> Tensor:
        return U.log().sum(-1)

    def from_stats(self, nk: Tensor, m: Tensor, sxx: Tensor, reg_covar: float) -> Tensor:
        return sxx / nk[:, None] - m.square() + reg_covar  # (K, D)


class Spherical(CovarianceType):
    """One variance per component, σ²_k I: covariances_ (K,)."""

    name, matrix = "spherical", False

    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k,)

    def n_parameters(self, k: int, d: int) -> float:
        return k

    def from_full(self, cov: Tensor, k: int) -> Tensor:
        return cov.diagonal().mean().expand(k).clone()

    def cholesky(self, U: Tensor, k: int, d: int) -> Tensor:
        return torch.diag_embed(U.reciprocal()[:, None].expand(k, d))

    def noise(self, eps: Tensor, z: Tensor, U: Tensor) -> Tensor:
        return eps / U[z, None]

    def mahalanobis(self, X: Tensor, means: Tensor, U: Tensor) -> Tensor:
        return (X[:, None, :] - means).square().sum(-1) * U.square()

    def log_det(self, U: Tensor, d: int) -> Tensor:
        return d * U.log()

    def from_stats(self, nk: Tensor, m: Tensor, sxx: Tensor, reg_covar: float) -> Tensor:
        cov = sxx / nk[:, None] - m.square() + reg_covar  # (K, D)
        return cov.mean(1)  # (K,)


_TYPES: tuple[type[CovarianceType], ...] = (Full, Tied, Diagonal, Spherical)
COVARIANCE_TYPES = tuple(t.name for t in _TYPES)


def make_covariance(covariance_type: str | CovarianceType) -> CovarianceType:
    """The :class:`CovarianceType` for an instance or one of the names in COVARIANCE_TYPES."""
    return make_option(covariance_type, _TYPES, CovarianceType, "covariance_type")


# --------------------------------------------------------------------------- by name
# The functions the E-step, the missing-data path and the gradient trainer call with a name.
def covariance_shape(covariance_type: str | CovarianceType, k: int, d: int) -> tuple[int, ...]:
    """Shape of ``covariances_`` (and ``precisions_cholesky_``, ``precisions_init``)."""
    return make_covariance(covariance_type).shape(k, d)


def n_covariance_parameters(covariance_type: str | CovarianceType, k: int, d: int) -> float:
    """Free parameters of the covariances: K·D(D+1)/2, D(D+1)/2, K·D or K."""
    return make_covariance(covariance_type).n_parameters(k, d)


def precisions(prec_chol: Tensor, covariance_type: str | CovarianceType) -> Tensor:
    """Σ_k⁻¹ = U_k U_kᵀ, shaped like the covariances."""
    return make_covariance(covariance_type).precisions(prec_chol)


def from_precisions(P: Tensor, covariance_type: str | CovarianceType) -> tuple[Tensor, Tensor]:
    """Covariances and precision Cholesky factors from given precisions (``precisions_init``)."""
    return make_covariance(covariance_type).from_precisions(P)


def from_full(cov: Tensor, covariance_type: str | CovarianceType, k: int) -> Tensor:
    """One full (D, D) covariance given to every component, in ``covariance_type``'s shape."""
    return make_covariance(covariance_type).from_full(cov, k)


def covariance_cholesky(
    prec_chol: Tensor, covariance_type: str | CovarianceType, k: int, d: int
) -> Tensor:
    """Cholesky factors L_k of Σ_k as (K, D, D) (tied broadcast to K)."""
    return make_covariance(covariance_type).cholesky(prec_chol, k, d)


def correlated_noise(
    eps: Tensor, z: Tensor, prec_chol: Tensor, covariance_type: str | CovarianceType
) -> Tensor:
    """L_{z_i} ε_i: standard normal draws ε (N, D) given component z's covariance.  (N, D)"""
    return make_covariance(covariance_type).noise(eps, z, prec_chol)


def mahalanobis(
    X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str | CovarianceType
) -> Tensor:
    """(x_i - μ_k)ᵀ Σ_k⁻¹ (x_i - μ_k) from the residuals, for fully observed rows.  (N, K)"""
    return make_covariance(covariance_type).mahalanobis(X, means, prec_chol)


def log_det_prec_chol(prec_chol: Tensor, covariance_type: str | CovarianceType, d: int) -> Tensor:
    """log|U_k| = -½ log|Σ_k|.  (K,) or () for tied"""
    return make_covariance(covariance_type).log_det(prec_chol, d)


def log_gaussian_complete(
    X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str | CovarianceType
) -> Tensor:
    """log N(x_i; μ_k, Σ_k) for fully observed rows.  X (N, D) -> (N, K)"""
    d = X.shape[1]
    ct = make_covariance(covariance_type)
    maha = ct.mahalanobis(X, means, prec_chol)
    return -0.5 * (d * LOG_2PI + maha) + ct.log_det(prec_chol, d)


def covariance_from_stats(
    nk: Tensor, m: Tensor, sxx: Tensor, covariance_type: str | CovarianceType, reg_covar: float
) -> Tensor:
    """Σ from N_k (K,), the means m (K, D) and S2 (shaped as in the E-step), about one shift."""
    return make_covariance(covariance_type).from_stats(nk, m, sxx, reg_covar)


def precision_cholesky(
    cov: Tensor, covariance_type: str | CovarianceType, reg_covar: float
) -> tuple[Tensor, Tensor]:
    """The covariances (clamped or jittered when not positive definite) and their U
    (:meth:`CovarianceType.precision_cholesky`)."""
    return make_covariance(covariance_type).precision_cholesky(cov, reg_covar)


def degenerate_components(
    covariances: Tensor,
    prec_chol: Tensor,
    covariance_type: str | CovarianceType,
    reg_covar: float,
    k: int,
) -> list[int]:
    """Components whose smallest Cholesky pivot² is within 10·reg_covar: collapsed."""
    return make_covariance(covariance_type).degenerate(covariances, prec_chol, reg_covar, k)
