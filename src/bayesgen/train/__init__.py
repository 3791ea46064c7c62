"""The one training loop of the project: every paradigm and every gradient fit train through
:func:`train` with a :class:`TrainConfig`, and get a :class:`History` back; the deterministic
full-batch fits (n-gram discounts, the spelling model, quadrature KL fits) go through the one
quasi-Newton routine :func:`minimize`.

A run directory (``config.out``) holds ``config.json`` (the training config and the model's
paradigm and config), ``checkpoint.safetensors`` with ``checkpoint.json`` (weights, moving
average, optimizer and scheduler state, RNG states, step), ``history.jsonl`` and
``history.png`` and, for a generative paradigm, the trained model (``model.json`` +
``model.safetensors``, read by :func:`~bayesgen.generative.base.load_model`).
``train(..., resume=RUN)`` continues a run; :func:`load_run` rebuilds its model and config.
"""

from .checkpoint import load_checkpoint, load_run
from .config import SGD, Adagrad, Adam, AdamW, RMSprop, Schedule, TrainConfig, make_optimizer
from .history import History
from .loop import NonFiniteLoss, train
from .quasi_newton import minimize

__all__ = [
    "TrainConfig",
    "train",
    "minimize",
    "History",
    "NonFiniteLoss",
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Schedule",
    "make_optimizer",
    "load_checkpoint",
    "load_run",
]
