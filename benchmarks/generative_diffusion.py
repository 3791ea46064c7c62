"""Diffusion and energy models on the 2-D toys: bayesgen against the same denoiser run through
diffusers' schedulers in a plain loop, on the same data in one process.

For each data set: our Diffusion (T = 1000, cosine schedule, ε-prediction, the time modulating
every hidden layer by FiLM, half of each batch's steps t drawn with the ELBO's weighting) is
trained with ``bayesgen.train``; its held-out NLL by the probability-flow ODE is compared with
the data's entropy (the floor); 10,000 samples by ancestral sampling (1,000 steps) and by DDIM
(50 steps) are scored by the energy distance to held-out data, as a ratio to the energy distance
between two held-out halves of the same size (1 is the noise floor; ``ed_noise`` is the ratio's
sd, from the spread of the energy distance over disjoint quarters of the samples). The peer
trains the same Denoiser on the same distribution of t with diffusers'
DDPMScheduler.add_noise and samples it with DDPMScheduler.step (1,000 steps) and
DDIMScheduler.step (50 steps). An EnergyModel (noise-conditional score, DSM, annealed Langevin)
is scored the same way.

    python benchmarks/generative_diffusion.py            # every toy, the issue's configuration
    python benchmarks/generative_diffusion.py --quick    # moons and the swiss roll, small
    python benchmarks/generative_diffusion.py --data moons 8gaussians   # some toys only
    python benchmarks/generative_diffusion.py --time concat --elbo-fraction 0   # Ho et al.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, write_json  # noqa: E402

from bayesgen.data import TensorData, load_dataset  # noqa: E402
from bayesgen.eval import energy_distance as eval_energy_distance  # noqa: E402
from bayesgen.generative import Diffusion, EnergyModel  # noqa: E402
from bayesgen.generative.denoiser import Denoiser  # noqa: E402
from bayesgen.train import TrainConfig, train  # noqa: E402

__all__ = ["run"]

FULL = ["8gaussians", "checkerboard", "moons", "pinwheel", "2spirals", "rings", "swissroll2d"]
QUICK = ["moons", "swissroll2d"]
COLUMNS = [
    "data",
    "model",
    "sampler",
    "steps",
    "ed_ratio",
    "ed_noise",
    "sample_s",
    "nll",
    "entropy",
    "nll_gap",
    "train_s",
]


# ---------------------------------------------------------------------------- data
def load(name: str, n_train: int, n_test: int, seed: int = 0):
    """(train, test, entropy or None) as float64 tensors (N, 2)."""
    ds = load_dataset(name, seed=seed, n=n_train + n_test)
    x = torch.cat([ds.train.x, ds.test.x]).double()  # our own split, of the sizes asked
    if len(x) < n_train + n_test:
        raise ValueError(f"{name}: {len(x)} rows, the benchmark needs {n_train + n_test}")
    return x[:n_train], x[len(x) - n_test :], ds.entropy


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The squared energy distance 2 E|a − b| − E|a − a'| − E|b − b'| (V-statistics)."""
    return float(eval_energy_distance(a.double(), b.double())) ** 2


def energy_distance_with_noise(a: torch.Tensor, b: torch.Tensor, k: int = 4):
    """The energy distance of a and b, and its relative standard deviation estimated from k
    disjoint quarters: sd(ED_i) / (mean(ED_i) √k). (Two models compared against the same
    held-out floor differ by more than noise when their ratios differ by > 2 √(sd₁² + sd₂²).)"""
    m = len(a) // k
    parts = torch.tensor(
        [energy_distance(a[i * m : (i + 1) * m], b[i * m : (i + 1) * m]) for i in range(k)]
    )
    return energy_distance(a, b), float(parts.std() / (parts.mean() * math.sqrt(k)))


# ---------------------------------------------------------------------------- training
def fit(model, x: torch.Tensor, cfg: dict, seed: int) -> float:
    """Train with bayesgen.train (cosine schedule, the weights' moving average); seconds."""
    t0 = time.perf_counter()
    config = TrainConfig(steps=cfg["steps"], batch_size=cfg["batch"], lr=cfg["lr"], seed=seed,
                         ema=cfg["ema"], quiet=True)  # fmt: skip
    train(model, TensorData(x.float()), config=config)
    return time.perf_counter() - t0


