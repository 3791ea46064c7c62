"""The VAE against Pyro's SVI (Trace_ELBO) on the same networks, data, batch size and steps.

a) Binarized MNIST with Burda et al.'s (2016) one-stochastic-layer architecture, 784-200-200-50
   (tanh), Bernoulli decoder: time per epoch of each, and the test NLL of each trained model
   estimated by importance sampling with the same estimator (k = 5000 in the full run). Target:
   ours ≤ 88.0 nats within 60 minutes of a 2-core CPU, and faster per epoch than Pyro.
b) The swiss roll in R³ with L = 2 (Gaussian decoder, per-dimension variance): |Spearman| of the
   latent coordinates with the position t along the roll. Target: ≥ 0.95. Both sides start from
   the same initialization, the networks fitted to the rows' Isomap code (the recipe of
   ``bayesgen.generative.vae``), and a plain random start is reported alongside.

``python benchmarks/generative_vae.py`` runs the target configuration (long);
``--quick`` a small smoke run (under two minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table, write_json  # noqa: E402

from bayesgen.data import TensorData, load_dataset  # noqa: E402
from bayesgen.data import binarize as binarize_fn  # noqa: E402
from bayesgen.generative import VAE  # noqa: E402
from bayesgen.train import TrainConfig, train  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ---------------------------------------------------------------------------- data
def load_mnist(data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST training intensities in [0, 1] (binarized per batch below) and the test set as
    ``bayesgen.data`` binarizes it, once, with seed 0: rows of 784."""
    train_x = load_dataset("mnist-real", root=data).train.x.float()
    return train_x, load_dataset("mnist", root=data, seed=0).test.x.float()


# ---------------------------------------------------------------------------- our side
def fit_ours(
    model: VAE,
    x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    binarize: bool,
    schedule: str = "constant",
    ema: float | None = None,
) -> tuple[float, str]:
    """Train with bayesgen.train (dynamic binarization as the batch transform); returns seconds
    and the loop's name. Side by side with Pyro: a constant rate and no moving average, as
    Pyro's plain Adam; ``--ours-only`` may add cosine decay and a moving average."""
    data = TensorData(x, transform=binarize_fn if binarize else None)
    t0 = time.perf_counter()
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        schedule=schedule,
        ema=ema,
        seed=seed,
        quiet=True,
    )
    train(model, data, config=config)
    return time.perf_counter() - t0, "bayesgen.train"


