"""Hidden Markov models: bayesgen's HMM against hmmlearn, and the POS tagger against NLTK's TnT.

a) Baum–Welch, one iteration (E-step + M-step), 200 sequences x 1000 steps, K = 20 states:
   categorical emissions with 50 symbols, and diagonal Gaussians in 5 dimensions. Both start from
   the same parameters, run the same EM iterations and must end with the same parameters (to
   1e-8) before times are reported; hmmlearn runs both its implementations ("scaling", its
   fastest, and "log", its default). Also: the log-likelihood alone (forward pass) and Viterbi
   decoding on the same data, and one sequence of 10^5 steps.
b) Part-of-speech tagging, UD English-EWT train -> test: bayesgen's trigram HMM (lexicalized
   for frequent words, a log-linear spelling model for unknown words) against NLTK's TnT (with
   its suffix model), same data; also ours with TnT's suffix model, without the lexical factors
   (TnT) and a bigram HMM.

    python benchmarks/classic_hmm.py            # full sizes
    python benchmarks/classic_hmm.py --quick    # a smoke run
    python benchmarks/classic_hmm.py --only tagger
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import geomean, print_table, timeit, write_json
from hmmlearn import hmm as hl

from bayesgen.data.conllu import read_conllu
from bayesgen.models import HMM
from bayesgen.models.tagger import HMMTagger

DATA = Path(
    os.environ.get("BAYESGEN_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
EWT = "ud/UD_English-EWT/en_ewt-ud-{}.conllu"


# ---------------------------------------------------------------------------- a) hmmlearn
def _params(K: int, M: int, D: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), K),
        "emissionprob_": rng.dirichlet(np.ones(M), K),
        "means_": rng.normal(scale=1.5, size=(K, D)),
        "covars_": rng.uniform(0.5, 2.0, size=(K, D)),
    }


def _pair(emission: str, p: dict, n_iter: int, implementation: str):
    """The same model in both libraries, set to EM from these parameters for n_iter steps."""
    K = len(p["startprob_"])
    if emission == "categorical":
        ref = hl.CategoricalHMM(K, n_features=p["emissionprob_"].shape[1])
        ref.emissionprob_ = p["emissionprob_"]
        ref.params = "ste"
        ours = HMM(K, "categorical", n_iter=n_iter, tol=0.0, warm_start=True)
        names = ("startprob_", "transmat_", "emissionprob_")
    else:
        ref = hl.GaussianHMM(K, covariance_type="diag")
        ref.means_, ref.covars_ = p["means_"], p["covars_"]
        ref.params = "stmc"
        ours = HMM(K, "gaussian", n_iter=n_iter, tol=0.0, warm_start=True)
        names = ("startprob_", "transmat_", "means_", "covars_")
    ref.startprob_, ref.transmat_ = p["startprob_"], p["transmat_"]
    ref.init_params, ref.n_iter, ref.tol, ref.implementation = "", n_iter, -np.inf, implementation
    for name in names:
        setattr(ours, name, p[name])
    return ours, ref, names


def _reset(model, p: dict, names) -> None:
    for name in names:
        setattr(model, name, p[name])


def _data(emission: str, p: dict, B: int, T: int):
    """Sequences sampled from the model itself (B x T steps, concatenated, hmmlearn layout)."""
    ours, _, _ = _pair(emission, p, 1, "scaling")
    X, _ = ours.sample_joint(B, length=T, generator=torch.Generator().manual_seed(1))
    X = X.reshape(B * T, -1).numpy()
    return (X.astype(np.int64) if emission == "categorical" else X), [T] * B


def em_rows(quick: bool) -> list[dict]:
    B, T, K, M, D = (40, 250, 20, 50, 5) if quick else (200, 1000, 20, 50, 5)
    n_iter, repeats = (2, 1) if quick else (5, 3)
    p = _params(K, M, D)
    rows = []
    for emission in ("categorical", "gaussian"):
        X, lengths = _data(emission, p, B, T)
        size = f"{B}x{T}, K={K}, " + (f"M={M}" if emission == "categorical" else f"D={D}")
        for impl in ("scaling", "log"):
            ours, ref, names = _pair(emission, p, n_iter, impl)

            def run_ours(ours=ours, names=names, X=X, lengths=lengths):
                _reset(ours, p, names)
                ours.fit(X, lengths)

            def run_ref(ref=ref, names=names, X=X, lengths=lengths):
                _reset(ref, p, names)
                ref.fit(X, lengths)

            t_ref = timeit(run_ref, repeats=1 if impl == "log" else repeats, warmup=0) / n_iter
            t_ours = timeit(run_ours, repeats=repeats, warmup=1) / n_iter
            if ours.n_iter_ != n_iter:
                raise AssertionError(f"ours stopped after {ours.n_iter_} of {n_iter} iterations")
            err = 0.0
            for name in names:
                theirs = ref._covars_ if name == "covars_" else getattr(ref, name)
                err = max(err, float(np.abs(getattr(ours, name).numpy() - theirs).max()))
            if not err < 1e-8:
                raise AssertionError(f"{emission} EM: parameters differ from hmmlearn by {err:.3g}")
            rows.append(
                {
                    "task": f"Baum-Welch / iteration, {emission}",
                    "size": size,
                    "peer": f"hmmlearn ({impl})",
                    "ours_s": t_ours,
                    "peer_s": t_ref,
                    "speedup": t_ref / t_ours,
                    "max_err": err,
                }
            )
        # the log-likelihood (forward only) and Viterbi, against hmmlearn's fastest
        ours, ref, names = _pair(emission, p, 1, "scaling")
        ll_err = abs(ours.score(X, lengths) - ref.score(X, lengths))
        lp_ours, path_ours = ours.decode(X, lengths)
        lp_ref, path_ref = ref.decode(X, lengths)
        same = float((path_ours.numpy() == path_ref).mean())
        cases = [
            ("score (forward)", ours.score, ref.score, ll_err, ""),
            ("Viterbi decode", ours.decode, ref.decode, abs(lp_ours - lp_ref), same),
        ]
        for task, f_ours, f_ref, err, same_path in cases:
            t_ours = timeit(lambda f=f_ours, X=X, n=lengths: f(X, n), repeats=repeats)
            t_ref = timeit(lambda f=f_ref, X=X, n=lengths: f(X, n), repeats=repeats)
            rows.append(
                {
                    "task": f"{task}, {emission}",
                    "size": size,
                    "peer": "hmmlearn (scaling)",
                    "ours_s": t_ours,
                    "peer_s": t_ref,
                    "speedup": t_ref / t_ours,
                    "max_err": err,
                    "same_path": same_path,
                }
            )
    # one long sequence
    n = 20_000 if quick else 100_000
    ours, ref, _ = _pair("categorical", _params(4, 6, 1), 1, "scaling")
    X, _ = ours.sample_joint(n // 1000, length=1000, generator=torch.Generator().manual_seed(2))
    X = X.reshape(-1, 1).numpy()
    ll_ours, ll_ref = ours.score(X), ref.score(X)
    rows.append(
        {
            "task": "score, one long sequence",
            "size": f"1x{n}, K=4, M=6",
            "peer": "hmmlearn (scaling)",
            "ours_s": timeit(lambda: ours.score(X), repeats=1),
            "peer_s": timeit(lambda: ref.score(X), repeats=1),
            "max_err": abs(ll_ours - ll_ref),
            "note": f"log p = {ll_ours:.1f}",
        }
    )
    rows[-1]["speedup"] = rows[-1]["peer_s"] / rows[-1]["ours_s"]
    for r in rows:
        if not r["max_err"] < 1e-6:
            raise AssertionError(f"{r['task']}: answers differ by {r['max_err']:.3g}")
    return rows


# ---------------------------------------------------------------------------- b) tagging
def tagger_rows(quick: bool, data_dir: Path) -> list[dict]:
    from nltk.tag.tnt import TnT

    train = read_conllu(data_dir / EWT.format("train"))
    test = read_conllu(data_dir / EWT.format("test"))
    if quick:
        train, test = train[:2000], test[:400]
    gold = np.array([t for s in test for t in s.upos])
    t0 = time.perf_counter()
    tagger = HMMTagger().fit(train)
    t1 = time.perf_counter()
    r = tagger.evaluate(test)
    t2 = time.perf_counter()
    peer = TnT()
    peer.train([list(zip(s.words, s.upos, strict=True)) for s in train])
    t3 = time.perf_counter()
    pred = [t for sent in peer.tagdata([s.words for s in test]) for _, t in sent]
    t4 = time.perf_counter()
    peer_acc = float((np.array(pred) == gold).mean())
    size = f"{len(train)} -> {len(test)} sentences ({len(gold)} tokens)"
    rows = [
        {
            "model": "bayesgen HMMTagger (trigram, lexicalized, spelling model; default)",
            "accuracy": r["accuracy"],
            "known": r["known_accuracy"],
            "unknown": r["unknown_accuracy"],
            "fit_s": t1 - t0,
            "tag_s": t2 - t1,
        },
        {
            "model": "nltk TnT (trigram, suffix model)",
            "accuracy": peer_acc,
            "fit_s": t3 - t2,
            "tag_s": t4 - t3,
        },
    ]
    for name, kw in (
        ("bayesgen HMMTagger(unknown='suffix')", {"unknown": "suffix"}),
        (
            "bayesgen HMMTagger(lexical_weight=0, unknown='suffix') (TnT)",
            {"lexical_weight": 0.0, "unknown": "suffix"},
        ),
        ("bayesgen HMMTagger(order=1) (bigram)", {"order": 1}),
    ):
        t0 = time.perf_counter()
        other = HMMTagger(**kw).fit(train)
        t1 = time.perf_counter()
        o = other.evaluate(test)
        t2 = time.perf_counter()
        rows.append(
            {
                "model": name,
                "accuracy": o["accuracy"],
                "known": o["known_accuracy"],
                "unknown": o["unknown_accuracy"],
                "fit_s": t1 - t0,
                "tag_s": t2 - t1,
            }
        )
    for row in rows:
        row["task"] = "POS tagging, UD English-EWT train -> test"
        row["size"] = size
    return rows


def run(quick: bool, data_dir: Path | None = None, only: str | None = None) -> list[dict]:
    """All rows: a) against hmmlearn (raises if answers differ), b) the tagger against NLTK."""
    rows = []
    if only in (None, "hmm"):
        rows += em_rows(quick)
    if only in (None, "tagger"):
        rows += tagger_rows(quick, Path(data_dir or DATA))
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    ap.add_argument("--data", type=Path, default=DATA, help="the data directory")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (hmmlearn uses one)")
    ap.add_argument("--only", choices=("hmm", "tagger"), help="run one part only")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = run(args.quick, args.data, args.only)
    hmm_rows = [r for r in rows if "model" not in r]
    tag_rows = [r for r in rows if "model" in r]
    print()
    if hmm_rows:
        print_table(
            hmm_rows,
            ["task", "size", "peer", "ours_s", "peer_s", "speedup", "max_err", "same_path"],
            title=f"HMM vs hmmlearn (float64, torch threads={args.threads})",
        )
        em = [r["speedup"] for r in hmm_rows if "scaling" in r["peer"] and "Baum" in r["task"]]
        print(f"\ngeometric-mean Baum-Welch speedup over hmmlearn 'scaling': {geomean(em):.2f}x\n")
    if tag_rows:
        print_table(
            tag_rows,
            ["model", "size", "accuracy", "known", "unknown", "fit_s", "tag_s"],
            title="Part-of-speech tagging (UPOS), UD English-EWT",
        )
    suffix = ("_quick" if args.quick else "") + (f"_{args.only}" if args.only else "")
    path = write_json("classic_hmm" + suffix, rows)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
