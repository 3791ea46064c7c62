"""The training configuration, the optimizers and the learning-rate schedule.

The schedule multiplies each group's base rate η by a factor of the step s (0-based, the number
of completed steps), with W warm-up steps, T steps in all and floor m = ``min_lr``:

    warm-up    f(s) = (s + 1) / W                                        s < W
    cosine     f(s) = m + (1 − m) · ½ (1 + cos(π u)),  u = (s − W) / (T − W)   W ≤ s < T
    constant   f(s) = 1                                                  W ≤ s

so the first update after warm-up uses η and the rate decays towards m·η (reached at s = T).
Under a time budget S (``max_seconds``) the cosine runs on the elapsed time t instead, from the
end of warm-up t_W: u = (t − t_W) / (S − t_W), or the larger of the two fractions when a step
count bounds the run too, so the rate reaches its floor at whichever end comes first.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

__all__ = [
    "TrainConfig",
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Schedule",
    "make_optimizer",
]


# ---------------------------------------------------------------------- optimizer options
class _TorchOptimizer:
    """An option object's fields are the keyword arguments of ``torch_class`` (besides the
    learning rate and the config's weight decay)."""

    torch_class: ClassVar[type[torch.optim.Optimizer]]
    #: whether torch has a fused kernel for it (one pass over all parameters instead of a
    #: Python loop of small operations: 6.6× faster for a small flow's Adam step on a CPU)
    fusable: ClassVar[bool] = False

    def build(self, params: Iterable[Tensor], lr: float, weight_decay: float):
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        params = list(params)
        if self.fusable and _fusable(params):
            settings["fused"] = True
        else:
            settings["foreach"] = False
        return self.torch_class(params, lr=lr, weight_decay=weight_decay, **settings)


def _fusable(params: list) -> bool:
    """Plain floating-point tensors, all on the CPU or all on one CUDA device."""
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        return False
    devices = {t.device for t in tensors}
    plain = all(t.is_floating_point() and not t.is_sparse for t in tensors)
    return plain and len(devices) == 1 and next(iter(devices)).type in ("cpu", "cuda")


@dataclass(frozen=True)
class Adam(_TorchOptimizer):
    """torch.optim.Adam's settings (weight decay is the config's, added to the gradient: L2)."""

    torch_class = torch.optim.Adam
    fusable = True
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    amsgrad: bool = False


@dataclass(frozen=True)
class AdamW(Adam):
    """torch.optim.AdamW's settings (decoupled weight decay)."""

    torch_class = torch.optim.AdamW


@dataclass(frozen=True)
class SGD(_TorchOptimizer):
    """torch.optim.SGD's settings: momentum (0: plain gradient descent) and Nesterov."""

    torch_class = torch.optim.SGD
    momentum: float = 0.0
    nesterov: bool = False
    dampening: float = 0.0


@dataclass(frozen=True)
class RMSprop(_TorchOptimizer):
    """torch.optim.RMSprop's settings."""

    torch_class = torch.optim.RMSprop
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0


@dataclass(frozen=True)
class Adagrad(_TorchOptimizer):
    """torch.optim.Adagrad's settings."""

    torch_class = torch.optim.Adagrad
    eps: float = 1e-10


OPTIONS = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}
_OPTION_TYPES = (_TorchOptimizer,)

Optimizer = str | Adam | AdamW | SGD | RMSprop | Adagrad | Callable[..., torch.optim.Optimizer]


def make_optimizer(
    optimizer: Optimizer, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """An optimizer from a name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``,
    ``"adagrad"``), an option object (``Adam(betas=(0.5, 0.9))``) or a callable
    ``optimizer(params, lr=lr)`` returning a torch optimizer."""
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIONS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIONS)} or an optimizer class, "
                f"got {optimizer!r}"
            )
        optimizer = OPTIONS[optimizer.lower()]()
    if isinstance(optimizer, _OPTION_TYPES):
        return optimizer.build(params, lr, weight_decay)
    if callable(optimizer):
        if weight_decay:
            return optimizer(params, lr=lr, weight_decay=weight_decay)
        return optimizer(params, lr=lr)
    raise TypeError(
        f"optimizer must be a name, an option object or a callable, got {type(optimizer).__name__}"
    )


