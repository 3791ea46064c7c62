"""Exact inference: bayesgen vs pyAgrum LazyPropagation vs pgmpy VariableElimination.

Same process, same tables (read once with ``bayesgen.io.read_bif`` and handed to each library),
one thread each (``--threads``), warm (plans and junction trees built before timing), median of
``--repeats`` runs (a peer whose single run is slower than ``--budget``/repeats is timed fewer
times); every answer is checked against the others to 1e-6 before it is timed.

a) posterior of every non-evidence variable with 3 observed leaves (pgmpy: one query each);
b) batched: posterior of a root given all leaves for ``--rows`` rows sampled from the network
   (``--heavy-rows`` on water, mildew, barley; 5,000 on andes and pigs, 500 on link, 50 on
   munin1), against pyAgrum re-using one junction tree with the evidence changed per row (timed
   on the first rows for ``--peer-seconds``);
c) most probable explanation with the same 3 observed leaves against pyAgrum's ``mpe()`` and
   pgmpy's ``map_query``: same assignment (or the same log-probability on ties), time ratio;
d) peak resident memory of a) (growth of the kernel's high-water mark, so torch and C++
   allocations count), with our plan's own estimate.

    python benchmarks/inference.py              # every pgmpy example network but munin, munin2-4
    python benchmarks/inference.py --quick      # asia, alarm, win95pts
    python benchmarks/inference.py --networks alarm barley --munin
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import geomean, peak_memory, print_table, timeit, write_json  # noqa: E402

from bayesgen.inference import ExactInference  # noqa: E402
from bayesgen.io import read_bif  # noqa: E402

NETWORKS = [
    "asia", "cancer", "earthquake", "sachs", "survey", "alarm", "child", "insurance", "water",
    "mildew", "barley", "hailfinder", "hepar2", "win95pts", "pathfinder", "andes", "diabetes",
    "pigs", "link", "munin1",
]  # fmt: skip
MUNIN = ["munin", "munin2", "munin3", "munin4"]
QUICK = ["asia", "alarm", "win95pts"]
# b) runs on the networks where a junction tree answers a row in well under a second; on the
# three with large cliques every row costs millions of multiply-adds, so they get fewer rows
BATCHED = [
    "asia", "cancer", "earthquake", "sachs", "survey", "alarm", "child", "insurance",
    "hailfinder", "hepar2", "win95pts",
]  # fmt: skip
HEAVY = ["water", "mildew", "barley"]
# the large networks with every leaf observed: per row, andes and pigs cost about 0.4 and 1.4
# million multiply-adds, link and munin1 far more, so they get the fewest rows
LARGE = {"andes": 5000, "pigs": 5000, "link": 500, "munin1": 50}
TOL = 1e-6


def bnlearn_path(name: str) -> Path:
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models" / f"{name}.bif.gz"


# ---------------------------------------------------------------------------- peers
def to_pyagrum(net):
    """The same network as a pyAgrum BayesNet, tables copied exactly."""
    import pyagrum as gum

    bn = gum.BayesNet(net.name or "net")
    for name, var in net.variables.items():
        bn.add(gum.LabelizedVariable(name, name, list(var.states)))
    for name, f in net.factors.items():
        for p in f.parents:
            bn.addArc(p.name, name)
    for name, f in net.factors.items():
        cpt = bn.cpt(name)
        order = [name] + [p.name for p in f.parents]  # our axes: (*parents, child)
        axes = [order[1:].index(v) if v != name else len(order) - 1 for v in reversed(cpt.names)]
        cpt.fillWith(f.probs.numpy().transpose(axes).reshape(-1).tolist())
    return bn


def to_pgmpy(net):
    """The same network as a pgmpy DiscreteBayesianNetwork (tables copied exactly)."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork(
        [(p.name, n) for n, f in net.factors.items() for p in f.parents]
    )
    model.add_nodes_from(list(net.factors))
    cpds = []
    for n, f in net.factors.items():
        table = f.probs.numpy()
        card = table.shape[-1]
        parents = [p.name for p in f.parents]
        cpds.append(
            TabularCPD(
                n,
                card,
                table.reshape(-1, card).T,
                evidence=parents or None,
                evidence_card=[net.variables[p].card for p in parents] or None,
                state_names={v: list(net.variables[v].states) for v in [n, *parents]},
            )
        )
    model.add_cpds(*cpds)
    return model


