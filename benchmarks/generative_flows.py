"""Normalizing flows side by side: bayesgen's NSF and MAF against zuko's and normflows' on the
2-D toys, at equal parameter counts, the same data, optimizer, batch size and steps.

For each toy (checkerboard, 8gaussians, moons, pinwheel, 2spirals, swissroll2d) and seed, every
model is trained by Adam with cosine decay and scored by its held-out NLL (nats), which is
compared with the data's entropy (the floor no model can beat). Step time is measured apart,
by one identical loop (zero_grad, loss, backward, step) for every library, interleaved so that
machine load hits all alike; the table reports medians and the ratio to zuko.

Targets (the full run, 5,000 steps, batch 512, lr 1e-3, 5 seeds): test NLL within 0.02 nats of
the floor and no worse than zuko's; step time at most 0.8x zuko's.

    python benchmarks/generative_flows.py --quick     # one toy, two seeds, 100 steps
    python benchmarks/generative_flows.py             # the target configuration
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table, write_json  # noqa: E402

from bayesgen.data import load_dataset  # noqa: E402
from bayesgen.data.source import TensorData  # noqa: E402
from bayesgen.generative import Flow  # noqa: E402
from bayesgen.train import TrainConfig, make_optimizer, train  # noqa: E402

TOYS = ("checkerboard", "8gaussians", "moons", "pinwheel", "2spirals", "swissroll2d")
LAYERS, HIDDEN, BINS, BOUND = 5, (128, 128), 8, 5.0


# ---------------------------------------------------------------------------- data
def load(name: str, seed: int):
    """(train, test, entropy floor, source) of a built-in 2-D toy."""
    ds = load_dataset(name, seed=seed)
    return ds.train.x.float(), ds.test.x.float(), ds.entropy, "bayesgen.data"


# ---------------------------------------------------------------------------- models
class _Peer(torch.nn.Module):
    """A peer flow behind a ``loss(x)`` and ``log_prob(x)``."""

    def __init__(self, module: torch.nn.Module, log_prob):
        super().__init__()
        self.module, self._log_prob = module, log_prob

    def log_prob(self, x):
        return self._log_prob(self.module, x)

    def loss(self, x, y=None, *, group=None):
        return -self.log_prob(x).mean()


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def _normflows_nsf(hidden: int):
    import normflows as nf

    flows = []
    for _ in range(LAYERS):
        flows += [
            nf.flows.AutoregressiveRationalQuadraticSpline(
                2, 1, hidden, num_bins=BINS, tail_bound=BOUND
            ),
            nf.flows.Permute(2, mode="swap"),
        ]
    q0 = nf.distributions.DiagGaussian(2, trainable=False)
    model = nf.NormalizingFlow(q0=q0, flows=flows)
    return _Peer(model, lambda m, x: m.log_prob(x))


def build(name: str, target: int | None = None) -> torch.nn.Module:
    import zuko

    if name == "bayesgen NSF":
        return Flow(2, transform="nsf", layers=LAYERS, hidden=HIDDEN, bins=BINS, bound=BOUND)
    if name == "bayesgen MAF":
        return Flow(2, transform="maf", layers=LAYERS, hidden=HIDDEN)
    if name == "zuko NSF":
        z = zuko.flows.NSF(2, 0, transforms=LAYERS, hidden_features=HIDDEN, bins=BINS)
        return _Peer(z, lambda m, x: m().log_prob(x))
    if name == "zuko MAF":
        z = zuko.flows.MAF(2, 0, transforms=LAYERS, hidden_features=HIDDEN)
        return _Peer(z, lambda m, x: m().log_prob(x))
    if name == "normflows NSF":  # residual MADE: the width whose count is closest to ours
        lo, hi = 8, 512  # counts grow with the width: bisect
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _nf_count(mid) <= target else (lo, mid)
        best = min((lo, hi), key=lambda h: abs(_nf_count(h) - target))
        return _normflows_nsf(best)
    raise ValueError(f"unknown model {name!r}")


_NF_COUNTS: dict[int, int] = {}


def _nf_count(h: int) -> int:
    if h not in _NF_COUNTS:
        _NF_COUNTS[h] = _count(_normflows_nsf(h))
    return _NF_COUNTS[h]


MODELS = ("bayesgen NSF", "zuko NSF", "normflows NSF", "bayesgen MAF", "zuko MAF")


# ---------------------------------------------------------------------------- training
def fit(model, x: torch.Tensor, steps: int, batch: int, lr: float, seed: int) -> None:
    """Adam with cosine decay through the one training loop, the same for every library (a
    peer's flow trains behind its ``loss``): the same minibatches, schedule and updates."""
    cfg = TrainConfig(steps=steps, batch_size=batch, lr=lr, schedule="cosine", seed=seed)
    train(model, TensorData(x), config=cfg)


@torch.no_grad()
def nll(model, x: torch.Tensor) -> float:
    return float(-torch.cat([model.log_prob(c) for c in x.split(8192)]).mean())


def step_times(models: dict, x: torch.Tensor, batch: int, steps: int) -> dict[str, float]:
    """Median seconds of one identical training step per model, interleaved: the loss, its
    gradient and the step of the optimizer the one training loop builds for every library
    (Adam, fused)."""
    g = torch.Generator().manual_seed(0)
    opts = {k: make_optimizer("adam", m.parameters(), lr=1e-4) for k, m in models.items()}
    times: dict[str, list[float]] = {k: [] for k in models}
    for i in range(steps + 5):
        xb = x[torch.randint(len(x), (batch,), generator=g)]
        for k, m in models.items():
            t0 = time.perf_counter()
            opts[k].zero_grad()
            m.loss(xb).backward()
            opts[k].step()
            if i >= 5:
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one toy, two seeds, 100 steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--toys", nargs="+", choices=TOYS, help="a subset of the toys")
    parser.add_argument("--seeds", type=int, help="fewer seeds than the full run's 5")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.quick:
        toys, seeds, steps, batch, lr, timed = ("moons",), (0, 1), 100, 512, 1e-3, 20
    else:
        toys, seeds, steps, batch, lr, timed = TOYS, (0, 1, 2, 3, 4), 5000, 512, 1e-3, 100
    toys = tuple(args.toys) if args.toys else toys
    seeds = tuple(range(args.seeds)) if args.seeds else seeds
    target = _count(build("bayesgen NSF"))
    results, rows = [], []
    for toy in toys:
        per: dict[str, list[float]] = {m: [] for m in MODELS}
        counts, floor, source = {}, None, ""
        for seed in seeds:
            train, test, floor, source = load(toy, seed)
            for name in MODELS:
                torch.manual_seed(seed)
                model = build(name, target)
                counts[name] = _count(model)
                fit(model, train, steps, batch, lr, seed)
                per[name].append(nll(model, test))
                results.append({"toy": toy, "seed": seed, "model": name, "nll": per[name][-1]})
        torch.manual_seed(0)
        ms = step_times({m: build(m, target) for m in MODELS}, train, batch, timed)
        for name in MODELS:
            peer = "zuko NSF" if "NSF" in name else "zuko MAF"
            mean = statistics.fmean(per[name])
            rows.append(
                {
                    "toy": toy,
                    "model": name,
                    "params": counts[name],
                    "test NLL": mean,
                    "sd": statistics.stdev(per[name]) if len(per[name]) > 1 else 0.0,
                    "floor": floor if floor is not None else "n/a",
                    "gap": mean - floor if floor is not None else "n/a",
                    "vs zuko": mean - statistics.fmean(per[peer]),
                    "ms/step": 1e3 * ms[name],
                    "time / zuko": ms[name] / ms[peer],
                }
            )
        print(f"data: {toy} from {source}", flush=True)
    title = f"flows, {steps} steps, batch {batch}, {len(seeds)} seeds, {args.threads} threads"
    print_table(rows, title=title)
    path = write_json(
        "generative_flows_quick" if args.quick else "generative_flows",
        {"table": rows, "runs": results, "quick": args.quick, "steps": steps, "batch": batch},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
