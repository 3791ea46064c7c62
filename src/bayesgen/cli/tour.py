"""``bayesgen tour``: the seed's chapter run on built-in data, written to a folder.

The student network of §2.1.1 answers its questions, shows its independences and parameter
counts, and draws its DAG; ``index.html`` in the output folder collects text and figures.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..examples import student
from .show import describe

__all__ = ["register", "student_report"]


def register(sub) -> None:
    p = sub.add_parser("tour", help="run the chapter on built-in data and write a report")
    p.add_argument("--out", default="bayesgen-tour", help="output folder (default bayesgen-tour)")
    p.set_defaults(func=run)


def student_report() -> str:
    """The answers of §2.1.1 as text."""
    net = student()
    lines = ["The student network (§2.1.1)", "", describe(net), ""]
    for q in ("P(x2)", "P(x1 | x2=0)", "P(x2, x3)", "P(x3 | x2=1)", "P(x4)"):
        lines += [str(net.query(q)), ""]
    best = net.mpe()
    lines += [f"most probable joint state: {best}", ""]
    for xs, ys, zs in (("x3", "x2", ["x1"]), ("x4", "x1", ["x2", "x3"]), ("x2", "x3", [])):
        verdict = "⊥" if net.d_separated(xs, ys, zs) else "not ⊥"
        given = f" | {', '.join(zs)}" if zs else ""
        lines.append(f"{xs} {verdict} {ys}{given}   (d-separation)")
    return "\n".join(lines)


def run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = student_report()
    print(text)
    student().dag.draw(out / "student.png", title="student network (figure 1)")
    sections = [("The student network", text, ["student.png"])]
    page = ["<html><head><meta charset='utf-8'><title>bayesgen tour</title></head><body>"]
    for title, body, images in sections:
        page.append(f"<h2>{html.escape(title)}</h2><pre>{html.escape(body)}</pre>")
        page += [f"<img src='{img}' style='max-width:45%'>" for img in images]
    page.append("</body></html>")
    (out / "index.html").write_text("\n".join(page), encoding="utf-8")
    print(f"\nwrote {out / 'index.html'} and {len(sections)} figure(s)")
    return 0
