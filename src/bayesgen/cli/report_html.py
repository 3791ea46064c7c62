"""The tour's report as one self-contained HTML5 page, and the same sections as plain text.

The page has a table of contents, then per section: its heading, one line saying what was
computed on what data and how long it took, prose, tables and numbered figures. A figure that
reproduces one of the chapter's keeps the chapter's number ("Figure 7"); the others are numbered
by the report in page order ("Figure A.1", "Figure A.2", ...). The stylesheet is embedded; the
page loads nothing but its own images.
"""

from __future__ import annotations

import html
import numbers
import re
import struct
from collections.abc import Sequence
from pathlib import Path

from .report import Figure, ResultTable, Section

__all__ = ["format_cell", "figure_labels", "render_page", "render_text", "png_size"]

_CSS = """
:root { color-scheme: light; --ink: #1d2125; --muted: #5b6470; --rule: #d8dde3;
  --accent: #1f5f9e; --shade: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.55;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 0.4rem; padding-top: 0.8rem;
  border-top: 1px solid var(--rule); }
a { color: var(--accent); }
p { margin: 0.6rem 0; }
.lead { color: var(--muted); }
.summary { color: var(--muted); font-size: 0.95rem; margin-top: 0; }
.summary .time { white-space: nowrap; font-size: 0.8rem; background: var(--shade);
  border: 1px solid var(--rule); border-radius: 3px; padding: 0 0.35rem; margin-left: 0.3rem; }
nav.toc { background: var(--shade); border: 1px solid var(--rule); border-radius: 6px;
  padding: 0.6rem 1.2rem 0.8rem; margin: 1.2rem 0; }
nav.toc h2 { border: 0; margin: 0.2rem 0; padding: 0; font-size: 1.1rem; }
nav.toc ol { margin: 0.3rem 0 0; padding-left: 1.4rem; columns: 2 22rem; column-gap: 2rem; }
nav.toc li { break-inside: avoid; margin: 0.15rem 0; }
nav.toc .figs { color: var(--muted); font-size: 0.85rem; }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { min-width: 24rem; border-collapse: collapse; font-size: 0.93rem;
  font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 0.35rem; }
th, td { padding: 0.3rem 0.75rem; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid #9aa4ae; background: var(--shade); }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.pre { white-space: pre-wrap; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 0.85rem; }
figure { margin: 1.5rem 0; text-align: center; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.92rem; color: var(--muted); width: fit-content; max-width: 46rem;
  margin: 0.4rem auto 0; text-align: left; }
figcaption b { color: var(--ink); }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 3rem; }
"""


def format_cell(value: object) -> str:
    """A table cell as text: ints with thousands separators, reals to 4 decimals (or 4
    significant digits outside [0.001, 10⁴)), anything else as str."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.4f}"
    return f"{v:,.1f}" if abs(v) >= 1e4 else f"{v:.4g}"


def figure_labels(sections: Sequence[Section]) -> list[list[str]]:
    """The label of every figure, section by section: the chapter's number where it has one,
    else "A.1", "A.2", ... in page order."""
    k = 0
    labels = []
    for s in sections:
        row = []
        for f in s.figures:
            if f.number is None:
                k += 1
                row.append(f"A.{k}")
            else:
                row.append(str(f.number))
        labels.append(row)
    return labels


def png_size(path: Path) -> tuple[int, int, float | None] | None:
    """(width, height, dpi) of a PNG from its IHDR and pHYs chunks; None if not a PNG."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", head[16:24])
    dpi = None
    at = head.find(b"pHYs")
    if at > 0 and len(head) >= at + 13:
        ppx, _, unit = struct.unpack(">IIB", head[at + 4 : at + 13])
        if unit == 1 and ppx > 0:  # pixels per metre
            dpi = ppx * 0.0254
    return w, h, dpi


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "x"


def _seconds(s: Section) -> str:
    if s.seconds is None:
        return ""
    return f"{s.seconds:.1f} s" if s.seconds < 60 else f"{s.seconds / 60:.1f} min"


_BLANK = ("", "—", "-")