def fit_peer(net: Denoiser, scheduler, x, cfg: dict, seed: int, proposal=None) -> float:
    """The same denoiser trained the diffusers way: add_noise at t ~ U{0..T−1} (or at t drawn
    from ``proposal``, our model's distribution of t shifted to diffusers' 0-based steps), MSE to
    ε (or to ``get_velocity`` for v-prediction), the same moving average of the weights;
    seconds."""
    t0 = time.perf_counter()
    steps, batch = cfg["steps"], cfg["batch"]
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    ema = [p.detach().clone() for p in net.parameters()]
    T = scheduler.config.num_train_timesteps
    x = x.float()
    for _ in range(steps):  # optimizer steps, not rows
        x0 = x[torch.randint(0, len(x), (batch,), generator=g)]
        noise = torch.randn(x0.shape, generator=g)
        if proposal is None:
            t = torch.randint(0, T, (batch,), generator=g)
        else:
            t = torch.multinomial(proposal, batch, replacement=True, generator=g)
        target = noise if cfg["prediction"] == "epsilon" else scheduler.get_velocity(x0, noise, t)
        loss = (net(scheduler.add_noise(x0, noise, t), t.float()) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if cfg["ema"] is not None:
            with torch.no_grad():
                for e, p in zip(ema, net.parameters(), strict=True):
                    e.lerp_(p, 1 - cfg["ema"])
    if cfg["ema"] is not None:
        with torch.no_grad():
            for e, p in zip(ema, net.parameters(), strict=True):
                p.copy_(e)
    return time.perf_counter() - t0


@torch.no_grad()
def sample_peer(
    net: Denoiser, scheduler, n: int, steps: int, seed: int, **step_kwargs
) -> torch.Tensor:
    """Sample through ``scheduler.step`` (``step_kwargs`` passed on) in a plain loop."""
    g = torch.Generator().manual_seed(seed)
    scheduler.set_timesteps(steps)
    z = torch.randn(n, 2, generator=g)
    for t in scheduler.timesteps:  # time steps, not rows
        out = net(z, t.float().expand(n))
        z = scheduler.step(out, t, z, generator=g, **step_kwargs).prev_sample
    return z


# ---------------------------------------------------------------------------- one data set
def run_one(name: str, cfg: dict) -> list[dict]:
    import diffusers

    n_s = cfg["samples"]
    train_x, test_x, entropy = load(name, cfg["train"], 2 * n_s, seed=0)
    mean, std = train_x.mean(0), train_x.std(0)
    log_det = float(std.log().sum())  # NLL in data units = NLL standardized + Σ log σ_d
    tr, te = (train_x - mean) / std, (test_x - mean) / std
    floor = energy_distance(test_x[:n_s], test_x[n_s : 2 * n_s])  # two held-out halves
    rows = []

    def scored(model, sampler, steps, s, secs, **extra):
        s = s.double() * std + mean  # back to data units
        ed, rel_sd = energy_distance_with_noise(s, test_x[:n_s])
        ratio = ed / floor
        return dict(data=name, model=model, sampler=sampler, steps=steps, ed_ratio=ratio,
                    ed_noise=ratio * rel_sd, sample_s=secs, **extra)  # fmt: skip

    # ours
    torch.manual_seed(0)
    model = Diffusion(2, timesteps=1000, hidden=cfg["hidden"], embedding=32,
                      prediction=cfg["prediction"], time_conditioning=cfg["time"],
                      elbo_fraction=cfg["elbo_fraction"])  # fmt: skip
    train_s = fit(model, tr, cfg, seed=0)
    t0 = time.perf_counter()
    nll = -float(model.log_prob(te[: cfg["nll_rows"]].float()).mean()) + log_det
    nll_s = time.perf_counter() - t0
    gap = None if entropy is None else nll - float(entropy)
    # --clip: x̂_0 clamped to the standardized training rows' range, in both chains
    clip = float(tr.abs().max()) if cfg["clip"] else None
    for sampler, steps in (("ancestral", 1000), ("ddim", 50)):
        t0 = time.perf_counter()
        s = model.sample(n_s, generator=torch.Generator().manual_seed(1), sampler=sampler,
                         steps=steps, clip=clip)  # fmt: skip
        secs = time.perf_counter() - t0
        extra = dict(nll=nll, entropy=entropy, nll_gap=gap, train_s=train_s, nll_s=nll_s)
        rows.append(scored("bayesgen", sampler, steps, s, secs, **extra))

    # the same denoiser through diffusers' schedulers
    kw = dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
              clip_sample=clip is not None, clip_sample_range=clip or 1.0)  # fmt: skip
    kw["prediction_type"] = "epsilon" if cfg["prediction"] == "epsilon" else "v_prediction"
    ddpm = diffusers.DDPMScheduler(**kw)
    torch.manual_seed(0)
    net = Denoiser(2, cfg["hidden"], embedding=32, time_conditioning=cfg["time"])
    proposal = model.time_proposal[1:] if cfg["elbo_fraction"] else None
    peer_s = fit_peer(net, ddpm, tr, cfg, seed=0, proposal=proposal)
    # DDIM re-derives ε̂ from a clipped x̂_0, as our chain does (no effect without clipping)
    for sampler, sched, steps, step_kw in (
        ("ancestral", ddpm, 1000, {}),
        ("ddim", diffusers.DDIMScheduler(**kw), 50, {"use_clipped_model_output": True}),
    ):
        t0 = time.perf_counter()
        s = sample_peer(net, sched, n_s, steps, seed=1, **step_kw)
        secs = time.perf_counter() - t0
        rows.append(scored("diffusers", sampler, steps, s, secs, train_s=peer_s))

    # an energy (score) model by denoising score matching, annealed Langevin
    torch.manual_seed(0)
    energy = EnergyModel(2, parameterization="score", sigma_max=3.0, sigma_min=0.01,
                         levels=10, hidden=cfg["hidden"], step_size=2e-5, steps=100)  # fmt: skip
    e_s = fit(energy, tr, cfg, seed=0)
    t0 = time.perf_counter()
    s = energy.sample(n_s, generator=torch.Generator().manual_seed(1), denoise=True)
    rows.append(scored("energy(dsm)", "annealed", 1000, s, time.perf_counter() - t0, train_s=e_s))
    return rows


