"""BIF files a new user might hand over: each is a one-line error naming the file (and the line),
or read as pgmpy reads it, never a traceback from gzip, numpy or int()."""

import gzip

import numpy as np
import pytest

from bayesgen.errors import MemoryBudgetError
from bayesgen.io import parse_bif, read_bif

SMALL = """network n { }
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 2 ] { b0, b1 }; }
probability ( A ) { table 0.3, 0.7; }
probability ( B | A ) { (a0) 0.9, 0.1; (a1) 0.2, 0.8; }
"""


def _wide(n_parents: int, body: str) -> str:
    parents = [f"P{i}" for i in range(n_parents)]
    text = "network n { }\n"
    text += "".join(f"variable {p} {{ type discrete [ 2 ] {{ s0, s1 }}; }}\n" for p in parents)
    text += "variable C { type discrete [ 2 ] { c0, c1 }; }\n"
    text += "".join(f"probability ( {p} ) {{ table 0.5, 0.5; }}\n" for p in parents)
    return text + f"probability ( C | {', '.join(parents)} ) {{ {body} }}\n"


def test_truncated_gzip_is_a_clear_error(tmp_path):
    raw = gzip.compress(SMALL.encode())
    path = tmp_path / "net.bif.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"^net\.bif\.gz: not a complete gzip file"):
        read_bif(path)


def test_empty_file_is_not_a_network(tmp_path):
    path = tmp_path / "empty.bif"
    path.write_text("")
    with pytest.raises(ValueError, match=r"^empty\.bif:1: the file is empty"):
        read_bif(path)
    with pytest.raises(ValueError, match="declares no variable"):
        parse_bif("network n { }\n")


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.bif"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    net = read_bif(path)
    assert list(net.variables) == ["A", "B"]
    np.testing.assert_array_equal(net["B"].probs.numpy(), [[0.9, 0.1], [0.2, 0.8]])
    assert list(parse_bif("\ufeff" + SMALL).variables) == ["A", "B"]


def test_non_ascii_digit_as_state_count():
    with pytest.raises(ValueError, match=r"^<string>:2: expected the number of states of 'A'"):
        parse_bif(SMALL.replace("[ 2 ] { a0", "[ \u00b2 ] { a0"))


def test_unknown_quoted_parent_is_named():
    # 'zz' is also a state name earlier in the file: the parent must still be found by name
    text = SMALL.replace("( B | A )", '( B | "zz" )').replace("b0, b1", "zz, b1")
    with pytest.raises(ValueError, match=r"^<string>:5: unknown variable 'zz' in probability"):
        parse_bif(text)


@pytest.mark.parametrize("where", ["state", "variable"])
def test_empty_names_are_rejected(where):
    if where == "state":
        text = SMALL.replace("a0, a1", 'a0, ""')
        message = r"^<string>:2: expected a state name of 'A', got the empty name \"\""
    else:
        text = SMALL.replace("variable B {", 'variable " " {')
        message = r"^<string>:3: expected a variable name, got the empty name"
    with pytest.raises(ValueError, match=message):
        parse_bif(text)


def test_forty_parents_in_a_row_refused_before_allocating():
    text = _wide(40, f"({', '.join(['s0'] * 40)}) 0.5, 0.5;")
    with pytest.raises(
        MemoryBudgetError, match=r"^<string>:83: the table of p\(C \| P0, .*16\.0 TiB"
    ):
        parse_bif(text)


def test_default_over_thirty_parents_refused_before_allocating():
    with pytest.raises(MemoryBudgetError, match=r"^<string>:63: .*16\.0 GiB.*fewer parents"):
        parse_bif(_wide(30, "default 0.5, 0.5;"))


def test_default_with_a_whole_table_is_read_as_pgmpy_reads_it(tmp_path):
    from pgmpy.readwrite import BIFReader

    text = SMALL.replace("(a0) 0.9, 0.1; (a1) 0.2, 0.8;", "default 0.9, 0.2, 0.1, 0.8;")
    path = tmp_path / "d.bif"
    path.write_text(text)
    ours = read_bif(path)["B"].probs.numpy()  # [A, B]
    theirs = BIFReader(str(path)).get_model().get_cpds("B").values  # [B, A]
    np.testing.assert_array_equal(ours, theirs.T)
    np.testing.assert_array_equal(ours, [[0.9, 0.1], [0.2, 0.8]])
    # a 'default' of one row still fills every row not listed
    one = SMALL.replace("(a1) 0.2, 0.8;", "default 0.2, 0.8;")
    np.testing.assert_array_equal(parse_bif(one)["B"].probs.numpy(), [[0.9, 0.1], [0.2, 0.8]])
