"""``bayesgen tour``: every section runs, writes its figures and says what it found."""

from __future__ import annotations

import re

import pytest

from bayesgen.cli import main
from bayesgen.cli.tour_sections import SECTIONS


def test_tour_without_data_runs_every_built_in_section(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BAYESGEN_DATA", raising=False)
    assert main(["tour", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.count("<h2>") == len(SECTIONS)
    for img in re.findall(r"src='([^']+)'", page):  # every figure the page names exists
        assert (tmp_path / img).stat().st_size > 1000
    assert "x1=1  0.7377" in out  # P(x1 | x2=0), the seed's number
    assert "BIC picks K=2" in out
    # the tables learnt back from 5,000 samples: within a few standard errors (≈ 0.007-0.02)
    errs = [float(x) for x in re.findall(r"largest \|θ̂ − θ\| over all tables: ([\d.]+)", out)]
    assert len(errs) == 3 and max(errs) < 0.05
    assert out.count("skipped: no --data folder was given") == 2


def test_tour_sections_on_real_text(data_dir, tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--data", str(data_dir), "--only", "ngram"]) == 0
    out = capsys.readouterr().out
    nll = [float(x) for x in re.findall(r"validation NLL ([\d.]+) nats/char", out)]
    assert len(nll) == 6 and nll[-1] < 1.55 and nll == sorted(nll, reverse=True)


def test_tour_rejects_unknown_sections(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["tour", "--out", str(tmp_path), "--only", "nothing"])
    assert "invalid choice: 'nothing'" in capsys.readouterr().err
