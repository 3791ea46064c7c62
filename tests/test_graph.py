import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesgen.graph import DAG, CycleError

STUDENT = [("x1", "x2"), ("x1", "x3"), ("x2", "x4"), ("x3", "x4")]


def test_structure_of_the_student_network():
    g = DAG(edges=STUDENT)
    assert g.order == ("x1", "x2", "x3", "x4")
    assert g.parents("x4") == ("x2", "x3")
    assert g.children("x1") == ("x2", "x3")
    assert g.roots() == ("x1",) and g.leaves() == ("x4",)
    assert g.ancestors("x4") == {"x1", "x2", "x3"}
    assert g.descendants("x1") == {"x2", "x3", "x4"}
    assert g.markov_blanket("x2") == {"x1", "x4", "x3"}


def test_cycle_is_named():
    with pytest.raises(CycleError, match=r"x1 -> x2 -> x1"):
        DAG(edges=[("x1", "x2"), ("x2", "x1")])
    with pytest.raises(CycleError, match=r"a -> b -> c -> a"):
        DAG(edges=[("s", "a"), ("a", "b"), ("b", "c"), ("c", "a")])


def test_self_loop_and_duplicates_rejected():
    with pytest.raises(CycleError, match="a -> a"):
        DAG(edges=[("a", "a")])
    with pytest.raises(ValueError, match="duplicate node name 'a'"):
        DAG(nodes=["a", "a"])
    with pytest.raises(ValueError, match="duplicate edge a -> b"):
        DAG(edges=[("a", "b"), ("a", "b")])
    with pytest.raises(KeyError, match="unknown node 'zz'"):
        DAG(edges=STUDENT).parents("zz")


def test_parameter_counts():
    g = DAG(edges=STUDENT)
    cards = dict.fromkeys(g.nodes, 2)
    assert g.full_joint_parameter_count(cards) == 2**4 - 1
    assert g.parameter_count(cards) == 1 + 2 + 2 + 4
    # p(x4 | x1, x2, x3) needs 8 rows, p(x4 | x2, x3) needs 4 (§2.1.1)
    full = DAG(edges=STUDENT + [("x1", "x4")])
    assert full.parameter_count(cards) - g.parameter_count(cards) == 8 - 4


def test_student_independences():
    g = DAG(edges=STUDENT)
    assert g.d_separated("x3", "x2", given="x1")
    assert g.d_separated("x4", "x1", given=["x2", "x3"])
    assert not g.d_separated("x2", "x3")
    assert not g.d_separated("x2", "x3", given=["x1", "x4"])  # explaining away through x4


@st.composite
def random_dags(draw):
    n = draw(st.integers(3, 8))
    nodes = [f"v{i}" for i in range(n)]
    edges = [(nodes[i], nodes[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    perm = draw(st.permutations(nodes))
    rename = dict(zip(nodes, perm, strict=True))
    return [rename[v] for v in nodes], [(rename[u], rename[v]) for u, v in edges]


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_d_separation_agrees_with_networkx(dag, data):
    nodes, edges = dag
    g = DAG(nodes=nodes, edges=edges)
    ref = nx.DiGraph(edges)
    ref.add_nodes_from(nodes)
    x = data.draw(st.sampled_from(nodes))
    y = data.draw(st.sampled_from([v for v in nodes if v != x]))
    z = data.draw(st.sets(st.sampled_from([v for v in nodes if v not in (x, y)])))
    assert g.d_separated(x, y, z) == nx.is_d_separator(ref, {x}, {y}, z)
    order = {v: i for i, v in enumerate(g.order)}
    assert all(order[u] < order[v] for u, v in edges)


def test_networkx_round_trip():
    g = DAG(edges=STUDENT)
    h = DAG.from_networkx(g.to_networkx())
    assert set(h.edges) == set(g.edges) and h.order == g.order
