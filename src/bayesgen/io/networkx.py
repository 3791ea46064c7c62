"""Conversion to and from ``networkx.DiGraph``.

A discrete network becomes a DiGraph whose nodes carry ``states`` (list of labels), ``parents``
(the order of the table's axes) and ``probs`` (the table p(x | Pa(x)) as a nested list of shape
(*parent_cards, card), exact float64 values, JSON-friendly); the graph's ``name`` is the
network's. A graph without those attributes is structure only and comes back as a
:class:`~bayesgen.graph.DAG`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from ..graph import DAG

if TYPE_CHECKING:
    from ..network import BayesNet

__all__ = ["to_networkx", "from_networkx"]

_ATTRS = ("states", "probs")


def to_networkx(net: BayesNet | DAG) -> nx.DiGraph:
    """A DiGraph of a :class:`~bayesgen.network.BayesNet` of tables, or of a bare :class:`DAG`.

    Nodes are added in topological order and each node's in-edges in its parents' order.
    """
    if isinstance(net, DAG):
        g = nx.DiGraph()
        g.add_nodes_from(net.order)
        g.add_edges_from((p, v) for v in net.order for p in net.parents(v))
        return g
    from ..factors import Table

    g = nx.DiGraph(name=net.name)
    for name, f in net.factors.items():
        if not isinstance(f, Table):
            raise TypeError(
                f"only tables can be stored on a graph; the factor of {name!r} is a "
                f"{type(f).__name__} (use to_networkx(net.dag) for the structure)"
            )
        g.add_node(
            name,
            states=list(f.variable.states),
            parents=list(f.parent_names),
            probs=f.probs.detach().cpu().double().tolist(),
        )
    for name, f in net.factors.items():
        g.add_edges_from((p, name) for p in f.parent_names)
    return g


def from_networkx(g: nx.DiGraph) -> BayesNet | DAG:
    """A BayesNet when every node has ``states`` and ``probs``, a DAG when none has.

    ``parents`` (optional) orders the table's axes; without it the order of ``g.predecessors``
    is used. It must name exactly the node's predecessors.
    """
    if not isinstance(g, nx.Graph) or not g.is_directed():
        raise TypeError(f"g must be a networkx DiGraph, got {type(g).__name__}")
    nodes = list(g.nodes)
    with_attrs = [v for v in nodes if any(a in g.nodes[v] for a in _ATTRS)]
    if not with_attrs:
        return DAG(nodes=nodes, edges=list(g.edges))
    for v in nodes:
        lacking = [a for a in _ATTRS if a not in g.nodes[v]]
        if lacking:
            raise ValueError(
                f"node {v!r} lacks the attribute(s) {lacking}; either every node carries "
                f"{list(_ATTRS)} (a network) or none does (a structure)"
            )
    from ..factors import Table
    from ..network import BayesNet
    from ..variables import Discrete

    variables = {v: Discrete(v, g.nodes[v]["states"]) for v in nodes}
    factors = []
    for v in nodes:
        data = g.nodes[v]
        preds = list(g.predecessors(v))
        parents = list(data.get("parents", preds))
        if sorted(map(str, parents)) != sorted(map(str, preds)):
            raise ValueError(
                f"node {v!r}: attribute parents={parents} does not match its in-edges from {preds}"
            )
        probs = np.asarray(data["probs"], dtype=np.float64)  # (*parent_cards, card)
        factors.append(Table(variables[v], [variables[p] for p in parents], probs))
    return BayesNet(factors, name=g.graph.get("name"))
