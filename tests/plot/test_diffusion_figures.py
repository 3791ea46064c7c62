"""The diffusion and energy figures are drawn from live models."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bayesgen.generative import Diffusion, EnergyModel  # noqa: E402
from bayesgen.plot.diffusion import draw_diffusion_networks, plot_diffusion_snapshots  # noqa: E402
from bayesgen.plot.energy import draw_mrf, plot_langevin  # noqa: E402


@pytest.mark.parametrize("T", [4, 50])
def test_figure_11_draws_both_chains(T, tmp_path):
    model = Diffusion(2, timesteps=T, hidden=(8,))
    fig = draw_diffusion_networks(model, tmp_path / "fig11.png")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"x", "z₁", "z₂", "z₃"} <= labels and "z" + str(T).translate(
        str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    ) in labels
    assert ("…" in labels) == (T > 4)
    assert (tmp_path / "fig11.png").stat().st_size > 0
    plt.close(fig)


def test_snapshots_and_energy_figures(tmp_path):
    torch.manual_seed(0)
    model = Diffusion(2, timesteps=20, hidden=(8,))
    x = torch.randn(100, 2)
    fig = plot_diffusion_snapshots(model, x, tmp_path / "snap.png", sampler="ddim", steps=10)
    assert len(fig.axes) == 10
    plt.close(fig)
    with pytest.raises(ValueError, match="times must be"):
        plot_diffusion_snapshots(model, x, times=[4], sampler="ddim", steps=10)
    energy = EnergyModel(3, hidden=(8,))
    ax = draw_mrf(energy, tmp_path / "mrf.png")
    assert len(ax.collections) >= 2  # edges and nodes
    plt.close(ax.figure)
    fig = plot_langevin({"a": torch.randn(50, 2), "b": torch.randn(50, 2)}, modes=[(5, 5)])
    assert len(fig.axes) == 2
    plt.close(fig)
