"""Figure 12 is drawn from the live flow: its panels hold the chain's variables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bayesgen.generative import Flow  # noqa: E402
from bayesgen.plot import plot_flow, plot_flow_density  # noqa: E402


def _model() -> Flow:
    torch.manual_seed(0)
    model = Flow(2, transform="realnvp", layers=2, hidden=(8,))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def test_figure_12_panels_are_the_chain(tmp_path):
    model = _model()
    data = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    fig = plot_flow(model, data, n=100, path=tmp_path / "fig12.png")
    assert (tmp_path / "fig12.png").stat().st_size > 0
    axes = np.array(fig.axes).reshape(2, 3)
    top = [ax.collections[0].get_offsets() for ax in axes[0]]
    bottom = [ax.collections[0].get_offsets() for ax in axes[1]]
    with torch.no_grad():
        pushed = model.distribution(None).push(
            torch.as_tensor(np.asarray(top[0]), dtype=torch.float32)
        )
        values, _ = model.joint(data)
    np.testing.assert_allclose(np.asarray(top[-1]), pushed.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(bottom[-1]), data.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(bottom[0]), values["z0"].numpy(), atol=1e-6)
    assert [ax.get_title() for ax in axes[0]] == ["z0", "z1", "x = T(z)"]
    plt.close(fig)


def test_density_panel_and_errors(tmp_path):
    model = _model()
    fig = plot_flow_density(model, n=200, resolution=30, path=tmp_path / "d.png")
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (30, 30) and np.all(np.asarray(image) >= 0)
    plt.close(fig)
    with pytest.raises(ValueError, match="2-D points"):
        plot_flow(Flow(3, layers=1, hidden=(4,)), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="shape"):
        plot_flow(model, torch.zeros(4, 3))
