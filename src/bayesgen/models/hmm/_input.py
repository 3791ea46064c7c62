"""HMM input: the user's sequences flattened, validated, and cut into padded time-major chunks.

Users give sequences as hmmlearn does (concatenated along the first axis with ``lengths``), as
a padded batch with a ``mask`` (True on a prefix of each row), as an equal-length batch, or as a
list. :func:`flatten` concatenates them into a :class:`Flat` that remembers the layout, so that
per-step results go back in the user's shape and errors name a step the way the user indexes
it (``X[3]``, ``X[1, 4]`` or ``X[1][4]``). NaN marks a missing observation; categorical symbols
are stored with -1 for missing.

:func:`make_chunks` sorts the sequences by length (longest first) and pads them into chunks of
bounded size, time-major (T, B): at step t only a prefix of the batch (``active[t]`` sequences)
is still running, so the recursions slice instead of masking. For the blocked log-likelihood
a chunk of equal-length sequences can hold its steps in block order instead (:func:`block_order`),
so that step l of every block is one contiguous slice of the emissions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Chunk",
    "Flat",
    "block_order",
    "block_positions",
    "flat_shape",
    "flatten",
    "make_chunks",
    "padded_shape",
    "to_tensor",
]

#: elements of one (T, B, S) lattice per chunk of sequences (S = K, or K² for order 2)
_CHUNK_ELEMENTS = 2**23


@dataclass
class Flat:
    """Sequences concatenated along the first axis, with the layout the user gave them in."""

    values: Tensor  # (N,) long (categorical, -1 = missing) | (N, F) float (NaN = missing)
    lengths: Tensor  # (B,) long, each ≥ 1
    labels: Tensor | None  # (N,) long, -1 = unlabelled
    layout: tuple  # ("concat",) | ("padded", mask (B, T)) | ("list",)
    missing: bool = True  # categorical: some symbol is missing (False: known to be none)

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
    blocks: tuple[int, int] | None = None  # (L, T): T steps in block order (see block_order)


def block_order(T: int, L: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """The steps of a chunk in block order: step 0, then step l of every block for l = 0..L-1,
    steps 1..T-1 cut into C blocks of L (the last one shorter), so that step l of all blocks is
    one slice. Position 1 + l C + c holds step 1 + c L + l: the steps (1 + L C,) long, with
    step 0 at the positions past the last block's end, and those padding positions."""
    C = -(-(T - 1) // L)
    tail = T - 1 - (C - 1) * L  # steps of the last block, 1..L
    c, l = torch.arange(C, device=device), torch.arange(L, device=device)[:, None]
    order = torch.zeros(1 + C * L, dtype=torch.long, device=device)
    torch.add(c * L + 1, l, out=order[1:].view(L, C))  # (L, C): step l of block c
    padded = 1 + torch.arange(tail, L, device=device) * C + C - 1
    order[padded] = 0
    return order, padded


def block_positions(T: int, L: int, device: torch.device | None = None) -> Tensor:
    """Where each step 0..T-1 sits in :func:`block_order` (T,): its inverse permutation."""
    C = -(-(T - 1) // L)
    c, l = torch.arange(C, device=device)[:, None], torch.arange(L, device=device)
    return torch.cat([c.new_zeros(1), (1 + l * C + c).reshape(-1)[: T - 1]])


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
        values, lens, layout, labels = _from_list(X, lengths, mask, labels, kind)
    else:
        X = to_tensor(X, "X")
        if X.numel() == 0:
            raise ValueError(f"X is empty (shape {tuple(X.shape)}): no sequence to use")
        if lengths is not None:
            if mask is not None:
                raise ValueError("give lengths (concatenated sequences) or mask, not both")
            values, lens, layout = _from_concatenated(X, lengths, kind)
        else:
            values, lens, layout = _from_batch(X, mask, kind, dev)
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
        flat.labels = _checked_labels(labels.to(dev).reshape(-1), flat, n_components)
    flat.values = _check_values(
        flat, kind, n_components=n_components, n_features=n_features, dtype=dtype
    )
    return flat


def _from_list(X, lengths, mask, labels, kind: str) -> tuple[Tensor, Tensor, tuple, Tensor | None]:
    """A list of sequences: (values, lengths, layout, labels), concatenated."""
    if lengths is not None or mask is not None:
        raise ValueError("give either a list of sequences or lengths/mask, not both")
    seqs = [to_tensor(s, "X") for s in X]
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    if (lens == 0).any():
        raise ValueError(f"empty sequence: X[{int((lens == 0).nonzero()[0])}] has length 0")
    if kind == "categorical":  # (T, 1) as hmmlearn, or (T,)
        seqs = [s[:, 0] if s.dim() == 2 and s.shape[1] == 1 else s for s in seqs]
    if labels is not None:
        labels = torch.cat([to_tensor(y, "labels").reshape(-1) for y in labels])
    return torch.cat(seqs), lens, ("list",), labels


def _from_concatenated(X: Tensor, lengths, kind: str) -> tuple[Tensor, Tensor, tuple]:
    """Concatenated sequences with hmmlearn's ``lengths``: (values, lengths, layout)."""
    want = 1 if kind == "categorical" else 2  # dims of one concatenated sequence
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
    return X, lens, ("concat",)


def _from_batch(X: Tensor, mask, kind: str, dev) -> tuple[Tensor, Tensor, tuple]:
    """One sequence, or a batch (B, T, ...) padded as ``mask`` says (None: no padding)."""
    want = 1 if kind == "categorical" else 2  # dims of one concatenated sequence
    if kind == "categorical" and X.dim() == 2 and X.shape[1] == 1 and mask is None:
        X = X[:, 0]
    if X.dim() == want:  # one sequence
        if mask is not None:
            raise ValueError(
                f"mask needs a padded batch X of {padded_shape(kind)}, got shape {tuple(X.shape)}"
            )
        return X, torch.tensor([len(X)]), ("concat",)
    if X.dim() != want + 1:
        raise ValueError(
            f"X must be {flat_shape(kind)} (one sequence, or with lengths) or "
            f"{padded_shape(kind)} (a batch), got shape {tuple(X.shape)}"
        )
    B, T = X.shape[:2]
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool)
    mask = to_tensor(mask, "mask").to(torch.bool)
    if tuple(mask.shape) != (B, T):
        raise ValueError(f"mask must have shape (B, T)={(B, T)} like X, got {tuple(mask.shape)}")
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        b = int((mask[:, 1:] & ~mask[:, :-1]).any(1).nonzero()[0])
        raise ValueError(
            f"mask rows must be True on a prefix (sequence) then False (padding); row {b} is not"
        )
    lens = mask.sum(1)
    if (lens == 0).any():
        b = int((lens == 0).nonzero()[0])
        raise ValueError(f"empty sequence: mask row {b} has no True step")
    return X[mask], lens, ("padded", mask.to(dev))


def _checked_labels(labels: Tensor, flat: Flat, n_components: int) -> Tensor:
    """Integer states in 0..K-1 or -1 (unknown), one per step of ``flat``: (N,)."""
    if labels.is_floating_point():
        if not torch.isfinite(labels).all() or (labels != labels.round()).any():
            raise ValueError("labels must be integer states (or -1 for unknown)")
    labels = labels.long()
    if len(labels) != len(flat.values):
        raise ValueError(
            f"labels must have one entry per step ({len(flat.values)}), got {len(labels)}"
        )
    bad = (labels < -1) | (labels >= n_components)
    if bad.any():
        n = int(bad.nonzero()[0])
        raise ValueError(
            f"labels must be states in 0..{n_components - 1} or -1 (unknown); "
            f"{flat.where(n)} has {int(labels[n])}"
        )
    return labels


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
        missing = None  # integer symbols: none missing
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
        lo, hi = torch.aminmax(v)  # one pass for both range checks
        if lo < 0:
            n = int((v < 0).nonzero()[0])
            raise ValueError(
                f"categorical X must hold symbols >= 0 (NaN = missing); {flat.where(n)} is "
                f"{int(v[n])}"
            )
        M = n_features
        if M is not None and hi >= M:
            n = int((v >= M).nonzero()[0])
            raise ValueError(
                f"unknown symbol {int(v[n])} at {flat.where(n)}: n_features={M}, so symbols "
                f"must be in 0..{M - 1}"
            )
        if missing is None or not bool(missing.any()):
            flat.missing = False
            return v
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
    block_length: Callable[[int, int], int] | None = None,
) -> list[Chunk]:
    """Group sequences by length into padded time-major batches of bounded size.

    ``block_length(T, B)`` > 0 for a batch of B sequences of T steps puts its steps in block
    order (:func:`block_order`, padding masked), for the blocked log-likelihood.
    """
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
        values_t = flat.values.T.contiguous()  # (D, N): a step's features gathered by column
    else:
        values_t = None
    while i < B_all:
        T = sorted_len[i]
        nb = max(1, min(B_all - i, _CHUNK_ELEMENTS // (T * S)))
        seq = by_length[i : i + nb]
        i += nb
        equal = sorted_len[i - 1] == T  # no padding
        L = block_length(T, nb) if equal and block_length is not None else 0
        blocks, padded, dev = None, None, lengths.device
        if L:  # steps in block order; padded positions masked
            order, padded = block_order(T, L, dev)  # (T',)
            blocks, T = (L, T), len(order)
            mask = torch.ones(T, nb, dtype=torch.bool, device=dev)
            mask[padded] = False
            index = offsets[seq][None, :] + order[:, None]  # (T', B)
            equal = len(padded) == 0
        else:
            steps = torch.arange(T, device=dev)[:, None]  # (T, 1)
            if equal:
                mask = torch.ones(T, nb, dtype=torch.bool, device=dev)
                index = offsets[seq][None, :] + steps  # (T, B)
            else:
                mask = steps < lengths[seq][None, :]  # (T, B)
                index = torch.where(mask, offsets[seq][None, :] + steps, 0)  # (T, B)
        flat_index = index.view(-1)
        data = _chunk_data(
            flat, kind, flat_index, mask, (T, nb, K), equal, padded, n_features, values_t, center
        )
        allowed = _allowed_states(flat, flat_index, mask, K, dtype)
        active = [nb] * T if equal or blocks else mask.sum(1).tolist()
        chunks.append(Chunk(seq, index, mask, data, allowed, active, center, blocks=blocks))
    return chunks


def _chunk_data(
    flat: Flat,
    kind: str,
    flat_index: Tensor,
    mask: Tensor,
    sizes: tuple[int, int, int],
    equal: bool,
    padded: Tensor | None,
    n_features: int | None,
    values_t: Tensor | None,
    center: Tensor | None,
) -> Tensor:
    """A chunk's data from the steps ``flat_index`` (T*B,) of ``flat`` (see :class:`Chunk`):
    symbols (T, B) with M at missing/padded steps, Gaussian features [o, xc², xc] (3D, T*B),
    log-emissions (K, T, B) or pair log-emissions (T, B, K, K), 0 at padding."""
    T, nb, K = sizes
    if kind == "categorical":
        sym = flat.values.index_select(0, flat_index).view(T, nb)  # (T, B)
        if (equal or padded is not None) and not flat.missing:
            if padded is not None:
                sym[padded] = n_features
            return sym
        seen = sym >= 0 if equal else mask & (sym >= 0)
        return torch.where(seen, sym, n_features)  # M = missing/pad
    elif kind == "gaussian":  # features [o, xc², xc] (3D, T*B), built in place
        D = len(values_t)
        data = values_t.new_empty(3 * D, flat_index.numel())
        xc = torch.index_select(values_t, 1, flat_index, out=data[2 * D :])
        o = ~torch.isnan(xc)  # (D, T*B)
        if not equal:
            o &= mask.reshape(1, -1)
        xc.sub_(center[:, None]).masked_fill_(~o, 0.0)
        data[:D] = o
        torch.mul(xc, xc, out=data[D : 2 * D])
        return data
    elif kind in ("logemission", "logemission2"):
        x = flat.values.index_select(0, flat_index).view(T, nb, -1)  # (T, B, F)
        if kind == "logemission":  # a padded step is 0 (likelihood 1)
            return torch.where(mask[..., None], x, 0).permute(2, 0, 1).contiguous()
        return torch.where(mask[..., None], x, 0).reshape(T, nb, K, K)  # pairs (T, B, K, K)
    else:
        raise ValueError(
            "kind must be one of ('categorical', 'gaussian', 'logemission', 'logemission2'), "
            f"got {kind!r}"
        )


def _allowed_states(
    flat: Flat, flat_index: Tensor, mask: Tensor, K: int, dtype: torch.dtype
) -> Tensor | None:
    """(K, T, B) 1 for the states a step may take (its label's, or all when unknown); None
    without labels."""
    if flat.labels is None:
        return None
    T, nb = mask.shape
    lab = torch.where(mask, flat.labels.index_select(0, flat_index).view(T, nb), -1)
    if not (lab >= 0).any():
        return None
    onehot = torch.nn.functional.one_hot(lab.clamp_min(0), K).to(dtype)
    allowed = torch.where((lab >= 0)[..., None], onehot, 1.0)  # (T, B, K)
    return allowed.permute(2, 0, 1).contiguous()  # (K, T, B)
