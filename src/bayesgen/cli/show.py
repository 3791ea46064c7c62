"""``bayesgen show NETWORK``: variables, states, parents, order and parameter counts."""

from __future__ import annotations

import sys

from ..variables import Discrete
from ._common import load_network

__all__ = ["register", "describe"]


def register(sub) -> None:
    p = sub.add_parser("show", help="describe a network; --plot draws its DAG")
    p.add_argument("network", help="built-in name, bnlearn name, or a .bif/.json path")
    p.add_argument("--plot", metavar="PNG", help="draw the DAG to this image file")
    p.set_defaults(func=run)


def describe(net) -> str:
    lines = [repr(net), "", "variable | states | parents | factor"]
    for name, factor in net.factors.items():
        var = factor.variable
        states = ", ".join(var.states) if isinstance(var, Discrete) else f"real {var.shape}"
        parents = ", ".join(factor.parent_names) or "-"
        lines.append(f"{name} | {states} | {parents} | {type(factor).__name__}")
    lines += ["", "topological order: " + " -> ".join(net.order)]
    lines.append(f"free parameters (factorized): {net.num_parameters()}")
    if net.is_discrete:
        lines.append(f"free parameters (full joint table): {net.full_joint_parameters()}")
    return "\n".join(lines)


def run(args) -> int:
    net = load_network(args.network)
    print(describe(net))
    if args.plot:
        net.dag.draw(args.plot, title=net.name)
        print(f"drew the DAG to {args.plot}", file=sys.stderr)
    return 0
