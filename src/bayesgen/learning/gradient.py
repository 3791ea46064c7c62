"""Minibatch gradient fitting: SGD/Adam on the mean negative log-likelihood, priors as penalties.

    L(θ) = −(1 / Σ_b w_b) Σ_b w_b log p(x_b | θ) + R(θ),      R(θ) = −log p(θ) + const

Minibatch estimates of the mean log-likelihood and of its gradient are unbiased (§2.4), so the
same objective serves full-batch and stochastic training. A prior enters as the penalty R on the
mean loss (eq. 27): ``Gaussian(λ)`` gives R = λ/2 ‖θ‖², exactly torch's ``weight_decay=λ``;
``Laplace(b)`` gives R = ‖θ‖₁ / b (the LASSO).

:class:`Trainer` poses the problem (weighted rows, priors, a validation split from one seed,
tracked quantities) and runs it through the project's training loop, :func:`bayesgen.train.train`
(full batch or minibatches, shuffling, a progress bar, early stopping with the best parameters
restored).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from .._constants import TINY

__all__ = ["Trainer", "penalty", "make_optimizer", "OPTIMIZERS"]

#: optimizer names accepted by :class:`Trainer`
OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def make_optimizer(
    optimizer: str | Callable[..., torch.optim.Optimizer],
    params: Iterable[Tensor],
    lr: float,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """An optimizer by name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``)
    or from a class/callable ``optimizer(params, lr=lr, **kwargs)``."""
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or an optimizer class, "
                f"got {optimizer!r}"
            )
        optimizer = OPTIMIZERS[optimizer.lower()]
    elif not callable(optimizer):
        raise TypeError(f"optimizer must be a name or a callable, got {type(optimizer).__name__}")
    return optimizer(params, lr=lr, **kwargs)


def _prior_kind(prior: object) -> tuple[str, float]:
    """('gaussian', λ) or ('laplace', b) for the weight priors; raises for anything else."""
    from .priors import Gaussian, Laplace

    if isinstance(prior, Gaussian):
        return "gaussian", prior.lam
    if isinstance(prior, Laplace):
        return "laplace", prior.b
    raise TypeError(
        f"a prior on network weights must be Gaussian(λ) (weight decay) or Laplace(b) (L1), "
        f"got {prior!r}"
    )


def penalty(prior: object | None, params: Iterable[Tensor]) -> Tensor | float:
    """R(θ) = −log p(θ) up to a constant: λ/2 Σ θ² for ``Gaussian(λ)``, Σ |θ| / b for
    ``Laplace(b)``, 0 for ``None``."""
    if prior is None:
        return 0.0
    _prior_kind(prior)
    params = list(params)
    return prior.penalty(params) if params else 0.0


def _rows(data: Mapping[str, Tensor]) -> int:
    sizes = {k: int(v.shape[0]) for k, v in data.items()}
    if not sizes:
        raise ValueError("data is empty: no columns to train on")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"data columns have different numbers of rows: {sizes}")
    return next(iter(sizes.values()))


def _take(data: Mapping[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    return {k: v[index] for k, v in data.items()}


class Trainer:
    """Minimise the weighted mean of a per-row loss plus a prior penalty by minibatch descent.

    Parameters
    ----------
    optimizer, lr, optimizer_kwargs: the optimizer (name or class) and its settings.
    epochs: passes over the training rows. batch_size: rows per step (``None``: full batch).
    prior: ``Gaussian(λ)``, ``Laplace(b)`` or ``None`` — the penalty R(θ) on the mean loss —
        or a sequence of ``(prior, parameters)`` pairs giving each group of parameters its own.
    validation: fraction (0 ≤ f < 1) or number of rows held out; their mean loss is recorded
        each epoch and drives early stopping. patience: epochs without an improvement of at least
        ``min_delta`` before stopping (on the validation loss, or the training loss without a
        split); ``restore_best`` puts back the parameters of the best epoch.
    seed: seeds the split, the shuffling and the random numbers drawn inside the loss.
    verbose: progress bar (shown only on a terminal; ``False`` hides it). track: name -> callable
        returning a number, recorded after every epoch (e.g. a parameter of interest).
    clip_grad: maximum gradient norm (``None``: no clipping).

    Attributes after :meth:`fit`: ``history_`` (lists per epoch: ``loss`` the training mean
    negative log-likelihood, ``penalty``, ``val_loss``, tracked names), ``n_epochs_``,
    ``best_epoch_``, ``stopped_early_``.
    """

    def __init__(
        self,
        *,
        optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float = 1e-2,
        epochs: int = 100,
        batch_size: int | None = None,
        prior: object | None = None,
        validation: float | int = 0.0,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best: bool = True,
        seed: int | None = None,
        verbose: bool | None = None,
        shuffle: bool = True,
        clip_grad: float | None = None,
        track: Mapping[str, Callable[[], float]] | None = None,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        desc: str = "fit",
    ):
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
        if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
        if patience is not None and not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
        if not (isinstance(validation, (int, float)) and validation >= 0):
            raise ValueError(
                f"validation must be a fraction in [0, 1) or a row count, got {validation!r}"
            )
        if isinstance(validation, float) and validation >= 1:
            raise ValueError(
                f"validation must be a fraction in [0, 1) or a row count, got {validation!r}"
            )
        if isinstance(prior, (list, tuple)):  # (prior, parameters) pairs, materialized once
            prior = [(p, list(ps)) for p, ps in prior]
        for p, _ in self._groups(prior, ()):
            _prior_kind(p)
        self.optimizer = optimizer
        self.lr = float(lr)
        self.epochs = epochs
        self.batch_size = batch_size
        self.prior = prior
        self.validation = validation
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.seed = seed
        self.verbose = verbose
        self.shuffle = shuffle
        self.clip_grad = clip_grad
        self.track = dict(track or {})
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.desc = desc

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _groups(prior, params) -> list[tuple[object, list[Tensor]]]:
        if prior is None:
            return []
        if isinstance(prior, (list, tuple)):
            return [(p, list(ps)) for p, ps in prior if p is not None]
        return [(prior, list(params))]

    def _show(self) -> bool:
        if self.verbose is None:
            return bool(getattr(sys.stderr, "isatty", lambda: False)())
        return bool(self.verbose)

    def _split(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        v = self.validation
        n_val = int(round(v * n)) if isinstance(v, float) else int(v)
        if n_val == 0:
            return torch.arange(n), None
        if n_val >= n:
            raise ValueError(f"validation holds out {n_val} of {n} rows; nothing left to train on")
        perm = torch.randperm(n, generator=generator)
        return perm[n_val:], perm[:n_val]

    @staticmethod
    def _mean(loss: Tensor, w: Tensor | None) -> Tensor:
        if loss.dim() == 0:
            return loss
        if w is None:
            return loss.mean()
        return (loss * w).sum() / w.sum()

    # ------------------------------------------------------------------ the loop
    def fit(
        self,
        loss_fn: Callable[[dict[str, Tensor]], Tensor],
        parameters: Iterable[Tensor],
        data: Mapping[str, Tensor] | Tensor,
        weights: Tensor | None = None,
    ) -> Trainer:
        """Run the loop. ``loss_fn(batch)`` returns the per-row negative log-likelihood (B,)
        (or an already averaged scalar) of a batch ``name -> Tensor (B, ...)`` of ``data``.
        ``weights`` (N,) weight the rows in the mean."""
        params = [p for p in parameters if p.requires_grad]
        if not params:
            raise ValueError("nothing to train: no parameter requires a gradient")
        single = isinstance(data, Tensor)
        columns = {"x": data} if single else dict(data)
        n = _rows(columns)
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
            if weights.shape[0] != n:
                raise ValueError(f"weights has {weights.shape[0]} entries, data has {n} rows")
            if (weights < 0).any() or not torch.isfinite(weights).all():
                raise ValueError("weights must be finite and >= 0")
        call = (lambda b: loss_fn(b["x"])) if single else loss_fn

        seed = self.seed
        if seed is None:  # a fresh seed; the caller's global generator is left as it was
            with torch.random.fork_rng(devices=[]):
                seed = int(torch.seed() % 2**62)
        train_idx, val_idx = self._split(n, torch.Generator().manual_seed(seed))
        self._run(call, params, columns, weights, train_idx, val_idx, seed)
        return self

    def _run(self, call, params, columns, weights, train_idx, val_idx, seed) -> None:
        from ..train import TrainConfig, train

        n_train = train_idx.shape[0]
        bs = n_train if self.batch_size is None else min(self.batch_size, n_train)
        # the whole data in its order: the loss gets the very column tensors (cached plans)
        full = n_train == _rows(columns) and bs == n_train
        objective = _Objective(call, params, self._groups(self.prior, params))
        history: dict[str, list[float]] = {"loss": []}
        if self.prior is not None:
            history["penalty"] = []
        if val_idx is not None:
            history["val_loss"] = []
        for name in self.track:
            history[name] = []

        def on_epoch(record: dict[str, Any]) -> None:
            epoch_loss, pen = objective.epoch()
            history["loss"].append(epoch_loss)
            if self.prior is not None:
                history["penalty"].append(pen)
            monitored = epoch_loss + pen
            if val_idx is not None:
                monitored = record["val_loss"]
                history["val_loss"].append(monitored)
            for name, fn in self.track.items():
                with torch.no_grad():
                    history[name].append(float(fn()))
            record["objective"] = monitored
            record["epoch_index"] = len(history["loss"]) - 1

        config = TrainConfig(
            epochs=self.epochs,
            batch_size=bs,
            lr=self.lr,
            optimizer=lambda ps, lr: make_optimizer(
                self.optimizer, ps, lr, **self.optimizer_kwargs
            ),
            schedule="constant",
            clip_grad=self.clip_grad,
            eval_every=math.ceil(n_train / bs),
            eval_batch_size=None if val_idx is None else int(val_idx.shape[0]),
            patience=self.patience,
            monitor="objective",
            min_delta=self.min_delta,
            restore_best=self.restore_best and (val_idx is not None or self.patience is not None),
            seed=seed,
            device=str(params[0].device),
            quiet=not self._show(),
            shuffle=self.shuffle and bs < n_train,
            check_data=False,  # NaN may mark missing values
            distributed=False,
            desc=self.desc,
        )
        data = _Rows(columns, weights, train_idx, full)
        val = None if val_idx is None else _Rows(columns, weights, val_idx, False)
        result = train(objective, data, val, config=config, on_eval=on_epoch)
        self.history_ = history
        self.n_epochs_ = len(history["loss"])
        self.best_epoch_ = int(result.best["epoch_index"]) if result.best is not None else 0
        self.stopped_early_ = result.stopped_early


class _Rows:
    """The Trainer's rows as a BatchSource: x is the batch of columns, y the row weights."""

    def __init__(self, columns: dict[str, Tensor], weights: Tensor | None, index: Tensor, full):
        self.columns, self.weights, self.index, self.full = columns, weights, index, full
        self.device = next(iter(columns.values())).device

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def batch(self, i: Tensor, generator: torch.Generator | None = None):
        rows = self.index[i]
        x = self.columns if self.full else _take(self.columns, rows)
        w = None if self.weights is None else self.weights[rows].to(self.device)
        return x, w


class _Objective:
    """The Trainer's problem for the training loop: the weighted mean of the per-row loss plus
    the prior penalty; it sums the epoch's loss for the history."""

    def __init__(self, call, params: list[Tensor], groups):
        self.call, self.params, self.groups = call, params, groups
        self.total = self.seen = self.pen = 0.0

    def parameter_groups(self) -> dict[str, list[Tensor]]:
        return {"model": self.params}

    def loss(self, x, w, *, group: str | None = None) -> Tensor:
        nll = Trainer._mean(self.call(x), w)
        pen = sum(penalty(p, ps) for p, ps in self.groups)
        size = float(_rows(x) if w is None else w.sum())
        self.total += float(nll.detach()) * size
        self.seen += size
        self.pen = float(pen.detach()) if isinstance(pen, Tensor) else float(pen)
        return nll + pen

    def metrics(self, x, w) -> dict[str, Tensor]:
        return {"loss": Trainer._mean(self.call(x), w)}

    def epoch(self) -> tuple[float, float]:
        """(the epoch's weighted mean loss, the last penalty); starts the next epoch."""
        mean = self.total / max(self.seen, TINY)
        self.total = self.seen = 0.0
        return mean, self.pen
