"""Probability query strings: ``"P(x1 | x2=0)"``, ``"P(x2, x3)"``, ``"P(A | B=b, C=c)"``."""

from __future__ import annotations

import re

__all__ = ["parse_query", "format_query"]

_QUERY = re.compile(r"^\s*P\s*\((?P<body>.*)\)\s*$", re.DOTALL)


def parse_query(text: str) -> tuple[list[str], dict[str, str]]:
    """Split a query string into target names and an evidence mapping (values are labels).

    >>> parse_query("P(x1 | x2=0, x3=1)")
    (['x1'], {'x2': '0', 'x3': '1'})
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
    evidence: dict[str, str] = {}
    if evidence_text.strip():
        for item in evidence_text.split(","):
            name, eq, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not eq or not name or not value:
                raise ValueError(
                    f"malformed query {text!r}: evidence item {item.strip()!r} is not 'name=state'"
                )
            if name in evidence:
                raise ValueError(f"malformed query {text!r}: {name!r} observed twice")
            evidence[name] = value
    elif "|" in body:
        raise ValueError(f"malformed query {text!r}: nothing after '|'")
    overlap = [t for t in targets if t in evidence]
    if overlap:
        raise ValueError(f"malformed query {text!r}: {overlap} both queried and observed")
    return targets, evidence


def format_query(targets, evidence=None) -> str:
    """The inverse of :func:`parse_query`."""
    targets = [targets] if isinstance(targets, str) else list(targets)
    head = ", ".join(targets)
    if evidence:
        return f"P({head} | " + ", ".join(f"{k}={v}" for k, v in evidence.items()) + ")"
    return f"P({head})"
