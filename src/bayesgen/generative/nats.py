"""One table of nats: every paradigm fitted to the same data, split and seed, scored alike.

For one data set with a known entropy H(p) (the 2-D toys, the 3-D swiss roll): held-out
NLL = −mean log q(x) in nats per row, and its gap to the floor, NLL − H(p) = KL(p ‖ q) ≥ 0 (up
to sampling error), for the classic density estimators (KDE with a cross-validated bandwidth,
the Gaussian mixture by EM) and the paradigms with a likelihood (the VAE's importance-sampling
estimate, the flow's exact log-density, the diffusion model's probability-flow ODE). The GAN
and the energy model put no likelihood on data; every sampler gets the energy distance between
its samples and the held-out rows (``fresh data``: a draw of the data itself, the distance's
floor at that sample size). The swiss roll is standardized for training; all numbers are in
the data's own units (NLL + Σ_d log s_d).

Each paradigm runs the recipe its own benchmark settled on: the diffusion model's time
modulates every layer (FiLM) and half its steps t are drawn by the ELBO's weighting; the GAN
uses Adam's β₁ = 0.5 (DCGAN); the energy model is a noise-conditional score sampled by annealed
Langevin over σ ∈ [0.01, 3]; the gradient-trained models keep a moving average of their weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["NatsConfig", "nats_row", "LIKELIHOOD_COLUMNS", "SAMPLE_COLUMNS"]

#: the columns scored by held-out NLL
LIKELIHOOD_COLUMNS = ("KDE", "GMM", "VAE", "flow", "diffusion (ODE)")
#: the columns scored by the energy distance of samples
SAMPLE_COLUMNS = ("fresh data", "VAE", "flow", "diffusion (ODE)", "GAN", "energy")


@dataclass(frozen=True)
class NatsConfig:
    """Sizes and lengths of one table: training and held-out rows, optimizer steps (the GAN's
    apart), hidden layers, importance samples k of the VAE, mixture components, samples for
    the energy distance, diffusion steps T, the ODE solver's options, the KDE's candidate
    bandwidths and the decay of the weights' moving average (None: the last weights)."""

    n_train: int = 10_000
    n_test: int = 10_000
    steps: int = 20_000
    gan_steps: int = 20_000
    hidden: tuple[int, ...] = (256, 256, 256)
    k: int = 5000
    components: int = 32
    samples: int = 5000
    timesteps: int = 1000
    ode: dict[str, Any] = field(default_factory=lambda: {"method": "dopri5"})
    bandwidths: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3)
    ema: float | None = 0.999


def _fit(model, x: torch.Tensor, steps: int, lr: float, seed: int, **kw) -> float:
    from ..data.source import TensorData
    from ..train import TrainConfig, train

    t0 = time.perf_counter()
    config = TrainConfig(steps=steps, batch_size=256, lr=lr, seed=seed, **kw)
    train(model, TensorData(x), config=config)
    return time.perf_counter() - t0


def _chunked(fn, x: torch.Tensor, size: int = 250) -> torch.Tensor:
    return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])  # chunks, not rows


