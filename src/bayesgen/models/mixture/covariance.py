"""The four covariance parametrizations of a Gaussian mixture, and their M-steps.

Each component k has N(μ_k, Σ_k) with Σ_k

    full       one (D, D) matrix per component          covariances_ (K, D, D)
    tied       one (D, D) matrix shared by all           covariances_ (D, D)
    diag       a diagonal per component                  covariances_ (K, D)
    spherical  one variance per component, σ²_k I        covariances_ (K,)

and is stored with scikit-learn's precision Cholesky factor U_k (``precisions_cholesky_``, shaped
like the covariances): upper triangular with Σ_k⁻¹ = U_k U_kᵀ (the inverse standard deviations
for diag and spherical), so that

    log N(x; μ_k, Σ_k) = -½(D log 2π + ‖(x - μ_k)ᵀ U_k‖²) + log|U_k|.

The M-step from the statistics N_k = Σ r_ik, μ_k = S1_k / N_k and S2_k = Σ r_ik x_i x_iᵀ is

    Σ_k = S2_k / N_k - μ_k μ_kᵀ + reg_covar·I,

pooled over k for tied, its diagonal for diag, the diagonal's mean for spherical.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from ._budget import row_blocks
from .errors import DegenerateCovarianceWarning

__all__ = [
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

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- shapes and counts
def covariance_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
    """Shape of ``covariances_`` (and ``precisions_cholesky_``, ``precisions_init``)."""
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def n_covariance_parameters(covariance_type: str, k: int, d: int) -> float:
    """Free parameters of the covariances: K·D(D+1)/2, D(D+1)/2, K·D or K."""
    return {
        "full": k * d * (d + 1) / 2,
        "tied": d * (d + 1) / 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]


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


def precisions(prec_chol: Tensor, covariance_type: str) -> Tensor:
    """Σ_k⁻¹ = U_k U_kᵀ, shaped like the covariances."""
    if covariance_type in ("full", "tied"):
        return prec_chol @ prec_chol.mT
    return prec_chol.square()


def from_precisions(P: Tensor, covariance_type: str) -> tuple[Tensor, Tensor]:
    """Covariances and precision Cholesky factors from given precisions (``precisions_init``)."""
    if covariance_type in ("full", "tied"):
        return torch.cholesky_inverse(torch.linalg.cholesky(P)), _prec_chol_from_precisions(P)
    return P.reciprocal(), P.sqrt()


def from_full(cov: Tensor, covariance_type: str, k: int) -> Tensor:
    """One full (D, D) covariance given to every component, in ``covariance_type``'s shape."""
    d = cov.shape[-1]
    var = cov.diagonal()
    if covariance_type == "full":
        return cov.expand(k, d, d).clone()
    if covariance_type == "tied":
        return cov
    if covariance_type == "diag":
        return var.expand(k, d).clone()
    if covariance_type == "spherical":
        return var.mean().expand(k).clone()
    raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")


def covariance_cholesky(prec_chol: Tensor, covariance_type: str, k: int, d: int) -> Tensor:
    """Cholesky factors L_k of Σ_k as (K, D, D) (tied broadcast to K)."""
    if covariance_type == "full":
        return cov_chol_from_prec_chol(prec_chol)
    if covariance_type == "tied":
        return cov_chol_from_prec_chol(prec_chol).expand(k, d, d)
    sd = prec_chol.reciprocal()  # (K, D) or (K,)
    return torch.diag_embed(sd[:, None].expand(k, d) if covariance_type == "spherical" else sd)


def correlated_noise(eps: Tensor, z: Tensor, prec_chol: Tensor, covariance_type: str) -> Tensor:
    """L_{z_i} ε_i: standard normal draws ε (N, D) given component z's covariance.  (N, D)"""
    if covariance_type == "diag":
        return eps / prec_chol[z]
    if covariance_type == "spherical":
        return eps / prec_chol[z, None]
    if covariance_type == "tied":
        return eps @ cov_chol_from_prec_chol(prec_chol).T
    n, d = eps.shape
    L = cov_chol_from_prec_chol(prec_chol)  # (K, D, D)
    parts = [
        (L[z[a:b]] @ eps[a:b, :, None]).squeeze(-1)  # (B, D)
        for a, b in row_blocks(n, d * d)
    ]
    return torch.cat(parts)


