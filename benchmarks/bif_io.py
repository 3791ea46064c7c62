"""Reading and writing bnlearn's BIF networks: bayesgen against pgmpy and pyAgrum.

Every network shipped in pgmpy's wheel is parsed from the same text by all three; the answers
must agree (pgmpy to 1e-12, pyAgrum to float32 rounding, since it parses numbers as float) before
times are reported. pgmpy's time is what a user pays per call (BIFReader builds its pyparsing
grammar on every call, about 2 s on an idle machine).

    python benchmarks/bif_io.py            # all networks
    python benchmarks/bif_io.py --quick    # four small ones
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyagrum as gum
import torch
from _common import geomean, print_table, timeit, write_json
from pgmpy.readwrite import BIFReader, BIFWriter

from bayesgen.io import bnlearn, parse_bif, to_bif, to_pgmpy

QUICK = ["asia", "alarm", "child", "hailfinder"]


def rows_agree(ours: np.ndarray, theirs: np.ndarray, atol: float) -> bool:
    """Equal rows, or equal to the peer's renormalized row where that missed 1 by ≤1e-3."""
    ours, theirs = ours.reshape(-1, ours.shape[-1]), theirs.reshape(-1, theirs.shape[-1])
    total = theirs.sum(-1, keepdims=True)
    raw = np.isclose(ours, theirs, rtol=0, atol=atol).all(-1)
    norm = np.isclose(ours, theirs / total, rtol=0, atol=atol).all(-1)
    return bool((raw | (norm & (np.abs(total[:, 0] - 1) <= 1e-3))).all())


def check_pgmpy(net, model) -> None:
    for cpd in model.get_cpds():
        f = net[cpd.variable]
        if f.parent_names != tuple(cpd.variables[1:]):
            raise AssertionError(f"{cpd.variable}: parents differ")
        if not rows_agree(f.probs.numpy(), np.moveaxis(cpd.values, 0, -1), 1e-12):
            raise AssertionError(f"{cpd.variable}: probabilities differ from pgmpy's")


def check_pyagrum(net, bn) -> None:
    for v, f in net.factors.items():
        cpt = bn.cpt(v)
        names = [cpt.variable(i).name() for i in range(cpt.nbrDim())][::-1]  # toarray's axes
        order = [names.index(p) for p in f.parent_names] + [len(names) - 1]
        if not rows_agree(f.probs.numpy(), cpt.toarray().transpose(order), 2e-7):
            raise AssertionError(f"{v}: probabilities differ from pyAgrum's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four small networks only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    names = QUICK if args.quick else list(bnlearn.available())
    rows = []
    tmp = Path(tempfile.mkdtemp())
    for name in names:
        text = gzip.decompress(bnlearn.path(name).read_bytes()).decode()
        file = tmp / f"{name}.bif"
        file.write_text(text)
        net = parse_bif(text, name=name)
        start = time.perf_counter()  # pgmpy takes up to a minute: one timed run, also checked
        model = BIFReader(string=text).get_model()
        pgmpy_read = time.perf_counter() - start
        check_pgmpy(net, model)
        row = {"network": name, "variables": len(net), "MB": len(text) / 1e6}
        row["bayesgen read s"] = timeit(lambda t=text: parse_bif(t), repeats=3)
        row["pgmpy read s"] = pgmpy_read
        if name != "child":  # pyAgrum rejects child's state names (Asy/Patch, <5, 12+)
            check_pyagrum(net, gum.loadBN(str(file)))
            row["pyAgrum read s"] = timeit(lambda f=file: gum.loadBN(str(f)), repeats=3)
        else:
            row["pyAgrum read s"] = "syntax error"
        row["bayesgen write s"] = timeit(lambda n=net: to_bif(n), repeats=3)
        converted = to_pgmpy(net)
        row["pgmpy write s"] = timeit(lambda m=converted: str(BIFWriter(m)), repeats=1)
        again = parse_bif(to_bif(net))
        if not all(torch.equal(again[v].probs, net[v].probs) for v in net.factors):
            raise AssertionError(f"{name}: write/read round trip is not bit-identical")
        row["pgmpy / bayesgen read"] = row["pgmpy read s"] / row["bayesgen read s"]
        if isinstance(row["pyAgrum read s"], float):
            row["pyAgrum / bayesgen read"] = row["pyAgrum read s"] / row["bayesgen read s"]
        rows.append(row)
        print(f"{name}: done", flush=True)
    columns = [
        "network",
        "variables",
        "MB",
        "bayesgen read s",
        "pgmpy read s",
        "pyAgrum read s",
        "pgmpy / bayesgen read",
        "pyAgrum / bayesgen read",
        "bayesgen write s",
        "pgmpy write s",
    ]
    print_table(rows, columns, title="BIF read/write (answers checked against pgmpy and pyAgrum)")
    summary = {
        "geomean pgmpy/bayesgen read": geomean([r["pgmpy / bayesgen read"] for r in rows]),
        "geomean pyAgrum/bayesgen read": geomean(
            [r["pyAgrum / bayesgen read"] for r in rows if "pyAgrum / bayesgen read" in r]
        ),
    }
    print(summary)
    print(write_json("bif_io" + ("_quick" if args.quick else ""), {"rows": rows, **summary}))


if __name__ == "__main__":
    main()
