"""What ``bayesgen train``, ``sample RUN`` and ``evaluate RUN`` share: the data a run was
trained on, a paradigm's default configuration for that data, and reading a run back.

A run directory holds what :func:`bayesgen.train.train` writes (``config.json``, the checkpoint,
``history.jsonl``/``.png``, the trained ``model.json`` + ``.safetensors``) and ``data.json``:
the data's name or path, the split seed, the conditioning and, for text, the vocabulary, so
that sampling and evaluation rebuild exactly the held-out part the run never trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_FILE",
    "default_config",
    "load_data",
    "parse_settings",
    "read_data_spec",
    "read_model",
    "write_data_spec",
]

DATA_FILE = "data.json"


def load_data(name: str, *, seed: int = 0, root: str | None = None):
    """A built-in data set or a user's file (see :func:`bayesgen.data.load_dataset`)."""
    from ..data import load_dataset

    return load_dataset(name, seed=seed, root=root)


def default_config(paradigm: str, data, *, condition: str | None = None) -> dict[str, Any]:
    """Constructor arguments of ``paradigm`` sized for ``data`` (its shape, kind and labels)."""
    from ..generative import PARADIGMS

    if paradigm not in PARADIGMS:
        raise ValueError(f"unknown model {paradigm!r}; models are {', '.join(sorted(PARADIGMS))}")
    shape = list(data.event_shape)
    size = 1
    for s in shape:
        size *= s
    cfg: dict[str, Any] = {"event_shape": shape}
    if condition == "labels":
        if not data.num_classes:
            raise ValueError(f"--condition labels: the data {data.name!r} has no class labels")
        cfg["num_classes"] = int(data.num_classes)
    elif condition is not None:
        raise ValueError(f"--condition must be 'labels', got {condition!r}")
    binary, tokens = data.kind == "binary", data.kind == "tokens"
    if paradigm in ("vae", "latent-diffusion"):
        if tokens:
            raise ValueError(f"the {paradigm} model is for real or binary rows, not tokens")
        cfg["likelihood"] = "bernoulli" if binary else "gaussian-per-dim"
        cfg["latent_dim"] = 2 if size <= 3 else (50 if size >= 400 else 16)
        cfg["hidden"] = [200, 200] if size >= 400 else [128, 128]
        cfg["activation"] = "tanh" if size >= 400 else "relu"
    elif paradigm == "arm":
        if tokens:
            cfg["vocab_size"] = len(data.vocab)
        elif not binary:
            raise ValueError("the ARM models tokens or binary pixels; this data is real-valued")
        else:
            cfg["backbone"] = "made"
        if paradigm == "latent-diffusion":  # a small VAE; the diffusion over its latent
            cfg["latent_dim"] = min(cfg["latent_dim"], 16)
            cfg["timesteps"] = 200
    elif paradigm in ("diffusion", "energy", "gan"):  # binary pixels as the reals 0 and 1
        if tokens:
            raise ValueError(f"the {paradigm} model here is for real-valued or binary rows")
    elif paradigm == "flow":
        if tokens or binary:
            raise ValueError(
                "the flow model here is for real-valued data (for digits: --data digits-real)"
            )
    else:
        raise ValueError(f"no default configuration for the model {paradigm!r}")
    return cfg


def parse_settings(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs (values as JSON, else as plain strings) into a dict."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes key=value, got {pair!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def write_data_spec(run: Path, spec: dict[str, Any]) -> None:
    (Path(run) / DATA_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")


def read_data_spec(run: str | Path) -> dict[str, Any]:
    path = Path(run) / DATA_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{run}: not a run directory of bayesgen train ({err})") from None
    if not isinstance(spec, dict) or "data" not in spec:
        raise ValueError(f"{path}: field 'data' is missing")
    return spec


def read_model(run: str | Path, device: str = "cpu"):
    """The trained model of a run (``RUN/model.json``; a run stopped early: its checkpoint)."""
    from ..generative import load_model

    run = Path(run)
    if not run.is_dir():
        raise ValueError(f"{run}: no such run directory")
    if (run / "model.json").is_file():
        return load_model(run / "model.json", map_location=device)
    from ..train import load_checkpoint
    from ..train.checkpoint import load_run

    model, _ = load_run(run)
    tensors, _ = load_checkpoint(run)
    state = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    model.load_state_dict(state)
    return model.to(device)
