"""Gaussian-mixture input: data, sample weights and initial parameters, checked and converted.

Each check names the argument, its constraint and what was received; data end up as tensors
of the model's dtype on its device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .covariance import covariance_shape, make_covariance

__all__ = ["as_data", "as_weights", "checked_inits"]


def as_data(
    X: Any,
    *,
    dtype: torch.dtype,
    device: torch.device,
    missing: str,
    n_features: int | None = None,
) -> Tensor:
    """X as a (N, D) tensor with the checks that name X.

    ``n_features`` None: data to fit (a column with no observed value is refused); else the
    fitted width, which X must match. NaN passes only with ``missing="marginalize"``.
    """
    if hasattr(X, "to_numpy") and not isinstance(X, Tensor):  # pandas
        X = X.to_numpy()
    if isinstance(X, Tensor):
        if X.is_complex() or X.dtype == torch.bool:
            raise TypeError(f"X must hold real numbers, got a tensor of {X.dtype}")
        X = X.detach().to(device=device, dtype=dtype)
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"X must be an array of real numbers: {err}") from None
        if not arr.flags.writeable:  # e.g. a pandas view; torch wants writable memory
            arr = arr.copy()
        X = torch.as_tensor(arr, dtype=dtype, device=device)
    if X.ndim != 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if X.ndim == 1 else ""
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}{hint}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one sample and one feature, got {tuple(X.shape)}")
    reset = n_features is None
    if not reset and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but this GaussianMixture was fitted with "
            f"{n_features} features"
        )
    finite = torch.isfinite(X)
    if not bool(finite.all()):  # one pass for the common, clean case
        inf = torch.isinf(X)
        if inf.any():
            r, c = torch.nonzero(inf)[0].tolist()
            raise ValueError(f"X contains an infinite value (row {r}, column {c})")
        nan = ~finite
        if missing == "raise":
            r, c = torch.nonzero(nan)[0].tolist()
            raise ValueError(
                f"X contains NaN (first at row {r}, column {c}, {int(nan.sum())} in all) and "
                "missing='raise'; use missing='marginalize' to integrate missing features out"
            )
        if reset:
            empty = torch.nonzero(nan.all(0)).flatten().tolist()
            if empty:
                raise ValueError(f"X column(s) {empty} have no observed value (all NaN); drop them")
    return X


def as_weights(sample_weight: Any, n: int, *, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Sample weights (N,), finite, >= 0 and not all 0; ones when None."""
    if sample_weight is None:
        return torch.ones(n, dtype=dtype, device=device)
    w = torch.as_tensor(
        np.asarray(
            sample_weight.detach().cpu() if isinstance(sample_weight, Tensor) else sample_weight,
            dtype=np.float64,
        ),
        dtype=dtype,
        device=device,
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


def _init_array(
    name: str,
    value: Any,
    shape: tuple[int, ...],
    covariance_type: str,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    t = torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    if tuple(t.shape) != shape:
        raise ValueError(
            f"{name} must have shape {shape} for covariance_type={covariance_type!r}, "
            f"got {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return t


def checked_inits(
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
    *,
    n_components: int,
    n_features: int,
    covariance_type: str,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The user's initial weights (K,), means (K, D) and precisions (by covariance type), each
    None when not given: right shapes, finite, weights a distribution, precisions positive
    (definite)."""
    k, d, ct = n_components, n_features, covariance_type
    place = {"covariance_type": ct, "dtype": dtype, "device": device}
    weights = means = prec = None
    if weights_init is not None:
        weights = _init_array("weights_init", weights_init, (k,), **place)
        if (weights < 0).any() or (weights > 1).any():
            raise ValueError(
                "weights_init must lie in [0, 1], got min "
                f"{float(weights.min()):.5g}, max {float(weights.max()):.5g}"
            )
        if abs(float(weights.sum()) - 1.0) > 1e-6:
            raise ValueError(f"weights_init must sum to 1, got {float(weights.sum()):.8g}")
    if means_init is not None:
        means = _init_array("means_init", means_init, (k, d), **place)
    if precisions_init is not None:
        shape = covariance_shape(ct, k, d)
        prec = _init_array("precisions_init", precisions_init, shape, **place)
        if make_covariance(ct).matrix:
            sym = torch.allclose(prec, prec.mT, rtol=1e-8, atol=1e-10)
            _, info = torch.linalg.cholesky_ex(prec)
            if not sym or bool((info != 0).any()):
                raise ValueError(f"precisions_init ({ct}) must be symmetric positive definite")
        elif (prec <= 0).any():
            raise ValueError(f"precisions_init ({ct}) must be positive")
    return weights, means, prec
