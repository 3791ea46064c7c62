"""The autoregressive tour section runs (briefly) and hands the report its figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from bayesgen.cli import tour_arm  # noqa: E402
from bayesgen.cli.report import Section  # noqa: E402


def test_arm_section_without_data(tmp_path, monkeypatch):
    monkeypatch.setitem(tour_arm.TRAIN_SECONDS, "digits", 0.3)
    section = tour_arm.arm_section(tmp_path, None)
    assert isinstance(section, Section) and tour_arm.SECTIONS == [tour_arm.arm_section]
    assert [f.number for f in section.figures] == ["8", None, None]
    for f in section.figures:
        assert (tmp_path / f.file).stat().st_size > 0
    rows = section.tables[0].rows
    assert [r[0] for r in rows] == ["PixelCNN", "MADE"]
    assert all(0 < float(r[3]) < 0.7 for r in rows)  # below log 2 nats per pixel: it learnt
    assert "skipped" in section.text


def test_arm_section_with_shakespeare(tmp_path, monkeypatch, data_dir):
    monkeypatch.setitem(tour_arm.TRAIN_SECONDS, "digits", 0.2)
    monkeypatch.setitem(tour_arm.TRAIN_SECONDS, "text", 0.5)
    section = tour_arm.arm_section(tmp_path, data_dir)
    assert "ROMEO:\n" in section.text
    assert section.tables[0].rows[-1][0] == "transformer (Tiny Shakespeare)"
