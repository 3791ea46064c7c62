"""The table of nats: a Gaussian mixture fitted to the 8-Gaussians toy (a Gaussian mixture)
comes within sampling error of the toy's entropy; every column is filled and in data units."""

from __future__ import annotations

import math

import pytest

from bayesgen.generative.nats import LIKELIHOOD_COLUMNS, NatsConfig, nats_row

TINY = NatsConfig(
    n_train=1000, n_test=400, steps=20, gan_steps=20, hidden=(16,), k=10, components=8,
    samples=200, timesteps=10, ode={"method": "rk4", "steps": 10}, bandwidths=(0.1, 0.3),
)  # fmt: skip


def test_row_of_the_8_gaussians():
    row = nats_row("8gaussians", TINY)
    H = row["entropy"]
    # the true density is an 8-component mixture: EM's held-out NLL is within a few standard
    # errors of the entropy (per-row sd of log p is about 1.2 nats; 400 rows: se ≈ 0.06)
    assert abs(row["GMM gap"]) < 0.25
    for m in LIKELIHOOD_COLUMNS:
        if f"{m} NLL" in row:
            assert math.isfinite(row[f"{m} NLL"])
            assert row[f"{m} gap"] == pytest.approx(row[f"{m} NLL"] - H)
    for m in ("fresh data", "VAE", "diffusion (ODE)", "GAN", "energy"):
        assert row[f"{m} ED"] >= 0
    assert row["fresh data ED"] < row["GAN ED"]  # 20 GAN steps are far from the data


def test_swiss_roll_numbers_are_in_data_units():
    """Standardizing rescales densities by Π s_d: the KDE fitted on standardized rows, its NLL
    moved back by Σ log s_d, is comparable with the entropy of the raw swiss roll."""
    row = nats_row("swissroll", TINY)
    assert row["entropy"] > 5  # the 3-D roll's entropy in its own units
    assert -0.5 < row["KDE gap"] < 3


def test_data_without_entropy_is_a_clear_error():
    with pytest.raises(ValueError, match="known entropy"):
        nats_row("digits", TINY)
