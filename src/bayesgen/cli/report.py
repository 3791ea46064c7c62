"""What a tour section hands the report: a title, one line saying what was run and on what,
prose, numbered figures with captions, and tables of results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DPI", "Figure", "ResultTable", "Section", "save_figure", "save_dag", "no_data"]


@dataclass
class Figure:
    """An image file in the report folder; ``number`` is the chapter's figure number ("9")
    where the figure reproduces one, else None (numbered by the report)."""

    file: str
    caption: str
    number: str | None = None


@dataclass
class ResultTable:
    """A table of results: a caption, column names and rows of cells (numbers or text)."""

    caption: str
    columns: list[str]
    rows: list[list[object]]


@dataclass
class Section:
    """One part of the chapter run live. ``summary``: one line, what was trained or computed
    and on what data; ``seconds`` is filled in by the tour."""

    title: str
    summary: str
    text: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[ResultTable] = field(default_factory=list)
    seconds: float | None = None


#: the resolution of the report's figures; the page shows each at its printed size
DPI = 150


def save_figure(fig_or_ax, path: Path, *, dpi: int = DPI) -> str:
    """Save a matplotlib Figure (or the figure of an Axes / of a sequence of Axes) as ``path``
    at the report's resolution, close it, and return its file name (for :class:`Figure`)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure as MplFigure

    obj = fig_or_ax
    if isinstance(obj, list | tuple) and obj:
        obj = obj[0]
    fig = obj if isinstance(obj, MplFigure) else getattr(obj, "figure", None)
    if not isinstance(fig, MplFigure):
        raise TypeError(f"fig_or_ax must be a matplotlib Figure or Axes, got {fig_or_ax!r}")
    fig.savefig(path, bbox_inches="tight", dpi=dpi)
    plt.close(fig)
    return Path(path).name


def save_dag(graph, path: Path, **kwargs) -> str:
    """Draw a DAG (:func:`bayesgen.plot.draw_dag`, keyword arguments passed on) into ``path``;
    returns its file name."""
    from ..plot import draw_dag

    return save_figure(draw_dag(graph, **kwargs), path)


def no_data(data: Path | None, what: str) -> str:
    """The summary of a section skipped for want of a data folder or of ``what`` in it."""
    if data is None:
        return "Skipped: no --data folder was given (see the data folder's README)."
    return f"Skipped: the data folder has no {what} (see the data folder's README)."
