"""``--condition labels`` for every paradigm on the 8×8 digits: ``train``, ``sample --label Y``
(the model's own p(x | y = Y)) and ``evaluate`` with the generative classifier's accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bayesgen.cli import main
from bayesgen.cli.runs import load_data, read_model
from bayesgen.generative.classifier import GenerativeClassifier

#: paradigm -> (data, tiny settings)
TINY = {
    "vae": ("digits", ["hidden=[32]", "latent_dim=4"]),
    "arm": ("digits", []),
    "diffusion": ("digits", ["hidden=[32]", "timesteps=20", "embedding=8"]),
    "gan": ("digits", ["hidden=[32]", "disc_hidden=[32]"]),
    "energy": ("digits-real", ["hidden=[32]"]),
    "latent-diffusion": ("digits", ["hidden=[32]", "timesteps=10", "diffusion_hidden=[16]"]),
}


def _train(paradigm: str, out, steps: int = 4, lr: float = 1e-3) -> None:
    data, settings = TINY[paradigm]
    sets = [a for s in settings for a in ("--set", s)]
    args = ["train", paradigm, "--data", data, "--condition", "labels", "--steps", str(steps)]
    args += ["--lr", str(lr)]
    assert main([*args, "--batch-size", "32", *sets, "--out", str(out), "--quiet"]) == 0


@pytest.mark.parametrize("paradigm", sorted(TINY))
def test_every_paradigm_trains_samples_a_label_and_evaluates(paradigm, tmp_path, capsys):
    run = tmp_path / paradigm
    _train(paradigm, run)
    model = read_model(run)
    assert model.num_classes == 10
    out = tmp_path / "s.npy"
    assert (
        main(["sample", str(run), "-n", "6", "--label", "3", "--seed", "2", "--out", str(out)]) == 0
    )
    got = np.load(out)
    model.eval()
    with torch.no_grad():
        want = model.sample(6, torch.full((6,), 3), generator=torch.Generator().manual_seed(2))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)  # p(x | y = 3)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json", "-n", "50", "-k", "2", "--classify", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    if model.exact_likelihood or model.bounds:
        assert 0 <= result["accuracy"] <= 1 and result["accuracy_rows"] == 20
    else:  # a GAN or an energy model has no likelihood to classify with: sample metrics only
        assert "accuracy" not in result and "score" not in result
        assert result["energy_distance"] >= 0


def test_evaluate_accuracy_is_the_generative_classifier(tmp_path, capsys):
    """The accuracy ``evaluate`` reports is Bayes' rule over the run's log p(x | y) (the ARM's
    exact likelihood, deterministic) on the first held-out rows, and well above chance (10%)
    after 300 steps."""
    run = tmp_path / "arm"
    _train("arm", run, steps=300, lr=5e-3)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json", "-n", "20", "--classify", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    ds = load_data("digits")
    model = read_model(run).eval()
    want = GenerativeClassifier(model).score_accuracy(ds.test.x[:200], ds.test.y[:200])
    assert result["accuracy"] == pytest.approx(want)
    assert result["accuracy"] > 0.5


def test_label_on_an_unconditional_run_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "vae"
    args = ["train", "vae", "--data", "digits", "--steps", "2", "--set", "hidden=[8]"]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    out = str(tmp_path / "s.npy")
    assert main(["sample", str(run), "-n", "2", "--label", "1", "--out", out]) == 2
    assert "not conditioned on labels" in capsys.readouterr().err


def test_sample_clip_reaches_the_diffusion_chain(tmp_path, capsys):
    """``sample RUN --clip C`` is the model's ``sample(..., clip=C)``; other models refuse it."""
    run = tmp_path / "diffusion"
    _train("diffusion", run)
    out = tmp_path / "s.npy"
    argv = ["sample", str(run), "-n", "5", "--label", "1", "--seed", "3", "--clip", "0.5"]
    assert main([*argv, "--out", str(out)]) == 0
    model = read_model(run)
    model.eval()
    with torch.no_grad():
        want = model.sample(
            5, torch.full((5,), 1), generator=torch.Generator().manual_seed(3), clip=0.5
        )
    np.testing.assert_allclose(np.load(out), want.numpy(), rtol=1e-5, atol=1e-5)
    vae = tmp_path / "vae"
    _train("vae", vae)
    capsys.readouterr()
    assert main(["sample", str(vae), "-n", "2", "--label", "1", "--clip", "1"]) == 2
    assert "takes no clip" in capsys.readouterr().err
