"""Gaussian mixtures: the Bayesian network z -> x of eq. 9, fitted by EM or by gradient descent.

The latent class z ~ Categorical(w) picks a component and x | z=k ~ N(μ_k, Σ_k), so

    p(x) = Σ_k w_k N(x; μ_k, Σ_k).                                                  (eq. 9)

EM alternates the E-step (responsibilities r_ik = p(z=k | x_i), computed in log-space) with the
closed-form M-step from the sufficient statistics

    N_k = Σ_i r_ik,   S1_k = Σ_i r_ik x_i,   S2_k = Σ_i r_ik x_i x_iᵀ,

which are kept apart from the update (``summarize`` / ``from_summaries``) so that weighted,
minibatch and out-of-core fitting share one code path. Missing features (NaN) are marginalized:
a row with observed coordinates o scores under the marginal N(x_o; μ_o, Σ_oo), and the M-step
uses the conditional expectations E[x_m | x_o, z=k] and Cov[x_m | x_o, z=k] (exact EM).

Names follow scikit-learn (``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``,
``converged_``, ``n_iter_``, ``lower_bound_``): the precision Cholesky factor U_k is upper
triangular with Σ_k⁻¹ = U_k U_kᵀ, so log N(x; μ_k, Σ_k) = -½(D log 2π + ‖(x-μ_k)ᵀU_k‖²) + log|U_k|.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from ..graph import DAG

__all__ = [
    "GaussianMixture",
    "ConvergenceWarning",
    "DegenerateCovarianceWarning",
    "NotFittedError",
    "COVARIANCE_TYPES",
    "INIT_PARAMS",
]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
MISSING = ("marginalize", "raise")

_LOG_2PI = math.log(2.0 * math.pi)
# Rows are processed in blocks holding at most this many (row, component, feature[, feature])
# numbers, so memory stays bounded whatever the number of samples.
_BLOCK_ELEMENTS = 1 << 24
# Below this many (row, component, feature) numbers a call runs on one thread: the fork/join of
# a parallel region costs more than it saves (and far more on a busy machine), as scikit-learn's
# KMeans limits BLAS threads in its loop.
_PARALLEL_MIN_WORK = 1 << 20
# ``fit`` keeps the centred data and its features across EM iterations up to this many numbers.
_CACHE_ELEMENTS = 1 << 27


class ConvergenceWarning(UserWarning):
    """EM or gradient training stopped at ``max_iter`` before the change fell below ``tol``."""


class NotFittedError(ValueError, AttributeError):
    """The model has no parameters yet: call ``fit`` (or load a state_dict) first."""


class DegenerateCovarianceWarning(UserWarning):
    """A component's covariance collapsed (onto a point or a subspace) and is held by reg_covar."""


# --------------------------------------------------------------------------- linear algebra
def _eye(d: int, like: Tensor) -> Tensor:
    return torch.eye(d, dtype=like.dtype, device=like.device)


def _prec_chol_from_cov_chol(L: Tensor) -> Tensor:
    """U = L⁻ᵀ (upper triangular), so that Σ⁻¹ = U Uᵀ when Σ = L Lᵀ.  (..., D, D)"""
    eye = _eye(L.shape[-1], L).expand_as(L)
    return torch.linalg.solve_triangular(L, eye, upper=False).mT


def _cov_chol_from_prec_chol(U: Tensor) -> Tensor:
    """L = U⁻ᵀ (lower triangular) with Σ = L Lᵀ.  (..., D, D)"""
    eye = _eye(U.shape[-1], U).expand_as(U)
    return torch.linalg.solve_triangular(U, eye, upper=True).mT


def _prec_chol_from_precisions(P: Tensor) -> Tensor:
    """The upper-triangular U with P = U Uᵀ (scikit-learn's convention): flip, Cholesky, flip."""
    flipped = P.flip(-1, -2)
    return torch.linalg.cholesky(flipped).flip(-1, -2)


# --------------------------------------------------------------------------- threads
@contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """Run on one intra-op thread when ``work`` is small; restore the setting afterwards."""
    n = torch.get_num_threads()
    if work >= _PARALLEL_MIN_WORK or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _sized(method: Callable) -> Callable:
    """Decorate a method taking X first: size its threads by n_samples·n_features·K."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        shape = X.shape if hasattr(X, "shape") else np.shape(X)
        work = int(np.prod(shape)) * max(self.n_components, shape[-1] if len(shape) else 1)
        with _threads_for(work):
            return method(self, X, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- log densities
def _mahalanobis(X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str) -> Tensor:
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


def _log_det_prec_chol(prec_chol: Tensor, covariance_type: str, d: int) -> Tensor:
    """log|U_k| = -½ log|Σ_k|.  (K,) or () for tied"""
    if covariance_type == "full":
        return prec_chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    if covariance_type == "tied":
        return prec_chol.diagonal().log().sum()
    if covariance_type == "diag":
        return prec_chol.log().sum(-1)
    return d * prec_chol.log()


def _log_gaussian_complete(
    X: Tensor, means: Tensor, prec_chol: Tensor, covariance_type: str
) -> Tensor:
    """log N(x_i; μ_k, Σ_k) for fully observed rows.  X (N, D) -> (N, K)"""
    d = X.shape[1]
    maha = _mahalanobis(X, means, prec_chol, covariance_type)
    return -0.5 * (d * _LOG_2PI + maha) + _log_det_prec_chol(prec_chol, covariance_type, d)


def _masked_full(
    X: Tensor,
    obs: Tensor,
    patterns: Tensor,
    inverse: Tensor,
    means: Tensor,
    cov: Tensor,
    with_moments: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Marginal log N(x_o; μ_o, Σ_oo) for rows with missing entries, full or tied covariances.

    For each missingness pattern o (O = diag(o)) the padded matrix Σ̃ = OΣO + (I - O) has
    log|Σ̃| = log|Σ_oo| and Λ = O Σ̃⁻¹ O is Σ_oo⁻¹ padded with zeros, so with d = O(x - μ):
        log p(x_o) = -½(|o| log 2π + log|Σ_oo| + dᵀΛd).
    With ``with_moments`` it also returns E[x | x_o] = μ + ΣΛd and, per pattern,
    Cov[x | x_o] = Σ - ΣΛΣ (zero on the observed block).

    X (M, D) with NaN, obs (M, D) bool, its distinct rows ``patterns`` (P, D) and each row's
    pattern ``inverse`` (M,), means (K, D), cov (Kc, D, D) with Kc in {1, K}.
    Returns log_prob (M, K), x_hat (M, K, D), cond_cov (P, Kc, D, D), pattern index (M,).
    """
    o = patterns.to(cov.dtype)  # (P, D)
    oo = o[:, None, :, None] * o[:, None, None, :]  # (P, 1, D, D)
    padded = cov[None] * oo + torch.diag_embed(1.0 - o)[:, None]  # (P, Kc, D, D)
    chol = torch.linalg.cholesky(padded)  # (P, Kc, D, D)
    log_det = 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (P, Kc)
    lam = torch.cholesky_inverse(chol) * oo  # (P, Kc, D, D)
    xf = torch.nan_to_num(X, nan=0.0)  # (M, D)
    diff = (xf[:, None, :] - means) * obs[:, None, :]  # (M, K, D)
    v = (lam[inverse] @ diff[..., None]).squeeze(-1)  # (M, K, D)
    maha = (diff * v).sum(-1)  # (M, K)
    n_obs = obs.sum(-1, keepdim=True).to(cov.dtype)  # (M, 1)
    log_prob = -0.5 * (n_obs * _LOG_2PI + log_det[inverse] + maha)  # (M, K)
    if not with_moments:
        return log_prob, None, None, None
    x_hat = means + (cov @ v[..., None]).squeeze(-1)  # (M, K, D)
    cond_cov = cov - cov @ lam @ cov  # (P, Kc, D, D)
    cond_cov = 0.5 * (cond_cov + cond_cov.mT)
    return log_prob, x_hat, cond_cov, inverse


