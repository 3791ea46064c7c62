"""Figures of the VAE: the two DAGs of figure 9 drawn from the model's networks, the swiss roll
and its latent map, and image grids."""

from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch  # noqa: E402

from bayesgen.generative import VAE  # noqa: E402
from bayesgen.plot import plot_image_grid, plot_swiss_roll, plot_vae_networks  # noqa: E402


def test_vae_networks_draw_both_dags(tmp_path):
    vae = VAE(4, latent_dim=2, hidden=[8])
    fig = plot_vae_networks(vae, tmp_path / "vae.png")
    assert (tmp_path / "vae.png").stat().st_size > 0
    p_ax, q_ax = fig.axes
    for ax, (top, bottom) in ((p_ax, ("z", "x")), (q_ax, ("z", "x"))):
        circles = [c for c in ax.patches if isinstance(c, Circle)]
        arrows = [a for a in ax.patches if isinstance(a, FancyArrowPatch)]
        assert len(circles) == 2 and len(arrows) == 1
        labels = {t.get_text(): t.get_position() for t in ax.texts}
        assert labels[top][1] > labels[bottom][1]  # z above x in both panels
    # p points down (z → x), q up (x → z)
    (p_start, p_end), (q_start, q_end) = (
        a._posA_posB for ax in fig.axes for a in ax.patches if isinstance(a, FancyArrowPatch)
    )
    assert p_start[1] > p_end[1] and q_start[1] < q_end[1]
    plt.close(fig)


def test_swiss_roll_and_latent_map(tmp_path):
    x, t, z = torch.randn(50, 3), torch.rand(50), torch.randn(50, 2)
    fig = plot_swiss_roll(x, t, z, tmp_path / "roll.png")
    assert len([a for a in fig.axes if a.name == "3d"]) == 1
    assert (tmp_path / "roll.png").exists()
    plt.close(fig)


def test_image_grid_shape(tmp_path):
    fig = plot_image_grid(torch.rand(2, 3, 8, 8), tmp_path / "g.png", column_labels=list("abc"))
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "a"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(R, C, H, W\)"):
        plot_image_grid(torch.rand(3, 8, 8))
