"""Autoregressive models on real data, each trained within a CPU time budget.

a) Tiny Shakespeare, characters, first 90 % train / last 10 % validation. A causal transformer
   (bayesgen ARM, 6 layers × 6 heads × 192, block 128, dropout 0.1; ``--layers``, ``--heads``,
   ``--width``, ``--dropout`` change it) trained for ``--minutes`` minutes, its
   validation NLL (nats/char, every character scored with ≥ 64 characters of context where the
   text allows) against a 9-gram with modified Kneser–Ney smoothing (discounts tuned on the last
   10 % of the training split, counts on all of it). Then the two experts under a latent switch:
   p(x_t | x_<t) = w p_T + (1 − w) p_NG, w fitted by EM on the first half of the validation
   text, all three scored on the second half (never used to fit w). Anchors: nanoGPT's README
   reports 1.88 (its CPU configuration) and 1.4697 (GPU, 6 × 384).
b) Binarized MNIST (training images binarized afresh each batch, test images once with a fixed
   seed): a PixelCNN (64 channels, a 7×7 mask-A layer, 6 residual blocks) trained for
   ``--minutes`` and MADE (one hidden layer of 500) for a third of it; test NLL in nats per
   image. Anchors: MADE 88.04, PixelCNN 81.30.

    python benchmarks/generative_arm.py            # the target: 60 CPU minutes per model
    python benchmarks/generative_arm.py --quick    # a smoke run on small slices (~2 minutes)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table, write_json  # noqa: E402

from bayesgen.data import TensorData, Windows, binarize, load_dataset  # noqa: E402
from bayesgen.data.text import read_text, train_val_split  # noqa: E402
from bayesgen.generative.arm import (  # noqa: E402
    ARM,
    MADE,
    PixelCNN,
    Transformer,
    generate_text,
    stream_log_probs,
)
from bayesgen.generative.experts import fit_switch_weight, mixture_log_probs  # noqa: E402
from bayesgen.models.ngram import NGramLM  # noqa: E402
from bayesgen.models.ngram_smoothing import ModifiedKneserNey  # noqa: E402
from bayesgen.train import TrainConfig, train  # noqa: E402

DATA = Path(
    os.environ.get("BAYESGEN_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
ANCHORS = {"nanoGPT CPU": 1.88, "nanoGPT GPU": 1.4697, "MADE": 88.04, "PixelCNN": 81.30}


# ---------------------------------------------------------------------------- training
def fit(model, data, *, minutes: float, batch_size: int, lr: float, warmup: int = 100) -> dict:
    """Train for ``minutes`` of wall-clock time through bayesgen.train (its ``max_seconds``:
    the cosine schedule decays over the budget, whatever a step costs)."""
    t0 = time.perf_counter()
    config = TrainConfig(
        max_seconds=60 * minutes,
        batch_size=batch_size,
        lr=lr,
        optimizer="adam",
        warmup=warmup,
        schedule="cosine",
        clip_grad=1.0,
        seed=0,
    )
    history = train(model, data, config=config)
    model.eval()
    return {"steps": history.steps, "train_s": time.perf_counter() - t0, "loop": "bayesgen.train"}


# ---------------------------------------------------------------------------- a) text
def shakespeare(
    quick: bool, minutes: float, data_dir: Path, shape: tuple[int, int, int], dropout: float
) -> tuple[list[dict], dict, str]:
    text = read_text(data_dir / "text" / "tinyshakespeare.txt")
    vocab = "".join(sorted(set(text)))
    stoi = {ch: i for i, ch in enumerate(vocab)}
    ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    train_ids, val_ids = train_val_split(ids, 0.1)
    train_text, val_text = train_val_split(text, 0.1)
    order = 8
    if quick:
        train_ids, train_text = train_ids[:200_000], train_text[:200_000]
        val_ids, val_text = val_ids[:20_000], val_text[:20_000]
        order = 4
    torch.manual_seed(0)
    # the target: layers × heads × width from the command line, block 128; smoke: 2 × 4 × 64
    (layers, heads, width), block = ((2, 4, 64), 64) if quick else (shape, 128)
    net = Transformer(n_layer=layers, n_head=heads, n_embd=width, block_size=block, dropout=dropout)
    model = ARM(block, vocab_size=len(vocab), backbone=net)
    info = fit(
        model,
        Windows(train_ids, block),
        minutes=minutes,
        batch_size=32,
        lr=2e-3,
        warmup=10 if quick else 100,
    )
    lp_t = stream_log_probs(model, val_ids, stride=block // 2)

    # the n-gram expert: discounts tuned on the last 10 % of the training text
    cut = int(0.9 * len(train_text))
    base = NGramLM(order=order, smoothing="mle", eos=False).fit([train_text[:cut]])
    tuned = base.with_smoothing(ModifiedKneserNey()).tune([train_text[cut:]]).smoothing_
    t0 = time.perf_counter()
    ngram = NGramLM(
        order=order, smoothing=ModifiedKneserNey(discounts=tuned.discounts), eos=False
    ).fit([train_text])
    ngram_s = time.perf_counter() - t0
    lp_ng = ngram.token_log_probs([val_text])[0].double()
    if len(lp_ng) != len(lp_t):
        raise AssertionError(f"the experts scored {len(lp_t)} and {len(lp_ng)} characters")

    half = len(lp_t) // 2
    w, trace = fit_switch_weight(lp_t[:half], lp_ng[:half])
    lp_mix = mixture_log_probs(lp_t[half:], lp_ng[half:], w)
    params = sum(p.numel() for p in model.parameters())
    rows = [
        {
            "model": f"transformer {layers}×{heads}×{width} ({params / 1e6:.2f}M)",
            "val_nll": float(-lp_t.mean()),
            "val2_nll": float(-lp_t[half:].mean()),
            "train_min": info["train_s"] / 60,
            "steps": info["steps"],
        },
        {
            "model": f"{order + 1}-gram modified KN",
            "val_nll": float(-lp_ng.mean()),
            "val2_nll": float(-lp_ng[half:].mean()),
            "train_min": ngram_s / 60,
            "steps": 0,
        },
        {
            "model": f"switch mixture (w = {w:.3f}, EM {len(trace)} it.)",
            "val_nll": float("nan"),
            "val2_nll": float(-lp_mix.mean()),
            "train_min": 0.0,
            "steps": 0,
        },
    ]
    sample = generate_text(
        model, vocab, "ROMEO:\n", 300, temperature=0.8, generator=torch.Generator().manual_seed(0)
    )
    return rows, {"w": w, "loop": info["loop"], "ngram_order": order}, sample


# ---------------------------------------------------------------------------- b) MNIST
def mnist(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST intensities in [0, 1], (N, 28, 28), train and test."""
    ds = load_dataset("mnist-real", root=data_dir)
    return ds.train.x.float().reshape(-1, 28, 28), ds.test.x.float().reshape(-1, 28, 28)


