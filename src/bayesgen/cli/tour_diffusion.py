"""Tour sections for §2.2.2.4 (diffusion models) and the energy/score models: figure 11 drawn
from a live model, the swiss roll noised forward and denoised backward, its likelihood by the
probability-flow ODE, and Song & Ermon's two-mode toy sampled by plain and annealed Langevin.
Each section trains small models on generated data in well under a minute."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..data import TensorData, load_dataset
from ..eval import energy_distance
from ..generative.energy import (
    annealed_langevin,
    gaussian_mixture_score,
    geometric_sigmas,
    langevin,
)
from ..train import TrainConfig, train
from .report import Figure, ResultTable, Section, save_figure

__all__ = ["SECTIONS", "diffusion_section", "langevin_section"]

#: training steps of the sections' models (a test shortens them)
STEPS = {"diffusion": 4000, "score": 1500}


def _swissroll(n_train: int, n_test: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D swiss roll (train, test), standardized."""
    ds = load_dataset("swissroll2d", seed=seed, n=n_train + n_test)
    x = torch.cat([ds.train.x, ds.test.x]).double()
    x = (x - x.mean(0)) / x.std(0)
    return x[:n_train].float(), x[n_train : n_train + n_test].float()


def _fit(model, x: torch.Tensor, steps: int, batch: int = 256, lr: float = 2e-3) -> None:
    """``steps`` Adam steps of the library's loop (cosine schedule) on minibatches of ``x``."""
    train(model, TensorData(x), config=TrainConfig(steps=steps, batch_size=batch, lr=lr))


