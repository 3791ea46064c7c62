"""Bad input tried as a new user would: every case exits non-zero with one line on stderr that
names the file (and the field), never a traceback; and the outputs that used to be wrong."""

import base64
import gzip
import json

import pytest
import torch

from bayesgen import BayesNet, Continuous, Discrete, NeuralNormal, Table
from bayesgen.cli import main
from bayesgen.io import save, write_bif

SMALL = """network n { }
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 2 ] { b0, b1 }; }
probability ( A ) { table 0.3, 0.7; }
probability ( B | A ) { (a0) 0.9, 0.1; (a1) 0.2, 0.8; }
"""


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"bayesgen {argv[0]}: error: ")
    return err


def _wide_bif(n_parents: int, body: str) -> str:
    parents = [f"P{i}" for i in range(n_parents)]
    text = "network n { }\n"
    text += "".join(f"variable {p} {{ type discrete [ 2 ] {{ s0, s1 }}; }}\n" for p in parents)
    text += "variable C { type discrete [ 2 ] { c0, c1 }; }\n"
    text += "".join(f"probability ( {p} ) {{ table 0.5, 0.5; }}\n" for p in parents)
    return text + f"probability ( C | {', '.join(parents)} ) {{ {body} }}\n"


# ---------------------------------------------------------------------------- BIF files
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("trunc.bif.gz", None, "trunc.bif.gz: not a complete gzip file"),
        ("empty.bif", "", "empty.bif:1: the file is empty"),
        ("sup.bif", SMALL.replace("[ 2 ] { a0", "[ \u00b2 ] { a0"), "sup.bif:2: expected the"),
        (
            "quoted.bif",
            SMALL.replace("( B | A )", '( B | "zz" )').replace("b0, b1", "zz, b1"),
            "quoted.bif:5: unknown variable 'zz'",
        ),
        ("state.bif", SMALL.replace("a0, a1", 'a0, ""'), "state.bif:2: expected a state name"),
        ("wide.bif", _wide_bif(40, f"({', '.join(['s0'] * 40)}) 0.5, 0.5;"), "wide.bif:83: "),
        ("default.bif", _wide_bif(30, "default 0.5, 0.5;"), "default.bif:63: the table of"),
    ],
)
def test_bad_bif_is_one_line(capsys, tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        raw = gzip.compress(SMALL.encode())
        path.write_bytes(raw[: len(raw) // 2])
    else:
        path.write_text(content, encoding="utf-8")
    for command in (["show"], ["sample"], ["query", "--mpe"]):
        assert message in one_line_error(capsys, command[0], path, *command[1:])


def test_bif_with_byte_order_mark_and_whole_table_default(capsys, tmp_path):
    path = tmp_path / "bom.bif"
    text = SMALL.replace("(a0) 0.9, 0.1; (a1) 0.2, 0.8;", "default 0.9, 0.2, 0.1, 0.8;")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, _ = run(capsys, "query", path, "P(B | A=a1)")
    assert code == 0 and "B=b0  0.2000" in out and "B=b1  0.8000" in out


# ---------------------------------------------------------------------------- JSON files
@pytest.fixture
def doc(tmp_path):
    torch.manual_seed(0)
    a, y = Discrete("a", 2), Continuous("y")
    net = BayesNet([Table(a, probs=[0.4, 0.6]), NeuralNormal(y, [a], hidden=(4,))])
    return json.loads(save(net, tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["factors"][1].update(hidden=[200000, 200000]), "field 'hidden' [200000,"),
        (lambda d: d["factors"][1].update(hidden=[-3]), "field 'hidden' must be a list"),
        (
            lambda d: d["factors"][1].update(weights=base64.b64encode(b"pickle?").decode()),
            "field 'weights' is not base64-encoded safetensors",
        ),
        (lambda d: d["variables"][0].update(states="ab"), "variable 'a': field 'states' must"),
        (lambda d: d["factors"][0].update(probs=[[0.4], [0.6, 0]]), "field 'probs' is ragged"),
        (lambda d: d["factors"][0].update(probs={"x": 1}), "field 'probs' must be numbers"),
    ],
)
def test_bad_json_is_one_line_naming_file_and_field(capsys, tmp_path, doc, change, message):
    change(doc)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))
    err = one_line_error(capsys, "show", path)
    assert f"{path}: " in err and message in err


