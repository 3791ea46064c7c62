"""The data sets by name, and the user's own files, as train / held-out :class:`Dataset` pairs.

==============  ======================================================================  =======
name            what                                                                    kind
==============  ======================================================================  =======
swissroll       the chapter's 3-D swiss roll (noise 0.1), t in ``extras``               real
swissroll2d     its (x_1, x_3) plane, noise 1, divided by 5 (FFJORD)                   real
8gaussians, checkerboard, moons, pinwheel, 2spirals, rings: the 2-D toys                real
ring8, grid25   PacGAN's mixtures; ``extras["modes"]``, ``extras["sigma"]``            real
digits          scikit-learn's 8×8 digits in [0, 1], binarized (no files needed)        binary
mnist           MNIST 28×28 from its idx files, binarized                               binary
digits-real     the digits' intensities in [0, 1]                                       real
mnist-real      MNIST's intensities in [0, 1]                                           real
shakespeare     Tiny Shakespeare's characters: first 90 % train, last 10 % validation  tokens
==============  ======================================================================  =======

Synthetic sets draw n = 10,000 training rows and 10,000 held-out rows from two generators
seeded 2·seed and 2·seed + 1. Binary images are binarized dynamically in training (each batch
draws x ~ Bernoulli(intensities), the ``binarize`` transform) and once, with a generator seeded
``seed``, in the held-out part. Images are flattened rows (784 or 64 pixels); the label y is the
digit. The digits are split by a seeded permutation (360 held out); MNIST keeps its own split.

Any other name is a file: ``.npy`` (an array of rows), ``.csv`` (numeric rows, an optional
header line) or ``.npz`` (``x``: rows or images, optional ``y``: integer labels). Its rows are
split by a permutation drawn from a generator seeded ``seed``: the first max(1, round(N / 10))
rows of the permutation are held out, the rest train (each part in file order). Values all in
{0, 1} make the kind "binary", otherwise "real".

``n`` caps the number of training rows (or tokens); the held-out part is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._checks import check_int
from .images import data_root, load_digits, load_mnist
from .source import TensorData, Windows, binarize
from .swissroll import swiss_roll, swiss_roll_entropy
from .text import read_text, train_val_split
from .toys import TOYS, sample_toy, toy_entropy, toy_modes

__all__ = ["Dataset", "DATASETS", "load_dataset"]

KINDS = ("real", "binary", "tokens")
_TOY_SIZE = 10_000
_DIGITS_TEST = 360
_FILE_SUFFIXES = (".npy", ".csv", ".npz")


@dataclass
class Dataset:
    """A training part and a held-out part of one data set, and what is known about it.

    ``entropy`` is the differential entropy of the generating distribution in nats per row
    (known for the synthetic sets, computed on first access; None otherwise) and
    ``entropy_se`` its Monte Carlo standard error (0 where exact). ``num_classes`` counts the
    labels y where the rows have them; ``vocab`` lists the characters of a text (token i is
    ``vocab[i]``); ``extras`` holds the rest (the swiss roll's t, a mixture's modes and σ).
    """

    name: str
    train: TensorData
    test: TensorData
    event_shape: tuple[int, ...]
    kind: str
    num_classes: int | None = None
    vocab: list[str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    entropy_fn: Callable[[], tuple[float, float]] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def entropy(self) -> float | None:
        return None if self.entropy_fn is None else self.entropy_fn()[0]

    @property
    def entropy_se(self) -> float | None:
        return None if self.entropy_fn is None else self.entropy_fn()[1]

    @property
    def modes(self) -> Tensor | None:
        """The mixture's modes (K, D) (ring8, grid25, 8gaussians), else None."""
        return self.extras.get("modes")

    @property
    def sigma(self) -> float | None:
        """The mixture's per-axis standard deviation (ring8, grid25, 8gaussians), else None."""
        return self.extras.get("sigma")

    def windows(self, length: int) -> tuple[Windows, Windows]:
        """Training and held-out windows of ``length`` consecutive tokens (text only)."""
        if self.kind != "tokens":
            raise ValueError(f"windows need a token data set, got kind {self.kind!r}")
        return Windows(self.train.x, length), Windows(self.test.x, length)

    def decode(self, tokens: Tensor) -> str:
        """The text of a token sequence (text only)."""
        if self.vocab is None:
            raise ValueError(f"{self.name!r} has no vocabulary")
        return "".join(self.vocab[i] for i in torch.as_tensor(tokens).reshape(-1).tolist())

    def encode(self, text: str) -> Tensor:
        """Token ids (N,) of a string over this vocabulary (text only)."""
        if self.vocab is None:
            raise ValueError(f"{self.name!r} has no vocabulary")
        index = {c: i for i, c in enumerate(self.vocab)}
        missing = sorted(set(text) - set(index))
        if missing:
            raise ValueError(f"text has characters outside the vocabulary: {missing[:10]}")
        return torch.tensor([index[c] for c in text], dtype=torch.long)


