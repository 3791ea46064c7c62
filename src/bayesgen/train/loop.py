"""The training loop of every model: minibatch descent on ``model.loss`` per parameter group.

Each step s = 1..T updates the groups of ``model.parameter_groups()`` in turn (group g
``group_steps[g]`` times), every update on a fresh minibatch x_b:

    θ_g ← opt_g(θ_g, ∇ loss_g(x_b)),   lr_g(s) = η_g f(s)      (f: warm-up then cosine)

then, with an exponential moving average, θ̄ ← d θ̄ + (1 − d) θ. Minibatch indices come from
one seeded ``torch.Generator`` (a permutation per epoch, or a draw without replacement per step),
so a run is a function of its seed; under ``torchrun`` every rank takes its slice of the same
index and the gradients are combined with weights n_r / B, which equals the one-process step.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..generative.base import GenerativeModel
from .batches import Stream, bad_row, storage, to_device
from .checkpoint import fingerprint, restore_run, run_state, save_checkpoint, write_config
from .config import Schedule, TrainConfig, make_optimizer
from .distributed import World, world
from .history import History

__all__ = ["train", "NonFiniteLoss"]


class NonFiniteLoss(FloatingPointError):
    """The loss became inf or NaN; ``step`` is the step that failed."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def _groups(model) -> dict[str, list[Tensor]]:
    if hasattr(model, "parameter_groups"):
        groups = {
            str(k): [p for p in v if p.requires_grad] for k, v in model.parameter_groups().items()
        }
    elif isinstance(model, nn.Module):
        groups = {"model": [p for p in model.parameters() if p.requires_grad]}
    else:
        raise TypeError(f"model must be an nn.Module or define parameter_groups(), got {model!r}")
    if not groups or not any(groups.values()):
        raise ValueError("nothing to train: no parameter requires a gradient")
    seen: dict[int, str] = {}
    for g, ps in groups.items():
        if not ps:
            raise ValueError(f"parameter group {g!r} has no parameter that requires a gradient")
        for p in ps:
            if id(p) in seen:
                raise ValueError(f"a parameter is in both groups {seen[id(p)]!r} and {g!r}")
            seen[id(p)] = g
    return groups


