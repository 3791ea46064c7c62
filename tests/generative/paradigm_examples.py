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


# ---------------------------------------------------------------------------- ARM (eq. 15)
def _arm_transformer() -> Example:
    from bayesgen.generative.arm import ARM, Transformer

    model = ARM(6, vocab_size=5, backbone=Transformer(n_layer=2, n_head=2, n_embd=16))
    return model, torch.randint(0, 5, (16, 6)), None


def _arm_made() -> Example:
    from bayesgen.generative.arm import ARM, MADE

    model = ARM(8, backbone=MADE(hidden=(32, 32)))
    return model, torch.randint(0, 2, (16, 8)).float(), None


def _arm_made_film_conditional() -> Example:
    from bayesgen.generative.arm import ARM, MADE

    model = ARM(8, backbone=MADE(hidden=(32, 32), conditioning="film"), num_classes=3)
    return model, torch.randint(0, 2, (16, 8)).float(), torch.arange(16) % 3


def _arm_pixelcnn() -> Example:
    from bayesgen.generative.arm import ARM, PixelCNN

    model = ARM((4, 4), backbone=PixelCNN(channels=8, n_layers=1, kernel=3, first_kernel=3))
    return model, torch.randint(0, 2, (16, 4, 4)).float(), None


def _arm_gru_conditional() -> Example:
    from bayesgen.generative.arm import ARM, GRU

    model = ARM(6, vocab_size=5, backbone=GRU(n_embd=8, hidden=16), num_classes=3)
    return model, torch.randint(0, 5, (16, 6)), torch.arange(16) % 3


EXAMPLES.update(
    {
        "arm-transformer": _arm_transformer,
        "arm-made": _arm_made,
        "arm-made-film-conditional": _arm_made_film_conditional,
        "arm-pixelcnn": _arm_pixelcnn,
        "arm-gru-conditional": _arm_gru_conditional,
    }
)


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
    return (
        VAE(3, latent_dim=2, hidden=[16], likelihood="gaussian-per-dim", objective="iwae", k=4),
        x,
        None,
    )


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
EXAMPLES["gan-projection-conditional"] = lambda: _gan(num_classes=3, disc_conditioning="projection")
EXAMPLES["gan-auxiliary-classifier-packed"] = lambda: _gan(
    num_classes=3, classifier_weight=1.0, pack=2
)


def _diffusion() -> Example:
    from bayesgen.generative import Diffusion

    model = Diffusion(2, timesteps=4, hidden=(32, 32), embedding=8)
    return model, torch.randn(16, 2), None


def _diffusion_conditional(**kw) -> Example:
    from bayesgen.generative import Diffusion

    model = Diffusion(
        2, num_classes=3, timesteps=4, hidden=(32, 32), embedding=8, label_dropout=0.2, **kw
    )
    return model, torch.randn(16, 2), torch.arange(16) % 3


def _diffusion_film_elbo() -> Example:
    from bayesgen.generative import Diffusion

    model = Diffusion(
        2, timesteps=4, hidden=(32, 32), embedding=8, time_conditioning="film", elbo_fraction=0.5
    )
    return model, torch.randn(16, 2), None


EXAMPLES["diffusion"] = _diffusion
EXAMPLES["diffusion-conditional"] = _diffusion_conditional
EXAMPLES["diffusion-film-time-elbo-weighted"] = _diffusion_film_elbo
EXAMPLES["diffusion-conditional-film-time"] = lambda: _diffusion_conditional(
    time_conditioning="film", conditioning="film"
)


def _toy(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g) * torch.tensor([1.0, 0.5]) + torch.tensor([0.5, -1.0])


def _flow_maf() -> Example:
    from bayesgen.generative import Flow

    return Flow(2, transform="maf", layers=3, hidden=(16, 16)), _toy(), None


def _flow_nsf() -> Example:
    from bayesgen.generative import Flow

    return (
        Flow(3, transform="nsf", layers=2, hidden=(16, 16), bins=4, linear="lu"),
        torch.cat([_toy(), _toy()[:, :1]], 1),
        None,
    )


def _flow_realnvp_conditional() -> Example:
    from bayesgen.generative import Flow

    model = Flow(2, transform="realnvp", layers=3, hidden=(16, 16), actnorm=True, num_classes=3)
    return model, _toy(), torch.arange(16) % 3


EXAMPLES["flow-maf"] = _flow_maf
EXAMPLES["flow-nsf"] = _flow_nsf
EXAMPLES["flow-realnvp-conditional"] = _flow_realnvp_conditional


def _latent_diffusion(**kw) -> Example:
    from bayesgen.generative import LatentDiffusion

    model = LatentDiffusion(
        8, latent_dim=2, hidden=(16,), timesteps=4, diffusion_hidden=(16, 16), embedding=8, **kw
    )
    y = torch.arange(16) % 3 if kw.get("num_classes") else None
    return model, torch.bernoulli(torch.full((16, 8), 0.3)), y


EXAMPLES["latent-diffusion"] = _latent_diffusion
EXAMPLES["latent-diffusion-conditional-film"] = lambda: _latent_diffusion(
    num_classes=3, conditioning="film", label_dropout=0.2
)