def _energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The squared energy distance 2 E|a − b| − E|a − a'| − E|b − b'|."""
    return float(energy_distance(a.double(), b.double())) ** 2


def diffusion_section(out: Path, data: Path | None = None) -> Section:
    """§2.2.2.4: a diffusion model (T = 1000) trained on the swiss roll; figure 11 from its two
    networks, forward/reverse snapshots, the ODE likelihood, ancestral vs DDIM sampling."""
    from ..generative import Diffusion
    from ..plot.diffusion import draw_diffusion_networks, plot_diffusion_snapshots

    torch.manual_seed(0)
    train_x, test_x = _swissroll(8000, 4000)
    model = Diffusion(2, timesteps=1000, prediction="v", hidden=(128, 128, 128), embedding=32)
    t0 = time.perf_counter()
    _fit(model, train_x, steps=STEPS["diffusion"], lr=3e-3)
    train_s = time.perf_counter() - t0
    save_figure(draw_diffusion_networks(model), out / "diffusion_networks.png")
    times = [1000, 400, 200, 100, 40, 0]
    save_figure(
        plot_diffusion_snapshots(model, test_x[:1500], times=times), out / "diffusion_snapshots.png"
    )
    half_a, half_b = test_x[:2000], test_x[2000:4000]
    floor = _energy_distance(half_a, half_b)
    rows = []
    for sampler, steps in (("ancestral", 1000), ("ddim", 50)):
        t0 = time.perf_counter()
        s = model.sample(2000, generator=torch.Generator().manual_seed(1), sampler=sampler,
                         steps=steps)  # fmt: skip
        secs = time.perf_counter() - t0
        rows.append([sampler, steps, round(_energy_distance(s, half_a) / floor, 2), round(secs, 2)])
    with torch.no_grad():
        nelbo = -float(model.elbo(test_x[:300], estimator="exact").mean())
    t0 = time.perf_counter()
    nll = -float(model.log_prob(test_x[:300]).mean())
    ode_s = time.perf_counter() - t0
    text = (
        "The forward chain q(z_1..z_T | x) is a fixed BayesNet of Gaussian steps (cosine "
        "schedule); the reverse chain p is a BayesNet whose T factors share one denoising "
        "network through a time embedding (here predicting v = √ᾱ ε − √(1 − ᾱ) x, "
        "which trains faster than ε on this thin curve). Both DAGs of figure 11 are drawn "
        "from the model's `networks`. Training minimizes the simplified loss (the squared "
        "error of the prediction); the ELBO (in nats, all 1,000 steps summed) bounds the "
        "likelihood the probability-flow ODE gives "
        f"exactly. On 300 held-out points (standardized units): NLL by the ODE {nll:.3f} nats "
        f"({ode_s:.1f} s, Dormand–Prince, exact divergence), negative ELBO {nelbo:.3f} nats. "
        "Sample quality is the energy distance to held-out data divided by that between two "
        "held-out halves (1 = indistinguishable at this sample size)."
    )
    return Section(
        title="Diffusion models (§2.2.2.4)",
        summary=(
            f"A diffusion model (T = 1000, MLP denoiser) trained {train_s:.0f} s on 8,000 "
            "points of the 2-D swiss roll; sampled by ancestral steps and DDIM."
        ),
        text=text,
        figures=[
            Figure(
                "diffusion_networks.png",
                "The two Bayesian networks of a diffusion model, drawn from the live model: "
                "the fixed forward chain q and the learned reverse chain p.",
                "11",
            ),
            Figure(
                "diffusion_snapshots.png",
                "The swiss roll noised by q(z_t | x) (top) and the reverse chain's ancestral "
                "samples at the same steps, from z_T ~ N(0, I) to x (bottom).",
            ),
        ],
        tables=[
            ResultTable(
                "Sampling the trained model: energy-distance ratio to held-out data (2,000 "
                "samples) and wall time.",
                ["sampler", "steps", "energy-distance ratio", "seconds"],
                rows,
            ),
            ResultTable(
                "Likelihood of 300 held-out points (nats per point, standardized units).",
                ["quantity", "nats"],
                [["NLL, probability-flow ODE", round(nll, 3)], ["−ELBO", round(nelbo, 3)]],
            ),
        ],
    )


_MEANS = torch.tensor([[5.0, 5.0], [-5.0, -5.0]])
_WEIGHTS = torch.tensor([0.8, 0.2])


def _mixture_score(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """∇ log of 0.8 N((5,5), (1 + σ²) I) + 0.2 N((−5,−5), (1 + σ²) I)."""
    return gaussian_mixture_score(x, _MEANS, _WEIGHTS, 1 + sigma**2)


def _weight(x: torch.Tensor) -> float:
    return float(((x - _MEANS[0]).norm(dim=1) < (x - _MEANS[1]).norm(dim=1)).float().mean())


def langevin_section(out: Path, data: Path | None = None) -> Section:
    """Energy and score models: Song & Ermon's toy by plain and annealed Langevin, with the
    exact score and with a score learned by denoising score matching; the model's MRF."""
    from ..generative import EnergyModel
    from ..plot.energy import draw_mrf, plot_langevin

    sigmas = geometric_sigmas(20.0, 1.0, 10)

    def starts():
        g = torch.Generator().manual_seed(0)
        return torch.rand(1280, 2, generator=g) * 16 - 8, g

    x0, g = starts()
    plain = langevin(_mixture_score, x0, step_size=0.1, steps=1000, generator=g)
    x0, g = starts()
    annealed = annealed_langevin(_mixture_score, x0, sigmas, step_size=0.1, steps=100, generator=g)
    torch.manual_seed(0)
    model = EnergyModel(2, parameterization="score", sigma_max=20.0, sigma_min=1.0, levels=10,
                        hidden=(64, 64), step_size=0.1, steps=100)  # fmt: skip
    g = torch.Generator().manual_seed(1)
    k = (torch.rand(10000, generator=g) < 0.2).long()
    train_x = _MEANS[k] + torch.randn(10000, 2, generator=g)
    t0 = time.perf_counter()
    _fit(model, train_x, steps=STEPS["score"], lr=3e-3)
    train_s = time.perf_counter() - t0
    x0, g = starts()
    learned = model.sample(1280, generator=g, init=x0)
    panels = {
        f"plain Langevin, exact score: {_weight(plain):.2f}": plain,
        f"annealed Langevin, exact score: {_weight(annealed):.2f}": annealed,
        f"annealed Langevin, DSM score: {_weight(learned):.2f}": learned,
    }
    fig = plot_langevin(
        panels, modes=_MEANS.tolist(), title="weight of the (5, 5) mode (true 0.80)"
    )
    save_figure(fig, out / "langevin.png")
    ax = draw_mrf(EnergyModel(4, hidden=(8,)), title="p(x) ∝ exp(−E(x)), x = (x[0], …, x[3])")
    save_figure(ax, out / "energy_mrf.png")
    rows = [
        ["plain Langevin (1,000 steps, η = 0.1)", "exact", round(_weight(plain), 3)],
        ["annealed Langevin (10 levels × 100 steps)", "exact", round(_weight(annealed), 3)],
        ["annealed Langevin (10 levels × 100 steps)", "learned (DSM)", round(_weight(learned), 3)],
    ]
    text = (
        "An energy model p(x) ∝ exp(−E(x)) is not a Bayesian network: its graph is the "
        "complete undirected graph over x's coordinates (a Markov random field, §2.1), and it "
        "is sampled by Langevin dynamics driven by the score ∇ log p = −∇E, which needs no "
        "normalizing constant. On 0.8 N((5,5), I) + 0.2 N((−5,−5), I) with 1,280 chains "
        "started uniformly in [−8, 8]², plain Langevin keeps each chain in the basin it starts "
        "in, so the weights follow the start (about one half); annealed Langevin, through "
        "noise levels σ from 20 to 1, recovers them, with the exact score and with a "
        f"noise-conditional score network trained by denoising score matching ({train_s:.0f} s)."
    )
    return Section(
        title="Energy and score models: Langevin sampling",
        summary=(
            "Song & Ermon's two-mode toy sampled by plain and annealed Langevin dynamics, with "
            "the exact score and a score learned by denoising score matching."
        ),
        text=text,
        figures=[
            Figure("langevin.png", "Plain vs annealed Langevin on the two-mode mixture."),
            Figure("energy_mrf.png", "An energy model over four coordinates as the MRF it is."),
        ],
        tables=[
            ResultTable(
                "Fraction of the 1,280 chains in the (5, 5) mode (true weight 0.80).",
                ["sampler", "score", "weight"],
                rows,
            )
        ],
    )


SECTIONS = [diffusion_section, langevin_section]
