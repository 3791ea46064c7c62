"""What the plot helpers begin and end with: pyplot (the file backend when a figure goes to a
file) and saving a figure to an optional path."""

from __future__ import annotations

from pathlib import Path

__all__ = ["pyplot", "save"]


def pyplot(path: str | Path | None = None):
    """``matplotlib.pyplot``, with the non-interactive Agg backend selected when the figure is
    to be written to ``path`` (``force=False``: a backend already in use is kept)."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path | None, *, dpi: int = 110):
    """Write ``fig`` to ``path`` (tight bounding box) when a path is given; returns ``fig``."""
    if path is not None:
        fig.savefig(Path(path), bbox_inches="tight", dpi=dpi)
    return fig
