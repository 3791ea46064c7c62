"""Shared helpers for the side-by-side benchmarks: timing, peak memory, tables and JSON."""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["timeit", "peak_memory", "print_table", "write_json", "geomean"]

RESULTS = Path(__file__).parent / "results"


def timeit(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated through Python's allocator while ``fn()`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def geomean(xs: Sequence[float]) -> float:
    return statistics.geometric_mean([x for x in xs if x > 0])


def print_table(rows: Sequence[dict], columns: Sequence[str] | None = None, title: str = "") -> str:
    """Print rows as a Markdown table (floats with 4 significant digits) and return the text."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def write_json(name: str, payload: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path
