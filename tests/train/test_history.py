"""The history: JSON lines round trip (non-finite numbers as null, truncation at a step) and
the curves figure."""

from __future__ import annotations

import math

import pytest

from bayesgen.train import History


def test_json_lines_round_trip_and_truncation(tmp_path):
    records = [
        {"step": 1, "loss": 2.0, "lr": 0.1, "seconds": 0.01},
        {"step": 2, "loss": math.inf, "lr": 0.1, "val_loss": 1.5, "seconds": 0.02},
        {"step": 3, "loss": 1.0, "lr": 0.05, "seconds": 0.03},
    ]
    h = History(records)
    path = h.to_jsonl(tmp_path / "h.jsonl")
    back = History.from_jsonl(path)
    assert back.records[1]["loss"] is None  # inf is not JSON: written as null
    assert back.records[0] == records[0] and back.records[2] == records[2]
    assert [r["step"] for r in History.from_jsonl(path, until=2).records] == [1, 2]
    assert h.last == records[2] and h.steps == 3 and len(h) == 3
    assert h.column("val_loss") == ([2], [1.5])
    (tmp_path / "bad.jsonl").write_text('{"step": 1}\n{"step": 2,\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        History.from_jsonl(tmp_path / "bad.jsonl")


def test_curves_have_one_panel_per_metric_and_the_rates_together(tmp_path):
    records = [
        {"step": s, "loss/d": 1 / s, "loss/g": 2 / s, "lr/d": 0.1, "lr/g": 0.2, "seconds": s}
        for s in range(1, 6)
    ]
    h = History(records)
    h.best = records[2]
    fig = h.plot(tmp_path / "curves.png", title="run")
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == ["loss/d", "loss/g", "lr"]
    lr_axis = fig.axes[2]
    assert [line.get_label() for line in lr_axis.get_lines()] == ["lr/d", "lr/g"]
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == [1 / s for s in range(1, 6)]
    assert (tmp_path / "curves.png").stat().st_size > 1000