def binary_mnist(
    quick: bool, minutes: float, data_dir: Path, names: tuple[str, ...] = ("PixelCNN", "MADE")
) -> list[dict]:
    train_x, test_x = mnist(data_dir)
    if quick:
        train_x, test_x = train_x[:5000], test_x[:500]
    test_bin = torch.bernoulli(test_x, generator=torch.Generator().manual_seed(0))
    rows = []
    configs = [
        ("PixelCNN", (28, 28), PixelCNN(channels=64, n_layers=6, kernel=3, first_kernel=7), 1e-3),
        ("MADE", (784,), MADE(hidden=(500,)), 1e-3),
    ]
    for name, shape, backbone, lr in configs:
        if name not in names:
            continue
        torch.manual_seed(0)
        model = ARM(shape, backbone=backbone)
        data = TensorData(train_x.reshape(-1, *shape), transform=binarize)
        budget = minutes if name == "PixelCNN" else minutes / 3
        info = fit(model, data, minutes=budget, batch_size=64, lr=lr, warmup=10 if quick else 100)
        with torch.no_grad():
            x = test_bin.reshape(-1, *shape)
            nll = torch.cat([-model.log_prob(x[i : i + 500]) for i in range(0, len(x), 500)])
        rows.append(
            {
                "model": name,
                "test_nll": float(nll.mean()),
                "se": float(nll.std() / math.sqrt(len(nll))),
                "anchor": ANCHORS[name],
                "train_min": info["train_s"] / 60,
                "steps": info["steps"],
            }
        )
        print(f"  {name}: {rows[-1]['test_nll']:.2f} nats", flush=True)
    return rows


# ---------------------------------------------------------------------------- entry point
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small slices, short budgets")
    ap.add_argument("--minutes", type=float, default=None, help="training budget per model")
    ap.add_argument("--data", type=Path, default=DATA, help="the data directory")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--layers", type=int, default=6, help="transformer blocks")
    ap.add_argument("--heads", type=int, default=6, help="attention heads per block")
    ap.add_argument("--width", type=int, default=192, help="embedding width")
    ap.add_argument("--dropout", type=float, default=0.1, help="transformer dropout")
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument(
        "--image-models", nargs="+", default=["PixelCNN", "MADE"], choices=["PixelCNN", "MADE"],
        help="the MNIST models to train (MADE gets a third of --minutes)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    minutes = args.minutes if args.minutes is not None else (0.4 if args.quick else 60.0)
    text_rows, extra, sample = [], {}, ""
    if not args.skip_text:
        shape = (args.layers, args.heads, args.width)
        text_rows, extra, sample = shakespeare(args.quick, minutes, args.data, shape, args.dropout)
        print_table(
            text_rows,
            ["model", "val_nll", "val2_nll", "train_min", "steps"],
            title="Tiny Shakespeare validation NLL (nats/char); val2 = second half (w fitted on "
            "the first)",
        )
        print(f"\nanchors: nanoGPT CPU {ANCHORS['nanoGPT CPU']}, GPU {ANCHORS['nanoGPT GPU']}")
        print(f"training loop: {extra['loop']}\n\nsample (temperature 0.8):\n{sample}\n")
    image_rows = (
        []
        if args.skip_mnist
        else binary_mnist(args.quick, minutes, args.data, tuple(args.image_models))
    )
    if image_rows:
        print_table(
            image_rows,
            ["model", "test_nll", "se", "anchor", "train_min", "steps"],
            title="Binarized MNIST test NLL (nats per image)",
        )
    part = "_text" if args.skip_mnist else "_mnist" if args.skip_text else ""
    path = write_json(
        "generative_arm" + part + ("_quick" if args.quick else ""),
        {"text": text_rows, "mixture": extra, "sample": sample, "mnist": image_rows},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
