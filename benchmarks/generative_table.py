"""One table of nats: every paradigm on the same data, splits and seeds.

Rows: the 2-D toys and the swiss roll (3-D, standardized for training; every number is in the
data's own units). Columns, as held-out NLL (nats per row) and as the gap to the density's
entropy floor H(p) (NLL − H ≥ 0 up to sampling error, 0 for a perfect model):

* KDE (Gaussian kernel, bandwidth by 5-fold cross-validation) and the Gaussian mixture (EM);
* the VAE: its importance-sampling estimate log p(x) ≈ IWAE_k, k = 5000 (a bound in
  expectation);
* the flow (exact), where the flow paradigm is installed;
* the diffusion model: the exact likelihood of its probability-flow ODE;
* the GAN and the energy model, which put no likelihood on data: the energy distance between
  their samples and the held-out rows (and, for reference, of the likelihood models' samples).

    python benchmarks/generative_table.py            # every toy, full training
    python benchmarks/generative_table.py --quick    # two toys and the swiss roll, few steps
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import print_table, write_json

from bayesgen.data import TOYS, load_dataset
from bayesgen.data.source import TensorData
from bayesgen.eval import energy_distance
from bayesgen.generative import GAN, VAE, Diffusion, EnergyModel
from bayesgen.models.kde import KDE
from bayesgen.models.mixture.model import GaussianMixture
from bayesgen.train import TrainConfig, train

try:
    from bayesgen.generative import Flow
except ImportError:  # the flow paradigm is not installed
    Flow = None

SETTINGS = {
    "quick": dict(
        rows=("moons", "8gaussians", "swissroll"), n_train=4000, n_test=500, steps=600,
        gan_steps=800, hidden=(64, 64), k=500, components=10, samples=1000, timesteps=200,
    ),
    "full": dict(
        rows=(*TOYS, "swissroll"), n_train=10000, n_test=10000, steps=20000, gan_steps=20000,
        hidden=(256, 256, 256), k=5000, components=32, samples=5000, timesteps=1000,
    ),
}  # fmt: skip


def fit(model, x: torch.Tensor, steps: int, lr: float = 2e-3, **kw) -> float:
    t0 = time.perf_counter()
    train(model, TensorData(x), config=TrainConfig(steps=steps, batch_size=256, lr=lr, **kw))
    return time.perf_counter() - t0


def chunked(fn, x: torch.Tensor, size: int = 250) -> torch.Tensor:
    """fn over chunks of rows, concatenated: (B,)."""
    return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])  # chunks, not rows


def run_row(name: str, s: dict, seed: int = 0) -> dict:
    ds = load_dataset(name, seed=seed, n=s["n_train"])
    xtr, xte = ds.train.x.double(), ds.test.x[: s["n_test"]].double()
    mean, std = xtr.mean(0), xtr.std(0)
    if name != "swissroll":  # the 2-D toys are used as they are
        mean, std = torch.zeros_like(mean), torch.ones_like(std)
    log_det = float(std.log().sum())  # NLL in data units = NLL standardized + Σ log s_d
    ztr, zte = (xtr - mean) / std, (xte - mean) / std
    H = float(ds.entropy)
    row: dict = {"data": name, "entropy": H}

    def nll(label: str, logp: torch.Tensor, seconds: float) -> None:
        value = float(-logp.double().mean()) + log_det
        row[f"{label} NLL"], row[f"{label} gap"] = value, value - H
        row[f"{label} s"] = seconds

    def sample_metric(label: str, samples: torch.Tensor) -> None:
        x = samples.double().reshape(len(samples), -1) * std + mean
        row[f"{label} ED"] = float(energy_distance(x, xte[: s["samples"]]))

    t0 = time.perf_counter()
    kde = KDE(bandwidth=[0.02, 0.05, 0.1, 0.2, 0.3], cv=5).fit(ztr)
    nll("KDE", kde.score_samples(zte), time.perf_counter() - t0)
    t0 = time.perf_counter()
    gmm = GaussianMixture(s["components"], random_state=seed, max_iter=300).fit(ztr)
    nll("GMM", gmm.score_samples(zte), time.perf_counter() - t0)

    zf, D = ztr.float(), ztr.shape[1]
    torch.manual_seed(seed)
    vae = VAE(D, latent_dim=2, hidden=s["hidden"], likelihood="gaussian-amortized")
    sec = fit(vae, zf, s["steps"], seed=seed)
    vae.eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        nll("VAE", chunked(lambda b: vae.log_prob_is(b, k=s["k"], generator=g), zte.float()), sec)
        sample_metric("VAE", vae.sample(s["samples"], generator=g))

    if Flow is not None:
        torch.manual_seed(seed)
        flow = Flow(D, hidden=s["hidden"])
        sec = fit(flow, zf, s["steps"], seed=seed)
        flow.eval()
        with torch.no_grad():
            nll("flow", chunked(flow.log_prob, zte.float()), sec)
            sample_metric("flow", flow.sample(s["samples"], generator=g))

    torch.manual_seed(seed)
    diff = Diffusion(D, timesteps=s["timesteps"], prediction="v", hidden=s["hidden"])
    sec = fit(diff, zf, s["steps"], lr=3e-3, seed=seed)
    diff.eval()
    nll(
        "diffusion (ODE)",
        chunked(lambda b: diff.log_prob(b, rtol=1e-4, atol=1e-4), zte.float()),
        sec,
    )
    with torch.no_grad():
        sample_metric("diffusion (ODE)", diff.sample(s["samples"], generator=g, sampler="ddim"))

    torch.manual_seed(seed)
    gan = GAN(D, latent_dim=D, hidden=s["hidden"], disc_hidden=s["hidden"])
    row["GAN s"] = fit(gan, zf, s["gan_steps"], lr=2e-4, schedule="constant", seed=seed)
    gan.eval()
    with torch.no_grad():
        sample_metric("GAN", gan.sample(s["samples"], generator=g))

    torch.manual_seed(seed)
    ebm = EnergyModel(D, hidden=s["hidden"])
    row["energy s"] = fit(ebm, zf, s["steps"], seed=seed)
    ebm.eval()
    sample_metric("energy", ebm.sample(s["samples"], generator=g))
    held = load_dataset(name, seed=seed + 1, n=s["samples"]).train.x.double()
    row["data ED"] = float(energy_distance(held, xte[: s["samples"]]))  # fresh data: the floor
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three rows, few steps")
    args = parser.parse_args()
    s = SETTINGS["quick" if args.quick else "full"]
    rows = []
    for name in s["rows"]:
        row = run_row(name, s)
        rows.append(row)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    labels = ["KDE", "GMM", "VAE", *(["flow"] if Flow is not None else []), "diffusion (ODE)"]
    print_table(
        [
            {"data": r["data"], "H": r["entropy"], **{m: r[f"{m} NLL"] for m in labels}}
            for r in rows
        ],
        title="Held-out NLL (nats per row; H = the entropy floor)",
    )
    print_table(
        [{"data": r["data"], **{m: r[f"{m} gap"] for m in labels}} for r in rows],
        title="Gap to the entropy floor, NLL − H (nats per row)",
    )
    eds = ["data", *labels, "GAN", "energy"]
    print_table(
        [{"data": r["data"], **{m: r[f"{m} ED"] for m in eds}} for r in rows],
        title="Energy distance of samples to held-out rows (data: a fresh draw, the floor)",
    )
    path = write_json("generative_table" + ("_quick" if args.quick else ""), rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
