"""The KDE's exact blocked sums: log Σ_k w_k k(|zq - zx_k|) over whitened points.

Points are split into KD-tree leaves (blocks of queries, groups of training points). Each
(block, group) pair is skipped when its bounding boxes prove its contribution zero (compact
kernels) or negligible, summed directly (-r²/2 as one matmul of augmented matrices around the
block's centre), or, for the Gaussian kernel, expanded in a Taylor series of e^{a·b} (a fast
Gauss transform) whose truncation error is bounded a priori; the cheaper exact path is chosen
per pair from a cost model. Sums are in linear space relative to each block's largest term; the
few queries whose sum still underflows are redone with an exact log-sum-exp. Blocks are sized
from ``chunk_bytes``, so memory stays bounded.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from .kernels import GaussianKernel, Kernel, make_kernel

__all__ = ["CHUNK_BYTES", "log_kernel_sums", "training_leaves"]

CHUNK_BYTES = 1 << 25  # 32 MiB per block of kernel values


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


def training_leaves(Zx: Tensor) -> tuple[Tensor, Tensor]:
    """The KD leaves of whitened training points Zx (N, D): (perm (N,), sizes (L,))."""
    return _kd_tree(Zx, _LEAF, _R_CAP, _MIN_SPLIT)


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


def _exact_log_kernel(q: Tensor, x: Tensor, kernel: Kernel) -> Tensor:
    """log k(|q - x|) from exact differences (no |q|² cancellation): (b, D), (c, D) -> (b, c)."""
    E = -0.5 * ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # (b, c) = -r²/2
    return kernel.log_kernel_(E)


def _plan(q, x, sizes, kernel: Kernel, rtol: float):
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
    gauss = isinstance(kernel, GaussianKernel)
    gap = torch.maximum(q_lo[:, None] - x_hi[None], x_lo[None] - q_hi[:, None]).clamp_min(0)
    dmin2 = (gap * gap).sum(2)  # (Bq, Bx) squared box-to-box distances
    Bq = len(q_sizes)
    shift = q_lo.new_zeros(Bq)
    expand = torch.zeros_like(dmin2, dtype=torch.bool)
    p = torch.zeros_like(dmin2, dtype=torch.long)
    if kernel.compact:
        return dmin2 < 1, expand, p, shift  # exactly the pairs with a nonzero kernel value
    neg_log_k = kernel.neg_log_k  # -log k from r²
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
    kernel: str | Kernel = "gaussian",
    chunk_bytes: int = CHUNK_BYTES,
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
    log-sum-exp. ``x_leaves`` = ``training_leaves(Zx)`` when already known.
    """
    kernel = make_kernel(kernel)
    M, D = Zq.shape
    out = Zq.new_zeros(M)
    if M == 0:
        return out
    gauss = isinstance(kernel, GaussianKernel)
    compact = kernel.compact
    xp, x_sizes = _kd_tree(Zx, _LEAF, _R_CAP, _MIN_SPLIT) if x_leaves is None else x_leaves
    Zx, w = Zx[xp], w[xp]  # training groups are contiguous runs
    logw = torch.log(w)
    x_stats = _group_stats(Zx, w, x_sizes)
    x_of, x_c = x_stats[0], x_stats[3]
    x_start = torch.cumsum(x_sizes, 0) - x_sizes
    qp, q_sizes = _kd_tree(Zq, _LEAF, _R_CAP, _MIN_SPLIT, _MAX_SPAN)
    Zq = Zq[qp]  # query blocks are contiguous runs
    q_of, q_lo, q_hi, q_c, q_rho = _leaf_stats(Zq, q_sizes)
    Bq = len(q_sizes)
    q_stats = (q_of, q_lo, q_hi, q_c, q_rho)
    need, expand, p, shift = _plan(q_stats, x_stats, (q_sizes, x_sizes), kernel, rtol)
    direct = need & ~expand
    # ---- expansion set-up: every expanded pair has the same order p
    n_exp = int(expand.sum())
    n_exp_b = expand.sum(1)  # (Bq,) expanded pairs per block
    if n_exp:
        alpha, inv_fact, p_exp, b, xa = _taylor_setup(int(p.max()), Zx, x_c[x_of], logw)
    R = len(alpha) if n_exp else 0
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
    a_all, half_sq, qa_all = _query_sides(Zq, q_of, q_c, shift, gauss)
    bufs = _scratch(Zq, budget, m_list, int(x_sizes.max()), XW.shape[1])
    acc_all = Zq.new_zeros(M)
    b0 = 0
    for (b1,) in chunk_ends:
        has_exp = bool(n_exp) and int(n_exp_b[b0:b1].sum()) > 0
        if has_exp:
            ex = _expansion_chunk(
                b0, b1, expand, (q_c, shift, a_all, half_sq), (q_start, m_list),
                (x_start, x_sizes, xa, b, x_c), (alpha, inv_fact, p_exp),
            )  # fmt: skip
        for bb in range(b0, b1):
            q0, m = q_start[bb], m_list[bb]
            acc = acc_all[q0 : q0 + m]
            if has_exp and ex["nb"][bb - b0]:
                _add_expanded(acc, ex, bb - b0, q0, m)
            k = n_dir[bb]
            if k == 0:
                continue
            cols = cols_all[c_off[d_off] : c_off[d_off + k]]  # training points of those groups
            d_off += k
            _add_direct(acc, qa_all[q0 : q0 + m], q_c[bb], cols, XW, w, kernel, bufs, budget // m)
        b0 = b1
    logs = torch.log(acc_all)
    if gauss:
        logs += torch.repeat_interleave(shift, q_sizes)
    small = acc_all < torch.finfo(acc_all.dtype).tiny ** 0.8  # ~1e-246 in float64
    if small.any() and not compact:
        _redo_exactly(logs, small.nonzero().squeeze(1), Zq, Zx, logw, kernel, chunk_bytes)
    out[qp] = logs
    return out


def _taylor_setup(p_exp: int, Zx: Tensor, centres: Tensor, logw: Tensor) -> tuple:
    """The exponents α (R, D) with |α| <= p_exp, 1 / α! (R,), p_exp, the training points'
    offsets b (N, D) from their group centres ``centres`` (N, D), and their side of the moment
    matmuls [b, 1, -|b|²/2 + log w] (N, D+2)."""
    alpha = _multi_indices(Zx.shape[1], p_exp, Zx.device)  # (R, D)
    inv_fact = torch.exp(-torch.lgamma(alpha.to(Zx.dtype) + 1).sum(1))  # (R,) 1 / α!
    b = Zx - centres  # (N, D)
    xa = torch.cat([b, torch.ones_like(b[:, :1]), (logw - 0.5 * _sqnorm(b))[:, None]], 1)
    return alpha, inv_fact, p_exp, b, xa


def _scratch(
    Zq: Tensor, budget: int, m_list: list[int], c_max: int, width: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Scratch buffers of the direct sums, reused by every block: kernel values, gathered
    training points (width D[+1]) and their side of the matmul (D+2, the column D all ones)."""
    D = Zq.shape[1]
    cmax = budget // max(1, min(m_list)) + c_max
    bufs = (
        Zq.new_empty(budget + max(m_list) * c_max),  # kernel values
        Zq.new_empty(cmax, width),  # gathered training points
        Zq.new_empty(cmax, D + 2),  # their side of the matmul
    )
    bufs[2][:, D] = 1
    return bufs


def _group_stats(Zx: Tensor, w: Tensor, x_sizes: Tensor) -> tuple[Tensor, ...]:
    """_leaf_stats of the training groups plus their weight W (Bx,), weighted mean mu (Bx, D)
    and weighted variance var (Bx,)."""
    Bx, D = len(x_sizes), Zx.shape[1]
    x_of, x_lo, x_hi, x_c, x_rho = _leaf_stats(Zx, x_sizes)
    W = Zx.new_zeros(Bx).index_add_(0, x_of, w)  # (Bx,) group weights
    mu = Zx.new_zeros(Bx, D).index_add_(0, x_of, w[:, None] * Zx) / W[:, None]  # (Bx, D)
    var = Zx.new_zeros(Bx).index_add_(0, x_of, w * _sqnorm(Zx - mu[x_of])) / W  # (Bx,)
    return x_of, x_lo, x_hi, x_c, x_rho, W, mu, var


def _query_sides(
    Zq: Tensor, q_of: Tensor, q_c: Tensor, shift: Tensor, gauss: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Every query's offset a (M, D) from its block centre, -|a|²/2 (M,), and the query side
    of the direct matmuls (M, D+2) = [a, -|a|²/2 - shift_B, 1] (/ ln 2 for the Gaussian)."""
    a_all = Zq - q_c[q_of]  # (M, D)
    half_sq = -0.5 * _sqnorm(a_all)  # (M,) -|a|²/2
    qa_all = torch.cat(
        [
            a_all,
            (half_sq - shift[q_of] if gauss else half_sq)[:, None],
            torch.ones_like(half_sq)[:, None],
        ],
        1,
    )
    if gauss:
        qa_all.mul_(_LOG2E)  # exponents in base 2: exp2 is cheaper than exp
    return a_all, half_sq, qa_all


def _expansion_chunk(b0: int, b1: int, expand: Tensor, q, q_lists, x, taylor) -> dict:
    """The Taylor moments of the expanded pairs of blocks b0..b1-1 and their queries' sides:
    ``mom`` (n, R) group-major with ``rows`` (the row of each block-major pair), pairs per
    block ``nb`` from ``e_off``, ``gu`` (n, D+1), and the queries' a^α / α! ``A_all`` and
    [a, -|a|²/2] / ln 2 ``qu_all`` from query ``qc0``."""
    q_c, shift, a_all, half_sq = q
    q_start, m_list = q_lists
    x_start, x_sizes, xa, b, x_c = x
    alpha, inv_fact, p_exp = taylor
    bi, gi = expand[b0:b1].nonzero(as_tuple=True)  # block-major
    bi = bi + b0
    o = torch.argsort(gi, stable=True)  # group-major order of the pairs
    delta = q_c[bi[o]] - x_c[gi[o]]  # (n, D)
    la = torch.cat(
        [delta, (-0.5 * _sqnorm(delta) - shift[bi[o]])[:, None], torch.ones_like(delta[:, :1])],
        1,
    ).mul_(_LOG2E)
    mom = b.new_empty(len(o), len(alpha))  # group-major
    _moments((x_start, x_sizes, xa, b), gi[o], alpha, la, mom, _BLOCK_BYTES // 8)
    rows = torch.empty_like(o)
    rows[o] = torch.arange(len(o), device=o.device)  # row of mom of each pair
    nb = torch.bincount(bi - b0, minlength=b1 - b0)
    e_off = (torch.cumsum(nb, 0) - nb).tolist()
    nb = nb.tolist()
    gu = torch.cat([x_c[gi] - q_c[bi], torch.ones_like(delta[:, :1])], 1)  # (n, D+1)
    qc0 = q_start[b0]  # queries of the chunk: a^α / α! and [a, -|a|²/2] / ln 2
    qc1 = q_start[b1 - 1] + m_list[b1 - 1]
    return {
        "mom": mom,
        "rows": rows,
        "nb": nb,
        "e_off": e_off,
        "gu": gu,
        "mom_buf": b.new_empty(max(nb), len(alpha)),
        "qc0": qc0,
        "A_all": _monomials(a_all[qc0:qc1], alpha, p_exp).mul_(inv_fact),  # (m_chunk, R)
        "qu_all": torch.cat([a_all[qc0:qc1], half_sq[qc0:qc1, None]], 1).mul_(_LOG2E),
    }


def _add_expanded(acc: Tensor, ex: dict, i: int, q0: int, m: int) -> None:
    """Add the expanded pairs of block i of the chunk to its m queries' sums ``acc`` (m,)."""
    r0, k = ex["e_off"][i], ex["nb"][i]
    a0 = q0 - ex["qc0"]
    Mb = torch.index_select(ex["mom"], 0, ex["rows"][r0 : r0 + k], out=ex["mom_buf"][:k])
    P = torch.mm(Mb, ex["A_all"][a0 : a0 + m].T)  # (k, m) Σ_α M_α a^α / α!
    U = torch.mm(ex["gu"][r0 : r0 + k], ex["qu_all"][a0 : a0 + m].T)
    acc += U.exp2_().mul_(P).sum(0)  # (k, m) e^{-|a|²/2 - a·δ} Σ_α ...


def _add_direct(
    acc: Tensor,
    qa: Tensor,
    centre: Tensor,
    cols: Tensor,
    XW: Tensor,
    w: Tensor,
    kernel: Kernel,
    bufs: tuple[Tensor, Tensor, Tensor],
    step: int,
) -> None:
    """Add Σ_k w_k k(|q - x_k|) over training points ``cols`` to a block's sums ``acc`` (m,):
    one matmul of qa (m, D+2) with [x - c_B, 1, -|x - c_B|²/2 (+ log w)], ``step`` points at a
    time through the scratch buffers."""
    E_buf, g_buf, xa_buf = bufs
    m, D = qa.shape[0], qa.shape[1] - 2
    gauss = isinstance(kernel, GaussianKernel)
    step = max(1, step)
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
            kernel.kernel_(E)
            acc += E @ w[cj]


def _redo_exactly(
    logs: Tensor, rows: Tensor, Zq: Tensor, Zx: Tensor, logw: Tensor, kernel: Kernel, chunk_bytes
) -> None:
    """Overwrite logs[rows] by an exact log-sum-exp (queries whose linear sum underflowed)."""
    N, D = Zx.shape
    bq, bx = _block_sizes(len(rows), N, chunk_bytes // max(1, D), Zq.element_size())
    for i in range(0, len(rows), bq):
        q = Zq[rows[i : i + bq]]  # (b, D)
        part = Zq.new_full((len(q),), -math.inf)
        for j in range(0, N, bx):
            L = _exact_log_kernel(q, Zx[j : j + bx], kernel) + logw[j : j + bx]  # (b, c)
            part = torch.logaddexp(part, torch.logsumexp(L, 1))
        logs[rows[i : i + bq]] = part
