"""Figure 12: a normalizing flow in both directions, through its intermediate variables.

Top row, generation (z₀ → x): base draws z₀ ~ N(0, I) pushed through T_1, …, T_K, each panel one
variable of the chain z₀ → z₁ → … → x. Bottom row, density (x → z₀): data pulled back through
T_K⁻¹, …, T_1⁻¹, the inverse pass that gives log p(x) = log N(z₀) − Σ_k log|det J_k|. Both rows
are computed by the live model (its network's steps); the points are coloured by their base
angle (top) or by the data's first coordinate (bottom) so they can be followed across panels.
:func:`plot_flow_density` draws p(x) on a grid with samples beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["plot_flow", "plot_flow_density"]


def _check_2d(model: Any) -> None:
    if tuple(getattr(model, "event_shape", ())) != (2,):
        raise ValueError(
            f"model must be a flow over 2-D points, got event_shape "
            f"{getattr(model, 'event_shape', None)!r}"
        )


def _save(fig, path: str | Path | None):
    if path is not None:
        fig.savefig(path, bbox_inches="tight", dpi=110)
    return fig


def plot_flow(
    model: Any,
    data: torch.Tensor,
    *,
    n: int = 2000,
    y: torch.Tensor | None = None,
    seed: int = 0,
    path: str | Path | None = None,
    title: str | None = None,
):
    """Figure 12 for a 2-D :class:`~bayesgen.generative.Flow`: the chain's variables in both
    directions (top: z₀ → x sampling; bottom: x → z₀ inverse pass of ``data`` (B, 2)). Returns
    the matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check_2d(model)
    data = torch.as_tensor(data, dtype=model.dtype)
    if data.dim() != 2 or data.shape[1] != 2:
        raise ValueError(f"data must have shape (B, 2), got {tuple(data.shape)}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        dist = model.distribution(y, n)
        z = torch.randn(n, 2, generator=g, dtype=model.dtype)
        forward = [z]
        for step in dist.steps:
            forward.append(step(forward[-1]))
        ydata = None if y is None else y[: len(data)]
        backward, _ = model.distribution(ydata, len(data)).trajectory(data)
    K = len(forward)
    names = [f"z{k}" for k in range(K - 1)] + ["x"]
    fig, axes = plt.subplots(2, K, figsize=(2.6 * K, 5.4), squeeze=False)
    colour_top = torch.atan2(z[:, 1], z[:, 0]).numpy()
    colour_bottom = data[:, 0].numpy()
    for k in range(K):
        for row, pts, colour, cmap in (
            (0, forward[k], colour_top, "hsv"),
            (1, backward[k], colour_bottom, "viridis"),
        ):
            ax = axes[row, k]
            p = pts.numpy()
            ax.scatter(p[:, 0], p[:, 1], c=colour, cmap=cmap, s=2, alpha=0.6, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal", adjustable="datalim")
        axes[0, k].set_title(names[k] + (" = T(z)" if k == K - 1 else ""), fontsize=10)
        if k < K - 1:
            axes[0, k].annotate(
                f"T{k + 1} →", (1.02, 0.5), xycoords="axes fraction", fontsize=9, va="center"
            )
            axes[1, k].annotate(
                f"← T{k + 1}⁻¹", (1.0, 0.5), xycoords="axes fraction", fontsize=9, va="center"
            )
    axes[0, 0].set_ylabel("sampling  z₀ → x")
    axes[1, 0].set_ylabel("density  x → z₀")
    fig.suptitle(title or f"normalizing flow ({model.transform}, {K - 1} steps), both directions")
    fig.tight_layout()
    return _save(fig, path)


def plot_flow_density(
    model: Any,
    data: torch.Tensor | None = None,
    *,
    n: int = 2000,
    y: torch.Tensor | None = None,
    lim: float | None = None,
    resolution: int = 200,
    seed: int = 0,
    path: str | Path | None = None,
    title: str | None = None,
):
    """p(x) of a 2-D flow on a grid (left), its samples (middle) and ``data`` (right, if given).
    ``lim`` is the half-width of the square drawn about the data's centre (default: from the
    data's extent, or the samples' without data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check_2d(model)
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    with torch.no_grad():
        samples = model.sample(n, y, generator=torch.Generator().manual_seed(seed))
    ref = (samples if data is None else torch.as_tensor(data)).to(model.dtype)
    lo, hi = ref.quantile(0.002, dim=0), ref.quantile(0.998, dim=0)  # (2,) each
    centre = (lo + hi) / 2
    half = float((hi - lo).max()) * 0.6 if lim is None else float(lim)
    ext = (float(centre[0]) - half, float(centre[0]) + half)
    eyt = (float(centre[1]) - half, float(centre[1]) + half)
    tx = torch.linspace(*ext, resolution, dtype=model.dtype)
    ty = torch.linspace(*eyt, resolution, dtype=model.dtype)
    grid = torch.cartesian_prod(tx, ty)  # (R², 2), x varies slowest
    yg = None if y is None else y[:1].expand(len(grid), *y.shape[1:])
    with torch.no_grad():
        density = model.log_prob(grid, yg).exp().reshape(resolution, resolution).T.numpy()
    panels = 2 if data is None else 3
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.6))
    axes[0].imshow(density, origin="lower", extent=(*ext, *eyt), cmap="magma")
    axes[0].set_title("p(x), exact (change of variables)", fontsize=10)
    s = samples.numpy()
    axes[1].scatter(s[:, 0], s[:, 1], s=2, alpha=0.5, linewidths=0)
    axes[1].set_title(f"{n} samples x = T(z₀)", fontsize=10)
    if data is not None:
        d = np.asarray(torch.as_tensor(data))
        axes[2].scatter(d[:, 0], d[:, 1], s=2, alpha=0.5, linewidths=0, color="tab:green")
        axes[2].set_title("data", fontsize=10)
    for ax in axes:
        ax.set_xlim(*ext)
        ax.set_ylim(*eyt)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