# --------------------------------------------------------------------------- log densities
def mahalanobis(X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str) -> Tensor:
    """(x_i - μ_k)ᵀ Σ_k⁻¹ (x_i - μ_k) from the residuals, for fully observed rows.  (N, K)"""
    n, d = X.shape
    k = means.shape[0]
    if covariance_type == "full":
        # one GEMM for all components: (N, D) @ (D, K*D)
        y = (X @ prec_chol.permute(1, 0, 2).reshape(d, k * d)).view(n, k, d)  # (N, K, D)
        y = y - torch.einsum("kd,kde->ke", means, prec_chol)  # (N, K, D)
        return y.square().sum(-1)
    if covariance_type == "tied":
        y = (X @ prec_chol)[:, None, :] - means @ prec_chol  # (N, K, D)
        return y.square().sum(-1)
    if covariance_type == "diag":
        return ((X[:, None, :] - means) * prec_chol).square().sum(-1)
    if covariance_type == "spherical":
        return (X[:, None, :] - means).square().sum(-1) * prec_chol.square()
    raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")


def log_det_prec_chol(prec_chol: Tensor, covariance_type: str, d: int) -> Tensor:
    """log|U_k| = -½ log|Σ_k|.  (K,) or () for tied"""
    if covariance_type == "full":
        return prec_chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    if covariance_type == "tied":
        return prec_chol.diagonal().log().sum()
    if covariance_type == "diag":
        return prec_chol.log().sum(-1)
    return d * prec_chol.log()


def log_gaussian_complete(
    X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str
) -> Tensor:
    """log N(x_i; μ_k, Σ_k) for fully observed rows.  X (N, D) -> (N, K)"""
    d = X.shape[1]
    maha = mahalanobis(X, means, prec_chol, covariance_type)
    return -0.5 * (d * LOG_2PI + maha) + log_det_prec_chol(prec_chol, covariance_type, d)


# --------------------------------------------------------------------------- M-step
def covariance_from_stats(
    nk: Tensor, m: Tensor, sxx: Tensor, covariance_type: str, reg_covar: float
) -> Tensor:
    """Σ from N_k (K,), the means m (K, D) and S2 (shaped as in the E-step), about one shift."""
    d = m.shape[1]
    if covariance_type == "full":
        cov = sxx / nk[:, None, None] - m[:, :, None] * m[:, None, :]  # (K, D, D)
        return 0.5 * (cov + cov.mT) + reg_covar * eye(d, cov)
    if covariance_type == "tied":
        mm = torch.einsum("k,kd,ke->de", nk, m, m)  # (D, D)
        cov = (sxx - mm) / nk.sum()
        return 0.5 * (cov + cov.T) + reg_covar * eye(d, cov)
    cov = sxx / nk[:, None] - m.square() + reg_covar  # (K, D)
    if covariance_type == "spherical":
        cov = cov.mean(1)  # (K,)
    return cov


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


def precision_cholesky(
    cov: Tensor, covariance_type: str, reg_covar: float
) -> tuple[Tensor, Tensor]:
    """The covariances (clamped or jittered when not positive definite) and their U.

    A non-positive variance is clamped to reg_covar; a full or tied matrix that is not
    positive definite gets the smallest jitter 10^p·scale·I (p = 1..12) that makes it so, with a
    :class:`DegenerateCovarianceWarning`; a ``ValueError`` when none does.
    """
    if covariance_type in ("diag", "spherical"):
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
        scale = max(reg_covar, 1e-12 * float(cov.diagonal(dim1=-2, dim2=-1).abs().max()), 1e-300)
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


def degenerate_components(
    covariances: Tensor, prec_chol: Tensor, covariance_type: str, reg_covar: float, k: int
) -> list[int]:
    """Components whose smallest Cholesky pivot² is within 10·reg_covar: collapsed."""
    thr = 10.0 * reg_covar
    if covariance_type in ("full", "tied"):
        piv = cov_chol_from_prec_chol(prec_chol).diagonal(dim1=-2, dim2=-1).square()  # (K, D)/(D,)
        if covariance_type == "tied":
            return list(range(k)) if float(piv.min()) <= thr else []
        return torch.nonzero(piv.min(-1).values <= thr).flatten().tolist()
    var = covariances if covariance_type == "diag" else covariances[:, None]
    return torch.nonzero(var.min(-1).values <= thr).flatten().tolist()
