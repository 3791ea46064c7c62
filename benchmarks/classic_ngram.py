"""N-gram language models: bayesgen.NGramLM vs NLTK's ``nltk.lm``, and Tiny Shakespeare.

a) Same model, same data, same vocabulary: NLTK's ``padded_everygram_pipeline`` models (MLE,
   Laplace, KneserNeyInterpolated with its default discount 0.1) against ``NGramLM(...,
   padding="nltk")`` on lines of Tiny Shakespeare (characters). Per-token probabilities are
   compared (to 1e-9) and perplexities (to 1e-6, where NLTK's is finite); then fit and score
   are timed (NLTK once — it is slow —, ours the median of 3 warm runs). NLTK's score time is
   its ``perplexity`` over the test n-grams.
b) Tiny Shakespeare, characters, first 90 % train / last 10 % validation: validation NLL in
   nats/char for orders k = 0..8 under each smoothing. Hyperparameters (add-k's k,
   Kneser–Ney's discount, modified Kneser–Ney's 3 discounts per order) are tuned on a held-out
   slice (the last 10 % of the training split, the model counted on the first 90 %), then the
   model is counted on the whole training split with them and scored on validation, which is
   never used for tuning.

    python benchmarks/classic_ngram.py            # full run
    python benchmarks/classic_ngram.py --quick    # smoke run on small slices
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import geomean, print_table, timeit, write_json  # noqa: E402

from bayesgen.data.text import lines, load_corpus  # noqa: E402
from bayesgen.models.markov import NGramLM  # noqa: E402
from bayesgen.models.ngram_smoothing import (  # noqa: E402
    MLE,
    AddK,
    KneserNey,
    ModifiedKneserNey,
)

DATA = Path(
    os.environ.get("BAYESGEN_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
SHAKESPEARE = "text/tinyshakespeare.txt"


# ---------------------------------------------------------------------------- a) NLTK
def _nltk_fit(kind: str, n: int, train):
    from nltk.lm import MLE as NMLE
    from nltk.lm import KneserNeyInterpolated, Laplace
    from nltk.lm import Vocabulary as NVocabulary
    from nltk.lm.preprocessing import padded_everygram_pipeline

    cls = {"mle": NMLE, "laplace": Laplace, "kneser-ney": KneserNeyInterpolated}[kind]
    lm = cls(n, vocabulary=NVocabulary(unk_label="<unk>"))
    lm.fit(*padded_everygram_pipeline(n, train))
    return lm


def _nltk_grams(sents, n):
    from nltk.lm.preprocessing import pad_both_ends
    from nltk.util import ngrams

    return [g for s in sents for g in ngrams(list(pad_both_ends(s, n=n)), n)]


def _ours(kind: str):
    return {"mle": MLE(), "laplace": AddK(1.0), "kneser-ney": KneserNey(0.1, uniform_base=False)}[
        kind
    ]


def nltk_comparison(text: str, quick: bool) -> list[dict]:
    train_text, val_text = text[: int(0.9 * len(text))], text[int(0.9 * len(text)) :]
    # (smoothing, n, test characters): NLTK's Kneser–Ney scans every higher-order context for
    # each scored n-gram, so its 4-gram row gets a shorter test slice
    if quick:
        n_train = 20_000
        cases = [("mle", 3, 4_000), ("laplace", 3, 4_000), ("kneser-ney", 3, 4_000)]
    else:
        n_train = 250_000
        cases = [
            ("mle", 3, 30_000),
            ("laplace", 3, 30_000),
            ("kneser-ney", 2, 30_000),
            ("kneser-ney", 3, 30_000),
            ("kneser-ney", 4, 5_000),
        ]
    train = lines(train_text[:n_train])
    rows = []
    for kind, n, n_test in cases:
        test = lines(val_text[:n_test])
        t0 = time.perf_counter()
        nl = _nltk_fit(kind, n, train)
        t1 = time.perf_counter()
        grams = _nltk_grams(test, n)
        ppl_nltk = nl.perplexity(grams)
        t2 = time.perf_counter()

        def fit(kind=kind, n=n):
            return NGramLM(order=n - 1, smoothing=_ours(kind), padding="nltk").fit(train)

        ours = fit()
        ppl = ours.perplexity(test)
        fit_s = timeit(fit, repeats=3)
        score_s = timeit(lambda ours=ours, test=test: ours.perplexity(test), repeats=3)
        # agreement, token by token (first 1000 test n-grams) and on the perplexity
        sub = grams[:1000]
        want = np.array([nl.score(g[-1], g[:-1]) for g in sub])
        got = ours.token_log_probs(test)[0].exp().numpy()[: len(sub)]
        diff = float(np.abs(got - want).max())
        same_ppl = (
            (ppl == ppl_nltk)
            if not math.isfinite(ppl_nltk)
            else (abs(ppl - ppl_nltk) <= 1e-6 * ppl_nltk)
        )
        if diff > 1e-9 or not same_ppl:
            raise AssertionError(
                f"{kind} n={n}: ours and NLTK disagree (max |dp| {diff:.3g}, "
                f"perplexity {ppl} vs {ppl_nltk})"
            )
        nltk_s, ours_s = (t1 - t0) + (t2 - t1), fit_s + score_s
        rows.append(
            {
                "model": kind,
                "n": n,
                "train_chars": n_train,
                "test_chars": n_test,
                "test_ngrams": len(grams),
                "nltk_fit_s": t1 - t0,
                "nltk_score_s": t2 - t1,
                "ours_fit_s": fit_s,
                "ours_score_s": score_s,
                "speedup": nltk_s / ours_s,
                "ppl_nltk": ppl_nltk,
                "ppl_ours": ppl,
                "max_abs_dp": diff,
            }
        )
        print(f"  {kind} n={n}: NLTK {nltk_s:.2f}s, ours {ours_s:.4f}s", flush=True)
    return rows


# ---------------------------------------------------------------------------- b) Shakespeare
def shakespeare_table(path: Path, quick: bool) -> list[dict]:
    train, val = load_corpus(path, level="char", val_fraction=0.1)
    if quick:
        train, val, orders = train[:100_000], val[:20_000], range(0, 4)
    else:
        orders = range(0, 9)
    cut = int(0.9 * len(train))
    fit_part, tune_part = train[:cut], train[cut:]
    rows = []
    for k in orders:
        base = NGramLM(order=k, smoothing="mle", eos=False).fit([fit_part])
        tuned = {}
        for name, sm in [
            ("add-k", AddK(0.1)),
            ("kn", KneserNey(0.75)),
            ("mkn", ModifiedKneserNey()),
        ]:
            tuned[name] = base.with_smoothing(sm).tune([tune_part]).smoothing_
        t0 = time.perf_counter()
        full = NGramLM(
            order=k, smoothing=ModifiedKneserNey(discounts=tuned["mkn"].discounts), eos=False
        ).fit([train])
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        nll_mkn_tuned = full.cross_entropy([val])
        score_s = time.perf_counter() - t0
        row = {
            "k": k,
            "n": k + 1,
            "mle": full.with_smoothing("mle").cross_entropy([val]),
            "add-k (tuned)": full.with_smoothing(AddK(tuned["add-k"].k)).cross_entropy([val]),
            "kn (tuned)": full.with_smoothing(KneserNey(tuned["kn"].discount)).cross_entropy([val]),
            "mkn (estimated)": full.with_smoothing(ModifiedKneserNey()).cross_entropy([val]),
            "mkn (tuned)": nll_mkn_tuned,
        }
        smoothings = [c for c in row if c not in ("k", "n")]
        best = min(smoothings, key=lambda c: row[c])
        row.update(
            {
                "best": row[best],
                "best_smoothing": best,
                "tuned_k": tuned["add-k"].k,
                "tuned_d": tuned["kn"].discount,
                "mkn_fit_s": fit_s,
                "mkn_score_s": score_s,
                "n_grams_top": full.counts_.size(k + 1),
            }
        )
        rows.append(row)
        print(f"  k={k}: best {row['best']:.4f} nats/char ({best}), fit {fit_s:.2f}s", flush=True)
    return rows


# ---------------------------------------------------------------------------- entry points
def run(quick: bool, data_dir: Path | None = None) -> list[dict]:
    """Both parts; rows of part a) have ``part='nltk'``, rows of part b) ``part='shakespeare'``."""
    torch.manual_seed(0)
    path = Path(data_dir or DATA) / SHAKESPEARE
    text = path.read_text(encoding="utf-8")
    rows = [{"part": "nltk", **r} for r in nltk_comparison(text, quick)]
    rows += [{"part": "shakespeare", **r} for r in shakespeare_table(path, quick)]
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small slices, few orders")
    ap.add_argument("--data", type=Path, default=DATA, help="the data directory")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = run(args.quick, args.data)
    nl = [{k: v for k, v in r.items() if k != "part"} for r in rows if r["part"] == "nltk"]
    sh = [{k: v for k, v in r.items() if k != "part"} for r in rows if r["part"] == "shakespeare"]
    print()
    print_table(
        nl,
        [
            "model",
            "n",
            "test_chars",
            "test_ngrams",
            "nltk_fit_s",
            "nltk_score_s",
            "ours_fit_s",
            "ours_score_s",
            "speedup",
            "ppl_nltk",
            "ppl_ours",
            "max_abs_dp",
        ],
        title="NGramLM vs nltk.lm (Tiny Shakespeare lines, characters; same model)",
    )
    print(f"\ngeometric-mean speedup (fit + score): {geomean([r['speedup'] for r in nl]):.1f}x\n")
    print_table(
        sh,
        [
            "k",
            "n",
            "mle",
            "add-k (tuned)",
            "kn (tuned)",
            "mkn (estimated)",
            "mkn (tuned)",
            "best",
            "best_smoothing",
            "mkn_fit_s",
            "mkn_score_s",
        ],
        title="Tiny Shakespeare validation NLL (nats/char), characters, 90/10 split",
    )
    best = min(sh, key=lambda r: r["best"])
    print(f"\nbest: {best['best']:.4f} nats/char at k={best['k']} ({best['best_smoothing']})")
    lm = NGramLM(order=best["k"], eos=False).fit([load_corpus(args.data / SHAKESPEARE)[0]])
    print(f"\nsample (k={best['k']}, estimated MKN, temperature 0.8):\n")
    print(
        "".join(
            lm.sample(
                length=300,
                generator=torch.Generator().manual_seed(0),
                temperature=0.8,
                prompt="ROMEO:\n",
            )[0]
        )
    )
    path = write_json(
        "classic_ngram" + ("_quick" if args.quick else ""), {"nltk": nl, "shakespeare": sh}
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
