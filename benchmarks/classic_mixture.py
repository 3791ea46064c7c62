"""Gaussian mixture EM: bayesgen.models.GaussianMixture against scikit-learn's GaussianMixture.

Both start from the same initial weights, means and precisions (scikit-learn's k-means
initialization) and run the same number of EM iterations with tol=0 on the same data; the table
gives the time per EM iteration, the speed-up, and the largest difference between the two fitted
models' per-sample log-likelihoods.

    python benchmarks/classic_mixture.py            # 100,000 x 10, k=10, every covariance type
    python benchmarks/classic_mixture.py --quick    # a small smoke run
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, timeit, write_json  # noqa: E402

__all__ = ["run"]

COLUMNS = [
    "case",
    "n",
    "d",
    "k",
    "device",
    "sklearn_ms",
    "bayesgen_ms",
    "speedup",
    "max_abs_diff_loglik",
]


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """k correlated Gaussian clusters in d dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    mix = rng.normal(scale=0.5, size=(k, d, d)) + np.eye(d)
    z = rng.integers(k, size=n)
    return centers[z] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mix[z])


def _em_case(X, k, ct, iters, repeats, device="cpu"):
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from bayesgen.models import GaussianMixture
    from bayesgen.models.mixture import ConvergenceWarning

    start = SkGaussianMixture(k, covariance_type=ct, max_iter=0, random_state=0).fit(X)
    init = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }
    opts = {"covariance_type": ct, "tol": 0.0, "max_iter": iters, **init}
    Xt = torch.as_tensor(X, device=device)
    fitted = {}

    def fit_sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkConvergenceWarning)
            fitted["sk"] = SkGaussianMixture(k, **opts).fit(X)

    def fit_ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted["ours"] = GaussianMixture(k, device=device, **opts).fit(Xt)
        if device != "cpu":
            torch.cuda.synchronize()

    t_sk = timeit(fit_sklearn, repeats=repeats, warmup=1) / iters
    t_ours = timeit(fit_ours, repeats=repeats, warmup=1) / iters
    ours, sk = fitted["ours"], fitted["sk"]
    if ours.n_iter_ != sk.n_iter_:
        raise RuntimeError(f"iteration counts differ: {ours.n_iter_} vs {sk.n_iter_}")
    diff = float(np.abs(ours.score_samples(Xt).cpu().numpy() - sk.score_samples(X)).max())
    return {
        "case": f"EM iteration, {ct}",
        "n": X.shape[0],
        "d": X.shape[1],
        "k": k,
        "device": device,
        "sklearn_ms": 1e3 * t_sk,
        "bayesgen_ms": 1e3 * t_ours,
        "speedup": t_sk / t_ours,
        "max_abs_diff_loglik": diff,
    }, (ours, sk, Xt)


def _score_case(ours, sk, X, Xt, repeats):
    t_sk = timeit(lambda: sk.score_samples(X), repeats=repeats)
    t_ours = timeit(lambda: ours.score_samples(Xt), repeats=repeats)
    diff = float(np.abs(ours.score_samples(Xt).cpu().numpy() - sk.score_samples(X)).max())
    return {
        "case": f"score_samples, {ours.covariance_type}",
        "n": X.shape[0],
        "d": X.shape[1],
        "k": ours.n_components,
        "device": str(Xt.device.type),
        "sklearn_ms": 1e3 * t_sk,
        "bayesgen_ms": 1e3 * t_ours,
        "speedup": t_sk / t_ours,
        "max_abs_diff_loglik": diff,
    }


def run(quick: bool = False) -> list[dict]:
    """Rows of the comparison; ``quick`` runs a 5,000-row problem for a few iterations."""
    n, d, k = (5_000, 5, 4) if quick else (100_000, 10, 10)
    iters, repeats = (3, 1) if quick else (10, 5)
    X = make_data(n, d, k)
    rows = []
    models = None
    for ct in ("full", "tied", "diag", "spherical"):
        row, fitted = _em_case(X, k, ct, iters, repeats)
        rows.append(row)
        if ct == "full":
            models = fitted
    ours, sk, Xt = models
    rows.append(_score_case(ours, sk, X, Xt, repeats))
    if torch.cuda.is_available():
        row, _ = _em_case(X, k, "full", iters, repeats, device="cuda")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    print_table(rows, COLUMNS, title="Gaussian mixture: bayesgen vs scikit-learn (time per call)")
    name = "classic_mixture_quick" if args.quick else "classic_mixture"
    path = write_json(
        name,
        {"rows": rows, "torch_threads": torch.get_num_threads(), "quick": args.quick},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