def nats_row(name: str, config: NatsConfig = NatsConfig(), *, seed: int = 0) -> dict[str, Any]:
    """The table's row of data set ``name``: ``"<column> NLL"``, ``"<column> gap"`` and
    ``"<column> s"`` (fit seconds) for the likelihood columns, ``"<column> ED"`` for the
    sample columns, and ``entropy``."""
    from ..data import load_dataset
    from ..eval import energy_distance
    from ..models.kde import KDE
    from ..models.mixture.model import GaussianMixture
    from ..train import Adam
    from . import GAN, VAE, Diffusion, EnergyModel, Flow

    c = config
    ds = load_dataset(name, seed=seed, n=c.n_train)
    if ds.entropy is None or ds.kind != "real":
        raise ValueError(f"name must be real-valued data with a known entropy, got {name!r}")
    xtr, xte = ds.train.x.double(), ds.test.x[: c.n_test].double()
    mean, std = xtr.mean(0), xtr.std(0)
    if xtr.shape[1] == 2:  # the 2-D toys are used as they are
        mean, std = torch.zeros_like(mean), torch.ones_like(std)
    log_det = float(std.log().sum())  # NLL in data units = NLL standardized + Σ log s_d
    ztr, zte = (xtr - mean) / std, (xte - mean) / std
    H = float(ds.entropy)
    row: dict[str, Any] = {"data": name, "entropy": H}
    g = torch.Generator().manual_seed(seed)

    def nll(label: str, logp: torch.Tensor, seconds: float) -> None:
        value = float(-logp.double().mean()) + log_det
        row[f"{label} NLL"], row[f"{label} gap"], row[f"{label} s"] = value, value - H, seconds

    def distance(label: str, samples: torch.Tensor) -> None:
        x = samples.detach().double().reshape(len(samples), -1) * std + mean
        row[f"{label} ED"] = float(energy_distance(x, xte[: c.samples]))

    t0 = time.perf_counter()
    kde = KDE(bandwidth=list(c.bandwidths), cv=5).fit(ztr)
    nll("KDE", kde.score_samples(zte), time.perf_counter() - t0)
    t0 = time.perf_counter()
    gmm = GaussianMixture(c.components, random_state=seed, max_iter=300).fit(ztr)
    nll("GMM", gmm.score_samples(zte), time.perf_counter() - t0)

    zf, zt, D = ztr.float(), zte.float(), ztr.shape[1]
    torch.manual_seed(seed)
    vae = VAE(D, latent_dim=2, hidden=c.hidden, likelihood="gaussian-amortized")
    sec = _fit(vae, zf, c.steps, 2e-3, seed, ema=c.ema)
    vae.eval()
    with torch.no_grad():
        nll("VAE", _chunked(lambda b: vae.log_prob_is(b, k=c.k, generator=g), zt), sec)
        distance("VAE", vae.sample(c.samples, generator=g))

    torch.manual_seed(seed)
    flow = Flow(D, hidden=c.hidden)
    sec = _fit(flow, zf, c.steps, 2e-3, seed, ema=c.ema)
    flow.eval()
    with torch.no_grad():
        nll("flow", _chunked(flow.log_prob, zt), sec)
        distance("flow", flow.sample(c.samples, generator=g))

    torch.manual_seed(seed)
    diff = Diffusion(
        D, timesteps=c.timesteps, hidden=c.hidden, time_conditioning="film", elbo_fraction=0.5
    )
    sec = _fit(diff, zf, c.steps, 2e-3, seed, ema=c.ema)
    diff.eval()
    nll("diffusion (ODE)", _chunked(lambda b: diff.log_prob(b, **c.ode), zt), sec)
    with torch.no_grad():
        distance("diffusion (ODE)", diff.sample(c.samples, generator=g, sampler="ddim"))

    torch.manual_seed(seed)
    gan = GAN(D, latent_dim=D, hidden=c.hidden, disc_hidden=c.hidden)
    adam = Adam(betas=(0.5, 0.999))
    row["GAN s"] = _fit(gan, zf, c.gan_steps, 2e-4, seed, optimizer=adam, ema=c.ema)
    gan.eval()
    with torch.no_grad():
        distance("GAN", gan.sample(c.samples, generator=g))

    torch.manual_seed(seed)
    ebm = EnergyModel(D, parameterization="score", sigma_max=3.0, hidden=c.hidden)
    row["energy s"] = _fit(ebm, zf, c.steps, 2e-3, seed, ema=c.ema)
    ebm.eval()
    distance("energy", ebm.sample(c.samples, generator=g, denoise=True))
    fresh = load_dataset(name, seed=seed + 1, n=c.samples).train.x.double()
    row["fresh data ED"] = float(energy_distance(fresh, xte[: c.samples]))
    return row
