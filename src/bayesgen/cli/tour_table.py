"""Tour section: one table of nats (:mod:`bayesgen.generative.nats`), every paradigm fitted to
the same 2-D toys with the same split and seed, each scored by held-out NLL and its gap to the
toy's entropy, and every sampler by the energy distance of its draws. Small models and short
training so that the section runs in well under a minute; the full table is the benchmark's."""

from __future__ import annotations

from pathlib import Path

from .report import ResultTable, Section

__all__ = ["SECTIONS", "nats_table_section"]

#: the toys of the table and its sizes (the tests shrink them)
TOYS = ("moons", "8gaussians")
CONFIG = dict(
    n_train=3000, n_test=500, steps=500, gan_steps=600, hidden=(64, 64), k=200, components=10,
    samples=1000, timesteps=100, ode={"method": "rk4", "steps": 50},
    ema=None,  # 500 steps whose cosine ends at rate 0: the last weights are already settled
)  # fmt: skip


def _cell(row: dict, key: str) -> object:
    value = row.get(key)
    return "—" if value is None else round(float(value), 3)


def nats_table_section(out: Path, data: Path | None = None) -> Section:
    """Held-out NLL, gap to the entropy floor and energy distance of every paradigm."""
    from ..generative.nats import LIKELIHOOD_COLUMNS, SAMPLE_COLUMNS, NatsConfig, nats_row

    config = NatsConfig(**CONFIG)
    rows = [nats_row(name, config) for name in TOYS]
    nll = [m for m in LIKELIHOOD_COLUMNS if f"{m} NLL" in rows[0]]
    eds = [m for m in SAMPLE_COLUMNS if f"{m} ED" in rows[0]]
    return Section(
        "One table of nats: every paradigm on the same data",
        f"KDE, a Gaussian mixture and the {', '.join(nll[2:])} models fitted to "
        f"{config.n_train} rows of each toy ({config.steps} steps), scored on "
        f"{config.n_test} held-out rows; the GAN and the energy model by their samples.",
        "Each toy's entropy H(p) is known, so NLL − H = KL(p ‖ q) says how far each model is "
        "from the truth (negative only within sampling error). The VAE's NLL is its "
        f"importance-sampling estimate (k = {config.k}), the diffusion model's the exact "
        "likelihood of its probability-flow ODE. A GAN or an energy model has no likelihood "
        "to report: every sampler is compared by the energy distance of its draws to the "
        "held-out rows, against a fresh draw of the data itself (the floor at this size).",
        tables=[
            ResultTable(
                "Held-out NLL in nats per row (H: the entropy floor)",
                ["data", "H", *nll],
                [
                    [r["data"], _cell(r, "entropy"), *(_cell(r, f"{m} NLL") for m in nll)]
                    for r in rows
                ],
            ),  # fmt: skip
            ResultTable(
                "Gap to the entropy floor, NLL − H (nats per row)",
                ["data", *nll],
                [[r["data"], *(_cell(r, f"{m} gap") for m in nll)] for r in rows],
            ),
            ResultTable(
                "Energy distance of samples to held-out rows",
                ["data", *eds],
                [[r["data"], *(_cell(r, f"{m} ED") for m in eds)] for r in rows],
            ),
        ],
    )


SECTIONS = [nats_table_section]
