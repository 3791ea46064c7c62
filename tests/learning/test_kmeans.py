"""k-means (shared by the Gaussian mixture's and the Gaussian HMM's initialization): the same
optimum as scikit-learn on separated blobs, weights equal to repeated rows, k-means++ seeds are
distinct rows."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from bayesgen.learning.kmeans import kmeans, kmeans_plusplus


def _blobs(seed: int):
    X, _ = make_blobs(600, n_features=3, centers=5, cluster_std=0.4, random_state=seed)
    return torch.as_tensor(X, dtype=torch.float64)


def _sorted(c: torch.Tensor) -> np.ndarray:
    c = np.asarray(c)
    return c[np.lexsort(c.T[::-1])]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_centres_as_sklearn(seed):
    X = _blobs(seed)
    centers, labels = kmeans(
        X, 5, torch.ones(len(X), dtype=X.dtype), torch.Generator().manual_seed(seed)
    )
    ref = KMeans(5, n_init=10, random_state=seed).fit(X.numpy())
    np.testing.assert_allclose(_sorted(centers), _sorted(ref.cluster_centers_), atol=1e-8)
    assert torch.equal(torch.cdist(X, centers).argmin(1), labels)


def test_integer_weights_equal_repeated_rows():
    X = _blobs(3)
    w = torch.randint(1, 4, (len(X),), generator=torch.Generator().manual_seed(0)).double()
    weighted, _ = kmeans(X, 5, w, torch.Generator().manual_seed(1))
    repeated = X.repeat_interleave(w.long(), 0)
    plain, _ = kmeans(
        repeated, 5, torch.ones(len(repeated), dtype=X.dtype), torch.Generator().manual_seed(1)
    )
    np.testing.assert_allclose(_sorted(weighted), _sorted(plain), atol=1e-10)


def test_kmeans_plusplus_seeds_distinct_rows_and_skips_zero_weights():
    X = _blobs(4)
    w = torch.ones(len(X), dtype=X.dtype)
    w[::2] = 0.0
    idx = kmeans_plusplus(X, 5, w, torch.Generator().manual_seed(0))
    assert len(set(idx.tolist())) == 5
    assert bool((w[idx] > 0).all())
