"""Information theory (§2.4.3 of the chapter): information, entropy, cross-entropy, KL,
Jensen–Shannon, Wasserstein, energy distance and MMD, for probability tables, torch
distributions and sample sets, in nats (default) or bits (``base=2`` / ``unit="bits"``).
"""

from . import distances, divergences, kl_fit
from ._base import Estimate

# the public names of each submodule are its __all__, re-exported as they are
from .distances import *  # noqa: F403
from .divergences import *  # noqa: F403
from .kl_fit import *  # noqa: F403

__all__ = ["Estimate", *divergences.__all__, *distances.__all__, *kl_fit.__all__]
