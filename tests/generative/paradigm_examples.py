"""Small instances of every paradigm for the generic checks of ``test_paradigms.py``.

Each entry maps a name to a factory returning ``(model, x, y)``: a tiny model (random weights),
a batch x of 8+ rows of its data, and labels y for a conditional model (or None). Each paradigm
adds an unconditional and a conditional example.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bayesgen.generative import GenerativeModel

Example = tuple[GenerativeModel, torch.Tensor, torch.Tensor | None]

EXAMPLES: dict[str, Callable[[], Example]] = {}


def _vae() -> Example:
    from bayesgen.generative import VAE

    x = torch.bernoulli(torch.full((16, 8), 0.3))
    return VAE(8, latent_dim=2, hidden=[16]), x, None


def _vae_conditional() -> Example:
    from bayesgen.generative import VAE

    x = torch.bernoulli(torch.full((16, 8), 0.3))
    y = torch.arange(16) % 3
    return VAE(8, latent_dim=2, hidden=[16, 16], num_classes=3, conditioning="film"), x, y


def _vae_gaussian() -> Example:
    from bayesgen.generative import VAE

    x = torch.randn(16, 3)
    return VAE(3, latent_dim=2, hidden=[16], likelihood="gaussian-per-dim", k=4), x, None


EXAMPLES.update({"vae": _vae, "vae-conditional": _vae_conditional, "vae-gaussian": _vae_gaussian})


def _gan(**kw) -> Example:
    from bayesgen.generative import GAN

    x = torch.randn(16, 2)
    y = torch.arange(16) % 3 if kw.get("num_classes") else None
    return GAN(2, latent_dim=2, hidden=(16,), disc_hidden=(16,), **kw), x, y


EXAMPLES["gan"] = _gan
EXAMPLES["gan-wgan-gp-packed"] = lambda: _gan(objective="wgan-gp", pack=2, spectral_norm=True)
EXAMPLES["gan-f-js-conditional"] = lambda: _gan(
    objective="f-js", num_classes=3, conditioning="film"
)
