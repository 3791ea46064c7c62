"""``bayesgen query NETWORK "P(x1 | x2=0)"``: exact posteriors, MPE, batches of evidence."""

from __future__ import annotations

import json
import sys

import pandas as pd

from ..query import parse_evidence, parse_query
from ._common import load_network

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "query",
        help="exact posterior P(targets | evidence)",
        description=(
            "Answer P(targets | evidence) exactly. Examples: 'P(x1 | x2=0)', 'P(x2, x3)', "
            "'P(A | B=b, C=c)'. With --mpe the query lists the evidence ('B=b, C=c' or "
            "'P(A, B | C=c)' for a marginal MAP over A, B). With --rows, 'P(T | A, B)' reads "
            "the values of A and B per row from a CSV (empty cells: unobserved)."
        ),
    )
    p.add_argument("network", help="built-in name, bnlearn name, or a .bif/.json path")
    p.add_argument("query", nargs="?", default="", help="the query string")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--mpe",
        nargs="?",
        const="",
        default=None,
        metavar="EVIDENCE",
        help="most probable explanation (max-product) given 'B=b, C=c'",
    )
    p.add_argument("--rows", metavar="CSV", help="evidence rows, one query per row, in one pass")
    p.add_argument("--out", metavar="CSV", help="with --rows: where to write the posteriors")
    p.add_argument("--digits", type=int, default=4, help="decimals printed (default 4)")
    p.set_defaults(func=run)


def run(args) -> int:
    net = load_network(args.network)
    if args.mpe is not None:
        return _mpe(net, args)
    if not args.query:
        raise ValueError("a query is required, e.g. 'P(x1 | x2=0)'")
    if args.rows:
        return _rows(net, args)
    targets, evidence = parse_query(args.query)
    result = net.query(targets, evidence)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.to_string(digits=args.digits) if hasattr(result, "to_string") else result)
    return 0


def _mpe(net, args) -> int:
    text = (args.mpe or args.query).strip()
    if text.startswith("P("):
        targets, evidence = parse_query(text)
    else:
        targets, evidence = None, parse_evidence(text) if text else {}
    result = net.map(targets, evidence) if targets else net.mpe(evidence)
    print(json.dumps(result.to_dict()) if args.json else result)
    return 0


def _rows(net, args) -> int:
    targets, evidence = parse_query(args.query, unbound=True)
    bound = {k: v for k, v in evidence.items() if v is not None}
    try:
        frame = pd.read_csv(args.rows, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError) as err:
        raise ValueError(f"cannot read evidence rows from {args.rows}: {err}") from None
    wanted = [k for k, v in evidence.items() if v is None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{args.rows} has no column(s) {missing}; columns are {list(frame.columns)}"
        )
    rows = {c: net.variables[net._check(c)].encode(frame[c].to_numpy(object)) for c in wanted}
    n = len(frame)
    rows.update({k: [v] * n for k, v in bound.items()})
    result = net.query(targets, rows)
    table = result.to_pandas()
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {n} posterior rows to {args.out}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return 0
