"""Draw the DAG of a network or model: the DAG's own layout where it has one (chains unrolled in
time run left to right), else layered top-down, roots first, as in the chapter's figures."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["draw_dag", "layered_layout"]


def _as_dag(obj):
    from ..graph import DAG

    if isinstance(obj, DAG):
        return obj
    dag = getattr(obj, "dag", None)
    if isinstance(dag, DAG):
        return dag
    network = getattr(obj, "network", None)
    if network is not None:
        return _as_dag(network)
    raise TypeError(f"cannot draw {type(obj).__name__}: expected a DAG, a BayesNet or a model")


def layered_layout(dag) -> dict[str, tuple[float, float]]:
    """Positions by depth (longest path from a root) on y, and within a layer by the mean
    position of the parents (one barycentric sweep), centred on x."""
    depth: dict[str, int] = {}
    for v in dag.order:
        depth[v] = 1 + max((depth[p] for p in dag.parents(v)), default=-1)
    layers: dict[int, list[str]] = {}
    for v in dag.order:
        layers.setdefault(depth[v], []).append(v)
    pos: dict[str, tuple[float, float]] = {}
    for d in sorted(layers):
        nodes = layers[d]
        if d > 0:

            def key(v):
                xs = [pos[p][0] for p in dag.parents(v)]
                return sum(xs) / len(xs)

            nodes = sorted(nodes, key=key)
        width = len(nodes)
        for i, v in enumerate(nodes):
            pos[v] = (i - (width - 1) / 2, -float(d))
    return pos


def _crosses_a_node(
    a: tuple[float, float], b: tuple[float, float], centres: Iterable[tuple[float, float]], r: float
) -> bool:
    """Whether the segment a-b passes within r of one of ``centres`` (its end points excluded)."""
    (ax_, ay), (bx, by) = a, b
    dx, dy = bx - ax_, by - ay
    length2 = dx * dx + dy * dy
    for cx, cy in centres:
        t = ((cx - ax_) * dx + (cy - ay) * dy) / length2 if length2 else 0.0
        if 0.0 < t < 1.0 and math.hypot(ax_ + t * dx - cx, ay + t * dy - cy) < r:
            return True
    return False


def draw_dag(
    graph,
    path: str | Path | None = None,
    ax=None,
    *,
    title: str | None = None,
    observed: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    pos: Mapping[str, tuple[float, float]] | None = None,
    node_size: float = 0.32,
):
    """Draw a DAG (or the ``dag``/``network`` of a BayesNet or model) with matplotlib.

    Positions: ``pos``, else the DAG's ``layout``, else :func:`layered_layout`. An edge whose
    straight line would cross another node (x1 -> x3 in a chain) is drawn as an arc. Observed
    nodes are shaded, as in the chapter's figures. Returns the Axes; with ``path`` the
    figure is also saved there (PNG, SVG or PDF by extension).
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    dag = _as_dag(graph)
    if pos is None:
        pos = dag.layout if dag.layout is not None else layered_layout(dag)
    pos = dict(pos)
    observed = set(observed)
    labels = dict(labels or {})
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    if ax is None:
        w = max(3.0, 1.3 * (max(xs) - min(xs) + 1.5))
        h = max(2.5, 1.3 * (max(ys) - min(ys) + 1.5))
        fig, ax = plt.subplots(figsize=(w, h))
    else:
        fig = ax.figure
    for u, v in dag.edges:
        others = (pos[w] for w in pos if w not in (u, v))
        rad = -0.35 if _crosses_a_node(pos[u], pos[v], others, 1.2 * node_size) else 0.0
        (x0, y0), (x1, y1) = pos[u], pos[v]
        # matplotlib's arc3 control point: the edge leaves towards it and arrives from it
        cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)
        a0 = math.atan2(cy - y0, cx - x0)
        a1 = math.atan2(y1 - cy, x1 - cx)
        r = node_size
        ax.add_patch(
            FancyArrowPatch(
                (x0 + r * math.cos(a0), y0 + r * math.sin(a0)),  # on the circles' rims
                (x1 - r * math.cos(a1), y1 - r * math.sin(a1)),
                arrowstyle="-|>",
                mutation_scale=14,
                lw=1.2,
                color="0.2",
                shrinkA=0,
                shrinkB=1,
                zorder=1,
                connectionstyle=f"arc3,rad={rad}",
            )
        )
    for v, (x, y) in pos.items():
        face = "0.8" if v in observed else "white"
        ax.add_patch(Circle((x, y), node_size, facecolor=face, edgecolor="black", lw=1.4, zorder=2))
        ax.text(x, y, labels.get(v, v), ha="center", va="center", fontsize=11, zorder=3)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path, bbox_inches="tight", dpi=120)
    return ax
