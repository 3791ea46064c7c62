"""GANs on PacGAN's harness (Lin et al., 2018): mode coverage on ring-8 and grid-25.

ring-8: 8 Gaussians of σ = 0.01 on the unit circle; grid-25: 25 Gaussians of σ = 0.05 on
{−4, −2, 0, 2, 4}². From 2,500 samples of a trained generator, a sample is of high quality
within 3σ of its nearest mode, and a mode is captured by one high-quality sample
(``bayesgen.eval.mode_coverage``). PacGAN reports 7.9 modes / 95.6 % high quality (ring) and
24.8 / 93.6 % (grid) with its packed discriminator; the plain minimax GAN is the baseline of the
same table. Every method here trains the same generator and discriminator architecture with
the same optimizer, batch and steps through ``bayesgen.train``; numbers are means over seeds.

    python benchmarks/generative_gan.py            # 5 seeds, the full step count
    python benchmarks/generative_gan.py --quick    # 1 seed, few steps: the pipeline only
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import print_table, write_json

from bayesgen.data import load_dataset
from bayesgen.eval import PACGAN_SAMPLES, mode_coverage
from bayesgen.generative import GAN
from bayesgen.train import Adam, TrainConfig, train

METHODS = {
    "minimax (baseline)": {"objective": "minimax"},
    "non-saturating": {"objective": "nonsaturating"},
    "PacGAN2 (non-saturating)": {"objective": "nonsaturating", "pack": 2},
    "PacGAN4 (non-saturating)": {"objective": "nonsaturating", "pack": 4},
    "WGAN-GP": {"objective": "wgan-gp"},
}
TARGETS = {"ring8": (8.0, 0.97), "grid25": (25.0, 0.95)}


def run_one(name: str, options: dict, seed: int, steps: int, batch: int) -> dict:
    data = load_dataset(name, seed=seed)
    modes, sigma = data.modes, data.sigma
    torch.manual_seed(seed)
    model = GAN(2, latent_dim=2, hidden=(256, 256, 256), disc_hidden=(256, 256, 256), **options)
    config = TrainConfig(
        steps=steps,
        batch_size=batch,
        lr=2e-4,
        optimizer=Adam(betas=(0.5, 0.999)),
        schedule="constant",
        seed=seed,
    )
    t0 = time.perf_counter()
    train(model, data.train, config=config)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        s = model.sample(PACGAN_SAMPLES, generator=torch.Generator().manual_seed(seed))
    cov = mode_coverage(s, modes, sigma)
    return {**cov, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds, steps = (1, 500) if args.quick else (args.seeds, args.steps)
    rows = []
    for name, (target_modes, target_hq) in TARGETS.items():
        for method in args.methods:
            runs = [run_one(name, METHODS[method], s, steps, args.batch) for s in range(seeds)]
            modes = statistics.mean(r["modes"] for r in runs)
            hq = statistics.mean(r["high_quality"] for r in runs)
            rows.append(
                {
                    "data": name,
                    "method": method,
                    "modes": modes,
                    "high quality": hq,
                    "KL to uniform": statistics.mean(r["kl"] for r in runs),
                    "s per run": statistics.mean(r["seconds"] for r in runs),
                    "target met": modes >= target_modes and hq >= target_hq,
                }
            )
            print(f"{name} {method}: {modes:.2f} modes, {hq:.3f} high quality", flush=True)
    title = f"GAN mode coverage ({seeds} seed(s), {steps} steps, batch {args.batch})"
    print_table(rows, title=title)
    write_json("generative_gan", {"seeds": seeds, "steps": steps, "rows": rows})


if __name__ == "__main__":
    main()
