"""``bayesgen sample NETWORK -n N --seed S``: ancestral samples of a network as CSV; ``bayesgen
sample RUN -n N --out FILE``: samples of a trained generative model (see :mod:`.generate`)."""

from __future__ import annotations

import sys

from ._common import load_network

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("sample", help="draw samples of a network or of a trained model")
    p.add_argument(
        "network",
        help="built-in name, bnlearn name, a .bif/.json path, or a run directory of bayesgen train",
    )
    p.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument(
        "--out",
        metavar="CSV",
        help="write here (.csv, .npy, .png; .txt for text) instead of standard output",
    )
    g = p.add_argument_group("trained models (RUN)")
    g.add_argument("--label", type=int, help="the class y of a conditional model")
    g.add_argument("--temperature", type=float, help="softmax temperature (autoregressive)")
    g.add_argument("--top-k", type=int, help="sample among the k likeliest tokens")
    g.add_argument("--prompt", help="text a text model continues")
    g.add_argument("--steps", type=int, help="sampler steps (diffusion, Langevin)")
    g.add_argument("--sampler", help="ancestral, ddim, langevin or annealed")
    g.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    if Path(args.network).is_dir() and (Path(args.network) / "data.json").is_file():
        from .generate import sample_run

        if args.n < 1:
            raise ValueError(f"-n must be a positive number of samples, got {args.n}")
        return sample_run(args)
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
