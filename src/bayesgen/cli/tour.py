"""``bayesgen tour``: the chapter run on built-in data, written to a folder as a report.

The student network of §2.1.1 answers its questions and draws its DAG; its tables are learnt
back from samples (MLE, BDeu, EM with a hidden column); a Gaussian mixture, a Naive Bayes
classifier, a Markov chain and an HMM are learnt back from their own samples and draw their DAGs
(figures 2-5); KDE draws figures 6 and 7; forward and reverse KL draw figure 16 and SGD on a
neural factor figures 17 and 18. With ``--data DIR`` (the data folder holding
``text/tinyshakespeare.txt`` and ``ud/UD_English-EWT``) the character n-grams and the
part-of-speech HMM run on the real corpora too. ``index.html`` collects the sections with their
tables and numbered figures; ``--only`` re-runs some sections into an existing report and keeps
the others.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib import import_module
from pathlib import Path

from .report import Figure, ResultTable, Section
from .report_html import figure_labels, render_page, render_text

__all__ = [
    "MANIFEST",
    "SECTION_MODULES",
    "load_manifest",
    "register",
    "run",
    "section_registry",
    "write_report",
]

#: The modules of this package whose ``SECTIONS`` lists make up the tour, in page order. Each
#: section is a function ``name_section(out: Path, data: Path | None) -> report.Section`` (run
#: by ``--only name``) that writes its figures into ``out`` with :func:`report.save_figure`
#: under file names no other section uses, gives a chapter figure its number
#: (``Figure(file, caption, "9")``) and others none, and puts its results in ``ResultTable``s.
SECTION_MODULES = (
    "tour_sections",
    "tour_sequences",
    "tour_densities",
    "tour_vae",
    "tour_flow",
    "tour_arm",
    "tour_diffusion",
    "tour_conditional",
    "tour_table",
)
#: the file in the report folder recording every section shown, so ``--only`` can merge
MANIFEST = "tour.json"

_INTRO = """The chapter on Bayesian networks and generative models, run live: every number
below is computed by the library when the report is made, and every figure is drawn from the
fitted objects. Figures numbered as in the chapter reproduce the chapter's figures; figures
numbered A.1, A.2, ... are the report's own."""

SectionFn = Callable[[Path, "Path | None"], Section]


def section_registry() -> dict[str, SectionFn]:
    """Every section function of :data:`SECTION_MODULES`, by name (the function's name less
    ``_section``), in page order."""
    out: dict[str, SectionFn] = {}
    for mod in SECTION_MODULES:
        module = import_module(f".{mod}", __package__)
        for f in module.SECTIONS:
            name = f.__name__.removesuffix("_section")
            if name in out:
                raise ValueError(f"two tour sections are named {name!r} ({mod} and another)")
            out[name] = f
    return out


def register(sub) -> None:
    names = list(section_registry())
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
        choices=names,
        metavar="SECTION",
        help=f"run only these sections and merge them into the report ({', '.join(names)})",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: the sections' many small tensor operations run fastest "
        "on one thread, and a busy machine makes a second one spin-wait)",
    )
    p.set_defaults(func=run)


# ---------------------------------------------------------------------- the manifest
def _plain(v: object) -> object:
    """A table cell as a JSON value: numbers stay numbers (numpy/torch scalars unwrapped)."""
    if isinstance(v, bool | int | float | str) or v is None:
        return v
    item = getattr(v, "item", None)
    if callable(item):
        try:
            v = item()
        except (ValueError, RuntimeError):
            return str(v)
        if isinstance(v, bool | int | float):
            return v
    return str(v)


def _to_json(s: Section) -> dict:
    d = asdict(s)
    for t in d["tables"]:
        t["rows"] = [[_plain(v) for v in row] for row in t["rows"]]
        t["columns"] = [str(c) for c in t["columns"]]
    return d


def _from_json(d: dict) -> Section:
    return Section(
        title=d["title"],
        summary=d["summary"],
        text=d.get("text", ""),
        figures=[Figure(**f) for f in d.get("figures", [])],
        tables=[ResultTable(**t) for t in d.get("tables", [])],
        seconds=d.get("seconds"),
    )


def load_manifest(out: Path) -> dict[str, Section]:
    """The sections recorded in ``out``'s manifest (empty when there is none)."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: _from_json(d) for name, d in raw["sections"].items()}
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} is not a tour manifest ({err}); remove it or pick another --out"
        ) from err


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_report(out: Path, sections: dict[str, Section], order: list[str]) -> Path:
    """Write the manifest and ``index.html`` of ``sections`` (by name), the names of ``order``
    first, in that order, then any others the folder held. Returns the page's path."""
    names = [n for n in order if n in sections] + [n for n in sections if n not in order]
    owner: dict[str, str] = {}
    for n in names:
        for f in sections[n].figures:
            if owner.setdefault(f.file, n) != n:
                raise ValueError(f"sections {owner[f.file]!r} and {n!r} both write {f.file!r}")
    manifest = {"sections": {n: _to_json(sections[n]) for n in names}}
    _write_atomic(out / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    page = render_page([(n, sections[n]) for n in names], intro=_INTRO, folder=out)
    _write_atomic(out / "index.html", page)
    return out / "index.html"


# ---------------------------------------------------------------------- the command
def run(args) -> int:
    import matplotlib
    import torch

    matplotlib.use("Agg")
    if not isinstance(args.threads, int) or args.threads < 1:
        raise ValueError(f"--threads must be an int >= 1, got {args.threads!r}")
    torch.set_num_threads(args.threads)
    registry = section_registry()
    data = Path(args.data) if args.data else None
    if data is not None and not data.is_dir():
        env = os.environ.get("BAYESGEN_DATA")
        where = " (from $BAYESGEN_DATA)" if env and Path(env) == data else ""
        raise ValueError(f"--data must be an existing folder, got {str(data)!r}{where}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = list(dict.fromkeys(args.only)) if args.only else list(registry)
    sections = load_manifest(out)
    previous = {n: sections[n] for n in chosen if n in sections}
    for name in chosen:
        start = time.perf_counter()
        s = registry[name](out, data)
        s.seconds = time.perf_counter() - start
        sections[name] = s
        print(render_text(s, figure_labels([s])[0]), flush=True)
    kept = {f.file for s in sections.values() for f in s.figures}
    for s in previous.values():  # figures a re-run section no longer draws
        for f in s.figures:
            if f.file not in kept and (out / f.file).is_file():
                (out / f.file).unlink()
    page = write_report(out, sections, list(registry))
    n_figures = sum(len(s.figures) for s in sections.values())
    print(f"wrote {page} ({len(sections)} sections, {n_figures} figures)")
    return 0
