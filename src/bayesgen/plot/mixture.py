"""Figure 17 of the chapter: a 1-D Gaussian mixture's density drawn over a histogram of samples.

The curve is p(x) = Σ_k w_k N(x; μ_k, σ_k²) evaluated by the live model (its ``log_prob``); the
dashed curves are the weighted components w_k N(x; μ_k, σ_k²), whose sum is the curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["plot_mixture_density"]


def _as_1d(data: Any) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"data must be 1-D (n,) or (n, 1), got shape {arr.shape}")
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError("data has no observed (non-NaN) value to draw")
    return arr


def plot_mixture_density(
    model: Any,
    data: Any = None,
    ax: Any = None,
    bins: int = 50,
    n_points: int = 1000,
    components: bool = True,
):
    """Draw a fitted 1-D ``GaussianMixture``'s density, with a density histogram of ``data``.

    The x-range covers ``data`` when given, else μ_k ± 4σ_k for every component. Returns the
    matplotlib ``Axes``; the first line is the mixture density, then one line per component.
    """
    import matplotlib.pyplot as plt

    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    means = getattr(model, "means_", None)
    if means is None or means.numel() == 0:
        raise ValueError("model must be a fitted GaussianMixture (means_ is empty)")
    if means.shape[1] != 1:
        raise ValueError(
            f"plot_mixture_density draws 1-D mixtures; the model has {means.shape[1]} features"
        )
    mu = means[:, 0].detach().cpu().numpy()  # (K,)
    cov = model.covariances_.detach().cpu().numpy().reshape(-1)  # (K,), or (1,) when tied
    var = np.broadcast_to(cov, mu.shape)  # (K,)
    w = model.weights_.detach().cpu().numpy()  # (K,)
    sd = np.sqrt(var)
    x = _as_1d(data) if data is not None else None
    lo = float((mu - 4 * sd).min()) if x is None else float(x.min())
    hi = float((mu + 4 * sd).max()) if x is None else float(x.max())
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    grid = torch.linspace(lo, hi, n_points, dtype=model.means_.dtype, device=model.means_.device)
    density = model.log_prob(grid[:, None]).exp().cpu().numpy()  # (n_points,)
    g = grid.cpu().numpy()

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    ax.plot(g, density, color="C0", lw=2, label="p(x)")
    if components and len(mu) > 1:
        normal = torch.distributions.Normal(torch.as_tensor(mu), torch.as_tensor(sd))
        comps = (normal.log_prob(torch.as_tensor(g)[:, None]).exp() * torch.as_tensor(w)).numpy()
        for k in range(len(mu)):  # one curve per component (K is small)
            ax.plot(g, comps[:, k], ls="--", lw=1, label=f"w_{k} N(μ_{k}, σ_{k}²)")
    if x is not None:
        ax.hist(x, bins=bins, density=True, alpha=0.3, color="C1", label=f"data (n={x.size})")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