def _table_html(t: ResultTable) -> str:
    e = html.escape

    def numeric(v: object) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    def column(j: int) -> list[object]:
        return [r[j] for r in t.rows if j < len(r)]

    right = [  # a column of numbers (or blanks) has its heading over them, on the right
        any(numeric(v) for v in column(j)) and all(numeric(v) or v in _BLANK for v in column(j))
        for j in range(len(t.columns))
    ]
    num = " class='num'"
    head = "".join(
        f"<th scope='col'{num if r else ''}>{e(str(c))}</th>"
        for c, r in zip(t.columns, right, strict=True)
    )
    body = []
    for row in t.rows:
        cells = []
        for j, v in enumerate(row):
            text = format_cell(v)
            right_j = numeric(v) or (j < len(right) and right[j])
            cls = num if right_j else " class='pre'" if "\n" in text else ""
            cells.append(f"<td{cls}>{e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='table-wrap'><table><caption>{e(t.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure_html(f: Figure, label: str, anchor: str, folder: Path | None) -> str:
    e = html.escape
    size = png_size(folder / f.file) if folder is not None else None
    dims = ""
    if size is not None:
        w, h, dpi = size
        scale = 96.0 / dpi if dpi else 1.0  # CSS px: the figure at its printed size
        dims = f" width='{round(w * scale)}' height='{round(h * scale)}'"
    alt = e(f"Figure {label}: {f.caption}")
    return (
        f"<figure id='{anchor}'><img src='{e(f.file)}' alt='{alt}'{dims}>"
        f"<figcaption><b>Figure {e(label)}.</b> {e(f.caption)}</figcaption></figure>"
    )


def _prose_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(' '.join(p.split()))}</p>" for p in paragraphs)


def render_page(
    named: Sequence[tuple[str, Section]],
    *,
    title: str = "bayesgen: a tour of the chapter",
    intro: str = "",
    folder: Path | None = None,
) -> str:
    """The HTML5 page of ``(anchor, section)`` pairs, in order; ``folder`` holds the figures
    (their pixel size and resolution set each image's display size)."""
    e = html.escape
    sections = [s for _, s in named]
    labels = figure_labels(sections)
    used: set[str] = set()

    def unique(anchor: str) -> str:
        out, i = anchor, 1
        while out in used:
            i += 1
            out = f"{anchor}-{i}"
        used.add(out)
        return out

    anchors = [unique(_slug(a)) for a, _ in named]
    fig_anchors = [[unique("fig-" + _slug(lab)) for lab in row] for row in labels]
    toc, body = [], []
    for anchor, s, labs, fas in zip(anchors, sections, labels, fig_anchors, strict=True):
        figs = ", ".join(f"<a href='#{fa}'>{e(lab)}</a>" for lab, fa in zip(labs, fas, strict=True))
        figs = f" <span class='figs'>(figure{'s' if len(labs) > 1 else ''} {figs})</span>"
        toc.append(f"<li><a href='#{anchor}'>{e(s.title)}</a>{figs if labs else ''}</li>")
        time = f" <span class='time'>{e(_seconds(s))}</span>" if s.seconds is not None else ""
        part = [f"<section id='{anchor}'><h2>{e(s.title)}</h2>"]
        part.append(f"<p class='summary'>{e(s.summary)}{time}</p>")
        part.append(_prose_html(s.text))
        part += [
            _figure_html(f, lab, fa, folder)
            for f, lab, fa in zip(s.figures, labs, fas, strict=True)
        ]
        part += [_table_html(t) for t in s.tables]
        part.append("</section>")
        body.append("".join(part))
    total = sum(s.seconds or 0.0 for s in sections)
    n_figs = sum(len(s.figures) for s in sections)
    return "\n".join(
        [
            "<!doctype html>",
            "<html lang='en'>",
            "<head>",
            "<meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{e(title)}</h1>",
            _prose_html(intro).replace("<p>", "<p class='lead'>", 1),
            "<nav class='toc' aria-label='Contents'><h2>Contents</h2><ol>",
            *toc,
            "</ol></nav>",
            *body,
            f"<footer>{len(sections)} sections, {n_figs} figures, computed in "
            f"{total:.1f} s in all.</footer>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _table_text(t: ResultTable) -> list[str]:
    cells = [[format_cell(v) for v in row] for row in t.rows]
    grid = [[str(c) for c in t.columns], *cells]
    widths = [
        max(len(line) for r in grid for line in r[j].split("\n")) for j in range(len(grid[0]))
    ]
    widths = [min(w, 60) for w in widths]
    out = [t.caption]
    for i, r in enumerate(grid):
        if any("\n" in c for c in r):  # a multi-line cell (a text sample) goes on its own
            out += [f"  {c}" for c in r]
            continue
        out.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def render_text(s: Section, labels: Sequence[str] | None = None) -> str:
    """The section for a terminal: title, summary, prose, tables and figure files."""
    time = f" ({_seconds(s)})" if s.seconds is not None else ""
    lines = [f"== {s.title}{time}", s.summary]
    if s.text.strip():
        lines += ["", " ".join(s.text.split())]
    for t in s.tables:
        lines += ["", *_table_text(t)]
    labels = labels or [f.number or "" for f in s.figures]
    for f, lab in zip(s.figures, labels, strict=True):
        lines.append(f"figure {lab + ': ' if lab else ''}{f.file}: {f.caption}")
    return "\n".join(lines) + "\n"