# ---------------------------------------------------------------------- schedule
@dataclass
class Schedule:
    """The learning-rate factor f(s) of the module docstring, a callable for ``LambdaLR``
    (its fields are the scheduler's saved state)."""

    kind: str
    warmup: int
    total: int | None  # T (None: the time budget alone ends the run)
    min_lr: float = 0.0
    seconds: float | None = None  # the time budget S, or None
    elapsed: float = 0.0  # t, set by the training loop before each step of the scheduler
    warm_elapsed: float | None = None  # t_W, taken at the first call after warm-up

    def __call__(self, s: int) -> float:
        if s < self.warmup:
            return (s + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        if self.kind == "cosine":
            u = self.progress(s)
            return self.min_lr + (1 - self.min_lr) * 0.5 * (1 + math.cos(math.pi * u))
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.kind!r}")

    def progress(self, s: int) -> float:
        """u ∈ [0, 1]: the fraction of the run after warm-up that is done at step s ≥ W."""
        u = 0.0
        if self.total is not None:
            span = max(self.total - self.warmup, 1)
            u = min(s - self.warmup, span) / span
        if self.seconds is not None:
            if self.warm_elapsed is None:
                self.warm_elapsed = self.elapsed
            span = self.seconds - self.warm_elapsed
            done = self.elapsed - self.warm_elapsed
            u = max(u, min(done / span, 1.0) if span > 0 else 1.0)
        return u


# ---------------------------------------------------------------------- the config
def _positive_int(name: str, value: Any, optional: bool = True, low: int = 1) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(
            f"{name} must be {'None or ' if optional else ''}an int >= {low}, got {value!r}"
        )


def _positive_real(name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"{name} must be {'None or ' if optional else ''}a positive number, got {value!r}"
        )


