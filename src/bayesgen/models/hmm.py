"""Hidden Markov models: the Bayesian network of eq. 12 of the seed, with fast exact inference.

A hidden Markov model over T steps is the network

    p(x_1..T, z_1..T) = p(z_1) Π_{t>1} p(z_t | z_{t-1}) Π_t p(x_t | z_t),

drawn unrolled as z1 -> z2 -> z3 -> z4 with zt -> xt. The hidden chain has ``startprob_``
π_k = p(z_1 = k) and ``transmat_`` A_jk = p(z_t = k | z_{t-1} = j); a second-order chain
(``order=2``) adds ``transmat2_`` A_ijk = p(z_t = k | z_{t-2} = i, z_{t-1} = j) for t ≥ 3 (then
``transmat_`` is only the step z_1 -> z_2). Emissions p(x_t | z_t) are categorical
(``emissionprob_``, shape (K, M)) or Gaussian with diagonal covariance (``means_`` and ``covars_``,
each (K, D)); names follow hmmlearn, except that ``covars_`` holds the diagonal variances.

Inference is the forward–backward recursion in its scaled form (Rabiner 1989): with
E_t(k) = p(x_t | z_t = k),

    α̂_t = (α̂_{t-1} A) ⊙ E_t / c_t,    c_t = Σ_k [(α̂_{t-1} A) ⊙ E_t]_k,    log p(x) = Σ_t log c_t,
    β̂_{t-1} = A (E_t ⊙ β̂_t) / c_t,    γ_t = α̂_t ⊙ β̂_t,
    ξ_t(j, k) = α̂_{t-1}(j) A_jk E_t(k) β̂_t(k) / c_t.

It loops over time only and is batched over sequences (B) and states (K): one (K, K) x (K, B)
matmul per step, lattices laid out (K, T, B). Sequences are sorted by length and padded; at step t
only the sequences still running (a prefix of the batch) are computed. A missing observation has
emission likelihood 1, which marginalizes it out exactly (Σ_k A_jk = 1). A label (partially
labelled data) multiplies E_t by the indicator of the labelled state. Viterbi runs the same loop
in max-product log space. Few long sequences (T ≥ 1024) take a segmented route with O(√T)
sequential steps: per-segment transfer matrices (sum-product, or max-product for Viterbi), built
for all segments at once, give the exact α̂, β̂ (or δ and the best path) at segment boundaries,
then all segments run the ordinary recursion in one batch; the answers are the same.

Learning separates the sufficient statistics (``summarize``: expected start, transition and
emission counts) from the update (``from_summaries``), so supervised MLE (labels everywhere:
the counts), Baum–Welch (EM, with restarts) and partially labelled EM share one path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Dirichlet, Independent, Normal

from ..graph import DAG

__all__ = ["HMM"]

EMISSIONS = ("categorical", "gaussian")

#: elements of one (T, B, S) lattice per chunk of sequences (S = K, or K² for order 2)
_CHUNK_ELEMENTS = 2**23


# --------------------------------------------------------------------------- input handling
@dataclass
class _Flat:
    """Sequences concatenated along the first axis, with the layout the user gave them in."""

    values: Tensor  # (N,) long (categorical, -1 = missing) | (N, F) float (NaN = missing)
    lengths: Tensor  # (B,) long, each ≥ 1
    labels: Tensor | None  # (N,) long, -1 = unlabelled
    layout: tuple  # ("concat",) | ("padded", mask (B, T)) | ("list",)

    @property
    def offsets(self) -> Tensor:  # (B,)
        return torch.cumsum(self.lengths, 0) - self.lengths

    def where(self, n: int) -> str:
        """Name the n-th concatenated step the way the user indexes it."""
        if self.layout[0] == "concat":
            return f"X[{n}]"
        b = int(torch.searchsorted(torch.cumsum(self.lengths, 0), n, right=True))
        t = n - int(self.offsets[b])
        return f"X[{b}, {t}]" if self.layout[0] == "padded" else f"X[{b}][{t}]"

    def unflatten(self, out: Tensor, fill: float) -> Tensor | list[Tensor]:
        """Put per-step results (N, ...) back into the user's layout."""
        if self.layout[0] == "concat":
            return out
        if self.layout[0] == "list":
            return list(torch.split(out, self.lengths.tolist()))
        mask = self.layout[1]
        full = torch.full((*mask.shape, *out.shape[1:]), fill, dtype=out.dtype, device=out.device)
        full[mask] = out
        return full


@dataclass
class _Chunk:
    """A batch of sequences padded to a common length, time-major (T, B)."""

    seq: Tensor  # (B,) indices of the sequences in the _Flat
    index: Tensor  # (T, B) flat index of each step (0 where padded)
    mask: Tensor  # (T, B) bool, True where the step exists
    # categorical (T, B) symbols (M = missing or padding) | gaussian (3D, T*B) features
    # [observed, x², x] | log-emission (K, T, B) | pair log-emission (T, B, K, K)
    data: Tensor
    allowed: Tensor | None  # (K, T, B) 0/1, the label indicator; None without labels
    active: list[int]  # active[t]: how many sequences (a prefix, longest first) have step t
    center: Tensor | None  # (D,) gaussian: the data mean subtracted from x (numerical range)
    count_index: Tensor | None = None  # (K*T*B,) categorical: k * (M + 1) + x_t, built lazily


