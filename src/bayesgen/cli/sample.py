"""``bayesgen sample NETWORK -n N --seed S``: ancestral samples as CSV."""

from __future__ import annotations

import sys

from ._common import add_network_argument, load_network

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="draw samples from a network as CSV",
        description=(
            "Draw samples from a network, each variable after its parents (ancestral "
            "sampling), and write them as CSV with one column per variable."
        ),
    )
    add_network_argument(p)
    p.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument(
        "--seed", type=int, default=None, help="random seed, an integer (default: random)"
    )
    p.add_argument("--out", metavar="CSV", help="write here instead of standard output")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.n < 1:
        raise ValueError(f"-n must be a positive number of samples, got {args.n}")
    net = load_network(args.network)
    frame = net.sample(args.n, seed=args.seed, as_frame=True)
    if args.out:
        frame.to_csv(args.out, index=False)
        print(f"wrote {args.n} samples of {len(net)} variables to {args.out}", file=sys.stderr)
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0
