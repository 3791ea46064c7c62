"""HMM input: the user's sequences flattened, validated, and cut into padded time-major chunks.

Users give sequences as hmmlearn does (concatenated along the first axis with ``lengths``), as
a padded batch with a ``mask`` (True on a prefix of each row), as an equal-length batch, or as a
list. :func:`flatten` concatenates them into a :class:`Flat` that remembers the layout, so that
per-step results go back in the user's shape and errors name a step the way the user indexes
it (``X[3]``, ``X[1, 4]`` or ``X[1][4]``). NaN marks a missing observation; categorical symbols
are stored with -1 for missing.

:func:`make_chunks` sorts the sequences by length (longest first) and pads them into chunks of
bounded size, time-major (T, B): at step t only a prefix of the batch (``active[t]`` sequences)
is still running, so the recursions slice instead of masking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Chunk", "Flat", "flat_shape", "flatten", "make_chunks", "padded_shape", "to_tensor"]

#: elements of one (T, B, S) lattice per chunk of sequences (S = K, or K² for order 2)
_CHUNK_ELEMENTS = 2**23


@dataclass
class Flat:
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
class Chunk:
    """A batch of sequences padded to a common length, time-major (T, B)."""

    seq: Tensor  # (B,) indices of the sequences in the Flat
    index: Tensor  # (T, B) flat index of each step (0 where padded)
    mask: Tensor  # (T, B) bool, True where the step exists
    # categorical (T, B) symbols (M = missing or padding) | gaussian (3D, T*B) features
    # [observed, x², x] | log-emission (K, T, B) | pair log-emission (T, B, K, K)
    data: Tensor
    allowed: Tensor | None  # (K, T, B) 0/1, the label indicator; None without labels
    active: list[int]  # active[t]: how many sequences (a prefix, longest first) have step t
    center: Tensor | None  # (D,) gaussian: the data mean subtracted from x (numerical range)
    count_index: Tensor | None = None  # (K*T*B,) categorical: k * (M + 1) + x_t, built lazily


def to_tensor(x, name: str) -> Tensor:
    """``x`` as a tensor, refusing non-numeric arrays with a message that names ``name``."""
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


def flat_shape(kind: str) -> str:
    """The shape of one concatenated input, in words, for error messages."""
    return {"categorical": "(n_samples,)", "gaussian": "(n_samples, n_features)"}.get(
        kind, "(n_samples, n_components)"
    )


def padded_shape(kind: str) -> str:
    """The shape of a padded batch, in words, for error messages."""
    return {"categorical": "(B, T)", "gaussian": "(B, T, n_features)"}.get(
        kind, "(B, T, n_components)"
    )


def flatten(
    X,
    lengths=None,
    mask=None,
    labels=None,
    *,
    kind: str,
    n_components: int,
    n_features: int | None,
    dtype: torch.dtype,
    device: torch.device,
) -> Flat:
    """Validate the user's data and concatenate its sequences.

    ``kind`` is the emission ("categorical", "gaussian") or, for precomputed scores,
    "logemission" (N, K) / "logemission2" (N, K*K).
    """
    dev = device
    if _is_sequence_list(X):
        if lengths is not None or mask is not None:
            raise ValueError("give either a list of sequences or lengths/mask, not both")
        seqs = [to_tensor(s, "X") for s in X]
        lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        if (lens == 0).any():
            raise ValueError(f"empty sequence: X[{int((lens == 0).nonzero()[0])}] has length 0")
        if kind == "categorical":  # (T, 1) as hmmlearn, or (T,)
            seqs = [s[:, 0] if s.dim() == 2 and s.shape[1] == 1 else s for s in seqs]
        values = torch.cat(seqs)
        layout: tuple = ("list",)
        if labels is not None:
            labels = torch.cat([to_tensor(y, "labels").reshape(-1) for y in labels])
    else:
        X = to_tensor(X, "X")
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
                    f"with lengths, X must be {flat_shape(kind)} (concatenated "
                    f"sequences), got shape {tuple(X.shape)}"
                )
            lens = torch.as_tensor(np.asarray(lengths), dtype=torch.long).reshape(-1)
            if (lens <= 0).any():
                i = int((lens <= 0).nonzero()[0])
                raise ValueError(f"lengths must be positive; sequence {i} has length {lens[i]}")
            if int(lens.sum()) != len(X):
                raise ValueError(f"lengths must sum to len(X)={len(X)}, got sum {int(lens.sum())}")
            values, layout = X, ("concat",)
        else:
            if kind == "categorical" and X.dim() == 2 and X.shape[1] == 1 and mask is None:
                X = X[:, 0]
            if X.dim() == want:  # one sequence
                if mask is not None:
                    raise ValueError(
                        f"mask needs a padded batch X of {padded_shape(kind)}, got "
                        f"shape {tuple(X.shape)}"
                    )
                values, lens, layout = X, torch.tensor([len(X)]), ("concat",)
            elif X.dim() == want + 1:
                B, T = X.shape[:2]
                if mask is None:
                    mask = torch.ones(B, T, dtype=torch.bool)
                mask = to_tensor(mask, "mask").to(torch.bool)
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
                    f"X must be {flat_shape(kind)} (one sequence, or with lengths) or "
                    f"{padded_shape(kind)} (a batch), got shape {tuple(X.shape)}"
                )
        if labels is not None:
            labels = to_tensor(labels, "labels")
            if layout[0] == "padded":
                if tuple(labels.shape) != tuple(layout[1].shape):
                    raise ValueError(
                        f"labels must have shape {tuple(layout[1].shape)} like X, got "
                        f"{tuple(labels.shape)}"
                    )
                labels = labels.to(dev)[layout[1]]
    flat = Flat(values=values.to(dev), lengths=lens.to(dev), labels=None, layout=layout)
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
        bad = (labels < -1) | (labels >= n_components)
        if bad.any():
            n = int(bad.nonzero()[0])
            raise ValueError(
                f"labels must be states in 0..{n_components - 1} or -1 (unknown); "
                f"{flat.where(n)} has {int(labels[n])}"
            )
        flat.labels = labels
    flat.values = _check_values(
        flat, kind, n_components=n_components, n_features=n_features, dtype=dtype
    )
    return flat


def _check_values(
    flat: Flat, kind: str, *, n_components: int, n_features: int | None, dtype: torch.dtype
) -> Tensor:
    """The concatenated values checked for their kind: symbols (N,) long with -1 = missing,
    or floats (N, F) in ``dtype``."""
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
        M = n_features
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
    v = v.to(dtype)
    width = {"gaussian": n_features, "logemission": n_components}.get(kind, n_components**2)
    if width is not None and v.shape[1] != width:
        name = "n_features" if kind == "gaussian" else "n_components"
        raise ValueError(f"X has {v.shape[1]} features per step, but {name}={width}")
    inf = torch.isinf(v)
    if kind == "gaussian" and inf.any():
        n = int(inf.any(1).nonzero()[0])
        raise ValueError(f"X must be finite (NaN marks a missing value); {flat.where(n)} holds inf")
    if kind in ("logemission", "logemission2"):
        if torch.isnan(v).any() or (v == math.inf).any():
            n = int((torch.isnan(v) | (v == math.inf)).any(1).nonzero()[0])
            raise ValueError(f"log_emission must be < +inf and not NaN; {flat.where(n)} is not")
    return v


def make_chunks(
    flat: Flat,
    kind: str,
    *,
    n_components: int,
    order: int,
    n_features: int | None,
    dtype: torch.dtype,
) -> list[Chunk]:
    """Group sequences by length into padded time-major batches of bounded size."""
    K = n_components
    S = K if order == 1 else K * K
    lengths = flat.lengths
    by_length = torch.argsort(lengths, descending=True, stable=True)
    sorted_len = lengths[by_length].tolist()
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
        seq = by_length[i : i + nb]
        i += nb
        steps = torch.arange(T, device=lengths.device)[:, None]  # (T, 1)
        mask = steps < lengths[seq][None, :]  # (T, B)
        index = torch.where(mask, offsets[seq][None, :] + steps, 0)  # (T, B)
        if kind == "categorical":
            sym = flat.values[index]  # (T, B)
            data = torch.where(mask & (sym >= 0), sym, n_features)  # M = missing/pad
        else:
            x = flat.values[index]  # (T, B, F)
            if kind == "gaussian":
                o = mask[..., None] & ~torch.isnan(x)  # (T, B, D)
                xc = torch.where(o, x - center, 0)
                data = torch.cat([o.to(dtype), xc * xc, xc], -1)  # (T, B, 3D)
                data = data.reshape(-1, data.shape[-1]).T.contiguous()  # (3D, T*B)
            elif kind == "logemission":  # a padded step is 0 (likelihood 1)
                data = torch.where(mask[..., None], x, 0).permute(2, 0, 1).contiguous()
            else:  # pair log-emissions (T, B, K, K)
                data = torch.where(mask[..., None], x, 0).reshape(T, len(seq), K, K)
        allowed = None
        if flat.labels is not None:
            lab = torch.where(mask, flat.labels[index], -1)  # (T, B)
            if (lab >= 0).any():
                onehot = torch.nn.functional.one_hot(lab.clamp_min(0), K).to(dtype)
                allowed = torch.where((lab >= 0)[..., None], onehot, 1.0)  # (T, B, K)
                allowed = allowed.permute(2, 0, 1).contiguous()  # (K, T, B)
        active = mask.sum(1).tolist()
        chunks.append(Chunk(seq, index, mask, data, allowed, active, center))
    return chunks
