"""``bayesgen tour``: every section runs and lands in one HTML report (contents, numbered
figures with captions, tables); ``--only`` merges into an existing report; bad input exits
non-zero."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from bayesgen.cli import main, tour_densities, tour_sections, tour_sequences
from bayesgen.cli.tour import MANIFEST, SECTION_MODULES, load_manifest, section_registry

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr"}


class Page(HTMLParser):
    """The page's structure: ids, links, images, sections, captions, tables, nesting."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.sections: list[str] = []
        self.figcaptions: list[str] = []
        self.tables = 0
        self.stack: list[str] = []
        self.errors: list[str] = []
        self._caption: list[str] | None = None
        self.doctype = text.lstrip().lower().startswith("<!doctype html>")
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a["src"])
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "table":
            self.tables += 1
        if tag == "figcaption":
            self._caption = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag == "figcaption":
            self.figcaptions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data):
        if self._caption is not None:
            self._caption.append(data)


def _page(folder) -> tuple[str, Page]:
    text = (folder / "index.html").read_text(encoding="utf-8")
    return text, Page(text)


#: the classic half's sections, in page order
SECTIONS = tour_sections.SECTIONS + tour_sequences.SECTIONS + tour_densities.SECTIONS


def test_the_registry_collects_every_section_module_by_name():
    reg = section_registry()
    assert SECTION_MODULES[:3] == ("tour_sections", "tour_sequences", "tour_densities")
    assert list(reg)[: len(SECTIONS)] == [f.__name__.removesuffix("_section") for f in SECTIONS]
    assert {"student", "kde", "naive_bayes", "markov", "neural"} <= set(reg)


def test_tour_without_data_writes_the_whole_report(tmp_path, capsys, monkeypatch):
    """Every section of the classic half (the generative sections train models; each of their
    modules has its own test with short training)."""
    monkeypatch.delenv("BAYESGEN_DATA", raising=False)
    classic = [f.__name__.removesuffix("_section") for f in SECTIONS]
    assert main(["tour", "--out", str(tmp_path), "--only", *classic]) == 0
    out = capsys.readouterr().out
    text, page = _page(tmp_path)
    # valid HTML5 skeleton, every tag closed in order
    assert page.doctype and not page.errors and not page.stack
    assert "<html lang='en'>" in text and "<meta charset='utf-8'>" in text
    assert re.search(r"<title>[^<]+</title>", text) and "<style>" in text
    assert "<script" not in text and "http" not in text  # nothing external
    # one section per registered function; the contents link to each, and every link resolves
    assert page.sections == classic
    toc = [h[1:] for h in page.links if h.startswith("#") and not h.startswith("#fig-")]
    assert toc == page.sections
    assert all(h[1:] in page.ids for h in page.links if h.startswith("#"))
    assert len(page.ids) == len(set(page.ids))
    # the chapter's figures with its numbers, the report's own as A.k, each with a caption
    labels = [re.match(r"Figure (A\.\d+|\d+)\. ", c).group(1) for c in page.figcaptions]
    assert labels == ["1", "2", "A.1", "3", "4", "5", "6", "7", "16", "17", "18"]
    assert all(len(c) > 30 for c in page.figcaptions)
    for img in page.images:  # every figure exists and is a real image
        assert (tmp_path / img).stat().st_size > 5000
    assert len(page.images) == len(page.figcaptions) == 11
    assert page.tables >= 15
    # the student network's answers (the chapter's numbers) are in the tables
    for number in ("0.6950", "0.7377", "0.5460", "0.7856", "0.7648", "0.5346"):
        assert f"<td class='num'>{number}</td>" in text
    # the tables learnt back from 5,000 samples: within a few standard errors (0.004-0.02)
    errs = re.search(r"largest \|θ̂ − θ\|\s+—\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out)
    assert errs and max(float(e) for e in errs.groups()) < 0.05
    assert re.search(r"2\s+10,762\.1\s+-1\.7870\s+✓", out)  # BIC picks K = 2
    # each section says what it ran and how long it took
    assert len(re.findall(r"<span class='time'>\d+\.\d s</span>", text)) == len(page.sections)
    assert out.count("Skipped: no --data folder was given") == 2
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert list(manifest["sections"]) == page.sections


def test_only_merges_into_the_report_and_removes_stale_figures(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--only", "markov"]) == 0
    assert main(["tour", "--out", str(tmp_path), "--only", "student", "naive_bayes"]) == 0
    _, page = _page(tmp_path)
    assert page.sections == ["student", "naive_bayes", "markov"]  # the tour's order
    assert sorted(page.images) == ["markov_dag.png", "naive_bayes_dag.png", "student.png"]
    # a figure an earlier run of a section drew and this run does not is deleted; the other
    # sections and their figures stay
    path = tmp_path / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["sections"]["student"]["figures"].append(
        {"file": "student_old.png", "caption": "an older figure", "number": None}
    )
    path.write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "student_old.png").write_bytes(b"old")
    (tmp_path / "unrelated.png").write_bytes(b"not the tour's")
    assert len(load_manifest(tmp_path)["student"].figures) == 2
    assert main(["tour", "--out", str(tmp_path), "--only", "student"]) == 0
    text, page = _page(tmp_path)
    assert not (tmp_path / "student_old.png").exists()
    assert (tmp_path / "unrelated.png").exists()
    assert page.sections == ["student", "naive_bayes", "markov"]
    assert sorted(page.images) == ["markov_dag.png", "naive_bayes_dag.png", "student.png"]
    assert all((tmp_path / img).exists() for img in page.images)
    assert "Figure 4." in text and "Figure 3." in text
    assert "A Markov chain" in capsys.readouterr().out


def test_bad_data_folder_is_an_error(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "nonexistent"
    assert main(["tour", "--out", str(tmp_path / "r"), "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "--data must be an existing folder" in err and "nonexistent" in err
    assert not (tmp_path / "r" / "index.html").exists()
    monkeypatch.setenv("BAYESGEN_DATA", str(missing))
    assert main(["tour", "--out", str(tmp_path / "r"), "--only", "student"]) == 2
    assert "(from $BAYESGEN_DATA)" in capsys.readouterr().err


def test_a_broken_manifest_is_an_error(tmp_path, capsys):
    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    assert main(["tour", "--out", str(tmp_path), "--only", "student"]) == 2
    assert "is not a tour manifest" in capsys.readouterr().err


def test_tour_sections_on_real_text(data_dir, tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--data", str(data_dir), "--only", "ngram"]) == 0
    out = capsys.readouterr().out
    nll = [float(x) for x in re.findall(r"^  \d  \d\s+([\d.]+)\s+[\d.]+$", out, re.M)]
    assert len(nll) == 6 and nll[-1] < 1.55 and nll == sorted(nll, reverse=True)
    text, page = _page(tmp_path)
    assert page.sections == ["ngram"] and page.tables == 2 and "ROMEO" not in text[:200]


def test_tour_rejects_unknown_sections(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["tour", "--out", str(tmp_path), "--only", "nothing"])
    assert "invalid choice: 'nothing'" in capsys.readouterr().err
