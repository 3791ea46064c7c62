"""Energy models drawn as what they are: the undirected graph of a Markov random field over x's
coordinates (not a DAG), and Langevin samples side by side (Song & Ermon's toy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ._mpl import pyplot, save

__all__ = ["draw_mrf", "plot_langevin"]


def draw_mrf(model_or_graph, path: str | Path | None = None, *, ax=None, title: str | None = None):
    """The undirected graph (``model.graph``, a networkx Graph) on a circle, edges without
    arrows. Returns the axes."""
    plt = pyplot(path)
    import networkx as nx

    g = getattr(model_or_graph, "graph", model_or_graph)
    if not isinstance(g, nx.Graph) or g.is_directed():
        raise TypeError(f"draw_mrf draws an undirected networkx Graph, got {type(g).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    pos = nx.circular_layout(g)
    nx.draw_networkx_edges(g, pos, ax=ax, width=1.2)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color="white", edgecolors="black", node_size=900)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=9)
    ax.set_title(title or g.graph.get("name", "Markov random field"), fontsize=10)
    ax.axis("off")
    ax.margins(0.15)
    save(ax.figure, path)
    return ax


def plot_langevin(
    panels: Mapping[str, torch.Tensor],
    path: str | Path | None = None,
    *,
    modes: Sequence[Sequence[float]] | None = None,
    limit: float = 10.0,
    title: str | None = None,
):
    """One scatter panel per name → samples (n, 2), with the mixture's ``modes`` marked."""
    plt = pyplot(path)

    if not panels:
        raise ValueError("panels must hold at least one set of samples")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6), squeeze=False)
    for ax, (name, pts) in zip(axes[0], panels.items(), strict=True):
        pts = torch.as_tensor(pts).detach().cpu()
        if pts.dim() != 2 or pts.shape[1] != 2:
            raise ValueError(f"panel {name!r} must be samples of shape (n, 2), got {pts.shape}")
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.4)
        for m in modes or ():
            ax.plot(*m, marker="x", color="red", ms=10, mew=2)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
