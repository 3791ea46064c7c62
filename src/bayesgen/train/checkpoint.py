"""Checkpoints in safetensors plus JSON (never pickle), written atomically.

``RUN/checkpoint.safetensors`` holds every tensor (raw weights ``model/<name>``, the moving
average ``ema/<i>``, the best weights ``best/<i>``, optimizer state ``optim/<group>/<param>/<key>``,
RNG states ``rng/...``, the epoch's permutation) and, in its header, the JSON meta (step,
optimizer hyper-parameters, scheduler state, early-stopping state, the fingerprint of model and
config). One file is one atomic rename, so a kill mid-write leaves the last good checkpoint.
``RUN/checkpoint.json`` is a readable copy of that meta.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .history import atomic_write

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "flatten_optimizer", "load_optimizer"]

FORMAT = "bayesgen.train/1"
TENSORS, META = "checkpoint.safetensors", "checkpoint.json"


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
