"""Tour section for conditional generation (eq. 19) and §2.2.3.1: class-conditional VAE, ARM
and diffusion models of the 8×8 digits, their sample grids judged by a separately trained
classifier, and the same models used as classifiers p(y | x) by Bayes' rule, beside
scikit-learn's BernoulliNB and logistic regression on the same binarized pixels. Small models:
the section runs in well under a minute."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .report import Figure, ResultTable, Section, save_figure

__all__ = ["SECTIONS", "conditional_section"]

SEED = 0
#: optimizer steps of each model (the tests shrink them)
STEPS = {"vae": 500, "arm": 500, "diffusion": 800}
#: importance samples of the VAE classifier's IWAE bound
IWAE_K = 20


def _fit(model, data, steps: int, lr: float) -> float:
    """Train with the shared loop; the seconds it took."""
    from ..train import TrainConfig, train

    t0 = time.perf_counter()
    train(model, data, config=TrainConfig(steps=steps, batch_size=128, lr=lr, seed=SEED))
    return time.perf_counter() - t0


def _draw(model, y: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Class-conditional pictures in [0, 1], (n, 64): a VAE's decoder means at z ~ N(0, I), the
    ARM's exact samples, the diffusion's guided DDIM samples."""
    from ..generative import VAE, Diffusion

    with torch.no_grad():
        if isinstance(model, VAE):
            return model.decode(torch.randn(len(y), model.latent_dim, generator=g), y)
        if isinstance(model, Diffusion):
            x = model.sample(len(y), y, generator=g, sampler="ddim", steps=25, guidance=2.0)
            return x.clamp(0, 1)
        return model.sample(len(y), y, generator=g)


def conditional_section(out: Path, data: Path | None = None) -> Section:
    """Class-conditional samples of three paradigms and their generative classifiers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB

    from ..data import load_dataset
    from ..generative import VAE, Diffusion
    from ..generative.arm import ARM, MADE
    from ..generative.classifier import GenerativeClassifier
    from ..plot.vae import plot_image_grid

    torch.manual_seed(SEED)
    ds = load_dataset("digits", seed=SEED)  # grey levels binarized afresh in every batch
    xtr, ytr, xte, yte = ds.train.x, ds.train.y, ds.test.x, ds.test.y
    xbin = torch.bernoulli(xtr, generator=torch.Generator().manual_seed(SEED)).numpy()
    judge = LogisticRegression(max_iter=2000).fit(xbin, ytr.numpy())
    models = {
        "VAE (FiLM)": (VAE(64, 8, (128,), num_classes=10, conditioning="film"), STEPS["vae"], 3e-3),
        "ARM (MADE)": (ARM(64, backbone=MADE(hidden=(256,)), num_classes=10), STEPS["arm"], 3e-3),
        "diffusion (CFG w = 2)": (
            Diffusion(64, num_classes=10, timesteps=100, hidden=(128, 128), label_dropout=0.1),
            STEPS["diffusion"],
            3e-3,
        ),
    }
    ask = torch.arange(10).repeat_interleave(20)  # 20 samples of every class
    figs, rows, clf_rows = [], [], []
    for name, (model, steps, lr) in models.items():
        torch.manual_seed(SEED)
        seconds = _fit(model, ds.train, steps, lr)
        model.eval()
        x = _draw(model, ask, torch.Generator().manual_seed(1))  # (200, 64)
        judged = judge.predict((x > 0.5).double().numpy())
        recognised = float((torch.as_tensor(judged) == ask).double().mean())
        grid = x.reshape(10, 20, 8, 8)[:, :8]  # one row per class
        file = f"conditional_{name.split()[0].lower()}.png"
        figs.append(
            Figure(
                save_figure(plot_image_grid(grid), out / file),
                f"{name}: samples of p(x | y) for y = 0, …, 9 (one class per row)",
            )
        )
        rows.append([name, steps, round(seconds, 1), round(100 * recognised, 1)])
        if isinstance(model, VAE):
            clf = GenerativeClassifier(model, score=lambda a, b, m=model: m.iwae(a, b, k=IWAE_K))
        elif isinstance(model, ARM):
            clf = GenerativeClassifier(model)
        else:
            continue
        torch.manual_seed(SEED)
        clf_rows.append([f"{name}, Bayes' rule", round(100 * clf.score_accuracy(xte, yte), 1)])
    xte_np, ytr_np = xte.numpy(), ytr.numpy()
    for peer, est in (
        ("scikit-learn BernoulliNB", BernoulliNB()),
        ("scikit-learn LogisticRegression", LogisticRegression(max_iter=2000)),
    ):
        acc = est.fit(xbin, ytr_np).score(xte_np, yte.numpy())
        clf_rows.append([peer, round(100 * float(acc), 1)])
    judge_acc = 100 * float(judge.score(xte_np, yte.numpy()))
    return Section(
        "Conditional generation, and a generative model as a classifier (eq. 19, §2.2.3.1)",
        f"Class-conditional VAE, ARM and diffusion models trained on {len(xtr)} binarized 8×8 "
        f"digits; their samples judged, and the models used as classifiers on {len(xte)} "
        "held-out digits.",
        "Each model learns p(x | y) with the label y as context (FiLM in the VAE, an extra "
        "input of every masked unit in the ARM, concatenation with classifier-free guidance in "
        "the diffusion model). A logistic regression trained on its own on the real digits "
        f"(held-out accuracy {judge_acc:.1f} %) judges the samples: the percentage it labels "
        "as the class asked for. Read the other way, Bayes' rule p(y | x) ∝ p(x | y) p(y) over "
        "the ARM's exact likelihood or the VAE's IWAE bound is a classifier.",
        figures=figs,
        tables=[
            ResultTable(
                "Class-conditional samples (200 per model) recognised by the judge",
                ["model", "steps", "train s", "recognised %"],
                rows,
            ),
            ResultTable(
                "Held-out accuracy of the generative classifiers and their peers",
                ["classifier", "accuracy %"],
                clf_rows,
            ),
        ],
    )


SECTIONS = [conditional_section]
