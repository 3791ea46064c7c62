"""BIF reading and writing, checked against pgmpy's and pyAgrum's readers on bnlearn's networks."""

from __future__ import annotations

import builtins
import gzip
import re
import warnings

import numpy as np
import pytest
import torch

from bayesgen.factors import Gaussian, Table
from bayesgen.io import bnlearn, parse_bif, read_bif, to_bif, write_bif
from bayesgen.network import BayesNet
from bayesgen.variables import Continuous, Discrete

NETWORKS = bnlearn.available()
# pgmpy's pure-Python reader takes 5-20 s on each big file; these it reads in under a second
PGMPY_NETWORKS = [
    "asia",
    "cancer",
    "earthquake",
    "sachs",
    "survey",
    "alarm",
    "child",
    "insurance",
    "hailfinder",
    "water",
    "win95pts",
    "hepar2",
]


def bif_text(name: str) -> str:
    return gzip.decompress(bnlearn.path(name).read_bytes()).decode()


@pytest.fixture(scope="module")
def nets() -> dict[str, BayesNet]:
    """Every shipped network, read once for the module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rounding in the published tables
        return {name: read_bif(bnlearn.path(name)) for name in NETWORKS}


@pytest.fixture(scope="module")
def pgmpy_reader():
    """pgmpy's BIFReader with its pyparsing grammar built once (it costs ~2 s per reader)."""
    from pgmpy.readwrite import BIFReader

    variable, probability = (
        BIFReader.get_variable_grammar(None),
        BIFReader.get_probability_grammar(None),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BIFReader, "get_variable_grammar", lambda self: variable)
        mp.setattr(BIFReader, "get_probability_grammar", lambda self: probability)
        yield BIFReader


def assert_rows_match(ours: np.ndarray, theirs: np.ndarray, atol: float, what: str) -> None:
    """Rows equal to the peer's, or to the peer's renormalized row where it missed 1 by ≤1e-3."""
    ours = ours.reshape(-1, ours.shape[-1])
    theirs = theirs.reshape(-1, theirs.shape[-1])
    total = theirs.sum(-1, keepdims=True)
    raw = np.isclose(ours, theirs, rtol=0, atol=atol).all(-1)
    renormalized = np.isclose(ours, theirs / total, rtol=0, atol=atol).all(-1)
    ok = raw | (renormalized & (np.abs(total[:, 0] - 1) <= 1e-3))
    assert ok.all(), f"{what}: {int((~ok).sum())} rows differ, first {int(np.argmin(ok))}"


def test_available_lists_every_shipped_network():
    shipped = sorted(
        p.name[: -len(".bif.gz")] for p in bnlearn.path("asia").parent.glob("*.bif.gz")
    )
    assert list(NETWORKS) == shipped
    assert {"alarm", "asia", "child", "munin", "diabetes"} <= set(NETWORKS)


@pytest.mark.parametrize("name", PGMPY_NETWORKS)
def test_matches_pgmpy_reader(name, nets, pgmpy_reader):
    model = pgmpy_reader(string=bif_text(name)).get_model()
    net = nets[name]
    assert set(net.factors) == set(model.nodes())
    assert set(net.dag.edges) == set(model.edges())
    for cpd in model.get_cpds():
        f = net.factors[cpd.variable]
        assert f.parent_names == tuple(cpd.variables[1:])  # the block's parent order
        for v in cpd.variables:
            assert net.variables[v].states == tuple(cpd.state_names[v])
        theirs = np.moveaxis(cpd.values, 0, -1)  # (card, *evidence) -> (*evidence, card)
        assert_rows_match(f.probs.numpy(), theirs, 1e-12, f"{name}/{cpd.variable}")


@pytest.mark.parametrize("name", [n for n in NETWORKS if n != "child"])
def test_matches_pyagrum_reader(name, nets, tmp_path):
    """pyAgrum parses numbers as float32, so agreement is to float32 rounding (~6e-8)."""
    import pyagrum as gum

    path = tmp_path / f"{name}.bif"
    path.write_text(bif_text(name))
    bn = gum.loadBN(str(path))
    net = nets[name]
    assert set(net.factors) == set(bn.names())
    for v, f in net.factors.items():
        cpt = bn.cpt(v)
        names = [cpt.variable(i).name() for i in range(cpt.nbrDim())]  # child first
        assert names[0] == v and set(names[1:]) == set(f.parent_names)
        var = bn.variable(v)
        assert net.variables[v].states == tuple(var.label(i) for i in range(var.domainSize()))
        theirs = cpt.toarray()  # axes in reverse of `names`: (..., parent2, parent1, child)
        order = [names[::-1].index(p) for p in f.parent_names] + [len(names) - 1]
        assert_rows_match(f.probs.numpy(), theirs.transpose(order), 2e-7, f"{name}/{v}")


