"""One table of nats: every paradigm on the same data, splits and seeds.

Rows: the 2-D toys and the swiss roll (3-D, standardized for training; every number is in the
data's own units). Columns, as held-out NLL (nats per row) and as the gap to the density's
entropy floor H(p) (NLL − H ≥ 0 up to sampling error, 0 for a perfect model): KDE (Gaussian
kernel, bandwidth by 5-fold cross-validation), the Gaussian mixture (EM), the VAE (its
importance-sampling estimate, k = 5000), the flow (exact), the diffusion model (its
probability-flow ODE); and the energy distance of every sampler's draws to the held-out rows,
the GAN's and the energy model's included
(:mod:`bayesgen.generative.nats`).

    python benchmarks/generative_table.py            # every toy, full training
    python benchmarks/generative_table.py --quick    # two toys and the swiss roll, few steps
    python benchmarks/generative_table.py --data moons rings     # some rows
"""

from __future__ import annotations

import argparse

from _common import print_table, write_json

from bayesgen.data import TOYS
from bayesgen.generative.nats import LIKELIHOOD_COLUMNS, SAMPLE_COLUMNS, NatsConfig, nats_row

QUICK = NatsConfig(
    n_train=4000, n_test=500, steps=600, gan_steps=800, hidden=(64, 64), k=500, components=10,
    samples=1000, timesteps=200, ode={"method": "rk4", "steps": 100}, ema=None,
)  # fmt: skip
FULL = NatsConfig(ode={"method": "dopri5", "rtol": 1e-5, "atol": 1e-5})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three rows, few steps")
    parser.add_argument(
        "--data", nargs="+", choices=(*TOYS, "swissroll"), metavar="NAME", help="some rows only"
    )
    args = parser.parse_args()
    names = ("moons", "8gaussians", "swissroll") if args.quick else (*TOYS, "swissroll")
    names = args.data or names
    config = QUICK if args.quick else FULL
    rows = []
    for name in names:
        row = nats_row(name, config)
        rows.append(row)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    nll = [m for m in LIKELIHOOD_COLUMNS if f"{m} NLL" in rows[0]]
    eds = [m for m in SAMPLE_COLUMNS if f"{m} ED" in rows[0]]
    print_table(
        [{"data": r["data"], "H": r["entropy"], **{m: r[f"{m} NLL"] for m in nll}} for r in rows],
        title="Held-out NLL (nats per row; H = the entropy floor)",
    )
    print_table(
        [{"data": r["data"], **{m: r[f"{m} gap"] for m in nll}} for r in rows],
        title="Gap to the entropy floor, NLL − H (nats per row)",
    )
    print_table(
        [{"data": r["data"], **{m: r[f"{m} ED"] for m in eds}} for r in rows],
        title="Energy distance of samples to held-out rows (fresh data: the floor)",
    )
    part = "_" + "_".join(args.data) if args.data else ""
    path = write_json("generative_table" + ("_quick" if args.quick else "") + part, rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
