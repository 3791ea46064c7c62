"""The training loop against the same steps written by hand in plain torch.

A conditional density of MNIST pixels given the label (a Bernoulli MLP decoder p(x | y), the
decoder half of a conditional VAE without the latent), trained by Adam on minibatches:

1. plain: ``bayesgen.train`` with a constant rate against a hand-written loop drawing the same
   minibatches (randperm(N)[:B] per step from one seeded generator) — the parameters must be
   identical, and the time ratio is the loop's overhead;
2. full: warm-up + cosine, clipping, an EMA, held-out evaluation every 100 steps and a
   checkpoint every 500 steps, against the hand-written loop doing the same work.

Single-threaded torch. ``--quick``: 300 steps on 6000 rows; the full run: 3000 steps on the
60 000 training rows.

    python benchmarks/train_loop.py            # the full run
    python benchmarks/train_loop.py --quick
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import torch
from _common import print_table, write_json
from torch import nn

from bayesgen.data import TensorData, load_mnist
from bayesgen.train import TrainConfig, train

DATA = Path(
    os.environ.get("BAYESGEN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def mnist(n: int | None) -> tuple[TensorData, TensorData]:
    """MNIST thresholded at half intensity (rows of 784) with labels: training and test."""
    (x, y), (xt, yt) = load_mnist(DATA, "train"), load_mnist(DATA, "test")
    x, xt = (x.reshape(len(x), -1) > 127).float(), (xt.reshape(len(xt), -1) > 127).float()
    if n is not None:
        x, y, xt, yt = x[:n], y[:n], xt[: n // 6], yt[: n // 6]
    return TensorData(x, y), TensorData(xt, yt)


class PixelsGivenLabel(nn.Module):
    """log p(x | y) = Σ_d log Bernoulli(x_d; σ(f(onehot y))_d), f an MLP 10 → H → 784."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def log_prob(self, x, y):
        logits = self.net(nn.functional.one_hot(y, 10).float())  # (B, 784)
        return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)

    def loss(self, x, y, *, group=None):
        return -self.log_prob(x, y).mean()

    def metrics(self, x, y):
        return {"loss": self.loss(x, y)}


def by_hand(model, data, val, cfg: TrainConfig, out: Path | None) -> float:
    """The same run in plain torch; returns seconds."""
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, foreach=False)

    def factor(s):
        if s < cfg.warmup:
            return (s + 1) / cfg.warmup
        if cfg.schedule == "constant":
            return 1.0
        t = (s - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
        return 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    ema = [p.detach().clone() for p in params] if cfg.ema else None
    for step in range(1, cfg.steps + 1):
        x, y = data.batch(torch.randperm(len(data), generator=gen)[: cfg.batch_size])
        loss = model.loss(x, y)
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad:
            nn.utils.clip_grad_norm_(params, cfg.clip_grad)
        opt.step()
        sched.step()
        if ema is not None:  # update n = step − 1, with the loop's warm-up of the decay
            weight = 1 - cfg.ema_decay(step - 1)
            with torch.no_grad():
                for p, e in zip(params, ema, strict=True):
                    e.lerp_(p, weight)
        if cfg.eval_every and step % cfg.eval_every == 0:
            with torch.no_grad():
                float(model.loss(val.x, val.y))
        if out is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(out / "by_hand.safetensors"))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps, n = (300, 6000) if args.quick else (3000, None)
    data, val = mnist(n)
    warm = PixelsGivenLabel()  # first optimizer step imports torch's compiler helpers: not timed
    train(warm, data, config=TrainConfig(steps=2, batch_size=128))
    by_hand(warm, data, val, TrainConfig(steps=2, batch_size=128), None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = TrainConfig(steps=steps, batch_size=128, lr=1e-3, schedule="constant", seed=0)
        full = TrainConfig(
            steps=steps,
            batch_size=128,
            lr=1e-3,
            warmup=steps // 10,
            clip_grad=100.0,
            ema=0.99,
            eval_every=100,
            eval_batch_size=len(val),
            checkpoint_every=500,
            seed=0,
            out=str(Path(tmp) / "run"),
        )
        for name, cfg in (("plain", plain), ("full", full)):
            torch.manual_seed(0)
            ours = PixelsGivenLabel()
            torch.manual_seed(0)
            ref = PixelsGivenLabel()
            t0 = time.perf_counter()
            history = train(ours, data, val if cfg.eval_every else None, config=cfg)
            t_ours = time.perf_counter() - t0
            t_ref = by_hand(ref, data, val, cfg, Path(tmp))
            diff = max(
                float((a - b).detach().abs().max())
                for a, b in zip(ours.parameters(), ref.parameters(), strict=True)
            )
            with torch.no_grad():
                nll = float(ours.loss(val.x, val.y))
            rows.append(
                {
                    "config": name,
                    "steps": steps,
                    "ours (s)": t_ours,
                    "by hand (s)": t_ref,
                    "× by hand": t_ours / t_ref,
                    "steps/s ours": steps / t_ours,
                    "max |Δθ|": diff,
                    "held-out NLL (nats)": nll,
                    "last loss": history.last.get("loss"),
                }
            )
    print_table(rows, title="bayesgen.train against a hand-written torch loop (MNIST p(x | y))")
    print(
        "plain: parameters identical (Δθ = 0). full: the model ends on the EMA weights, the "
        "hand loop on the raw ones, so Δθ is the EMA's lag, not an error."
    )
    path = write_json("train_loop" + ("_quick" if args.quick else ""), rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
