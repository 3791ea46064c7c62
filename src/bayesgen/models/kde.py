"""The naive formulations of §2.2.1: the empirical distribution (eq. 13) and KDE (eq. 14).

Empirical distribution of a data set D = {x^1, ..., x^K} (weights w_k, Σ w_k = 1):

    p_D(x) = Σ_k w_k δ_{x^k}(x)                                               (eq. 13)

Kernel density estimation smooths every Dirac into a kernel of bandwidth matrix H = L Lᵀ:

    KDE(x) = Σ_k w_k K_H(x - x^k),   K_H(u) = |H|^{-1/2} K(H^{-1/2} u)      (eq. 14)

with K a unit-scale radial density: Gaussian exp(-r²/2)/(2π)^{D/2}, top-hat 1[r < 1]/V_D,
Epanechnikov (1 - r²)_+ (D + 2)/(2 V_D), exponential exp(-r)/(S_{D-1} Γ(D)), linear
(1 - r)_+ (D + 1)/V_D (V_D the volume of the unit ball, S_{D-1} its surface). A scalar bandwidth
h is H = h² I (scikit-learn's and the seed's h); 'scott' / 'silverman' is H = f² Cov(D) with
f = n_eff^{-1/(D+4)} or (n_eff (D+2)/4)^{-1/(D+4)} (scipy's gaussian_kde). As a Bayesian network
KDE is a mixture with a uniform prior over the data index: z -> x, z ~ Categorical(w),
x | z ~ K_H(x - x^z); sampling is ancestral (resample a point, add kernel noise).

Evaluation is chunked and exact to ``rtol`` (1e-13 by default): points are whitened by L and
split into KD-tree leaves (blocks of queries, groups of training points). Each (block, group)
pair is skipped when its bounding boxes prove its contribution zero (compact kernels) or
negligible, summed directly (-r²/2 as one matmul of augmented matrices around the block's
centre), or, for the Gaussian kernel, expanded in a Taylor series of e^{a·b} (a fast Gauss
transform) whose truncation error is bounded a priori; the cheaper exact path is chosen per
pair from a cost model. Sums are in linear space relative to each block's largest term; the few
queries whose sum still underflows are redone with an exact log-sum-exp. Blocks are sized from
``chunk_bytes``, so memory stays bounded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.distributions import (
    Beta,
    Categorical,
    Distribution,
    Gamma,
    MixtureSameFamily,
    MultivariateNormal,
    constraints,
)

from ..factors import Table
from ..network import BayesNet
from ..variables import Continuous, Discrete
from .base import Model, forked_rng
from .kde_network import KernelFactor

__all__ = [
    "KDE",
    "EmpiricalDistribution",
    "KERNELS",
    "scott_factor",
    "silverman_factor",
    "log_kernel_norm",
    "log_kernel_sums",
]

KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear")
_CHUNK_BYTES = 1 << 25  # 32 MiB per block of kernel values


# ------------------------------------------------------------------------ building blocks
def scott_factor(n_eff: float, d: int) -> float:
    """Scott's rule: f = n_eff^{-1/(d+4)}."""
    return float(n_eff) ** (-1.0 / (d + 4))


def silverman_factor(n_eff: float, d: int) -> float:
    """Silverman's rule: f = (n_eff (d+2) / 4)^{-1/(d+4)}."""
    return (float(n_eff) * (d + 2) / 4.0) ** (-1.0 / (d + 4))


def log_kernel_norm(kernel: str, d: int) -> float:
    """log of the constant c_K making the unit-scale radial kernel c_K k(r) a density on R^d."""
    log_v = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)  # unit ball volume V_d
    if kernel == "gaussian":
        return -0.5 * d * math.log(2 * math.pi)
    elif kernel == "tophat":
        return -log_v
    elif kernel == "epanechnikov":
        return -log_v - math.log(2.0 / (d + 2))
    elif kernel == "exponential":
        return -(math.log(d) + log_v + math.lgamma(d))  # S_{d-1} = d V_d
    elif kernel == "linear":
        return -log_v + math.log(d + 1.0)
    else:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")


def _as_points(X, name: str, dtype, device, d: int | None = None) -> Tensor:
    """(N, D) float tensor from an array-like; 1-D input is N points in D = 1."""
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):
        X = X.to_numpy(dtype=np.float64)
    if not isinstance(X, Tensor):
        try:
            X = torch.from_numpy(np.array(X, dtype=np.float64))
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a numeric array (n_samples, n_features): {e}") from e
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D (n_samples, n_features); got shape {tuple(X.shape)}"
        )
    if d is not None and X.shape[1] != d:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the KDE was fitted with n_features_in_={d}"
        )
    X = X.to(device=device, dtype=dtype)
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return X


def _kernel_(E: Tensor, kernel: str) -> Tensor:
    """In place: E = -r²/2 -> k(r), the unnormalized unit kernel."""
    if kernel == "gaussian":
        return E.exp_()
    elif kernel == "tophat":
        return E.copy_(E > -0.5)  # r < 1
    elif kernel == "epanechnikov":
        return E.mul_(2).add_(1).clamp_(min=0)  # 1 - r²
    elif kernel == "exponential":
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_().exp_()  # exp(-r)
    elif kernel == "linear":
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_().add_(1).clamp_(min=0)  # 1 - r
    else:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")


def _log_kernel_(E: Tensor, kernel: str) -> Tensor:
    """In place: E = -r²/2 -> log k(r), for the kernels with infinite support (the unweighted
    kernel: E must not hold log w)."""
    if kernel == "gaussian":
        return E
    elif kernel == "exponential":
        return E.mul_(-2).clamp_(min=0).sqrt_().neg_()
    else:  # pragma: no cover - compact kernels never underflow
        raise ValueError(f"no log-space path for kernel {kernel!r}")


