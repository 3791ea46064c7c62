"""Parameter learning side by side with pgmpy and pyAgrum.

1. Fitting every table of bnlearn networks from sampled rows: bayesgen's closed-form MLE and
   BDeu (ess 10) against pgmpy's DiscreteMLE and DiscreteBayesianEstimator on the same
   DataFrame (categorical columns of state labels); the tables must agree to 1e-9.
2. EM on alarm with 20% of the cells hidden, against pyAgrum's BNLearner with EM and pgmpy's
   DiscreteEM, all with the same Laplace smoothing (K2 prior = pyAgrum's smoothing prior 1):
   held-out log-likelihood per row on fresh complete rows, and time.
3. EM on alarm with two latent variables (their columns removed), where pgmpy's DiscreteEM
   applies: the held-out marginal log-likelihood of the observed variables.

Everything runs single-threaded (torch, pyAgrum, pgmpy's n_jobs=1). ``--quick`` is a small
smoke run.

    python benchmarks/learning.py            # the full run
    python benchmarks/learning.py --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import geomean, print_table, timeit, write_json

from bayesgen.io import bnlearn, to_pgmpy, write_bif
from bayesgen.learning.encoding import encode_data
from bayesgen.learning.fit import fit_network
from bayesgen.learning.priors import K2, BDeu

NETWORKS = ("alarm", "hailfinder", "win95pts", "andes", "pathfinder")
LATENT = ("HYPOVOLEMIA", "LVFAILURE")


def _load(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # published tables that miss summing to 1 by 1e-8
        return bnlearn.load(name)


def _states(net) -> dict[str, list[str]]:
    return {n: list(v.states) for n, v in net.variables.items()}


def pgmpy_table(cpd, net, name) -> np.ndarray:
    """A pgmpy CPD (child first, its own state order) as our table (*parents, child)."""
    variables = cpd.variables
    values = cpd.values
    for axis, v in enumerate(variables):
        names = [str(s) for s in cpd.state_names[v]]
        values = np.take(values, [names.index(s) for s in net.variables[v].states], axis=axis)
    perm = [variables.index(p) for p in net[name].parent_names] + [0]
    return values.transpose(perm)


def agrum_table(bn, net, name) -> np.ndarray:
    """A pyAgrum CPT (axes in reverse of ``names``) as our table (*parents, child)."""
    cpt = bn.cpt(name)
    arr = cpt.toarray()
    axes = list(cpt.names)[::-1]
    for axis, v in enumerate(axes):
        var = bn.variable(v)
        labels = [var.label(i) for i in range(var.domainSize())]
        arr = np.take(arr, [labels.index(s) for s in net.variables[v].states], axis=axis)
    perm = [axes.index(p) for p in net[name].parent_names] + [axes.index(name)]
    return arr.transpose(perm)


def _set_tables(net, tables: dict[str, np.ndarray]) -> None:
    for n, t in tables.items():
        t = torch.as_tensor(np.asarray(t, dtype=np.float64))
        net[n].probs.copy_(t / t.sum(-1, keepdim=True))


def _flat(net):
    for n in net.order:
        net[n].from_summaries(torch.ones(net[n].shape))
    return net


# ------------------------------------------------------------------------------ 1. tables
def _bench_one(name: str, rows: int, repeats: int, label: str, prior, peer) -> dict:
    """One network and estimator: bayesgen from the frame and from codes, the peer, the check."""
    truth = _load(name)
    frame = truth.sample(rows, seed=0, as_frame=True)
    codes = encode_data(truth, frame)
    net = _load(name)
    model = to_pgmpy(net)
    ours = timeit(lambda: fit_network(net, frame, prior=prior), repeats=repeats)
    from_codes = timeit(lambda: fit_network(net, codes, prior=prior), repeats=repeats)
    fitted = {}

    def run_peer():
        fitted["cpds"] = peer(_states(net)).fit(model, frame).parameters_

    theirs = timeit(run_peer, repeats=max(1, repeats // 3), warmup=0)
    fit_network(net, frame, prior=prior)
    diff = max(
        float(np.abs(pgmpy_table(c, net, c.variable) - net[c.variable].probs.numpy()).max())
        for c in fitted["cpds"]
    )
    if diff > 1e-9:
        raise AssertionError(f"{name} {label}: tables differ from pgmpy by {diff:.3g}")
    return {
        "network": name,
        "nodes": len(net),
        "rows": rows,
        "estimator": label,
        "bayesgen_s": ours,
        "bayesgen_codes_s": from_codes,
        "pgmpy_s": theirs,
        "speedup": theirs / ours,
        "max_abs_diff": diff,
    }


def bench_tables(names, rows: int, repeats: int) -> list[dict]:
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator, DiscreteMLE

    def bdeu(states):
        return DiscreteBayesianEstimator(
            state_names=states, prior_type="BDeu", equivalent_sample_size=10
        )

    def mle(states):
        return DiscreteMLE(state_names=states)

    out = []
    for name in names:
        for label, prior, peer in (("MLE", None, mle), ("BDeu(10)", BDeu(10), bdeu)):
            out.append(_bench_one(name, rows, repeats, label, prior, peer))
            print(out[-1], flush=True)
    return out


# ------------------------------------------------------------------------------ 2./3. EM
def _heldout(net, test: dict, latent=()) -> float:
    """Mean log-likelihood per held-out row (marginal of the observed ones if ``latent``)."""
    if latent:
        ev = {k: v for k, v in test.items() if k not in latent}
        return float(net.log_evidence(ev).mean())
    return float(net.log_prob(test).mean())


def _run_ours(truth_name, values, tol, init, n_init=1, seed=0):
    net = _flat(_load(truth_name))
    t0 = time.perf_counter()
    fit_network(
        net,
        values,
        prior=K2(),
        tol=tol,
        max_iter=1000,
        init=init,
        n_init=n_init,
        seed=seed,
        verbose=False,
    )
    return net, time.perf_counter() - t0, net.fit_report_.n_iter


def _run_agrum(truth, frame_text, tol):
    import pyagrum as gum

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.bif"
        write_bif(truth, path)
        template = gum.loadBN(str(path))
    if hasattr(gum, "setNumberOfThreads"):
        gum.setNumberOfThreads(1)
    t0 = time.perf_counter()
    learner = gum.BNLearner(frame_text, template, ["?"])
    learner.useSmoothingPrior(1.0)  # = the K2 prior: one pseudo-count per cell
    learner.useEM(tol)
    bn = learner.learnParameters(template.dag())
    elapsed = time.perf_counter() - t0
    net = _load(truth.name)
    _set_tables(net, {n: agrum_table(bn, net, n) for n in net.order})
    return net, elapsed, learner.EMnbrIterations()


def _run_pgmpy(truth, frame, max_iter, latent=()):
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator, DiscreteEM

    model = to_pgmpy(truth)
    model.latents = set(latent)
    states = {k: v for k, v in _states(truth).items() if k not in latent}
    est = DiscreteEM(
        state_names=states,
        latent_card={v: truth.variables[v].card for v in latent} or None,
        m_step_estimator=DiscreteBayesianEstimator(prior_type="K2"),
        max_iter=max_iter,
        show_progress=False,
        seed=0,
    )
    t0 = time.perf_counter()
    try:
        cpds = est.fit(model, frame.astype(object)).parameters_
    except Exception as err:  # report what the peer does with this input
        return None, time.perf_counter() - t0, f"{type(err).__name__}: {err}"[:90]
    elapsed = time.perf_counter() - t0
    net = _load(truth.name)
    tables = {}
    for c in cpds:
        for v in c.variables:  # latent states are 0..k-1: take them in order
            if v in latent:
                c.state_names[v] = list(truth.variables[v].states)
        tables[c.variable] = pgmpy_table(c, net, c.variable)
    _set_tables(net, tables)
    return net, elapsed, max_iter


def bench_em(
    rows: int,
    latent_rows: int,
    test_rows: int,
    pgmpy_iters: int,
    tol: float,
    peer_tol: float,
    restarts: int,
) -> list[dict]:
    truth = _load("alarm")
    frame = truth.sample(rows, seed=0, as_frame=True)
    test = truth.sample(test_rows, seed=1)
    out = []

    # 2. 20% of the cells hidden
    rng = np.random.default_rng(0)
    hide = rng.random(frame.shape) < 0.2
    holes = frame.astype(object).mask(hide)
    values = encode_data(truth, holes)
    text = frame.astype(str).mask(hide, "?")
    true_ll = _heldout(truth, test)
    case = f"alarm, {rows} rows, 20% cells hidden"
    ours, t_ours, it = _run_ours("alarm", values, tol, "current")
    out.append(
        {
            "case": case,
            "library": "bayesgen",
            "seconds": t_ours,
            "iterations": it,
            "heldout_ll": _heldout(ours, test),
            "true_ll": true_ll,
            "note": f"tol={tol:g}, from uniform tables",
        }
    )
    agrum, t, it = _run_agrum(truth, text, peer_tol)
    out.append(
        {
            "case": case,
            "library": "pyAgrum",
            "seconds": t,
            "iterations": it,
            "heldout_ll": _heldout(agrum, test),
            "true_ll": true_ll,
            "note": f"useEM({peer_tol:g})",
        }
    )
    pg, t, note = _run_pgmpy(truth, holes, pgmpy_iters)
    out.append(
        {
            "case": case,
            "library": "pgmpy",
            "seconds": t,
            "iterations": "",
            "heldout_ll": _heldout(pg, test) if pg else float("nan"),
            "true_ll": true_ll,
            "note": note if pg is None else "",
        }
    )
    for r in out[-3:]:
        print(r, flush=True)

    # 3. two latent variables, no column at all
    frame = frame.iloc[:latent_rows]
    lat_frame = frame.drop(columns=list(LATENT))
    lat_values = encode_data(truth, lat_frame)
    lat_text = frame.astype(str).assign(**{v: "?" for v in LATENT})
    true_ll = _heldout(truth, test, LATENT)
    case = f"alarm, {latent_rows} rows, latent {'+'.join(LATENT)}"
    ours, t_ours, it = _run_ours("alarm", lat_values, tol, "random", n_init=restarts)
    out.append(
        {
            "case": case,
            "library": "bayesgen",
            "seconds": t_ours,
            "iterations": it,
            "heldout_ll": _heldout(ours, test, LATENT),
            "true_ll": true_ll,
            "note": f"tol={tol:g}, best of {restarts} random starts (time of all)",
        }
    )
    agrum, t, it = _run_agrum(truth, lat_text, peer_tol)
    out.append(
        {
            "case": case,
            "library": "pyAgrum",
            "seconds": t,
            "iterations": it,
            "heldout_ll": _heldout(agrum, test, LATENT),
            "true_ll": true_ll,
            "note": f"useEM({peer_tol:g})",
        }
    )
    pg, t, note = _run_pgmpy(truth, lat_frame, pgmpy_iters, LATENT)
    out.append(
        {
            "case": case,
            "library": "pgmpy",
            "seconds": t,
            "iterations": pgmpy_iters,
            "heldout_ll": _heldout(pg, test, LATENT) if pg else float("nan"),
            "true_ll": true_ll,
            "note": note if pg is None else f"max_iter={pgmpy_iters}",
        }
    )
    for r in out[-3:]:
        print(r, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--rows", type=int, default=None, help="rows for the table fits")
    parser.add_argument("--em-rows", type=int, default=None, help="rows for EM")
    parser.add_argument("--part", choices=("all", "tables", "em"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.quick:
        names, rows, repeats = ("asia", "alarm"), args.rows or 5000, 3
        em_rows, latent_rows, test_rows, pgmpy_iters = args.em_rows or 150, 150, 2000, 2
    else:
        names, rows, repeats = NETWORKS, args.rows or 100_000, 5
        em_rows, latent_rows, test_rows, pgmpy_iters = args.em_rows or 1000, 300, 10_000, 10
    tables, em, speedups, ratios = [], [], {}, {}
    if args.part in ("all", "tables"):
        tables, speedups = _report_tables(names, rows, repeats)
    if args.part in ("all", "em"):
        em, ratios = _report_em(em_rows, latent_rows, test_rows, pgmpy_iters)
    path = write_json(
        "learning_quick" if args.quick else "learning",
        {
            "tables": tables,
            "speedup_geomean": speedups,
            "em": em,
            "em_time_ratios": ratios,
            "quick": args.quick,
        },
    )
    print(f"\nwrote {path}")


def _report_tables(names, rows, repeats):
    tables = bench_tables(names, rows, repeats)
    print()
    print_table(
        tables,
        [
            "network",
            "nodes",
            "rows",
            "estimator",
            "bayesgen_s",
            "bayesgen_codes_s",
            "pgmpy_s",
            "speedup",
            "max_abs_diff",
        ],
        title=f"Fitting every table from {rows} rows: bayesgen vs pgmpy (same tables to 1e-9)",
    )
    speedups = {
        e: geomean([r["speedup"] for r in tables if r["estimator"] == e])
        for e in ("MLE", "BDeu(10)")
    }
    print(f"\ngeometric-mean speedup: MLE {speedups['MLE']:.1f}x, BDeu {speedups['BDeu(10)']:.1f}x")
    return tables, speedups


def _report_em(em_rows, latent_rows, test_rows, pgmpy_iters):
    em = bench_em(
        em_rows, latent_rows, test_rows, pgmpy_iters, tol=1e-10, peer_tol=1e-6, restarts=5
    )
    print()
    shown = [
        dict(r, heldout_ll=f"{r['heldout_ll']:.7f}", true_ll=f"{r['true_ll']:.5f}") for r in em
    ]
    print_table(
        shown,
        ["case", "library", "seconds", "iterations", "heldout_ll", "true_ll", "note"],
        title="EM (K2 smoothing everywhere): held-out log-likelihood per row, higher is better",
    )
    ratios = {}
    for case in dict.fromkeys(r["case"] for r in em):
        ours = next(r for r in em if r["case"] == case and r["library"] == "bayesgen")
        for r in em:
            if r["case"] == case and r["library"] != "bayesgen" and np.isfinite(r["heldout_ll"]):
                ratios[f"{case} / {r['library']}"] = r["seconds"] / ours["seconds"]
    for k, v in ratios.items():
        print(f"time ratio {k}: {v:.1f}x")
    return em, ratios


if __name__ == "__main__":
    main()
