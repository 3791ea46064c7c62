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
split into KD-tree leaves; for a compact block of queries the exponent -r²/2 against a group of
training leaves is one matmul of augmented matrices (around the block's centre), the kernel
values are summed in linear space, and leaves whose bounding box proves a zero (compact kernels)
or negligible (< rtol) contribution are skipped. The few queries whose sum underflows are redone
with an exact log-sum-exp. Blocks are sized from ``chunk_bytes``, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import (
    Beta,
    Categorical,
    Distribution,
    Gamma,
    MixtureSameFamily,
    MultivariateNormal,
    constraints,
)

from ..graph import DAG

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


def _augment(Zq: Tensor, Zx: Tensor, logw: Tensor | None) -> tuple[Tensor, Tensor]:
    """Matrices whose product is E = -|zq - zx|²/2 (+ log w_k): (M, D+2) and (N, D+2)."""
    Qa = torch.cat([Zq, -0.5 * (Zq * Zq).sum(1, keepdim=True), torch.ones_like(Zq[:, :1])], 1)
    last = -0.5 * (Zx * Zx).sum(1, keepdim=True)
    if logw is not None:
        last = last + logw[:, None]
    Xa = torch.cat([Zx, torch.ones_like(Zx[:, :1]), last], 1)
    return Qa, Xa


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


def _kd_leaves(Z: Tensor, leaf: int) -> tuple[Tensor, Tensor]:
    """KD-tree leaf order of the points Z (N, D): (perm (N,), sizes (L,)).

    Level by level (vectorized over the nodes of a level), every node is split at the median of
    its widest coordinate; the leaves (at most ``leaf`` points) are contiguous runs of Z[perm].
    """
    N, D = Z.shape
    perm = torch.arange(N, device=Z.device)
    node = torch.zeros(N, dtype=torch.long, device=Z.device)  # node of each point of Z[perm]
    n_nodes = 1
    while N > leaf * n_nodes:
        Zp = Z[perm]  # (N, D)
        idx = node[:, None].expand(-1, D)
        lo = Z.new_full((n_nodes, D), math.inf).scatter_reduce(0, idx, Zp, "amin")
        hi = Z.new_full((n_nodes, D), -math.inf).scatter_reduce(0, idx, Zp, "amax")
        dim = (hi - lo).argmax(1)  # (n_nodes,) widest coordinate of each node
        key = Zp.gather(1, dim[node][:, None]).squeeze(1)  # (N,)
        o = torch.argsort(key, stable=True)
        o = o[torch.argsort(node[o], stable=True)]  # by node, then by the split coordinate
        perm, node = perm[o], node[o]
        counts = torch.bincount(node, minlength=n_nodes)
        rank = torch.arange(N, device=Z.device) - (torch.cumsum(counts, 0) - counts)[node]
        node = 2 * node + (rank >= (counts[node] + 1) // 2).long()
        n_nodes *= 2
    sizes = torch.bincount(node, minlength=n_nodes)
    return perm, sizes[sizes > 0]


def _ranges(starts: Tensor, sizes: Tensor) -> Tensor:
    """Concatenation of arange(s, s + n) for the given starts and sizes (vectorized)."""
    total = int(sizes.sum())
    offsets = torch.cumsum(sizes, 0) - sizes  # position of each run in the output
    return torch.repeat_interleave(starts - offsets, sizes, output_size=total) + torch.arange(
        total, device=starts.device
    )


_Q_LEAF, _X_LEAF = 256, 128  # queries per block row; training points per prunable leaf
_BLOCK_BYTES = 1 << 22  # preferred block of kernel values (cache-sized); chunk_bytes caps it
_MAX_SPAN = 256.0  # widest query block (whitened units): r² then errs by < ~1e-11 relative


def _query_blocks(Zq: Tensor, rows: Tensor, leaf: int):
    """Yield index tensors of compact query blocks: KD leaves of ``rows``, split further (down
    to single queries) while a block spans more than _MAX_SPAN in some coordinate."""
    perm, sizes = _kd_leaves(Zq[rows], leaf)
    rows = rows[perm]
    z = Zq[rows]
    leaf_of = torch.repeat_interleave(torch.arange(len(sizes), device=Zq.device), sizes)
    idx = leaf_of[:, None].expand(-1, Zq.shape[1])
    lo = Zq.new_full((len(sizes), Zq.shape[1]), math.inf).scatter_reduce(0, idx, z, "amin")
    hi = Zq.new_full((len(sizes), Zq.shape[1]), -math.inf).scatter_reduce(0, idx, z, "amax")
    wide = ((hi - lo).amax(1) > _MAX_SPAN).tolist()
    start = 0
    for m, too_wide in zip(sizes.tolist(), wide, strict=True):
        block = rows[start : start + m]
        start += m
        if too_wide and m > 1:
            yield from _query_blocks(Zq, block, max(1, m // 4))
        else:
            yield block


def _exact_log_kernel(q: Tensor, x: Tensor, kernel: str) -> Tensor:
    """log k(|q - x|) from exact differences (no |q|² cancellation): (b, D), (c, D) -> (b, c)."""
    E = -0.5 * ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # (b, c) = -r²/2
    return _log_kernel_(E, kernel)


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

    Both point sets are split into KD-tree leaves. For each compact block of queries, leaves of
    training points are visited nearest first, in groups of at most ``chunk_bytes`` of kernel
    values, with r² = |q - c|² + |x - c|² - 2 (q - c)·(x - c) as one matmul around the block's
    centre c. A leaf is skipped when its bounding box proves its contribution is zero (compact
    kernels: box distance >= 1) or, with ``rtol`` > 0, below rtol / n_leaves of every query's
    running sum (so the total relative error is at most rtol). Sums are in linear space; queries
    whose sum underflows (< tiny^0.8, ~1e-246 in float64) are redone as an exact log-sum-exp.
    ``x_leaves`` = ``_kd_leaves(Zx, _X_LEAF)`` when already computed.
    """
    M, N, D = Zq.shape[0], Zx.shape[0], Zq.shape[1]
    out = Zq.new_zeros(M)
    if M == 0:
        return out
    gauss = kernel == "gaussian"
    compact = kernel in ("tophat", "epanechnikov", "linear")
    xp, x_sizes = _kd_leaves(Zx, _X_LEAF) if x_leaves is None else x_leaves
    Zx, w = Zx[xp], w[xp]  # training leaves are contiguous runs
    logw = torch.log(w)
    Bx = len(x_sizes)
    leaf_of = torch.repeat_interleave(torch.arange(Bx, device=Zx.device), x_sizes)  # (N,)
    idx = leaf_of[:, None].expand(-1, D)
    x_lo = Zx.new_full((Bx, D), math.inf).scatter_reduce(0, idx, Zx, "amin")  # (Bx, D)
    x_hi = Zx.new_full((Bx, D), -math.inf).scatter_reduce(0, idx, Zx, "amax")
    x_logw = torch.log(Zx.new_zeros(Bx).index_add_(0, leaf_of, w))  # (Bx,) log leaf weight
    x_start = torch.cumsum(x_sizes, 0) - x_sizes
    log_tol = math.log(rtol / Bx) if rtol > 0 else -math.inf
    # a block of kernel values stays within the memory budget and small enough for the cache;
    # few training points allow taller query blocks (fewer, larger steps)
    block = max(1, min(chunk_bytes, _BLOCK_BYTES) // Zq.element_size())
    q_leaf = max(_Q_LEAF, block // N)
    cap = max(int(x_sizes.max()), block // q_leaf)  # columns per block
    all_rows = torch.arange(M, device=Zq.device)
    buf = Zq.new_empty(q_leaf * cap)
    for rows in _query_blocks(Zq, all_rows, q_leaf):
        zq = Zq[rows]  # (m, D)
        centre = zq.mean(0)  # expand r² around the block: no digits lost to |q|²
        qa, _ = _augment(zq - centre, zq[:0], None)  # (m, D+2)
        gap = torch.maximum(zq.amin(0) - x_hi, x_lo - zq.amax(0)).clamp_min(0)  # (Bx, D)
        d2 = (gap * gap).sum(1)  # (Bx,) squared distance from the query box to each leaf box
        order = torch.argsort(d2)
        pending = d2 < 1 if compact else torch.ones_like(d2, dtype=torch.bool)
        if gauss:
            log_bound = x_logw - 0.5 * d2  # log of the leaf's largest possible contribution
        elif not compact:
            log_bound = x_logw - d2.sqrt()
        acc = zq.new_zeros(len(rows))  # (m,)
        limit = 4 * _X_LEAF
        while True:
            if not compact and log_tol > -math.inf:
                low = float(acc.min())
                if low > 0:
                    pending &= log_bound > log_tol + math.log(low)
            cand = order[pending[order]]  # leaves still to visit, nearest first
            if cand.numel() == 0:
                break
            k = max(1, int((torch.cumsum(x_sizes[cand], 0) <= limit).sum()))
            take = cand[:k]
            cols = _ranges(x_start[take], x_sizes[take])  # training points of those leaves
            _, xa = _augment(zq[:0], Zx[cols] - centre, logw[cols] if gauss else None)
            E = buf[: len(rows) * len(cols)].view(len(rows), len(cols))  # reused, no page faults
            torch.mm(qa, xa.T, out=E)  # (m, c) = -r²/2 (+ log w)
            _kernel_(E, kernel)
            acc += E.sum(1) if gauss else E @ w[cols]
            pending[take] = False
            limit = min(4 * limit, cap)
        out[rows] = acc
    small = out < torch.finfo(out.dtype).tiny ** 0.8  # ~1e-246 in float64: subnormals near
    logs = torch.log(out)
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
    return logs


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
class KDE(nn.Module):
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
    def network(self) -> DAG:
        """z -> x: z ~ Categorical(w) picks a data point, x | z ~ K_H(x - x^z)."""
        return DAG(nodes=("z", "x"), edges=[("z", "x")])

    @property
    def empirical(self) -> EmpiricalDistribution:
        """The empirical distribution (eq. 13) that this KDE smooths."""
        self._fitted()
        return EmpiricalDistribution(self.data_, self.weights_)

    def _fitted(self) -> None:
        if not hasattr(self, "data_"):
            raise RuntimeError("this KDE is not fitted yet; call fit(X) first")

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
        perm, sizes = _kd_leaves(self._Zx, _X_LEAF)  # the training points' KD leaves, once
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
    def score_samples(self, X) -> Tensor:
        """log KDE(x) for each row of X: (M,)."""
        self._fitted()
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

    def log_prob(self, X) -> Tensor:
        """Alias of score_samples: log KDE(x), (M,)."""
        return self.score_samples(X)

    def score(self, X) -> float:
        """Total log-likelihood Σ_i log KDE(x_i) (scikit-learn's KernelDensity.score)."""
        return float(self.score_samples(X).sum())

    @torch.no_grad()
    def sample(self, n: int = 1) -> Tensor:
        """Ancestral sampling: z ~ Categorical(w), x = x^z + L u with u ~ the unit kernel."""
        self._fitted()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0; got {n!r}")
        z = Categorical(probs=self.weights_).sample((n,))  # (n,)
        u = _unit_kernel_sample(self.kernel, n, self.n_features_in_, self.data_)  # (n, D)
        return self.data_[z] + u @ self.scale_tril_.T

    def to_distribution(self) -> MixtureSameFamily:
        """The Gaussian KDE as a torch mixture (O(N) components; for small N)."""
        self._fitted()
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
