"""The VAE's tour sections run end to end (with a few training steps) and hand the report the
chapter's figures 9, 13, 14 and 15 and their tables."""

from __future__ import annotations

import matplotlib

from bayesgen.cli import tour_vae
from bayesgen.cli.report import Section

matplotlib.use("Agg")


def test_vae_sections_write_their_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(tour_vae, "STEPS", {"swissroll": 20, "digits": 20})
    monkeypatch.setattr(tour_vae, "PRETRAIN_STEPS", 20)
    monkeypatch.setattr(tour_vae, "IS_SAMPLES", {"swissroll": 10, "digits": 10})
    tour_vae._digits_vae.cache_clear()
    try:
        sections = [f(tmp_path, None) for f in tour_vae.SECTIONS]
    finally:
        tour_vae._digits_vae.cache_clear()  # the full-length model is trained afresh
    assert all(isinstance(s, Section) and s.summary and s.tables for s in sections)
    numbers = [f.number for s in sections for f in s.figures]
    assert {"9", "13", "14", "15"} <= set(numbers)
    for s in sections:
        for f in s.figures:
            assert (tmp_path / f.file).stat().st_size > 1000, f.file
        for table in s.tables:
            assert all(len(row) == len(table.columns) for row in table.rows)
    ink = [row[1] for row in sections[2].tables[0].rows]  # mean ink by λ = −2 … 2
    assert len(ink) == 5 and all(isinstance(v, float) for v in ink)
