"""``bayesgen train``, ``sample RUN`` and ``evaluate RUN``: a run from the command line, resumed,
sampled, scored, and under torchrun; clear errors for what a user gets wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bayesgen.cli import main
from bayesgen.generative import load_model
from bayesgen.train import load_checkpoint


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    code = main(
        ["train", "vae", "--data", "swissroll", "--steps", "40", "--batch-size", "64",
         "--set", "hidden=[32,32]", "--out", str(run), "--quiet"]
    )  # fmt: skip
    assert code == 0
    return run


def test_train_writes_a_self_describing_run(vae_run):
    for name in ("config.json", "data.json", "model.json", "history.jsonl", "history.png"):
        assert (vae_run / name).is_file(), name
    spec = json.loads((vae_run / "data.json").read_text())
    assert spec["data"] == "swissroll" and spec["seed"] == 0
    model = load_model(vae_run / "model.json")
    assert model.paradigm == "vae" and model.event_shape == (3,) and model.latent_dim == 2
    records = [json.loads(line) for line in (vae_run / "history.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 40


def test_sample_run_to_npy_csv_and_png(vae_run, tmp_path):
    assert (
        main(["sample", str(vae_run), "-n", "25", "--seed", "1", "--out", str(tmp_path / "s.npy")])
        == 0
    )
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (25, 3) and np.isfinite(x).all()
    again = tmp_path / "t.npy"
    assert main(["sample", str(vae_run), "-n", "25", "--seed", "1", "--out", str(again)]) == 0
    np.testing.assert_array_equal(np.load(again), x)  # same seed, same samples
    assert main(["sample", str(vae_run), "-n", "10", "--out", str(tmp_path / "s.csv")]) == 0
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "x1,x2,x3"
    assert main(["sample", str(vae_run), "-n", "200", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_evaluate_run_reports_the_bound_and_sample_metrics(vae_run, tmp_path, capsys):
    lp = tmp_path / "lp.npy"
    assert main(["evaluate", str(vae_run), "--json", "--log-prob", str(lp), "-n", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["score"] == "elbo" and result["unit"] == "nats per row"
    values = np.load(lp)
    assert values.shape == (result["rows"],)
    assert result["-elbo"] == pytest.approx(-values.mean(), rel=1e-9)
    assert result["energy_distance"] > 0 and result["sliced_wasserstein"] > 0


def test_resume_continues_the_run(vae_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(vae_run, run)
    assert main(["train", "--resume", str(run), "--steps", "60", "--quiet"]) == 0
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 60
    before, after = load_model(vae_run / "model.json"), load_model(run / "model.json")
    assert any(
        not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nope", "--data", "moons"], "unknown model 'nope'"),
        (["train", "vae"], "give MODEL and --data"),
        (["train", "vae", "--data", "moons", "--condition", "labels"], "has no class labels"),
        (["train", "vae", "--data", "moons", "--set", "latent_dim"], "--set takes key=value"),
        (["evaluate", "no/such/run"], "not a run directory"),
    ],
)
def test_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sample_options_the_model_does_not_take(vae_run, capsys):
    assert main(["sample", str(vae_run), "-n", "3", "--temperature", "0.5"]) == 2
    assert "takes no temperature" in capsys.readouterr().err
    assert main(["sample", str(vae_run), "-n", "3", "--prompt", "to be"]) == 2
    assert "--prompt needs a text model" in capsys.readouterr().err


@pytest.mark.slow
def test_train_under_torchrun(tmp_path):
    """``torchrun --nproc_per_node=2 -m bayesgen train ...`` trains data-parallel (gloo)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "bayesgen",
           "train", "vae", "--data", "moons", "--steps", "20", "--batch-size", "32",
           "--set", "hidden=[16]", "--out", str(run), "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    model = load_model(run / "model.json")
    assert model.paradigm == "vae"
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 20


def test_train_with_a_weights_average_saves_the_average(tmp_path, capsys):
    run = tmp_path / "ema"
    args = ["train", "vae", "--data", "moons", "--steps", "30", "--set", "hidden=[8]"]
    assert main([*args, "--ema", "0.9", "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["ema"] == 0.9 and config["train"]["ema_warmup"] is True
    tensors, _ = load_checkpoint(run)
    saved = load_model(run / "model.json")
    named = list(saved.named_parameters())
    for i, (_, p) in enumerate(named):  # the model ends with the average, not θ
        assert torch.equal(p.detach(), tensors[f"ema/{i}"])
    assert any(not torch.equal(tensors[f"ema/{i}"], tensors[f"model/{name}"])
               for i, (name, _) in enumerate(named))  # fmt: skip
    assert main([*args, "--ema", "1", "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "ema must be None or a decay in [0, 1), got 1.0" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--ema", "0.5"]) == 2
    assert "--resume RUN takes no --ema" in capsys.readouterr().err


def test_train_for_minutes_ends_on_its_clock(tmp_path):
    run = tmp_path / "timed"
    args = ["train", "vae", "--data", "moons", "--minutes", "0.01", "--set", "hidden=[8]"]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["max_seconds"] == pytest.approx(0.6) and config["train"]["steps"] is None
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    # the step that spent it ends the run (records keep 4 decimals of the seconds)
    assert records[-1]["seconds"] >= 0.6 >= records[-2]["seconds"]
    lrs = [r["lr"] for r in records]
    assert lrs[0] == pytest.approx(1e-3) and lrs == sorted(lrs, reverse=True)  # cosine over time
