"""Conversion to and from pgmpy's ``DiscreteBayesianNetwork`` (pgmpy is imported on first use).

pgmpy stores p(x | Pa(x)) as a ``TabularCPD`` whose values have shape (card, *evidence_cards),
the child on the FIRST axis and the evidence in ``cpd.variables[1:]`` order; bayesgen's
:class:`~bayesgen.factors.Table` keeps the child on the LAST axis, (*parent_cards, card). The two
are the same numbers with the child axis moved, so a round trip is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from ..network import BayesNet

__all__ = ["to_pgmpy", "from_pgmpy"]


def _require_pgmpy():
    try:
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.models import DiscreteBayesianNetwork
    except ImportError as e:  # pragma: no cover - exercised only without pgmpy
        raise ImportError(
            "converting to or from pgmpy needs pgmpy; install it with `pip install pgmpy`"
        ) from e
    return DiscreteBayesianNetwork, TabularCPD


def to_pgmpy(net: BayesNet):
    """A ``pgmpy.models.DiscreteBayesianNetwork`` with one ``TabularCPD`` per table of ``net``.

    Every factor must be a :class:`~bayesgen.factors.Table`; state names are carried over.
    """
    from ..factors import Table

    DiscreteBayesianNetwork, TabularCPD = _require_pgmpy()
    cpds = []
    for name, f in net.factors.items():
        if not isinstance(f, Table):
            raise TypeError(
                f"pgmpy holds only tables; the factor of {name!r} is a {type(f).__name__}"
            )
        card = f.variable.card
        probs = f.probs.detach().cpu().to(torch.float64).numpy()  # (*parent_cards, card)
        values = np.moveaxis(probs, -1, 0).reshape(card, -1)  # (card, Π parent_cards)
        parents = list(f.parent_names)
        states = {name: list(f.variable.states)} | {p.name: list(p.states) for p in f.parents}
        cpds.append(
            TabularCPD(
                name,
                card,
                values,
                evidence=parents or None,
                evidence_card=[p.card for p in f.parents] or None,
                state_names=states,
            )
        )
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(net.order)
    model.add_edges_from(net.dag.edges)
    model.add_cpds(*cpds)
    model.name = net.name
    return model


def from_pgmpy(model) -> BayesNet:
    """A :class:`~bayesgen.network.BayesNet` of Tables from a pgmpy ``DiscreteBayesianNetwork``.

    Every node needs a ``TabularCPD``; state names become strings (pgmpy's default integer
    states 0..k-1 become "0".."k-1").
    """
    from ..factors import Table
    from ..network import BayesNet
    from ..variables import Discrete

    _, TabularCPD = _require_pgmpy()
    cpds = {}
    for cpd in model.get_cpds():
        if not isinstance(cpd, TabularCPD):
            raise TypeError(
                f"only TabularCPDs can be converted; the CPD of {cpd.variable!r} is a "
                f"{type(cpd).__name__}"
            )
        cpds[cpd.variable] = cpd
    nodes = list(model.nodes())
    missing = [v for v in nodes if v not in cpds]
    if missing:
        raise ValueError(f"the pgmpy model has no CPD for {missing}; add them with add_cpds")
    variables = {}
    for v in nodes:
        cpd = cpds[v]
        names = cpd.state_names.get(v) if cpd.state_names else None
        variables[v] = Discrete(v, list(names) if names else int(cpd.variable_card))
    factors = []
    for v in nodes:
        cpd = cpds[v]
        evidence = list(cpd.variables[1:])
        for p in evidence:
            if p not in variables:
                raise ValueError(f"the CPD of {v!r} names {p!r}, which is not a node of the model")
        values = cpd.values
        if hasattr(values, "detach"):  # pgmpy's torch backend
            values = values.detach().cpu().numpy()
        values = np.asarray(values, dtype=np.float64)  # (card, *evidence_cards)
        probs = np.moveaxis(values, 0, -1)  # (*evidence_cards, card)
        for axis, p in enumerate(evidence):  # the CPD may list a parent's states in its own order
            order = _state_order(cpd, p, variables[p], v)
            if order is not None:
                probs = np.take(probs, order, axis=axis)
        factors.append(Table(variables[v], [variables[p] for p in evidence], probs))
    return BayesNet(factors, name=getattr(model, "name", None) or None)


def _state_order(cpd, parent: str, variable, child: str) -> list[int] | None:
    """Positions, in ``cpd``'s axis of ``parent``, of the parent's own states; None if aligned."""
    names = cpd.state_names.get(parent) if cpd.state_names else None
    if not names:
        return None
    names = [str(s) for s in names]
    if tuple(names) == variable.states:
        return None
    if sorted(names) != sorted(variable.states):
        raise ValueError(
            f"the CPD of {child!r} gives {parent!r} the states {names}, but the CPD of "
            f"{parent!r} has {list(variable.states)}"
        )
    return [names.index(s) for s in variable.states]
