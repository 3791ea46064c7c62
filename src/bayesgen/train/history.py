"""The metric history of a run: records in memory, as JSON lines, and as a PNG of curves."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["History", "atomic_write"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a reader (or a run
    killed mid-write) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class History:
    """The records of a run, one dict per logged step: ``step``, ``epoch``, ``loss`` (the group's
    training loss, or ``loss/<group>`` for several groups), ``lr`` (``lr/<group>``),
    ``seconds``, and after an evaluation the held-out metrics ``val_<name>``.

    ``best`` is the evaluated record whose monitored value was lowest (None before any);
    ``stopped_early`` says whether patience ran out (or ``on_eval`` asked to stop),
    ``out_of_time`` whether the time budget (``max_seconds``) ended the run;
    ``final_weights`` which weights the model ends with: "raw", "ema" or "best".
    """

    def __init__(self, records: Iterable[dict[str, Any]] = (), monitor: str | None = None):
        self.records: list[dict[str, Any]] = list(records)
        self.monitor = monitor
        self.best: dict[str, Any] | None = None
        self.stopped_early = False
        self.out_of_time = False
        self.final_weights = "raw"

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self.records)} records, last={self.last})"

    @property
    def last(self) -> dict[str, Any] | None:
        return self.records[-1] if self.records else None

    @property
    def steps(self) -> int:
        """The number of completed steps."""
        return int(self.records[-1]["step"]) if self.records else 0

    def column(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of the records that hold ``key``."""
        pairs = [(r["step"], r[key]) for r in self.records if key in r]
        return [s for s, _ in pairs], [float(v) for _, v in pairs]

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    # ------------------------------------------------------------------ files
    def to_jsonl(self, path: str | Path) -> Path:
        """One JSON object per line (non-finite numbers as null), written atomically."""
        path = Path(path)
        lines = [json.dumps(_finite(r), sort_keys=False) for r in self.records]
        atomic_write(path, ("\n".join(lines) + ("\n" if lines else "")).encode())
        return path

    @classmethod
    def from_jsonl(cls, path: str | Path, *, until: int | None = None) -> History:
        """Records of a JSON-lines file (those with step <= ``until`` when given)."""
        path = Path(path)
        records = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {i + 1} is not JSON ({err})") from None
            if until is None or r.get("step", 0) <= until:
                records.append(r)
        return cls(records)

    def plot(self, path: str | Path | None = None, *, title: str | None = None):
        """Curves of every numeric key against the step (losses and metrics; one panel each,
        learning rates together); saved to ``path`` when given. Returns the Figure."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        skip = {"step", "epoch", "seconds"}
        keys = [
            k
            for k in self.keys()
            if k not in skip
            and not k.startswith("lr")
            and any(isinstance(r.get(k), (int, float)) for r in self.records)
        ]
        lrs = [k for k in self.keys() if k.startswith("lr")]
        panels = keys + (["lr"] if lrs else [])
        n = max(len(panels), 1)
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        for ax, key in zip(axes.flat, panels, strict=False):
            for k in lrs if key == "lr" else [key]:
                steps, values = self.column(k)
                ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=k)
            ax.set_title(key)
            ax.set_xlabel("step")
            if key == "lr" and len(lrs) > 1:
                ax.legend()
            if self.best is not None and key != "lr":
                ax.axvline(self.best["step"], color="grey", lw=0.8, ls=":")
        for ax in list(axes.flat)[len(panels) :]:
            ax.axis("off")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if path is not None:
            path = Path(path)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
            fig.savefig(tmp, dpi=90)
            os.replace(tmp, path)
            plt.close(fig)
        return fig


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }
