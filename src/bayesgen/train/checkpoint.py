"""Checkpoints in safetensors plus JSON (never pickle), written atomically.

``RUN/checkpoint.safetensors`` holds every tensor (raw weights ``model/<name>``, the moving
average ``ema/<i>``, the best weights ``best/<i>``, optimizer state ``optim/<group>/<param>/<key>``,
RNG states ``rng/...``, the epoch's permutation) and, in its header, the JSON meta (step,
optimizer hyper-parameters, scheduler state, early-stopping state, the fingerprint of model and
config). One file is one atomic rename, so a kill mid-write leaves the last good checkpoint.
``RUN/checkpoint.json`` is a readable copy of that meta.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .config import TrainConfig
from .history import History, atomic_write

__all__ = [
    "FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "flatten_optimizer",
    "load_optimizer",
    "fingerprint",
    "write_config",
    "run_state",
    "restore_run",
    "load_run",
]

FORMAT = "bayesgen.train/1"
TENSORS, META = "checkpoint.safetensors", "checkpoint.json"
#: TrainConfig fields that may change when a run is resumed
#: config fields a resumed run may change: bookkeeping, and the run's length (a longer run
#: continues its schedule over the new number of steps)
RESUMABLE = {
    "quiet", "device", "out", "checkpoint_every", "desc", "steps", "epochs", "max_seconds",
    "eval_every",
}  # fmt: skip


def save_checkpoint(run: Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Write the checkpoint of ``run`` (tensors moved to CPU, contiguous)."""
    from safetensors.torch import save

    meta = {"format": FORMAT, **meta}
    text = json.dumps(meta)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(run / TENSORS, save(cpu, metadata={"meta": text}))
    atomic_write(run / META, json.dumps(meta, indent=1).encode())


