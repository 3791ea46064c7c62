"""``bayesgen sample RUN -n N --out FILE``: draws from a trained generative model, written as a
picture (``.png``: a grid of images, or a scatter of 2-D/3-D points), an array (``.npy``), a
table (``.csv``), or, for a text model, characters (standard output or a ``.txt``)."""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

__all__ = ["sample_run", "write_samples"]

#: sample options of the command line and the keyword each paradigm's ``sample`` takes
OPTIONS = {
    "temperature": "temperature",
    "top_k": "top_k",
    "steps": "steps",
    "sampler": "sampler",
    "clip": "clip",
}


def _sample_kwargs(model, args) -> dict:
    """The options given on the command line, checked against the model's ``sample``."""
    accepted = inspect.signature(model.sample).parameters
    out = {}
    for option, keyword in OPTIONS.items():
        value = getattr(args, option, None)
        if value is None:
            continue
        if keyword not in accepted:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag}: the {model.paradigm} model's sample takes no {keyword}")
        out[keyword] = value
    return out


def sample_run(args) -> int:
    import torch

    from .runs import read_data_spec, read_model

    spec = read_data_spec(args.network)
    model = read_model(args.network, device=args.device)
    model.eval()
    g = torch.Generator(device=args.device)
    g.manual_seed(args.seed if args.seed is not None else 0)
    y = None
    if args.label is not None:
        if not model.num_classes:
            raise ValueError("--label: this run's model is not conditioned on labels")
        y = torch.full((args.n,), int(args.label), dtype=torch.long, device=args.device)
    elif model.num_classes:
        y = torch.arange(args.n, device=args.device) % model.num_classes  # every class in turn
    kwargs = _sample_kwargs(model, args)
    vocab = spec.get("vocab")
    if vocab is not None:
        from ..generative.arm import generate_text

        text = generate_text(
            model, vocab, args.prompt or "", args.n, generator=g,
            **{k: v for k, v in kwargs.items() if k in ("temperature", "top_k")},
        )  # fmt: skip
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {len(text)} characters to {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text + "\n")
        return 0
    if args.prompt is not None:
        raise ValueError("--prompt needs a text model (an arm trained on text)")
    with torch.no_grad():
        x = model.sample(args.n, y, generator=g, **kwargs)
    write_samples(x.detach().cpu(), args.out, labels=None if y is None else y.cpu())
    return 0


def write_samples(x, out: str | None, labels=None) -> None:
    """Write samples (n, *event) to ``out`` by its suffix; CSV on standard output without one."""
    import numpy as np

    flat = x.reshape(len(x), -1).double().numpy()
    if out is None or out.endswith(".csv"):
        import pandas as pd

        frame = pd.DataFrame(flat, columns=[f"x{i + 1}" for i in range(flat.shape[1])])
        if labels is not None:
            frame.insert(0, "y", labels.numpy())
        frame.to_csv(out or sys.stdout, index=False)
    elif out.endswith(".npy"):
        np.save(out, x.numpy())
    elif out.endswith(".png"):
        _picture(flat, out)
    else:
        raise ValueError(f"--out must end in .png, .npy or .csv, got {out!r}")
    if out is not None:
        print(f"wrote {len(x)} samples to {out}", file=sys.stderr)


def _picture(flat, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, d = flat.shape
    side = math.isqrt(d)
    if d in (2, 3):
        fig = plt.figure(figsize=(6, 6))
        if d == 2:
            ax = fig.add_subplot()
            ax.scatter(flat[:, 0], flat[:, 1], s=3, alpha=0.5)
            ax.set_aspect("equal")
        else:
            ax = fig.add_subplot(projection="3d")
            ax.scatter(flat[:, 0], flat[:, 1], flat[:, 2], s=3, alpha=0.5)
    elif side * side == d:
        cols = min(n, 10)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < n:
                ax.imshow(flat[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
    else:
        raise ValueError(
            f"a .png shows 2-D or 3-D points or square images; these samples have {d} values "
            "each (use .npy or .csv)"
        )
    fig.savefig(out, bbox_inches="tight", dpi=110)
    plt.close(fig)
