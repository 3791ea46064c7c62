"""Figures of latent-variable models: the VAE's two DAGs (figure 9), the swiss roll and its
latent map (figure 13), and grids of decoded images (interpolations, figure 14; attribute
manipulation, figure 15). All drawn from live objects with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ._mpl import pyplot, save

__all__ = ["plot_vae_networks", "plot_swiss_roll", "plot_image_grid"]


def plot_vae_networks(model, path: str | Path | None = None):
    """Figure 9: the generative network p (z → x) and the inference network q (x → z), drawn
    from ``model.networks``, observed x shaded. Returns the Figure."""
    from .dag import draw_dag

    plt = pyplot(path)
    nets = model.networks
    fig, axes = plt.subplots(1, len(nets), figsize=(2.6 * len(nets), 3.2))
    pos = {"z": (0.0, 0.0), "x": (0.0, -1.4)}
    titles = {"p": "p(x, z) = p(z) p(x | z)", "q": "q(z | x)"}
    for ax, (name, net) in zip(axes, nets.items(), strict=True):
        draw_dag(net, ax=ax, observed=["x"], pos=pos, title=titles.get(name, name))
    return save(fig, path, dpi=120)


def plot_swiss_roll(x, t, z=None, path: str | Path | None = None):
    """Figure 13: the swiss roll in R³ coloured by its position t along the roll and, given
    latent codes z (N, 2), the latent map coloured the same way. Returns the Figure."""
    plt = pyplot(path)
    x, t = torch.as_tensor(x).cpu().numpy(), torch.as_tensor(t).cpu().numpy()
    fig = plt.figure(figsize=(10 if z is not None else 6, 4.6))
    ax = fig.add_subplot(1, 2 if z is not None else 1, 1, projection="3d")
    ax.scatter(x[:, 0], x[:, 1], x[:, 2], c=t, s=1, cmap="viridis")
    ax.view_init(elev=10, azim=110)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.fill = False
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    ax.set_zlabel(r"$x_3$")
    ax.grid(False)
    ax.set_title("swiss roll (colour: t)")
    if z is not None:
        z = torch.as_tensor(z).detach().cpu().numpy()
        ax2 = fig.add_subplot(1, 2, 2)
        points = ax2.scatter(z[:, 0], z[:, 1], c=t, s=1, cmap="viridis")
        ax2.set_xlabel(r"$z_1$")
        ax2.set_ylabel(r"$z_2$")
        ax2.set_title("latent map: posterior means (colour: t)")
        fig.colorbar(points, ax=ax2, label="t")
    return save(fig, path)


def plot_image_grid(
    images,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    column_labels: Sequence[str] | None = None,
):
    """Rows × columns of grey images, ``images`` (R, C, H, W) in [0, 1] (figures 14 and 15:
    one interpolation or one manipulated digit per row). Returns the Figure."""
    plt = pyplot(path)
    images = torch.as_tensor(images).detach().cpu()
    if images.dim() != 4:
        raise ValueError(f"images must have shape (R, C, H, W), got {tuple(images.shape)}")
    R, C = images.shape[:2]
    size = (0.9 * C, 0.9 * R + (0.4 if title else 0))
    fig, axes = plt.subplots(R, C, figsize=size, squeeze=False)
    for i in range(R):
        for j in range(C):
            ax = axes[i][j]
            ax.imshow(images[i, j].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if column_labels is not None and i == 0:
                ax.set_title(column_labels[j], fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, path)