@dataclass
class TrainConfig:
    """How :func:`~bayesgen.train.train` trains.

    Length: ``steps`` (steps in all; each draws a fresh minibatch without replacement) or
    ``epochs`` (passes over the data in a fresh random order, the last batch of a pass may be
    short), and/or ``max_seconds``, a wall-clock budget: the run ends after the step that
    reaches it (evaluations and checkpoints count), and the cosine spans the budget (module
    docstring), so a run of a fixed length in minutes decays fully whatever a step costs.
    A step updates every parameter group in turn, group g ``group_steps[g]`` times (default 1;
    e.g. ``{"discriminator": 5, "generator": 1}``), each update on its own batch.
    ``batch_size`` None: the whole data set (full batch). ``shuffle`` False keeps the order.

    Optimisation: ``optimizer`` (name, option object or callable), ``lr`` (one rate, or a
    dict group -> rate), ``weight_decay``, ``warmup`` steps then ``schedule`` ("cosine" down to
    ``min_lr`` × lr, or "constant"), ``clip_grad`` (maximum gradient norm per group), ``ema``
    (decay d of the moving average θ̄ ← d_n θ̄ + (1 − d_n) θ after update n = 0, 1, …, or None)
    and ``ema_warmup``: d_n = min(d, (1 + n) / (10 + n)) as diffusers' EMAModel does, so that a
    short run's average forgets the initial weights (without it, 0.999 over 500 updates keeps
    61 % of them); False: d_n = d.

    Evaluation: every ``eval_every`` steps (and at the end) on the held-out source, batches of
    ``eval_batch_size`` (None: ``batch_size``); early stopping after ``patience`` evaluations
    whose ``monitor`` (a key of the records: default ``val_loss``, or ``train_loss``, the mean
    training loss since the last evaluation, without held-out data) did not improve by
    ``min_delta``; ``restore_best`` (default: with patience) ends on the best evaluated weights.

    Bookkeeping: ``seed``, ``device``, ``quiet`` (no progress bar; it is also hidden when
    stderr is not a terminal), ``out`` (the run directory or None), ``checkpoint_every`` steps
    (None: only at the end), ``log_every`` (a history record every so many steps),
    ``check_data`` (stop on a batch holding NaN or inf; off for data whose NaN mean missing),
    ``distributed`` (None: data parallel when started by torchrun; False: this process alone),
    ``desc`` (the progress bar's label).
    """

    steps: int | None = None
    epochs: int | None = None
    max_seconds: float | None = None
    batch_size: int | None = 128
    lr: float | Mapping[str, float] = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    warmup: int = 0
    schedule: str = "cosine"
    min_lr: float = 0.0
    clip_grad: float | None = None
    ema: float | None = None
    ema_warmup: bool = True
    eval_every: int | None = None
    eval_batch_size: int | None = None
    patience: int | None = None
    restore_best: bool | None = None
    monitor: str | None = None
    min_delta: float = 0.0
    seed: int = 0
    device: str = "cpu"
    quiet: bool = True
    out: str | None = None
    checkpoint_every: int | None = None
    log_every: int = 1
    group_steps: Mapping[str, int] | None = None
    shuffle: bool = True
    check_data: bool = True
    distributed: bool | None = None
    desc: str = "train"

    def __post_init__(self):
        if self.steps is not None and self.epochs is not None:
            raise ValueError(
                f"give one of steps and epochs, not both; got steps={self.steps!r}, "
                f"epochs={self.epochs!r}"
            )
        if self.steps is None and self.epochs is None and self.max_seconds is None:
            raise ValueError("give the run's length: steps, epochs or max_seconds")
        _positive_int("steps", self.steps)
        _positive_int("epochs", self.epochs)
        _positive_real("max_seconds", self.max_seconds, optional=True)
        _positive_int("batch_size", self.batch_size)
        if isinstance(self.lr, Mapping):
            for g, v in self.lr.items():
                _positive_real(f"lr[{g!r}]", v)
        else:
            _positive_real("lr", self.lr)
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        _positive_int("warmup", self.warmup, optional=False, low=0)
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not (isinstance(self.min_lr, (int, float)) and 0 <= self.min_lr <= 1):
            raise ValueError(f"min_lr must be a fraction in [0, 1], got {self.min_lr!r}")
        _positive_real("clip_grad", self.clip_grad, optional=True)
        if self.ema is not None and not (isinstance(self.ema, (int, float)) and 0 <= self.ema < 1):
            raise ValueError(f"ema must be None or a decay in [0, 1), got {self.ema!r}")
        if not isinstance(self.ema_warmup, bool):
            raise ValueError(f"ema_warmup must be True or False, got {self.ema_warmup!r}")
        _positive_int("eval_every", self.eval_every)
        _positive_int("eval_batch_size", self.eval_batch_size)
        _positive_int("patience", self.patience)
        if not (isinstance(self.min_delta, (int, float)) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0, got {self.min_delta!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        _positive_int("checkpoint_every", self.checkpoint_every)
        _positive_int("log_every", self.log_every, optional=False)
        if self.group_steps is not None:
            for g, k in self.group_steps.items():
                _positive_int(f"group_steps[{g!r}]", k, optional=False)
        if isinstance(self.optimizer, str) and self.optimizer.lower() not in OPTIONS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIONS)} or an optimizer class, "
                f"got {self.optimizer!r}"
            )

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (an optimizer given as a callable is named, not stored)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "optimizer":
                if isinstance(v, _OPTION_TYPES):
                    v = {"name": type(v).__name__.lower(), **_plain(dataclasses.asdict(v))}
                elif not isinstance(v, str):
                    v = {"callable": getattr(v, "__qualname__", repr(v))}
            out[f.name] = _plain(v)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The config written by :meth:`to_json` (an optimizer callable cannot come back)."""
        data = dict(data)
        opt = data.get("optimizer")
        if isinstance(opt, dict):
            if "callable" in opt:
                raise ValueError(
                    f"the run used the optimizer callable {opt['callable']!r}, which a JSON "
                    "config cannot rebuild; pass it again in a TrainConfig"
                )
            opt = dict(opt)
            name = opt.pop("name")
            if name not in OPTIONS:
                raise ValueError(f"optimizer must be one of {sorted(OPTIONS)}, got {name!r}")
            data["optimizer"] = OPTIONS[name](
                **{k: tuple(v) if isinstance(v, list) else v for k, v in opt.items()}
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}")
        return cls(**data)

    def ema_decay(self, n: int) -> float:
        """The decay d_n of the weights' average at update n (from 0)."""
        if self.ema is None:
            raise ValueError("ema_decay needs ema, a decay in [0, 1); got None")
        return min(float(self.ema), (1 + n) / (10 + n)) if self.ema_warmup else float(self.ema)

    def group_lr(self, group: str) -> float:
        if isinstance(self.lr, Mapping):
            if group not in self.lr:
                raise ValueError(f"lr has no rate for parameter group {group!r}: {dict(self.lr)}")
            return float(self.lr[group])
        return float(self.lr)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
