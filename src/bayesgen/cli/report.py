"""What a tour section hands the report: a title, one line saying what was run and on what,
prose, numbered figures with captions, and tables of results."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Figure", "ResultTable", "Section"]


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
