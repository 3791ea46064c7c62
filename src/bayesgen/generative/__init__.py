"""The generative paradigms of the chapter (§2.2.2), each a network of factors plus a fast path.

Every model follows :class:`~bayesgen.generative.base.GenerativeModel`: ``loss``, ``sample``,
``log_prob`` where exact (bounds under their own names), ``network`` (a real BayesNet), and
``encode``/``decode`` for latent models. ``PARADIGMS`` maps a paradigm's name to its class.
"""

from .arm import ARM
from .base import PARADIGMS, GenerativeModel, build, load_model
from .diffusion import Diffusion
from .energy import EnergyModel
from .flow import Flow
from .gan import GAN
from .latent_diffusion import LatentDiffusion
from .schedules import CosineSchedule, LinearSchedule
from .vae import VAE

__all__ = [
    "GenerativeModel",
    "PARADIGMS",
    "build",
    "load_model",
    "ARM",
    "Diffusion",
    "EnergyModel",
    "Flow",
    "GAN",
    "LatentDiffusion",
    "VAE",
    "LinearSchedule",
    "CosineSchedule",
]
