"""Figures 6 and 7 of the chapter: kernel density estimates of 5 random points in D = 1 and D = 2.

Every curve and heat map is evaluated by a live :class:`bayesgen.models.kde.KDE` (its
``score_samples``); several bandwidths side by side show that a small h overfits (a spike on each
point) and a large h underfits (one broad bump).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.kde import KDE

__all__ = ["plot_kde_1d", "plot_kde_2d"]


def _fitted_kdes(kdes, data, bandwidths, n_points: int, seed: int, d: int) -> list[KDE]:
    """The KDEs to draw: the given fitted ones, or one per bandwidth on the same data."""
    if kdes is not None:
        kdes = [kdes] if isinstance(kdes, KDE) else list(kdes)
        if not kdes:
            raise ValueError("kdes must hold at least one fitted KDE")
        for k in kdes:
            if not isinstance(k, KDE) or not hasattr(k, "data_"):
                raise TypeError(f"kdes must be fitted KDE objects; got {type(k).__name__}")
            if k.n_features_in_ != d:
                raise ValueError(
                    f"this figure draws D={d} KDEs; got one with n_features_in_={k.n_features_in_}"
                )
        return kdes
    if data is None:
        if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
            raise ValueError(f"n_points must be an int >= 1; got {n_points!r}")
        g = torch.Generator().manual_seed(seed)
        data = torch.rand(n_points, d, generator=g, dtype=torch.float64)  # uniform on [0, 1]^d
    if isinstance(bandwidths, int | float | str):
        bandwidths = [bandwidths]
    if len(bandwidths) == 0:
        raise ValueError("bandwidths must hold at least one bandwidth")
    return [KDE(bandwidth=h).fit(data) for h in bandwidths]


def _label(k: KDE) -> str:
    if k.bandwidth_ is not None:
        return f"h = {k.bandwidth_:.3g}"
    return f"H = {k.bandwidth!r}" if isinstance(k.bandwidth, str) else "H (matrix)"


def plot_kde_1d(
    kdes: KDE | Sequence[KDE] | None = None,
    *,
    data: Any = None,
    bandwidths: Sequence[float] = (0.03, 0.1, 0.3),
    n_points: int = 5,
    seed: int = 0,
    grid: int = 400,
    xlim: tuple[float, float] = (0.0, 1.0),
    ax=None,
    path: str | Path | None = None,
):
    """Figure 6: KDE(x) = (1/K) Σ_k N(x; x^k, h²) on a grid, one curve per bandwidth.

    Draws the given fitted 1-D ``kdes``, or fits one KDE per bandwidth to ``data`` (default:
    ``n_points`` uniform points on [0, 1] drawn with ``seed``). The data points are marked on the
    x-axis. Returns the Axes (saved to ``path`` when given).
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    kdes = _fitted_kdes(kdes, data, bandwidths, n_points, seed, 1)
    lo, hi = (float(v) for v in xlim)
    if not hi > lo:
        raise ValueError(f"xlim must be (lo, hi) with hi > lo; got {xlim!r}")
    x = torch.linspace(lo, hi, grid, dtype=torch.float64)  # (G,)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for k in kdes:
        density = k.score_samples(x[:, None].to(k.data_)).exp().cpu().numpy()  # (G,)
        ax.plot(x.numpy(), density, lw=2, label=_label(k))
    pts = kdes[0].data_[:, 0].cpu().numpy()
    ax.plot(pts, np.zeros_like(pts), "o", color="C3", ms=7, label="data", clip_on=False)
    ax.set_xlabel("x")
    ax.set_ylabel("p(x)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.set_title(f"KDE in D = 1 ({len(pts)} points)")
    ax.legend()
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight", dpi=120)
    return ax


def plot_kde_2d(
    kdes: KDE | Sequence[KDE] | None = None,
    *,
    data: Any = None,
    bandwidths: Sequence[float] = (0.05, 0.2, 0.5),
    n_points: int = 5,
    seed: int = 0,
    grid: int = 100,
    lim: tuple[float, float] = (0.0, 1.0),
    axes: Sequence[Any] | None = None,
    path: str | Path | None = None,
):
    """Figure 7: a heat map of the 2-D Gaussian KDE on [lo, hi]², one panel per bandwidth.

    The RBF kernel gives circular level sets around each of the data points (marked in red).
    Draws the given fitted 2-D ``kdes`` or fits one per bandwidth (as :func:`plot_kde_1d`).
    Returns the list of Axes (the figure is saved to ``path`` when given).
    """
    import matplotlib

    if axes is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    kdes = _fitted_kdes(kdes, data, bandwidths, n_points, seed, 2)
    lo, hi = (float(v) for v in lim)
    if not hi > lo:
        raise ValueError(f"lim must be (lo, hi) with hi > lo; got {lim!r}")
    if axes is None:
        fig, axes = plt.subplots(
            1, len(kdes), figsize=(4.8 * len(kdes), 4), squeeze=False, layout="constrained"
        )
        axes = list(axes[0])
    else:
        axes = list(np.ravel(axes))
        if len(axes) != len(kdes):
            raise ValueError(f"axes must hold one Axes per KDE ({len(kdes)}); got {len(axes)}")
        fig = axes[0].figure
    t = torch.linspace(lo, hi, grid, dtype=torch.float64)
    g1, g2 = torch.meshgrid(t, t, indexing="xy")  # (G, G): g1 varies along columns
    pts_grid = torch.stack([g1.reshape(-1), g2.reshape(-1)], 1)  # (G*G, 2)
    for ax, k in zip(axes, kdes, strict=True):
        density = k.score_samples(pts_grid.to(k.data_)).exp().reshape(grid, grid).cpu().numpy()
        im = ax.imshow(
            density, origin="lower", extent=[lo, hi, lo, hi], cmap="viridis", aspect="auto"
        )
        fig.colorbar(im, ax=ax, label="density")
        pts = k.data_.cpu().numpy()
        ax.scatter(pts[:, 0], pts[:, 1], c="red", s=30)
        ax.set_xlabel(r"$x_1$")
        ax.set_ylabel(r"$x_2$")
        ax.set_title(f"KDE in D = 2, {_label(k)}")
    if path is not None:
        fig.savefig(path, bbox_inches="tight", dpi=120)
    return axes
