"""The conditional-generation tour section runs end to end (a few training steps) and hands the
report one class-conditional sample grid per paradigm and its two tables."""

from __future__ import annotations

import matplotlib
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB

from bayesgen.cli import tour_conditional
from bayesgen.cli.report import Section
from bayesgen.cli.tour import section_registry
from bayesgen.data import load_dataset

matplotlib.use("Agg")


def test_conditional_section_writes_grids_and_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(tour_conditional, "STEPS", {"vae": 10, "arm": 10, "diffusion": 10})
    monkeypatch.setattr(tour_conditional, "IWAE_K", 2)
    assert section_registry()["conditional"] is tour_conditional.conditional_section
    s = tour_conditional.conditional_section(tmp_path, None)
    assert isinstance(s, Section) and s.summary and len(s.figures) == 3
    for f in s.figures:
        assert (tmp_path / f.file).stat().st_size > 1000, f.file
    samples, classifiers = s.tables
    assert [r[0] for r in samples.rows] == ["VAE (FiLM)", "ARM (MADE)", "diffusion (CFG w = 2)"]
    assert all(0 <= r[3] <= 100 and r[1] == 10 for r in samples.rows)
    accuracy = dict(classifiers.rows)
    assert {"VAE (FiLM), Bayes' rule", "ARM (MADE), Bayes' rule"} <= set(accuracy)
    # the peers' rows are scikit-learn's own numbers on one fixed binarization of the rows
    import torch

    ds = load_dataset("digits", seed=0)
    xbin = torch.bernoulli(ds.train.x, generator=torch.Generator().manual_seed(0)).numpy()
    nb = BernoulliNB().fit(xbin, ds.train.y.numpy()).score(ds.test.x.numpy(), ds.test.y.numpy())
    assert accuracy["scikit-learn BernoulliNB"] == pytest.approx(100 * nb, abs=0.051)
    lr = LogisticRegression(max_iter=2000).fit(xbin, ds.train.y.numpy())
    want = 100 * lr.score(ds.test.x.numpy(), ds.test.y.numpy())
    assert accuracy["scikit-learn LogisticRegression"] == pytest.approx(want, abs=0.051)


def test_nats_table_section_shows_every_column(tmp_path, monkeypatch):
    from bayesgen.cli import tour_table

    tiny = dict(
        n_train=800, n_test=200, steps=10, gan_steps=10, hidden=(16,), k=5, components=4,
        samples=200, timesteps=10, ode={"method": "rk4", "steps": 5},
    )  # fmt: skip
    monkeypatch.setattr(tour_table, "CONFIG", tiny)
    monkeypatch.setattr(tour_table, "TOYS", ("moons",))
    assert section_registry()["nats_table"] is tour_table.nats_table_section
    s = tour_table.nats_table_section(tmp_path, None)
    nll, gap, ed = s.tables
    assert (
        nll.columns[:5] == ["data", "H", "KDE", "GMM", "VAE"]
        and nll.columns[-1] == "diffusion (ODE)"
    )
    assert ed.columns[:2] == ["data", "fresh data"] and ed.columns[-2:] == ["GAN", "energy"]
    (row,) = nll.rows
    (grow,) = gap.rows
    assert row[0] == "moons" and grow[1:] == [pytest.approx(v - row[1], abs=2e-3) for v in row[2:]]
