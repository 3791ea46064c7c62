"""``bayesgen show NETWORK``: variables, states, parents, order and parameter counts."""

from __future__ import annotations

import sys
from pathlib import Path

from .._format import readable_int
from ._common import add_network_argument, load_network

__all__ = ["register", "describe"]


def register(sub) -> None:
    p = sub.add_parser(
        "show",
        help="describe a network; --plot draws its graph",
        description=(
            "List a network's variables with their states and parents, an order in which "
            "every variable comes after its parents, and how many free parameters the "
            "network has compared with one table over all its variables."
        ),
    )
    add_network_argument(p)
    p.add_argument(
        "--plot",
        metavar="IMAGE",
        help="draw the graph to this image file (.png when the name has no extension)",
    )
    p.set_defaults(func=run)


def describe(net) -> str:
    from ..variables import Discrete

    lines = [repr(net), "", "variable | states | parents | factor"]
    for name, factor in net.factors.items():
        var = factor.variable
        states = ", ".join(var.states) if isinstance(var, Discrete) else f"real {var.shape}"
        parents = ", ".join(factor.parent_names) or "-"
        lines.append(f"{name} | {states} | {parents} | {type(factor).__name__}")
    lines += ["", "topological order: " + " -> ".join(net.order)]
    lines.append(f"free parameters (factorized): {readable_int(net.num_parameters())}")
    if net.is_discrete:
        full = readable_int(net.full_joint_parameters())
        lines.append(f"free parameters (full joint table): {full}")
    return "\n".join(lines)


def run(args) -> int:
    net = load_network(args.network)
    print(describe(net))
    if args.plot:
        path = Path(args.plot)
        if not path.suffix:  # matplotlib would add '.png' itself; say so
            path = path.with_name(path.name + ".png")
        net.dag.draw(str(path), title=net.name)
        print(f"drew the graph to {path}", file=sys.stderr)
    return 0
