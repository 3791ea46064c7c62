"""The fused / blocked code paths of bayesgen.info against scipy, sklearn and the plain formulas.

Tables larger than one row block (``divergences._BLOCK``), zeros in p and q, leading batch axes,
float32, and the autograd fallback; 1-D Wasserstein and energy distance through one sort of the
pooled sample (ties, weights, float32); MMD sums of kernel blocks (several blocks, several
bandwidths, gradients).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
import torch
from scipy.spatial.distance import jensenshannon
from sklearn.metrics.pairwise import rbf_kernel

from bayesgen import info
from bayesgen.info import distances, divergences

D64 = torch.float64


def _tables(rng, shape, zeros=0.0):
    """Two batches of probability rows (*shape), a fraction ``zeros`` of the cells set to 0."""
    p, q = rng.random(shape), rng.random(shape)
    p[rng.random(shape) < zeros] = 0.0
    q[rng.random(shape) < zeros] = 0.0
    p[..., 0] += 1e-3  # no empty row
    q[..., 0] += 1e-3
    return p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)


@pytest.mark.parametrize("zeros", [0.0, 0.3])
def test_blocked_table_kernels_match_scipy_over_several_blocks(zeros):
    rng = np.random.default_rng(0)
    rows = 3 * divergences._BLOCK // 50 + 7  # several row blocks, the last one partial
    p, q = _tables(rng, (rows, 50), zeros)
    tp, tq = torch.from_numpy(p), torch.from_numpy(q)
    np.testing.assert_allclose(info.entropy(tp).numpy(), st.entropy(p, axis=1), atol=1e-13)
    np.testing.assert_allclose(
        info.entropy(tp, base=2).numpy(), st.entropy(p, axis=1, base=2), atol=1e-13
    )
    kl = info.kl_divergence(tp, tq).numpy()
    ref = st.entropy(p, q, axis=1)  # inf where q = 0 < p
    assert np.array_equal(np.isinf(kl), np.isinf(ref))
    if zeros:
        assert np.isinf(ref).any()
    fin = np.isfinite(ref)
    np.testing.assert_allclose(kl[fin], ref[fin], atol=1e-13)
    np.testing.assert_allclose(
        info.js_distance(tp, tq).numpy(), jensenshannon(p, q, axis=1), atol=1e-12
    )
    np.testing.assert_allclose(
        info.js_divergence(tp, tq, unit="bits").numpy(),
        jensenshannon(p, q, axis=1, base=2) ** 2,
        atol=1e-13,
    )


def test_blocked_tables_with_batch_axes_float32_and_gradients_agree_with_the_formulas():
    rng = np.random.default_rng(1)
    p, q = _tables(rng, (4, 6, 300), 0.1)
    tp, tq = torch.from_numpy(p), torch.from_numpy(q)
    js = info.js_divergence(tp, tq)
    assert js.shape == (4, 6)
    ref = jensenshannon(p.reshape(-1, 300), q.reshape(-1, 300), axis=1) ** 2
    np.testing.assert_allclose(js.numpy().ravel(), ref, atol=1e-13)
    # float32 tables stay float32 and agree to single precision
    h32 = info.entropy(tp.float())
    assert h32.dtype == torch.float32
    np.testing.assert_allclose(h32.numpy(), st.entropy(p, axis=2), rtol=2e-6)
    k32 = info.kl_divergence(tp.float(), tq.float()).numpy()
    ref = st.entropy(p, q, axis=2)
    fin = np.isfinite(ref)
    assert np.array_equal(np.isinf(k32), ~fin)
    np.testing.assert_allclose(k32[fin], ref[fin], rtol=1e-5)
    # with gradients the plain formula runs; values equal, and the gradient of H is -(log p + 1)
    p2, _ = _tables(rng, (3, 40))
    leaf = torch.from_numpy(p2).requires_grad_()
    h = info.entropy(leaf)
    np.testing.assert_allclose(h.detach().numpy(), st.entropy(p2, axis=1), atol=1e-14)
    h.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), -(np.log(p2) + 1), atol=1e-12)
    # broadcasting p against one q: the plain formula, same as scipy row by row
    kl = info.kl_divergence(torch.from_numpy(p2), torch.from_numpy(p2[0]))
    np.testing.assert_allclose(kl.numpy(), st.entropy(p2, p2[0][None], axis=1), atol=1e-14)


def test_wasserstein_and_energy_1d_by_one_sort_match_scipy_with_ties_and_weights():
    rng = np.random.default_rng(2)
    x = rng.integers(-20, 20, 3000) / 4.0  # many ties, within and across the samples
    y = rng.integers(-15, 25, 1700) / 4.0
    x[:5] = [-0.0, 0.0, -0.0, 0.0, 0.0]  # signed zeros sort together
    wx, wy = rng.random(3000), rng.random(1700)
    wx[::7] = 0.0
    tx, ty, twx, twy = (torch.from_numpy(a) for a in (x, y, wx, wy))
    for weights in [(None, None), (twx, twy)]:
        kw = dict(x_weights=weights[0], y_weights=weights[1])
        ref_w = st.wasserstein_distance(
            x, y, None if weights[0] is None else wx, None if weights[1] is None else wy
        )
        ref_e = st.energy_distance(
            x, y, None if weights[0] is None else wx, None if weights[1] is None else wy
        )
        # CDFs summed over thousands of weights: both sides carry rounding of ~N eps
        assert info.wasserstein_distance(tx, ty, **kw).item() == pytest.approx(ref_w, abs=1e-12)
        assert info.energy_distance(tx, ty, **kw).item() == pytest.approx(ref_e, abs=1e-12)
    # float32 keys sort by their bits too
    x32, y32 = rng.normal(size=500).astype(np.float32), rng.normal(size=300).astype(np.float32)
    got = info.wasserstein_distance(torch.from_numpy(x32), torch.from_numpy(y32))
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(st.wasserstein_distance(x32, y32), rel=1e-5)
    # identical samples: exactly 0
    assert info.wasserstein_distance(tx, tx).item() == 0.0
    assert info.energy_distance(tx, tx).item() == 0.0


def test_float_bit_keys_sort_like_the_floats():
    z = torch.tensor(
        [3.5, -0.0, 0.0, -1e-310, 1e-310, -2.0, 1e308, -1e308, 5e-324, -5e-324, 0.25], dtype=D64
    )
    for t in (z, z.float()):
        values, order = distances._sort(t)
        assert torch.equal(values, t.sort().values)
        assert torch.equal(t[order], values)


def test_sliced_wasserstein_1_on_given_directions_matches_scipy_per_direction():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(400, 3)), rng.normal(size=(250, 3)) + 0.2
    wx, wy = rng.random(400), rng.random(250)
    theta = rng.normal(size=(5, 3))
    got = info.sliced_wasserstein_distance(
        torch.from_numpy(x),
        torch.from_numpy(y),
        1,
        x_weights=torch.from_numpy(wx),
        y_weights=torch.from_numpy(wy),
        projections=torch.from_numpy(theta),
    )
    u = theta / np.linalg.norm(theta, axis=1, keepdims=True)
    per = [st.wasserstein_distance(x @ d, y @ d, wx, wy) for d in u]
    assert got.value.item() == pytest.approx(np.mean(per), abs=1e-13)


@pytest.mark.parametrize("biased", [False, True])
def test_mmd_from_kernel_blocks_matches_sklearn_over_several_blocks(biased):
    rng = np.random.default_rng(4)
    n, m = 700, 450  # blocks of _RBF_BLOCK // m rows: several, the last one partial
    assert n > distances._RBF_BLOCK // m
    x, y = rng.normal(size=(n, 4)), rng.normal(size=(m, 4)) + 0.3
    for hs in ([1.3], [0.4, 2.0, 5.0]):
        kxx = sum(rbf_kernel(x, gamma=1 / (2 * h * h)) for h in hs)
        kyy = sum(rbf_kernel(y, gamma=1 / (2 * h * h)) for h in hs)
        kxy = sum(rbf_kernel(x, y, gamma=1 / (2 * h * h)) for h in hs)
        if biased:
            ref = kxx.mean() + kyy.mean() - 2 * kxy.mean()
        else:
            k0 = len(hs)
            ref = (
                (kxx.sum() - n * k0) / (n * (n - 1))
                + (kyy.sum() - m * k0) / (m * (m - 1))
                - 2 * kxy.mean()
            )
        got = info.mmd2(torch.from_numpy(x), torch.from_numpy(y), bandwidth=hs, biased=biased)
        assert got.item() == pytest.approx(ref, abs=1e-13)
    # float32, and far-apart points (cross kernels underflow to 0)
    x32, y32 = torch.from_numpy(x).float(), torch.from_numpy(y).float() + 50
    got = info.mmd2(x32, y32, bandwidth=1.0, biased=biased)
    assert got.dtype == torch.float32
    ref = info.mmd2(x32.double(), y32.double(), bandwidth=1.0, biased=biased)
    assert got.item() == pytest.approx(ref.item(), rel=1e-4)  # float32 |x|² + |y|² - 2 x·y
    xd, yd, g, u = x32.double().numpy(), y32.double().numpy(), 1 / 2, 0 if biased else 1
    assert ref.item() == pytest.approx(
        (rbf_kernel(xd, gamma=g).sum() - u * n) / (n * (n - u))
        + (rbf_kernel(yd, gamma=g).sum() - u * m) / (m * (m - u)),
        abs=1e-13,
    )


def test_mmd_gradients_flow_and_match_finite_differences():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.normal(size=(60, 2))).requires_grad_()
    y = torch.from_numpy(rng.normal(size=(50, 2)))
    info.mmd2(x, y, bandwidth=[0.7, 1.5]).backward()
    h = 1e-6
    e = torch.zeros_like(x)
    e[3, 1] = h
    with torch.no_grad():
        fd = (
            info.mmd2(x + e, y, bandwidth=[0.7, 1.5]) - info.mmd2(x - e, y, bandwidth=[0.7, 1.5])
        ) / (2 * h)
    assert x.grad[3, 1].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-10)