def _block_sizes(M: int, N: int, chunk_bytes: int, itemsize: int) -> tuple[int, int]:
    """(queries, training points) per block so that one block of values fits chunk_bytes."""
    budget = max(1, chunk_bytes // itemsize)
    bx = min(N, budget)
    bq = max(1, min(M, budget // max(bx, 1)))
    return bq, bx


_LEAF = 256  # most points in a KD leaf (a block of queries, a group of training points)
_R_CAP = 3.0  # leaves of at least _MIN_SPLIT points are split while their radius exceeds this
_MIN_SPLIT = 32
_MAX_SPAN = 256.0  # widest query block (whitened units): r² then errs by < ~1e-11 relative
_BLOCK_BYTES = 1 << 22  # preferred block of kernel values (cache-sized); chunk_bytes caps it
_P_MAX = 20  # highest Taylor order of the far-field expansion
# cost model (ns), used only to choose between the two exact evaluations of a pair of leaves:
# a kernel value costs a matmul entry, an exp2 and a sum; an expansion term costs a multiply-add
_NS_PAIR, _NS_MAC, _NS_POINT, _NS_LEAF_PAIR = 1.5, 0.07, 1.5, 100.0
_LOG2E = 1.0 / math.log(2.0)


def _kd_tree(
    Z: Tensor,
    leaf: int,
    r_cap: float = math.inf,
    min_split: int = 2,
    max_span: float = math.inf,
) -> tuple[Tensor, Tensor]:
    """KD-tree leaf order of the points Z (N, D): (perm (N,), sizes (L,)).

    Level by level (vectorized over the nodes of a level), a node is split at the median of its
    widest coordinate while it holds more than ``leaf`` points, or at least ``min_split`` points
    in a box of half-diagonal > ``r_cap``, or at least 2 points spanning more than ``max_span``.
    The leaves are contiguous runs of Z[perm].
    """
    N, D = Z.shape
    dev = Z.device
    perm = torch.arange(N, device=dev)
    node = torch.zeros(N, dtype=torch.long, device=dev)  # node of each point of Z[perm]
    pos = torch.arange(N, device=dev)
    n_nodes = 1
    while True:
        Zp = Z[perm]  # (N, D), grouped by node
        idx = node[:, None].expand(-1, D)
        lo = Z.new_full((n_nodes, D), math.inf).scatter_reduce(0, idx, Zp, "amin")
        hi = Z.new_full((n_nodes, D), -math.inf).scatter_reduce(0, idx, Zp, "amax")
        counts = torch.bincount(node, minlength=n_nodes)
        width = hi - lo  # (n_nodes, D)
        split = counts > leaf
        if r_cap < math.inf:
            wide = 0.25 * (width * width).sum(1) > r_cap * r_cap
            split |= wide & (counts >= max(2, min_split))
        if max_span < math.inf:
            split |= (width.amax(1) > max_span) & (counts >= 2)
        if not bool(split.any()):
            break
        dim = width.argmax(1)[node]  # (N,) split coordinate of each point's node
        t = (Zp.gather(1, dim[:, None]).squeeze(1) - lo[node, dim]) / width[node, dim]
        t = torch.where(split[node], t.nan_to_num(0.0).clamp(0, 1), torch.zeros_like(t))
        o = torch.argsort(node.double() + 0.5 * t.double(), stable=True)  # by node, then t
        perm, node = perm[o], node[o]
        rank = pos - (torch.cumsum(counts, 0) - counts)[node]
        side = ((rank >= (counts[node] + 1) // 2) & split[node]).long()
        n_child = 1 + split.long()
        node = (torch.cumsum(n_child, 0) - n_child)[node] + side
        n_nodes = int(n_child.sum())
    return perm, torch.bincount(node, minlength=n_nodes)


def _leaf_stats(Z: Tensor, sizes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Leaves = contiguous runs of Z (N, D): leaf of each point (N,), box lo, hi (L, D), box
    centre (L, D) and radius max |z - centre| (L,)."""
    L, D = len(sizes), Z.shape[1]
    of = torch.repeat_interleave(torch.arange(L, device=Z.device), sizes)
    idx = of[:, None].expand(-1, D)
    lo = Z.new_full((L, D), math.inf).scatter_reduce(0, idx, Z, "amin")
    hi = Z.new_full((L, D), -math.inf).scatter_reduce(0, idx, Z, "amax")
    centre = 0.5 * (lo + hi)
    u = Z - centre[of]
    radius = Z.new_zeros(L).scatter_reduce(0, of, _sqnorm(u), "amax").sqrt()
    return of, lo, hi, centre, radius


def _sqnorm(u: Tensor) -> Tensor:
    """|u|² of each row: (n, D) -> (n,) (a matmul: a sum over a short last axis is slow)."""
    return (u * u) @ u.new_ones(u.shape[1])


def _ranges(starts: Tensor, sizes: Tensor) -> Tensor:
    """Concatenation of arange(s, s + n) for the given starts and sizes (vectorized)."""
    total = int(sizes.sum())
    offsets = torch.cumsum(sizes, 0) - sizes  # position of each run in the output
    return torch.repeat_interleave(starts - offsets, sizes, output_size=total) + torch.arange(
        total, device=starts.device
    )


def _multi_indices(d: int, p: int, device) -> Tensor:
    """All exponents α ∈ N^d with |α| <= p, by total degree: (C(p + d, d), d)."""
    rows = [
        a
        for deg in range(p + 1)
        for a in itertools.product(range(deg, -1, -1), repeat=d)
        if sum(a) == deg
    ]
    return torch.tensor(rows, dtype=torch.long, device=device).reshape(-1, d)


def _monomials(u: Tensor, alpha: Tensor, p: int) -> Tensor:
    """u^α = Π_d u_d^{α_d} for the rows of u (n, D) and the exponents alpha (R, D), all <= p:
    (n, R), a transposed view of a contiguous (R, n) (the powers u_d^j are gathered by row)."""
    n, D = u.shape
    pw = u.new_ones(D, p + 1, n)  # (D, p+1, n) powers u_d^j
    if p > 0:
        pw[:, 1:] = u.T[:, None, :].expand(D, p, n).cumprod(1)
    out = pw[0].index_select(0, alpha[:, 0])  # (R, n)
    for d in range(1, D):
        out.mul_(pw[d].index_select(0, alpha[:, d]))
    return out.T


def _taylor_orders(rho: Tensor, log_eps: Tensor, p_max: int) -> Tensor:
    """Smallest p <= p_max with ρ^{p+1} e^{2ρ} / (p+1)! <= ε (p_max + 1 where none): the order
    that makes the truncated series of e^t, |t| <= ρ, exact to the relative error ε."""
    log_rho = torch.log(rho.clamp_min(torch.finfo(rho.dtype).tiny))
    rhs = log_eps - 2 * rho
    p = torch.zeros_like(rho, dtype=torch.long)
    alive = torch.ones_like(rho, dtype=torch.bool)
    for k in range(p_max + 1):
        alive &= (k + 1) * log_rho - math.lgamma(k + 2) > rhs
        p += alive
    return p


def _exact_log_kernel(q: Tensor, x: Tensor, kernel: str) -> Tensor:
    """log k(|q - x|) from exact differences (no |q|² cancellation): (b, D), (c, D) -> (b, c)."""
    E = -0.5 * ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # (b, c) = -r²/2
    return _log_kernel_(E, kernel)


def _plan(q, x, sizes, kernel: str, rtol: float):
    """Which (query block, training group) pairs to sum, and how: (need, expand, p, shift).

    ``q``, ``x``: _leaf_stats of the blocks and groups plus (W, mu, var) for the groups (weight,
    weighted mean, weighted variance). For each pair the largest possible contribution is
    UB = W k(d_min) (d_min: box-to-box distance) and every query's sum is at least
    LB = Σ_groups W k(sqrt(d_far² + var)) (Jensen, d_far: farthest box point from the group
    mean). The smallest UBs whose total is <= rtol/2 LB are skipped. For the Gaussian kernel, a
    pair is expanded (see _moments) when it is cheaper than summing it directly; its Taylor order
    p makes its error <= ε_pair UB with Σ ε_pair UB <= rtol/2 LB.
    """
    (_, q_lo, q_hi, _, q_rho), (_, x_lo, x_hi, _, x_rho, W, mu, var) = q, x
    q_sizes, x_sizes = sizes
    gauss = kernel == "gaussian"
    gap = torch.maximum(q_lo[:, None] - x_hi[None], x_lo[None] - q_hi[:, None]).clamp_min(0)
    dmin2 = (gap * gap).sum(2)  # (Bq, Bx) squared box-to-box distances
    Bq = len(q_sizes)
    shift = q_lo.new_zeros(Bq)
    expand = torch.zeros_like(dmin2, dtype=torch.bool)
    p = torch.zeros_like(dmin2, dtype=torch.long)
    if kernel in ("tophat", "epanechnikov", "linear"):
        return dmin2 < 1, expand, p, shift  # exactly the pairs with a nonzero kernel value
    neg_log_k = (lambda d2: 0.5 * d2) if gauss else (lambda d2: d2.sqrt())  # -log k from r²
    log_ub = torch.log(W) - neg_log_k(dmin2)  # (Bq, Bx) log of a pair's largest contribution
    shift = log_ub.amax(1)  # (Bq,) sums are accumulated relative to e^shift (no underflow)
    if rtol <= 0:
        return torch.ones_like(expand), expand, p, shift
    far = torch.maximum((q_hi[:, None] - mu[None]).abs(), (mu[None] - q_lo[:, None]).abs())
    log_lb = torch.logsumexp(torch.log(W) - neg_log_k((far * far).sum(2) + var), 1)  # (Bq,)
    tau = 0.45 * rtol  # half the budget each for skipping and for the expansion (10% margin)
    ub = torch.exp(log_ub - log_lb[:, None])  # (Bq, Bx) UB / LB
    # skip the smallest UBs with total <= tau (bins of a quarter octave instead of a sort)
    nbins = 256
    top = math.floor(4 * math.log2(tau))
    lr = torch.floor((log_ub - log_lb[:, None]) * (4 * _LOG2E))
    bins = torch.where(lr > top, nbins, (lr - (top - nbins + 1)).clamp(0, nbins - 1)).long()
    mass = q_lo.new_zeros(Bq, nbins + 1).scatter_add_(1, bins, ub)
    n_skip = (torch.cumsum(mass[:, :nbins], 1) <= tau).sum(1, keepdim=True)
    need = bins >= n_skip  # (Bq, Bx)
    if not gauss:
        return need, expand, p, shift
    # Taylor orders: error share ε = max(tau / (2 n UB), tau / (2 Σ UB)) per needed pair
    n_need = need.sum(1, keepdim=True).clamp_min(1)
    sum_ub = (ub * need).sum(1, keepdim=True)
    log_eps = torch.maximum(
        math.log(tau / 2) - torch.log(n_need * ub), math.log(tau / 2) - torch.log(sum_ub)
    )
    rho = q_rho[:, None] * x_rho[None]  # (Bq, Bx) bound on |a·b|
    bi, gi = need.nonzero(as_tuple=True)
    pn = _taylor_orders(rho[bi, gi], log_eps[bi, gi], _P_MAX)  # (n_need,)
    m_, c_ = q_sizes[bi].double(), x_sizes[gi].double()
    direct_ns = _NS_PAIR * m_ * c_
    # one order for all expanded pairs: the cheapest total over the candidate orders
    D = q_lo.shape[1]
    best, p_fix = float(direct_ns.sum()), -1
    for pf in range(_P_MAX + 1):
        R = math.comb(pf + D, D)
        exp_ns = (_NS_MAC * R + _NS_POINT) * (m_ + c_) + _NS_LEAF_PAIR
        cost = float(torch.where((pn <= pf) & (exp_ns < direct_ns), exp_ns, direct_ns).sum())
        if cost < best:
            best, p_fix = cost, pf
    if p_fix >= 0:
        R = math.comb(p_fix + D, D)
        exp_ns = (_NS_MAC * R + _NS_POINT) * (m_ + c_) + _NS_LEAF_PAIR
        sel = (pn <= p_fix) & (exp_ns < direct_ns)
        expand[bi[sel], gi[sel]] = True
        p[expand] = p_fix
    return need, expand, p, shift


def _moments(x, pairs, alpha, la, mom, budget: int) -> None:
    """Taylor moments of expanded (block, group) pairs, written to ``mom`` (n, R) in the order of
    ``pairs`` (grouped by group).

    For a block centre c_B and a group centre c_G, with a = q - c_B and b_k = x_k - c_G,
        Σ_k w_k e^{-|q - x_k|²/2} = e^{-|a|²/2 - a·(c_B - c_G)} Σ_k v_k e^{a·b_k},
        v_k = w_k e^{-|c_B - x_k|²/2},     e^{a·b} ≈ Σ_{|α|<=p} a^α b^α / α!,
    so a pair's moments are M_α = Σ_k v_k b_k^α (v_k here also carries e^{-shift_B}). Group by
    group, V (pairs, points) = exp2(la @ xa_Gᵀ) and M = V @ b^α (points, R); the monomials b^α
    are built for runs of groups of at most ``budget`` values at a time.
    ``la`` (n, D+2) = [c_B - c_G, -|c_B - c_G|²/2 - shift_B, 1] / ln 2 for each pair.
    """
    x_start, x_sizes, xa, b = x  # xa: (N, D+2) = [b, 1, -|b|²/2 + log w]
    R, p = len(alpha), int(alpha.max())
    counts = torch.bincount(pairs, minlength=len(x_sizes)).tolist()
    starts, sizes = x_start.tolist(), x_sizes.tolist()
    used = [g for g, k in enumerate(counts) if k]
    rows = max(1, budget // R)  # training points whose monomials are held at once
    r, i = 0, 0
    while i < len(used):
        j, n_pts = i, 0  # the run used[i:j] of groups, n_pts points in all
        while j < len(used) and (j == i or n_pts + sizes[used[j]] <= rows):
            n_pts += sizes[used[j]]
            j += 1
        run = used[i:j]
        idx = _ranges(x_start[run], x_sizes[run])
        B = _monomials(b[idx], alpha, p)  # (n_pts, R) b^α of the run's points
        o = 0
        for g in run:
            k, s, c = counts[g], starts[g], sizes[g]
            V = torch.mm(la[r : r + k], xa[s : s + c].T).exp2_()  # (k, c) = v_k e^{-shift}
            torch.mm(V, B[o : o + c], out=mom[r : r + k])  # (k, R)
            r, o = r + k, o + c
        i = j


def log_kernel_sums(
    Zq: Tensor,
    Zx: Tensor,
    w: Tensor,
    kernel: str = "gaussian",
    chunk_bytes: int = _CHUNK_BYTES,
    rtol: float = 1e-13,
    x_leaves: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """log Σ_k w_k k(|zq - zx_k|) for whitened points: Zq (M, D), Zx (N, D), w (N,) -> (M,).

    Both point sets are split into KD-tree leaves (blocks of queries, groups of training points).
    _plan decides per (block, group) pair: skip it (its total is provably below rtol/2 of every
    query's sum, or zero for compact kernels), expand it (Gaussian: a Taylor series in
    a·b whose error is provably below its share of rtol/2; see _moments), or sum it directly:
    r² = |a|² + |x - c_B|² - 2 a·(x - c_B) as one matmul around the block's centre c_B, then
    exp2 of the exponent in base 2. Sums are relative to e^{shift_B} (the block's largest
    possible term), in linear space; queries whose sum still underflows are redone as an exact
    log-sum-exp. ``x_leaves`` = ``_kd_tree(Zx, _LEAF, _R_CAP, _MIN_SPLIT)`` when already known.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
    M, N, D = Zq.shape[0], Zx.shape[0], Zq.shape[1]
    out = Zq.new_zeros(M)
    if M == 0:
        return out
    gauss = kernel == "gaussian"
    compact = kernel in ("tophat", "epanechnikov", "linear")
    xp, x_sizes = _kd_tree(Zx, _LEAF, _R_CAP, _MIN_SPLIT) if x_leaves is None else x_leaves
    Zx, w = Zx[xp], w[xp]  # training groups are contiguous runs
    logw = torch.log(w)
    x_of, x_lo, x_hi, x_c, x_rho = _leaf_stats(Zx, x_sizes)
    Bx = len(x_sizes)
    W = Zx.new_zeros(Bx).index_add_(0, x_of, w)  # (Bx,) group weights
    mu = Zx.new_zeros(Bx, D).index_add_(0, x_of, w[:, None] * Zx) / W[:, None]  # (Bx, D)
    var = Zx.new_zeros(Bx).index_add_(0, x_of, w * _sqnorm(Zx - mu[x_of])) / W  # (Bx,)
    x_start = torch.cumsum(x_sizes, 0) - x_sizes
    qp, q_sizes = _kd_tree(Zq, _LEAF, _R_CAP, _MIN_SPLIT, _MAX_SPAN)
    Zq = Zq[qp]  # query blocks are contiguous runs
    q_of, q_lo, q_hi, q_c, q_rho = _leaf_stats(Zq, q_sizes)
    Bq = len(q_sizes)
    need, expand, p, shift = _plan(
        (q_of, q_lo, q_hi, q_c, q_rho),
        (x_of, x_lo, x_hi, x_c, x_rho, W, mu, var),
        (q_sizes, x_sizes),
        kernel,
        rtol,
    )
    direct = need & ~expand
    # ---- expansion set-up: every expanded pair has the same order p
    n_exp = int(expand.sum())
    if n_exp:
        p_exp = int(p.max())
        alpha = _multi_indices(D, p_exp, Zx.device)  # (R, D)
        R = len(alpha)
        inv_fact = torch.exp(-torch.lgamma(alpha.to(Zx.dtype) + 1).sum(1))  # (R,) 1 / α!
        b = Zx - x_c[x_of]  # (N, D) offsets from the group centres
        xa = torch.cat([b, torch.ones_like(b[:, :1]), (logw - 0.5 * _sqnorm(b))[:, None]], 1)
        n_exp_b = expand.sum(1)  # (Bq,) expanded pairs per block
    else:
        R = 0
        n_exp_b = torch.zeros(Bq, dtype=torch.long, device=Zq.device)
    # ---- blocks are visited in chunks whose moments and query monomials fit the memory budget
    per_block = (n_exp_b + (n_exp_b > 0) * q_sizes) * max(R, 1) * Zx.element_size()  # bytes
    chunk_of = torch.div(
        torch.cumsum(per_block, 0) - per_block, max(1, chunk_bytes), rounding_mode="floor"
    )
    chunk_ends = (torch.nonzero(torch.diff(chunk_of, append=chunk_of[-1:] + 1)) + 1).tolist()
    bi_d, li_d = direct.nonzero(as_tuple=True)  # block-major
    n_dir = torch.bincount(bi_d, minlength=Bq).tolist()
    cols_all = _ranges(x_start[li_d], x_sizes[li_d])  # training points of the direct pairs
    c_off = torch.cat([cols_all.new_zeros(1), torch.cumsum(x_sizes[li_d], 0)]).tolist()
    d_off = 0
    budget = max(1, min(chunk_bytes, _BLOCK_BYTES) // Zq.element_size())  # kernel values
    XW = torch.cat([Zx, logw[:, None]], 1) if gauss else Zx  # (N, D[+1])
    q_start = (torch.cumsum(q_sizes, 0) - q_sizes).tolist()
    m_list = q_sizes.tolist()
    # every query's offset from its block centre, and both query sides of the matmuls, at once
    a_all = Zq - q_c[q_of]  # (M, D)
    half_sq = -0.5 * _sqnorm(a_all)  # (M,) -|a|²/2
    qa_all = torch.cat(  # (M, D+2) = [a, -|a|²/2 - shift_B, 1] (/ ln 2 for the Gaussian)
        [
            a_all,
            (half_sq - shift[q_of] if gauss else half_sq)[:, None],
            torch.ones_like(half_sq)[:, None],
        ],
        1,
    )
    if gauss:
        qa_all.mul_(_LOG2E)  # exponents in base 2: exp2 is cheaper than exp
    cmax = budget // max(1, min(m_list)) + int(x_sizes.max())
    E_buf = Zq.new_empty(budget + max(m_list) * int(x_sizes.max()))
    g_buf = Zq.new_empty(cmax, XW.shape[1])
    xa_buf = Zq.new_empty(cmax, D + 2)
    xa_buf[:, D] = 1
    acc_all = Zq.new_zeros(M)
    b0 = 0
    for (b1,) in chunk_ends:
        has_exp = bool(n_exp) and int(n_exp_b[b0:b1].sum()) > 0
        if has_exp:
            bi, gi = expand[b0:b1].nonzero(as_tuple=True)  # block-major
            bi = bi + b0
            o = torch.argsort(gi, stable=True)  # group-major order of the pairs
            delta = q_c[bi[o]] - x_c[gi[o]]  # (n, D)
            la = torch.cat(
                [
                    delta,
                    (-0.5 * _sqnorm(delta) - shift[bi[o]])[:, None],
                    torch.ones_like(delta[:, :1]),
                ],
                1,
            ).mul_(_LOG2E)
            mom = Zx.new_empty(len(o), R)  # group-major
            _moments((x_start, x_sizes, xa, b), gi[o], alpha, la, mom, _BLOCK_BYTES // 8)
            rows = torch.empty_like(o)
            rows[o] = torch.arange(len(o), device=o.device)  # row of mom of each pair
            nb = torch.bincount(bi - b0, minlength=b1 - b0)
            e_off = (torch.cumsum(nb, 0) - nb).tolist()
            nb = nb.tolist()
            gu = torch.cat([x_c[gi] - q_c[bi], torch.ones_like(delta[:, :1])], 1)  # (n, D+1)
            mom_buf = Zx.new_empty(max(nb), R)
            qc0 = q_start[b0]  # queries of the chunk: a^α / α! and [a, -|a|²/2] / ln 2
            qc1 = q_start[b1 - 1] + m_list[b1 - 1]
            A_all = _monomials(a_all[qc0:qc1], alpha, p_exp).mul_(inv_fact)  # (m_chunk, R)
            qu_all = torch.cat([a_all[qc0:qc1], half_sq[qc0:qc1, None]], 1).mul_(_LOG2E)
        for bb in range(b0, b1):
            q0, m = q_start[bb], m_list[bb]
            acc = acc_all[q0 : q0 + m]
            if has_exp and nb[bb - b0]:
                r0, k = e_off[bb - b0], nb[bb - b0]
                Mb = torch.index_select(mom, 0, rows[r0 : r0 + k], out=mom_buf[:k])  # (k, R)
                P = torch.mm(Mb, A_all[q0 - qc0 : q0 - qc0 + m].T)  # (k, m) Σ_α M_α a^α / α!
                U = torch.mm(gu[r0 : r0 + k], qu_all[q0 - qc0 : q0 - qc0 + m].T)
                acc += U.exp2_().mul_(P).sum(0)  # (k, m) e^{-|a|²/2 - a·δ} Σ_α ...
            k = n_dir[bb]
            if k == 0:
                continue
            qa = qa_all[q0 : q0 + m]  # (m, D+2)
            centre = q_c[bb]
            cols = cols_all[c_off[d_off] : c_off[d_off + k]]  # training points of those groups
            d_off += k
            step = max(1, budget // m)
            for j in range(0, len(cols), step):
                cj = cols[j : j + step]
                c = len(cj)
                g = torch.index_select(XW, 0, cj, out=g_buf[:c])  # (c, D[+1])
                xg = xa_buf[:c]  # (c, D+2) = [x - c_B, 1, -|x - c_B|²/2 (+ log w)]
                torch.sub(g[:, :D], centre, out=xg[:, :D])
                if gauss:
                    xg[:, D + 1] = g[:, D]
                else:
                    xg[:, D + 1] = 0
                for d in range(D):
                    xg[:, D + 1].addcmul_(xg[:, d], xg[:, d], value=-0.5)
                E = E_buf[: m * c].view(m, c)  # reused, no page faults
                torch.mm(qa, xg.T, out=E)  # (m, c) = (-r²/2 + log w - shift) / ln 2
                if gauss:
                    acc += E.exp2_().sum(1)
                else:
                    _kernel_(E, kernel)
                    acc += E @ w[cj]
        b0 = b1
    logs = torch.log(acc_all)
    if gauss:
        logs += torch.repeat_interleave(shift, q_sizes)
    small = acc_all < torch.finfo(acc_all.dtype).tiny ** 0.8  # ~1e-246 in float64
    if small.any() and not compact:
        rows = small.nonzero().squeeze(1)
        bq, bx = _block_sizes(len(rows), N, chunk_bytes // max(1, D), Zq.element_size())
        for i in range(0, len(rows), bq):
            q = Zq[rows[i : i + bq]]  # (b, D)
            part = Zq.new_full((len(q),), -math.inf)
            for j in range(0, N, bx):
                L = _exact_log_kernel(q, Zx[j : j + bx], kernel) + logw[j : j + bx]  # (b, c)
                part = torch.logaddexp(part, torch.logsumexp(L, 1))
            logs[rows[i : i + bq]] = part
    out[qp] = logs
    return out


def _weighted_cov(X: Tensor, w: Tensor) -> Tensor:
    """Unbiased weighted covariance, numpy.cov(X.T, aweights=w): (D, D)."""
    w = w / w.sum()
    mu = w @ X  # (D,)
    Xc = X - mu
    return (Xc.T * w) @ Xc / (1.0 - (w * w).sum())


# ------------------------------------------------------------------------------- eq. 13
class EmpiricalDistribution(Distribution):
    """p_D(x) = Σ_k w_k δ_{x^k}(x) (eq. 13): mass only on the data points.

    ``sample`` resamples data points (with replacement, probabilities w); ``log_prob`` is the log
    of the total weight of the points equal to x (the relative frequency for discrete data),
    -inf elsewhere. data: (K,) scalars or (K, D) vectors; event shape () or (D,).
    """

    arg_constraints: dict = {}
    has_enumerate_support = True

    def __init__(self, data, weights=None, validate_args: bool | None = None):
        data = torch.as_tensor(data)
        if data.ndim not in (1, 2) or data.shape[0] == 0:
            raise ValueError(
                f"data must be (K,) or (K, D) with K >= 1; got shape {tuple(data.shape)}"
            )
        if data.is_floating_point() and torch.isnan(data).any():
            raise ValueError("data must not contain NaN")
        self.data = data
        K = data.shape[0]
        if weights is None:
            w = torch.full((K,), 1.0 / K, dtype=torch.float64, device=data.device)
        else:
            w = torch.as_tensor(weights, dtype=torch.float64, device=data.device)
            if w.shape != (K,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be ({K},), finite, >= 0 with a positive sum")
            w = w / w.sum()
        self.weights = w
        rows = data if data.ndim == 2 else data[:, None]
        atoms, inv = torch.unique(rows, dim=0, return_inverse=True)  # (U, D), (K,)
        probs = torch.zeros(len(atoms), dtype=w.dtype, device=w.device).index_add_(0, inv, w)
        self.atoms = atoms if data.ndim == 2 else atoms[:, 0]
        self.probs = probs  # (U,)
        super().__init__(torch.Size(), data.shape[1:], validate_args=validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.real_vector if self.data.ndim == 2 else constraints.real

    def sample(self, sample_shape: tuple[int, ...] | torch.Size = ()) -> Tensor:
        idx = Categorical(probs=self.weights).sample(torch.Size(sample_shape))
        return self.data[idx]

    def log_prob(self, value) -> Tensor:
        value = torch.as_tensor(value, dtype=self.data.dtype, device=self.data.device)
        ev = self.data.shape[1:]
        if value.shape[value.ndim - len(ev) :] != ev:
            raise ValueError(
                f"value must end in the event shape {tuple(ev)}; got {tuple(value.shape)}"
            )
        batch = value.shape[: value.ndim - len(ev)]
        q = value.reshape(-1, *(ev or (1,)))  # (M, D)
        a = self.atoms if self.data.ndim == 2 else self.atoms[:, None]  # (U, D)
        _, inv = torch.unique(torch.cat([a, q]), dim=0, return_inverse=True)
        table = torch.full(
            (int(inv.max()) + 1,), float("-inf"), dtype=self.probs.dtype, device=self.probs.device
        )
        table[inv[: len(a)]] = self.probs.log()
        return table[inv[len(a) :]].reshape(batch)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        return self.atoms

    @property
    def mean(self) -> Tensor:
        return torch.tensordot(
            self.weights.to(self.data.dtype),
            self.data.to(torch.float64) if not self.data.is_floating_point() else self.data,
            1,
        )

    @property
    def variance(self) -> Tensor:
        x = self.data.to(torch.float64)
        return torch.tensordot(self.weights, (x - self.mean.to(x.dtype)) ** 2, 1)

    def entropy(self) -> Tensor:
        """-Σ_u p_u log p_u over the distinct atoms (nats)."""
        p = self.probs
        return -(p * p.log()).nan_to_num(0.0).sum()


# ------------------------------------------------------------------------------- eq. 14
class KDE(Model):
    """Kernel density estimate KDE(x) = Σ_k w_k K_H(x - x^k) (eq. 14).

    Parameters
    ----------
    bandwidth : a float h > 0 (H = h² I), 'scott' or 'silverman' (H = f² Cov(X), scipy's
        convention), a (D, D) positive-definite matrix H, or a 1-D sequence of floats > 0: a grid
        searched by ``cv``-fold held-out log-likelihood (contiguous folds, scikit-learn's KFold).
    kernel : one of 'gaussian', 'tophat', 'epanechnikov', 'exponential', 'linear'.
    cv : number of folds for a bandwidth grid (>= 2).
    rtol : far groups of training points are skipped when their total contribution is provably
        below rtol times the density (0: every pair with a nonzero kernel value is summed).
    chunk_bytes : memory budget of one block of kernel values during evaluation.

    Learned: ``data_`` (N, D), ``weights_`` (N,) summing to 1, ``bandwidth_`` (the scalar h, or
    None for a full matrix), ``bandwidth_matrix_`` H, ``scale_tril_`` L (H = L Lᵀ),
    ``bandwidth_factor_`` (Scott/Silverman), ``cv_scores_`` (mean held-out log-likelihood per
    grid value), ``n_eff_`` = (Σ w)² / Σ w².
    """

    def __init__(
        self,
        bandwidth: float | str | Sequence[float] | Tensor | np.ndarray = 1.0,
        kernel: str = "gaussian",
        *,
        cv: int = 5,
        rtol: float = 1e-13,
        chunk_bytes: int = _CHUNK_BYTES,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
            raise ValueError(f"cv must be an int >= 2; got {cv!r}")
        if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0 <= rtol < 1:
            raise ValueError(f"rtol must be a float in [0, 1); got {rtol!r}")
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be an int >= 1; got {chunk_bytes!r}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self._mode = _bandwidth_mode(bandwidth)
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.cv = cv
        self.rtol = float(rtol)
        self.chunk_bytes = chunk_bytes
        self.dtype = dtype
        self.device = device

    # ------------------------------------------------------------------ structure
    @property
    def network(self) -> BayesNet:
        """The fitted KDE as the network z → x: a Table p(z = k) = w_k over the N data points
        and a :class:`~bayesgen.models.kde_network.KernelFactor` x | z = k ~ K_H(x − x^k)."""
        self._check_fitted()
        z = Discrete("z", len(self.data_))
        x = Continuous("x", shape=(self.n_features_in_,))
        return BayesNet(
            [
                Table(z, probs=self.weights_ / self.weights_.sum()),
                KernelFactor(x, z, self.data_, self.scale_tril_, self.kernel),
            ],
            name="kernel density estimate",
        )

    @property
    def empirical(self) -> EmpiricalDistribution:
        """The empirical distribution (eq. 13) that this KDE smooths."""
        self._check_fitted()
        return EmpiricalDistribution(self.data_, self.weights_)

    _fitted_attrs = ("data_",)

    # ------------------------------------------------------------------ learning
    @torch.no_grad()
    def fit(self, X, sample_weight=None) -> KDE:
        """Store the data (and weights) and set the bandwidth; returns self."""
        dev = (
            torch.device(self.device)
            if self.device is not None
            else (X.device if isinstance(X, Tensor) else torch.device("cpu"))
        )
        X = _as_points(X, "X", self.dtype, dev)
        N, D = X.shape
        if N == 0:
            raise ValueError("X must hold at least one point; got 0")
        if sample_weight is None:
            w = torch.full((N,), 1.0 / N, dtype=self.dtype, device=dev)
        else:
            w = torch.as_tensor(
                sample_weight
                if isinstance(sample_weight, Tensor)
                else np.asarray(sample_weight, dtype=np.float64)
            )
            w = w.to(device=dev, dtype=self.dtype)
            if w.shape != (N,):
                raise ValueError(f"sample_weight must have shape ({N},); got {tuple(w.shape)}")
            if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError("sample_weight must be finite, >= 0 and not all 0")
            w = w / w.sum()
        self.n_features_in_ = D
        self.n_eff_ = float(1.0 / (w * w).sum())
        self.register_buffer("data_", X)
        self.register_buffer("weights_", w)
        self.bandwidth_factor_ = None
        self.cv_scores_ = None
        mode, bw = self._mode, self.bandwidth
        if mode == "scalar":
            H = torch.eye(D, dtype=self.dtype, device=dev) * float(bw) ** 2
            self.bandwidth_ = float(bw)
        elif mode == "rule":
            f = (scott_factor if bw == "scott" else silverman_factor)(self.n_eff_, D)
            if N < 2:
                raise ValueError(
                    f"bandwidth={bw!r} needs at least 2 points to estimate a covariance; got {N}"
                )
            H = _weighted_cov(X, w) * f**2
            self.bandwidth_factor_ = f
            self.bandwidth_ = math.sqrt(float(H[0, 0])) if D == 1 else None
        elif mode == "matrix":
            H = torch.as_tensor(
                np.asarray(bw, dtype=np.float64) if not isinstance(bw, Tensor) else bw
            ).to(device=dev, dtype=self.dtype)
            if H.shape != (D, D):
                raise ValueError(
                    f"bandwidth matrix must be ({D}, {D}) for D={D} features; got {tuple(H.shape)}"
                )
            self.bandwidth_ = None
        elif mode == "grid":
            grid = [float(h) for h in np.asarray(bw, dtype=np.float64).ravel()]
            scores = self._cv_scores(X, w, grid)
            self.cv_scores_ = scores
            self.bandwidth_ = grid[int(np.argmax(scores))]
            H = torch.eye(D, dtype=self.dtype, device=dev) * self.bandwidth_**2
        else:  # pragma: no cover - _bandwidth_mode only returns the modes above
            raise ValueError(f"unknown bandwidth mode {mode!r}")
        self._set_matrix(H)
        return self

    def _set_matrix(self, H: Tensor) -> None:
        if not torch.allclose(H, H.T):
            raise ValueError(
                "bandwidth matrix must be symmetric positive definite; it is not symmetric"
            )
        L, info = torch.linalg.cholesky_ex(H)
        if info != 0 or not torch.isfinite(L).all():
            raise ValueError(
                f"bandwidth matrix must be symmetric positive definite; got eigenvalues "
                f"{torch.linalg.eigvalsh(H).tolist()} (a constant feature with a "
                f"'scott'/'silverman' rule gives a singular covariance)"
            )
        self.register_buffer("bandwidth_matrix_", H)
        self.register_buffer("scale_tril_", L)
        self.register_buffer("_centre", self.weights_ @ self.data_)  # (D,), for precision
        self.register_buffer("_Zx", self._whiten(self.data_))  # (N, D)
        # the training points' KD leaves, once
        perm, sizes = _kd_tree(self._Zx, _LEAF, _R_CAP, _MIN_SPLIT)
        self.register_buffer("_x_perm", perm)
        self.register_buffer("_x_sizes", sizes)
        D = H.shape[0]
        self.log_norm_ = log_kernel_norm(self.kernel, D) - float(L.diagonal().log().sum())

    def _whiten(self, X: Tensor) -> Tensor:
        """z = L^{-1} (x - centre): (M, D)."""
        Xc = (X - self._centre).T  # (D, M)
        return torch.linalg.solve_triangular(self.scale_tril_, Xc, upper=False).T

    def _cv_scores(self, X: Tensor, w: Tensor, grid: list[float]) -> list[float]:
        """Mean over folds of the held-out Σ_i w_i^raw log KDE_train(x_i), per bandwidth."""
        N, D = X.shape
        if any(h <= 0 for h in grid):
            raise ValueError(f"bandwidth grid values must be > 0; got {grid}")
        if N < self.cv:
            raise ValueError(f"cv={self.cv} folds need at least {self.cv} points; got {N}")
        sizes = [N // self.cv + (1 if f < N % self.cv else 0) for f in range(self.cv)]
        bounds = np.cumsum([0, *sizes])
        raw = w * N  # weights relative to 1 per point (all ones when unweighted)
        centre = X.mean(0)
        Xc = X - centre
        scores = np.zeros(len(grid))
        for f in range(self.cv):
            a, b = int(bounds[f]), int(bounds[f + 1])
            test = Xc[a:b]
            train = torch.cat([Xc[:a], Xc[b:]])
            wt = torch.cat([raw[:a], raw[b:]])
            for g, h in enumerate(grid):
                ls = log_kernel_sums(
                    test / h, train / h, wt, self.kernel, self.chunk_bytes, self.rtol
                )
                logp = ls - torch.log(wt.sum()) + log_kernel_norm(self.kernel, D) - D * math.log(h)
                scores[g] += float((raw[a:b] * logp).sum())
        return (scores / self.cv).tolist()

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def log_prob(self, X) -> Tensor:
        """log KDE(x) for each row of X: (M,)."""
        self._check_fitted()
        Q = _as_points(X, "X", self.data_.dtype, self.data_.device, self.n_features_in_)
        ls = log_kernel_sums(
            self._whiten(Q),
            self._Zx,
            self.weights_,
            self.kernel,
            self.chunk_bytes,
            self.rtol,
            x_leaves=(self._x_perm, self._x_sizes),
        )
        return ls + self.log_norm_

    def score(self, X) -> float:
        """Total log-likelihood Σ_i log KDE(x_i) (scikit-learn's KernelDensity.score)."""
        return float(self.score_samples(X).sum())

    def sample(self, n: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """n draws of x (n, D) (:meth:`sample_joint` without the data indices)."""
        return self.sample_joint(n, generator=generator)[0]

    @torch.no_grad()
    def sample_joint(
        self, n: int = 1, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Ancestral sampling: z ~ Categorical(w), x = x^z + L u with u ~ the unit kernel.

        Returns (x (n, D), z (n,)).
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0; got {n!r}")
        with forked_rng(generator, self.data_.device):
            z = Categorical(probs=self.weights_).sample((n,))  # (n,)
            u = _unit_kernel_sample(self.kernel, n, self.n_features_in_, self.data_)  # (n, D)
        return self.data_[z] + u @ self.scale_tril_.T, z

    def to_distribution(self) -> MixtureSameFamily:
        """The Gaussian KDE as a torch mixture (O(N) components; for small N)."""
        self._check_fitted()
        if self.kernel != "gaussian":
            raise ValueError(f"to_distribution needs kernel='gaussian'; got {self.kernel!r}")
        comp = MultivariateNormal(self.data_, scale_tril=self.scale_tril_)  # batch (N,)
        return MixtureSameFamily(Categorical(probs=self.weights_), comp)

    def extra_repr(self) -> str:
        bw = self.bandwidth if self._mode in ("scalar", "rule") else self._mode
        return f"kernel={self.kernel!r}, bandwidth={bw!r}"


def _bandwidth_mode(bw) -> str:
    """'scalar' | 'rule' | 'matrix' | 'grid', with a clear error for anything else."""
    valid = (
        "a float > 0, 'scott', 'silverman', a (D, D) positive-definite matrix or a 1-D "
        "grid of floats > 0"
    )
    if isinstance(bw, str):
        if bw in ("scott", "silverman"):
            return "rule"
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
    if isinstance(bw, bool):
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
    if isinstance(bw, int | float | np.floating | np.integer):
        if not np.isfinite(bw) or bw <= 0:
            raise ValueError(f"bandwidth must be {valid}; got {bw!r}")
        return "scalar"
    try:
        arr = np.asarray(
            bw.detach().cpu().numpy() if isinstance(bw, Tensor) else bw, dtype=np.float64
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"bandwidth must be {valid}; got {bw!r}") from e
    if arr.ndim == 0:
        return _bandwidth_mode(float(arr))
    if not np.isfinite(arr).all():
        raise ValueError(f"bandwidth must be {valid}; got non-finite values {arr.tolist()}")
    if arr.ndim == 1 and arr.size >= 1:
        if (arr <= 0).any():
            raise ValueError(f"bandwidth grid values must be > 0; got {arr.tolist()}")
        return "grid"
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        return "matrix"
    raise ValueError(f"bandwidth must be {valid}; got an array of shape {arr.shape}")


def _unit_kernel_sample(kernel: str, n: int, d: int, like: Tensor) -> Tensor:
    """n draws from the unit-scale radial kernel in R^d: (n, d).

    Gaussian: N(0, I). The others: a uniform direction times a radius with density
    ∝ r^{d-1} k(r): top-hat Beta(d, 1), Epanechnikov sqrt(Beta(d/2, 2)), exponential
    Gamma(d, 1), linear Beta(d, 2).
    """
    g = torch.randn(n, d, dtype=like.dtype, device=like.device)
    if kernel == "gaussian":
        return g
    t = lambda v: torch.tensor(float(v), dtype=like.dtype, device=like.device)  # noqa: E731
    if kernel == "tophat":
        r = Beta(t(d), t(1)).sample((n,))
    elif kernel == "epanechnikov":
        r = Beta(t(d / 2), t(2)).sample((n,)).sqrt()
    elif kernel == "exponential":
        r = Gamma(t(d), t(1)).sample((n,))
    elif kernel == "linear":
        r = Beta(t(d), t(2)).sample((n,))
    else:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
    direction = g / g.norm(dim=1, keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
    return direction * r[:, None]