def test_pyagrum_rejects_the_state_names_of_child(nets, tmp_path):
    import pyagrum as gum

    path = tmp_path / "child.bif"
    path.write_text(bif_text("child"))
    with pytest.raises(Exception, match="Syntax error"):
        gum.loadBN(str(path))
    states = {s for v in nets["child"].variables.values() for s in v.states}
    assert {"Asy/Patch", "Asy/Patchy", "<5", "5-12", "12+", "<7.5", ">=7.5", "Transp."} <= states
    xray = nets["child"]["XrayReport"]  # p(XrayReport | ChestXray); the row (Asy/Patch) is last
    assert xray.parents[0].states[-1] == "Asy/Patch"
    assert xray.probs[-1].tolist() == [0.08, 0.02, 0.10, 0.10, 0.70]


@pytest.mark.parametrize("name", NETWORKS)
def test_write_read_round_trip_is_bit_identical(name, nets):
    net = nets[name]
    again = parse_bif(to_bif(net))
    assert again.name == net.name == name
    assert list(again.factors) == list(net.factors)
    for v, f in net.factors.items():
        g = again.factors[v]
        assert g.variable == f.variable and g.parent_names == f.parent_names
        assert g.probs.dtype == torch.float64
        assert torch.equal(g.probs, f.probs), v


