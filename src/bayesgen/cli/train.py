"""``bayesgen train MODEL --data DATA [--steps N | --epochs E] [--minutes M] ... --out RUN``
trains a generative paradigm on a built-in data set or a file of rows, for a number of steps or
epochs and/or minutes; ``bayesgen train --resume RUN [--steps N]`` continues a run from its
last checkpoint. Under ``torchrun --nproc_per_node=K`` the same command trains data-parallel.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a generative model (vae, flow, arm, diffusion, energy, gan)",
        description=__doc__,
    )
    p.add_argument("model", nargs="?", help="the paradigm: vae, flow, arm, diffusion, energy, gan")
    p.add_argument(
        "--data",
        help="a built-in data set (swissroll, moons, 8gaussians, ..., digits, mnist, "
        "shakespeare) or a .npy/.csv/.npz/.txt file",
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="optimizer steps (default 2000)")
    length.add_argument("--epochs", type=int, help="passes over the training rows")
    p.add_argument(
        "--minutes",
        type=float,
        help="a wall-clock budget: training ends when it is spent (or after --steps/--epochs, "
        "whichever comes first) and the learning rate's cosine decay spans it",
    )
    p.add_argument("--batch-size", type=int, default=128, help="rows per step (default 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, weights and batches")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--out", help="the run directory (default runs/MODEL-DATA)")
    p.add_argument("--resume", metavar="RUN", help="continue this run from its checkpoint")
    p.add_argument("--condition", choices=["labels"], help="learn p(x | y) from the data's labels")
    p.add_argument("--objective", help="the paradigm's objective (e.g. iwae, cd, wgan-gp)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a model argument, VALUE as JSON (e.g. --set latent_dim=8 --set hidden=[256,256])",
    )
    p.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="keep a moving average of the weights (e.g. 0.999, warmed up over the first "
        "steps); evaluation and the saved model use it",
    )
    p.add_argument("--eval-every", type=int, help="evaluate on the held-out part every N steps")
    p.add_argument("--data-root", help="the folder of mnist/ and text/ (default $BAYESGEN_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..generative import build
    from ..train import TrainConfig, train
    from ..train.checkpoint import load_run
    from ..train.distributed import shutdown
    from .runs import default_config, load_data, parse_settings, read_data_spec, write_data_spec

    if args.resume:
        if args.model or args.data:
            raise ValueError("--resume RUN takes no MODEL or --data: the run records them")
        if args.ema is not None:
            raise ValueError("--resume RUN takes no --ema: the run's average goes on as recorded")
        run_dir = Path(args.resume)
        spec = read_data_spec(run_dir)
        model, config = load_run(run_dir)
        if args.steps is not None:
            config = dataclasses.replace(config, steps=args.steps, epochs=None)
        if args.minutes is not None:
            config = dataclasses.replace(config, max_seconds=60 * args.minutes)
        config = dataclasses.replace(config, quiet=args.quiet, out=str(run_dir))
        data = load_data(spec["data"], seed=spec.get("seed", 0), root=spec.get("root"))
        resume = run_dir
    else:
        if not args.model or not args.data:
            raise ValueError("give MODEL and --data DATA (or --resume RUN)")
        data = load_data(args.data, seed=args.seed, root=args.data_root)
        cfg = default_config(args.model, data, condition=args.condition)
        if args.objective:
            cfg["objective"] = args.objective
        cfg.update(parse_settings(args.set))
        model = build(args.model, **cfg)
        stem = Path(args.data).stem if Path(args.data).suffix else args.data
        run_dir = Path(args.out or f"runs/{args.model}-{stem}")
        given = args.steps is not None or args.epochs is not None or args.minutes is not None
        steps = args.steps if given else 2000
        config = TrainConfig(
            steps=steps,
            epochs=args.epochs,
            max_seconds=60 * args.minutes if args.minutes is not None else None,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            quiet=args.quiet,
            out=str(run_dir),
            eval_every=args.eval_every,
            ema=args.ema,
            checkpoint_every=max(1, (steps or 1000) // 10) if steps else None,
            desc=f"{args.model} on {stem}",
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        spec = {"data": args.data, "seed": args.seed, "root": args.data_root}
        spec["condition"] = args.condition
        if getattr(data, "vocab", None) is not None:
            spec["vocab"] = list(data.vocab)
        write_data_spec(run_dir, spec)
        resume = None
    start = time.perf_counter()
    train_rows, held_out = data.train, data.test
    if not model.conditional:  # an unconditional model of labelled rows: p(x), labels unused
        train_rows, held_out = _unlabelled(train_rows), _unlabelled(held_out)
    history = train(model, train_rows, held_out, config=config, resume=resume)
    shutdown()  # under torchrun: every rank done, the process group down
    last = history.last or {}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float))
    print(
        f"trained {type(model).__name__} for {last.get('step', '?')} steps in "
        f"{time.perf_counter() - start:.1f} s ({shown}); run in {run_dir}",
        file=sys.stderr,
    )
    return 0


def _unlabelled(source):
    """The rows of a TensorData without its labels (other sources as they are)."""
    from ..data.source import TensorData

    if isinstance(source, TensorData) and source.y is not None:
        return TensorData(source.x, None, source.transform)
    return source
