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


def _diffusion() -> Example:
    from bayesgen.generative import Diffusion

    model = Diffusion(2, timesteps=4, hidden=(32, 32), embedding=8)
    return model, torch.randn(16, 2), None


def _diffusion_conditional() -> Example:
    from bayesgen.generative import Diffusion

    model = Diffusion(
        2, num_classes=3, timesteps=4, hidden=(32, 32), embedding=8, label_dropout=0.2
    )
    return model, torch.randn(16, 2), torch.arange(16) % 3


EXAMPLES["diffusion"] = _diffusion
EXAMPLES["diffusion-conditional"] = _diffusion_conditional
