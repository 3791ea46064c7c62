"""Figure 11 of the chapter drawn from a live :class:`~bayesgen.generative.Diffusion`: the
forward network q (x → z_1 → … → z_T, fixed Gaussian steps) above the reverse network p
(z_T → … → z_1 → x, one shared neural factor), and snapshots of the forward noising and the
reverse denoising of 2-D data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ._mpl import pyplot, save

__all__ = ["draw_diffusion_networks", "plot_diffusion_snapshots"]

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _label(name: str) -> str:
    return name if name == "x" else "z" + name[1:].translate(_SUB)


def _column(name: str) -> int:
    return 0 if name == "x" else int(name[1:])


def _edges(net) -> list[tuple[str, str]]:
    """The network's DAG edges, plus x → z for a factor that takes x as its context (q)."""
    edges = list(net.dag.edges)
    names = set(net.factors)
    for name, factor in net.factors.items():
        if not factor.parents and "x" not in names and name != "x":
            edges.append(("x", name))
    return edges


def draw_diffusion_networks(model, path: str | Path | None = None, *, shown: int = 3):
    """Both DAGs of figure 11, read from ``model.networks``: q on top, p below; chains longer
    than ``shown`` + 1 steps show z_1..z_shown, an ellipsis and z_T. Returns the figure."""
    plt = pyplot(path)
    from matplotlib.patches import Circle, FancyArrowPatch

    nets = model.networks
    T = model.timesteps
    cols = list(range(0, min(T, shown) + 1))
    gap = T > shown + 1
    if T > shown:
        cols.append(T)

    def xpos(t: int) -> float:
        return float(cols.index(t) + (1 if gap and t == T else 0))

    width = xpos(T) + 1
    fig, ax = plt.subplots(figsize=(1.5 * width + 1, 3.6))
    rows = {"q": 1.0, "p": 0.0}
    captions = {
        "q": "q: forward chain, fixed Gaussian factors q(zₜ | zₜ₋₁) = N(√αₜ zₜ₋₁, βₜ I)",
        "p": "p: reverse chain, one neural Normal factor p(zₜ₋₁ | zₜ) shared over t",
    }
    r = 0.28
    for key, net in (("q", nets["q"]), ("p", nets["p"])):
        yrow = rows[key]
        nodes = {"x"} | set(net.factors)
        for name in nodes:
            t = _column(name)
            if t not in cols:
                continue
            observed = name == "x"
            ax.add_patch(
                Circle(
                    (xpos(t), yrow),
                    r,
                    facecolor="#cfd8e3" if observed else "white",
                    edgecolor="black",
                    lw=1.3,
                )
            )
            ax.text(xpos(t), yrow, _label(name), ha="center", va="center", fontsize=12)
        for a, b in _edges(net):
            ta, tb = _column(a), _column(b)
            if ta not in cols or tb not in cols:
                continue
            xa, xb = xpos(ta), xpos(tb)
            sign = 1 if xb > xa else -1
            ax.add_patch(
                FancyArrowPatch(
                    (xa + sign * r, yrow),
                    (xb - sign * r, yrow),
                    arrowstyle="-|>",
                    mutation_scale=14,
                    color="black" if key == "p" else "#555555",
                    lw=1.2,
                )
            )
        if gap:
            g = xpos(shown) + 1
            ax.text(g, yrow, "…", ha="center", va="center", fontsize=16)
            for x0, x1 in ((xpos(shown) + r, g - 0.25), (g + 0.25, xpos(T) - r)):
                ax.annotate(
                    "",
                    xy=(x1, yrow) if key == "q" else (x0, yrow),
                    xytext=(x0, yrow) if key == "q" else (x1, yrow),
                    arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.0),
                )
        ax.text(-0.45, yrow + 0.42, captions[key], fontsize=9, ha="left")
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-0.5, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"diffusion model, T = {T} (figure 11)")
    return save(fig, path)


def plot_diffusion_snapshots(
    model,
    x: torch.Tensor,
    path: str | Path | None = None,
    *,
    times: Sequence[int] | None = None,
    n: int | None = None,
    sampler: str = "ancestral",
    steps: int | None = None,
    seed: int = 0,
):
    """Two rows of 2-D scatter plots at the steps ``times``: the data x noised by
    q(z_t | x) (top), and the reverse chain's states z_t from z_T ~ N(0, I) (bottom)."""
    plt = pyplot(path)

    if model.features != 2:
        raise ValueError(f"the snapshots draw 2-D data; the model has D={model.features}")
    T = model.timesteps
    g = torch.Generator().manual_seed(seed)
    n = len(x) if n is None else n
    if sampler == "ddim":
        visited = [*model.ddim_timesteps(steps or min(50, T)), 0]
    else:
        visited = list(range(T, -1, -1))
    with torch.no_grad():
        times = list(times) if times is not None else None
        if times is None:
            times = [visited[round(i * (len(visited) - 1) / 4)] for i in range(4, -1, -1)]
        missing = [t for t in times if t not in visited]
        if missing:
            raise ValueError(f"times must be steps the sampler visits, got {missing}")
        _, states = model.trajectory(
            n,
            generator=torch.Generator().manual_seed(seed),
            sampler=sampler,
            steps=steps,
            keep=times,
        )
        x = x.to(model.dtype)
        noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
        forward = {
            t: x if t == 0 else model.add_noise(x, noise, torch.full((len(x),), t)) for t in times
        }
    fig, axes = plt.subplots(2, len(times), figsize=(2.6 * len(times), 5.4), squeeze=False)
    lim = float(x.abs().max()) * 1.3 + 0.5
    for j, t in enumerate(times):
        for i, (pts, colour) in enumerate(((forward[t], "#1f77b4"), (states[t], "#d62728"))):
            ax = axes[i, j]
            pts = pts.detach().cpu()
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, color=colour)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            ax.set_title(f"{'q(z_t | x)' if i == 0 else 'p, reverse'}: t = {t}", fontsize=9)
    fig.suptitle(f"forward noising (top) and reverse denoising (bottom), {sampler}, T = {T}")
    fig.tight_layout()
    return save(fig, path)