# ---------------------------------------------------------------------------- measuring
def rss_peak(fn) -> int:
    """Peak resident memory (bytes) above the current level while ``fn()`` runs: the kernel's
    high-water mark is reset first (Linux ``/proc/self/clear_refs``), so C++ and torch
    allocations count, unlike tracemalloc. Falls back to tracemalloc elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return peak_memory(fn)

    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        return 0

    base = status("VmRSS")
    fn()
    return max(0, status("VmHWM") - base)


def timed(fn, repeats: int, budget: float) -> tuple[float, int]:
    """Median seconds of ``fn()`` after one warm-up run; fewer repeats (at least one) when a run
    is so slow that ``repeats`` of them would exceed ``budget`` seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    n = max(1, min(repeats, int(budget / max(first, 1e-9))))
    return timeit(fn, repeats=n, warmup=0), n


def leaves_evidence(net, k: int | None, seed: int):
    """k leaves (all when None) observed at the values of one forward sample: P(e) > 0."""
    leaves = list(net.dag.leaves())[:k] if k else list(net.dag.leaves())
    sample = net.sample(1, seed=seed)
    return {v: net.variables[v].states[int(sample[v][0])] for v in leaves}


def close(a, b) -> bool:
    return bool(
        np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=TOL, rtol=0)
    )


# ---------------------------------------------------------------------------- a) all posteriors
def bench_marginals(name, net, eng, bn, pg, args) -> dict:
    import pyagrum as gum

    ev = leaves_evidence(net, 3, seed=1)
    free = [v for v in net.factors if v not in ev]

    def ours():
        return eng.marginals(ev)

    lazy = gum.LazyPropagation(bn)

    def agrum():
        lazy.eraseAllEvidence()
        lazy.setEvidence(ev)
        lazy.makeInference()
        return {v: lazy.posterior(v).toarray() for v in free}

    row = {"network": name, "nodes": len(net.factors)}
    got = {v: t.numpy() for v, t in ours().items()}
    ref = agrum()
    row["max |ours - pyAgrum|"] = max(float(np.abs(got[v] - ref[v]).max()) for v in free)
    if row["max |ours - pyAgrum|"] > TOL:
        raise AssertionError(f"{name}: ours and pyAgrum differ by {row['max |ours - pyAgrum|']}")
    row["ours (s)"], _ = timed(ours, args.repeats, args.budget)
    row["pyAgrum (s)"], row["pyAgrum runs"] = timed(agrum, args.repeats, args.budget)
    if pg is not None and name not in args.skip_pgmpy:
        from pgmpy.inference import VariableElimination

        ve = VariableElimination(pg)

        def pgm():
            return {v: ve.query([v], evidence=ev, show_progress=False) for v in free}

        out = pgm()
        for v in free:
            states = net.variables[v].states
            vals = out[v].values[[out[v].state_names[v].index(s) for s in states]]
            if not close(vals, got[v]):
                raise AssertionError(f"{name}: ours and pgmpy differ on {v}")
        row["pgmpy (s)"], row["pgmpy runs"] = timed(pgm, args.repeats, args.budget)
        row["× pgmpy"] = row["pgmpy (s)"] / row["ours (s)"]
    row["× pyAgrum"] = row["pyAgrum (s)"] / row["ours (s)"]
    # d) peak memory of the same computation
    row["ours peak MiB"] = rss_peak(ours) / 2**20
    row["pyAgrum peak MiB"] = rss_peak(agrum) / 2**20
    row["ours estimate MiB"] = eng.estimate(None, ev, kind="marginals")["bytes"] / 2**20
    return row