def _generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    return torch.Generator().manual_seed(2 * seed), torch.Generator().manual_seed(2 * seed + 1)


def _cap(n: int | None, size: int) -> int:
    return size if n is None else min(n, size)


def _toy(name: str, seed: int, n: int | None) -> Dataset:
    g_train, g_test = _generators(seed)
    x_train = sample_toy(name, n or _TOY_SIZE, g_train)
    x_test = sample_toy(name, _TOY_SIZE, g_test)
    extras: dict[str, Any] = {}
    if name in ("ring8", "grid25", "8gaussians"):
        modes, sigma = toy_modes(name)
        extras.update(modes=modes, sigma=sigma)
    return Dataset(
        name,
        TensorData(x_train),
        TensorData(x_test),
        (2,),
        "real",
        extras=extras,
        entropy_fn=lambda: toy_entropy(name),
    )


def _swissroll(seed: int, n: int | None) -> Dataset:
    g_train, g_test = _generators(seed)
    x_train, t_train = swiss_roll(n or _TOY_SIZE, 0.1, generator=g_train)
    x_test, t_test = swiss_roll(_TOY_SIZE, 0.1, generator=g_test)
    return Dataset(
        "swissroll",
        TensorData(x_train),
        TensorData(x_test),
        (3,),
        "real",
        extras={"t_train": t_train, "t_test": t_test, "noise": 0.1},
        entropy_fn=lambda: swiss_roll_entropy(0.1),
    )


def _images(
    name: str, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, seed: int, shape
) -> Dataset:
    """Rows of intensities in [0, 1]; ``name`` ending in -real keeps them, else binarized."""
    extras = {"image_shape": shape}
    if name.endswith("-real"):
        return Dataset(
            name, TensorData(x_train, y_train), TensorData(x_test, y_test), (x_train.shape[1],),
            "real", num_classes=10, extras=extras,
        )  # fmt: skip
    fixed = torch.bernoulli(x_test, generator=torch.Generator().manual_seed(seed))
    return Dataset(
        name,
        TensorData(x_train, y_train, transform=binarize),
        TensorData(fixed, y_test),
        (x_train.shape[1],),
        "binary",
        num_classes=10,
        extras=extras,
    )


def _digits(name: str, seed: int, n: int | None) -> Dataset:
    x, y = load_digits()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test, train = perm[:_DIGITS_TEST].sort().values, perm[_DIGITS_TEST:].sort().values
    train = train[: _cap(n, len(train))]
    return _images(name, x[train], y[train], x[test], y[test], seed, (8, 8))


def _mnist(name: str, seed: int, n: int | None, root) -> Dataset:
    images, y_train = load_mnist(root, "train")
    test_images, y_test = load_mnist(root, "test")
    m = _cap(n, len(images))
    dtype = torch.get_default_dtype()
    x_train = images[:m].reshape(m, -1).to(dtype) / 255  # (N, 784)
    x_test = test_images.reshape(len(test_images), -1).to(dtype) / 255
    return _images(name, x_train, y_train[:m], x_test, y_test, seed, (28, 28))


