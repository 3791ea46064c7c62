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