def run(quick: bool = False, data: list[str] | None = None, **overrides) -> list[dict]:
    torch.set_num_threads(1)  # tiny MLPs: a second thread only adds synchronisation
    if quick:
        cfg = dict(train=5000, samples=2000, steps=1500, batch=256, lr=2e-3,
                   hidden=(128, 128, 128), nll_rows=200, ema=None,
                   prediction="epsilon", clip=False, time="film",
                   elbo_fraction=0.5)  # fmt: skip
        names = QUICK
    else:
        cfg = dict(train=50000, samples=10000, steps=20000, batch=512, lr=1e-3,
                   hidden=(256, 256, 256), nll_rows=2000, ema=0.999,
                   prediction="epsilon", clip=False, time="film",
                   elbo_fraction=0.5)  # fmt: skip
        names = FULL
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if data:
        names = data
    rows = []
    for name in names:
        t0 = time.perf_counter()
        rows += run_one(name, cfg)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print_table(rows, COLUMNS, title="diffusion and energy models on the 2-D toys")
    ok_nll = [r for r in rows if r.get("nll_gap") is not None]
    if ok_nll:
        worst = max(r["nll_gap"] for r in ok_nll)
        print(f"\nlargest NLL gap to the entropy floor: {worst:.3f} nats (target 0.10)")
    print(f"largest energy-distance ratio: {max(r['ed_ratio'] for r in rows):.2f} (target 1.5)")
    for name in names:  # ours against diffusers, same sampler: equal within noise?
        for sampler in ("ancestral", "ddim"):
            a, b = (
                next(r for r in rows if r["data"] == name and r["model"] == m
                     and r["sampler"] == sampler)
                for m in ("bayesgen", "diffusers")
            )  # fmt: skip
            noise = math.hypot(a["ed_noise"], b["ed_noise"])
            verdict = (
                "equal within noise"
                if abs(a["ed_ratio"] - b["ed_ratio"]) <= 2 * noise
                else "differ"
            )
            print(f"{name} {sampler}: ours {a['ed_ratio']:.2f} vs diffusers {b['ed_ratio']:.2f} "
                  f"(2 sd noise {2 * noise:.2f}): {verdict}")  # fmt: skip
    suffix = "_quick" if quick else "".join(f"_{n}" for n in data or ())
    suffix += "" if cfg["prediction"] == "epsilon" else f"_{cfg['prediction']}"
    suffix += "_clip" if cfg["clip"] else ""
    suffix += "" if cfg["time"] == "film" else f"_time-{cfg['time']}"
    suffix += "" if cfg["elbo_fraction"] == 0.5 else f"_elbo{cfg['elbo_fraction']:g}"
    out = write_json("generative_diffusion" + suffix,
                     {"config": {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in cfg.items()}, "rows": rows})  # fmt: skip
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run in under 2 minutes")
    parser.add_argument("--data", nargs="+", choices=FULL, help="these toys only")
    parser.add_argument("--steps", type=int, help="training steps (default 20,000)")
    parser.add_argument("--prediction", choices=["epsilon", "v"], help="default epsilon")
    parser.add_argument("--ema", type=float, help="decay of the weights' average (0.999)")
    parser.add_argument("--clip", action="store_true", default=None,
                        help="clamp x̂_0 to the training rows' range in both chains")  # fmt: skip
    parser.add_argument("--time", choices=["film", "concat"],
                        help="how the denoiser takes the time (default film)")  # fmt: skip
    parser.add_argument("--elbo-fraction", type=float,
                        help="rows whose t follows the ELBO's weighting (0.5)")  # fmt: skip
    args = parser.parse_args()
    run(quick=args.quick, data=args.data, steps=args.steps, prediction=args.prediction,
        ema=args.ema, clip=args.clip, time=args.time,
        elbo_fraction=args.elbo_fraction)  # fmt: skip
