"""``bayesgen tour``: the seed's chapter run on built-in data, written to a folder.

The student network of §2.1.1 answers its questions and draws its DAG; its tables are learnt
back from samples (MLE, BDeu, EM with a hidden column); KDE draws figures 6 and 7; a Gaussian
mixture and an HMM are learnt back from their own samples; forward and reverse KL draw figure
16 and SGD on a neural factor figure 18. With ``--data DIR`` (the data folder holding
``text/tinyshakespeare.txt`` and ``ud/UD_English-EWT``) the character n-grams and the
part-of-speech HMM run on the real corpora too. ``index.html`` collects text and figures.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from .tour_sections import SECTIONS, Section

__all__ = ["register", "run", "write_page"]

_NAMES = {f.__name__.removesuffix("_section"): f for f in SECTIONS}


def register(sub) -> None:
    p = sub.add_parser(
        "tour", help="run the chapter on built-in data and write a report", description=__doc__
    )
    p.add_argument("--out", default="bayesgen-tour", help="output folder (default bayesgen-tour)")
    p.add_argument(
        "--data",
        type=Path,
        default=os.environ.get("BAYESGEN_DATA"),
        help="data folder with text/ and ud/ for the real-corpus sections "
        "(default: $BAYESGEN_DATA; without it those sections are skipped)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=list(_NAMES),
        metavar="SECTION",
        help=f"run only these sections ({', '.join(_NAMES)})",
    )
    p.set_defaults(func=run)


def write_page(sections: list[Section], path: Path) -> None:
    """One HTML page: a heading, the text and the figures of each section."""
    page = ["<html><head><meta charset='utf-8'><title>bayesgen tour</title></head><body>"]
    for s in sections:
        page.append(f"<h2>{html.escape(s.title)}</h2><pre>{html.escape(s.text)}</pre>")
        page += [f"<img src='{img}' style='max-width:45%'>" for img in s.images]
    page.append("</body></html>")
    path.write_text("\n".join(page), encoding="utf-8")


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else None
    chosen = [_NAMES[n] for n in args.only] if args.only else SECTIONS
    sections = []
    for make in chosen:
        start = time.perf_counter()
        s = make(out, data)
        sections.append(s)
        print(f"== {s.title} ({time.perf_counter() - start:.1f} s)\n\n{s.text}\n", flush=True)
    write_page(sections, out / "index.html")
    n_images = sum(len(s.images) for s in sections)
    print(f"wrote {out / 'index.html'} and {n_images} figure(s)")
    return 0