class _Run:
    """The state of one training run (one call of :func:`train`)."""

    def __init__(self, model, data, val, config: TrainConfig, on_eval):
        self.model, self.data, self.val, self.cfg, self.on_eval = model, data, val, config, on_eval
        device = torch.device(config.device)
        self.world: World = (
            world(device) if config.distributed is not False else World(device=device)
        )
        self.device = self.world.device
        if isinstance(model, nn.Module):
            model.to(self.device)
        self.groups = _groups(model)
        gs = dict(config.group_steps or {})
        unknown = sorted(set(gs) - set(self.groups))
        if unknown:
            raise ValueError(
                f"group_steps names groups {unknown} the model does not have "
                f"(its groups: {list(self.groups)})"
            )
        self.group_steps = {g: int(gs.get(g, 1)) for g in self.groups}
        self.params = [p for ps in self.groups.values() for p in ps]
        self.n = len(data) if data is not None else 0
        if data is not None and self.n == 0:
            raise ValueError("data is empty: no rows to train on")
        if data is None and config.epochs is not None:
            raise ValueError("epochs needs data; give steps for a loss without data")
        if val is not None and len(val) < self.world.size:
            raise ValueError(
                f"val has {len(val)} rows, fewer than the {self.world.size} processes that "
                "share its evaluation"
            )
        self.batch = min(config.batch_size or self.n, self.n) if self.n else 0
        self.gen = torch.Generator().manual_seed(config.seed)
        self.stream = Stream(
            self.n, self.batch, config.epochs is not None, config.shuffle, self.gen
        )
        updates = sum(self.group_steps.values())
        self.total: int | None = config.steps  # None: the time budget alone ends the run
        if config.epochs is not None:
            self.total = math.ceil(config.epochs * self.stream.per_epoch / updates)
        self.opts = {
            g: make_optimizer(config.optimizer, ps, config.group_lr(g), config.weight_decay)
            for g, ps in self.groups.items()
        }
        self.scheds = {
            g: torch.optim.lr_scheduler.LambdaLR(
                o,
                Schedule(
                    config.schedule, config.warmup, self.total, config.min_lr, config.max_seconds
                ),
            )
            for g, o in self.opts.items()
        }
        self.ema = [p.detach().clone() for p in self.params] if config.ema is not None else None
        multi = len(self.groups) > 1
        # several groups (a GAN) have no one loss to watch unless config.monitor names it
        self.monitor = config.monitor or (
            None if multi else ("val_loss" if val is not None else "train_loss")
        )
        if config.patience is not None and (config.eval_every is None or self.monitor is None):
            raise ValueError(
                "patience needs eval_every (how often to evaluate) and, for several parameter "
                "groups without held-out data, monitor (which record key to watch)"
            )
        self.restore_best = (
            config.patience is not None if config.restore_best is None else config.restore_best
        ) and self.monitor is not None
        self.step = 0
        self.best_value = math.inf
        self.best: list[Tensor] | None = None
        self.wait = 0
        self.history = History(monitor=self.monitor)
        self.seconds = 0.0
        self.out = Path(config.out) if config.out is not None else None
        self.fingerprint = fingerprint(model, self.groups)
        self.checkpoint_step: int | None = None
        #: running sums of the losses since the last record ("log") and evaluation ("eval")
        self.acc = {k: {g: [0.0, 0] for g in self.groups} for k in ("log", "eval")}

    # ------------------------------------------------------------------ pieces
    def key(self, base: str, group: str) -> str:
        return base if len(self.groups) == 1 else f"{base}/{group}"

    def fetch(self, source, index: Tensor | None, seed: int):
        """This rank's part of the batch at a global index, on the training device; the
        source's own randomness (e.g. dynamic binarization) from a generator on the source's
        device seeded by (seed, update, rank). Returns x, y, rows here, rows in all."""
        if source is None:  # a loss without data: each rank's loss counts 1 / world size
            return None, None, 1, self.world.size
        part = self.world.part(index)
        where = storage(source)
        g = torch.Generator(device=where).manual_seed(seed % 2**63)
        x, y = source.batch(part.to(where), g)
        if getattr(self.model, "conditional", True) is False:
            y = None  # labels of the data reach only a model that takes a condition
        return to_device(x, self.device), to_device(y, self.device), len(part), len(index)

    def lr(self, group: str) -> float:
        return float(self.opts[group].param_groups[0]["lr"])

    def swap_ema(self) -> None:
        """Exchange the raw weights and their moving average (in place, twice is identity)."""
        if self.ema is None:
            return
        with torch.no_grad():
            for p, e in zip(self.params, self.ema, strict=True):
                tmp = p.detach().clone()
                p.copy_(e)
                e.copy_(tmp)

    def evaluate(self) -> dict[str, float]:
        """Held-out metrics averaged over rows (the moving average's weights if any)."""
        cfg, val = self.cfg, self.val
        nv = len(val)
        size = min(cfg.eval_batch_size or cfg.batch_size or nv, nv)
        sums: dict[str, Tensor] = {}
        module = self.model if isinstance(self.model, nn.Module) else None
        was_training = module.training if module is not None else False
        self.swap_ema()
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), torch.no_grad():
                torch.manual_seed(cfg.seed)
                if module is not None:
                    module.eval()
                for i, start in enumerate(range(0, nv, size)):
                    index = torch.arange(start, min(start + size, nv))
                    x, y, rows, _ = self.fetch(val, index, cfg.seed * 7919 + i)
                    if rows == 0:
                        continue
                    for k, v in self.model.metrics(x, y).items():
                        v = torch.as_tensor(v, dtype=torch.float64, device=self.device)
                        sums[k] = sums.get(k, 0.0) + v.detach() * rows
        finally:
            if module is not None:
                module.train(was_training)
            self.swap_ema()
        names = sorted(sums)
        if not names:
            return {}
        total = self.world.all_sum(torch.stack([sums[k] for k in names]))
        return {f"val_{k}": float(v) / nv for k, v in zip(names, total, strict=True)}

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        """Write the checkpoint and the history (on the first rank); all ranks take part."""
        if self.out is None:
            return
        tensors, meta = run_state(self)
        if self.world.main:
            save_checkpoint(self.out, tensors, meta)
            self.history.to_jsonl(self.out / "history.jsonl")
        self.checkpoint_step = self.step
        self.world.barrier()

    # ------------------------------------------------------------------ the loop
    def update(self, group: str, update_no: int) -> float:
        """One optimizer update of ``group`` on the next minibatch; returns the global loss."""
        cfg, world = self.cfg, self.world
        index = self.stream.next()
        step = self.step + 1
        x, y, rows, total = self.fetch(
            self.data, index, cfg.seed * 1_000_003 + update_no * 4099 + world.rank
        )
        if cfg.check_data and world.broadcast_flag(
            (row := bad_row(x)) is not None or bad_row(y) is not None
        ):
            where = f" (row {row} of the batch)" if row is not None else ""
            raise ValueError(
                f"step {step}: the batch has a NaN or inf{where}; training stopped" + self._kept()
            )
        # a rank whose slice of a short last batch is empty adds nothing but still takes part
        loss = self.model.loss(x, y, group=group) if rows else None
        if loss is not None and (not isinstance(loss, Tensor) or loss.dim() != 0):
            raise ValueError(
                f"model.loss must return a scalar tensor, got "
                f"{tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__}"
            )
        share = rows / total
        if world.distributed:
            local = torch.zeros((), device=self.device) if loss is None else loss.detach()
            value = float(world.all_sum(local * share))
        else:
            value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(
                f"step {step}: the loss of group {group!r} is {value}; lower lr (got "
                f"{cfg.group_lr(group)}) or clip gradients. Training stopped{self._kept()}",
                step,
            )
        params = self.groups[group]
        opt = self.opts[group]
        opt.zero_grad(set_to_none=True)
        if loss is not None:
            loss.backward()
        world.sum_gradients(params, share)
        if cfg.clip_grad is not None:
            nn.utils.clip_grad_norm_(params, cfg.clip_grad)
        opt.step()
        if self.ema is not None:
            weight = 1 - cfg.ema_decay(update_no)
            with torch.no_grad():
                for p, e in zip(self.params, self.ema, strict=True):
                    e.lerp_(p.detach(), weight)
        return value

    def _kept(self) -> str:
        if self.out is None or self.checkpoint_step is None:
            return ""
        return f" (the last good checkpoint, step {self.checkpoint_step}, is kept in {self.out})"

    def run(self, bar) -> None:
        cfg = self.cfg
        start = time.perf_counter() - self.seconds
        log, since_eval = self.acc["log"], self.acc["eval"]  # group -> [Σ loss, updates]
        update_no = self.stream.pos
        while not (self.done() or self.history.stopped_early):
            lrs = {g: self.lr(g) for g in self.groups}
            for g, k in self.group_steps.items():
                for _ in range(k):
                    v = self.update(g, update_no)
                    update_no += 1
                    for acc in (log[g], since_eval[g]):
                        acc[0] += v
                        acc[1] += 1
            self.step += 1
            self.seconds = time.perf_counter() - start
            if cfg.max_seconds is not None:  # every rank ends at the same step, on one clock
                self.seconds = self.world.all_max(self.seconds)
            for s in self.scheds.values():
                for f in s.lr_lambdas:
                    f.elapsed = self.seconds
                s.step()
            last = self.done()
            self.history.out_of_time = last and (self.total is None or self.step < self.total)
            halt = False
            evaluate = (cfg.eval_every is not None and self.step % cfg.eval_every == 0) or (
                last and (self.val is not None or cfg.eval_every is not None)
            )
            if evaluate or last or self.step % cfg.log_every == 0:
                record: dict[str, Any] = {"step": self.step}
                if self.n:
                    record["epoch"] = round(self.stream.epoch, 6)
                for g in self.groups:
                    if log[g][1]:
                        record[self.key("loss", g)] = log[g][0] / log[g][1]
                    record[self.key("lr", g)] = lrs[g]
                    log[g] = [0.0, 0]
                if evaluate:
                    for g in self.groups:
                        if since_eval[g][1]:
                            record[self.key("train_loss", g)] = since_eval[g][0] / since_eval[g][1]
                        since_eval[g] = [0.0, 0]
                    if self.val is not None:
                        record.update(self.evaluate())
                    if self.on_eval is not None:
                        halt = self.world.broadcast_flag(bool(self.on_eval(record)))
                record["seconds"] = round(self.seconds, 4)
                self.history.records.append(record)
                bar.set_postfix(
                    {
                        k: f"{v:.4g}"
                        for k, v in record.items()
                        if k not in ("step", "seconds") and isinstance(v, float)
                    },
                    refresh=False,
                )
                tracked = evaluate and self.monitor is not None and self.stop(record)
                if tracked or halt:
                    self.history.stopped_early = True
                    bar.update(1)
                    break
            bar.update(1)
            if cfg.checkpoint_every is not None and self.step % cfg.checkpoint_every == 0:
                self.save()

    def done(self) -> bool:
        """Whether the run has its length: ``total`` steps, or ``max_seconds`` spent."""
        if self.total is not None and self.step >= self.total:
            return True
        return self.cfg.max_seconds is not None and self.seconds >= self.cfg.max_seconds

    def stop(self, record: dict[str, Any]) -> bool:
        """Track the best monitored value (and its weights); True when patience ran out."""
        if self.monitor not in record:
            raise ValueError(
                f"monitor {self.monitor!r} is not in the evaluation record {sorted(record)}"
            )
        value = float(record[self.monitor])
        if value < self.best_value - self.cfg.min_delta:
            self.best_value = value
            self.history.best = record
            self.wait = 0
            if self.restore_best:
                source = self.ema if self.ema is not None else self.params
                self.best = [t.detach().clone() for t in source]
            return False
        self.wait += 1
        if self.cfg.patience is not None and self.wait >= self.cfg.patience:
            self.history.stopped_early = True
            return True
        return False

    def finish(self) -> None:
        """Final weights: the best ones after early stopping, else the moving average (the raw
        weights stay in the last checkpoint)."""
        self.save()
        with torch.no_grad():
            if self.best is not None and self.restore_best:
                for p, b in zip(self.params, self.best, strict=True):
                    p.copy_(b)
                self.history.final_weights = "best"
            elif self.ema is not None:
                for p, e in zip(self.params, self.ema, strict=True):
                    p.copy_(e)
                self.history.final_weights = "ema"
        if self.out is not None and self.world.main:
            self.history.to_jsonl(self.out / "history.jsonl")
            self.history.plot(self.out / "history.png")
            if isinstance(self.model, GenerativeModel):  # the trained model, loadable alone
                self.model.save(self.out / "model.json")


