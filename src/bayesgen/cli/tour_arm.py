"""Tour section for autoregressive models (§2.2.2.1, eq. 15, figure 8): binary 8×8 digits
modelled pixel by pixel with a PixelCNN and a MADE, the receptive field of one pixel, and, when
the data folder holds Tiny Shakespeare, a character-level transformer and its text."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..data import load_digits
from .report import Figure, ResultTable, Section, save_figure

__all__ = ["SECTIONS", "arm_section"]

#: seconds of training of each digits model and of the text model
TRAIN_SECONDS = {"digits": 12.0, "text": 25.0}


def _train(model, x: torch.Tensor, *, seconds: float, batch_size: int, lr: float) -> int:
    """Adam on random minibatches of x until ``seconds`` have passed; returns the steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    t0, steps = time.perf_counter(), 0
    model.train()
    while time.perf_counter() - t0 < seconds:  # optimizer steps
        batch = x[torch.randint(len(x), (batch_size,), generator=g)]
        loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    return steps


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 digits binarized at half intensity: train (1500, 8, 8), test (297)."""
    x = (load_digits()[0] > 0.5).float().reshape(-1, 8, 8)  # (1797, 8, 8)
    return x[:1500], x[1500:]


def arm_section(out: Path, data: Path | None) -> Section:
    """Eq. 15 run live: PixelCNN and MADE on binary digits, figure 8, a pixel's parents, and
    (with Tiny Shakespeare in the data folder) generated text."""
    from ..generative.arm import ARM, MADE, PixelCNN, Transformer, generate_text
    from ..plot.arm import draw_chain, draw_receptive_field
    from ..plot.vae import plot_image_grid

    torch.manual_seed(0)
    train, test = _digits()
    models = {
        "PixelCNN": ARM((8, 8), backbone=PixelCNN(channels=16, n_layers=3, first_kernel=5)),
        "MADE": ARM((8, 8), backbone=MADE(hidden=(128,))),
    }
    rows, figures = [], []
    for name, model in models.items():
        steps = _train(model, train, seconds=TRAIN_SECONDS["digits"], batch_size=64, lr=3e-3)
        with torch.no_grad():
            nll = float(-model.log_prob(test).mean())
        rows.append([name, steps, f"{nll:.2f}", f"{nll / 64:.3f}"])
    pixelcnn = models["PixelCNN"]
    best = min(range(len(rows)), key=lambda i: float(rows[i][2]))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        samples = models[rows[best][0]].sample(32, generator=g)
    name = rows[best][0]
    title = f"{name} samples, x_t ~ p(x_t | x_<t)"
    save_figure(plot_image_grid(samples.reshape(4, 8, 8, 8), title=title), out / "arm_digits.png")
    figures.append(
        Figure(
            "arm_digits.png",
            f"32 digits drawn pixel by pixel from the {name} (the lower held-out NLL).",
        )
    )

    save_figure(draw_receptive_field(pixelcnn, (4, 4)), out / "arm_receptive_field.png")
    parents = len(pixelcnn.parents_of(4 * 8 + 4))
    figures.append(
        Figure(
            "arm_receptive_field.png",
            f"The parents of pixel (4, 4) in the PixelCNN's network: the {parents} pixels its "
            f"masked convolutions read (the earlier pixels outside it form the blind spot).",
        )
    )

    text_lines = []
    chain_model = ARM(64, vocab_size=65, backbone=Transformer(2, 2, 32))
    summary = f"PixelCNN and MADE on binary 8×8 digits ({TRAIN_SECONDS['digits']:g} s each)"
    if data is not None and (data / "text" / "tinyshakespeare.txt").is_file():
        from ..data.text import read_text, train_val_split

        text = read_text(data / "text" / "tinyshakespeare.txt")
        vocab = "".join(sorted(set(text)))
        stoi = {ch: i for i, ch in enumerate(vocab)}
        ids = torch.tensor([stoi[ch] for ch in text[:300_000]], dtype=torch.long)
        tr, va = train_val_split(ids, 0.1)
        torch.manual_seed(0)
        chain_model = ARM(64, vocab_size=len(vocab), backbone=Transformer(2, 4, 64))
        windows = tr.unfold(0, 64, 1)  # (N - 63, 64), a view
        steps = _train(chain_model, windows, seconds=TRAIN_SECONDS["text"], batch_size=32, lr=3e-3)
        with torch.no_grad():
            val_nll = float(chain_model.loss(va[: (len(va) // 64) * 64].reshape(-1, 64)))
        sample = generate_text(
            chain_model, vocab, "ROMEO:\n", 240, temperature=0.8, top_k=20, generator=g
        )
        rows.append(["transformer (Tiny Shakespeare)", steps, "", f"{val_nll:.3f}"])
        text_lines += [
            f"A 2-layer character transformer trained for {TRAIN_SECONDS['text']:g} s on Tiny "
            "Shakespeare "
            f"(validation NLL {val_nll:.3f} nats/char), continuing the prompt 'ROMEO:' with "
            "temperature 0.8 and top-k 20 (a key/value cache keeps the prefix):",
            "",
            sample,
            "",
        ]
        summary += f"; a character transformer on Tiny Shakespeare ({TRAIN_SECONDS['text']:g} s)"
    else:
        text_lines.append("No Tiny Shakespeare in the data folder: the text model is skipped.")

    save_figure(draw_chain(chain_model, title="p(x) = Π_t p(x_t | x_<t)"), out / "arm_chain.png")
    figures.insert(
        0,
        Figure(
            "arm_chain.png",
            f"The network of an autoregressive model of T = {chain_model.T} tokens: every x_s "
            "is a parent of every later x_t (middle elided).",
            number="8",
        ),
    )
    intro = (
        "An autoregressive model writes p(x) = Π_t p(x_t | x_<t) (eq. 15): one factor per "
        "position, all computed by one shared network whose outputs may only read earlier "
        "positions (masks, causal attention). The log-likelihood is exact and sampling is "
        "ancestral, one position at a time."
    )
    table = ResultTable(
        "Held-out NLL (digits: nats per image and per pixel; text: nats per character)",
        ["model", "steps", "NLL / image", "NLL / position"],
        rows,
    )
    return Section(
        "Autoregressive models (§2.2.2.1)",
        summary,
        "\n".join([intro, "", *text_lines]),
        figures,
        [table],
    )


SECTIONS = [arm_section]