def _shakespeare(seed: int, n: int | None, root) -> Dataset:
    text = read_text(data_root(root) / "text" / "tinyshakespeare.txt")
    vocab = sorted(set(text))
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one code per character
    table = np.zeros(max(map(ord, vocab)) + 1, dtype=np.int64)
    table[[ord(c) for c in vocab]] = np.arange(len(vocab))
    tokens = torch.from_numpy(table[codes])  # (N,) long
    train, test = train_val_split(tokens, 0.1)
    train = train[: _cap(n, len(train))]
    return Dataset("shakespeare", TensorData(train), TensorData(test), (), "tokens", vocab=vocab)


# ---------------------------------------------------------------------------- user files
def _is_header(line: str) -> bool:
    """A first CSV line is a header when one of its fields is not a number."""
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return True
    return False


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise ValueError(
                        f"{str(path)!r} must hold an array 'x' (rows) and optionally 'y' "
                        f"(labels), got arrays {sorted(f.files)}"
                    )
                return f["x"], (f["y"] if "y" in f.files else None)
        with path.open(encoding="utf-8") as f:
            first = f.readline()
        return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(_is_header(first))), None
    except ValueError as err:
        if "must hold an array" in str(err):
            raise
        raise ValueError(
            f"{str(path)!r} is not a numeric table of equal-length rows: {err}"
        ) from err


def _check_rows(x: np.ndarray, y: np.ndarray | None, path: Path) -> tuple[Tensor, Tensor | None]:
    if x.dtype == object:
        raise ValueError(f"x in {str(path)!r} must be a numeric array, got dtype object")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(
            f"x in {str(path)!r} must have shape (N, D...) with N >= 2 rows, got {x.shape}"
        )
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).to(torch.get_default_dtype())
    bad = ~torch.isfinite(xt.reshape(len(xt), -1)).all(1)
    if bad.any():
        raise ValueError(
            f"x in {str(path)!r} must be finite, got NaN or inf in row {int(bad.nonzero()[0])}"
        )
    if y is None:
        return xt, None
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y in {str(path)!r} must have shape ({len(x)},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError(f"y in {str(path)!r} must be integer labels >= 0, got dtype {y.dtype}")
    return xt, torch.as_tensor(y, dtype=torch.long)


def _user_file(path: Path, seed: int, n: int | None) -> Dataset:
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} not found")
    x, y = _check_rows(*_read_file(path), path)
    m = len(x)
    held = max(1, round(m / 10))
    perm = torch.randperm(m, generator=torch.Generator().manual_seed(seed))
    test, train = perm[:held].sort().values, perm[held:].sort().values
    train = train[: _cap(n, len(train))]
    binary = bool(((x == 0) | (x == 1)).all())
    num_classes = None if y is None else int(y.max()) + 1
    return Dataset(
        path.stem,
        TensorData(x[train], None if y is None else y[train]),
        TensorData(x[test], None if y is None else y[test]),
        tuple(x.shape[1:]),
        "binary" if binary else "real",
        num_classes=num_classes,
        extras={"path": str(path)},
    )


#: the built-in names
DATASETS: tuple[str, ...] = (
    "swissroll",
    *TOYS,
    "digits",
    "mnist",
    "digits-real",
    "mnist-real",
    "shakespeare",
)


def load_dataset(
    name: str | PathLike,
    *,
    seed: int = 0,
    n: int | None = None,
    root: str | PathLike | None = None,
) -> Dataset:
    """The data set ``name`` (one of :data:`DATASETS`, or a .npy/.csv/.npz file) split into
    train and held-out parts (see the module's docstring for each rule). ``root`` is the data
    directory of MNIST and Tiny Shakespeare (default: ``$BAYESGEN_DATA``)."""
    seed = check_int("seed", seed, low=0)
    n = check_int("n", n, low=1, optional=True)
    if isinstance(name, str) and name in DATASETS:
        if name == "swissroll":
            return _swissroll(seed, n)
        if name in TOYS:
            return _toy(name, seed, n)
        if name.startswith("digits"):
            return _digits(name, seed, n)
        if name.startswith("mnist"):
            return _mnist(name, seed, n, root)
        return _shakespeare(seed, n, root)
    if isinstance(name, str | PathLike) and Path(name).suffix.lower() in _FILE_SUFFIXES:
        return _user_file(Path(name), seed, n)
    raise ValueError(f"name must be one of {DATASETS} or a .npy/.csv/.npz file, got {name!r}")
