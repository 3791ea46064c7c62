"""Conversion to and from networkx DiGraphs."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import torch

from bayesgen.examples import student
from bayesgen.graph import DAG, CycleError
from bayesgen.io import bnlearn, from_networkx, to_networkx
from bayesgen.network import BayesNet


def assert_same(a: BayesNet, b: BayesNet) -> None:
    assert a.name == b.name
    assert list(a.factors) == list(b.factors)
    for v, f in a.factors.items():
        g = b.factors[v]
        assert g.variable == f.variable and g.parent_names == f.parent_names
        assert torch.equal(g.probs, f.probs), v


@pytest.fixture(scope="module")
def child() -> BayesNet:
    return bnlearn.load("child")


def test_graph_matches_networkx_view_of_the_structure(child):
    g = to_networkx(child)
    assert g.graph["name"] == "child"
    assert nx.is_directed_acyclic_graph(g)
    assert set(g.edges) == set(child.dag.edges)
    assert list(g.nodes) == list(child.order)
    for v in g.nodes:
        assert list(g.predecessors(v)) == list(child.parents(v))
        assert tuple(g.nodes[v]["states"]) == child.variables[v].states
        np.testing.assert_array_equal(np.asarray(g.nodes[v]["probs"]), child[v].probs.numpy())
    # networkx's ancestry agrees with ours
    for v in ("Disease", "XrayReport", "LowerBodyO2"):
        assert nx.ancestors(g, v) == child.dag.ancestors(v)


def test_round_trip_is_identical_also_through_json(child):
    assert_same(child, from_networkx(to_networkx(child)))
    data = json.loads(json.dumps(nx.node_link_data(to_networkx(child), edges="links")))
    assert_same(child, from_networkx(nx.node_link_graph(data, edges="links")))


def test_parents_attribute_orders_the_table_axes():
    """A graph whose in-edges were added in the other order: `parents` decides the axes."""
    net = student()
    g = nx.DiGraph(name="student")
    for v in ("x1", "x2", "x3"):
        g.add_node(v, states=["0", "1"], probs=net[v].probs.tolist())
    # p(x4 | x3, x2): the same table with the parent axes swapped
    g.add_node(
        "x4",
        states=["0", "1"],
        parents=["x3", "x2"],
        probs=net["x4"].probs.transpose(0, 1).tolist(),
    )
    g.add_edges_from([("x1", "x2"), ("x1", "x3"), ("x2", "x4"), ("x3", "x4")])
    other = from_networkx(g)
    assert other["x4"].parent_names == ("x3", "x2")
    assert other["x4"].probs[1, 0, 1].item() == 0.60  # [x3=1, x2=0, x4=1]: p(x4=1 | 0, 1)
    assert other["x4"].probs[0, 1, 1].item() == 0.65  # [x3=0, x2=1, x4=1]: p(x4=1 | 1, 0)
    data = {
        "x1": torch.tensor([0, 1, 1]),
        "x2": torch.tensor([1, 0, 1]),
        "x3": torch.tensor([1, 1, 0]),
        "x4": torch.tensor([1, 0, 1]),
    }
    assert torch.equal(other.log_prob(data), net.log_prob(data))


def test_structure_only_graphs_become_dags():
    g = nx.DiGraph([("x1", "x2"), ("x1", "x3"), ("x2", "x4"), ("x3", "x4")])
    dag = from_networkx(g)
    assert isinstance(dag, DAG)
    assert set(dag.edges) == set(g.edges)
    assert dag.d_separated("x3", "x2", given="x1")
    back = to_networkx(dag)
    assert set(back.edges) == set(g.edges) and list(back.nodes) == list(dag.order)
    with pytest.raises(CycleError, match="cycle"):
        from_networkx(nx.DiGraph([("a", "b"), ("b", "a")]))


def test_bad_graphs_are_rejected():
    with pytest.raises(TypeError, match="DiGraph"):
        from_networkx(nx.Graph([("a", "b")]))
    g = to_networkx(student())
    del g.nodes["x3"]["probs"]
    with pytest.raises(ValueError, match=r"node 'x3' lacks the attribute\(s\) \['probs'\]"):
        from_networkx(g)
    g = to_networkx(student())
    g.nodes["x4"]["parents"] = ["x1", "x2"]
    with pytest.raises(ValueError, match=r"node 'x4': attribute parents=\['x1', 'x2'\] does not"):
        from_networkx(g)
    g = to_networkx(student())
    g.nodes["x2"]["probs"] = [[0.8, 0.2], [0.25, 0.70]]
    with pytest.raises(ValueError, match=r"table of 'x2': row \(x1=1\) sums to 0.95"):
        from_networkx(g)
