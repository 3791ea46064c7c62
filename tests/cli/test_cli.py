"""The ``bayesgen`` command: answers, JSON output, sampling, showing, and one-line errors."""

import json

import pandas as pd
import pytest

from bayesgen.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_prints_four_decimals(capsys):
    code, out, _ = run(capsys, "query", "student", "P(x1 | x2=0)")
    assert code == 0 and "0.7377" in out and "0.2623" in out


def test_query_json_and_joint(capsys):
    code, out, _ = run(capsys, "query", "student", "P(x2, x3)", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["variables"] == ["x2", "x3"]
    assert doc["probs"][1][1] == pytest.approx(0.546)


def test_query_several_evidence_items(capsys):
    code, out, _ = run(capsys, "query", "student", "P(x4 | x1=1, x2=0)", "--json")
    # x4 ⊥ x1 | x2, x3 does not hold without x3: p(x4=1 | x1=1, x2=0) = 0.2·0.05 + 0.8·0.60
    assert code == 0 and json.loads(out)["probs"][1] == pytest.approx(0.2 * 0.05 + 0.8 * 0.60)


def test_sample_to_csv(capsys, tmp_path):
    out_file = tmp_path / "s.csv"
    code, _, err = run(
        capsys, "sample", "student", "-n", "500", "--seed", "1", "--out", str(out_file)
    )
    frame = pd.read_csv(out_file)
    assert code == 0 and frame.shape == (500, 4) and set(frame["x1"]) <= {0, 1}
    code, out2, _ = run(capsys, "sample", "student", "-n", "500", "--seed", "1")
    assert out2.strip().splitlines() == out_file.read_text().strip().splitlines()


def test_show_and_plot(capsys, tmp_path):
    png = tmp_path / "dag.png"
    code, out, _ = run(capsys, "show", "student", "--plot", str(png))
    assert code == 0 and "x1 -> x2 -> x3 -> x4" in out and "full joint table): 15" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["query", "nosuchnet", "P(a)"], "unknown network 'nosuchnet'"),
        (["query", "student", "P(x1 | x2"], "malformed query"),
        (["query", "student", "P(x9)"], "unknown target 'x9'"),
        (["query", "student", "P(x1 | x2=5)"], "unknown state '5' of 'x2'"),
        (["sample", "student", "-n", "0"], "-n must be a positive"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code != 0 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_zero_probability_evidence(capsys, tmp_path):
    from bayesgen import BayesNet, Discrete, Table
    from bayesgen.io.json import save

    a, b = Discrete("a", 2), Discrete("b", 2)
    path = save(
        BayesNet([Table(a, probs=[1.0, 0.0]), Table(b, [a], probs=[[1, 0], [0, 1]])]),
        tmp_path / "net.json",
    )
    code, _, err = run(capsys, "query", str(path), "P(a | b=1)")
    assert code != 0 and "probability zero" in err
