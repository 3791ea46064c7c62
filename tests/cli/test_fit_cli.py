"""``bayesgen fit NETWORK data.csv --out fitted.json``: learned tables equal the library's fit,
the result answers ``bayesgen query``, and bad CSVs fail with one line and exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bayesgen.cli import main
from bayesgen.examples import student
from bayesgen.io.json import load
from bayesgen.learning.fit import fit_network
from bayesgen.learning.priors import BDeu


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def csv(tmp_path):
    frame = student().sample(400, seed=0, as_frame=True).astype(str)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_fit_then_query(capsys, tmp_path, csv):
    path, frame = csv
    out = tmp_path / "fitted.json"
    code, _, err = run(capsys, "fit", "student", path, "--out", out)
    assert code == 0, err
    assert "fitting 4 factors" in err and f"wrote {out}" in err
    fitted = load(out)
    reference = fit_network(student(), frame)
    for n in reference.order:
        torch.testing.assert_close(fitted[n].probs, reference[n].probs)
    code, answer, _ = run(capsys, "query", out, "P(x2)", "--json")
    doc = json.loads(answer)
    assert code == 0
    assert doc["probs"][1] == pytest.approx(float(reference.query("x2").probs[1]), abs=1e-12)


def test_fit_with_missing_cells_and_a_bdeu_prior(capsys, tmp_path, csv):
    path, frame = csv
    holes = frame.mask(np.random.default_rng(1).random(frame.shape) < 0.15)
    holes.to_csv(path, index=False)
    out = tmp_path / "fitted.json"
    code, _, err = run(
        capsys, "fit", "student", path, "--prior", "bdeu", "--ess", "10", "--out", out
    )
    assert code == 0, err
    assert "missing cell(s)" in err and "by EM" in err
    fitted = load(out)
    reference = fit_network(student(), holes, prior=BDeu(10))
    for n in reference.order:
        torch.testing.assert_close(fitted[n].probs, reference[n].probs)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x1,x2,bogus\n0,1,a\n1,0,b\n", r"unknown column\(s\) \['bogus'\]"),
        ("x1,x2\n0,1\n1,maybe\n", r"unknown state 'maybe' of 'x2'; valid states are \['0', '1'\]"),
        ("x1,x2\n1,0\n1,1\n1,0\n", r"column 'x1' never varies \(every observed value is '1'\)"),
        ("x1,x2\n", "has no data rows"),
        ("", "cannot read"),
    ],
)
def test_bad_csv_is_one_line_and_exit_2(capsys, tmp_path, text, message):
    import re

    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, out, err = run(capsys, "fit", "student", path, "--out", tmp_path / "o.json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("bayesgen fit: error:")
    assert re.search(message, err), err
    assert not (tmp_path / "o.json").exists()


def test_bad_options(capsys, tmp_path, csv):
    path, _ = csv
    code, _, err = run(capsys, "fit", "student", path, "--prior", "flat", "--out", tmp_path / "o")
    assert code == 2 and "--prior must be one of none, bdeu, k2, dirichlet, got 'flat'" in err
    code, _, err = run(capsys, "fit", "nowhere", path, "--out", tmp_path / "o")
    assert code == 2 and "unknown network 'nowhere'" in err
    code, _, err = run(capsys, "fit", "student", tmp_path / "none.csv", "--out", tmp_path / "o")
    assert code == 2 and "no such file" in err
