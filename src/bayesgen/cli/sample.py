"""``bayesgen sample NETWORK -n N --seed S``: ancestral samples as CSV."""

from __future__ import annotations

import csv
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
    if not net.is_discrete:  # real columns: pandas formats the numbers
        frame = net.sample(args.n, seed=args.seed, as_frame=True)
        if args.out:
            frame.to_csv(args.out, index=False)
        else:
            frame.to_csv(sys.stdout, index=False)
    elif args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            _write_labels(net, net.sample(args.n, seed=args.seed), f)
    else:
        _write_labels(net, net.sample(args.n, seed=args.seed), sys.stdout)
    if args.out:
        print(f"wrote {args.n} samples of {len(net)} variables to {args.out}", file=sys.stderr)
    return 0


def _write_labels(net, values, out) -> None:
    """Codes of a discrete network as a CSV of state labels, the text pandas' ``to_csv`` writes
    for the decoded frame, without building a frame (tens of thousands of columns are slow)."""
    import numpy as np

    names = list(values)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    labels = [np.asarray(net.variables[n].states, dtype=object) for n in names]
    step = max(1, 2**20 // max(1, len(names)))  # rows written per block
    for start in range(0, len(values[names[0]]), step):
        block = np.stack(
            [
                lab[values[n][start : start + step].numpy()]
                for n, lab in zip(names, labels, strict=True)
            ],
            axis=1,
        )  # (rows, V) labels
        writer.writerows(block.tolist())
