"""The naive formulations of §2.2.1: the empirical distribution (eq. 13) and KDE (eq. 14).

Empirical distribution of a data set D = {x^1, ..., x^K} (weights w_k, Σ w_k = 1):

    p_D(x) = Σ_k w_k δ_{x^k}(x)                                               (eq. 13)

Kernel density estimation smooths every Dirac into a kernel of bandwidth matrix H = L Lᵀ:

    KDE(x) = Σ_k w_k K_H(x - x^k),   K_H(u) = |H|^{-1/2} K(H^{-1/2} u)      (eq. 14)

with K a unit-scale radial density: Gaussian exp(-r²/2)/(2π)^{D/2}, top-hat 1[r < 1]/V_D,
Epanechnikov (1 - r²)_+ (D + 2)/(2 V_D), exponential exp(-r)/(S_{D-1} Γ(D)), linear
(1 - r)_+ (D + 1)/V_D (V_D the volume of the unit ball, S_{D-1} its surface). A scalar bandwidth
h is H = h² I (scikit-learn's and the chapter's h); 'scott' / 'silverman' is H = f² Cov(D) with
f = n_eff^{-1/(D+4)} or (n_eff (D+2)/4)^{-1/(D+4)} (scipy's gaussian_kde). As a Bayesian network
KDE is a mixture with a uniform prior over the data index: z -> x, z ~ Categorical(w),
x | z ~ K_H(x - x^z); sampling is ancestral (resample a point, add kernel noise).

Evaluation is chunked and exact to ``rtol`` (1e-13 by default): points are whitened by L and
split into KD-tree leaves (blocks of queries, groups of training points). Each (block, group)
pair is skipped when its bounding boxes prove its contribution zero (compact kernels) or
negligible, summed directly (-r²/2 as one matmul of augmented matrices around the block's
centre), or, for the Gaussian kernel, expanded in a Taylor series of e^{a·b} (a fast Gauss
transform) whose truncation error is bounded a priori; the cheaper exact path is chosen per
pair from a cost model. Sums are in linear space relative to each block's largest term; the few
queries whose sum still underflows are redone with an exact log-sum-exp. Blocks are sized from
``chunk_bytes``, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.distributions import (
    Categorical,
    Distribution,
    MixtureSameFamily,
    MultivariateNormal,
    constraints,
)

from ..factors import Table
from ..network import BayesNet
from ..variables import Continuous, Discrete
from .base import Model, forked_rng
from .kde_network import KernelFactor
from .kde_sums import CHUNK_BYTES, log_kernel_sums, training_leaves
from .kernels import KERNELS, GaussianKernel, Kernel, log_kernel_norm, make_kernel

__all__ = [
    "KDE",
    "EmpiricalDistribution",
    "KERNELS",
    "scott_factor",
    "silverman_factor",
    "log_kernel_norm",
    "log_kernel_sums",
]


# ------------------------------------------------------------------------ building blocks
def scott_factor(n_eff: float, d: int) -> float:
    """Scott's rule: f = n_eff^{-1/(d+4)}."""
    return float(n_eff) ** (-1.0 / (d + 4))


def silverman_factor(n_eff: float, d: int) -> float:
    """Silverman's rule: f = (n_eff (d+2) / 4)^{-1/(d+4)}."""
    return (float(n_eff) * (d + 2) / 4.0) ** (-1.0 / (d + 4))


def _as_points(X, name: str, dtype, device, d: int | None = None) -> Tensor:
    """(N, D) float tensor from an array-like; 1-D input is N points in D = 1."""
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):
        X = X.to_numpy(dtype=np.float64)
    if not isinstance(X, Tensor):
        try:
            X = torch.from_numpy(np.array(X, dtype=np.float64))
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a numeric array (n_samples, n_features): {e}") from e
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D (n_samples, n_features); got shape {tuple(X.shape)}"
        )
    if d is not None and X.shape[1] != d:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the KDE was fitted with n_features_in_={d}"
        )
    X = X.to(device=device, dtype=dtype)
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return X