def _to_tensor(x, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    return torch.as_tensor(np.ascontiguousarray(arr))


def _is_sequence_list(X) -> bool:
    return isinstance(X, (list, tuple)) and len(X) > 0 and not np.isscalar(X[0])


def _normalize(counts: Tensor, dim: int = -1) -> Tensor:
    """Rows of non-negative counts to distributions; an all-zero row becomes uniform."""
    total = counts.sum(dim, keepdim=True)
    uniform = torch.full_like(counts, 1.0 / counts.shape[dim])
    return torch.where(total > 0, counts / total.clamp_min(torch.finfo(counts.dtype).tiny), uniform)


# --------------------------------------------------------------------------- the model
class HMM(nn.Module):
    """Hidden Markov model z1 -> z2 -> ... with emissions zt -> xt (seed eq. 12).

    Parameters
    ----------
    n_components : number of hidden states K.
    emission : "categorical" (symbols 0..n_features-1) or "gaussian" (diagonal covariance).
    n_features : M symbols (categorical) or D dimensions (gaussian); inferred by ``fit`` if None.
    order : 1 (first-order chain) or 2 (second-order, trigram transitions ``transmat2_``).
    n_iter, tol : Baum–Welch stops after ``n_iter`` iterations or when the total log-likelihood
        improves by less than ``tol`` (as hmmlearn).
    n_init : number of random restarts; the run with the best final log-likelihood is kept.
    pseudocount : added to every expected count before normalizing (a Dirichlet(1 + pseudocount)
        MAP estimate); 0 is maximum likelihood.
    covars_prior, min_covar : the diagonal variance update is (covars_prior + Σ γ (x - μ)²) / Σ γ,
        as hmmlearn's default prior; ``min_covar`` is added to the initial variances.
    warm_start : start EM from the current parameters when the model is already fitted.
    random_state : seed for initialization and restarts.

    Data: ``X`` is either concatenated sequences with hmmlearn's ``lengths`` (categorical (N,) or
    (N, 1), gaussian (N, D)), a padded batch with ``mask`` (categorical (B, T), gaussian
    (B, T, D); ``mask`` (B, T) True on each sequence's steps, a prefix of each row), a batch of
    equal-length sequences without ``mask``, or a list of sequences. NaN marks a missing
    observation (a whole step, or single dimensions of a gaussian step); it is marginalized.
    ``labels`` (same layout, -1 = unknown) clamps the hidden state where it is known.
    """

    startprob_: Tensor
    transmat_: Tensor
    transmat2_: Tensor
    emissionprob_: Tensor
    means_: Tensor
    covars_: Tensor

    _PARAMS = ("startprob_", "transmat_", "transmat2_", "emissionprob_", "means_", "covars_")

    def __init__(
        self,
        n_components: int,
        emission: str = "categorical",
        *,
        n_features: int | None = None,
        order: int = 1,
        n_iter: int = 100,
        tol: float = 1e-2,
        n_init: int = 1,
        pseudocount: float = 0.0,
        covars_prior: float = 1e-2,
        min_covar: float = 1e-3,
        warm_start: bool = False,
        random_state: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        if not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
        if emission not in EMISSIONS:
            raise ValueError(f"emission must be one of {EMISSIONS}, got {emission!r}")
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order!r}")
        if n_features is not None and (not isinstance(n_features, int) or n_features < 1):
            raise ValueError(f"n_features must be a positive integer or None, got {n_features!r}")
        for name, value, low in (("n_iter", n_iter, 1), ("n_init", n_init, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, value in (
            ("tol", tol),
            ("pseudocount", pseudocount),
            ("covars_prior", covars_prior),
            ("min_covar", min_covar),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.n_components = n_components
        self.emission = emission
        self.n_features = n_features
        self.order = order
        self.n_iter = n_iter
        self.tol = float(tol)
        self.n_init = n_init
        self.pseudocount = float(pseudocount)
        self.covars_prior = float(covars_prior)
        self.min_covar = float(min_covar)
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = dtype
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        for name in self._PARAMS:
            self.register_buffer(name, None)

    # ------------------------------------------------------------------ parameters
    def __setattr__(self, name, value):
        # allow ``model.transmat_ = numpy_array`` as in hmmlearn
        if name in HMM._PARAMS and value is not None and not isinstance(value, Tensor):
            value = torch.as_tensor(np.asarray(value, dtype=float), dtype=self.dtype)
        if name in HMM._PARAMS and isinstance(value, Tensor):
            value = value.to(device=self.device, dtype=self.dtype)
        super().__setattr__(name, value)

    @property
    def device(self) -> torch.device:
        for name in self._PARAMS:
            buf = self._buffers.get(name)
            if buf is not None:
                return buf.device
        return self._device

    def _param_names(self) -> tuple[str, ...]:
        names = ["startprob_", "transmat_"] + (["transmat2_"] if self.order == 2 else [])
        names += ["emissionprob_"] if self.emission == "categorical" else ["means_", "covars_"]
        return tuple(names)

    @property
    def is_fitted(self) -> bool:
        return all(self._buffers.get(n) is not None for n in self._param_names())

    def _check_params(self) -> None:
        """Validate shapes and constraints of the parameters, naming the one that fails."""
        missing = [n for n in self._param_names() if self._buffers.get(n) is None]
        if missing:
            raise ValueError(
                f"this HMM has no {', '.join(missing)}: call fit() or set the parameters first"
            )
        K = self.n_components
        tol = 1e-6 if self.dtype == torch.float64 else 1e-4
        shapes = {"startprob_": (K,), "transmat_": (K, K), "transmat2_": (K, K, K)}
        if self.emission == "categorical":
            M = self.emissionprob_.shape[-1] if self.emissionprob_.dim() == 2 else -1
            if self.n_features is None and M > 0:
                self.n_features = M
            shapes["emissionprob_"] = (K, self.n_features)
        else:
            D = self.means_.shape[-1] if self.means_.dim() == 2 else -1
            if self.n_features is None and D > 0:
                self.n_features = D
            shapes["means_"] = shapes["covars_"] = (K, self.n_features)
        for name in self._param_names():
            value = getattr(self, name)
            if tuple(value.shape) != shapes[name]:
                raise ValueError(
                    f"{name} must have shape {shapes[name]} (n_components={K}, "
                    f"n_features={self.n_features}), got {tuple(value.shape)}"
                )
            if not torch.isfinite(value).all():
                raise ValueError(f"{name} must be finite, got NaN or inf in {name}")
            if name in ("means_", "covars_"):
                continue
            if (value < 0).any():
                raise ValueError(f"{name} must be non-negative (probabilities), got {value.min()}")
            sums = value.sum(-1)
            bad = (sums - 1).abs() > tol
            if bad.any():
                where = tuple(int(i) for i in bad.nonzero()[0])
                raise ValueError(
                    f"{name} rows must sum to 1 (probability distributions); row {where} "
                    f"sums to {float(sums[where]):.6g}"
                )
        if self.emission == "gaussian" and (self.covars_ <= 0).any():
            raise ValueError(f"covars_ must be positive variances, got min {self.covars_.min()}")

    @property
    def emission_distribution(self) -> Categorical | Independent:
        """p(x | z) for every state z, as a torch distribution with batch shape (K,)."""
        self._check_params()
        if self.emission == "categorical":
            return Categorical(probs=self.emissionprob_)
        return Independent(Normal(self.means_, self.covars_.sqrt()), 1)

    @property
    def network(self) -> DAG:
        """The unrolled Bayesian network over 4 steps: z1->z2->z3->z4, zt->xt (order 2 adds
        z1->z3, z2->z4)."""
        z = [f"z{t}" for t in range(1, 5)]
        x = [f"x{t}" for t in range(1, 5)]
        edges = [(z[t], z[t + 1]) for t in range(3)]
        if self.order == 2:
            edges += [(z[t], z[t + 2]) for t in range(2)]
        edges += [(z[t], x[t]) for t in range(4)]
        return DAG(nodes=[v for pair in zip(z, x, strict=True) for v in pair], edges=edges)

    def n_parameters(self) -> int:
        """Free parameters of the factorization (each distribution loses one to normalization)."""
        K, F = self.n_components, self.n_features or 0
        n = (K - 1) + K * (K - 1) + (K * K * (K - 1) if self.order == 2 else 0)
        return n + (K * (F - 1) if self.emission == "categorical" else 2 * K * F)

    # ------------------------------------------------------------------ input conversion
    def _flatten(self, X, lengths=None, mask=None, labels=None, *, kind=None) -> _Flat:
        """Validate the user's data and concatenate its sequences."""
        kind = kind or self.emission
        dev = self.device
        if _is_sequence_list(X):
            if lengths is not None or mask is not None:
                raise ValueError("give either a list of sequences or lengths/mask, not both")
            seqs = [_to_tensor(s, "X") for s in X]
            lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
            if (lens == 0).any():
                raise ValueError(f"empty sequence: X[{int((lens == 0).nonzero()[0])}] has length 0")
            if kind == "categorical":  # (T, 1) as hmmlearn, or (T,)
                seqs = [s[:, 0] if s.dim() == 2 and s.shape[1] == 1 else s for s in seqs]
            values = torch.cat(seqs)
            layout: tuple = ("list",)
            if labels is not None:
                labels = torch.cat([_to_tensor(y, "labels").reshape(-1) for y in labels])
        else:
            X = _to_tensor(X, "X")
            if X.numel() == 0:
                raise ValueError(f"X is empty (shape {tuple(X.shape)}): no sequence to use")
            want = 1 if kind == "categorical" else 2  # dims of one concatenated sequence
            if lengths is not None:
                if mask is not None:
                    raise ValueError("give lengths (concatenated sequences) or mask, not both")
                if kind == "categorical" and X.dim() == 2 and X.shape[1] == 1:
                    X = X[:, 0]
                if X.dim() != want:
                    raise ValueError(
                        f"with lengths, X must be {self._flat_shape(kind)} (concatenated "
                        f"sequences), got shape {tuple(X.shape)}"
                    )
                lens = torch.as_tensor(np.asarray(lengths), dtype=torch.long).reshape(-1)
                if (lens <= 0).any():
                    i = int((lens <= 0).nonzero()[0])
                    raise ValueError(f"lengths must be positive; sequence {i} has length {lens[i]}")
                if int(lens.sum()) != len(X):
                    raise ValueError(
                        f"lengths must sum to len(X)={len(X)}, got sum {int(lens.sum())}"
                    )
                values, layout = X, ("concat",)
            else:
                if kind == "categorical" and X.dim() == 2 and X.shape[1] == 1 and mask is None:
                    X = X[:, 0]
                if X.dim() == want:  # one sequence
                    if mask is not None:
                        raise ValueError(
                            f"mask needs a padded batch X of {self._padded_shape(kind)}, got "
                            f"shape {tuple(X.shape)}"
                        )
                    values, lens, layout = X, torch.tensor([len(X)]), ("concat",)
                elif X.dim() == want + 1:
                    B, T = X.shape[:2]
                    if mask is None:
                        mask = torch.ones(B, T, dtype=torch.bool)
                    mask = _to_tensor(mask, "mask").to(torch.bool)
                    if tuple(mask.shape) != (B, T):
                        raise ValueError(
                            f"mask must have shape (B, T)={(B, T)} like X, got {tuple(mask.shape)}"
                        )
                    if (mask[:, 1:] & ~mask[:, :-1]).any():
                        b = int((mask[:, 1:] & ~mask[:, :-1]).any(1).nonzero()[0])
                        raise ValueError(
                            f"mask rows must be True on a prefix (sequence) then False (padding); "
                            f"row {b} is not"
                        )
                    lens = mask.sum(1)
                    if (lens == 0).any():
                        b = int((lens == 0).nonzero()[0])
                        raise ValueError(f"empty sequence: mask row {b} has no True step")
                    values, layout = X[mask], ("padded", mask.to(dev))
                else:
                    raise ValueError(
                        f"X must be {self._flat_shape(kind)} (one sequence, or with lengths) or "
                        f"{self._padded_shape(kind)} (a batch), got shape {tuple(X.shape)}"
                    )
            if labels is not None:
                labels = _to_tensor(labels, "labels")
                if layout[0] == "padded":
                    if tuple(labels.shape) != tuple(layout[1].shape):
                        raise ValueError(
                            f"labels must have shape {tuple(layout[1].shape)} like X, got "
                            f"{tuple(labels.shape)}"
                        )
                    labels = labels.to(dev)[layout[1]]
        flat = _Flat(values=values.to(dev), lengths=lens.to(dev), labels=None, layout=layout)
        if labels is not None:
            labels = labels.to(dev).reshape(-1)
            if labels.is_floating_point():
                if not torch.isfinite(labels).all() or (labels != labels.round()).any():
                    raise ValueError("labels must be integer states (or -1 for unknown)")
            labels = labels.long()
            if len(labels) != len(values):
                raise ValueError(
                    f"labels must have one entry per step ({len(values)}), got {len(labels)}"
                )
            bad = (labels < -1) | (labels >= self.n_components)
            if bad.any():
                n = int(bad.nonzero()[0])
                raise ValueError(
                    f"labels must be states in 0..{self.n_components - 1} or -1 (unknown); "
                    f"{flat.where(n)} has {int(labels[n])}"
                )
            flat.labels = labels
        flat.values = self._check_values(flat, kind)
        return flat

    @staticmethod
    def _flat_shape(kind: str) -> str:
        return {"categorical": "(n_samples,)", "gaussian": "(n_samples, n_features)"}.get(
            kind, "(n_samples, n_components)"
        )

    @staticmethod
    def _padded_shape(kind: str) -> str:
        return {"categorical": "(B, T)", "gaussian": "(B, T, n_features)"}.get(
            kind, "(B, T, n_components)"
        )

    def _check_values(self, flat: _Flat, kind: str) -> Tensor:
        v = flat.values
        if kind == "categorical":
            if v.dim() != 1:
                raise ValueError(
                    f"categorical X must hold one symbol per step, got shape "
                    f"{tuple(v.shape)} per sequence"
                )
            missing = torch.zeros(len(v), dtype=torch.bool, device=v.device)
            if v.is_floating_point():
                missing = torch.isnan(v)
                w = torch.where(missing, 0.0, v)
                bad = ~torch.isfinite(w) | (w != w.round())
                if bad.any():
                    n = int(bad.nonzero()[0])
                    raise ValueError(
                        f"categorical X must hold integer symbols (NaN = missing); "
                        f"{flat.where(n)} is {float(v[n])}"
                    )
                v = w
            elif v.dtype == torch.bool:
                v = v.long()
            v = v.long()
            if (v < 0).any():
                n = int((v < 0).nonzero()[0])
                raise ValueError(
                    f"categorical X must hold symbols >= 0 (NaN = missing); {flat.where(n)} is "
                    f"{int(v[n])}"
                )
            M = self.n_features
            if M is not None and (v >= M).any():
                n = int((v >= M).nonzero()[0])
                raise ValueError(
                    f"unknown symbol {int(v[n])} at {flat.where(n)}: n_features={M}, so symbols "
                    f"must be in 0..{M - 1}"
                )
            # missing observations get the extra symbol M (likelihood 1 in every state)
            return torch.where(missing, -1, v)
        if v.dim() != 2:
            name = "n_features" if kind == "gaussian" else "n_components"
            raise ValueError(f"X must have a last axis of {name}, got shape {tuple(v.shape)}")
        v = v.to(self.dtype)
        width = {"gaussian": self.n_features, "logemission": self.n_components}.get(
            kind, self.n_components**2
        )
        if width is not None and v.shape[1] != width:
            name = "n_features" if kind == "gaussian" else "n_components"
            raise ValueError(f"X has {v.shape[1]} features per step, but {name}={width}")
        inf = torch.isinf(v)
        if kind == "gaussian" and inf.any():
            n = int(inf.any(1).nonzero()[0])
            raise ValueError(
                f"X must be finite (NaN marks a missing value); {flat.where(n)} holds inf"
            )
        if kind in ("logemission", "logemission2"):
            if torch.isnan(v).any() or (v == math.inf).any():
                n = int((torch.isnan(v) | (v == math.inf)).any(1).nonzero()[0])
                raise ValueError(f"log_emission must be < +inf and not NaN; {flat.where(n)} is not")
        return v

    # ------------------------------------------------------------------ chunks
    def _chunks(self, flat: _Flat, kind: str | None = None) -> list[_Chunk]:
        """Group sequences by length into padded time-major batches of bounded size."""
        kind = kind or self.emission
        K = self.n_components
        S = K if self.order == 1 else K * K
        lengths = flat.lengths
        order = torch.argsort(lengths, descending=True, stable=True)
        sorted_len = lengths[order].tolist()
        offsets = flat.offsets
        chunks = []
        i, B_all = 0, len(sorted_len)
        center = None
        if kind == "gaussian":
            obs = ~torch.isnan(flat.values)
            center = torch.where(obs, flat.values, 0).sum(0) / obs.sum(0).clamp_min(1)  # (D,)
        while i < B_all:
            T = sorted_len[i]
            nb = max(1, min(B_all - i, _CHUNK_ELEMENTS // (T * S)))
            seq = order[i : i + nb]
            i += nb
            steps = torch.arange(T, device=lengths.device)[:, None]  # (T, 1)
            mask = steps < lengths[seq][None, :]  # (T, B)
            index = torch.where(mask, offsets[seq][None, :] + steps, 0)  # (T, B)
            if kind == "categorical":
                sym = flat.values[index]  # (T, B)
                data = torch.where(mask & (sym >= 0), sym, self.n_features)  # M = missing/pad
            else:
                x = flat.values[index]  # (T, B, F)
                if kind == "gaussian":
                    o = mask[..., None] & ~torch.isnan(x)  # (T, B, D)
                    xc = torch.where(o, x - center, 0)
                    data = torch.cat([o.to(self.dtype), xc * xc, xc], -1)  # (T, B, 3D)
                    data = data.reshape(-1, data.shape[-1]).T.contiguous()  # (3D, T*B)
                elif kind == "logemission":  # a padded step is 0 (likelihood 1)
                    data = torch.where(mask[..., None], x, 0).permute(2, 0, 1).contiguous()
                else:  # pair log-emissions (T, B, K, K)
                    data = torch.where(mask[..., None], x, 0).reshape(T, len(seq), K, K)
            allowed = None
            if flat.labels is not None:
                lab = torch.where(mask, flat.labels[index], -1)  # (T, B)
                if (lab >= 0).any():
                    onehot = torch.nn.functional.one_hot(lab.clamp_min(0), K).to(self.dtype)
                    allowed = torch.where((lab >= 0)[..., None], onehot, 1.0)  # (T, B, K)
                    allowed = allowed.permute(2, 0, 1).contiguous()  # (K, T, B)
            active = mask.sum(1).tolist()
            chunks.append(_Chunk(seq, index, mask, data, allowed, active, center))
        return chunks

    def _emissions(self, chunk: _Chunk, kind: str | None = None, log: bool = False):
        """Emission likelihoods of a chunk, shifted per step for range.

        Returns E (K, T, B) with E_t(k) ∝ p(x_t | z_t = k) (max 1 per step), and the shift
        (T, B) or None such that log p(x_t | k) = log E_t(k) + shift_t; ``log=True`` gives log E.
        """
        kind = kind or self.emission
        T, B = chunk.mask.shape
        K = self.n_components
        shift = None
        if kind == "categorical":
            ones = self.emissionprob_.new_ones(K, 1)  # the extra symbol M: missing / padding
            table = torch.cat([self.emissionprob_, ones], 1)  # (K, M+1)
            if log:
                table = torch.log(table)
            index = chunk.data.reshape(1, -1).expand(K, -1)  # (K, T*B)
            E = torch.gather(table, 1, index).reshape(K, T, B)  # (K, T, B)
        else:
            if kind == "gaussian":
                mu = self.means_ - chunk.center  # (K, D)
                var = self.covars_  # (K, D)
                W = torch.cat(
                    [-0.5 * (torch.log(2 * math.pi * var) + mu * mu / var), -0.5 / var, mu / var],
                    dim=1,
                )  # (K, 3D)
                logE = (W @ chunk.data).reshape(K, T, B)  # (K, T, B)
            elif kind == "logemission2":  # (T, B, K, K), only for Viterbi
                shift = chunk.data.amax((2, 3))  # (T, B)
                shift = torch.where(torch.isfinite(shift), shift, 0)
                return chunk.data - shift[..., None, None], shift
            else:
                logE = chunk.data  # (K, T, B)
            shift = logE.max(0).values  # (T, B)
            shift = torch.where(torch.isfinite(shift), shift, 0)
            E = logE - shift
            if not log:
                E.exp_()  # (K, T, B)
        if chunk.allowed is not None:
            E = E + torch.log(chunk.allowed) if log else E * chunk.allowed
        return E, shift

    # ------------------------------------------------------------------ recursions
    def _transitions(self) -> tuple[Tensor, Tensor]:
        """Order 2: the step-2 table A_jk broadcast to (K, K, K) (z_0 is a dummy), and A_ijk."""
        A = self.transmat_
        return A.unsqueeze(0).expand(A.shape[0], *A.shape), self.transmat2_

    def _forward(self, E: Tensor, active: list[int]) -> tuple[Tensor, Tensor]:
        """Scaled forward pass. E (K, T, B) -> α̂ (K, T, B) [order 2: (T, B, K, K)], c (T, B).

        ``active[t]`` sequences (a prefix of the batch, sorted by length) have a step t; α̂ is
        0 and c is 1 past a sequence's end.
        """
        K, T, B = E.shape
        full = active[-1] == B
        pi = self.startprob_
        c = E.new_empty(T, B) if full else E.new_ones(T, B)
        cs, Es = c.unbind(0), E.unbind(1)
        if self.order == 1:
            AT = self.transmat_.T.contiguous()
            alpha = E.new_empty(K, T, B) if full else E.new_zeros(K, T, B)
            al = alpha.unbind(1)  # views (K, B)
            torch.mul(Es[0], pi.unsqueeze(1), out=al[0])
            torch.sum(al[0], 0, out=cs[0])
            al[0].div_(cs[0])
            for t in range(1, T):
                n = active[t]
                if n == B:
                    a, prev, e, ct = al[t], al[t - 1], Es[t], cs[t]
                else:
                    a, prev, e, ct = al[t][:, :n], al[t - 1][:, :n], Es[t][:, :n], cs[t][:n]
                torch.mm(AT, prev, out=a)  # (K, n) = A^T α̂_{t-1}
                a.mul_(e)
                torch.sum(a, 0, out=ct)
                a.div_(ct)
            return alpha, c
        A1, A2 = self._transitions()
        alpha = E.new_zeros(T, B, K, K)  # (T, B, K, K): pair (z_{t-1}, z_t); z_0 is a dummy 0
        alpha[0, :, 0] = Es[0].T * pi
        torch.sum(alpha[0], (1, 2), out=cs[0])
        alpha[0].div_(cs[0][:, None, None])
        for t in range(1, T):
            n = active[t]
            a = torch.einsum("bij,ijk->bjk", alpha[t - 1, :n], A1 if t == 1 else A2)  # (n, K, K)
            a.mul_(Es[t][:, :n].T.unsqueeze(1))
            torch.sum(a, (1, 2), out=cs[t][:n])
            alpha[t, :n] = a.div_(cs[t][:n, None, None])
        return alpha, c

    def _backward(self, E: Tensor, c: Tensor, active: list[int]) -> tuple[Tensor, Tensor]:
        """Scaled backward pass; also returns w_t = E_t ⊙ β̂_t / c_t used by ξ (steps t ≥ 1;
        0 past a sequence's end). Overwrites E with E / c (a temporary of ``_emissions``)."""
        K, T, B = E.shape
        full = active[-1] == B
        Ecs = E.div_(c).unbind(1)  # views (K, B)
        if self.order == 1:
            A = self.transmat_.contiguous()
            beta = E.new_empty(K, T, B) if full else E.new_ones(K, T, B)
            w = E.new_empty(K, T, B) if full else E.new_zeros(K, T, B)
            bs, ws = beta.unbind(1), w.unbind(1)
            bs[T - 1].fill_(1.0)
            for t in range(T - 1, 0, -1):
                n = active[t]
                if n == B:
                    torch.mul(Ecs[t], bs[t], out=ws[t])
                    torch.mm(A, ws[t], out=bs[t - 1])  # (K, B) = A w_t
                else:
                    torch.mul(Ecs[t][:, :n], bs[t][:, :n], out=ws[t][:, :n])
                    torch.mm(A, ws[t][:, :n], out=bs[t - 1][:, :n])
            return beta, w
        A1, A2 = self._transitions()
        beta = E.new_ones(T, B, K, K)
        w = E.new_zeros(T, B, K, K)
        for t in range(T - 1, 0, -1):
            n = active[t]
            torch.mul(beta[t, :n], Ecs[t][:, :n].T.unsqueeze(1), out=w[t, :n])
            beta[t - 1, :n] = torch.einsum("ijk,bjk->bij", A1 if t == 1 else A2, w[t, :n])
        return beta, w

    # ------------------------------------------------------------------ long sequences
    def _segmented(self, E: Tensor, active: list[int]) -> bool:
        """Use the segmented recursions: order 1, equal lengths, few long sequences."""
        K, T, B = E.shape
        return self.order == 1 and active[-1] == B and T >= 1024 and B * K**3 <= 2**18

    def _segments(self, E: Tensor) -> tuple[Tensor, int, int]:
        """Steps 1..T-1 cut into C segments of L steps, padded with E = 1: (L, C, B, K)."""
        K, T, B = E.shape
        L = max(1, math.isqrt(T - 1))
        C = -(-(T - 1) // L)
        Es = E[:, 1:]
        if C * L > T - 1:
            Es = torch.cat([Es, Es.new_ones(K, C * L - (T - 1), B)], 1)
        return Es.reshape(K, C, L, B).permute(2, 1, 3, 0).contiguous(), C, L

    def _forward_segmented(self, E: Tensor):
        """The scaled forward pass in O(√T) sequential steps (exactly the same α̂ and c).

        Each segment's transfer matrix M_c = Π_t A diag(E_t) (normalized) is built for all
        segments at once; the α̂ at segment starts follow by C vector-matrix products; then every
        segment runs the ordinary recursion from its start, all segments in one batch.
        """
        K, T, B = E.shape
        A = self.transmat_
        Es, C, L = self._segments(E)  # (L, C, B, K)
        M = torch.eye(K, dtype=E.dtype, device=E.device).expand(C, B, K, K).clone()
        logs = E.new_zeros(C, B)
        for l in range(L):  # transfer matrices, all segments at once
            M = torch.matmul(M, A).mul_(Es[l].unsqueeze(2))  # (C, B, K, K)
            s = M.sum((2, 3))
            M.div_(s[..., None, None])
            logs.add_(torch.log(s))
        a = self.startprob_ * E[:, 0].T  # (B, K)
        c0 = a.sum(1)
        a = a / c0.unsqueeze(1)
        starts = E.new_empty(C, B, K)
        for ci in range(C):  # α̂ at the start of every segment
            starts[ci] = a
            a = torch.matmul(a.unsqueeze(1), M[ci]).squeeze(1)  # (B, K)
            a = a / a.sum(1, keepdim=True)
        al = E.new_empty(L, C * B, K)
        cc = E.new_empty(L, C * B)
        prev = starts.reshape(C * B, K)
        Ef = Es.reshape(L, C * B, K)
        for l in range(L):  # every segment from its start, in one batch
            x = torch.mm(prev, A).mul_(Ef[l])
            torch.sum(x, 1, out=cc[l])
            prev = x.div_(cc[l].unsqueeze(1))
            al[l] = prev
        alpha = E.new_empty(K, T, B)
        alpha[:, 0] = a0 = (self.startprob_ * E[:, 0].T / c0.unsqueeze(1)).T
        alpha[:, 1:] = al.reshape(L, C, B, K).permute(3, 1, 0, 2).reshape(K, C * L, B)[:, : T - 1]
        del a0
        c = E.new_empty(T, B)
        c[0] = c0
        c[1:] = cc.reshape(L, C, B).permute(1, 0, 2).reshape(C * L, B)[: T - 1]
        self._segment_cache = (M, logs, cc)
        return alpha, c

    def _backward_segmented(self, E: Tensor, c: Tensor):
        """The scaled backward pass in O(√T) sequential steps, from the forward's transfer
        matrices: β̂ at a segment's start is M_c β̂ at its end times exp(log s_c - Σ log c_t)."""
        K, T, B = E.shape
        A = self.transmat_
        M, logs, cc = self._segment_cache
        del self._segment_cache
        Es, C, L = self._segments(E)  # (L, C, B, K)
        cc = cc.reshape(L, C, B)
        scale = torch.exp(logs - torch.log(cc).sum(0))  # (C, B)
        ends = E.new_empty(C, B, K)
        b = E.new_ones(B, K)
        for ci in range(C - 1, -1, -1):  # β̂ at the end of every segment
            ends[ci] = b
            b = torch.matmul(M[ci], b.unsqueeze(2)).squeeze(2) * scale[ci].unsqueeze(1)
        Ec = (Es / cc.unsqueeze(3)).reshape(L, C * B, K)
        beta = E.new_empty(L, C * B, K)
        w = E.new_empty(L, C * B, K)
        b = ends.reshape(C * B, K)
        AT = A.T.contiguous()
        for l in range(L - 1, -1, -1):  # every segment from its end, in one batch
            beta[l] = b
            torch.mul(Ec[l], b, out=w[l])
            b = torch.mm(w[l], AT)
        out_beta = E.new_empty(K, T, B)
        out_w = E.new_zeros(K, T, B)
        out_beta[:, 0] = b.reshape(C, B, K)[0].T
        layout = (3, 1, 0, 2)  # (L, C, B, K) -> (K, C, L, B)
        out_beta[:, 1:] = beta.reshape(L, C, B, K).permute(layout).reshape(K, C * L, B)[:, : T - 1]
        out_w[:, 1:] = w.reshape(L, C, B, K).permute(layout).reshape(K, C * L, B)[:, : T - 1]
        return out_beta, out_w

    def _posterior(
        self, chunk: _Chunk, E: Tensor, shift, stats: dict | None, need_gamma: bool = False
    ):
        """Forward–backward on one chunk: log-likelihoods (B,), γ (K, T, B) (0 past the end),
        impossible steps (T, B); when ``stats`` is a dict the expected counts are added to it."""
        segmented = self._segmented(E, chunk.active)
        alpha, c = self._forward_segmented(E) if segmented else self._forward(E, chunk.active)
        mask = chunk.mask
        dead = ((c <= 0) | torch.isnan(c)) & mask  # (T, B) a step with probability 0
        loglik = torch.log(torch.where(dead, 1.0, c)).sum(0)  # (B,)
        if shift is not None:
            loglik = loglik + (shift * mask).sum(0)
        dead_seq = dead.any(0)
        loglik = torch.where(dead_seq, -math.inf, loglik)
        if stats is None and not need_gamma:
            return loglik, None, dead
        if stats is not None and dead_seq.any():
            b = int(dead_seq.nonzero()[0])
            t = int(dead[:, b].nonzero()[0])
            raise ValueError(
                f"sequence {int(chunk.seq[b])} has probability 0 under the model at step {t}; "
                "use pseudocount > 0 or check the data"
            )
        if dead.any():  # the recursions below need c > 0; the answer is -inf anyway
            segmented = False
        if segmented:
            beta, w = self._backward_segmented(E, c)
        else:
            beta, w = self._backward(E, torch.where(dead, 1.0, c), chunk.active)
        K, T = E.shape[:2]
        if stats is not None:
            stats["loglik"] += float(loglik.sum())
            if self.order == 1 and T > 1:
                xi = alpha[:, :-1].reshape(K, -1) @ w[:, 1:].reshape(K, -1).T  # (K, K)
                stats["trans"] += xi * self.transmat_
            elif self.order == 2:
                if T > 1:
                    first = alpha[0].sum(1)  # (B, K) marginal of z_1
                    stats["trans"] += torch.einsum("bj,bjk->jk", first, w[1]) * self.transmat_
                if T > 2:
                    xi2 = torch.einsum("tbij,tbjk->ijk", alpha[1:-1], w[2:])  # (K, K, K)
                    stats["trans2"] += xi2 * self.transmat2_
        if self.order == 1:
            gamma = alpha.mul_(beta)  # (K, T, B)
        else:
            gamma = (alpha * beta).sum(2).permute(2, 0, 1)  # (K, T, B): marginal of z_t
        if stats is not None:
            stats["start"] += gamma[:, 0].sum(1)
            self._accumulate_emissions(stats, chunk, gamma)
        return loglik, gamma, dead

    def _accumulate_emissions(self, stats: dict, chunk: _Chunk, gamma: Tensor) -> None:
        """Add Σ_t γ_t(k) [x_t = m] (categorical) or Σ γ o, Σ γ x, Σ γ x² (gaussian)."""
        K, T, B = gamma.shape
        if self.emission == "categorical":
            M1 = self.n_features + 1
            if chunk.count_index is None:
                k = torch.arange(K, device=gamma.device).view(K, 1, 1) * M1
                chunk.count_index = (chunk.data.unsqueeze(0) + k).reshape(-1)  # (K*T*B,)
            counts = torch.bincount(
                chunk.count_index, weights=gamma.reshape(-1), minlength=K * M1
            ).reshape(K, M1)
            stats["counts"] += counts[:, :-1]  # missing observations land in the last column
        else:
            D = self.n_features
            G = gamma.reshape(K, -1)  # (K, T*B)
            S = G @ chunk.data.T  # (K, 3D): [Σγ o, Σγ xc², Σγ xc]; zero at padding
            post, sq, lin = S[:, :D], S[:, D : 2 * D], S[:, 2 * D :]
            c = chunk.center
            stats["post"] += post
            stats["obs"] += lin + c * post
            stats["obs**2"] += sq + 2 * c * lin + c * c * post

    def _viterbi_segmented(self, logE: Tensor) -> tuple[Tensor, Tensor]:
        """Viterbi in O(√T) sequential steps (order 1, equal lengths): the same best path.

        Max-plus transfer matrices M_c(j, k) (best internal score from state j at a segment's
        start to k at its end) are built for all segments at once; the δ at segment ends and
        the path's states there follow by C max-plus products forward and C argmax steps back;
        then each segment is decoded between its two known end states, all in one batch.
        """
        K, T, B = logE.shape
        dev = logE.device
        logA = torch.log(self.transmat_)  # (K, K)
        L = max(1, math.isqrt(T - 1))
        C = (T - 1) // L  # whole segments over steps 1..C*L; the rest (< L steps) is a tail
        Ls = logE[:, 1 : 1 + C * L].reshape(K, C, L, B).permute(2, 1, 3, 0)  # (L, C, B, K)
        # 1) transfer matrices, one j at a time (no (C, B, K, K, K) temporary)
        M = logE.new_full((C, B, K, K), -math.inf)
        M.diagonal(dim1=2, dim2=3).fill_(0.0)
        for l in range(L):
            new = M[..., :1] + logA[0]  # (C, B, K, K)
            for j in range(1, K):
                torch.maximum(new, M[..., j : j + 1] + logA[j], out=new)
            M = new.add_(Ls[l].unsqueeze(2))
        # 2) δ at every segment boundary, then the tail step by step
        delta = torch.log(self.startprob_) + logE[:, 0].T  # (B, K)
        bounds = logE.new_empty(C + 1, B, K)
        for c in range(C):
            bounds[c] = delta
            delta = (delta.unsqueeze(2) + M[c]).amax(1)  # (B, K)
        bounds[C] = delta
        tail = list(range(1 + C * L, T))
        hist = [delta]
        for t in tail:
            delta = (delta.unsqueeze(2) + logA).amax(1) + logE[:, t].T
            hist.append(delta)
        logp, cur = delta.max(1)  # (B,)
        states = torch.empty(T, B, dtype=torch.long, device=dev)
        cols = torch.arange(B, device=dev)
        for i in range(len(tail), 0, -1):  # back through the tail
            states[tail[i - 1]] = cur
            cur = (hist[i - 1] + logA[:, cur].T).argmax(1)
        ends = torch.empty(C + 1, B, dtype=torch.long, device=dev)  # states at steps c*L
        ends[C] = cur
        for c in range(C - 1, -1, -1):  # back across segments
            cur = (bounds[c] + M[c, cols, :, cur]).argmax(1)
            ends[c] = cur
        # 3) every segment between its known end states, all segments in one batch
        first = ends[:-1].reshape(-1)  # (C*B,)
        last = ends[1:].reshape(-1)
        Lf = Ls.reshape(L, C * B, K)
        d = logE.new_full((C * B, K), -math.inf)
        d[torch.arange(C * B, device=dev), first] = 0.0
        hist = logE.new_empty(L, C * B, K)
        for l in range(L):
            d = (d.unsqueeze(2) + logA).amax(1) + Lf[l]
            hist[l] = d
        inner = torch.empty(L, C * B, dtype=torch.long, device=dev)
        cur = last
        for l in range(L - 1, -1, -1):
            inner[l] = cur
            prev = hist[l - 1] if l > 0 else None
            if prev is not None:
                cur = (prev + logA[:, cur].T).argmax(1)
        states[0] = ends[0]
        states[1 : 1 + C * L] = inner.reshape(L, C, B).permute(1, 0, 2).reshape(C * L, B)
        return logp, states

    def _viterbi(self, logE: Tensor, chunk: _Chunk) -> tuple[Tensor, Tensor]:
        """Max-product in log space. logE (K, T, B) -> best log-joint (B,), states (T, B).

        For order 2, logE may also be pair emissions (T, B, K, K): log p(x_t | z_{t-1}, z_t).

        δ_t(k) = max_j δ_{t-1}(j) + log A_jk + log E_t(k) is kept for every step (amax is much
        faster than max with indices); the backtrack recomputes the argmax along the path only.
        """
        pair = logE.dim() == 4
        if pair:
            T, B, K = logE.shape[:3]
        else:
            K, T, B = logE.shape
            if self._segmented(logE, chunk.active):
                return self._viterbi_segmented(logE)
        active = chunk.active
        dev = logE.device
        last = chunk.mask.sum(0) - 1  # (B,) each sequence's last step
        cols = torch.arange(B, device=dev)
        logpi = torch.log(self.startprob_)
        Ls = logE.unbind(0 if pair else 1)  # views (B, K, K) or (K, B)
        states = torch.full((T, B), -1, dtype=torch.long, device=dev)
        if self.order == 1:
            logA = torch.log(self.transmat_)  # (K, K)
            logA3 = logA.unsqueeze(2)  # (K, K, 1)
            D = logE.new_empty(K, T, B)  # δ for every step
            Ds = D.unbind(1)
            torch.add(Ls[0], logpi.unsqueeze(1), out=Ds[0])
            for t in range(1, T):
                n = active[t]
                if n == B:
                    torch.amax(Ds[t - 1].unsqueeze(1) + logA3, 0, out=Ds[t])  # (K, B)
                    Ds[t].add_(Ls[t])
                else:
                    d = Ds[t][:, :n]
                    torch.amax(Ds[t - 1][:, :n].unsqueeze(1) + logA3, 0, out=d)
                    d.add_(Ls[t][:, :n])
            final = D[:, last, cols]  # (K, B)
            logp, cur = final.max(0)
            states[last, cols] = cur
            rows = states.unbind(0)
            best = logE.new_empty(B)
            for t in range(T - 1, 0, -1):  # (max(0) is faster than argmax(0) on CPU)
                n = active[t]
                if n == B:  # z_{t-1} = argmax_j δ_{t-1}(j) + log A_{j, z_t}
                    torch.max(Ds[t - 1] + logA[:, cur], 0, out=(best, rows[t - 1]))
                    cur = rows[t - 1]
                else:
                    prev = (Ds[t - 1][:, :n] + logA[:, cur[:n]]).max(0).indices  # (n,)
                    rows[t - 1][:n] = prev
                    cur = rows[t - 1].clone()
                    cur[n:] = states[last[n:], cols[n:]]  # ended sequences: their last state
            return logp, states
        A1, A2 = self._transitions()
        logA1, logA2 = torch.log(A1), torch.log(A2)
        D = logE.new_full((T, B, K, K), -math.inf)  # δ over pairs (z_{t-1}, z_t)
        D[0, :, 0] = logpi + (Ls[0][:, 0] if pair else Ls[0].T)
        tmp = logE.new_empty(B, K, K)
        for t in range(1, T):
            n = active[t]
            logTr = logA1 if t == 1 else logA2
            prev, best, scratch = D[t - 1, :n], D[t, :n], tmp[:n]  # (n, K, K)
            # max over z_{t-2} = i, one i at a time (no (n, K, K, K) temporary: cache-friendly)
            torch.add(prev[:, 0].unsqueeze(2), logTr[0], out=best)
            for i in range(1, K):
                torch.add(prev[:, i].unsqueeze(2), logTr[i], out=scratch)
                torch.maximum(best, scratch, out=best)
            best.add_(Ls[t][:n] if pair else Ls[t][:, :n].T.unsqueeze(1))
        final = D[last, cols].reshape(B, -1)  # (B, K*K)
        logp, flat = final.max(1)
        p, q = flat // K, flat % K  # (z_{t-1}, z_t) at each sequence's last step
        states[last, cols] = q
        for t in range(T - 1, 0, -1):
            n = active[t]
            logTr = logA1 if t == 1 else logA2
            pn, qn = p[:n], q[:n]
            scores = D[t - 1, cols[:n], :, pn] + logTr[:, pn, qn].T  # (n, K) over z_{t-2}
            prev = scores.argmax(1)
            states[t - 1, :n] = pn
            p[:n], q[:n] = prev, pn.clone()
        return logp, states

    # ------------------------------------------------------------------ learning
    def _empty_stats(self) -> dict:
        K, F = self.n_components, self.n_features
        z = dict(dtype=self.dtype, device=self.device)
        stats = {"loglik": 0.0, "start": torch.zeros(K, **z), "trans": torch.zeros(K, K, **z)}
        if self.order == 2:
            stats["trans2"] = torch.zeros(K, K, K, **z)
        if self.emission == "categorical":
            stats["counts"] = torch.zeros(K, F, **z)
        else:
            for key in ("post", "obs", "obs**2"):
                stats[key] = torch.zeros(K, F, **z)
        return stats

    def _summarize_chunks(self, chunks: list[_Chunk]) -> dict:
        stats = self._empty_stats()
        for chunk in chunks:
            E, shift = self._emissions(chunk)
            self._posterior(chunk, E, shift, stats)
        return stats

    def _count_stats(self, flat: _Flat) -> dict:
        """Sufficient statistics of fully labelled sequences: plain counts (no inference)."""
        K = self.n_components
        stats = self._empty_stats()
        z = flat.labels
        starts = flat.offsets
        ones = torch.ones(len(z), dtype=self.dtype, device=z.device)
        stats["start"] += torch.bincount(z[starts], minlength=K).to(self.dtype)
        pos = torch.arange(len(z), device=z.device) - torch.repeat_interleave(starts, flat.lengths)
        t1 = (pos == 1).nonzero().squeeze(1)
        stats["trans"] += (
            torch.bincount(z[t1 - 1] * K + z[t1], minlength=K * K).reshape(K, K).to(self.dtype)
        )
        rest = (pos >= 2).nonzero().squeeze(1)
        if self.order == 1:
            stats["trans"] += (
                torch.bincount(z[rest - 1] * K + z[rest], minlength=K * K)
                .reshape(K, K)
                .to(self.dtype)
            )
        else:
            idx = (z[rest - 2] * K + z[rest - 1]) * K + z[rest]
            stats["trans2"] += torch.bincount(idx, minlength=K**3).reshape(K, K, K).to(self.dtype)
        v = flat.values
        if self.emission == "categorical":
            M = self.n_features
            seen = v >= 0
            idx = z[seen] * M + v[seen]
            stats["counts"] += torch.bincount(idx, minlength=K * M).reshape(K, M).to(self.dtype)
        else:
            o = ~torch.isnan(v)
            x = torch.where(o, v, 0)
            onehot = torch.zeros(len(z), K, dtype=self.dtype, device=z.device)
            onehot[torch.arange(len(z)), z] = ones
            stats["post"] += onehot.T @ o.to(self.dtype)
            stats["obs"] += onehot.T @ x
            stats["obs**2"] += onehot.T @ (x * x)
        stats["loglik"] = math.nan
        return stats

    def summarize(self, X, lengths=None, *, mask=None, labels=None) -> dict:
        """Expected sufficient statistics under the current parameters (the E-step).

        Keys: ``start`` (K,) E[#z_1=k]; ``trans`` (K, K) E[#(z_{t-1}=j, z_t=k)] (for order 2 only
        t = 2); ``trans2`` (K, K, K) E[#(z_{t-2}, z_{t-1}, z_t)]; ``counts`` (K, M) E[#(z=k, x=m)]
        or ``post``/``obs``/``obs**2`` (K, D) Σγ, Σγx, Σγx² over observed values; ``loglik`` the
        total log-likelihood. Fully labelled data gives plain counts without inference.
        """
        flat = self._flatten(X, lengths, mask, labels)
        if self._fully_labelled(flat):
            if self.n_features is None:
                self._infer_n_features(flat)
            return self._count_stats(flat)
        self._check_params()
        return self._summarize_chunks(self._chunks(flat))

    def from_summaries(self, stats: dict) -> HMM:
        """The M-step: maximum-likelihood (or pseudocount MAP) parameters from statistics."""
        a = self.pseudocount
        self.startprob_ = _normalize(stats["start"] + a)
        self.transmat_ = _normalize(stats["trans"] + a)
        if self.order == 2:
            self.transmat2_ = _normalize(stats["trans2"] + a)
        if self.emission == "categorical":
            self.emissionprob_ = _normalize(stats["counts"] + a)
        else:
            post, obs, obs2 = stats["post"], stats["obs"], stats["obs**2"]
            old_mu = self._buffers.get("means_")
            mu = obs / post.clamp_min(1e-300)
            if old_mu is not None:
                mu = torch.where(post > 0, mu, old_mu)
            c_n = obs2 - 2 * mu * obs + mu * mu * post
            var = (self.covars_prior + c_n) / post.clamp_min(1e-5)
            old_var = self._buffers.get("covars_")
            if old_var is not None:
                var = torch.where(post > 0, var, old_var)
            self.means_ = mu
            self.covars_ = var.clamp_min(torch.finfo(self.dtype).tiny)
        return self

    def _fully_labelled(self, flat: _Flat) -> bool:
        return flat.labels is not None and bool((flat.labels >= 0).all())

    def _infer_n_features(self, flat: _Flat) -> None:
        if self.emission == "categorical":
            seen = flat.values[flat.values >= 0]
            self.n_features = int(seen.max()) + 1 if len(seen) else 1
        else:
            self.n_features = flat.values.shape[1]

    def _init_params(self, flat: _Flat, seed: int) -> None:
        """Random start: Dirichlet(1) tables; gaussian means from a few k-means steps."""
        K, F = self.n_components, self.n_features
        dev = self.device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ones = torch.ones(K, dtype=self.dtype, device=dev)
            self.startprob_ = Dirichlet(ones).sample()
            self.transmat_ = Dirichlet(ones.expand(K, K)).sample()
            if self.order == 2:
                self.transmat2_ = Dirichlet(ones.expand(K, K, K)).sample()
            if self.emission == "categorical":
                self.emissionprob_ = Dirichlet(torch.ones(K, F, dtype=self.dtype)).sample()
                return
            v = flat.values
            o = ~torch.isnan(v)
            rows = v[o.all(1)]
            if len(rows) == 0:
                raise ValueError("gaussian X needs at least one fully observed step to initialize")
            n = len(rows)
            sub = rows[torch.randperm(n)[: min(n, 20000)]]
            means = sub[torch.randint(len(sub), (K,))].clone()
            for _ in range(10):  # Lloyd's k-means iterations, batched over points
                assign = torch.cdist(sub, means).argmin(1)
                counts = torch.bincount(assign, minlength=K).to(self.dtype)
                sums = torch.zeros_like(means).index_add_(0, assign, sub)
                means = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], means)
            x = torch.where(o, v, 0)
            mean = x.sum(0) / o.sum(0).clamp_min(1)
            var = (torch.where(o, v - mean, 0) ** 2).sum(0) / (o.sum(0) - 1).clamp_min(1)
            self.means_ = means
            self.covars_ = (var + self.min_covar).expand(K, F).clone()

    def fit(self, X, lengths=None, *, mask=None, labels=None) -> HMM:
        """Fit by supervised MLE (``labels`` everywhere), or Baum–Welch EM otherwise.

        Partially labelled data (``labels`` with -1 where unknown) runs EM with the known states
        clamped. ``history_`` holds the log-likelihood at each EM iteration.
        """
        flat = self._flatten(X, lengths, mask, labels)
        if self.n_features is None:
            self._infer_n_features(flat)
        if self._fully_labelled(flat):
            self.from_summaries(self._count_stats(flat))
            self.history_ = [float(self._score_flat(flat).sum())]
            self.n_iter_, self.converged_ = 1, True
            return self
        chunks = self._chunks(flat)
        seed = (
            self.random_state
            if self.random_state is not None
            else int(torch.randint(2**31 - 1, (1,)))
        )
        warm = self.warm_start and self.is_fitted
        best = None
        for r in range(1 if warm else self.n_init):
            if not warm:
                self._init_params(flat, seed + r)
            self._check_params()
            history, converged = [], False
            for _ in range(self.n_iter):  # E-step, M-step, then the convergence test (as hmmlearn)
                stats = self._summarize_chunks(chunks)
                history.append(stats["loglik"])
                self.from_summaries(stats)
                if len(history) > 1 and history[-1] - history[-2] < self.tol:
                    converged = True
                    break
            if best is None or history[-1] > best[0]:
                params = {n: getattr(self, n).clone() for n in self._param_names()}
                best = (history[-1], params, history, converged)
        _, params, self.history_, self.converged_ = best
        for name, value in params.items():
            setattr(self, name, value)
        self.n_iter_ = len(self.history_)
        return self

    # ------------------------------------------------------------------ queries
    def _score_flat(self, flat: _Flat) -> Tensor:
        self._check_params()
        out = torch.empty(len(flat.lengths), dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat):
            E, shift = self._emissions(chunk)
            loglik, _, _ = self._posterior(chunk, E, shift, None)
            out[chunk.seq] = loglik
        return out

    def score_samples(self, X, lengths=None, *, mask=None, labels=None) -> Tensor:
        """log p(x) of each sequence, shape (B,) (with ``labels``: log p(x, z_labelled))."""
        self._check_params()
        return self._score_flat(self._flatten(X, lengths, mask, labels))

    log_prob = score_samples

    def score(self, X, lengths=None, *, mask=None, labels=None) -> float:
        """Total log-likelihood Σ_b log p(x_b) (hmmlearn's ``score``)."""
        return float(self.score_samples(X, lengths, mask=mask, labels=labels).sum())

    def predict_proba(self, X, lengths=None, *, mask=None, labels=None):
        """Posterior marginals γ_t(k) = p(z_t = k | x), in the layout of X plus a K axis."""
        self._check_params()
        flat = self._flatten(X, lengths, mask, labels)
        out = torch.empty(len(flat.values), self.n_components, dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat):
            E, shift = self._emissions(chunk)
            _, gamma, dead = self._posterior(chunk, E, shift, None, need_gamma=True)
            if dead.any():
                b = int(dead.any(0).nonzero()[0])
                raise ValueError(
                    f"sequence {int(chunk.seq[b])} has probability 0 under the model; its "
                    "posterior is undefined"
                )
            out[chunk.index[chunk.mask]] = gamma.permute(1, 2, 0)[chunk.mask]  # (n, K)
        return flat.unflatten(out, 0.0)

    def _decode_flat(self, flat: _Flat, kind: str | None = None) -> tuple[Tensor, Tensor]:
        self._check_params()
        states = torch.empty(len(flat.values), dtype=torch.long, device=self.device)
        logp = torch.empty(len(flat.lengths), dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat, kind):
            logE, shift = self._emissions(chunk, kind, log=True)
            lp, st = self._viterbi(logE, chunk)
            if shift is not None:
                lp = lp + (shift * chunk.mask).sum(0)
            logp[chunk.seq] = lp
            states[chunk.index[chunk.mask]] = st[chunk.mask]
        return logp, states

    def decode(self, X, lengths=None, *, mask=None, labels=None, algorithm: str = "viterbi"):
        """Most probable state sequence: ``(log_prob, states)`` as hmmlearn.

        ``algorithm="viterbi"`` maximizes the joint p(x, z) (log_prob = max log p(x, z), summed
        over sequences); ``"map"`` takes argmax_k γ_t(k) per step (log_prob = Σ log max γ).
        """
        self._check_params()
        flat = self._flatten(X, lengths, mask, labels)
        if algorithm == "viterbi":
            logp, states = self._decode_flat(flat)
            return float(logp.sum()), flat.unflatten(states, -1)
        elif algorithm == "map":
            gamma = self.predict_proba(X, lengths, mask=mask, labels=labels)
            g = torch.cat(gamma) if isinstance(gamma, list) else gamma
            best, states = g.max(-1)
            if flat.layout[0] == "padded":
                keep = flat.layout[1]
                return float(torch.log(best[keep]).sum()), torch.where(keep, states, -1)
            lp = float(torch.log(best).sum())
            return lp, flat.unflatten(states.reshape(-1), -1)
        else:
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")

    def predict(self, X, lengths=None, *, mask=None, labels=None):
        """Viterbi state sequence, in the layout of X (-1 at padding)."""
        return self.decode(X, lengths, mask=mask, labels=labels)[1]

    def decode_emissions(self, log_emission, lengths=None, *, mask=None):
        """Viterbi with precomputed emission log-likelihoods log p(x_t | z_t = k).

        ``log_emission`` is (N, K) with ``lengths``, (B, T, K) with ``mask``, or a list of (T, K):
        for emission models this class does not have (e.g. a tagger's unknown-word model). For
        ``order=2`` it may also be pair scores log p(x_t | z_{t-1} = j, z_t = k), (N, K, K) with
        ``lengths`` (an emission that also depends on the previous state, or any factor of
        (z_{t-1}, z_t, x): the network gains the edges z_{t-1} -> x_t); at the first step of a
        sequence only j = 0 is read. Returns ``(log_prob, states)``, log_prob per sequence (B,).
        """
        self._check_params()
        K = self.n_components
        kind = "logemission"
        le = (
            _to_tensor(log_emission, "log_emission") if not isinstance(log_emission, list) else None
        )
        if le is not None and lengths is not None and le.dim() == 3:
            if self.order != 2 or tuple(le.shape[1:]) != (K, K):
                raise ValueError(
                    f"pair log_emission (N, K, K) needs order=2 and K={K}, got shape "
                    f"{tuple(le.shape)} with order={self.order}"
                )
            log_emission, kind = le.reshape(len(le), K * K), "logemission2"
        flat = self._flatten(log_emission, lengths, mask, kind=kind)
        logp, states = self._decode_flat(flat, kind)
        return logp, flat.unflatten(states, -1)

    def sample(self, n_samples: int = 1, n_sequences: int | None = None, random_state=None):
        """Ancestral sampling z_1 → z_2 → ..., x_t | z_t: returns ``(X, Z)``.

        Shapes (n_sequences, n_samples[, D]) and (n_sequences, n_samples); with ``n_sequences``
        None, one sequence without the leading axis (as hmmlearn, but categorical X is (T,)).
        """
        self._check_params()
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if n_sequences is not None and (not isinstance(n_sequences, int) or n_sequences < 1):
            raise ValueError(f"n_sequences must be a positive integer or None, got {n_sequences!r}")
        B, T = n_sequences or 1, n_samples
        seed = random_state if random_state is not None else int(torch.randint(2**31 - 1, (1,)))
        with torch.random.fork_rng(devices=[] if self.device.type == "cpu" else [self.device]):
            torch.manual_seed(seed)
            Z = torch.empty(B, T, dtype=torch.long, device=self.device)
            Z[:, 0] = Categorical(probs=self.startprob_).sample((B,))
            rows = torch.arange(B, device=self.device)
            if T > 1:
                nxt = Categorical(probs=self.transmat_).sample((B,))  # (B, K)
                Z[:, 1] = nxt[rows, Z[:, 0]]
            K = self.n_components
            if T > 2 and self.order == 1 and (T - 2) * B * K <= 2**24:
                # a successor for every possible current state, all steps at once; the loop
                # over time only picks the one drawn for the state reached
                draws = Categorical(probs=self.transmat_).sample((T - 2, B))  # (T-2, B, K)
                for t in range(2, T):
                    Z[:, t] = draws[t - 2, rows, Z[:, t - 1]]
            elif T > 2:
                for t in range(2, T):
                    if self.order == 2:
                        probs = self.transmat2_[Z[:, t - 2], Z[:, t - 1]]  # (B, K)
                    else:
                        probs = self.transmat_[Z[:, t - 1]]
                    Z[:, t] = Categorical(probs=probs).sample()
            if self.emission == "categorical":
                X = Categorical(probs=self.emissionprob_[Z]).sample()  # (B, T)
            else:
                X = Normal(self.means_[Z], self.covars_[Z].sqrt()).sample()  # (B, T, D)
        if n_sequences is None:
            return X[0], Z[0]
        return X, Z

    def extra_repr(self) -> str:
        return (
            f"n_components={self.n_components}, emission={self.emission!r}, "
            f"n_features={self.n_features}, order={self.order}"
        )
