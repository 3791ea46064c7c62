"""``bayesgen query NETWORK "P(x1 | x2=0)"``: exact posteriors, MPE, batches of evidence."""

from __future__ import annotations

import json
import sys

from ..query import parse_evidence, parse_query
from ._common import add_network_argument, load_network
from .fit import read_header

__all__ = ["register"]

_DIGITS = 4  # decimals printed by default


def register(sub) -> None:
    p = sub.add_parser(
        "query",
        help="exact posterior P(targets | evidence), most probable explanation",
        description=(
            "Answer P(targets | evidence) exactly. Examples: 'P(x1 | x2=0)', 'P(x2, x3)', "
            "'P(A | B=b, C=c)'. With --mpe the query lists the evidence ('B=b, C=c' or "
            "'P(A, B | C=c)' for a marginal MAP over A, B). With --rows, 'P(T | A, B)' reads "
            "the values of A and B per row from a CSV (empty cells: unobserved)."
        ),
    )
    add_network_argument(p)
    p.add_argument("query", nargs="?", default="", help="the query, e.g. 'P(x1 | x2=0)'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--mpe",
        nargs="?",
        const="",
        default=None,
        metavar="EVIDENCE",
        help="the most probable state of every other variable given 'B=b, C=c'",
    )
    p.add_argument("--rows", metavar="CSV", help="evidence rows, one query per row, in one pass")
    p.add_argument("--out", metavar="CSV", help="with --rows: where to write the posteriors")
    p.add_argument(
        "--digits",
        type=int,
        default=None,
        help="decimals printed, 0 to 17 (default 4; with --rows: every digit unless given)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    if args.digits is not None and not 0 <= args.digits <= 17:
        raise ValueError(f"--digits must be an int from 0 to 17, got {args.digits}")
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
        print(result.to_string(digits=_DIGITS if args.digits is None else args.digits))
    return 0


def _mpe(net, args) -> int:
    text = (args.mpe or args.query).strip()
    if text.startswith("P("):
        targets, evidence = parse_query(text)
    else:
        targets, evidence = None, parse_evidence(text) if text else {}
    result = net.map(targets, evidence) if targets else net.mpe(evidence)
    print(
        json.dumps(result.to_dict())
        if args.json
        else result.to_string(max(1, args.digits or _DIGITS))
    )
    return 0


def _rows(net, args) -> int:
    targets, evidence = parse_query(args.query, unbound=True)
    import pandas as pd

    bound = {k: v for k, v in evidence.items() if v is not None}
    read_header(args.rows)  # a missing file, or a repeated column, is one clear line
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
    fmt = None if args.digits is None else f"%.{args.digits}f"
    if args.out:
        table.to_csv(args.out, index=False, float_format=fmt)
        print(f"wrote {n} posterior rows to {args.out}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False, float_format=fmt)
    return 0
