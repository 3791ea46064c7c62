"""Every comparison of the classic models in one run: mixture, naive Bayes and KDE, n-grams, HMM.

    python benchmarks/classic.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import classic_hmm  # noqa: E402
import classic_mixture  # noqa: E402
import classic_nb_kde  # noqa: E402
import classic_ngram  # noqa: E402
from _common import print_table, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    results = {}
    for module in (classic_mixture, classic_nb_kde, classic_ngram, classic_hmm):
        name = module.__name__
        rows = module.run(args.quick)
        print_table(rows, title=name)
        results[name] = rows
    write_json("classic_quick" if args.quick else "classic", results)


if __name__ == "__main__":
    main()
