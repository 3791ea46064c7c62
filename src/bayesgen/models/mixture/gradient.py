"""Gradient training of a Gaussian mixture: Adam on the mean negative log-likelihood.

The constrained parameters are written through unconstrained ones: weights w = softmax(logits),
means directly, covariances by a Cholesky factor with a softplus diagonal (full and tied:
L = tril(A, -1) + diag(softplus(a) + √reg_covar); diag and spherical: σ = softplus(a) +
√reg_covar), so every step stays a valid, regularized mixture. The loss is

    -Σ_i w_i log Σ_k w_k N(x_i; μ_k, Σ_k) / Σ_i w_i,

with NaN features marginalized as in EM.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._checks import check_int, check_real
from ...data.source import TensorData
from ...train import TrainConfig, train
from .covariance import cov_chol_from_prec_chol, eye, from_full, prec_chol_from_cov_chol
from .errors import ConvergenceWarning

if TYPE_CHECKING:
    from .model import GaussianMixture

__all__ = ["fit_gradient"]


def _widen_point_init(model: GaussianMixture, X: Tensor, w: Tensor) -> None:
    """Point initializations leave Σ_k = reg_covar·I, a start gradient descent cannot leave;
    give every component the data's covariance instead (means and weights unchanged)."""
    k, d = model.means_.shape
    obs = (~torch.isnan(X)).to(X.dtype)  # (N, D)
    mean = (torch.nan_to_num(X) * w[:, None]).sum(0) / (obs * w[:, None]).sum(0)  # (D,)
    xc = torch.where(torch.isnan(X), 0.0, X - mean)  # (N, D), missing -> mean
    cov = (xc * w[:, None]).T @ xc / w.sum() + model.reg_covar * eye(d, X)  # (D, D)
    new = from_full(cov, model.covariance_type, k)
    model._set_state(model.weights_, model.means_, new, warn=False)


class _MixtureNLL:
    """−Σ_i w_i log Σ_k w_k N(x_i; μ_k, Σ_k) / Σ_i w_i of a batch, for the training loop; it
    sums each epoch's loss."""

    def __init__(self, model, logits, means, raw, floor: float):
        self.logits, self.means, self.raw = logits, means, raw
        self.gm, self.floor = model, floor
        self.total = self.seen = 0.0

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"mixture": [self.logits, self.means, self.raw]}

    def params(self) -> tuple[Tensor, Tensor, Tensor]:
        """(covariance, precision Cholesky, covariance Cholesky or σ) from the raw parameters."""
        raw, floor = self.raw, self.floor
        if self.gm._cov.matrix:
            L = torch.tril(raw, -1) + torch.diag_embed(
                F.softplus(raw.diagonal(dim1=-2, dim2=-1)) + floor
            )
            return L @ L.mT, prec_chol_from_cov_chol(L), L
        sd = F.softplus(raw) + floor
        return sd.square(), sd.reciprocal(), sd

    def loss(self, xb: Tensor, wb: Tensor, *, group: str | None = None) -> Tensor:
        cov, u, _ = self.params()
        lp = self.gm._component_log_prob(xb, self.means, cov, u) + torch.log_softmax(
            self.logits, 0
        )  # (B, K)
        loss = -(wb * torch.logsumexp(lp, 1)).sum() / wb.sum()
        self.total += loss.item() * float(wb.sum())
        self.seen += float(wb.sum())
        return loss

    def epoch(self) -> float:
        mean = self.total / self.seen
        self.total = self.seen = 0.0
        return mean


def fit_gradient(
    model: GaussianMixture, X: Any, sample_weight: Any, lr: float, max_epochs: int, **options: Any
) -> GaussianMixture:
    """Fit ``model`` by Adam (see :meth:`GaussianMixture.fit_gradient`, which gives the
    defaults); ``options``: ``batch_size`` (None: full batch) and ``tol``. Returns ``model``."""
    batch_size, tol = options["batch_size"], options["tol"]
    check_real("lr", lr, low=0)
    check_int("max_epochs", max_epochs, low=1)
    check_int("batch_size", batch_size, low=1, optional=True)
    X = model._as_tensor(X, reset=True)
    n, d = X.shape
    model._check_n_samples(n)
    w = model._as_weights(sample_weight, n)
    gen = model._generator()
    if not (model.warm_start and model._is_fitted()):
        model._initialize(X, w, gen)
        if model.init_params in ("k-means++", "random_from_data") and (
            model.precisions_init is None
        ):
            _widen_point_init(model, X, w)
    # the Cholesky diagonal (or σ) is softplus(a) + √reg_covar, so Σ stays regularized
    floor = math.sqrt(model.reg_covar)
    logits, means, raw = _unconstrained(model, floor)
    objective = _MixtureNLL(model, logits, means, raw, floor)
    curve: list[float] = []

    def converged(record: dict) -> bool:
        """After each epoch: the weighted mean loss, and |Δ| < tol."""
        curve.append(objective.epoch())
        return len(curve) > 1 and abs(curve[-2] - curve[-1]) < tol

    full = batch_size is None or batch_size >= n
    seed = int(torch.randint(2**62, (), generator=gen, device=gen.device))
    config = TrainConfig(
        epochs=max_epochs,
        batch_size=n if full else batch_size,
        lr=lr,
        optimizer="adam",
        schedule="constant",
        eval_every=1 if full else math.ceil(n / batch_size),
        seed=seed,
        device=str(model.device),
        shuffle=not full,
        check_data=False,  # NaN features are missing values
        distributed=False,
        desc="fit_gradient",
    )
    history = train(objective, TensorData(X, w), config=config, on_eval=converged)
    _store(model, objective, X, w, curve, history.stopped_early)
    if not history.stopped_early:
        warnings.warn(
            f"gradient training did not converge in max_epochs={max_epochs} (tol={tol:g}); "
            "increase max_epochs or lr",
            ConvergenceWarning,
            stacklevel=3,
        )
    return model


def _unconstrained(model: GaussianMixture, floor: float) -> tuple[nn.Parameter, ...]:
    """The starting point as unconstrained parameters: weight logits (K,), means (K, D) and the
    raw Cholesky factors (or standard deviations) whose diagonal is softplus(a) + floor."""

    def softplus_inv(y: Tensor) -> Tensor:
        y = (y - floor).clamp_min(1e-8)
        return y + torch.log(-torch.expm1(-y))

    logits = nn.Parameter(model.weights_.log().clone())  # (K,)
    means = nn.Parameter(model.means_.clone())  # (K, D)
    if model._cov.matrix:
        L0 = cov_chol_from_prec_chol(model.precisions_cholesky_)
        raw0 = torch.tril(L0, -1) + torch.diag_embed(softplus_inv(L0.diagonal(dim1=-2, dim2=-1)))
    else:
        raw0 = softplus_inv(model.precisions_cholesky_.reciprocal())
    return logits, means, nn.Parameter(raw0.clone())


def _store(
    model: GaussianMixture, objective: _MixtureNLL, X: Tensor, w: Tensor, curve: list, done: bool
) -> None:
    """Set the model's state from the trained parameters, and its training record."""
    logits, means = objective.logits, objective.means
    with torch.no_grad():
        cov, _, _ = objective.params()
        model._set_state(
            torch.softmax(logits, 0).detach(),
            means.detach().clone(),
            cov.detach().clone(),
            warn=False,
        )
        model.lower_bound_ = float((w * model.log_prob(X)).sum() / w.sum())
    model.loss_curve_ = curve
    model.n_iter_ = len(curve)
    model.converged_ = done
    model.lower_bounds_ = [-c for c in curve]
