"""Directed acyclic graphs: the structure of a Bayesian network and nothing else.

A Bayesian network factorizes a joint distribution along a DAG (eq. 8 of the chapter),

    p(x_1, ..., x_N) = Π_n p(x_n | Pa(x_n)),

so every structural question (parents, topological order, d-separation, how many free parameters
the factorization needs) is answered here, without looking at any probability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import prod

__all__ = ["DAG", "CycleError", "time_layout"]


class CycleError(ValueError):
    """The edges close a directed cycle; ``cycle`` holds it, first node repeated at the end."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(f"the graph has a directed cycle: {' -> '.join(cycle)}")


def time_layout(*rows: Sequence[str], step: float = 1.4) -> dict[str, tuple[float, float]]:
    """Positions for a network unrolled in time: row r at y = -r, its t-th node at x = t step
    (an HMM's states above its observations)."""
    return {v: (t * step, -float(r)) for r, row in enumerate(rows) for t, v in enumerate(row)}


class DAG:
    """A directed acyclic graph over named nodes.

    Nodes keep the order in which they were first seen; ``order`` is a topological order that
    respects it where the edges allow (Kahn's algorithm with a stable queue).

    >>> g = DAG(edges=[("x1", "x2"), ("x1", "x3"), ("x2", "x4"), ("x3", "x4")])
    >>> g.order
    ('x1', 'x2', 'x3', 'x4')
    >>> g.d_separated("x3", "x2", given="x1")
    True
    """

    def __init__(
        self,
        nodes: Iterable[str] = (),
        edges: Iterable[tuple[str, str]] = (),
        *,
        layout: Mapping[str, tuple[float, float]] | None = None,
    ):
        self._parents: dict[str, list[str]] = {}
        for node in nodes:
            if not isinstance(node, str) or not node:
                raise TypeError(f"node names must be non-empty strings, got {node!r}")
            if node in self._parents:
                raise ValueError(f"duplicate node name {node!r}")
            self._parents[node] = []
        for edge in edges:
            if len(edge) != 2:
                raise ValueError(f"an edge is a pair (parent, child), got {edge!r}")
            u, v = edge
            for node in (u, v):
                if not isinstance(node, str) or not node:
                    raise TypeError(f"node names must be non-empty strings, got {node!r}")
                self._parents.setdefault(node, [])
            if u == v:
                raise CycleError([u, u])
            if u in self._parents[v]:
                raise ValueError(f"duplicate edge {u} -> {v}")
            self._parents[v].append(u)
        self._children: dict[str, list[str]] = {v: [] for v in self._parents}
        for v, pa in self._parents.items():
            for u in pa:
                self._children[u].append(v)
        self.order = self._toposort()
        self.layout = self._check_layout(layout)

    @classmethod
    def from_parents(cls, parents: Mapping[str, Iterable[str]]) -> DAG:
        """Build from ``{child: parents}``; every key is a node, in the mapping's order."""
        return cls(nodes=parents, edges=[(u, v) for v, pa in parents.items() for u in pa])

    # ------------------------------------------------------------------ structure
    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._parents)

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple((u, v) for v in self._parents for u in self._parents[v])

    def __len__(self) -> int:
        return len(self._parents)

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __iter__(self):
        return iter(self.order)

    def __repr__(self) -> str:
        return f"DAG(nodes={len(self)}, edges={len(self.edges)})"

    def _check_layout(
        self, layout: Mapping[str, tuple[float, float]] | None
    ) -> dict[str, tuple[float, float]] | None:
        """A drawing hint, node -> (x, y), for graphs whose shape has a natural picture (a chain
        unrolled in time runs left to right); it must place every node, and nothing else."""
        if layout is None:
            return None
        unknown = sorted(set(layout) - set(self._parents))
        if unknown:
            raise ValueError(f"layout places unknown node(s) {unknown}")
        missing = [v for v in self._parents if v not in layout]
        if missing:
            raise ValueError(f"layout must place every node; missing {missing}")
        return {v: (float(layout[v][0]), float(layout[v][1])) for v in self._parents}

    def _check(self, node: str) -> str:
        if node not in self._parents:
            raise KeyError(f"unknown node {node!r}; nodes are {sorted(self._parents)}")
        return node

    def parents(self, node: str) -> tuple[str, ...]:
        """Pa(node), in the order the edges were given."""
        return tuple(self._parents[self._check(node)])

    def children(self, node: str) -> tuple[str, ...]:
        return tuple(self._children[self._check(node)])

    def roots(self) -> tuple[str, ...]:
        """Nodes without parents: the priors ("seeds") of ancestral sampling."""
        return tuple(v for v in self.order if not self._parents[v])

    def leaves(self) -> tuple[str, ...]:
        return tuple(v for v in self.order if not self._children[v])

    def ancestors(self, nodes: str | Iterable[str]) -> set[str]:
        """Strict ancestors of a node, or the union over a set of nodes."""
        return self._closure(_as_set(nodes), self._parents)

    def descendants(self, nodes: str | Iterable[str]) -> set[str]:
        return self._closure(_as_set(nodes), self._children)

    def _closure(self, start: set[str], step: Mapping[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = [u for v in start for u in step[self._check(v)]]
        while stack:
            u = stack.pop()
            if u not in seen:
                seen.add(u)
                stack.extend(step[u])
        return seen

    def markov_blanket(self, node: str) -> set[str]:
        """Parents, children and the children's other parents."""
        blanket = set(self.parents(node)) | set(self.children(node))
        for child in self.children(node):
            blanket |= set(self._parents[child])
        blanket.discard(node)
        return blanket

    def subgraph(self, nodes: Iterable[str]) -> DAG:
        """The induced subgraph on ``nodes`` (keeping their layout, if any)."""
        wanted = set(nodes)
        keep = [v for v in self.order if v in wanted]
        edges = [(u, v) for u, v in self.edges if u in wanted and v in wanted]
        layout = {v: self.layout[v] for v in keep} if self.layout else None
        return DAG(nodes=keep, edges=edges, layout=layout)

    def _toposort(self) -> tuple[str, ...]:
        indegree = {v: len(pa) for v, pa in self._parents.items()}
        ready = [v for v in self._parents if indegree[v] == 0]
        order: list[str] = []
        while ready:
            v = ready.pop(0)
            order.append(v)
            for c in self._children[v]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
        if len(order) < len(self._parents):
            raise CycleError(self._find_cycle({v for v, d in indegree.items() if d > 0}))
        return tuple(order)

    def _find_cycle(self, candidates: set[str]) -> list[str]:
        # Every node left with positive in-degree has a parent among the candidates, so walking
        # parents from any of them must revisit a node: that loop is a cycle (reported forwards).
        node = next(v for v in self._parents if v in candidates)
        path: list[str] = []
        index: dict[str, int] = {}
        while node not in index:
            index[node] = len(path)
            path.append(node)
            node = next(u for u in self._parents[node] if u in candidates)
        cycle = path[index[node] :] + [node]
        return cycle[::-1]

    # ------------------------------------------------------------------ independence
    def d_separated(
        self,
        xs: str | Iterable[str],
        ys: str | Iterable[str],
        given: str | Iterable[str] = (),
    ) -> bool:
        """True when every trail from ``xs`` to ``ys`` is blocked by ``given`` (Bayes-ball).

        A trail is active when each collider on it is in ``given`` or has a descendant there, and
        no other node on it is in ``given``; d-separation implies X ⊥ Y | Z in every distribution
        that factorizes along the graph.
        """
        xs, ys, zs = _as_set(xs), _as_set(ys), _as_set(given)
        for v in xs | ys | zs:
            self._check(v)
        if xs & ys:
            return False
        # nodes that are in Z or have a descendant in Z: colliders there are open
        opens_collider = zs | self.ancestors(zs) if zs else set()
        # states: (node, arrived from a child -> going up) — the reachable-set algorithm of
        # Koller & Friedman, Algorithm 3.1.
        stack = [(x, True) for x in xs]
        visited: set[tuple[str, bool]] = set()
        while stack:
            node, up = stack.pop()
            if (node, up) in visited:
                continue
            visited.add((node, up))
            if node not in zs and node in ys:
                return False
            if up and node not in zs:
                stack.extend((p, True) for p in self._parents[node])
                stack.extend((c, False) for c in self._children[node])
            elif not up:
                if node not in zs:
                    stack.extend((c, False) for c in self._children[node])
                if node in opens_collider:
                    stack.extend((p, True) for p in self._parents[node])
        return True

    # ------------------------------------------------------------------ counting
    def parameter_count(self, cardinalities: Mapping[str, int]) -> int:
        """Free parameters of the factorized model: Σ_n (K_n − 1) Π_{p ∈ Pa(n)} K_p."""
        return sum(
            (cardinalities[v] - 1) * prod(cardinalities[p] for p in self._parents[v])
            for v in self._parents
        )

    def full_joint_parameter_count(self, cardinalities: Mapping[str, int]) -> int:
        """Free parameters of an unrestricted joint table: Π_n K_n − 1 (2^N − 1 for binaries)."""
        return prod(cardinalities[v] for v in self._parents) - 1

    # ------------------------------------------------------------------ interop
    def to_networkx(self):
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.order)
        g.add_edges_from(self.edges)
        return g

    @classmethod
    def from_networkx(cls, g) -> DAG:
        return cls(nodes=list(g.nodes), edges=list(g.edges))

    def draw(self, path=None, ax=None, **kwargs):
        """Draw the DAG (see :func:`bayesgen.plot.draw_dag`)."""
        from .plot.dag import draw_dag

        return draw_dag(self, path=path, ax=ax, **kwargs)


def _as_set(nodes: str | Iterable[str]) -> set[str]:
    return {nodes} if isinstance(nodes, str) else set(nodes)