def load_checkpoint(run: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(tensors, meta) of the checkpoint of ``run``; a clear error for a missing or corrupt one."""
    from safetensors import SafetensorError, safe_open

    path = Path(run) / TENSORS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
        meta = json.loads(header["meta"])
    except (SafetensorError, OSError, KeyError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: corrupt checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a bayesgen training checkpoint (format {FORMAT!r})")
    return tensors, meta


def flatten_optimizer(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """An optimizer's state dict as tensors ``optim/<name>/<param>/<key>`` and JSON meta."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim/{name}/{pid}/{key}"] = value
            else:
                plain.setdefault(str(pid), {})[key] = value
    groups = [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
        for g in sd["param_groups"]
    ]
    return tensors, {"param_groups": groups, "state": plain}


def load_optimizer(
    name: str, opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict
) -> None:
    """Put back the state written by :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optim/{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, k = key[len(prefix) :].split("/", 1)
            state.setdefault(int(pid), {})[k] = value
    for pid, values in meta["state"].items():
        state.setdefault(int(pid), {}).update(values)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


def load_run(run: str | Path):
    """(model, config) of a run directory, rebuilt from RUN/config.json: the model of the
    registered paradigm with fresh weights and the TrainConfig, ready for
    ``train(model, data, config=config, resume=run)``."""
    from ..generative.base import build

    path = Path(run) / "config.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a bayesgen run config ({err})") from None
    if "paradigm" not in meta or "model_config" not in meta:
        raise ValueError(
            f"{path}: the run's model is a {meta.get('model')!r}, not a generative paradigm "
            "saved with its config; rebuild it yourself and pass resume="
        )
    return build(meta["paradigm"], **meta["model_config"]), TrainConfig.from_json(meta["train"])


# ---------------------------------------------------------------------- a run's state
def fingerprint(model, groups: dict[str, list[Tensor]]) -> dict[str, Any]:
    """What a checkpoint must match: the model's kind, config and parameter shapes."""
    out: dict[str, Any] = {"model": type(model).__name__}
    if getattr(model, "paradigm", None) is not None:
        out["paradigm"] = model.paradigm
    try:
        cfg = model.config
        json.dumps(cfg)
        out["config"] = cfg
    except (AttributeError, TypeError, ValueError):
        pass
    out["groups"] = {g: [list(p.shape) for p in ps] for g, ps in groups.items()}
    return out


def write_config(out: Path, model, config: TrainConfig) -> None:
    """RUN/config.json: the training config, the model's class, paradigm and config."""
    meta: dict[str, Any] = {"train": config.to_json(), "model": type(model).__name__}
    if getattr(model, "paradigm", None) is not None:
        meta["paradigm"] = model.paradigm
    try:
        cfg = model.config
        json.dumps(cfg)
        meta["model_config"] = cfg
    except (AttributeError, TypeError, ValueError):
        pass
    atomic_write(out / "config.json", json.dumps(meta, indent=1).encode())


def run_state(state) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The tensors and meta of a checkpoint of the run ``state`` (every rank must call it:
    the RNG states of all ranks are gathered)."""
    tensors: dict[str, Tensor] = {}
    if isinstance(state.model, nn.Module):
        tensors.update({f"model/{k}": v for k, v in state.model.state_dict().items()})
    else:
        tensors.update({f"param/{i}": p for i, p in enumerate(state.params)})
    if state.ema is not None:
        tensors.update({f"ema/{i}": e for i, e in enumerate(state.ema)})
    if state.best is not None:
        tensors.update({f"best/{i}": b for i, b in enumerate(state.best)})
    optim = {}
    for g, o in state.opts.items():
        t, m = flatten_optimizer(g, o)
        tensors.update(t)
        optim[g] = m
    tensors["rng/loop"] = state.gen.get_state()
    for r, s in enumerate(state.world.gather(torch.get_rng_state())):
        tensors[f"rng/torch/{r}"] = s
    if state.device.type == "cuda":
        for r, s in enumerate(state.world.gather(torch.cuda.get_rng_state(state.device))):
            tensors[f"rng/cuda/{r}"] = s
    if state.stream.perm is not None:
        tensors["perm"] = state.stream.perm
    meta = {
        "step": state.step,
        "position": state.stream.pos,
        "seconds": state.seconds,
        "best_value": state.best_value if math.isfinite(state.best_value) else None,
        "wait": state.wait,
        "stopped_early": state.history.stopped_early,
        "accumulators": state.acc,
        "best_step": state.history.best["step"] if state.history.best else None,
        "world_size": state.world.size,
        "optimizers": optim,
        "schedulers": {g: s.state_dict() for g, s in state.scheds.items()},
        "fingerprint": state.fingerprint,
        "train_config": state.cfg.to_json(),
    }
    return tensors, meta


def restore_run(state, run: Path) -> None:
    """Put the run ``state`` back where the checkpoint of directory ``run`` left it, after
    checking that the model and the training config are the same."""
    tensors, meta = load_checkpoint(run)
    where = run / "checkpoint.safetensors"
    if meta.get("fingerprint") != state.fingerprint:
        raise ValueError(
            f"{where} is the checkpoint of another model: it has "
            f"{meta.get('fingerprint')}, this model is {state.fingerprint}"
        )
    saved, now = meta.get("train_config", {}), state.cfg.to_json()
    diff = sorted(
        k for k in set(saved) | set(now) if k not in RESUMABLE and saved.get(k) != now.get(k)
    )
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff)
        raise ValueError(f"{where} was written with another training config ({changes})")
    if meta.get("world_size", 1) != state.world.size:
        raise ValueError(
            f"{where} was written by {meta.get('world_size')} processes; this run has "
            f"{state.world.size}"
        )
    try:
        _restore(state, tensors, meta)
    except (KeyError, RuntimeError, ValueError) as err:
        raise ValueError(f"{where}: corrupt checkpoint ({type(err).__name__}: {err})") from None
    history = run / "history.jsonl"
    if history.is_file():
        state.history.records = History.from_jsonl(history, until=state.step).records
        best = meta.get("best_step")
        state.history.best = next(
            (r for r in state.history.records if r["step"] == best and state.monitor in r), None
        )


def _restore(state, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    with torch.no_grad():
        if isinstance(state.model, nn.Module):
            weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
            state.model.load_state_dict(weights, strict=True)
        else:
            for i, p in enumerate(state.params):
                p.copy_(tensors[f"param/{i}"])
        if state.ema is not None:
            for i, e in enumerate(state.ema):
                e.copy_(tensors[f"ema/{i}"])
        if "best/0" in tensors:
            state.best = [tensors[f"best/{i}"].to(p) for i, p in enumerate(state.params)]
    for g, o in state.opts.items():
        load_optimizer(g, o, tensors, meta["optimizers"][g])
        sched = state.scheds[g]
        # LambdaLR's state holds its schedule's fields; keep this run's (its length may have
        # grown) and set the rate it gives at the restored step
        schedules = [copy.copy(f) for f in sched.lr_lambdas]
        sched.load_state_dict(meta["schedulers"][g])
        for f, saved in zip(schedules, sched.lr_lambdas, strict=True):
            f.elapsed, f.warm_elapsed = saved.elapsed, saved.warm_elapsed  # the clock goes on
        sched.lr_lambdas = schedules
        for group, base, f in zip(o.param_groups, sched.base_lrs, schedules, strict=True):
            group["lr"] = base * f(sched.last_epoch)
        sched._last_lr = [group["lr"] for group in o.param_groups]
    state.gen.set_state(tensors["rng/loop"])
    torch.set_rng_state(tensors[f"rng/torch/{state.world.rank}"])
    if state.device.type == "cuda" and f"rng/cuda/{state.world.rank}" in tensors:
        torch.cuda.set_rng_state(tensors[f"rng/cuda/{state.world.rank}"], state.device)
    state.stream.perm = tensors.get("perm")
    state.stream.pos = int(meta["position"])
    state.step = int(meta["step"])
    state.seconds = float(meta["seconds"])
    state.best_value = math.inf if meta["best_value"] is None else float(meta["best_value"])
    state.wait = int(meta["wait"])
    state.history.stopped_early = bool(meta["stopped_early"])
    state.acc = {k: {g: list(v) for g, v in d.items()} for k, d in meta["accumulators"].items()}
    state.checkpoint_step = state.step
