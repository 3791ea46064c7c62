"""Minibatch gradient fitting: SGD/Adam on the mean negative log-likelihood, priors as penalties.

    L(θ) = −(1 / Σ_b w_b) Σ_b w_b log p(x_b | θ) + R(θ),      R(θ) = −log p(θ) + const

Minibatch estimates of the mean log-likelihood and of its gradient are unbiased (§2.4), so the
same objective serves full-batch and stochastic training. A prior enters as the penalty R on the
mean loss (eq. 27): ``Gaussian(λ)`` gives R = λ/2 ‖θ‖², exactly torch's ``weight_decay=λ``;
``Laplace(b)`` gives R = ‖θ‖₁ / b (the LASSO).

:class:`Trainer` is the loop: optimizer choice, shuffling and a validation split from one seed,
a progress bar, the loss history, tracked quantities, early stopping with the best parameters
restored.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

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
    verbose: progress bar (``None``: only when stderr is a terminal). track: name -> callable
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

        rng = torch.random.fork_rng(devices=[])
        with rng:
            if self.seed is not None:
                torch.manual_seed(self.seed)
            generator = torch.Generator()
            generator.manual_seed(self.seed if self.seed is not None else int(torch.seed() % 2**62))
            train_idx, val_idx = self._split(n, generator)
            self._run(call, params, columns, weights, train_idx, val_idx, generator)
        return self

    def _run(self, call, params, columns, weights, train_idx, val_idx, generator) -> None:
        from tqdm.auto import tqdm

        opt = make_optimizer(self.optimizer, params, self.lr, **self.optimizer_kwargs)
        groups = self._groups(self.prior, params)
        n_train = train_idx.shape[0]
        bs = n_train if self.batch_size is None else min(self.batch_size, n_train)
        history: dict[str, list[float]] = {"loss": []}
        if self.prior is not None:
            history["penalty"] = []
        if val_idx is not None:
            history["val_loss"] = []
        for name in self.track:
            history[name] = []
        full = train_idx.shape[0] == _rows(columns) and bs == n_train
        val_batch = _take(columns, val_idx) if val_idx is not None else None
        val_w = weights[val_idx] if (weights is not None and val_idx is not None) else None

        best = math.inf
        best_state: list[Tensor] | None = None
        self.best_epoch_ = 0
        self.stopped_early_ = False
        wait = 0
        bar = tqdm(range(self.epochs), desc=self.desc, disable=not self._show(), leave=False)
        epoch = -1
        for epoch in bar:
            order = (
                train_idx[torch.randperm(n_train, generator=generator)]
                if (self.shuffle and bs < n_train)
                else train_idx
            )
            total = 0.0
            seen = 0.0
            pen_value = 0.0
            for start in range(0, n_train, bs):
                idx = order[start : start + bs]
                batch = columns if full else _take(columns, idx)
                w = None if weights is None else weights[idx].to(next(iter(batch.values())).device)
                nll = self._mean(call(batch), w)
                pen = sum(penalty(p, ps) for p, ps in groups)
                loss = nll + pen
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.clip_grad is not None:
                    nn.utils.clip_grad_norm_(params, self.clip_grad)
                opt.step()
                size = float(idx.shape[0] if w is None else w.sum())
                total += float(nll.detach()) * size
                seen += size
                pen_value = float(pen.detach()) if isinstance(pen, Tensor) else float(pen)
            epoch_loss = total / max(seen, TINY)
            history["loss"].append(epoch_loss)
            if self.prior is not None:
                history["penalty"].append(pen_value)
            monitored = epoch_loss + pen_value
            if val_batch is not None:
                with torch.no_grad():
                    val = float(self._mean(call(val_batch), val_w))
                history["val_loss"].append(val)
                monitored = val
            for name, fn in self.track.items():
                with torch.no_grad():
                    history[name].append(float(fn()))
            if not math.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"the training loss became {epoch_loss} at epoch {epoch}; lower lr "
                    f"(got {self.lr}) or clip gradients"
                )
            bar.set_postfix(loss=f"{epoch_loss:.4g}", refresh=False)
            if monitored < best - self.min_delta:
                best = monitored
                self.best_epoch_ = epoch
                wait = 0
                if self.restore_best and (val_batch is not None or self.patience is not None):
                    best_state = [p.detach().clone() for p in params]
            else:
                wait += 1
                if self.patience is not None and wait >= self.patience:
                    self.stopped_early_ = True
                    break
        bar.close()
        if best_state is not None:
            with torch.no_grad():
                for p, v in zip(params, best_state, strict=True):
                    p.copy_(v)
        self.history_ = history
        self.n_epochs_ = epoch + 1