# ---------------------------------------------------------------------------- b) batched rows
def bench_batched(name, net, eng, bn, args, n_rows: int) -> dict:
    import pyagrum as gum

    root = net.dag.roots()[0]
    leaves = [v for v in net.dag.leaves() if v != root]
    sample = net.sample(n_rows, seed=2)
    ev = {v: sample[v] for v in leaves}  # (R,) codes, every row observes every leaf

    def ours():
        return eng.query(root, ev).probs

    got = ours().numpy()
    lazy = gum.LazyPropagation(bn)
    lazy.addTarget(root)
    labels = {v: net.variables[v].states for v in leaves}
    lazy.setEvidence({v: labels[v][int(c[0])] for v, c in ev.items()})
    lazy.makeInference()  # warm: the junction tree is built once, then only evidence changes
    n_peer = min(n_rows, args.peer_rows)
    rows = [{v: labels[v][int(c[r])] for v, c in ev.items()} for r in range(n_peer)]

    def agrum(limit: float):
        """Rows one at a time until ``limit`` seconds have passed (or all are done)."""
        out = []
        t0 = time.perf_counter()
        for e in rows:
            for v, s in e.items():
                lazy.chgEvidence(v, s)
            lazy.makeInference()
            out.append(lazy.posterior(root).toarray())
            if time.perf_counter() - t0 > limit:
                break
        return np.array(out), time.perf_counter() - t0

    ref, t_peer = agrum(args.peer_seconds)
    err = float(np.abs(got[: len(ref)] - ref).max())
    if err > TOL:
        raise AssertionError(f"{name}: batched posteriors differ from pyAgrum by {err}")
    t_ours, _ = timed(ours, args.repeats, args.budget)
    ours_rate, peer_rate = n_rows / t_ours, len(ref) / t_peer
    return {
        "network": name,
        "root (leaves)": f"{root} ({len(leaves)})",
        "rows": n_rows,
        "ours rows/s": ours_rate,
        "pyAgrum rows/s": peer_rate,
        "pyAgrum rows timed": len(ref),
        "× pyAgrum": ours_rate / peer_rate,
        "max |diff|": err,
    }


# ---------------------------------------------------------------------------- c) MPE
def bench_mpe(name, net, eng, bn, pg, args) -> dict:
    import pyagrum as gum

    ev = leaves_evidence(net, 3, seed=1)
    free = [v for v in net.factors if v not in ev]

    def ours():
        return eng.mpe(ev)

    best = ours()
    row = {"network": name, "ours log p": float(best.log_prob)}
    row["ours (s)"], _ = timed(ours, args.repeats, args.budget)

    def log_p(assignment) -> float:
        codes = {v: torch.tensor([net.variables[v].states.index(s)]) for v, s in assignment.items()}
        return _joint_log_prob(net, codes)

    lazy = gum.LazyPropagation(bn)
    lazy.setEvidence(ev)
    try:
        inst = lazy.mpe()
        ref = {
            inst.variable(k).name(): inst.variable(k).label(inst.val(k))
            for k in range(inst.nbrDim())
        }
        same = ref == best.labels or abs(log_p(ref) - float(best.log_prob)) < TOL
        row["pyAgrum"] = "same" if same else "DIFFERENT"
        row["pyAgrum (s)"], _ = timed(lambda: lazy.mpe(), args.repeats, args.budget)
        row["× pyAgrum"] = row["pyAgrum (s)"] / row["ours (s)"]
    except Exception as exc:  # pyAgrum 3.3.1 fails on most networks ("Empty tensor")
        row["pyAgrum"] = f"error: {str(exc).splitlines()[0][:40]}"
    if pg is not None and len(net.factors) <= args.pgmpy_mpe_max_nodes:
        from pgmpy.inference import VariableElimination

        ve = VariableElimination(pg)

        def pgm():
            return ve.map_query(free, evidence=ev, show_progress=False)

        try:
            ref = {**pgm(), **ev}
            same = ref == best.labels or abs(log_p(ref) - float(best.log_prob)) < TOL
            row["pgmpy"] = "same" if same else "DIFFERENT"
            row["pgmpy (s)"], _ = timed(pgm, args.repeats, args.budget)
            row["× pgmpy"] = row["pgmpy (s)"] / row["ours (s)"]
        except Exception as exc:
            row["pgmpy"] = f"error: {type(exc).__name__}"
    else:
        row["pgmpy"] = "skipped (map_query builds the joint)"
    return row


