"""``bayesgen fit NETWORK data.csv [--prior bdeu --ess 10] --out fitted.json``: learn the
parameters of a network's structure from a CSV (missing cells allowed: EM), written as JSON that
``bayesgen query`` reads."""

from __future__ import annotations

import csv
import sys
import time
from typing import TYPE_CHECKING

from ._common import add_network_argument, load_network

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register", "read_csv", "read_header"]

PRIORS = ("none", "bdeu", "k2", "dirichlet")
#: cells read as missing
NA_VALUES = ["", "NA", "NaN", "nan", "?"]


def register(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="learn a network's probabilities from a CSV",
        description=(
            "Learn the probability tables (and Gaussians) of a network from a CSV file with one "
            "column per variable and state labels in the cells; the network's graph is kept. "
            "Empty cells are missing values: the probabilities are then fitted by EM. A "
            "variable without a column is hidden (latent)."
        ),
    )
    add_network_argument(p)
    p.add_argument("data", help="CSV file with a header row naming the variables")
    p.add_argument("--out", required=True, metavar="JSON", help="where to write the fitted network")
    p.add_argument(
        "--prior", default="none", help=f"one of {', '.join(PRIORS)} (default none: MLE)"
    )
    p.add_argument("--ess", type=float, default=10.0, help="BDeu equivalent sample size (10)")
    p.add_argument("--alpha", type=float, default=1.0, help="Dirichlet pseudo-count per cell (1)")
    p.add_argument(
        "--estimate",
        default="mean",
        choices=("mean", "mode"),
        help="posterior mean (default) or mode (MAP) of the tables under the prior",
    )
    p.add_argument("--max-iter", type=int, default=100, help="EM iterations at most (100)")
    p.add_argument("--tol", type=float, default=1e-6, help="EM relative tolerance (1e-6)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def _prior(args):
    from ..learning import priors

    name = args.prior.lower()
    if name == "none":
        return None
    if name == "bdeu":
        return priors.BDeu(args.ess)
    if name == "k2":
        return priors.K2()
    if name == "dirichlet":
        return priors.Dirichlet(args.alpha)
    raise ValueError(f"--prior must be one of {', '.join(PRIORS)}, got {args.prior!r}")


def read_header(path: str) -> list[str]:
    """The column names of the CSV file ``path`` as written (pandas renames a repeated column
    ``x`` to ``x.1``); a missing file, an empty one or a repeated column is a one-line error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not a CSV file") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"cannot read {path} as CSV: {err}") from None
    if not header:
        raise ValueError(
            f"cannot read {path} as CSV: it is empty (expected a header row naming the variables)"
        )
    names = [c.strip() for c in header]
    seen: set[str] = set()
    dup = sorted({c for c in names if c in seen or seen.add(c)})
    if dup:
        raise ValueError(f"{path}: repeated column(s) {dup}")
    return names


def read_csv(path: str, net) -> pd.DataFrame:
    """Read ``path`` as text cells and check it against ``net``: known columns, numeric
    continuous columns, and no column that never varies. Errors are one line."""
    import numpy as np
    import pandas as pd

    read_header(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=NA_VALUES)
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"cannot read {path} as CSV: {first}") from None
    if frame.empty:
        raise ValueError(f"{path} has no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    variables = net.variables
    unknown = [c for c in frame.columns if c not in variables]
    if unknown:
        raise ValueError(
            f"{path}: unknown column(s) {unknown}; the network's variables are "
            f"{list(net.variables)}"
        )
    dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dup:
        raise ValueError(f"{path}: repeated column(s) {dup}")
    for col in frame.columns:
        var = variables[col]
        if not var.is_discrete:
            numbers = pd.to_numeric(frame[col], errors="coerce")
            bad = frame[col].notna() & numbers.isna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(
                    f"{path}: column {col!r} is continuous but row {row + 1} holds "
                    f"{frame[col].iloc[row]!r}"
                )
            frame[col] = numbers.astype(float)
        else:
            frame[col] = frame[col].str.strip()
        observed = frame[col].dropna()
        if observed.nunique() <= 1:
            what = (
                f"every observed value is {observed.iloc[0]!r}" if len(observed) else "it is empty"
            )
            raise ValueError(
                f"{path}: column {col!r} never varies ({what}); nothing can be learned from it"
            )
    return frame


def run(args) -> int:
    prior = _prior(args)
    net = load_network(args.network)
    frame = read_csv(args.data, net)
    from ..learning.encoding import encode_data

    values = encode_data(net, frame, allow_missing=True)  # unknown states fail here, in one line
    show = not args.quiet
    missing_cells = int(frame.isna().to_numpy().sum())
    latent = [v for v in net.variables if v not in frame.columns]
    if show:
        extra = f", {missing_cells} missing cell(s)" if missing_cells else ""
        extra += f", latent {latent}" if latent else ""
        print(
            f"fitting {len(net)} factors of {net.name or args.network!r} from {len(frame)} rows"
            f"{extra}",
            file=sys.stderr,
        )
    start = time.perf_counter()
    net.fit(
        values,
        prior=prior,
        estimate=args.estimate,
        max_iter=args.max_iter,
        tol=args.tol,
        verbose=show and sys.stderr.isatty(),
    )
    report = net.fit_report_
    from ..io.json import save

    save(net, args.out)
    if show:
        how = report.method
        if how == "em":
            how = f"EM, {report.n_iter} iterations, log-likelihood {report.log_likelihood[-1]:.6g}"
            if not report.converged:
                how += " (not converged: raise --max-iter)"
        print(
            f"fitted by {how} in {time.perf_counter() - start:.2f} s; wrote {args.out}",
            file=sys.stderr,
        )
    return 0