def _weighted_cov(X: Tensor, w: Tensor) -> Tensor:
    """Unbiased weighted covariance, numpy.cov(X.T, aweights=w): (D, D)."""
    w = w / w.sum()
    mu = w @ X  # (D,)
    Xc = X - mu
    return (Xc.T * w) @ Xc / (1.0 - (w * w).sum())


# ------------------------------------------------------------------------------- eq. 13
class EmpiricalDistribution(Distribution):
    """p_D(x) = Σ_k w_k δ_{x^k}(x) (eq. 13): mass only on the data points.

    ``sample`` resamples data points (with replacement, probabilities w); ``log_prob`` is the log
    of the total weight of the points equal to x (the relative frequency for discrete data),
    -inf elsewhere. data: (K,) scalars or (K, D) vectors; event shape () or (D,).
    """

    arg_constraints: dict = {}
    has_enumerate_support = True

    def __init__(self, data, weights=None, validate_args: bool | None = None):
        data = torch.as_tensor(data)
        if data.ndim not in (1, 2) or data.shape[0] == 0:
            raise ValueError(
                f"data must be (K,) or (K, D) with K >= 1; got shape {tuple(data.shape)}"
            )
        if data.is_floating_point() and torch.isnan(data).any():
            raise ValueError("data must not contain NaN")
        self.data = data
        K = data.shape[0]
        if weights is None:
            w = torch.full((K,), 1.0 / K, dtype=torch.float64, device=data.device)
        else:
            w = torch.as_tensor(weights, dtype=torch.float64, device=data.device)
            if w.shape != (K,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be ({K},), finite, >= 0 with a positive sum")
            w = w / w.sum()
        self.weights = w
        rows = data if data.ndim == 2 else data[:, None]
        atoms, inv = torch.unique(rows, dim=0, return_inverse=True)  # (U, D), (K,)
        probs = torch.zeros(len(atoms), dtype=w.dtype, device=w.device).index_add_(0, inv, w)
        self.atoms = atoms if data.ndim == 2 else atoms[:, 0]
        self.probs = probs  # (U,)
        super().__init__(torch.Size(), data.shape[1:], validate_args=validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.real_vector if self.data.ndim == 2 else constraints.real

    def sample(self, sample_shape: tuple[int, ...] | torch.Size = ()) -> Tensor:
        idx = Categorical(probs=self.weights).sample(torch.Size(sample_shape))
        return self.data[idx]

    def log_prob(self, value) -> Tensor:
        value = torch.as_tensor(value, dtype=self.data.dtype, device=self.data.device)
        ev = self.data.shape[1:]
        if value.shape[value.ndim - len(ev) :] != ev:
            raise ValueError(
                f"value must end in the event shape {tuple(ev)}; got {tuple(value.shape)}"
            )
        batch = value.shape[: value.ndim - len(ev)]
        q = value.reshape(-1, *(ev or (1,)))  # (M, D)
        a = self.atoms if self.data.ndim == 2 else self.atoms[:, None]  # (U, D)
        _, inv = torch.unique(torch.cat([a, q]), dim=0, return_inverse=True)
        table = torch.full(
            (int(inv.max()) + 1,), float("-inf"), dtype=self.probs.dtype, device=self.probs.device
        )
        table[inv[: len(a)]] = self.probs.log()
        return table[inv[len(a) :]].reshape(batch)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        return self.atoms

    @property
    def mean(self) -> Tensor:
        return torch.tensordot(
            self.weights.to(self.data.dtype),
            self.data.to(torch.float64) if not self.data.is_floating_point() else self.data,
            1,
        )

    @property
    def variance(self) -> Tensor:
        x = self.data.to(torch.float64)
        return torch.tensordot(self.weights, (x - self.mean.to(x.dtype)) ** 2, 1)

    def entropy(self) -> Tensor:
        """-Σ_u p_u log p_u over the distinct atoms (nats)."""
        p = self.probs
        return -(p * p.log()).nan_to_num(0.0).sum()


# ------------------------------------------------------------------------------- eq. 14
class KDE(Model):
    """Kernel density estimate KDE(x) = Σ_k w_k K_H(x - x^k) (eq. 14).

    Parameters
    ----------
    bandwidth : a float h > 0 (H = h² I), 'scott' or 'silverman' (H = f² Cov(X), scipy's
        convention), a (D, D) positive-definite matrix H, or a 1-D sequence of floats > 0: a grid
        searched by ``cv``-fold held-out log-likelihood (contiguous folds, scikit-learn's KFold).
    kernel : a :class:`~bayesgen.models.kernels.Kernel` or one of 'gaussian', 'tophat',
        'epanechnikov', 'exponential', 'linear'.
    cv : number of folds for a bandwidth grid (>= 2).
    rtol : far groups of training points are skipped when their total contribution is provably
        below rtol times the density (0: every pair with a nonzero kernel value is summed).
    chunk_bytes : memory budget of one block of kernel values during evaluation.

    Learned: ``data_`` (N, D), ``weights_`` (N,) summing to 1, ``bandwidth_`` (the scalar h, or
    None for a full matrix), ``bandwidth_matrix_`` H, ``scale_tril_`` L (H = L Lᵀ),
    ``bandwidth_factor_`` (Scott/Silverman), ``cv_scores_`` (mean held-out log-likelihood per
    grid value), ``n_eff_`` = (Σ w)² / Σ w².
    """

    def __init__(
        self,
        bandwidth: float | str | Sequence[float] | Tensor | np.ndarray = 1.0,
        kernel: str | Kernel = "gaussian",
        *,
        cv: int = 5,
        rtol: float = 1e-13,
        chunk_bytes: int = CHUNK_BYTES,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        self._kernel = make_kernel(kernel)
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
            raise ValueError(f"cv must be an int >= 2; got {cv!r}")
        if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0 <= rtol < 1:
            raise ValueError(f"rtol must be a float in [0, 1); got {rtol!r}")
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be an int >= 1; got {chunk_bytes!r}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self._mode = _bandwidth_mode(bandwidth)
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.cv = cv
        self.rtol = float(rtol)
        self.chunk_bytes = chunk_bytes
        self.dtype = dtype
        self.device = device

    # ------------------------------------------------------------------ structure
    @property
    def network(self) -> BayesNet:
        """The fitted KDE as the network z → x: a Table p(z = k) = w_k over the N data points
        and a :class:`~bayesgen.models.kde_network.KernelFactor` x | z = k ~ K_H(x − x^k)."""
        self._check_fitted()
        z = Discrete("z", len(self.data_))
        x = Continuous("x", shape=(self.n_features_in_,))
        return BayesNet(
            [
                Table(z, probs=self.weights_ / self.weights_.sum()),
                KernelFactor(x, z, self.data_, self.scale_tril_, self._kernel),
            ],
            name="kernel density estimate",
        )

    @property
    def empirical(self) -> EmpiricalDistribution:
        """The empirical distribution (eq. 13) that this KDE smooths."""
        self._check_fitted()
        return EmpiricalDistribution(self.data_, self.weights_)

    _fitted_attrs = ("data_",)

    # ------------------------------------------------------------------ learning
    @torch.no_grad()
    def fit(self, X, sample_weight=None) -> KDE:
        """Store the data (and weights) and set the bandwidth; returns self."""
        dev = (
            torch.device(self.device)
            if self.device is not None
            else (X.device if isinstance(X, Tensor) else torch.device("cpu"))
        )
        X = _as_points(X, "X", self.dtype, dev)
        N, D = X.shape
        if N == 0:
            raise ValueError("X must hold at least one point; got 0")
        if sample_weight is None:
            w = torch.full((N,), 1.0 / N, dtype=self.dtype, device=dev)
        else:
            w = torch.as_tensor(
                sample_weight
                if isinstance(sample_weight, Tensor)
                else np.asarray(sample_weight, dtype=np.float64)
            )
            w = w.to(device=dev, dtype=self.dtype)
            if w.shape != (N,):
                raise ValueError(f"sample_weight must have shape ({N},); got {tuple(w.shape)}")
            if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError("sample_weight must be finite, >= 0 and not all 0")
            w = w / w.sum()
        self.n_features_in_ = D
        self.n_eff_ = float(1.0 / (w * w).sum())
        self.register_buffer("data_", X)
        self.register_buffer("weights_", w)
        self.bandwidth_factor_ = None
        self.cv_scores_ = None
        mode, bw = self._mode, self.bandwidth
        if mode == "scalar":
            H = torch.eye(D, dtype=self.dtype, device=dev) * float(bw) ** 2
            self.bandwidth_ = float(bw)
        elif mode == "rule":
            f = (scott_factor if bw == "scott" else silverman_factor)(self.n_eff_, D)
            if N < 2:
                raise ValueError(
                    f"bandwidth={bw!r} needs at least 2 points to estimate a covariance; got {N}"
                )
            H = _weighted_cov(X, w) * f**2
            self.bandwidth_factor_ = f
            self.bandwidth_ = math.sqrt(float(H[0, 0])) if D == 1 else None
        elif mode == "matrix":
            H = torch.as_tensor(
                np.asarray(bw, dtype=np.float64) if not isinstance(bw, Tensor) else bw
            ).to(device=dev, dtype=self.dtype)
            if H.shape != (D, D):
                raise ValueError(
                    f"bandwidth matrix must be ({D}, {D}) for D={D} features; got {tuple(H.shape)}"
                )
            self.bandwidth_ = None
        elif mode == "grid":
            grid = [float(h) for h in np.asarray(bw, dtype=np.float64).ravel()]
            scores = self._cv_scores(X, w, grid)
            self.cv_scores_ = scores
            self.bandwidth_ = grid[int(np.argmax(scores))]
            H = torch.eye(D, dtype=self.dtype, device=dev) * self.bandwidth_**2
        else:  # pragma: no cover - _bandwidth_mode only returns the modes above
            raise ValueError(f"unknown bandwidth mode {mode!r}")
        self._set_matrix(H)
        return self

    def _set_matrix(self, H: Tensor) -> None:
        if not torch.allclose(H, H.T):
            raise ValueError(
                "bandwidth matrix must be symmetric positive definite; it is not symmetric"
            )
        L, info = torch.linalg.cholesky_ex(H)
        if info != 0 or not torch.isfinite(L).all():
            raise ValueError(
                f"bandwidth matrix must be symmetric positive definite; got eigenvalues "
                f"{torch.linalg.eigvalsh(H).tolist()} (a constant feature with a "
                f"'scott'/'silverman' rule gives a singular covariance)"
            )
        self.register_buffer("bandwidth_matrix_", H)
        self.register_buffer("scale_tril_", L)
        self.register_buffer("_centre", self.weights_ @ self.data_)  # (D,), for precision
        self.register_buffer("_Zx", self._whiten(self.data_))  # (N, D)
        # the training points' KD leaves, once
        perm, sizes = training_leaves(self._Zx)
        self.register_buffer("_x_perm", perm)
        self.register_buffer("_x_sizes", sizes)
        D = H.shape[0]
        self.log_norm_ = self._kernel.log_norm(D) - float(L.diagonal().log().sum())

    def _whiten(self, X: Tensor) -> Tensor:
        """z = L^{-1} (x - centre): (M, D)."""
        Xc = (X - self._centre).T  # (D, M)
        return torch.linalg.solve_triangular(self.scale_tril_, Xc, upper=False).T

    def _cv_scores(self, X: Tensor, w: Tensor, grid: list[float]) -> list[float]:
        """Mean over folds of the held-out Σ_i w_i^raw log KDE_train(x_i), per bandwidth."""
        N, D = X.shape
        if any(h <= 0 for h in grid):
            raise ValueError(f"bandwidth grid values must be > 0; got {grid}")
        if N < self.cv:
            raise ValueError(f"cv={self.cv} folds need at least {self.cv} points; got {N}")
        sizes = [N // self.cv + (1 if f < N % self.cv else 0) for f in range(self.cv)]
        bounds = np.cumsum([0, *sizes])
        raw = w * N  # weights relative to 1 per point (all ones when unweighted)
        centre = X.mean(0)
        Xc = X - centre
        scores = np.zeros(len(grid))
        for f in range(self.cv):
            a, b = int(bounds[f]), int(bounds[f + 1])
            test = Xc[a:b]
            train = torch.cat([Xc[:a], Xc[b:]])
            wt = torch.cat([raw[:a], raw[b:]])
            for g, h in enumerate(grid):
                ls = log_kernel_sums(
                    test / h, train / h, wt, self._kernel, self.chunk_bytes, self.rtol
                )
                logp = ls - torch.log(wt.sum()) + self._kernel.log_norm(D) - D * math.log(h)
                scores[g] += float((raw[a:b] * logp).sum())
        return (scores / self.cv).tolist()

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def log_prob(self, X) -> Tensor:
        """log KDE(x) for each row of X: (M,)."""
        self._check_fitted()
        Q = _as_points(X, "X", self.data_.dtype, self.data_.device, self.n_features_in_)
        ls = log_kernel_sums(
            self._whiten(Q),
            self._Zx,
            self.weights_,
            self._kernel,
            self.chunk_bytes,
            self.rtol,
            x_leaves=(self._x_perm, self._x_sizes),
        )
        return ls + self.log_norm_

    def score(self, X) -> float:
        """Total log-likelihood Σ_i log KDE(x_i) (scikit-learn's KernelDensity.score)."""
        return float(self.score_samples(X).sum())

    def sample(self, n: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """n draws of x (n, D) (:meth:`sample_joint` without the data indices)."""
        return self.sample_joint(n, generator=generator)[0]

    @torch.no_grad()
    def sample_joint(
        self, n: int = 1, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Ancestral sampling: z ~ Categorical(w), x = x^z + L u with u ~ the unit kernel.

        Returns (x (n, D), z (n,)).
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0; got {n!r}")
        with forked_rng(generator, self.data_.device):
            z = Categorical(probs=self.weights_).sample((n,))  # (n,)
            u = self._kernel.unit_sample(n, self.n_features_in_, self.data_)  # (n, D)
        return self.data_[z] + u @ self.scale_tril_.T, z

    def to_distribution(self) -> MixtureSameFamily:
        """The Gaussian KDE as a torch mixture (O(N) components; for small N)."""
        self._check_fitted()
        if not isinstance(self._kernel, GaussianKernel):
            raise ValueError(f"to_distribution needs kernel='gaussian'; got {self.kernel!r}")
        comp = MultivariateNormal(self.data_, scale_tril=self.scale_tril_)  # batch (N,)
        return MixtureSameFamily(Categorical(probs=self.weights_), comp)

    def extra_repr(self) -> str:
        bw = self.bandwidth if self._mode in ("scalar", "rule") else self._mode
        return f"kernel={self.kernel!r}, bandwidth={bw!r}"


def _bandwidth_mode(bw) -> str:
    """'scalar' | 'rule' | 'matrix' | 'grid', with a clear error for anything else."""
    valid = (
        "a float > 0, 'scott', 'silverman', a (D, D) positive-definite matrix or a 1-D "
        "grid of floats > 0"
    )
    if isinstance(bw, str):
        if bw in ("scott", "silverman"):
            return "rule"
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
    if isinstance(bw, bool):
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
    if isinstance(bw, int | float | np.floating | np.integer):
        if not np.isfinite(bw) or bw <= 0:
            raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
        return "scalar"
    try:
        arr = np.asarray(
            bw.detach().cpu().numpy() if isinstance(bw, Tensor) else bw, dtype=np.float64
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}") from e
    if arr.ndim == 0:
        return _bandwidth_mode(float(arr))
    if not np.isfinite(arr).all():
        raise ValueError(f"bandwidth must be {valid}; got non-finite values {arr.tolist()}")
    if arr.ndim == 1 and arr.size >= 1:
        if (arr <= 0).any():
            raise ValueError(f"bandwidth grid values must be > 0; got {arr.tolist()}")
        return "grid"
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        return "matrix"
    raise ValueError(f"bandwidth must be {valid}; got an array of shape {arr.shape}")
