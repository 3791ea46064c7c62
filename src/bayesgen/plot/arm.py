"""Figures of an autoregressive model: the chain x_1 → … → x_T with every forward edge
(figure 8, elided in the middle when T is long) and the parents of one pixel on the image grid
(the receptive field of a PixelCNN's masks)."""

from __future__ import annotations

import torch

from .._checks import check_int
from ._mpl import save

__all__ = ["draw_chain", "draw_receptive_field"]


def _finish(fig, path, title: str | None, ax):
    if title:
        ax.set_title(title)
    save(fig, path)
    return ax


def draw_chain(model, path=None, ax=None, *, max_nodes: int = 8, title: str | None = None):
    """Figure 8: nodes x_1..x_T in a row and an arc for every edge x_s → x_t of the model's
    network. With T > ``max_nodes`` the first max_nodes − 2 and the last two are drawn, an
    ellipsis between them, and the edges among the drawn nodes (read from the model's
    dependency matrix, so the long network is never built)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    max_nodes = check_int("max_nodes", max_nodes, low=4)
    T = model.T
    if T <= max_nodes:
        shown = list(range(T))
        edges = [(int(n[1:]) - 1, int(m[1:]) - 1) for n, m in model.network.dag.edges]
    else:
        shown = [*range(max_nodes - 2), T - 2, T - 1]
        D = model.dependency().cpu()
        index = torch.tensor(shown)
        sub = D[index][:, index]  # (k, k): D[t, s] among the drawn nodes
        edges = [(shown[s], shown[t]) for t, s in sub.nonzero().tolist()]
    slot = {t: i + (1 if T > max_nodes and i >= max_nodes - 2 else 0) for i, t in enumerate(shown)}
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.1 * (max(slot.values()) + 1) + 0.5, 2.6))
    fig = ax.figure
    r = 0.32
    for t, i in slot.items():
        ax.add_patch(Circle((i, 0), r, facecolor="#dce9f7", edgecolor="black", zorder=3))
        label = (
            f"$x_{{{t + 1}}}$"
            if t < T - 2 or T <= max_nodes
            else ("$x_{T-1}$" if t == T - 2 else "$x_T$")
        )
        ax.text(i, 0, label, ha="center", va="center", fontsize=10, zorder=4)
    if T > max_nodes:
        ax.text(max_nodes - 2, 0, "…", ha="center", va="center", fontsize=18)
    for s, t in edges:
        a, b = slot[s], slot[t]
        rad = -0.5 if b - a > 1 else 0.0
        ax.add_patch(
            FancyArrowPatch(
                (a, 0),
                (b, 0),
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=10,
                shrinkA=13,
                shrinkB=13,
                lw=0.8,
                color="#333333",
                zorder=2,
            )
        )
    width = max(slot.values())
    ax.set_xlim(-0.6, width + 0.6)
    ax.set_ylim(-0.6, 0.25 * width + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return _finish(fig, path, title, ax)


def draw_receptive_field(model, pixel, path=None, ax=None, *, title: str | None = None):
    """The parents of one pixel (row, col) on the image grid, read from the model's masks:
    parents dark, the pixel red, the earlier pixels it does not see (a blind spot) hatched,
    later pixels white."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    if len(model.event_shape) != 2:
        raise ValueError(
            f"the model's event_shape must be an image (H, W), got {model.event_shape}"
        )
    H, W = model.event_shape
    i, j = pixel
    if not (0 <= i < H and 0 <= j < W):
        raise ValueError(f"pixel must lie in the {H}×{W} grid, got {pixel!r}")
    t = i * W + j
    parents = model.dependency()[t].cpu().reshape(H, W)
    before = (torch.arange(H * W) < t).reshape(H, W)
    grid = torch.zeros(H, W)  # 0 later pixels
    grid[before & ~parents] = 1  # earlier but unseen
    grid[parents] = 2
    grid[i, j] = 3
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4 * H / W))
    fig = ax.figure
    cmap = ListedColormap(["white", "#f2d7a6", "#2c5d8f", "#c0392b"])
    ax.imshow(grid.numpy(), cmap=cmap, vmin=0, vmax=3)
    ax.set_xticks([x - 0.5 for x in range(W + 1)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(H + 1)], minor=True)
    ax.grid(which="minor", color="#999999", lw=0.4)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    n_par, n_blind = int(parents.sum()), int((before & ~parents).sum())
    ax.set_xlabel(f"{n_par} parents; {n_blind} earlier pixels outside the receptive field")
    return _finish(fig, path, title or f"parents of pixel ({i}, {j})", ax)
