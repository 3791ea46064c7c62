import gzip
import math

import numpy as np
import pytest
import torch

from bayesgen.data import DATASETS, TOYS, load_dataset, read_idx, toy_entropy
from bayesgen.data.source import TensorData


def test_toy_sets_are_seeded_with_separate_train_and_test_draws():
    a, b = load_dataset("moons", seed=3), load_dataset("moons", seed=3)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert a.train.x.shape == (10_000, 2) and a.test.x.shape == (10_000, 2)
    assert not torch.equal(a.train.x, a.test.x)
    assert not torch.equal(a.train.x, load_dataset("moons", seed=4).train.x)
    assert a.kind == "real" and a.event_shape == (2,) and a.num_classes is None
    assert (a.entropy, a.entropy_se) == toy_entropy("moons")
    assert len(load_dataset("moons", n=500).train) == 500


def test_swissroll_carries_t_not_labels():
    d = load_dataset("swissroll", n=2_000)
    assert d.event_shape == (3,) and d.train.y is None and d.num_classes is None
    t = d.extras["t_train"]
    assert t.shape == (2_000,) and d.extras["t_test"].shape == (10_000,)
    resid = d.train.x[:, 0] - t * torch.cos(t)
    assert float(resid.std()) == pytest.approx(0.1, rel=0.05)
    assert d.entropy_fn is not None  # the value: tests/data/test_swissroll.py


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixtures_expose_modes(name):
    d = load_dataset(name, n=100)
    assert d.extras["modes"].shape == ((8, 2) if name == "ring8" else (25, 2))
    assert d.extras["sigma"] == (0.01 if name == "ring8" else 0.05)
    assert d.modes is d.extras["modes"] and d.sigma == d.extras["sigma"]
    assert load_dataset("moons", n=10).modes is None


def test_digits_binary_and_real():
    d = load_dataset("digits")
    assert d.kind == "binary" and d.event_shape == (64,) and d.num_classes == 10
    assert len(d.train) + len(d.test) == 1797 and len(d.test) == 360
    assert set(d.test.x.unique().tolist()) == {0.0, 1.0}  # one fixed binarization
    assert torch.equal(d.test.x, load_dataset("digits").test.x)
    x, y = d.train.batch(torch.arange(50), torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) <= {0.0, 1.0} and y.shape == (50,)
    x2, _ = d.train.batch(torch.arange(50), torch.Generator().manual_seed(1))
    assert not torch.equal(x, x2)  # dynamic: a fresh draw per batch
    r = load_dataset("digits-real")
    assert r.kind == "real" and 0 <= r.train.x.min() and r.train.x.max() == 1
    # binarization is Bernoulli(intensity): the mean of many draws is the intensity
    draws = torch.stack([d.train.transform(r.train.x[:20], None) for _ in range(2000)])
    assert torch.allclose(draws.mean(0), r.train.x[:20], atol=0.05)


def test_mnist_from_idx_files(data_dir):
    d = load_dataset("mnist", root=data_dir, n=1000)
    assert d.kind == "binary" and d.event_shape == (784,) and d.num_classes == 10
    assert len(d.train) == 1000 and len(d.test) == 10_000
    assert d.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the first test digits
    assert d.train.y[:5].tolist() == [5, 0, 4, 1, 9]
    r = load_dataset("mnist-real", root=data_dir, n=1000)
    assert r.train.x.max() == 1 and r.train.x.min() == 0
    assert float(r.train.x.mean()) == pytest.approx(0.1307, abs=0.01)  # MNIST's pixel mean
    assert d.extras["image_shape"] == (28, 28)


def test_mnist_needs_a_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("BAYESGEN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="BAYESGEN_DATA"):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset("mnist", root=tmp_path)


def test_read_idx_roundtrip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + np.array(a.shape, ">i4").tobytes() + a.tobytes()
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    assert torch.equal(read_idx(tmp_path / "a.idx"), torch.from_numpy(a))
    assert torch.equal(read_idx(tmp_path / "a.idx.gz"), torch.from_numpy(a))
    (tmp_path / "bad.idx").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(tmp_path / "bad.idx")


def test_shakespeare(data_dir):
    d = load_dataset("shakespeare", root=data_dir)
    text = (data_dir / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    assert d.kind == "tokens" and len(d.vocab) == 65 and d.train.x.dtype == torch.long
    assert len(d.train) == int(len(text) * 0.9) and len(d.train) + len(d.test) == len(text)
    assert d.decode(d.train.x[:14]) == text[:14] and d.decode(d.test.x[-20:]) == text[-20:]
    assert torch.equal(d.encode("First"), d.train.x[:5])
    train, test = d.windows(9)
    assert train.batch(torch.tensor([0]))[0].shape == (1, 9)


def test_user_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    np.save(tmp_path / "a.npy", x)
    d = load_dataset(tmp_path / "a.npy", seed=1)
    assert len(d.test) == 5 and len(d.train) == 45 and d.kind == "real" and d.event_shape == (3,)
    # the split is a seeded permutation, every row in exactly one part
    both = torch.cat([d.train.x, d.test.x]).double()
    assert sorted(map(tuple, both.numpy().round(5))) == sorted(map(tuple, x.round(5)))
    assert torch.equal(d.test.x, load_dataset(tmp_path / "a.npy", seed=1).test.x)
    assert not torch.equal(d.test.x, load_dataset(tmp_path / "a.npy", seed=2).test.x)
    np.savetxt(tmp_path / "b.csv", x, delimiter=",", header="u,v,w", comments="")
    c = load_dataset(str(tmp_path / "b.csv"), seed=1)
    assert torch.allclose(c.test.x, d.test.x)
    imgs = (rng.random((30, 4, 4)) > 0.5).astype(np.float32)
    np.savez(tmp_path / "c.npz", x=imgs, y=np.arange(30) % 3)
    e = load_dataset(tmp_path / "c.npz")
    assert e.kind == "binary" and e.event_shape == (4, 4) and e.num_classes == 3
    assert len(e.test) == 3 and e.test.y is not None


def test_user_file_errors(tmp_path):
    bad = np.ones((10, 2))
    bad[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="finite.*row 7"):
        load_dataset(tmp_path / "nan.npy")
    (tmp_path / "inf.csv").write_text("inf,2\n1,2\n3,4\n")  # no header: inf is a number
    with pytest.raises(ValueError, match="finite.*row 0"):
        load_dataset(tmp_path / "inf.csv")
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="equal-length rows"):
        load_dataset(tmp_path / "ragged.csv")
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    with pytest.raises(ValueError, match="shape \\(N, D...\\)"):
        load_dataset(tmp_path / "scalar.npy")
    np.savez(tmp_path / "noy.npz", z=np.ones((5, 2)))
    with pytest.raises(ValueError, match="array 'x'"):
        load_dataset(tmp_path / "noy.npz")
    np.savez(tmp_path / "laby.npz", x=np.ones((5, 2)), y=np.ones(4, dtype=int))
    with pytest.raises(ValueError, match=r"y in .* must have shape \(5,\)"):
        load_dataset(tmp_path / "laby.npz")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        load_dataset("moons", seed=-1)


def test_every_name_is_known():
    assert set(TOYS) <= set(DATASETS)
    for name in ("swissroll", "swissroll2d", "digits", "mnist", "shakespeare"):
        assert name in DATASETS
    assert isinstance(load_dataset("checkerboard", n=10).train, TensorData)
    assert load_dataset("checkerboard", n=10).entropy == pytest.approx(math.log(32))