def _masked_diag(
    X: Tensor, obs: Tensor, means: Tensor, variances: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Marginal log density for diagonal covariances: a sum over observed coordinates only.

    X (M, D) with NaN, obs (M, D), means (K, D), variances (K, D).
    Returns log_prob (M, K), x_hat = E[x | x_o] (M, K, D), residual variance (M, K, D).
    """
    of = obs.to(means.dtype)[:, None, :]  # (M, 1, D)
    xf = torch.nan_to_num(X, nan=0.0)[:, None, :]  # (M, 1, D)
    diff = (xf - means) * of  # (M, K, D)
    terms = diff.square() / variances + of * (variances.log() + _LOG_2PI)  # (M, K, D)
    log_prob = -0.5 * terms.sum(-1)  # (M, K)
    x_hat = torch.where(obs[:, None, :], xf, means)  # (M, K, D)
    resid = (1.0 - of) * variances  # (M, K, D)
    return log_prob, x_hat, resid


def _row_blocks(n: int, per_row: int, budget: int = _BLOCK_ELEMENTS) -> list[tuple[int, int]]:
    """[start, stop) ranges of rows, each holding at most ``budget`` numbers of ``per_row``."""
    step = max(1, budget // max(1, per_row))
    return [(s, min(n, s + step)) for s in range(0, n, step)]


def _softmax_stats(wlp: Tensor, wb: Tensor) -> tuple[Tensor, Tensor]:
    """log p(x) = logsumexp_k wlp and weighted responsibilities w·softmax_k wlp, one exp.

    wlp (B, K) (overwritten), wb (B,) -> (B,), (B, K)
    """
    m = wlp.amax(1, keepdim=True)  # (B, 1)
    e = wlp.sub_(m).exp_()  # (B, K)
    total = e.sum(1, keepdim=True)  # (B, 1)
    norm = (m + total.log()).squeeze(1)  # (B,)
    return norm, e.mul_(wb[:, None] / total)


# --------------------------------------------------------------------------- k-means
def _sq_dist(A: Tensor, B: Tensor) -> Tensor:
    """‖a_i - b_j‖².  A (N, D), B (M, D) -> (N, M)"""
    d2 = A.square().sum(1)[:, None] + B.square().sum(1)[None, :] - 2.0 * (A @ B.T)
    return d2.clamp_min_(0.0)


def _kmeans_plusplus(X: Tensor, k: int, w: Tensor, gen: torch.Generator) -> Tensor:
    """Greedy k-means++ seeding (2 + ⌊log k⌋ trials per centre). Returns row indices (k,)."""
    n = X.shape[0]
    n_trials = 2 + int(math.log(k))
    idx = torch.empty(k, dtype=torch.long, device=X.device)
    idx[0] = torch.multinomial(w / w.sum(), 1, generator=gen)[0]
    closest = _sq_dist(X[idx[:1]], X)[0]  # (N,)
    potential = (w * closest).sum()
    for c in range(1, k):  # sequential by construction; one vectorized step per centre
        u = torch.rand(n_trials, generator=gen, dtype=X.dtype, device=X.device) * potential
        cand = torch.searchsorted(torch.cumsum(w * closest, 0), u).clamp_max_(n - 1)  # (T,)
        new_closest = torch.minimum(closest, _sq_dist(X[cand], X))  # (T, N)
        pots = (w * new_closest).sum(1)  # (T,)
        best = int(torch.argmin(pots))
        idx[c] = cand[best]
        closest, potential = new_closest[best], pots[best]
    return idx


def _kmeans(
    X: Tensor, k: int, w: Tensor, gen: torch.Generator, max_iter: int = 300, tol: float = 1e-4
) -> Tensor:
    """Weighted Lloyd iterations from a k-means++ seeding. Returns labels (N,)."""
    centers = X[_kmeans_plusplus(X, k, w, gen)]  # (k, D)
    scale = tol * float((w[:, None] * (X - X.mean(0)).square()).sum(0).mean() / w.sum())
    labels = torch.argmin(_sq_dist(X, centers), 1)
    for _ in range(max_iter):
        onehot = F.one_hot(labels, k).to(X.dtype) * w[:, None]  # (N, k)
        mass = onehot.sum(0)  # (k,)
        new = (onehot.T @ X) / mass.clamp_min(1e-300)[:, None]  # (k, D)
        new = torch.where(mass[:, None] > 0, new, centers)  # empty cluster keeps its centre
        shift = float((new - centers).square().sum())
        centers = new
        labels = torch.argmin(_sq_dist(X, centers), 1)
        if shift <= scale:
            break
    return labels


@dataclass
class _Block:
    """Fully observed rows ``idx`` centred (B, D), with their quadratic features."""

    idx: slice | Tensor
    xc: Tensor
    feat: Tensor | None
    r2: float


@dataclass
class _MissingBlock:
    """Rows ``idx`` with NaN: values (B, D), observed mask (B, D), distinct masks (P, D) and
    each row's mask index (B,) (the last two for full and tied covariances only)."""

    idx: Tensor
    x: Tensor
    obs: Tensor
    patterns: Tensor | None
    inverse: Tensor | None


@dataclass
class _Blocks:
    """A data set prepared for the E-step: shift, complete-row blocks, rows with NaN."""

    shift: Tensor
    complete: list[_Block]
    missing: list[_MissingBlock]


# --------------------------------------------------------------------------- the model
class GaussianMixture(nn.Module):
    """Gaussian mixture p(x) = Σ_k w_k N(x; μ_k, Σ_k): the network z -> x with z categorical.

    The constructor mirrors scikit-learn's ``GaussianMixture``; ``device`` and ``dtype`` (float64
    by default) place the learned state, which lives in registered buffers ``weights_`` (K,),
    ``means_`` (K, D), ``covariances_`` and ``precisions_cholesky_`` (shape by covariance_type:
    full (K, D, D), tied (D, D), diag (K, D), spherical (K,)), so ``.to(device)`` and
    ``state_dict`` carry them. ``missing="marginalize"`` (default) accepts NaN entries in X and
    integrates them out; ``missing="raise"`` rejects them.

    >>> X = torch.cat([torch.randn(200, 2) - 3, torch.randn(300, 2) + 3]).double()
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> gm.score_samples(X).shape, sorted(gm.weights_.round(decimals=1).tolist())
    (torch.Size([500]), [0.4, 0.6])
    """

    _STATE = ("weights_", "means_", "covariances_", "precisions_cholesky_")

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: int | torch.Generator | None = None,
        warm_start: bool = False,
        missing: str = "marginalize",
        verbose: int = 0,
        verbose_interval: int = 10,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        _check_int("n_components", n_components, 1)
        _check_int("max_iter", max_iter, 0)
        _check_int("n_init", n_init, 1)
        _check_int("verbose_interval", verbose_interval, 1)
        _check_real("tol", tol, 0.0)
        _check_real("reg_covar", reg_covar, 0.0)
        _check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
        _check_choice("init_params", init_params, INIT_PARAMS)
        _check_choice("missing", missing, MISSING)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        if random_state is not None and (
            isinstance(random_state, bool)
            or not isinstance(random_state, int | np.integer | torch.Generator)
        ):
            raise TypeError(
                "random_state must be None, an int seed or a torch.Generator, "
                f"got {type(random_state).__name__}"
            )
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = float(tol)
        self.reg_covar = float(reg_covar)
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = bool(warm_start)
        self.missing = missing
        self.verbose = int(verbose)
        self.verbose_interval = verbose_interval
        device = torch.device(device) if device is not None else torch.device("cpu")
        for name in self._STATE:
            self.register_buffer(name, torch.empty(0, dtype=dtype, device=device))
        self._summaries: dict[str, Tensor] | None = None

    # ------------------------------------------------------------------ structure
    @property
    def network(self) -> DAG:
        """The Bayesian network of the mixture (figure 2 of the seed): z -> x."""
        return DAG(nodes=("z", "x"), edges=[("z", "x")])

    @property
    def device(self) -> torch.device:
        """Where the state lives (follows ``.to(device)``)."""
        return self.means_.device

    @property
    def dtype(self) -> torch.dtype:
        """The state's floating dtype (follows ``.to(dtype)``); inputs are cast to it."""
        return self.means_.dtype

    @property
    def n_features_in_(self) -> int:
        self._check_fitted()
        return int(self.means_.shape[1])

    @property
    def precisions_(self) -> Tensor:
        """Σ_k⁻¹ = U_k U_kᵀ, shaped like ``covariances_``."""
        self._check_fitted()
        u = self.precisions_cholesky_
        if self.covariance_type in ("full", "tied"):
            return u @ u.mT
        return u.square()

    def _is_fitted(self) -> bool:
        return self.means_.numel() > 0

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                "this GaussianMixture is not fitted yet: call fit(X) (or load a state_dict)"
            )

    def extra_repr(self) -> str:
        return (
            f"n_components={self.n_components}, covariance_type={self.covariance_type!r}, "
            f"dtype={self.dtype}"
        )

    # ------------------------------------------------------------------ input checks
    def _as_tensor(self, X: Any, reset: bool = False) -> Tensor:
        """X as a (N, D) tensor of the model's dtype and device, with the checks that name X."""
        if hasattr(X, "to_numpy") and not isinstance(X, Tensor):  # pandas
            X = X.to_numpy()
        if isinstance(X, Tensor):
            if X.is_complex() or X.dtype == torch.bool:
                raise TypeError(f"X must hold real numbers, got a tensor of {X.dtype}")
            X = X.detach().to(device=self.device, dtype=self.dtype)
        else:
            try:
                arr = np.asarray(X, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"X must be an array of real numbers: {err}") from None
            if not arr.flags.writeable:  # e.g. a pandas view; torch wants writable memory
                arr = arr.copy()
            X = torch.as_tensor(arr, dtype=self.dtype, device=self.device)
        if X.ndim != 2:
            hint = " (use X.reshape(-1, 1) for a single feature)" if X.ndim == 1 else ""
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}{hint}"
            )
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"X must have at least one sample and one feature, got {tuple(X.shape)}"
            )
        if not reset:
            self._check_fitted()
            if X.shape[1] != self.means_.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} features, but this GaussianMixture was fitted with "
                    f"{self.means_.shape[1]} features"
                )
        finite = torch.isfinite(X)
        if not bool(finite.all()):  # one pass for the common, clean case
            inf = torch.isinf(X)
            if inf.any():
                r, c = torch.nonzero(inf)[0].tolist()
                raise ValueError(f"X contains an infinite value (row {r}, column {c})")
            nan = ~finite
            if self.missing == "raise":
                r, c = torch.nonzero(nan)[0].tolist()
                raise ValueError(
                    f"X contains NaN (first at row {r}, column {c}, {int(nan.sum())} in all) and "
                    "missing='raise'; use missing='marginalize' to integrate missing features out"
                )
            if reset:
                empty = torch.nonzero(nan.all(0)).flatten().tolist()
                if empty:
                    raise ValueError(
                        f"X column(s) {empty} have no observed value (all NaN); drop them"
                    )
        return X

    def _as_weights(self, sample_weight: Any, n: int) -> Tensor:
        if sample_weight is None:
            return torch.ones(n, dtype=self.dtype, device=self.device)
        w = torch.as_tensor(
            np.asarray(
                sample_weight.detach().cpu()
                if isinstance(sample_weight, Tensor)
                else sample_weight,
                dtype=np.float64,
            ),
            dtype=self.dtype,
            device=self.device,
        )
        if w.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {tuple(w.shape)}")
        if not torch.isfinite(w).all():
            raise ValueError("sample_weight must be finite (no NaN or inf)")
        if (w < 0).any():
            raise ValueError(f"sample_weight must be >= 0, got min {float(w.min()):.4g}")
        if float(w.sum()) <= 0:
            raise ValueError("sample_weight must have a positive sum")
        return w

    def _checked_inits(self, d: int) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        k, ct = self.n_components, self.covariance_type
        weights = means = prec = None
        if self.weights_init is not None:
            weights = self._init_array("weights_init", self.weights_init, (k,))
            if (weights < 0).any() or (weights > 1).any():
                raise ValueError(
                    "weights_init must lie in [0, 1], got min "
                    f"{float(weights.min()):.5g}, max {float(weights.max()):.5g}"
                )
            if abs(float(weights.sum()) - 1.0) > 1e-6:
                raise ValueError(f"weights_init must sum to 1, got {float(weights.sum()):.8g}")
        if self.means_init is not None:
            means = self._init_array("means_init", self.means_init, (k, d))
        if self.precisions_init is not None:
            shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
            prec = self._init_array("precisions_init", self.precisions_init, shape)
            if ct in ("full", "tied"):
                sym = torch.allclose(prec, prec.mT, rtol=1e-8, atol=1e-10)
                _, info = torch.linalg.cholesky_ex(prec)
                if not sym or bool((info != 0).any()):
                    raise ValueError(f"precisions_init ({ct}) must be symmetric positive definite")
            elif (prec <= 0).any():
                raise ValueError(f"precisions_init ({ct}) must be positive")
        return weights, means, prec

    def _init_array(self, name: str, value: Any, shape: tuple[int, ...]) -> Tensor:
        if isinstance(value, Tensor):
            value = value.detach().cpu().numpy()
        t = torch.as_tensor(
            np.asarray(value, dtype=np.float64), dtype=self.dtype, device=self.device
        )
        if tuple(t.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} for covariance_type={self.covariance_type!r}, "
                f"got {tuple(t.shape)}"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        return t

    def _generator(self) -> torch.Generator:
        if isinstance(self.random_state, torch.Generator):
            return self.random_state
        gen = torch.Generator(device=self.device)
        if self.random_state is None:
            gen.seed()
        else:
            gen.manual_seed(int(self.random_state))
        return gen

    # ------------------------------------------------------------------ densities
    def _component_log_prob(
        self,
        X: Tensor,
        means: Tensor | None = None,
        covariances: Tensor | None = None,
        prec_chol: Tensor | None = None,
    ) -> Tensor:
        """log N(x_i; μ_k, Σ_k), marginal over NaN coordinates.  X (N, D) -> (N, K)"""
        means = self.means_ if means is None else means
        covariances = self.covariances_ if covariances is None else covariances
        prec_chol = self.precisions_cholesky_ if prec_chol is None else prec_chol
        n, d = X.shape
        k = means.shape[0]
        ct = self.covariance_type
        nan = torch.isnan(X)
        rows_missing = nan.any(1)
        if not bool(rows_missing.any()):
            per_row = k * d
            blocks = _row_blocks(n, per_row)
            if len(blocks) == 1:
                return _log_gaussian_complete(X, means, prec_chol, ct)
            return torch.cat(
                [_log_gaussian_complete(X[a:b], means, prec_chol, ct) for a, b in blocks]
            )
        full_rows = torch.nonzero(~rows_missing).flatten()
        miss_rows = torch.nonzero(rows_missing).flatten()
        parts = []
        for a, b in _row_blocks(len(full_rows), k * d):
            idx = full_rows[a:b]
            parts.append((idx, _log_gaussian_complete(X[idx], means, prec_chol, ct)))
        for idx, lp in self._missing_blocks(self._split_missing(X, miss_rows), means, covariances):
            parts.append((idx, lp[0]))
        # assembled out of place so that autograd flows through every part
        idx_all = torch.cat([p[0] for p in parts])
        val_all = torch.cat([p[1] for p in parts])
        return X.new_zeros((n, k)).index_put((idx_all,), val_all)

    def _split_missing(self, X: Tensor, rows: Tensor, offset: int = 0) -> list[_MissingBlock]:
        """Blocks of the rows with NaN, with their missingness patterns (indices + offset)."""
        d = X.shape[1]
        k = self.n_components
        full = self.covariance_type in ("full", "tied")
        out = []
        for a, b in _row_blocks(len(rows), k * d * d if full else k * d):
            idx = rows[a:b]
            xb = X[idx]
            obs = ~torch.isnan(xb)
            pat = inv = None
            if full:
                pat, inv = torch.unique(obs, dim=0, return_inverse=True)  # (P, D), (B,)
            out.append(_MissingBlock(idx + offset, xb, obs, pat, inv))
        return out

    def _missing_blocks(
        self,
        blocks: list[_MissingBlock],
        means: Tensor,
        covariances: Tensor,
        with_moments: bool = False,
    ):
        """Yield (row index, (log_prob, x_hat, cond_cov/resid, pattern index)) for NaN rows."""
        k, d = means.shape
        ct = self.covariance_type
        if ct in ("full", "tied"):
            cov = covariances if ct == "full" else covariances[None]  # (Kc, D, D)
        else:
            var = covariances if ct == "diag" else covariances[:, None].expand(k, d)  # (K, D)
        for blk in blocks:
            if ct in ("full", "tied"):
                yield (
                    blk.idx,
                    _masked_full(
                        blk.x, blk.obs, blk.patterns, blk.inverse, means, cov, with_moments
                    ),
                )
            else:
                yield blk.idx, (*_masked_diag(blk.x, blk.obs, means, var), None)

    def _weighted_log_prob(self, X: Tensor) -> Tensor:
        """log w_k + log N(x_i; μ_k, Σ_k) from the fitted state, NaN marginalized.  (N, K)

        Uses the E-step's blocked GEMM form (about the mixture's mean, for accuracy).
        """
        n = X.shape[0]
        shift = self.weights_ @ self.means_  # (D,)
        plan = self._plan(shift)
        out = X.new_empty((n, self.n_components))
        log_w = self.weights_.log()
        for blocks in self._iter_blocks(X, shift):
            for blk in blocks.complete:
                out[blk.idx] = self._block_log_prob(blk, plan)
            for idx, res in self._missing_blocks(blocks.missing, self.means_, self.covariances_):
                out[idx] = res[0] + log_w
        return out

    @_sized
    def log_prob(self, X: Any) -> Tensor:
        """log p(x_i) = logsumexp_k (log w_k + log N(x_i; μ_k, Σ_k)) per row; NaN marginalized.

        Returns a (N,) tensor on the model's device.
        """
        self._check_fitted()
        X = self._as_tensor(X)
        return torch.logsumexp(self._weighted_log_prob(X), dim=1)

    def forward(self, X: Any) -> Tensor:
        """Same as :meth:`log_prob`."""
        return self.log_prob(X)

    def score_samples(self, X: Any) -> Tensor:
        """Per-sample log-likelihood (scikit-learn's name for :meth:`log_prob`)."""
        return self.log_prob(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean per-sample log-likelihood."""
        return float(self.log_prob(X).mean())

    @_sized
    def predict_proba(self, X: Any) -> Tensor:
        """Responsibilities p(z=k | x_i), computed in log-space.  (N, K)"""
        self._check_fitted()
        wlp = self._weighted_log_prob(self._as_tensor(X))
        return torch.exp(wlp - torch.logsumexp(wlp, dim=1, keepdim=True))

    @_sized
    def predict(self, X: Any) -> Tensor:
        """argmax_k p(z=k | x_i).  (N,) long"""
        self._check_fitted()
        return torch.argmax(self._weighted_log_prob(self._as_tensor(X)), dim=1)

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> Tensor:
        """Fit by EM, then :meth:`predict` on X."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        cov = {
            "full": k * d * (d + 1) / 2,
            "tied": d * (d + 1) / 2,
            "diag": k * d,
            "spherical": k,
        }[self.covariance_type]
        return int(cov + k * d + k - 1)

    @_sized
    def bic(self, X: Any) -> float:
        """Bayesian information criterion: -2 log L + p log N (lower is better)."""
        X = self._as_tensor(X)
        n = X.shape[0]
        return -2.0 * self.score(X) * n + self._n_parameters() * math.log(n)

    @_sized
    def aic(self, X: Any) -> float:
        """Akaike information criterion: -2 log L + 2p (lower is better)."""
        X = self._as_tensor(X)
        return -2.0 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # ------------------------------------------------------------------ sampling
    def _cov_cholesky(self) -> Tensor:
        """Cholesky factors L_k of Σ_k as (K, D, D) (tied broadcast to K)."""
        k, d = self.means_.shape
        ct = self.covariance_type
        if ct == "full":
            return _cov_chol_from_prec_chol(self.precisions_cholesky_)
        if ct == "tied":
            return _cov_chol_from_prec_chol(self.precisions_cholesky_).expand(k, d, d)
        sd = self.precisions_cholesky_.reciprocal()  # (K, D) or (K,)
        return torch.diag_embed(sd[:, None].expand(k, d) if ct == "spherical" else sd)

    def sample(
        self, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Ancestral sampling: z ~ Categorical(w), then x | z ~ N(μ_z, Σ_z).

        Returns (X (n, D), z (n,)); ``generator`` defaults to one seeded by ``random_state``.
        """
        self._check_fitted()
        _check_int("n_samples", n_samples, 1)
        gen = generator if generator is not None else self._generator()
        k, d = self.means_.shape
        z = torch.multinomial(self.weights_, n_samples, replacement=True, generator=gen)  # (n,)
        eps = torch.randn(n_samples, d, generator=gen, dtype=self.dtype, device=self.device)
        ct = self.covariance_type
        if ct == "diag":
            x = self.means_[z] + eps / self.precisions_cholesky_[z]  # (n, D)
        elif ct == "spherical":
            x = self.means_[z] + eps / self.precisions_cholesky_[z, None]  # (n, D)
        elif ct == "tied":
            x = self.means_[z] + eps @ _cov_chol_from_prec_chol(self.precisions_cholesky_).T
        else:
            L = _cov_chol_from_prec_chol(self.precisions_cholesky_)  # (K, D, D)
            parts = [
                (L[z[a:b]] @ eps[a:b, :, None]).squeeze(-1)  # (B, D)
                for a, b in _row_blocks(n_samples, d * d)
            ]
            x = self.means_[z] + torch.cat(parts)
        return x, z

    def as_distribution(self) -> MixtureSameFamily:
        """The fitted mixture as ``torch.distributions.MixtureSameFamily`` of MultivariateNormal."""
        self._check_fitted()
        return MixtureSameFamily(
            Categorical(probs=self.weights_),
            MultivariateNormal(self.means_, scale_tril=self._cov_cholesky()),
        )

    # ------------------------------------------------------------------ EM: statistics
    @_sized
    def summarize(self, X: Any, sample_weight: Any = None) -> Tensor:
        """E-step: add the weighted sufficient statistics of X to the running summary.

        Accumulates N_k = Σ r_ik w_i, S1_k = Σ r_ik w_i E[x_i], S2_k = Σ r_ik w_i E[x_i x_iᵀ]
        (E[·] over missing entries given the observed ones, about a fixed shift for accuracy)
        and returns the per-sample log-likelihood log p(x_i) under the current parameters.
        Call :meth:`from_summaries` to apply the M-step.
        """
        self._check_fitted()
        X = self._as_tensor(X)
        w = self._as_weights(sample_weight, X.shape[0])
        return self._summarize(X, w)

    def _summarize(
        self,
        X: Tensor,
        w: Tensor,
        resp: Tensor | None = None,
        cache: list[_Blocks] | None = None,
    ) -> Tensor | None:
        """Accumulate statistics; with ``resp`` given (complete X only) skip the E-step.

        ``cache`` holds X's centred blocks and features, built once per ``fit``.
        """
        n, d = X.shape
        k = self.n_components
        ct = self.covariance_type
        if cache is not None:
            shift = cache[0].shift
        elif self._summaries is not None:  # pending minibatch statistics fix the shift
            shift = self._summaries["shift"]
        elif self._is_fitted():
            shift = self.weights_ @ self.means_  # (D,)
        else:
            shift = torch.nan_to_num((w[:, None] * X).nansum(0) / w.sum())
        if cache is None:
            cache = self._iter_blocks(X, shift, allow_missing=resp is None)
        if self._summaries is None:
            second = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k, d)}[ct]
            self._summaries = {
                "shift": shift,
                "nk": X.new_zeros(k),
                "sx": X.new_zeros(k, d),
                "sxx": X.new_zeros(second),
            }
        elif self._summaries["shift"] is not shift:
            raise RuntimeError("pending summaries: call from_summaries() before fit")
        ll = X.new_empty(n) if resp is None else None
        plan = self._plan(shift) if resp is None else None
        for blocks in cache:
            self._accumulate(blocks, X, w, resp, plan, ll)
        return ll

    def _accumulate(
        self,
        blocks: _Blocks,
        X: Tensor,
        w: Tensor,
        resp: Tensor | None,
        plan: dict[str, Any] | None,
        ll: Tensor | None,
    ) -> None:
        """E-step (unless ``resp`` is given) and statistics of one set of blocks."""
        d = X.shape[1]
        k = self.n_components
        ct = self.covariance_type
        s = self._summaries
        shift = s["shift"]

        # fully observed rows, in blocks
        f = self._n_quad(d)
        iu = self._triu(d) if ct == "full" and f else None
        for blk in blocks.complete:
            idx, xc, feat = blk.idx, blk.xc, blk.feat
            wb = w[idx]
            if plan is not None:
                wlp = self._block_log_prob(blk, plan)  # (B, K)
                ll[idx], r = _softmax_stats(wlp, wb)  # (B,), (B, K)
            else:
                r = resp[idx] * wb[:, None]  # (B, K)
            s["nk"] += r.sum(0)
            if feat is not None:
                stats = r.T @ feat  # (K, F + D): [Σ r q(x) | Σ r x]
                s["sx"] += stats[:, f:]
                if iu is not None:  # upper triangle -> symmetric (K, D, D)
                    sxx = X.new_empty(k, d, d)
                    sxx[:, iu[0], iu[1]] = stats[:, :f]
                    sxx[:, iu[1], iu[0]] = stats[:, :f]
                    s["sxx"] += sxx
                else:
                    s["sxx"] += stats[:, :f]
            else:
                s["sx"] += r.T @ xc
                if ct == "full":
                    rx = (r[:, :, None] * xc[:, None, :]).reshape(len(xc), k * d)  # (B, K*D)
                    s["sxx"] += (xc.T @ rx).view(d, k, d).transpose(0, 1)  # (K, D, D)
                else:  # tied
                    s["sxx"] += (xc * r.sum(1, keepdim=True)).T @ xc  # Σ_k r_ik = w_i

        # rows with missing entries: exact conditional moments
        if blocks.missing:
            for idx, (lp, x_hat, extra, pat) in self._missing_blocks(
                blocks.missing, self.means_, self.covariances_, True
            ):
                ll[idx], r = _softmax_stats(lp + self.weights_.log(), w[idx])  # (B,), (B, K)
                xc = x_hat - shift  # (B, K, D)
                s["nk"] += r.sum(0)
                s["sx"] += torch.einsum("bk,bkd->kd", r, xc)
                if ct in ("full", "tied"):
                    rx = (r[:, :, None] * xc).permute(1, 2, 0)  # (K, D, B)
                    outer = rx @ xc.transpose(0, 1)  # (K, D, D)
                    rp = X.new_zeros(int(pat.max()) + 1, k).index_add_(0, pat, r)  # (P, K)
                    if ct == "full":
                        cond = torch.einsum("pk,pkde->kde", rp, extra)  # (K, D, D)
                        s["sxx"] += outer + cond
                    else:
                        cond = torch.einsum("p,pde->de", rp.sum(1), extra[:, 0])  # (D, D)
                        s["sxx"] += outer.sum(0) + cond
                else:
                    s["sxx"] += torch.einsum("bk,bkd->kd", r, xc.square() + extra)

    # ------------------------------------------------------------------ EM: fast E-step
    def _triu(self, d: int) -> Tensor:
        """Row and column indices of the upper triangle of a D×D matrix.  (2, T)"""
        return torch.triu_indices(d, d, device=self.device)

    def _quadratic(self, d: int) -> bool:
        """Full covariances: quadratic features (T = D(D+1)/2 columns) pay when T <= 2·K·D."""
        return self.covariance_type == "full" and d + 1 <= 4 * self.n_components

    def _n_quad(self, d: int) -> int:
        """Columns of second-order features: T (full), D (diag, spherical) or 0."""
        ct = self.covariance_type
        if ct == "full":
            return d * (d + 1) // 2 if self._quadratic(d) else 0
        return d if ct in ("diag", "spherical") else 0

    def _iter_blocks(self, X: Tensor, shift: Tensor, allow_missing: bool = True):
        """Yield :meth:`_blocks` of consecutive row ranges, so features never exceed the
        block budget in memory at once."""
        d = X.shape[1]
        per_row = max(self.n_components * d, self._n_quad(d) + d)
        for a, b in _row_blocks(X.shape[0], per_row):
            yield self._blocks(X[a:b], shift, allow_missing, offset=a)

    def _blocks(
        self, X: Tensor, shift: Tensor, allow_missing: bool = True, offset: int = 0
    ) -> _Blocks:
        """Split X into blocks of centred, fully observed rows (with features) and NaN rows.

        Features are [q(x) | x] with x centred and q(x) the upper triangle of x xᵀ (full, T
        columns) or x² (diag, spherical), so one GEMM gives the E-step's Mahalanobis terms and
        one GEMM the M-step's statistics. Tied (and full with D + 1 > 4K) keep x alone.
        """
        n, d = X.shape
        k = self.n_components
        nan_rows = torch.isnan(X).any(1) if allow_missing else None
        missing: list[_MissingBlock] = []
        rows: Tensor | None = None
        if nan_rows is not None and bool(nan_rows.any()):
            rows = torch.nonzero(~nan_rows).flatten()
            missing = self._split_missing(X, torch.nonzero(nan_rows).flatten(), offset)
        m = n if rows is None else len(rows)
        f = self._n_quad(d)
        iu = self._triu(d) if self.covariance_type == "full" and f else None
        out = []
        for a, b in _row_blocks(m, max(k * d, f + d)):
            idx = slice(a, b) if rows is None else rows[a:b]
            if f:
                feat = X.new_empty((b - a, f + d))  # (B, F + D)
                xc = feat[:, f:]  # (B, D) view
                torch.sub(X[idx], shift, out=xc)
                if iu is not None:  # row i of the upper triangle: x_i · x_{i:}, (B, T)
                    start = 0
                    for i in range(d):  # over features, not rows
                        torch.mul(xc[:, i : i + 1], xc[:, i:], out=feat[:, start : start + d - i])
                        start += d - i
                else:
                    torch.square(xc, out=feat[:, :f])  # (B, D)
            else:
                feat = None
                xc = X[idx] - shift  # (B, D)
            r2 = float(xc.square().sum(1).max()) if len(xc) else 0.0
            where = slice(a + offset, b + offset) if rows is None else idx + offset
            out.append(_Block(where, xc, feat, r2))
        return _Blocks(shift, out, missing)

    def _plan(self, shift: Tensor) -> dict[str, Any]:
        """Parameter-side terms of log w_k + log N(x; μ_k, Σ_k) about ``shift``:

        with x, μ centred, (x-μ)ᵀP(x-μ) = q(x)·p_k - 2 xᵀ(Pμ_k) + μ_kᵀPμ_k, so for the features
        [q(x) | x] the weighted log density is [q(x) | x] @ W_kᵀ + c_k with
        W_k = -½[p_k | -2Pμ_k] and c_k = log w_k + log|U_k| - ½(D log 2π + μ_kᵀPμ_k).
        """
        ct = self.covariance_type
        u = self.precisions_cholesky_
        mc = self.means_ - shift  # (K, D)
        k, d = mc.shape
        log_det = _log_det_prec_chol(u, ct, d)  # (K,) or ()
        plan: dict[str, Any] = {"mc": mc, "u": u, "m2": float(mc.square().sum(1).max())}
        if ct == "full":
            P = u @ u.mT  # (K, D, D)
            b = (P @ mc[:, :, None]).squeeze(-1)  # (K, D)
            plan["scale"] = float(u.square().sum((-2, -1)).max())
            if self._quadratic(d):
                iu = self._triu(d)
                coef = torch.where(iu[0] == iu[1], 1.0, 2.0).to(u.dtype)  # (T,)
                p = P[:, iu[0], iu[1]] * coef  # (K, T)
        elif ct == "tied":
            mu = mc @ u  # (K, D)
            plan.update(mu=mu, scale=float(u.square().sum()))
            b = mu
        else:
            p = u.square() if ct == "diag" else u.square()[:, None].expand(k, d)  # (K, D)
            b = mc * p  # (K, D)
            plan["scale"] = float(p.max())
        c = (mc * b).sum(-1) if ct != "tied" else b.square().sum(-1)  # (K,)
        plan["const"] = self.weights_.log() + log_det - 0.5 * d * _LOG_2PI  # (K,)
        plan["c"] = plan["const"] - 0.5 * c  # (K,)
        if ct == "tied":
            plan["W"] = mu.T.contiguous()  # (D, K): y @ W = yᵀ(U ᵀ μ)
        elif ct != "full" or self._quadratic(d):
            plan["W"] = torch.cat([-0.5 * p, b], 1).T.contiguous()  # (F + D, K)
        return plan

    def _block_log_prob(self, blk: _Block, plan: dict[str, Any]) -> Tensor:
        """log w_k + log N(x; μ_k, Σ_k) for a block of fully observed rows.  (B, K)

        One GEMM on the features when the rounding error bound ε·D·max(‖x‖², ‖μ‖²)·‖U‖_F² of the
        expanded form is below 1e-7; else from the residuals (x - μ_k)ᵀU_k.
        """
        ct = self.covariance_type
        xc = blk.xc
        d = xc.shape[1]
        bound = torch.finfo(xc.dtype).eps * d * max(blk.r2, plan["m2"]) * plan["scale"]
        if bound < 1e-7 and "W" in plan:
            if ct == "tied":
                y = xc @ plan["u"]  # (B, D)
                out = torch.addmm(plan["c"], y, plan["W"])  # (B, K)
                return out.sub_(0.5 * y.square().sum(1, keepdim=True))
            return torch.addmm(plan["c"], blk.feat, plan["W"])  # (B, K)
        maha = _mahalanobis(xc, plan["mc"], plan["u"], ct)  # (B, K)
        return plan["const"] - 0.5 * maha

    def from_summaries(self) -> GaussianMixture:
        """M-step from the accumulated statistics, then clear them:

        w_k = N_k / Σ N_j,  μ_k = S1_k / N_k,  Σ_k = S2_k / N_k - μ_k μ_kᵀ + reg_covar·I
        (tied: pooled over k; diag: the diagonal; spherical: its mean over features).
        """
        with _threads_for(0):  # K·D² numbers: always small
            self._m_step(warn=True)
        return self

    def _m_step(self, warn: bool) -> None:
        s = self._summaries
        if s is None:
            raise RuntimeError("no statistics to update from: call summarize(X) first")
        self._summaries = None
        eps = 10 * torch.finfo(self.dtype).eps
        nk = s["nk"] + eps  # (K,)
        m = s["sx"] / nk[:, None]  # (K, D) shifted means
        d = m.shape[1]
        ct = self.covariance_type
        if ct == "full":
            cov = s["sxx"] / nk[:, None, None] - m[:, :, None] * m[:, None, :]  # (K, D, D)
            cov = 0.5 * (cov + cov.mT) + self.reg_covar * _eye(d, cov)
        elif ct == "tied":
            mm = torch.einsum("k,kd,ke->de", nk, m, m)  # (D, D)
            cov = (s["sxx"] - mm) / nk.sum()
            cov = 0.5 * (cov + cov.T) + self.reg_covar * _eye(d, cov)
        else:
            cov = s["sxx"] / nk[:, None] - m.square() + self.reg_covar  # (K, D)
            if ct == "spherical":
                cov = cov.mean(1)  # (K,)
        self._set_state(nk / nk.sum(), m + s["shift"], cov, warn=warn)

    def _set_state(self, weights: Tensor, means: Tensor, cov: Tensor, warn: bool = True) -> None:
        """Store parameters, computing the precision Cholesky factor (jittered if not PD)."""
        cov, prec_chol = self._precision_cholesky(cov)
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = cov
        self.precisions_cholesky_ = prec_chol
        if warn:
            self._warn_degenerate()

    def _precision_cholesky(self, cov: Tensor) -> tuple[Tensor, Tensor]:
        ct = self.covariance_type
        if ct in ("diag", "spherical"):
            bad = cov <= 0
            if bool(bad.any()):
                comps = torch.nonzero(bad.reshape(cov.shape[0], -1).any(1)).flatten().tolist()
                floor = max(self.reg_covar, 1e-12)
                warnings.warn(
                    f"component(s) {comps} collapsed: non-positive variance; clamped to "
                    f"reg_covar={floor:g}",
                    DegenerateCovarianceWarning,
                    stacklevel=4,
                )
                cov = cov.clamp_min(floor)
            return cov, cov.rsqrt()
        L, info = torch.linalg.cholesky_ex(cov)
        if bool((info != 0).any()):
            d = cov.shape[-1]
            scale = max(
                self.reg_covar, 1e-12 * float(cov.diagonal(dim1=-2, dim2=-1).abs().max()), 1e-300
            )
            comps = torch.nonzero(info.reshape(-1) != 0).flatten().tolist()
            for power in range(1, 13):
                jitter = scale * 10.0**power
                fixed = cov + jitter * _eye(d, cov)
                L, info = torch.linalg.cholesky_ex(fixed)
                if not bool((info != 0).any()):
                    warnings.warn(
                        f"covariance of component(s) {comps} is not positive definite (collapsed "
                        f"component); added {jitter:.3g} to its diagonal. Increase reg_covar "
                        f"(got {self.reg_covar:g}), decrease n_components or scale X.",
                        DegenerateCovarianceWarning,
                        stacklevel=4,
                    )
                    cov = fixed
                    break
            else:
                raise ValueError(
                    f"covariance of component(s) {comps} is not positive definite even with "
                    f"jitter; increase reg_covar (got {self.reg_covar:g}), decrease n_components "
                    "or scale X"
                )
        return cov, _prec_chol_from_cov_chol(L)

    def _degenerate_components(self) -> list[int]:
        """Components whose smallest Cholesky pivot² is within 10·reg_covar: collapsed."""
        thr = 10.0 * self.reg_covar
        ct = self.covariance_type
        u = self.precisions_cholesky_
        if ct in ("full", "tied"):
            piv = _cov_chol_from_prec_chol(u).diagonal(dim1=-2, dim2=-1).square()  # (K, D)/(D,)
            if ct == "tied":
                return list(range(self.n_components)) if float(piv.min()) <= thr else []
            return torch.nonzero(piv.min(-1).values <= thr).flatten().tolist()
        var = self.covariances_ if ct == "diag" else self.covariances_[:, None]
        return torch.nonzero(var.min(-1).values <= thr).flatten().tolist()

    def _warn_degenerate(self) -> None:
        comps = self._degenerate_components() if self.reg_covar > 0 else []
        if comps:
            warnings.warn(
                f"component(s) {comps} collapsed onto a point or subspace (a covariance "
                f"direction is within 10*reg_covar={10 * self.reg_covar:g}); reg_covar keeps "
                "them positive definite but the likelihood is degenerate. Decrease n_components, "
                "remove duplicate points, increase reg_covar, or rescale X if its variances are "
                "close to reg_covar.",
                DegenerateCovarianceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ EM: fitting
    def _initialize(self, X: Tensor, w: Tensor, gen: torch.Generator) -> None:
        """Initial parameters from init_params (responsibilities -> M-step) and *_init arrays."""
        n, d = X.shape
        k = self.n_components
        w_init, m_init, p_init = self._checked_inits(d)
        if w_init is None or m_init is None or p_init is None:
            xi = X
            if bool(torch.isnan(X).any()):  # impute column means for initialization only
                col = (torch.nan_to_num(X) * w[:, None]).sum(0) / (
                    (~torch.isnan(X)) * w[:, None]
                ).sum(0)
                xi = torch.where(torch.isnan(X), col, X)
            resp = X.new_zeros(n, k)
            if self.init_params == "kmeans":
                labels = _kmeans(xi, k, w, gen)
                resp[torch.arange(n, device=X.device), labels] = 1.0
            elif self.init_params == "k-means++":
                idx = _kmeans_plusplus(xi, k, w, gen)
                resp[idx, torch.arange(k, device=X.device)] = 1.0
            elif self.init_params == "random":
                resp = torch.rand(n, k, generator=gen, dtype=X.dtype, device=X.device)
                resp /= resp.sum(1, keepdim=True)
            elif self.init_params == "random_from_data":
                idx = torch.randperm(n, generator=gen, device=X.device)[:k]
                resp[idx, torch.arange(k, device=X.device)] = 1.0
            else:
                raise ValueError(
                    f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}"
                )
            self._summaries = None
            self._clear_state()
            # k-means++ / random_from_data give one point per component: Σ_k = reg_covar·I
            self._summarize(xi, w, resp=resp)
            self._m_step(warn=False)
        if w_init is not None:
            self.weights_ = w_init
        if m_init is not None:
            self.means_ = m_init
        if p_init is not None:
            ct = self.covariance_type
            if ct in ("full", "tied"):
                u = _prec_chol_from_precisions(p_init)
                cov = torch.cholesky_inverse(torch.linalg.cholesky(p_init))
            else:
                u = p_init.sqrt()
                cov = p_init.reciprocal()
            self.covariances_ = cov
            self.precisions_cholesky_ = u

    def _widen_point_init(self, X: Tensor, w: Tensor) -> None:
        """Point initializations leave Σ_k = reg_covar·I, a start gradient descent cannot leave;
        give every component the data's covariance instead (means and weights unchanged)."""
        k, d = self.means_.shape
        obs = (~torch.isnan(X)).to(X.dtype)  # (N, D)
        mean = (torch.nan_to_num(X) * w[:, None]).sum(0) / (obs * w[:, None]).sum(0)  # (D,)
        xc = torch.where(torch.isnan(X), 0.0, X - mean)  # (N, D), missing -> mean
        cov = (xc * w[:, None]).T @ xc / w.sum() + self.reg_covar * _eye(d, X)  # (D, D)
        var = cov.diagonal()
        new = {
            "full": cov.expand(k, d, d).clone(),
            "tied": cov,
            "diag": var.expand(k, d).clone(),
            "spherical": var.mean().expand(k).clone(),
        }[self.covariance_type]
        self._set_state(self.weights_, self.means_, new, warn=False)

    def _clear_state(self) -> None:
        for name in self._STATE:
            setattr(self, name, torch.empty(0, dtype=self.dtype, device=self.device))

    def _check_n_samples(self, n: int) -> None:
        if n < 2:
            raise ValueError(f"X must have at least 2 samples to fit, got n_samples={n}")
        if n < self.n_components:
            raise ValueError(
                f"n_components={self.n_components} must be <= n_samples={n}: too few samples "
                "for that many components"
            )

    @_sized
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Fit by EM, keeping the best of ``n_init`` initializations; returns ``self``.

        Each iteration: E-step (log-space responsibilities, NaN marginalized) and M-step; stops
        when the mean log-likelihood changes by less than ``tol`` (else ConvergenceWarning).
        ``lower_bounds_`` holds the mean log-likelihood of the parameters entering each
        iteration; it never decreases.
        """
        X = self._as_tensor(X, reset=True)
        n = X.shape[0]
        self._check_n_samples(n)
        w = self._as_weights(sample_weight, n)
        wsum = w.sum()
        gen = self._generator()
        do_init = not (self.warm_start and self._is_fitted())
        if not do_init and X.shape[1] != self.means_.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but warm_start continues a model with "
                f"{self.means_.shape[1]} features"
            )
        n_init = self.n_init if do_init else 1
        # centred blocks and features, reused by every iteration when they fit in memory
        d = X.shape[1]
        width = d + (d * (d + 1) // 2 if self._quadratic(d) else d)
        shift = torch.nan_to_num(
            (w[:, None] * torch.nan_to_num(X)).sum(0) / ((~torch.isnan(X)) * w[:, None]).sum(0)
        )
        cache = list(self._iter_blocks(X, shift)) if n * width <= _CACHE_ELEMENTS else None
        best: tuple | None = None
        best_lb = -math.inf
        for init in range(n_init):
            if do_init:
                self._initialize(X, w, gen)
            lower_bound = -math.inf if do_init else getattr(self, "lower_bound_", -math.inf)
            bounds: list[float] = []
            converged = False
            n_iter = 0
            for n_iter in range(1, self.max_iter + 1):
                prev = lower_bound
                self._summaries = None
                ll = self._summarize(X, w, cache=cache)
                self._m_step(warn=False)
                lower_bound = float((w * ll).sum() / wsum)
                bounds.append(lower_bound)
                change = lower_bound - prev
                if self.verbose and n_iter % self.verbose_interval == 0:
                    print(
                        f"  init {init} iteration {n_iter}: lower bound {lower_bound:.6f}"
                        f" change {change:.3g}"
                    )
                if abs(change) < self.tol:
                    converged = True
                    break
            if best is None or lower_bound > best_lb or best_lb == -math.inf:
                best_lb = lower_bound
                best = (
                    tuple(getattr(self, nm).clone() for nm in self._STATE),
                    n_iter,
                    bounds,
                    converged,
                )
            if self.verbose:
                print(f"init {init}: lower bound {lower_bound:.6f}, converged={converged}")
        for nm, value in zip(self._STATE, best[0], strict=True):
            setattr(self, nm, value)
        self.n_iter_, self.lower_bounds_, self.converged_ = best[1], best[2], best[3]
        self.lower_bound_ = best_lb
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (tol={self.tol:g}) "
                "for the best initialization; increase max_iter or tol, try other init_params, "
                "or check for degenerate data",
                ConvergenceWarning,
                stacklevel=2,
            )
        if self.max_iter > 0:
            self._warn_degenerate()
        return self

    # ------------------------------------------------------------------ gradient training
    @_sized
    def fit_gradient(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        lr: float = 0.05,
        max_epochs: int = 500,
        batch_size: int | None = None,
        tol: float = 1e-7,
    ) -> GaussianMixture:
        """Fit by Adam on the mean negative log-likelihood -Σ w_i log p(x_i) / Σ w_i.

        Parameters: weights by logits (w = softmax), means directly, covariances by their
        Cholesky factor with a softplus diagonal (full/tied: L = tril(A, -1) + diag(softplus(a));
        diag/spherical: σ = softplus(a)). Starts from ``init_params`` (or the current state with
        ``warm_start``); stops when the epoch loss changes by less than ``tol``. Full batch when
        ``batch_size`` is None. ``loss_curve_`` holds the epoch losses.
        """
        _check_real("lr", lr, 0.0)
        _check_int("max_epochs", max_epochs, 1)
        if batch_size is not None:
            _check_int("batch_size", batch_size, 1)
        X = self._as_tensor(X, reset=True)
        n, d = X.shape
        self._check_n_samples(n)
        w = self._as_weights(sample_weight, n)
        gen = self._generator()
        if not (self.warm_start and self._is_fitted()):
            self._initialize(X, w, gen)
            if self.init_params in ("k-means++", "random_from_data") and (
                self.precisions_init is None
            ):
                self._widen_point_init(X, w)
        ct = self.covariance_type
        # the Cholesky diagonal (or σ) is softplus(a) + √reg_covar, so Σ stays regularized
        floor = math.sqrt(self.reg_covar)

        def softplus_inv(y: Tensor) -> Tensor:
            y = (y - floor).clamp_min(1e-8)
            return y + torch.log(-torch.expm1(-y))

        logits = nn.Parameter(self.weights_.log().clone())
        means = nn.Parameter(self.means_.clone())
        if ct in ("full", "tied"):
            L0 = _cov_chol_from_prec_chol(self.precisions_cholesky_)
            raw0 = torch.tril(L0, -1) + torch.diag_embed(
                softplus_inv(L0.diagonal(dim1=-2, dim2=-1))
            )
        else:
            raw0 = softplus_inv(self.precisions_cholesky_.reciprocal())
        raw = nn.Parameter(raw0.clone())
        opt = torch.optim.Adam([logits, means, raw], lr=lr)

        def params() -> tuple[Tensor, Tensor, Tensor]:
            if ct in ("full", "tied"):
                L = torch.tril(raw, -1) + torch.diag_embed(
                    F.softplus(raw.diagonal(dim1=-2, dim2=-1)) + floor
                )
                return L @ L.mT, _prec_chol_from_cov_chol(L), L
            sd = F.softplus(raw) + floor
            return sd.square(), sd.reciprocal(), sd

        def nll(xb: Tensor, wb: Tensor) -> Tensor:
            cov, u, _ = params()
            lp = self._component_log_prob(xb, means, cov, u) + torch.log_softmax(logits, 0)
            return -(wb * torch.logsumexp(lp, 1)).sum() / wb.sum()

        curve: list[float] = []
        prev = math.inf
        converged = False
        epochs = 0
        while epochs < max_epochs:
            epochs += 1
            if batch_size is None or batch_size >= n:
                batches = [slice(None)]
            else:
                perm = torch.randperm(n, generator=gen, device=self.device)
                batches = [perm[a : a + batch_size] for a in range(0, n, batch_size)]
            total = 0.0
            for idx in batches:
                opt.zero_grad(set_to_none=True)
                loss = nll(X[idx], w[idx])
                loss.backward()
                opt.step()
                total += loss.item() * float(w[idx].sum())
            cur = total / float(w.sum())
            curve.append(cur)
            if abs(prev - cur) < tol:
                converged = True
                break
            prev = cur
        with torch.no_grad():
            cov, _, _ = params()
            self._set_state(
                torch.softmax(logits, 0).detach(),
                means.detach().clone(),
                cov.detach().clone(),
                warn=False,
            )
            self.lower_bound_ = float((w * self.log_prob(X)).sum() / w.sum())
        self.loss_curve_ = curve
        self.n_iter_ = epochs
        self.converged_ = converged
        self.lower_bounds_ = [-c for c in curve]
        if not converged:
            warnings.warn(
                f"gradient training did not converge in max_epochs={max_epochs} (tol={tol:g}); "
                "increase max_epochs or lr",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    # ------------------------------------------------------------------ state
    def _load_from_state_dict(
        self,
        state_dict,
        prefix,
        local_metadata,
        strict,
        missing_keys,
        unexpected_keys,
        error_msgs,
    ):
        # an unfitted model holds empty buffers: take the saved shapes before copying
        for name in self._STATE:
            key = prefix + name
            if key in state_dict and state_dict[key].shape != self._buffers[name].shape:
                self._buffers[name] = torch.empty(
                    state_dict[key].shape, dtype=self.dtype, device=self.device
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if self._is_fitted():
            k, d = self.means_.shape
            expected = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[
                self.covariance_type
            ]
            if k != self.n_components or tuple(self.precisions_cholesky_.shape) != expected:
                error_msgs.append(
                    f"state does not fit GaussianMixture(n_components={self.n_components}, "
                    f"covariance_type={self.covariance_type!r}): means_ {tuple(self.means_.shape)}"
                    f", precisions_cholesky_ {tuple(self.precisions_cholesky_.shape)}"
                )


# --------------------------------------------------------------------------- argument checks
def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_real(name: str, value: Any, low: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number >= {low}, got {value!r}")
    if not (math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be a finite real number >= {low}, got {value!r}")


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
