"""``bayesgen sample NETWORK -n N --seed S``: ancestral samples of a network as CSV; ``bayesgen
sample RUN -n N --out FILE``: samples of a trained generative model (see :mod:`.generate`)."""

from __future__ import annotations

import csv
import sys

from ._common import load_network

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="draw samples from a network (CSV) or from a trained model (RUN)",
        description=(
            "Draw samples from a network, each variable after its parents (ancestral "
            "sampling), and write them as CSV with one column per variable; or draw from a "
            "model trained by bayesgen train, given its run directory."
        ),
    )
    p.add_argument(
        "network",
        help="built-in name, bnlearn name, a .bif/.json path, or a run directory of bayesgen train",
    )
    p.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument(
        "--seed", type=int, default=None, help="random seed, an integer (default: random)"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write here (.csv; for a model also .npy, .png, .txt) instead of standard output",
    )
    g = p.add_argument_group("trained models (RUN)")
    g.add_argument(
        "--label", type=int, help="the class y of a conditional model (default: each in turn)"
    )
    g.add_argument("--temperature", type=float, help="softmax temperature (autoregressive)")
    g.add_argument("--top-k", type=int, help="sample among the k likeliest tokens")
    g.add_argument("--prompt", help="text a text model continues")
    g.add_argument("--steps", type=int, help="sampler steps (diffusion, Langevin)")
    g.add_argument("--sampler", help="ancestral, ddim, langevin or annealed")
    g.add_argument("--clip", type=float, help="clamp the denoised x̂₀ to [−CLIP, CLIP] (diffusion)")
    g.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    if args.n < 1:
        raise ValueError(f"-n must be a positive number of samples, got {args.n}")
    if Path(args.network).is_dir() and (Path(args.network) / "data.json").is_file():
        from .generate import sample_run

        return sample_run(args)
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
