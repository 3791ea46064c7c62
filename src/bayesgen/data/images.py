"""Image data: MNIST from its original idx files and scikit-learn's bundled 8×8 digits.

Nothing is downloaded. MNIST is read from a data directory holding ``mnist/`` with the four
files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte`` (each optionally gzipped); the directory is the ``root`` argument or
the ``BAYESGEN_DATA`` environment variable. The 8×8 digits ship inside scikit-learn's wheel, so
they need no files at all.

The idx format: a magic number 0x0000 TT NN (TT the element type, 0x08 for unsigned bytes; NN
the number of axes), NN big-endian int32 sizes, then the elements in C order.
"""

from __future__ import annotations

import gzip
import os
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._checks import check_option

__all__ = ["read_idx", "data_root", "load_mnist", "load_digits"]

_IDX_TYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MNIST_FILES = {"train": "train", "test": "t10k"}


def read_idx(path: str | PathLike) -> Tensor:
    """The array stored in an idx file (gzipped or not), as a tensor of its shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"idx file {str(path)!r} not found")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{str(path)!r} is not an idx file (magic {raw[:4].hex()!r})")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, ">i4", ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape))
    offset = 4 + 4 * ndim
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(
            f"{str(path)!r}: header says shape {shape} ({count * dtype.itemsize} bytes), "
            f"the file holds {len(raw) - offset} bytes of data"
        )
    data = np.frombuffer(raw, dtype, count, offset=offset).reshape(shape)
    return torch.from_numpy(data.astype(dtype.newbyteorder("=")))


def data_root(root: str | PathLike | None = None) -> Path:
    """The data directory: ``root`` if given, else ``$BAYESGEN_DATA``; an error that says how
    to point to it otherwise."""
    if root is None:
        env = os.environ.get("BAYESGEN_DATA")
        if not env:
            raise FileNotFoundError(
                "no data directory: pass root=<directory holding mnist/ and text/> or set the "
                "BAYESGEN_DATA environment variable (nothing is downloaded)"
            )
        root = env
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {str(root)!r} not found")
    return root


def _idx_path(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{stem} (or {stem}.gz) not found in {str(folder)!r}")


def load_mnist(root: str | PathLike | None = None, split: str = "train") -> tuple[Tensor, Tensor]:
    """MNIST images (N, 28, 28) as uint8 and labels (N,) as long: 60,000 for ``"train"``,
    10,000 for ``"test"``, read from ``<root>/mnist/``."""
    prefix = _MNIST_FILES[check_option("split", split, tuple(_MNIST_FILES))]
    folder = data_root(root) / "mnist"
    images = read_idx(_idx_path(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_idx_path(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST {split}: images {tuple(images.shape)} and labels {tuple(labels.shape)} "
            f"do not match"
        )
    return images, labels.long()


def load_digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 handwritten 8×8 digits (a copy of the UCI test set), flattened and
    scaled to [0, 1] (the pixels count 0..16): x (1797, 64) in the default dtype, y (1797,)."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.get_default_dtype()) / 16  # (1797, 64)
    return x, torch.as_tensor(bunch.target, dtype=torch.long)