def test_deeply_nested_json(capsys, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"variables": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert "deep.json: not a network file" in one_line_error(capsys, "query", path, "P(a)")


# ---------------------------------------------------------------------------- arguments
def test_huge_sample_count(capsys):
    err = one_line_error(capsys, "sample", "student", "-n", "100000000000")
    assert "sampling 100000000000 rows" in err and "memory budget" in err


@pytest.mark.parametrize("seed", ["18446744073709551616", "-9223372036854775809"])
def test_seed_beyond_64_bits(capsys, seed):
    assert "seed must be an int in [-2**63, 2**64 - 1]" in one_line_error(
        capsys, "sample", "student", "--seed", seed
    )


def test_directory_is_not_a_network(capsys, tmp_path):
    assert "is a directory" in one_line_error(capsys, "show", tmp_path)
    other = tmp_path / "net.txt"
    other.write_text("x")
    assert "unknown kind of network file" in one_line_error(capsys, "show", other)


def test_os_errors_name_the_file(capsys, tmp_path):
    err = one_line_error(capsys, "tag", tmp_path)
    assert f"{tmp_path}: Is a directory" in err and "Errno" not in err


def test_repeated_csv_column_is_named_as_written(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x1,x2,x1\n0,1,0\n1,0,1\n")
    err = one_line_error(capsys, "fit", "student", csv, "--out", tmp_path / "o.json")
    assert "repeated column(s) ['x1']" in err and "x1.1" not in err
    err = one_line_error(capsys, "query", "student", "P(x4 | x1, x2)", "--rows", csv)
    assert "repeated column(s) ['x1']" in err


def test_too_wide_network_is_the_memory_budget_error(capsys, tmp_path):
    g = torch.Generator().manual_seed(0)
    vs = [Discrete(f"v{i}", 2) for i in range(200)]
    factors = []
    for i, v in enumerate(vs):
        parents = [] if i < 4 else [vs[j] for j in sorted(torch.randperm(i, generator=g)[:4])]
        p = torch.rand(*([2] * len(parents)), 2, generator=g, dtype=torch.float64)
        factors.append(Table(v, parents, p / p.sum(-1, keepdim=True)))
    path = tmp_path / "wide.bif"
    write_bif(BayesNet(factors), path)
    err = one_line_error(capsys, "query", path, "--mpe")
    assert "needs an estimated" in err and "approximate inference" in err
    assert "52 indices" not in err


# ---------------------------------------------------------------------------- right answers
def test_query_digits_is_used(capsys):
    code, out, _ = run(capsys, "query", "student", "P(x1 | x2=0)", "--digits", "7")
    assert code == 0 and "0.7377049" in out and "0.2622951" in out
    code, out, _ = run(capsys, "query", "student", "P(x1 | x2=0)", "--digits", "1")
    assert code == 0 and "x1=1  0.7\n" in out
    code, out, _ = run(capsys, "query", "student", "--mpe", "x4=1", "--digits", "2")
    assert code == 0 and "(p = 0.53)" in out  # 0.9 * 0.75 * 0.8 * 0.99 = 0.5346
    assert "--digits must be" in one_line_error(
        capsys, "query", "student", "P(x1)", "--digits", "-1"
    )


def test_show_prints_huge_counts_in_scientific_form():
    from bayesgen.cli.show import describe

    vs = [Discrete(f"v{i}", 2) for i in range(9100)]
    step = [[0.9, 0.1], [0.2, 0.8]]
    net = BayesNet(
        [Table(vs[0], probs=[0.5, 0.5])]
        + [Table(v, [u], probs=step) for u, v in zip(vs[:-1], vs[1:], strict=True)]
    )
    text = describe(net)  # 2^9100 - 1 has 2,740 digits; str() refuses over 4,300
    assert text.endswith("free parameters (full joint table): 2.36026e+2739")
    assert "free parameters (factorized): 18199\n" in text


def test_show_plot_reports_the_file_it_writes(capsys, tmp_path):
    target = tmp_path / "x"
    code, _, err = run(capsys, "show", "student", "--plot", target)
    assert code == 0 and f"drew the graph to {target}.png" in err
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG" and not target.exists()


def test_help_has_no_markup(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    texts = [capsys.readouterr().out]
    for command in ("query", "sample", "show", "fit", "tag", "tour"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        texts.append(capsys.readouterr().out)
    for text in texts:
        assert "``" not in text and ":func:" not in text and ":class:" not in text
