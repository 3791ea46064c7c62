"""Figure 8 and the receptive-field figure are drawn from the model's own structure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from bayesgen.generative.arm import ARM, PixelCNN, Transformer  # noqa: E402
from bayesgen.plot.arm import draw_chain, draw_receptive_field  # noqa: E402


def _arrows(ax) -> int:
    return sum(isinstance(p, FancyArrowPatch) for p in ax.patches)


def test_chain_draws_every_forward_edge(tmp_path):
    model = ARM(5, vocab_size=3, backbone=Transformer(1, 1, 8))
    ax = draw_chain(model, tmp_path / "chain.png", title="figure 8")
    assert _arrows(ax) == 5 * 4 // 2 == len(model.network.dag.edges)
    assert (tmp_path / "chain.png").stat().st_size > 0
    plt.close("all")


def test_long_chain_is_elided_without_building_the_network():
    model = ARM(256, vocab_size=3, backbone=Transformer(1, 1, 8))
    ax = draw_chain(model, max_nodes=6)
    assert _arrows(ax) == 6 * 5 // 2
    assert "_network" not in model.__dict__
    assert any(t.get_text() == "…" for t in ax.texts)
    plt.close("all")


def test_pixelcnn_chain_keeps_only_receptive_field_edges():
    model = ARM((3, 3), backbone=PixelCNN(4, 0, kernel=3, first_kernel=3))
    ax = draw_chain(model, max_nodes=9)
    assert _arrows(ax) == int(model.dependency().sum()) < 9 * 8 // 2
    plt.close("all")


def test_receptive_field_figure(tmp_path):
    model = ARM((5, 5), backbone=PixelCNN(4, 1, kernel=3, first_kernel=3))
    ax = draw_receptive_field(model, (2, 2), tmp_path / "rf.png")
    n = len(model.parents_of(12))
    assert ax.get_xlabel().startswith(f"{n} parents; {12 - n} earlier")
    with pytest.raises(ValueError, match="pixel must lie"):
        draw_receptive_field(model, (5, 0))
    with pytest.raises(ValueError, match="image"):
        draw_receptive_field(ARM(4, vocab_size=2, backbone=Transformer(1, 1, 8)), (0, 0))
    plt.close("all")
