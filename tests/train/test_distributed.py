"""Data parallel training: two gloo processes under torchrun end with the parameters of one
process on the same global batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import regression_density as rd
import torch
from safetensors.torch import load_file

from bayesgen.train import load_checkpoint, train
from bayesgen.train.distributed import World


def test_a_single_process_world_changes_nothing():
    w = World()
    index = torch.arange(10)
    assert not w.distributed and w.main and w.part(index) is index
    assert World(1, 3).part(torch.arange(8)).tolist() == [3, 4, 5]  # tensor_split: 3, 3, 2


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    script = Path(rd.__file__)
    env = {
        **os.environ,
        "PYTHONPATH": str(script.parents[2] / "src"),
        "OMP_NUM_THREADS": "1",
    }
    # 4 epochs over 97 rows in batches of 16: the last batch of each epoch has one row, so
    # one rank's part is empty there
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", str(script), str(tmp_path), "4"]
    cmd.append("--epochs")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = load_file(str(tmp_path / "final.safetensors"))
    one = rd.model(0)
    val = rd.regression_data(30, 4)
    history = train(one, rd.regression_data(97), val, config=rd.config(None, 0, epochs=4))
    for name, p in one.state_dict().items():
        torch.testing.assert_close(ddp[name], p, atol=1e-6, rtol=0)
    # the held-out metrics, each rank on its half of every held-out batch, agree too
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    ddp_history = [json.loads(line) for line in lines]
    assert len(ddp_history) == len(history.records) == 28  # 4 epochs of 7 batches
    for a, b in zip(ddp_history, history.records, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-6)
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
    # the checkpoint holds both ranks' RNG states
    tensors, meta = load_checkpoint(tmp_path)
    assert meta["world_size"] == 2 and meta["step"] == 28
    assert {"rng/torch/0", "rng/torch/1"} <= set(tensors)