def test_write_bif_gzip_and_plain_files(nets, tmp_path):
    net = nets["alarm"]
    for path in (tmp_path / "alarm.bif", tmp_path / "alarm.bif.gz"):
        write_bif(net, path)
        again = read_bif(path)
        assert all(torch.equal(again[v].probs, net[v].probs) for v in net.factors)
    assert (tmp_path / "alarm.bif.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "alarm.bif").read_text().startswith("network alarm {")


def test_gzip_is_recognised_by_magic_bytes(tmp_path):
    path = tmp_path / "no_suffix.bif"
    path.write_bytes(bnlearn.path("asia").read_bytes())
    net = read_bif(path)
    assert net.name == "no_suffix"  # bnlearn calls every network 'unknown'
    assert len(net) == 8
    assert read_bif(path, name="asia").name == "asia"
    with path.open("rb") as f:
        assert len(read_bif(f)) == 8


def test_read_bif_takes_a_path_or_the_text():
    assert torch.equal(read_bif(HEAD + A + B)["b"].probs, parse_bif(HEAD + A + B)["b"].probs)
    with pytest.raises(ValueError, match=r"^<string>:14: expected ';'"):
        read_bif(HEAD + A + B.replace("0.5;", "0.5"))
    with pytest.raises(FileNotFoundError, match="no BIF file"):
        read_bif("does/not/exist.bif")


ASIA_PARTS = """
network "dog problem" {
  property "a note; with a semicolon";
}
// a line comment
variable "light on" {
  type discrete [ 2 ] { "true" "false" };   /* quoted, space-separated states */
  property "position = (218, 195)" ;
}
variable family-out {
  type discrete[2] { true, false };
}
probability ( "light on" "family-out" ) { // JavaBayes: child then parents, no '|'
  table 0.6 0.05 0.4 0.95 ;
}
probability ( family-out ) {
  table 0.15, 0.85;
}
"""


def test_javabayes_dialect_matches_pgmpy(pgmpy_reader):
    """Quoted names, comments, properties, space-separated lists and a child-major ``table``."""
    net = parse_bif(ASIA_PARTS)
    assert net.name == "dog problem"
    assert net.parents("light on") == ("family-out",)
    assert net.variables["light on"].states == ("true", "false")
    expected = torch.tensor([[0.6, 0.4], [0.05, 0.95]], dtype=torch.float64)
    assert torch.equal(net["light on"].probs, expected)
    # pgmpy turns quotes into spaces, so rename the spaced variable for it
    model = pgmpy_reader(string=ASIA_PARTS.replace('"light on"', "light_on")).get_model()
    cpd = model.get_cpds("light_on")
    np.testing.assert_array_equal(np.moveaxis(cpd.values, 0, -1), expected.numpy())


DEFAULTS = """
network d {
}
probability ( c | a, b ) {
  default 0.5, 0.5;
  (x, u) 0.1, 0.9;
  (y, v) 0.7, 0.3;
}
variable a { type discrete [ 2 ] { x, y }; }
variable b { type discrete [ 2 ] { u, v }; }
variable c { type discrete [ 2 ] { yes, no }; }
probability ( a ) { table 0.2, 0.8; }
probability ( b ) { table 0.3, 0.7; }
"""


def test_default_rows_and_variables_declared_after_use():
    net = parse_bif(DEFAULTS)
    probs = net["c"].probs  # (a, b, c)
    expected = [[[0.1, 0.9], [0.5, 0.5]], [[0.5, 0.5], [0.7, 0.3]]]
    assert torch.equal(probs, torch.tensor(expected, dtype=torch.float64))
    assert net.order[-1] == "c"


def test_rows_that_miss_one_slightly_warn_once_naming_the_table():
    text = """network n {
}
variable a { type discrete [ 3 ] { x, y, z }; }
variable b { type discrete [ 2 ] { u, v }; }
probability ( a ) { table 0.3333, 0.3333, 0.3333; }
probability ( b | a ) { (x) 0.3333, 0.6666; (y) 0.5, 0.5; (z) 0.25, 0.75; }
"""
    with pytest.warns(UserWarning, match=r"renormalized in 2 table\(s\): a, b") as record:
        net = parse_bif(text)
    assert len([w for w in record if "renormaliz" in str(w.message)]) == 1
    assert (net["a"].probs - 1 / 3).abs().max() < 1e-15
    assert (net["b"].probs.sum(-1) - 1).abs().max() < 1e-15
    assert net["b"].probs[1:].tolist() == [[0.5, 0.5], [0.25, 0.75]]  # exact rows untouched


HEAD = """network test {
}
variable a {
  type discrete [ 2 ] { yes, no };
}
variable b {
  type discrete [ 3 ] { <5, 5-12, 12+ };
}
"""
A = "probability ( a ) {\n  table 0.5, 0.5;\n}\n"  # lines 9-11
B = "probability ( b | a ) {\n  (yes) 0.2, 0.3, 0.5;\n  (no) 0.1, 0.1, 0.8;\n}\n"  # lines 12-15

MALFORMED = {
    "missing semicolon": (
        HEAD + A + B.replace("0.5;", "0.5"),
        r"<string>:14: expected ';' after probability row, got '\('",
    ),
    "missing last semicolon": (
        HEAD + A + B.replace("0.8;", "0.8"),
        r"<string>:15: expected ';' after probability row, got '\}'",
    ),
    "unknown state": (
        HEAD + A + B.replace("(no)", "(maybe)"),
        r"<string>:14: unknown state 'maybe' of 'a' in a row of p\(b \| a\); "
        r"states are \['yes', 'no'\]",
    ),
    "unknown parent": (
        HEAD + A + B.replace("b | a", "b | c"),
        r"<string>:12: unknown variable 'c' in probability \( b \| c \)",
    ),
    "duplicate variable": (
        HEAD + "variable a {\n  type discrete [ 2 ] { yes, no };\n}\n" + A + B,
        r"<string>:9: variable 'a' declared twice \(first at line 3\)",
    ),
    "too few values": (
        HEAD + A + B.replace("0.2, 0.3, 0.5", "0.2, 0.8"),
        r"<string>:13: row \(yes\) of p\(b \| a\) has 2 values, expected 3",
    ),
    "too many values in a table": (
        HEAD + A.replace("0.5, 0.5", "0.5, 0.25, 0.25") + B,
        r"<string>:10: 'table' of p\(a\) has 3 values, expected 2",
    ),
    "unterminated comment": (
        HEAD + "/* never closed\n" + A + B,
        r"<string>:9: unterminated comment",
    ),
    "missing row": (
        HEAD + A + B.replace("  (no) 0.1, 0.1, 0.8;\n", ""),
        r"<string>:12: p\(b \| a\) has no row for 1 of 2 parent configurations, e.g. \(no\)",
    ),
    "duplicate row": (
        HEAD + A + B.replace("(no)", "(yes)"),
        r"<string>:14: a second row for the same parent states",
    ),
    "no probability block": (HEAD + A, r"<string>:6: variable 'b' has no probability block"),
    "second probability block": (
        HEAD + A + B + A,
        r"<string>:16: a second probability block for 'a' \(first at line 9\)",
    ),
    "state count": (
        HEAD.replace("[ 3 ]", "[ 4 ]") + A + B,
        r"<string>:7: variable 'b' declares 4 states but lists 3",
    ),
    "duplicate state": (
        HEAD.replace("5-12", "<5") + A + B,
        r"<string>:7: variable 'b' lists the states \['<5'\] twice",
    ),
    "continuous type": (
        HEAD.replace("type discrete [ 2 ]", "type continuous [ 2 ]") + A + B,
        r"<string>:4: variable 'a' has type 'continuous'",
    ),
    "a word for a number": (
        HEAD + A.replace("0.5,", "half,") + B,
        r"<string>:10: expected a number, got 'half'",
    ),
    "nan": (HEAD + A.replace("0.5,", "nan,") + B, r"<string>:10: expected a number, got 'nan'"),
    "overflow": (HEAD + A.replace("0.5,", "1e999,") + B, r"<string>:10: number 1e999 is out"),
    "double comma": (
        HEAD + A.replace("0.5,", "0.5,,") + B,
        r"<string>:10: expected a number in 'table' values, got ','",
    ),
    "row sums to 0.9": (
        HEAD + A + B.replace("0.1, 0.1", "0.1, 0.0"),
        r"<string>:12: table of 'b': row \(a=no\) sums to 0.9, not 1",
    ),
    "negative": (
        HEAD + A.replace("0.5, 0.5", "1.5, -0.5") + B,
        r"<string>:9: table of 'a' has a negative entry",
    ),
    "unknown keyword": (HEAD + "potential ( a ) { }\n", r"<string>:9: expected 'network', "),
    "unterminated string": (
        'variable "a {\n type discrete [ 2 ] { yes, no };\n}\n',
        r"<string>:1: expected a variable name, got an unterminated string",
    ),
    "unclosed block": (
        HEAD + "probability ( a ) {\n  table 0.5, 0.5;\n",
        r"<string>:9: .* no closing",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_names_the_line(case):
    text, message = MALFORMED[case]
    with pytest.raises(ValueError, match=message):
        parse_bif(text)


def test_the_well_formed_base_parses():
    net = parse_bif(HEAD + A + B)
    assert net.variables["b"].states == ("<5", "5-12", "12+")
    assert torch.equal(
        net["b"].probs, torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=torch.float64)
    )


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.bif"
    path.write_text(HEAD + A + B.replace("0.5;", "0.5"))
    with pytest.raises(ValueError, match=r"^broken\.bif:14: expected ';'"):
        read_bif(path)


def test_code_in_a_number_is_never_executed(tmp_path, monkeypatch):
    flag = tmp_path / "pwned"

    def forbidden(*args, **kwargs):
        raise AssertionError("the BIF reader evaluated code")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    attacks = [
        f"__import__('os').system('touch {flag}')",
        f'__import__("os").system("touch {flag}")',
        "__import__",
        "1e0+__import__",
    ]
    for attack in attacks:
        text = HEAD + A.replace("0.5, 0.5", f"{attack}, 0.5") + B
        with pytest.raises(ValueError, match=r"<string>:10: expected"):
            parse_bif(text)
    assert not flag.exists()


def test_names_that_need_quotes_round_trip():
    x = Discrete("first variable", ["state one", "a,b", "(c)", "//d"])
    y = Discrete("y", ["<5", "12+", "Asy/Patch"])
    probs = torch.tensor([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
    net = BayesNet(
        [Table(x, probs=[0.1, 0.2, 0.3, 0.4]), Table(y, [x], probs.double())], name="quoted net"
    )
    text = to_bif(net)
    assert "{ <5, 12+, Asy/Patch }" in text
    again = parse_bif(text)
    assert again.name == "quoted net"
    assert again.variables == net.variables
    assert all(torch.equal(again[v].probs, net[v].probs) for v in net.factors)


def test_writer_rejects_what_bif_cannot_hold():
    x = Discrete("x", ['say "hi"', "b"])
    with pytest.raises(ValueError, match=r"BIF cannot write the state of 'x'"):
        to_bif(BayesNet([Table(x, probs=[0.5, 0.5])]))
    g = BayesNet([Gaussian(Continuous("g"))])
    with pytest.raises(TypeError, match="BIF holds only tables; the factor of 'g' is a Gaussian"):
        to_bif(g)


def test_bnlearn_load_and_unknown_names():
    net = bnlearn.load("asia")
    assert net.name == "asia"
    assert net.parents("either") == ("lung", "tub")
    with pytest.raises(ValueError, match=r"unknown bnlearn network 'alarms'; available: .*alarm"):
        bnlearn.load("alarms")


def test_values_in_scientific_notation_and_repr_precision():
    text = HEAD.split("variable b")[0] + ("probability ( a ) {\n  table 1.000000e-01, 9.0E-1;\n}\n")
    net = parse_bif(text)
    assert net["a"].probs.tolist() == [0.1, 0.9]
    tiny = [1e-300, 1 - 1e-300]
    net = BayesNet([Table(Discrete("a", ["yes", "no"]), probs=[0.1 + 0.2, 0.7])])
    assert re.search(r"table 0\.30000000000000004, ", to_bif(net))
    net = BayesNet([Table(Discrete("a", ["yes", "no"]), probs=tiny)])
    assert parse_bif(to_bif(net))["a"].probs.tolist() == tiny