def train(
    model,
    data=None,
    val=None,
    config: TrainConfig | None = None,
    resume: str | Path | None = None,
    *,
    on_eval: Callable[[dict[str, Any]], bool | None] | None = None,
) -> History:
    """Train ``model`` on the BatchSource ``data`` (None: a loss without data, ``steps`` runs)
    with ``config``; evaluate ``model.metrics`` on ``val`` every ``config.eval_every`` steps.

    A labelled source trains a conditional model on its labels and an unconditional one
    (``model.conditional`` False) on its rows alone. ``model.loss(x, y, group=g)`` is the scalar
    objective of each group of
    ``model.parameter_groups()`` (an ``nn.Module`` without it is one group "model").
    ``resume``: a run directory whose checkpoint continues (the model and config must match).
    ``on_eval(record)`` may add entries to each evaluation record before early stopping reads
    ``config.monitor``; a true return value stops training (e.g. a convergence test).

    With ``ema``, evaluation uses the moving average and the model ends with it (the raw
    weights stay in the checkpoint); with ``patience`` it ends with the best evaluated weights.
    Returns the :class:`History`.

    Randomness: the minibatches come from a generator seeded with ``config.seed``; torch's
    global generator (noise drawn inside ``model.loss``) is seeded with seed + rank for the run
    and given back to the caller unchanged afterwards; evaluation draws from its own fork.
    Failures: a batch holding NaN or inf (``ValueError``) or a non-finite loss
    (:class:`NonFiniteLoss`) stops the run before the update, naming the step; the last good
    checkpoint stays on disk. Each update reads the loss back (one device sync per update).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank runs this function with the same
    arguments; the result equals one process's when the loss is a mean over rows and the
    data source draws no random numbers of its own.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if resume is not None and config.out is None:
        config = dataclasses.replace(config, out=str(resume))
    state = _Run(model, data, val, config, on_eval)
    if state.out is not None and state.world.main:
        state.out.mkdir(parents=True, exist_ok=True)
        if resume is None or not (state.out / "config.json").is_file():
            write_config(state.out, model, config)
    devices = [state.device] if state.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed + state.world.rank)
        if resume is not None:
            restore_run(state, Path(resume))
        show = not config.quiet and state.world.main
        if show:
            import sys

            show = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=state.total, initial=state.step, desc=config.desc, leave=False)
        else:
            bar = _NoBar()
        with bar if show else nullcontext():
            if isinstance(model, nn.Module):
                model.train()
            state.run(bar)
        state.finish()
    return state.history


class _NoBar:
    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass
