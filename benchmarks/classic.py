"""Every comparison of the classic models in one run: mixture, naive Bayes and KDE, n-grams, HMM
and the tagger. Prints each part's table, then the issue's targets against what was measured,
and writes everything to ``benchmarks/results/classic.json``.

    python benchmarks/classic.py [--quick] [--threads N] [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

import classic_hmm  # noqa: E402
import classic_mixture  # noqa: E402
import classic_nb_kde  # noqa: E402
import classic_ngram  # noqa: E402
from _common import geomean, print_table, write_json  # noqa: E402

__all__ = ["targets"]


def _by_columns(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by their set of columns (one table each), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r), []).append(r)
    return list(groups.values())


def targets(results: dict[str, list[dict]]) -> list[dict]:
    """The issue's targets: (what, measured, goal, met) from the parts' rows."""
    out = []

    def add(what: str, measured: float, goal: str, met: bool) -> None:
        out.append({"target": what, "measured": measured, "goal": goal, "met": met})

    mix = {r["case"]: r for r in results["classic_mixture"]}
    full = mix.get("EM iteration, full")
    if full:
        add("GMM EM iteration, full, vs sklearn (x)", full["speedup"], ">= 2", full["speedup"] >= 2)
    kde = [r for r in results["classic_nb_kde"] if r["task"].startswith("KDE gaussian")]
    if kde:  # each peer on its own bandwidth rule; the slower of the two ratios counts
        worst = min(r["speedup"] for r in kde)
        add("KDE gaussian 20k x 20k, vs the faster peer (x)", worst, ">= 10", worst >= 10)
    ngram = results["classic_ngram"]
    nl = [r["speedup"] for r in ngram if r["part"] == "nltk"]
    if nl:
        g = geomean(nl)
        add("n-gram fit + score vs nltk.lm, geometric mean (x)", g, ">= 50", g >= 50)
    sh = [r["best"] for r in ngram if r["part"] == "shakespeare"]
    if sh:
        best = min(sh)
        add("Tiny Shakespeare validation NLL (nats/char)", best, "< 1.70", best < 1.70)
    hmm = results["classic_hmm"]
    for r in hmm:
        if r.get("task", "").startswith("Baum-Welch") and "scaling" in r.get("peer", ""):
            what = f"{r['task']} vs hmmlearn scaling (x)"
            add(what, r["speedup"], ">= 2", r["speedup"] >= 2)
    tagger = [r for r in hmm if "default" in r.get("model", "")]  # the default HMMTagger
    if tagger:
        acc = tagger[0]["accuracy"]
        add("POS tagger accuracy, UD English-EWT test", acc, ">= 0.95", acc >= 0.95)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (peers use one)")
    parser.add_argument("--data", type=Path, default=None, help="the data directory")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {
        "classic_mixture": classic_mixture.run(args.quick),
        "classic_nb_kde": classic_nb_kde.run(args.quick, threads=args.threads),
        "classic_ngram": classic_ngram.run(args.quick, args.data),
        "classic_hmm": classic_hmm.run(args.quick, args.data),
    }
    for name, rows in results.items():
        for group in _by_columns(rows):
            print()
            print_table(group, title=name)
    results["targets"] = targets(results)
    print()
    print_table(results["targets"], title=f"targets (torch threads={args.threads})")
    write_json("classic_quick" if args.quick else "classic", results)


if __name__ == "__main__":
    main()
