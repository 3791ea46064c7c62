"""Drawing DAGs: layouts (layered, or the DAG's own), arcs around nodes, saved figures."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from matplotlib.patches import Circle, FancyArrowPatch  # noqa: E402

from bayesgen.examples import student  # noqa: E402
from bayesgen.graph import DAG, time_layout  # noqa: E402
from bayesgen.models import HMM, MarkovChain  # noqa: E402
from bayesgen.plot import draw_dag  # noqa: E402
from bayesgen.plot.dag import _crosses_a_node, layered_layout  # noqa: E402


def _drawn(ax):
    circles = {p.center: p for p in ax.patches if isinstance(p, Circle)}
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return circles, arrows


def test_layered_layout_puts_parents_above_children():
    dag = student().dag
    pos = layered_layout(dag)
    for u, v in dag.edges:
        assert pos[u][1] > pos[v][1]
    assert pos["x2"][1] == pos["x3"][1]  # one layer, side by side
    assert pos["x2"][0] != pos["x3"][0]


def test_time_layout_and_the_chains_use_it():
    assert time_layout(["z1", "z2"], ["x1", "x2"], step=2.0) == {
        "z1": (0.0, 0.0),
        "z2": (2.0, 0.0),
        "x1": (0.0, -1.0),
        "x2": (2.0, -1.0),
    }
    seqs = torch.randint(0, 3, (4, 8), generator=torch.Generator().manual_seed(0))
    hmm = HMM(3, n_iter=1, random_state=0).fit(seqs).network.dag
    assert hmm.layout["z1"][1] == hmm.layout["z4"][1] > hmm.layout["x1"][1]
    chain = MarkovChain(order=2).fit(seqs).network.dag
    assert len({y for _, y in chain.layout.values()}) == 1  # one row, left to right
    sub = hmm.subgraph(["z1", "z2", "x2"])
    assert sub.layout == {v: hmm.layout[v] for v in ("z1", "z2", "x2")}


def test_layout_must_place_exactly_the_nodes():
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        DAG(edges=[("a", "b")], layout={"a": (0, 0)})
    with pytest.raises(ValueError, match=r"unknown node\(s\) \['c'\]"):
        DAG(edges=[("a", "b")], layout={"a": (0, 0), "b": (1, 0), "c": (2, 0)})


def test_crossing_test_is_geometry():
    assert _crosses_a_node((0, 0), (2, 0), [(1, 0.1)], 0.3)
    assert not _crosses_a_node((0, 0), (2, 0), [(1, 0.5)], 0.3)
    assert not _crosses_a_node((0, 0), (2, 0), [(3, 0)], 0.3)  # beyond the end point


def test_edges_that_would_cross_a_node_are_arcs_and_touch_the_rims(tmp_path):
    seqs = torch.randint(0, 3, (4, 8), generator=torch.Generator().manual_seed(0))
    g = MarkovChain(order=2).fit(seqs).unrolled(4).dag  # x1 -> x3 passes x2 on a straight line
    ax = draw_dag(g, tmp_path / "chain.png", node_size=0.3)
    assert (tmp_path / "chain.png").stat().st_size > 0
    circles, arrows = _drawn(ax)
    assert len(circles) == len(g) and len(arrows) == len(g.edges)
    arcs = [a for a in arrows if a.get_connectionstyle().rad != 0.0]
    assert len(arcs) == 2  # x1 -> x3 and x2 -> x4
    for a in arrows:  # both end points lie on some node's rim
        (x0, y0), (x1, y1) = a._posA_posB
        for x, y in ((x0, y0), (x1, y1)):
            rims = [abs(np.hypot(x - cx, y - cy) - 0.3) for cx, cy in circles]
            assert min(rims) < 1e-9


def test_pos_overrides_and_observed_are_shaded():
    dag = student().dag
    pos = {v: (float(i), 0.0) for i, v in enumerate(dag.order)}
    ax = draw_dag(dag, pos=pos, observed=["x4"])
    circles, _ = _drawn(ax)
    assert set(circles) == set(pos.values())
    assert circles[pos["x4"]].get_facecolor() != circles[pos["x1"]].get_facecolor()
    with pytest.raises(TypeError, match="cannot draw int"):
        draw_dag(3)
