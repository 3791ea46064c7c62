"""The diffusion and Langevin tour sections return figure 11, the snapshots, the Langevin
panels and the MRF, with their tables (short training runs)."""

from __future__ import annotations

from bayesgen.cli import tour_diffusion
from bayesgen.cli.report import Section


def test_diffusion_and_langevin_sections(tmp_path, monkeypatch):
    monkeypatch.setattr(tour_diffusion, "STEPS", {"diffusion": 20, "score": 20})
    assert tour_diffusion.SECTIONS == [
        tour_diffusion.diffusion_section,
        tour_diffusion.langevin_section,
    ]
    diffusion = tour_diffusion.diffusion_section(tmp_path, None)
    langevin = tour_diffusion.langevin_section(tmp_path, None)
    for section in (diffusion, langevin):
        assert isinstance(section, Section) and section.tables
        for f in section.figures:
            assert (tmp_path / f.file).stat().st_size > 1000
    assert "11" in [f.number for f in diffusion.figures]
    samplers = [row[0] for row in diffusion.tables[0].rows]
    assert samplers[:2] == ["ancestral", "ddim"]
    # the exact score: plain Langevin keeps the starts' half-half split, annealed Langevin
    # recovers the weight 0.80 of the (5, 5) mode (the learned score is barely trained here)
    (plain, annealed, _learned) = [row[2] for row in langevin.tables[0].rows]
    assert abs(plain - 0.5) < 0.06 and abs(annealed - 0.8) < 0.02