# ---------------------------------------------------------------------------- Pyro's side
def fit_pyro(
    model: VAE,
    x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    binarize: bool,
) -> float:
    """Pyro's SVI with Trace_ELBO on the same encoder and decoder modules (a fresh VAE's, so
    the architecture and initialization are the same); returns seconds."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.clear_param_store()
    enc, dec, L = model.encoder, model.decoder, model.latent_dim

    def p_model(xb):
        pyro.module("decoder", dec)
        with pyro.plate("data", len(xb)):
            z = pyro.sample("z", dist.Normal(xb.new_zeros(L), 1.0).to_event(1))
            pyro.sample("x", dec(z), obs=xb)

    def guide(xb):
        pyro.module("encoder", enc)
        with pyro.plate("data", len(xb)):
            loc, scale = enc.params(xb, None)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    svi = SVI(p_model, guide, Adam({"lr": lr}), Trace_ELBO())
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):  # minibatches
            xb = x[perm[i : i + batch_size]]
            svi.step(torch.bernoulli(xb, generator=g) if binarize else xb)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- the runs
def warm_up(make, x: torch.Tensor, **opts) -> None:
    """One short untimed run of each side first (allocator, thread pool and Pyro's first-call
    costs), so the timed runs compare steady states."""
    fit_ours(make(), x[:1000], **opts)
    fit_pyro(make(), x[:1000], **opts)


def fit_each(make, x: torch.Tensor, **opts):
    """After a warm-up, train a fresh model (seed 0) on each side: yields (library, model,
    seconds, loop)."""
    warm_up(make, x, **{**opts, "epochs": 1})
    for name in ("bayesgen", "pyro"):
        torch.manual_seed(0)
        model = make()
        if name == "bayesgen":
            seconds, loop = fit_ours(model, x, **opts)
        else:
            seconds, loop = fit_pyro(model, x, **opts), "SVI(Trace_ELBO)"
        yield name, model, seconds, loop


def mnist_run(
    quick: bool, data: Path, full_epochs: int = 300, ours_only: dict | None = None
) -> list[dict]:
    train_x, test_bin = load_mnist(data)
    if quick:
        train_x, test_bin = train_x[:6000], test_bin[:200]
    epochs, batch, lr, k = (1, 100, 1e-3, 100) if quick else (full_epochs, 100, 1e-3, 5000)
    rows = []
    opts = dict(epochs=epochs, batch_size=batch, lr=lr, seed=0, binarize=True)

    def make():
        return VAE(784, latent_dim=50, hidden=[200, 200], activation="tanh")

    if ours_only is not None:
        torch.manual_seed(0)
        model = make()
        seconds, loop = fit_ours(model, train_x, **opts, **ours_only)
        runs = [("bayesgen", model, seconds, f"{loop} {ours_only}")]
    else:
        runs = fit_each(make, train_x, **opts)
    for name, model, seconds, loop in runs:
        model.eval()
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():  # 250 rows at a time: memory O(250 · chunk · 784)
            nll = -torch.cat(
                [
                    model.log_prob_is(test_bin[i : i + 250], k=k, chunk=500, generator=g)
                    for i in range(0, len(test_bin), 250)
                ]
            )
            elbo = model.elbo(test_bin, generator=torch.Generator().manual_seed(3))
        rows.append(
            {
                "data": "binarized MNIST",
                "library": name,
                "loop": loop,
                "epochs": epochs,
                "train rows": len(train_x),
                "s / epoch": seconds / epochs,
                "minutes": seconds / 60,
                "test −ELBO": float(-elbo.mean()),
                f"test NLL (IS, k={k})": float(nll.mean()),
            }
        )
    if len(rows) > 1:
        rows[0]["× pyro (time)"] = rows[1]["s / epoch"] / rows[0]["s / epoch"]
    return rows


def swissroll_run(quick: bool) -> list[dict]:
    from bayesgen.generative.vae import spectral_code

    ds = load_dataset("swissroll", seed=0, n=2500)
    x = torch.cat([ds.train.x, ds.test.x[:500]]).float()  # (3000, 3)
    x = (x - x.mean(0)) / x.std(0)
    t = ds.extras["t_test"][:500]  # the held-out rows' roll parameter
    x, held = x[:2500], x[2500:]  # train rows; held-out rows
    epochs = 20 if quick else 400
    rows = []
    opts = dict(epochs=epochs, batch_size=128, lr=3e-3, seed=0, binarize=False)

    code = spectral_code(x)
    pretrain = 500 if quick else 1000

    def make():
        return VAE(
            3,
            latent_dim=2,
            hidden=[64, 64],
            likelihood="gaussian-per-dim",
            scale=0.1,
            activation="elu",
        )

    warm_up(make, x, **{**opts, "epochs": 1})
    for name in ("bayesgen", "pyro", "bayesgen, random start"):
        torch.manual_seed(0)
        model = make()
        if name != "bayesgen, random start":
            model.pretrain_code(x, code, steps=pretrain, seed=0)
        if name.startswith("bayesgen"):
            seconds, loop = fit_ours(model, x, **opts)
        else:
            seconds, loop = fit_pyro(model, x, **opts), "SVI(Trace_ELBO)"
        with torch.no_grad():
            z = model.encode(held)
            elbo = model.elbo(held, generator=torch.Generator().manual_seed(3)).mean()
        rho = max(abs(spearmanr(z[:, j], t).statistic) for j in range(2))
        rows.append(
            {
                "data": "swiss roll 3-D",
                "library": name,
                "init": "random" if "random" in name else f"Isomap code, {pretrain} steps",
                "loop": loop,
                "epochs": epochs,
                "train rows": len(x),
                "s / epoch": seconds / epochs,
                "held-out ELBO": float(elbo),
                "held-out max |Spearman(z_j, t)|": rho,
            }
        )
    rows[0]["× pyro (time)"] = rows[1]["s / epoch"] / rows[0]["s / epoch"]
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding mnist/")
    parser.add_argument(
        "--epochs",
        type=int,
        default=300,
        help="MNIST epochs of the full run (300: about the 60-minute budget of ours)",
    )
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="MNIST: train only ours, with cosine decay and a moving average of the weights "
        "(the 60-minute target run); Pyro's time per epoch comes from the side-by-side run",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 quick, 2 full)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads or (1 if args.quick else 2))
    ours_only = {"schedule": "cosine", "ema": 0.999} if args.ours_only else None
    mnist = mnist_run(args.quick, args.data, args.epochs, ours_only)
    print_table(mnist, title="VAE, binarized MNIST (784-200-200-50, tanh)")
    roll = swissroll_run(args.quick)
    print_table(roll, title="VAE, swiss roll 3-D (L = 2)")
    path = write_json(
        "generative_vae" + ("_quick" if args.quick else ""), {"mnist": mnist, "swissroll": roll}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
