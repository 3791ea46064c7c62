"""Probability query strings: ``"P(x1 | x2=0)"``, ``"P(x2, x3)"``, ``"P(A | B=b, C=c)"``."""

from __future__ import annotations

import re

__all__ = ["parse_query", "parse_evidence", "format_query"]

_QUERY = re.compile(r"^\s*P\s*\((?P<body>.*)\)\s*$", re.DOTALL)


def parse_query(text: str, *, unbound: bool = False) -> tuple[list[str], dict[str, str | None]]:
    """Split a query string into target names and an evidence mapping (values are labels).

    >>> parse_query("P(x1 | x2=0, x3=1)")
    (['x1'], {'x2': '0', 'x3': '1'})

    With ``unbound=True`` an evidence name may come without a value (``"P(T | A, B)"``): its
    value is ``None``, to be filled per row from a table of evidence.
    """
    if not isinstance(text, str):
        raise TypeError(f"a query is a string like 'P(x1 | x2=0)', got {type(text).__name__}")
    match = _QUERY.match(text)
    if not match:
        raise ValueError(f"malformed query {text!r}: expected the form 'P(x1, x2 | x3=s, x4=t)'")
    body = match["body"]
    if body.count("|") > 1:
        raise ValueError(f"malformed query {text!r}: more than one '|'")
    targets_text, _, evidence_text = body.partition("|")
    targets = [t.strip() for t in targets_text.split(",")]
    if not all(targets):
        raise ValueError(f"malformed query {text!r}: empty target name")
    evidence: dict[str, str | None] = {}
    if evidence_text.strip():
        evidence = parse_evidence(evidence_text, unbound=unbound, where=f"query {text!r}")
    elif "|" in body:
        raise ValueError(f"malformed query {text!r}: nothing after '|'")
    overlap = [t for t in targets if t in evidence]
    if overlap:
        raise ValueError(f"malformed query {text!r}: {overlap} both queried and observed")
    return targets, evidence


def parse_evidence(
    text: str, *, unbound: bool = False, where: str = "evidence"
) -> dict[str, str | None]:
    """``"A=a, B=b"`` → ``{"A": "a", "B": "b"}`` (``"A"`` alone → ``{"A": None}`` if unbound)."""
    evidence: dict[str, str | None] = {}
    for item in text.split(","):
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not name or (eq and not value) or (not eq and not unbound):
            raise ValueError(
                f"malformed {where}: evidence item {item.strip()!r} is not 'name=state'"
            )
        if name in evidence:
            raise ValueError(f"malformed {where}: {name!r} observed twice")
        evidence[name] = value if eq else None
    return evidence


def format_query(targets, evidence=None) -> str:
    """The inverse of :func:`parse_query`."""
    targets = [targets] if isinstance(targets, str) else list(targets)
    head = ", ".join(targets)
    if evidence:
        return f"P({head} | " + ", ".join(f"{k}={v}" for k, v in evidence.items()) + ")"
    return f"P({head})"
