"""Conditional generation in every paradigm, and every conditional model as a classifier.

Class-conditional models p(x | y) of binarized MNIST (``--quick``: the 8×8 digits): the VAE by
concatenation, FiLM and cross-attention (the three conditioning blocks compared on one
paradigm), the ARM (MADE), the diffusion model with classifier-free guidance, the GAN, the
latent diffusion model (a diffusion in the VAE's latent space, composed with its decoder), and
the flow on dequantized grey levels where the flow paradigm is installed.

* Sample quality: a SEPARATELY trained scikit-learn classifier (an MLP on MNIST, logistic
  regression on the digits) labels each model's class-conditional samples; the number is the
  fraction it recognises as the class asked for (target ≥ 95 %).
* A generative model is also a classifier (§2.2.3.1): Bayes' rule over log p(x | y) (the ARM's
  and flow's exact likelihood, the VAE's IWAE bound) on the
  test split, side by side with scikit-learn's BernoulliNB and LogisticRegression on the same
  binarized pixels (target: the ARM and VAE classifiers ≥ 97 % on MNIST).
* The conditional VAE's test NLL by importance sampling, k = 5000 (target ≤ 84 nats on MNIST).
* Latent against pixel-space diffusion: training seconds and the judge's accuracy.

    python benchmarks/generative_conditional.py            # MNIST, the target configuration
    python benchmarks/generative_conditional.py --quick    # 8×8 digits, small models (< 2 min)
    python benchmarks/generative_conditional.py --only FiLM MADE --steps 10000   # a part of it
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import torch
from _common import print_table, write_json
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB
from sklearn.neural_network import MLPClassifier

from bayesgen.data import load_dataset
from bayesgen.data.source import TensorData
from bayesgen.generative import GAN, VAE, Diffusion, Flow, LatentDiffusion
from bayesgen.generative.arm import ARM, MADE, PixelCNN
from bayesgen.generative.classifier import GenerativeClassifier
from bayesgen.train import Adam, TrainConfig, train

#: the two configurations: data, sizes and lengths
SETTINGS = {
    "quick": dict(
        data="digits", real="digits-real", vae_hidden=(128,), latent=8, steps=500, gan_steps=3000,
        gan_hidden=(256, 256), gan_lr=1e-3,
        diffusion_hidden=(128, 128), diffusion_steps=500, timesteps=100, made=(256,),
        pixelcnn=(16, 2, 5),
        per_class=30, k_classify=20, k_nll=500, classify_rows=360, flow_layers=3, lr=3e-3,
        ema=None,
    ),
    "full": dict(
        data="mnist", real=None, vae_hidden=(500, 500), latent=50, steps=30000,
        gan_steps=40000, gan_hidden=(512, 512), gan_lr=2e-4, diffusion_hidden=(512, 512, 512),
        diffusion_steps=120000,
        timesteps=1000, made=(1000, 1000),
        pixelcnn=(64, 6, 7), per_class=500, k_classify=100, k_nll=5000, classify_rows=10000,
        flow_layers=8, lr=1e-3, ema=0.999,
    ),
}  # fmt: skip


def dequantize(levels: int):
    """x + U(0, 1/levels): grey levels made continuous for a density on R^D."""

    def transform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        return x + u.to(x.device) / levels

    return transform


def fit(
    model, data, steps: int, lr: float, minutes: float | None = None, batch: int = 128, **kw
) -> float:
    """Train with the shared loop; returns the seconds. ``minutes``, if given, replaces the
    steps by a wall-clock budget over which the cosine schedule decays."""
    t0 = time.perf_counter()
    length = {"max_seconds": 60 * minutes} if minutes else {"steps": steps}
    config = TrainConfig(batch_size=batch, lr=lr, seed=0, **length, **kw)
    train(model, data, config=config)
    return time.perf_counter() - t0


def models(s: dict, D: int, real_data) -> dict:
    """name -> (model, train-data kind, steps, lr, sample options, train options)."""
    C = 10
    out = {}
    for cond in ("concat", "film", "attention"):  # the weights' moving average, as for MNIST
        out[f"VAE ({cond})"] = (  # in benchmarks/generative_vae.py
            VAE(D, s["latent"], s["vae_hidden"], num_classes=C, conditioning=cond),
            "binary", s["steps"], s["lr"], {"mean": True}, {"ema": s["ema"]},
        )  # fmt: skip
    for cond in ("concat", "film"):  # y joined to the first layer, or modulating every layer
        out[f"ARM (MADE, {cond})"] = (
            ARM(D, backbone=MADE(hidden=s["made"], conditioning=cond), num_classes=C),
            "binary", s["steps"], s["lr"], {}, {},
        )  # fmt: skip
    # the label shifts every residual block's features; sampling costs one pass of the whole
    # network per pixel, so on MNIST it is not judged (None) and classifies fewer test rows
    side = int(round(D**0.5))
    channels, blocks, first = s["pixelcnn"]
    out["ARM (PixelCNN)"] = (
        ARM((side, side), num_classes=C, backbone=PixelCNN(
            channels=channels, n_layers=blocks, kernel=3, first_kernel=first)),
        "image", s["steps"], s["lr"], None if side > 8 else {}, {},
    )  # fmt: skip
    diffusion = dict(
        num_classes=C, timesteps=s["timesteps"], hidden=s["diffusion_hidden"], label_dropout=0.1
    )
    guided = {"sampler": "ddim", "steps": 50, "guidance": 2.0}
    # pixels as images are diffused: centred to {-1, 1}, x̂₀ clipped to [-1, 1] when sampling;
    # v-prediction with the time modulating every layer (ε-prediction's x̂₀ = (z − σ ε̂) / α
    # amplifies the MLP's error at high noise: its samples were noise, judged at chance)
    out["diffusion (pixels, CFG)"] = (
        Diffusion(D, prediction="v", time_conditioning="film", **diffusion),
        "centred", s["diffusion_steps"], s["lr"], {**guided, "clip": 1.0}, {},
    )  # fmt: skip
    ld = LatentDiffusion(
        D, s["latent"], s["vae_hidden"], timesteps=s["timesteps"],
        diffusion_hidden=s["diffusion_hidden"], num_classes=C, label_dropout=0.1,
    )  # fmt: skip
    out["latent diffusion (CFG)"] = (ld, "binary", s["steps"], s["lr"], guided, {})
    # Adam's β₁ = 0.5 as DCGAN: with 0.9 the same GAN was judged 0.667 after 30,000 steps
    # (0.898 with 0.5); the label by concatenation in both networks (a projection
    # discriminator or an auxiliary classifier, classifier_weight=1, did no better in probes)
    gan = dict(latent_dim=32, hidden=s["gan_hidden"], disc_hidden=s["gan_hidden"], num_classes=C)
    gan_train = {"optimizer": Adam(betas=(0.5, 0.999))}
    lr = s["gan_lr"]  # 8×8 digits: 2e-4 for 1,000 steps left the samples noise (at chance)
    out["GAN, last weights"] = (GAN(D, **gan), "binary", s["gan_steps"], lr, {}, gan_train)
    out["GAN, weights' average"] = (
        GAN(D, **gan), "binary", s["gan_steps"], lr, {}, {**gan_train, "ema": 0.999},
    )  # fmt: skip
    if real_data is not None:
        out["flow (dequantized grey levels)"] = (
            Flow(D, layers=s["flow_layers"], hidden=(256, 256), num_classes=C),
            "real", s["steps"], s["lr"], {}, {},
        )  # fmt: skip
    return out


def draw(model, y: torch.Tensor, g: torch.Generator, options: dict) -> torch.Tensor:
    """Class-conditional samples, one per label in y; a VAE's are its decoder means E[x | z, y]
    at z ~ N(0, I) with ``mean`` (the pictures a VAE is judged by)."""
    if isinstance(model, VAE) and options.get("mean"):
        z = torch.randn(len(y), model.latent_dim, generator=g)
        return model.decode(z, y)
    return model.sample(len(y), y, generator=g, **options)


def generative_score(name: str, model, k: int):
    """How a model's classifier scores log p(x | y): exact, IWAE_k or the chained ELBO."""
    if isinstance(model, VAE):
        return lambda x, y: model.iwae(x, y, k=k)
    if isinstance(model, LatentDiffusion):  # its chained bound draws z_0 and the chain's
        return "no likelihood"  # noise afresh for every class: too noisy to rank the classes
    if model.exact_likelihood:
        return None
    return "no likelihood"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8×8 digits, small models")
    parser.add_argument("--data-root", default=os.environ.get("BAYESGEN_DATA"))
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="the models whose name holds a word (any case)"
    )
    parser.add_argument(
        "--steps", type=int, help="training steps per model (the GAN and diffusion included)"
    )
    parser.add_argument(
        "--minutes", type=float, help="a wall-clock training budget per model instead of steps"
    )
    parser.add_argument(
        "--nll-rows", type=int, help="test rows of the VAE's NLL by importance sampling (1000)"
    )
    parser.add_argument(
        "--guidance", nargs="+", type=float, metavar="W",
        default=[2.0, 4.0], help="the guidance weights at which guided models are judged",
    )  # fmt: skip
    parser.add_argument("--save", metavar="DIR", help="save each trained model in DIR/NAME")
    args = parser.parse_args()
    s = dict(SETTINGS["quick" if args.quick else "full"])
    if args.steps is not None:
        s["steps"] = s["gan_steps"] = s["diffusion_steps"] = args.steps
    torch.manual_seed(0)
    ds = load_dataset(s["data"], seed=0, root=args.data_root)
    real = load_dataset(s["real"], seed=0) if s["real"] else None
    xtr, ytr, xte, yte = ds.train.x, ds.train.y, ds.test.x, ds.test.y
    D = xtr[0].numel()
    # the training rows are grey levels binarized afresh in every batch (ds.train's transform);
    # the scikit-learn classifiers see one fixed binarization of them, the test rows are 0/1
    xbin = torch.bernoulli(xtr, generator=torch.Generator().manual_seed(0))
    xtr_np, xte_np = xbin.reshape(len(xtr), -1).numpy(), xte.reshape(len(xte), -1).numpy()

    # the judge: a discriminative classifier trained on its own on the binarized pixels
    t0 = time.perf_counter()
    if args.quick:
        judge = LogisticRegression(max_iter=2000, C=1.0)
    else:
        judge = MLPClassifier(hidden_layer_sizes=(512,), max_iter=30, random_state=0)
    judge.fit(xtr_np, ytr.numpy())
    judge_acc = float(judge.score(xte_np, yte.numpy()))
    print(f"judge {type(judge).__name__}: {judge_acc:.4f} on the real test rows "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)  # fmt: skip

    # the discriminative and naive-Bayes peers on the same pixels
    rows_clf = [
        {"classifier": "scikit-learn BernoulliNB", "accuracy": float(
            BernoulliNB().fit(xtr_np, ytr.numpy()).score(xte_np, yte.numpy())),
         "test rows": len(yte)},
        {"classifier": "scikit-learn LogisticRegression", "accuracy": float(
            LogisticRegression(max_iter=2000).fit(xtr_np, ytr.numpy()).score(xte_np, yte.numpy())),
         "test rows": len(yte)},
    ]  # fmt: skip

    rows_gen, results = [], {"judge": type(judge).__name__, "judge_accuracy": judge_acc}
    n_class = s["per_class"]
    ask = torch.arange(10).repeat_interleave(n_class)  # (10 n,) the classes asked for
    chosen = models(s, D, real)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if any(w.lower() in k.lower() for w in args.only)}
        if not chosen:
            raise SystemExit(f"--only {' '.join(args.only)} names none of the models")
    for name, (model, kind, steps, lr, sample_kw, train_kw) in chosen.items():
        torch.manual_seed(0)
        if kind == "real":
            data = TensorData(real.train.x, real.train.y, transform=dequantize(16))
        elif kind == "image":  # the rows as square images, binarized afresh in every batch
            data = TensorData(xtr.reshape(-1, *model.event_shape), ytr, ds.train.transform)
        elif kind == "centred":  # binarized afresh, then 2x − 1 ∈ {-1, 1}
            data = TensorData(xtr, ytr, lambda x, g: 2 * ds.train.transform(x, g) - 1)
        else:
            data = ds.train
        if isinstance(model, LatentDiffusion):  # Stable Diffusion's two stages
            autoencoder_rows = TensorData(xtr, None, ds.train.transform)
            seconds = fit(model.autoencoder, autoencoder_rows, steps, lr, args.minutes)
            model.freeze_autoencoder()
            seconds += fit(model, data, steps, lr, args.minutes)
        else:
            seconds = fit(model, data, steps, lr, args.minutes, **train_kw)
        model.eval()
        if args.save:  # the trained model, loadable with bayesgen.generative.load_model
            where = Path(args.save) / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            where.mkdir(parents=True, exist_ok=True)
            model.save(where / "model.json")
        row = {"model": name, "train s": seconds}
        if sample_kw is not None:  # a guided model is judged at every weight asked for
            weights = args.guidance if "guidance" in sample_kw else [None]
            for w in weights:
                options = sample_kw if w is None else {**sample_kw, "guidance": w}
                with torch.no_grad():
                    x = draw(model, ask, torch.Generator().manual_seed(1), options)
                x = (x + 1) / 2 if kind == "centred" else x
                x = (x.reshape(len(x), -1).clamp(0, 1) > 0.5).double().numpy()  # 0/1
                key = "judge recognises" + ("" if w is None else f" (w={w:g})")
                row[key] = float((judge.predict(x) == ask.numpy()).mean())
        score = generative_score(name, model, s["k_classify"])
        if score != "no likelihood":
            m = s["classify_rows"] if sample_kw is not None else s["classify_rows"] // 5
            xt, yt = (real.test.x, real.test.y) if kind == "real" else (xte, yte)
            xt = xt.reshape(-1, *model.event_shape)
            clf = GenerativeClassifier(model, score=score, batch_size=32)
            torch.manual_seed(0)
            acc = clf.score_accuracy(xt[:m], yt[:m])
            row["classifier acc"] = acc
            rows_clf.append({"classifier": f"bayesgen {name}", "accuracy": acc, "test rows": m})
        if isinstance(model, VAE):
            m = min(args.nll_rows or 1000, len(xte)) if not args.quick else s["classify_rows"]
            lp = model.log_prob_is(
                xte[:m], yte[:m], k=s["k_nll"], generator=torch.Generator().manual_seed(0)
            )
            row[f"test NLL (IS k={s['k_nll']})"] = float(-lp.mean())
            row["± se"] = float(lp.std() / len(lp) ** 0.5)  # over the m test rows
            row["NLL rows"] = m
        rows_gen.append(row)
        results[name] = row
        print(row, flush=True)

    where = "binarized MNIST" if s["data"] == "mnist" else "the 8×8 digits (binarized)"
    columns = list(dict.fromkeys(k for r in rows_gen for k in r))  # every row's keys, in order
    print_table(rows_gen, columns, title=f"Class-conditional models on {where}: samples judged")
    print_table(rows_clf, title="Generative classifiers (Bayes' rule) and their peers")
    results["classifiers"] = rows_clf
    part = "_" + re.sub(r"[^a-z0-9]+", "_", " ".join(args.only).lower()) if args.only else ""
    name = "generative_conditional" + ("_quick" if args.quick else "") + part
    path = write_json(name.strip("_"), results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
