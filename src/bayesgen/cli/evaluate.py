"""``bayesgen evaluate RUN [--data DATA] [--json] [--log-prob FILE.npy]``: a trained model on the
held-out part of its data: the negative log-likelihood per row where the paradigm has it exactly
(per token for text), or its bound, named; and the distance between its samples and the
held-out rows (energy distance, MMD, sliced Wasserstein; mode coverage on ring8/grid25); for
a run conditioned on labels, the accuracy of the model as a classifier p(y | x) (Bayes' rule over
its log-likelihood or bound) on held-out labelled rows.
"""

from __future__ import annotations

import json
import math
import sys

__all__ = ["register", "run", "evaluate_run"]


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score a trained model on held-out data", description=__doc__
    )
    p.add_argument("run", help="a run directory written by bayesgen train")
    p.add_argument("--data", help="evaluate on this data instead of the run's held-out part")
    p.add_argument("--bound", help="score by this bound (e.g. elbo, iwae) instead of log p(x)")
    p.add_argument("-k", type=int, default=100, help="importance samples of the iwae bound")
    p.add_argument("-n", type=int, default=2000, help="samples for the sample metrics")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--log-prob", metavar="NPY", help="write each row's log-density (or bound)")
    p.add_argument(
        "--classify",
        type=int,
        default=1000,
        metavar="N",
        help="held-out rows for the classification accuracy of a run conditioned on labels "
        "(the generative classifier p(y | x) by Bayes' rule; default 1000, 0: none)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _scorer(model, bound: str | None, k: int):
    """(name, fn(x, y) -> (B,)): log p(x | y), or the named bound (the first one by default);
    (None, None) for a paradigm with neither (a GAN, an energy model)."""
    if bound is None:
        name, fn = ("log_prob", model.log_prob) if model.exact_likelihood else (None, None)
        if fn is None:
            if not model.bounds:
                return None, None
            bound = model.bounds[0]
    if bound is not None:
        if bound not in model.bounds:
            raise ValueError(
                f"--bound must be one of {list(model.bounds)} for {model.paradigm}, got {bound!r}"
            )
        name = bound
        method = getattr(model, bound)
        fn = (lambda a, b: method(a, b, k=k)) if bound == "iwae" else method
    return name, fn


def _per_row(model, x, y, bound: str | None, k: int):
    """(name, values (B,)) of log p(x | y) or of the named bound, in chunks of rows."""
    import torch

    name, fn = _scorer(model, bound, k)
    if fn is None:
        raise ValueError(f"{model.paradigm} has neither a log-likelihood nor a bound")
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 512):  # chunks of rows, each one batched call
            yb = None if y is None else y[i : i + 512]
            out.append(fn(x[i : i + 512], yb).double())
    return name, torch.cat(out)


def evaluate_run(
    run_dir, *, data=None, bound=None, k=100, n=2000, seed=0, device="cpu", classify=1000
):
    """The results of ``bayesgen evaluate`` as a dict (and the per-row values)."""
    import torch

    from .. import eval as metrics
    from .runs import load_data, read_data_spec, read_model

    spec = read_data_spec(run_dir)
    model = read_model(run_dir, device=device)
    model.eval()
    ds = load_data(data or spec["data"], seed=spec.get("seed", 0), root=spec.get("root"))
    x, y = ds.test.x.to(device), ds.test.y
    y = None if (y is None or not model.conditional) else y.to(device)
    result = {"run": str(run_dir), "data": data or spec["data"], "rows": len(x)}
    name, values = None, None
    if bound is not None or _scorer(model, None, k)[0] is not None:
        torch.manual_seed(seed)
        name, values = _per_row(model, x, y, bound, k)
        per = math.prod(model.event_shape) if ds.kind == "tokens" else 1
        result["score"] = name
        result["nll" if name == "log_prob" else f"-{name}"] = float(-values.mean()) / per
        result["unit"] = "nats per token" if per > 1 else "nats per row"
    if model.num_classes and y is not None and classify and name is not None:
        from ..generative.classifier import GenerativeClassifier

        m = min(classify, len(x))
        clf = GenerativeClassifier(model, score=_scorer(model, bound, k)[1], batch_size=64)
        torch.manual_seed(seed)
        result["accuracy"] = clf.score_accuracy(x[:m], y[:m])
        result["accuracy_rows"] = m
    if ds.entropy is not None and name == "log_prob":
        result["entropy_floor"] = float(ds.entropy)
        result["gap"] = result["nll"] - float(ds.entropy)
    if ds.kind in ("real", "binary"):
        g = torch.Generator(device=device).manual_seed(seed)
        m = min(n, len(x))
        yn = None if y is None else y[:m]
        with torch.no_grad():
            s = model.sample(m, yn, generator=g).double().reshape(m, -1)
        held = x[:m].double().reshape(m, -1)
        result["energy_distance"] = float(metrics.energy_distance(s, held))
        result["mmd"] = float(metrics.mmd(s, held))
        result["sliced_wasserstein"] = float(
            metrics.sliced_wasserstein(s, held, generator=torch.Generator().manual_seed(seed))
        )
        modes = getattr(ds, "modes", None)
        if modes is not None:
            result.update(metrics.mode_coverage(s, modes, ds.sigma))
    return result, values


def run(args) -> int:
    import numpy as np

    result, values = evaluate_run(
        args.run, data=args.data, bound=args.bound, k=args.k, n=args.n, seed=args.seed,
        device=args.device, classify=args.classify,
    )  # fmt: skip
    if args.log_prob:
        if values is None:
            raise ValueError("--log-prob: this model has neither a log-likelihood nor a bound")
        np.save(args.log_prob, values.cpu().numpy())
        print(f"wrote {len(values)} per-row values ({result['score']}) to {args.log_prob}",
              file=sys.stderr)  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            shown = f"{value:.5g}" if isinstance(value, float) else value
            print(f"{key:<{width}}  {shown}")
    return 0
