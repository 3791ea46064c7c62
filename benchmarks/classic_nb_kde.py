"""Naive Bayes and KDE side by side with scikit-learn and scipy, on the same inputs.

KDE: Gaussian kernel in 2-D, 20,000 training points evaluated at 20,000 queries (float64):
bayesgen ``KDE(h)`` vs ``sklearn.neighbors.KernelDensity(bandwidth=h)`` and bayesgen
``KDE('scott')`` vs ``scipy.stats.gaussian_kde(bw_method='scott')``; also the compact kernels
against KernelDensity. Naive Bayes: fit and predict_proba against GaussianNB, BernoulliNB,
CategoricalNB and MultinomialNB on digits and on larger synthetic data. Every row checks that
the answers agree before its times count.

    python benchmarks/classic_nb_kde.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import geomean, print_table, timeit, write_json  # noqa: E402

from bayesgen.models.kde import KDE  # noqa: E402
from bayesgen.models.naive_bayes import NaiveBayes  # noqa: E402

__all__ = ["run"]

COLUMNS = ["task", "size", "peer", "ours_s", "peer_s", "speedup", "max_err"]


def _density_err(ours: np.ndarray, ref: np.ndarray) -> float:
    """max |p - p_ref| / max p_ref over the queries (the tests' 1e-8 criterion)."""
    return float(np.max(np.abs(ours - ref)) / np.max(ref))


def _kde_rows(quick: bool) -> list[dict]:
    from scipy.stats import gaussian_kde
    from sklearn.neighbors import KernelDensity

    n = 2000 if quick else 20000
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    X = rng.multivariate_normal([0, 0], cov, size=n)  # (n, 2)
    Q = rng.multivariate_normal([0, 0], cov, size=n)  # (n, 2) queries
    size = f"{n}x{n}, D=2"
    rows = []
    reps = 3 if quick else 1

    def once(fn):
        return timeit(fn, repeats=reps, warmup=1 if quick else 0)

    h = 0.1
    ours = KDE(h).fit(X)
    sk = KernelDensity(bandwidth=h).fit(X)
    p_ours = ours.score_samples(Q).exp().numpy()
    p_sk = np.exp(sk.score_samples(Q))
    t_ours = once(lambda: ours.score_samples(Q))
    t_sk = once(lambda: sk.score_samples(Q))
    rows.append(
        dict(
            task="KDE gaussian h=0.1",
            size=size,
            peer="sklearn KernelDensity",
            ours_s=t_ours,
            peer_s=t_sk,
            speedup=t_sk / t_ours,
            max_err=_density_err(p_ours, p_sk),
        )
    )

    ours_s = KDE("scott").fit(X)
    g = gaussian_kde(X.T, bw_method="scott")
    p_ours = ours_s.score_samples(Q).exp().numpy()
    p_sp = g.pdf(Q.T)
    t_ours_s = once(lambda: ours_s.score_samples(Q))
    t_sp = once(lambda: g.pdf(Q.T))
    rows.append(
        dict(
            task="KDE gaussian 'scott' (full H)",
            size=size,
            peer="scipy gaussian_kde",
            ours_s=t_ours_s,
            peer_s=t_sp,
            speedup=t_sp / t_ours_s,
            max_err=_density_err(p_ours, p_sp),
        )
    )
    best_peer = min(t_sk, t_sp)
    rows.append(
        dict(
            task="KDE gaussian: faster peer vs slower of ours",
            size=size,
            peer="min(sklearn, scipy)",
            ours_s=max(t_ours, t_ours_s),
            peer_s=best_peer,
            speedup=best_peer / max(t_ours, t_ours_s),
            max_err=0.0,
        )
    )

    for kernel in ("epanechnikov", "tophat"):
        ours_k = KDE(0.1, kernel).fit(X)
        sk_k = KernelDensity(bandwidth=0.1, kernel=kernel).fit(X)
        p_ours = ours_k.score_samples(Q).exp().numpy()
        p_sk = np.exp(sk_k.score_samples(Q))
        t_o = once(lambda k=ours_k: k.score_samples(Q))
        t_p = once(lambda k=sk_k: k.score_samples(Q))
        rows.append(
            dict(
                task=f"KDE {kernel} h=0.1",
                size=size,
                peer="sklearn KernelDensity",
                ours_s=t_o,
                peer_s=t_p,
                speedup=t_p / t_o,
                max_err=_density_err(p_ours, p_sk),
            )
        )
    return rows


def _nb_rows(quick: bool) -> list[dict]:
    from sklearn import datasets
    from sklearn import naive_bayes as sknb

    Xd, yd = datasets.load_digits(return_X_y=True)
    rng = np.random.default_rng(1)
    n_big = 20_000 if quick else 200_000
    C = 5
    yb = rng.integers(0, C, n_big)
    Xg = rng.normal(size=(n_big, 50)) + yb[:, None] * 0.1  # (n, 50) Gaussian features
    Xc = rng.integers(0, 8, size=(n_big, 50)).astype(float)  # (n, 50) categorical codes
    Xm = rng.poisson(2.0, size=(n_big // 4, 2000)).astype(float)  # (n/4, 2000) counts
    ym = yb[: n_big // 4]
    cases = [
        ("digits", "gaussian", sknb.GaussianNB(), Xd, yd, {}),
        ("digits", "bernoulli", sknb.BernoulliNB(binarize=7.0), Xd, yd, {"binarize": 7.0}),
        ("digits", "categorical", sknb.CategoricalNB(), Xd, yd, {}),
        ("digits", "multinomial", sknb.MultinomialNB(), Xd, yd, {}),
        (f"{n_big}x50", "gaussian", sknb.GaussianNB(), Xg, yb, {}),
        (f"{n_big}x50 (8 states)", "categorical", sknb.CategoricalNB(), Xc, yb, {}),
        (f"{n_big // 4}x2000", "multinomial", sknb.MultinomialNB(), Xm, ym, {}),
    ]
    rows = []
    reps = 3 if quick else 5
    for size, kind, sk, X, y, kw in cases:
        Xt = torch.from_numpy(X)  # ours takes tensors; conversion is not timed for either side
        ours = NaiveBayes(kind, **kw)
        t_fit = timeit(lambda o=ours, X=Xt, y=y: o.fit(X, y), repeats=reps)
        t_sk_fit = timeit(lambda s=sk, X=X, y=y: s.fit(X, y), repeats=reps)
        err = float(np.abs(ours.predict_proba(Xt).numpy() - sk.predict_proba(X)).max())
        t_pred = timeit(lambda o=ours, X=Xt: o.predict_proba(X), repeats=reps)
        t_sk_pred = timeit(lambda s=sk, X=X: s.predict_proba(X), repeats=reps)
        peer = type(sk).__name__
        rows.append(
            dict(
                task=f"NaiveBayes {kind} fit",
                size=size,
                peer=peer,
                ours_s=t_fit,
                peer_s=t_sk_fit,
                speedup=t_sk_fit / t_fit,
                max_err=err,
            )
        )
        rows.append(
            dict(
                task=f"NaiveBayes {kind} predict_proba",
                size=size,
                peer=peer,
                ours_s=t_pred,
                peer_s=t_sk_pred,
                speedup=t_sk_pred / t_pred,
                max_err=err,
            )
        )
    return rows


def run(quick: bool, threads: int | None = 1) -> list[dict]:
    """All rows (KDE then naive Bayes); raises if any answer disagrees with its peer.

    ``threads``: torch intra-op threads during the run (None: leave torch's setting). The
    default 1 matches the peers, which evaluate on one core, and keeps the timings stable on a
    shared machine, where OpenMP's fork/join across busy cores can cost more than it saves.
    """
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        rows = _kde_rows(quick) + _nb_rows(quick)
    finally:
        torch.set_num_threads(saved)
    for r in rows:
        r["torch_threads"] = threads if threads is not None else saved
    for r in rows:
        tol = 1e-8 if r["task"].startswith("KDE") else 1e-6
        if not r["max_err"] <= tol:
            raise AssertionError(f"{r['task']} ({r['size']}): error {r['max_err']:.3g} > {tol}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1, like the peers; 0: torch's own choice)",
    )
    args = parser.parse_args(argv)
    rows = run(args.quick, args.threads or None)
    print_table(
        rows,
        COLUMNS,
        title=f"naive Bayes and KDE vs scikit-learn / scipy "
        f"(torch threads: {rows[0]['torch_threads']})",
    )
    print(f"\ngeometric mean speedup: {geomean([r['speedup'] for r in rows]):.3g}")
    path = write_json("classic_nb_kde" + ("_quick" if args.quick else ""), rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
