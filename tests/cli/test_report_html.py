"""The report page: cells, figure numbering, image sizes, escaping and the text form."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from bayesgen.cli.report import DPI, Figure, ResultTable, Section, save_figure  # noqa: E402
from bayesgen.cli.report_html import (  # noqa: E402
    figure_labels,
    format_cell,
    png_size,
    render_page,
    render_text,
)


def test_cells_format_by_kind():
    assert format_cell(0.7377) == "0.7377"
    assert format_cell(np.float64(0.695)) == "0.6950"
    assert format_cell(12150.34) == "12,150.3"
    assert format_cell(3121) == "3,121"
    assert format_cell(2.5e-5) == "2.5e-05"
    assert format_cell(True) == "True" and format_cell("N(0, 1)") == "N(0, 1)"


def test_chapter_numbers_are_kept_and_the_others_numbered_in_page_order():
    a = Section("a", "s", figures=[Figure("a.png", "c", "1"), Figure("b.png", "c")])
    b = Section("b", "s", figures=[Figure("c.png", "c"), Figure("d.png", "c", "17")])
    assert figure_labels([a, b]) == [["1", "A.1"], ["A.2", "17"]]


def test_a_saved_figure_is_shown_at_its_printed_size(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1])
    name = save_figure(ax, tmp_path / "f.png")
    assert name == "f.png" and not plt.fignum_exists(fig.number)
    w, h, dpi = png_size(tmp_path / "f.png")
    assert dpi == pytest.approx(DPI, abs=0.1) and h < w <= 4 * DPI
    page = render_page(
        [("only", Section("One", "ran x", figures=[Figure(name, "a line", "6")]))],
        folder=tmp_path,
    )
    assert f"width='{round(w * 96 / DPI)}' height='{round(h * 96 / DPI)}'" in page
    assert png_size(tmp_path / "missing.png") is None
    with pytest.raises(TypeError, match="fig_or_ax must be a matplotlib Figure or Axes"):
        save_figure("nope", tmp_path / "g.png")


def test_page_escapes_text_and_makes_anchors_unique():
    s = Section(
        "<b>x</b> & y",
        "ran <i>",
        "first paragraph\nwrapped\n\nsecond",
        figures=[Figure("a.png", "cap <1>", "4"), Figure("b.png", "cap 2", "4")],
        tables=[ResultTable("t & u", ["k", "v"], [["<x>", 0.5], ["long\ntext", 3], ["z", "—"]])],
        seconds=1.23,
    )
    page = render_page([("sec", s), ("sec", s)])
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt; &amp; y" in page
    assert page.count("<p>first paragraph wrapped</p>") == 2
    assert "id='sec'" in page and "id='sec-2'" in page
    assert "id='fig-4'" in page and "id='fig-4-2'" in page and "id='fig-4-3'" in page
    assert "<th scope='col'>k</th><th scope='col' class='num'>v</th>" in page
    assert "<td class='num'>0.5000</td>" in page and "<td class='pre'>long\ntext</td>" in page
    assert "<span class='time'>1.2 s</span>" in page
    text = render_text(s)
    assert text.startswith("== <b>x</b> & y (1.2 s)\nran <i>")
    assert "  <x>   0.5000" in text and "figure 4: a.png: cap <1>" in text
