"""Information theory and conjugate posteriors side by side with scipy / scikit-learn.

Same inputs, float64, answers checked before times count:
entropy, KL and Jensen–Shannon on a batch of probability rows (``scipy.stats.entropy``,
``scipy.spatial.distance.jensenshannon``); 1-D Wasserstein and energy distance on large weighted
samples (``scipy.stats``); RBF MMD² (sklearn's ``rbf_kernel`` + numpy); Beta credible intervals
and Dirichlet evidences for a batch of posteriors (``scipy.stats.beta.ppf``,
``scipy.special.gammaln``); Normal-Gamma intervals (``scipy.stats.t.ppf`` / ``gamma.ppf``).

    python benchmarks/info_posteriors.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import geomean, print_table, timeit, write_json  # noqa: E402

from bayesgen import info  # noqa: E402
from bayesgen.learning.posteriors import (  # noqa: E402
    BetaPosterior,
    DirichletPosterior,
    GaussianStats,
    NormalGammaPosterior,
)
from bayesgen.learning.priors import Beta, Dirichlet, NormalGamma  # noqa: E402

__all__ = ["run"]

COLUMNS = ["task", "size", "peer", "ours_s", "peer_s", "speedup", "max_err"]


def _row(task, size, peer, ours, ref, f_ours, f_peer, reps):
    err = float(np.max(np.abs(np.asarray(ours, dtype=float) - np.asarray(ref, dtype=float))))
    t_o = timeit(f_ours, repeats=reps)
    t_p = timeit(f_peer, repeats=reps)
    return dict(
        task=task, size=size, peer=peer, ours_s=t_o, peer_s=t_p, speedup=t_p / t_o, max_err=err
    )


def run(quick: bool = False) -> list[dict]:
    import scipy.special as sp
    import scipy.stats as st
    from scipy.spatial.distance import jensenshannon
    from sklearn.metrics.pairwise import rbf_kernel

    rng = np.random.default_rng(0)
    reps = 3 if quick else 5
    rows = []

    # tables: (B, K) probability rows
    b, k = (1000, 100) if quick else (10_000, 1000)
    p_np = rng.random((b, k))
    p_np /= p_np.sum(1, keepdims=True)
    q_np = rng.random((b, k))
    q_np /= q_np.sum(1, keepdims=True)
    p, q = torch.from_numpy(p_np), torch.from_numpy(q_np)
    size = f"{b}x{k}"
    rows.append(
        _row(
            "entropy (table rows)",
            size,
            "scipy.stats.entropy",
            info.entropy(p).numpy(),
            st.entropy(p_np, axis=1),
            lambda: info.entropy(p),
            lambda: st.entropy(p_np, axis=1),
            reps,
        )
    )
    rows.append(
        _row(
            "KL (table rows)",
            size,
            "scipy.stats.entropy(p, q)",
            info.kl_divergence(p, q).numpy(),
            st.entropy(p_np, q_np, axis=1),
            lambda: info.kl_divergence(p, q),
            lambda: st.entropy(p_np, q_np, axis=1),
            reps,
        )
    )
    rows.append(
        _row(
            "JS distance (table rows)",
            size,
            "scipy jensenshannon",
            info.js_distance(p, q).numpy(),
            jensenshannon(p_np, q_np, axis=1),
            lambda: info.js_distance(p, q),
            lambda: jensenshannon(p_np, q_np, axis=1),
            reps,
        )
    )

    # 1-D sample sets with weights
    n = 20_000 if quick else 1_000_000
    x_np, y_np = rng.normal(size=n), 1.5 * rng.normal(size=n // 2) + 0.3
    wx_np, wy_np = rng.random(n), rng.random(n // 2)
    x, y, wx, wy = (torch.from_numpy(a) for a in (x_np, y_np, wx_np, wy_np))
    size = f"{n} vs {n // 2}, weighted"
    rows.append(
        _row(
            "Wasserstein-1, 1-D",
            size,
            "scipy.stats.wasserstein_distance",
            info.wasserstein_distance(x, y, x_weights=wx, y_weights=wy).item(),
            st.wasserstein_distance(x_np, y_np, wx_np, wy_np),
            lambda: info.wasserstein_distance(x, y, x_weights=wx, y_weights=wy),
            lambda: st.wasserstein_distance(x_np, y_np, wx_np, wy_np),
            reps,
        )
    )
    rows.append(
        _row(
            "energy distance, 1-D",
            size,
            "scipy.stats.energy_distance",
            info.energy_distance(x, y, x_weights=wx, y_weights=wy).item(),
            st.energy_distance(x_np, y_np, wx_np, wy_np),
            lambda: info.energy_distance(x, y, x_weights=wx, y_weights=wy),
            lambda: st.energy_distance(x_np, y_np, wx_np, wy_np),
            reps,
        )
    )

    # MMD² with an RBF kernel
    m, d = (500, 5) if quick else (4000, 10)
    a_np, b_np = rng.normal(size=(m, d)), rng.normal(size=(m, d)) + 0.1
    a, bb = torch.from_numpy(a_np), torch.from_numpy(b_np)
    h = 2.0

    def peer_mmd():
        g = 1 / (2 * h * h)
        kxx, kyy = rbf_kernel(a_np, gamma=g), rbf_kernel(b_np, gamma=g)
        kxy = rbf_kernel(a_np, b_np, gamma=g)
        return (kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - m) / (m * (m - 1)) - 2 * kxy.mean()

    rows.append(
        _row(
            "MMD² unbiased, RBF",
            f"{m} vs {m}, D={d}",
            "sklearn rbf_kernel + numpy",
            info.mmd2(a, bb, bandwidth=h).item(),
            peer_mmd(),
            lambda: info.mmd2(a, bb, bandwidth=h),
            peer_mmd,
            reps,
        )
    )

    # Beta posteriors: 95% intervals of a batch
    nb = 500 if quick else 10_000
    counts_np = rng.integers(0, 200, size=(nb, 2)).astype(float)
    post = BetaPosterior(Beta(0.5, 0.5), torch.from_numpy(counts_np))
    aa, bbeta = counts_np[:, 1] + 0.5, counts_np[:, 0] + 0.5
    lo, hi = post.credible_interval(0.95)
    ours = np.stack([lo.numpy(), hi.numpy()])
    ref = np.stack([st.beta.ppf(0.025, aa, bbeta), st.beta.ppf(0.975, aa, bbeta)])
    rows.append(
        _row(
            "Beta 95% interval",
            f"{nb} posteriors",
            "scipy.stats.beta.ppf",
            ours,
            ref,
            lambda: post.credible_interval(0.95),
            lambda: (st.beta.ppf(0.025, aa, bbeta), st.beta.ppf(0.975, aa, bbeta)),
            reps,
        )
    )

    # Dirichlet evidence of a CPT: (rows, K)
    rk = (500, 10) if quick else (100_000, 10)
    c_np = rng.integers(0, 50, size=rk).astype(float)
    alpha = 0.7

    def peer_lml():
        return (
            sp.gammaln(alpha * rk[1])
            - sp.gammaln(alpha * rk[1] + c_np.sum(1))
            + (sp.gammaln(alpha + c_np) - sp.gammaln(alpha)).sum(1)
        )

    c = torch.from_numpy(c_np)
    rows.append(
        _row(
            "Dirichlet log evidence",
            f"{rk[0]}x{rk[1]} table",
            "scipy.special.gammaln",
            DirichletPosterior(Dirichlet(alpha), c).log_marginal_likelihood.numpy(),
            peer_lml(),
            lambda: DirichletPosterior(Dirichlet(alpha), c).log_marginal_likelihood,
            peer_lml,
            reps,
        )
    )

    # Normal-Gamma: intervals of (μ, λ) for a batch of Gaussian columns
    ng = 200 if quick else 2000
    data = torch.from_numpy(rng.normal(size=(30, ng)) * 2 + 1)
    ngp = NormalGammaPosterior(NormalGamma(0.0, 1.0, 2.0, 2.0), GaussianStats.from_data(data))
    an, bn = ngp.concentration.numpy(), ngp.rate.numpy()
    kn, mun = ngp.kappa.numpy(), ngp.loc.numpy()

    def peer_ng():
        s = np.sqrt(bn / (an * kn))
        return (
            st.t.ppf(0.025, 2 * an, mun, s),
            st.gamma.ppf(0.025, an, scale=1 / bn),
            st.t.ppf(0.975, 2 * an, mun, s),
            st.gamma.ppf(0.975, an, scale=1 / bn),
        )

    lo, hi = ngp.credible_interval(0.95)
    ours = np.stack([lo[:, 0].numpy(), lo[:, 1].numpy(), hi[:, 0].numpy(), hi[:, 1].numpy()])
    rows.append(
        _row(
            "Normal-Gamma 95% intervals",
            f"{ng} posteriors",
            "scipy t.ppf / gamma.ppf",
            ours,
            np.stack(peer_ng()),
            lambda: ngp.credible_interval(0.95),
            peer_ng,
            reps,
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.quick)
    print_table(rows, COLUMNS, title="bayesgen.info and learning.posteriors vs scipy / sklearn")
    print(
        f"\ngeometric mean speedup (peer time / ours): {geomean([r['speedup'] for r in rows]):.3g}"
    )
    bad = [r["task"] for r in rows if not r["max_err"] <= 1e-8]
    write_json(
        "info_posteriors" + ("_quick" if args.quick else ""),
        {"rows": rows, "quick": args.quick, "torch_threads": torch.get_num_threads()},
    )
    if bad:
        raise SystemExit(f"answers disagree with the peer: {bad}")


if __name__ == "__main__":
    main()