def _joint_log_prob(net, codes) -> float:
    """log Π_n p(x_n | Pa) straight from the tables (no Categorical clamping of zeros)."""
    total = 0.0
    for name, f in net.factors.items():
        idx = tuple(int(codes[p.name][0]) for p in f.parents) + (int(codes[name][0]),)
        total += math.log(float(f.probs[idx])) if float(f.probs[idx]) > 0 else -math.inf
    return total


# ---------------------------------------------------------------------------- driver
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="asia, alarm, win95pts, fewer rows")
    parser.add_argument("--networks", nargs="*", default=None)
    parser.add_argument("--munin", action="store_true", help="also munin2, munin3, munin4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds per timing: slow peers are timed fewer than --repeats times",
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--peer-rows", type=int, default=1000, help="rows pyAgrum runs in b) (its rate is per row)"
    )
    parser.add_argument("--batched-networks", nargs="*", default=None)
    parser.add_argument(
        "--heavy-rows", type=int, default=500, help="rows of b) for water, mildew and barley"
    )
    parser.add_argument(
        "--peer-seconds", type=float, default=5.0, help="seconds of pyAgrum row-by-row in b)"
    )
    parser.add_argument("--skip-pgmpy", nargs="*", default=[])
    parser.add_argument("--pgmpy-mpe-max-nodes", type=int, default=12)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and pyAgrum threads (1: steady timings on a shared machine)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    import pyagrum as gum

    gum.setNumberOfThreads(args.threads)
    if args.quick:
        names = args.networks or QUICK
        args.rows = min(args.rows, 2000)
        args.peer_rows = min(args.peer_rows, 200)
        args.repeats = min(args.repeats, 5)
    else:
        names = args.networks or NETWORKS + (MUNIN if args.munin else [])
    batched = args.batched_networks or [n for n in names if n in BATCHED + HEAVY + list(LARGE)]
    results = {"a": [], "b": [], "c": [], "config": vars(args) | {"torch": torch.__version__}}
    for name in names:
        t0 = time.perf_counter()
        net = read_bif(bnlearn_path(name))
        eng = ExactInference.from_network(net)
        bn = to_pyagrum(net)
        pg = to_pgmpy(net)
        results["a"].append(bench_marginals(name, net, eng, bn, pg, args))
        if name in batched:
            rows = min(args.rows, args.heavy_rows) if name in HEAVY else args.rows
            rows = min(rows, LARGE.get(name, rows))
            results["b"].append(bench_batched(name, net, eng, bn, args, rows))
        results["c"].append(bench_mpe(name, net, eng, bn, pg, args))
        print(f"# {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    a = results["a"]
    print_table(
        a,
        [
            "network",
            "nodes",
            "ours (s)",
            "pyAgrum (s)",
            "pgmpy (s)",
            "× pyAgrum",
            "× pgmpy",
            "max |ours - pyAgrum|",
        ],
        title="a) posterior of every unobserved variable, 3 observed leaves",
    )
    gm = {"× pyAgrum": geomean([r["× pyAgrum"] for r in a])}
    if any("× pgmpy" in r for r in a):
        gm["× pgmpy"] = geomean([r["× pgmpy"] for r in a if "× pgmpy" in r])
    print(f"\ngeometric mean speed-up: {', '.join(f'{k} {v:.3g}' for k, v in gm.items())}\n")
    results["a_geomean"] = gm
    if results["b"]:
        print_table(results["b"], title="b) P(root | all leaves), one batch of evidence rows")
        results["b_geomean"] = geomean([r["× pyAgrum"] for r in results["b"]])
        print(f"\ngeometric mean rows/s ratio: {results['b_geomean']:.3g}\n")
    print_table(
        results["c"],
        [
            "network",
            "ours (s)",
            "ours log p",
            "pyAgrum",
            "pyAgrum (s)",
            "× pyAgrum",
            "pgmpy",
            "pgmpy (s)",
            "× pgmpy",
        ],
        title="c) most probable explanation, 3 observed leaves",
    )
    print()
    print_table(
        a,
        ["network", "ours peak MiB", "ours estimate MiB", "pyAgrum peak MiB"],
        title="d) peak resident memory of a)",
    )
    path = write_json("inference" + ("_quick" if args.quick else ""), results)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
