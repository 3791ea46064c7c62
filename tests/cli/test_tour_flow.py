"""The flow tour section returns figure 12 and its table (a short training run)."""

from __future__ import annotations

import math

from bayesgen.cli.report import Section
from bayesgen.cli.tour_flow import SECTIONS, flow_section


def test_flow_section(tmp_path):
    assert SECTIONS == [flow_section]
    section = flow_section(tmp_path, None, steps=20)
    assert isinstance(section, Section)
    assert [f.number for f in section.figures] == ["12", None]
    for f in section.figures:
        assert (tmp_path / f.file).stat().st_size > 0
    (row,) = section.tables[0].rows
    assert math.isfinite(row[3]) and row[1] > 0
    assert "eq. 18" in section.text and "/work" not in section.text
