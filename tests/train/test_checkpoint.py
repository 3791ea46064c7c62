"""Checkpoints: an interrupted run resumed ends exactly where an uninterrupted one does (in
process, and after SIGKILL of a training subprocess); another model, another config or a
corrupt file is a clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import regression_density as rd
import torch
from safetensors.torch import load_file

from bayesgen.train import TrainConfig, load_checkpoint, train

SCRIPT = Path(rd.__file__)


class _Interrupt(Exception):
    pass


def _stop_at(step):
    def hook(record):
        if record["step"] == step:
            raise _Interrupt

    return hook


def _config(out, **kw):
    base = dict(steps=40, batch_size=16, lr=0.02, seed=1, warmup=4, ema=0.8, eval_every=6)
    base["patience"] = 50
    return TrainConfig(**{**base, "checkpoint_every": 10, "out": out and str(out), **kw})


def test_an_interrupted_run_resumes_to_the_same_parameters(tmp_path):
    data, val = rd.regression_data(), rd.regression_data(32, seed=4)
    whole = rd.model(0)
    # patience longer than the run: the best evaluated weights are tracked, checkpointed and
    # restored at the end without an early stop
    full = train(whole, data, val, config=_config(tmp_path / "whole", log_every=3))
    assert full.final_weights == "best" and not full.stopped_early
    part = rd.model(0)
    with pytest.raises(_Interrupt):  # stops at step 24; the checkpoint of step 20 remains
        train(part, data, val, config=_config(tmp_path / "cut", log_every=3), on_eval=_stop_at(24))
    assert load_checkpoint(tmp_path / "cut")[1]["step"] == 20
    resumed = rd.model(7)  # other initial weights: everything comes from the checkpoint
    history = train(resumed, data, val, config=_config(None, log_every=3), resume=tmp_path / "cut")
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)

    def plain(h):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]

    # the history was carried over and continued (the running means too: the checkpoint at
    # step 20 falls between records, at steps 18 and 21, and evaluations, at 18 and 24)
    assert plain(history) == plain(full)
    lines = (tmp_path / "cut" / "history.jsonl").read_text().splitlines()
    assert [r["step"] for r in map(json.loads, lines)] == [r["step"] for r in full.records]


def test_resuming_another_model_another_config_or_a_corrupt_file_is_an_error(tmp_path):
    data = rd.regression_data()
    train(rd.model(0), data, config=_config(tmp_path, steps=10))
    with pytest.raises(ValueError, match="checkpoint of another model"):
        train(rd.model(0, hidden=4), data, config=_config(tmp_path, steps=10), resume=tmp_path)
    with pytest.raises(ValueError, match=r"another training config \(lr: 0.02 -> 0.03\)"):
        train(rd.model(0), data, config=_config(tmp_path, steps=10, lr=0.03), resume=tmp_path)
    # quiet, device, out and checkpoint_every may change
    train(rd.model(0), data, config=_config(tmp_path, steps=10, quiet=False), resume=tmp_path)
    blob = tmp_path / "checkpoint.safetensors"
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])  # a torn file
    with pytest.raises(ValueError, match="checkpoint.safetensors: corrupt checkpoint"):
        train(rd.model(0), data, config=_config(tmp_path, steps=10), resume=tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        train(rd.model(0), data, config=_config(tmp_path, steps=10), resume=tmp_path / "none")


@pytest.mark.slow
def test_a_killed_training_process_resumes_to_the_uninterrupted_parameters(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(run), "200", "--slow"], env=env)
    try:
        deadline = time.monotonic() + 60  # a busy machine may take long to import torch
        while time.monotonic() < deadline and proc.poll() is None:
            meta = run / "checkpoint.json"
            if meta.is_file() and json.loads(meta.read_text())["step"] >= 30:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = load_checkpoint(run)[1]["step"]
    assert 30 <= killed_at < 200 and not (run / "final.safetensors").exists()
    val = rd.regression_data(30, seed=4)
    resumed = rd.model(0)
    train(resumed, rd.regression_data(), val, config=rd.config(run, 200), resume=run)
    whole = rd.model(0)
    train(whole, rd.regression_data(), val, config=rd.config(None, 200))
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert load_checkpoint(run)[1]["step"] == 200
    assert set(load_file(str(run / "checkpoint.safetensors"))) > {"rng/loop", "rng/torch/0"}


def test_a_run_directory_describes_itself(tmp_path, monkeypatch):
    from bayesgen.generative.base import PARADIGMS, load_model
    from bayesgen.train import load_run

    monkeypatch.setitem(PARADIGMS, "regression_density", rd.RegressionDensity)
    trained = rd.model(0, hidden=6)
    train(trained, rd.regression_data(), config=_config(tmp_path, steps=10))
    saved = load_model(tmp_path / "model.json")  # the final (moving-average) weights
    rebuilt, config = load_run(tmp_path)
    assert config == _config(tmp_path, steps=10) and rebuilt.hidden == 6
    train(rebuilt, rd.regression_data(), config=config, resume=tmp_path)  # already finished
    for a, b, c in zip(trained.parameters(), saved.parameters(), rebuilt.parameters(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
