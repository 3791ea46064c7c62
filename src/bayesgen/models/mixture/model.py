"""The Gaussian-mixture estimator: state, densities, sampling, and EM.

Names follow scikit-learn (``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``,
``converged_``, ``n_iter_``, ``lower_bound_``). The learned state lives in registered buffers,
so ``.to(device)`` and ``state_dict`` carry it. EM keeps its sufficient statistics apart from
the update (``summarize`` / ``from_summaries``), so weighted, minibatch and out-of-core fitting
share one code path.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from ..._checks import check_dtype, check_int, check_option, check_real
from ...factors import Gaussian, Table
from ...network import BayesNet
from ...variables import Continuous, Discrete
from ..base import Model
from ._budget import row_blocks, sized, threads_for
from ._input import as_data, as_weights, checked_inits
from .covariance import (
    CovarianceType,
    log_gaussian_complete,
    make_covariance,
)
from .em import fit_em
from .errors import DegenerateCovarianceWarning
from .estep import Blocks, accumulate, block_log_prob, iter_blocks, make_plan
from .gradient import fit_gradient
from .init import INIT_PARAMS, initial_responsibilities
from .missing import MissingBlock, missing_log_probs, split_missing

__all__ = ["MISSING", "GaussianMixture"]

MISSING = ("marginalize", "raise")


class GaussianMixture(Model):
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
        covariance_type: str | CovarianceType = "full",
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
        check_int("n_components", n_components, low=1)
        check_int("max_iter", max_iter, low=0)
        check_int("n_init", n_init, low=1)
        check_int("verbose_interval", verbose_interval, low=1)
        check_real("tol", tol, low=0)
        check_real("reg_covar", reg_covar, low=0, expected="a finite real number >= 0.0")
        check_option("init_params", init_params, INIT_PARAMS)
        check_option("missing", missing, MISSING)
        check_dtype("dtype", dtype)
        if random_state is not None and (
            isinstance(random_state, bool)
            or not isinstance(random_state, int | np.integer | torch.Generator)
        ):
            raise TypeError(
                "random_state must be None, an int seed or a torch.Generator, "
                f"got {type(random_state).__name__}"
            )
        self.n_components = n_components
        # the type's object does the work; the attribute keeps scikit-learn's name, a string
        self._cov = make_covariance(covariance_type)
        self.covariance_type = self._cov.name
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
    def network(self) -> BayesNet:
        """The fitted mixture as the Bayesian network z → x of the chapter (eq. 9): a Table
        p(z = k) = w_k and a Gaussian p(x | z = k) = N(μ_k, Σ_k) (full covariances, whatever
        ``covariance_type``). Its ``log_prob`` of (z, x) summed over z is :meth:`log_prob`."""
        self._check_fitted()
        K, D = self.means_.shape
        z, x = Discrete("z", K), Continuous("x", shape=(D,))
        L = self._cov.cholesky(self.precisions_cholesky_, K, D)
        return BayesNet(
            [
                Table(z, probs=self.weights_ / self.weights_.sum()),
                Gaussian(x, [z], mean=self.means_, scale_tril=L, covariance="full"),
            ],
            name="gaussian mixture",
        )

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
        return self._cov.precisions(self.precisions_cholesky_)

    _fitted_attrs = ("means_",)

    def _is_fitted(self) -> bool:
        return self.is_fitted

    def extra_repr(self) -> str:
        return (
            f"n_components={self.n_components}, covariance_type={self.covariance_type!r}, "
            f"dtype={self.dtype}"
        )

    # ------------------------------------------------------------------ input
    def _as_tensor(self, X: Any, reset: bool = False) -> Tensor:
        """X as a (N, D) tensor of the model's dtype and device (``reset``: data to fit)."""
        if not reset:
            self._check_fitted()
        return as_data(
            X,
            dtype=self.dtype,
            device=self.device,
            missing=self.missing,
            n_features=None if reset else self.means_.shape[1],
        )

    def _as_weights(self, sample_weight: Any, n: int) -> Tensor:
        return as_weights(sample_weight, n, dtype=self.dtype, device=self.device)

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
        """log N(x_i; μ_k, Σ_k), marginal over NaN coordinates.  X (N, D) -> (N, K)

        Differentiable in the parameters (gradient training passes its own).
        """
        means = self.means_ if means is None else means
        covariances = self.covariances_ if covariances is None else covariances
        prec_chol = self.precisions_cholesky_ if prec_chol is None else prec_chol
        n, d = X.shape
        k = means.shape[0]
        ct = self.covariance_type
        nan = torch.isnan(X)
        rows_missing = nan.any(1)
        if not bool(rows_missing.any()):
            blocks = row_blocks(n, k * d)
            if len(blocks) == 1:
                return log_gaussian_complete(X, means, prec_chol, self._cov)
            return torch.cat(
                [log_gaussian_complete(X[a:b], means, prec_chol, self._cov) for a, b in blocks]
            )
        full_rows = torch.nonzero(~rows_missing).flatten()
        miss_rows = torch.nonzero(rows_missing).flatten()
        parts = []
        for a, b in row_blocks(len(full_rows), k * d):
            idx = full_rows[a:b]
            parts.append((idx, log_gaussian_complete(X[idx], means, prec_chol, self._cov)))
        for idx, lp in missing_log_probs(self._split_missing(X, miss_rows), means, covariances, ct):
            parts.append((idx, lp[0]))
        # assembled out of place so that autograd flows through every part
        idx_all = torch.cat([p[0] for p in parts])
        val_all = torch.cat([p[1] for p in parts])
        return X.new_zeros((n, k)).index_put((idx_all,), val_all)

    def _split_missing(self, X: Tensor, rows: Tensor, offset: int = 0) -> list[MissingBlock]:
        return split_missing(X, rows, self.covariance_type, self.n_components, offset)

    def _iter_blocks(
        self, X: Tensor, shift: Tensor, allow_missing: bool = True, stream: bool = False
    ) -> Iterator[Blocks]:
        return iter_blocks(X, shift, self.covariance_type, self.n_components, allow_missing, stream)

    def _plan(self, shift: Tensor) -> dict[str, Any]:
        return make_plan(
            shift, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type
        )

    def _map_blocks(self, X: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        """``fn`` of the weighted log densities log w_k + log N(x_i; μ_k, Σ_k) (B, K) of each
        block of rows (NaN marginalized), assembled in row order: (N, ...). Uses the E-step's
        blocked GEMM form about the mixture's mean, and never holds all N×K densities at once.
        """
        shift = self.weights_ @ self.means_  # (D,)
        plan = self._plan(shift)
        log_w = self.weights_.log()
        ct = self.covariance_type
        out: Tensor | None = None

        def put(idx: slice | Tensor, wlp: Tensor) -> None:
            nonlocal out
            res = fn(wlp)  # (B, ...)
            if out is None:
                out = res.new_empty((X.shape[0], *res.shape[1:]))
            out[idx] = res

        for blocks in self._iter_blocks(X, shift, stream=True):
            for blk in blocks.complete:
                put(blk.idx, block_log_prob(blk, plan, ct))
            for idx, res in missing_log_probs(blocks.missing, self.means_, self.covariances_, ct):
                put(idx, res[0] + log_w)
        return fn(X.new_empty((0, self.n_components))) if out is None else out

    @sized
    def log_prob(self, X: Any) -> Tensor:
        """log p(x_i) = logsumexp_k (log w_k + log N(x_i; μ_k, Σ_k)) per row; NaN marginalized.

        Returns a (N,) tensor on the model's device.
        """
        self._check_fitted()
        return self._map_blocks(self._as_tensor(X), lambda wlp: torch.logsumexp(wlp, 1))

    def forward(self, X: Any) -> Tensor:
        """Same as :meth:`log_prob`."""
        return self.log_prob(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean per-sample log-likelihood."""
        return float(self.log_prob(X).mean())

    @sized
    def predict_proba(self, X: Any) -> Tensor:
        """Responsibilities p(z=k | x_i), computed in log-space.  (N, K)"""
        self._check_fitted()
        return self._map_blocks(self._as_tensor(X), lambda wlp: torch.softmax(wlp, 1))

    @sized
    def predict(self, X: Any) -> Tensor:
        """argmax_k p(z=k | x_i).  (N,) long"""
        self._check_fitted()
        return self._map_blocks(self._as_tensor(X), lambda wlp: torch.argmax(wlp, 1))

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> Tensor:
        """Fit by EM, then :meth:`predict` on X."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        return int(self._cov.n_parameters(k, d) + k * d + k - 1)

    @sized
    def bic(self, X: Any) -> float:
        """Bayesian information criterion: -2 log L + p log N (lower is better)."""
        X = self._as_tensor(X)
        n = X.shape[0]
        return -2.0 * self.score(X) * n + self._n_parameters() * math.log(n)

    @sized
    def aic(self, X: Any) -> float:
        """Akaike information criterion: -2 log L + 2p (lower is better)."""
        X = self._as_tensor(X)
        return -2.0 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # ------------------------------------------------------------------ sampling
    def _cov_cholesky(self) -> Tensor:
        """Cholesky factors L_k of Σ_k as (K, D, D) (tied broadcast to K)."""
        k, d = self.means_.shape
        return self._cov.cholesky(self.precisions_cholesky_, k, d)

    def sample(self, n: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """n draws of x (n, D) (:meth:`sample_joint` without the components)."""
        return self.sample_joint(n, generator=generator)[0]

    def sample_joint(
        self, n: int = 1, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Ancestral sampling: z ~ Categorical(w), then x | z ~ N(μ_z, Σ_z).

        Returns (X (n, D), z (n,)); ``generator`` defaults to one seeded by ``random_state``
        (scikit-learn's convention: repeated calls repeat the draws).
        """
        self._check_fitted()
        check_int("n", n, low=1)
        gen = generator if generator is not None else self._generator()
        k, d = self.means_.shape
        z = torch.multinomial(self.weights_, n, replacement=True, generator=gen)  # (n,)
        eps = torch.randn(n, d, generator=gen, dtype=self.dtype, device=self.device)
        noise = self._cov.noise(eps, z, self.precisions_cholesky_)
        return self.means_[z] + noise, z  # (n, D), (n,)

    def as_distribution(self) -> MixtureSameFamily:
        """The fitted mixture as ``torch.distributions.MixtureSameFamily`` of MultivariateNormal."""
        self._check_fitted()
        return MixtureSameFamily(
            Categorical(probs=self.weights_),
            MultivariateNormal(self.means_, scale_tril=self._cov_cholesky()),
        )

    # ------------------------------------------------------------------ EM: statistics
    @sized
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
        cache: list[Blocks] | None = None,
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
            cache = self._iter_blocks(X, shift, allow_missing=resp is None, stream=True)
        if self._summaries is None:
            second = self._cov.shape(k, d) if self._cov.matrix else (k, d)  # S2's shape
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
            accumulate(
                self._summaries,
                blocks,
                X,
                w,
                resp,
                plan,
                ll,
                covariance_type=ct,
                weights=self.weights_,
                means=self.means_,
                covariances=self.covariances_,
            )
        return ll

    # ------------------------------------------------------------------ EM: update
    def from_summaries(self) -> GaussianMixture:
        """M-step from the accumulated statistics, then clear them:

        w_k = N_k / Σ N_j,  μ_k = S1_k / N_k,  Σ_k = S2_k / N_k - μ_k μ_kᵀ + reg_covar·I
        (tied: pooled over k; diag: the diagonal; spherical: its mean over features).
        """
        with threads_for(0):  # K·D² numbers: always small
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
        cov = self._cov.from_stats(nk, m, s["sxx"], self.reg_covar)
        self._set_state(nk / nk.sum(), m + s["shift"], cov, warn=warn)

    def _set_state(self, weights: Tensor, means: Tensor, cov: Tensor, warn: bool = True) -> None:
        """Store parameters, computing the precision Cholesky factor (jittered if not PD)."""
        cov, prec_chol = self._cov.precision_cholesky(cov, self.reg_covar)
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = cov
        self.precisions_cholesky_ = prec_chol
        if warn:
            self._warn_degenerate()

    def _warn_degenerate(self) -> None:
        comps = (
            self._cov.degenerate(
                self.covariances_, self.precisions_cholesky_, self.reg_covar, self.n_components
            )
            if self.reg_covar > 0
            else []
        )
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
        w_init, m_init, p_init = checked_inits(
            self.weights_init,
            self.means_init,
            self.precisions_init,
            n_components=self.n_components,
            n_features=X.shape[1],
            covariance_type=self.covariance_type,
            dtype=self.dtype,
            device=self.device,
        )
        if w_init is None or m_init is None or p_init is None:
            xi = X
            if bool(torch.isnan(X).any()):  # impute column means for initialization only
                col = (torch.nan_to_num(X) * w[:, None]).sum(0) / (
                    (~torch.isnan(X)) * w[:, None]
                ).sum(0)
                xi = torch.where(torch.isnan(X), col, X)
            resp = initial_responsibilities(xi, w, self.n_components, self.init_params, gen)
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
            self.covariances_, self.precisions_cholesky_ = self._cov.from_precisions(p_init)

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

    @sized
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Fit by EM, keeping the best of ``n_init`` initializations; returns ``self``.

        Each iteration: E-step (log-space responsibilities, NaN marginalized) and M-step; stops
        when the mean log-likelihood changes by less than ``tol`` (else ConvergenceWarning).
        ``lower_bounds_`` holds the mean log-likelihood of the parameters entering each
        iteration; it never decreases.
        """
        return fit_em(self, X, sample_weight)

    @sized
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
        return fit_gradient(self, X, sample_weight, lr, max_epochs, batch_size=batch_size, tol=tol)

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
            expected = self._cov.shape(k, d)
            if k != self.n_components or tuple(self.precisions_cholesky_.shape) != expected:
                error_msgs.append(
                    f"state does not fit GaussianMixture(n_components={self.n_components}, "
                    f"covariance_type={self.covariance_type!r}): means_ {tuple(self.means_.shape)}"
                    f", precisions_cholesky_ {tuple(self.precisions_cholesky_.shape)}"
                )
