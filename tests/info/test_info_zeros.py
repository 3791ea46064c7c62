"""bayesgen.info on distributions with exact zeros (a Table's rows): the sums over the support
treat 0 log 0 as 0, so they equal the table formulas and scipy, with no NaN."""

from __future__ import annotations

import numpy as np
import torch
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from bayesgen import Discrete, Table, info
from bayesgen.factors import ExactCategorical

D64 = torch.float64
# rows with zeros in common, zeros in one only, and none
P = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8], [0.1, 0.6, 0.3]], dtype=D64)
Q = torch.tensor([[0.25, 0.75, 0.0], [0.3, 0.3, 0.4], [0.5, 0.25, 0.25]], dtype=D64)


def test_js_of_distributions_with_zeros_equals_tables_and_scipy():
    js = info.js_divergence(ExactCategorical(P), ExactCategorical(Q), base=2)
    assert not torch.isnan(js).any()
    torch.testing.assert_close(js, info.js_divergence(P, Q, base=2), rtol=1e-13, atol=1e-15)
    ref = jensenshannon(P.numpy(), Q.numpy(), base=2, axis=-1) ** 2
    np.testing.assert_allclose(js.numpy(), ref, rtol=1e-10, atol=1e-15)
    torch.manual_seed(0)
    mc = info.js_divergence(ExactCategorical(P), ExactCategorical(Q), method="mc", base=2)
    assert ((mc.value - js).abs() < 5 * mc.stderr + 1e-12).all()


def test_kl_and_cross_entropy_by_the_support_skip_zero_terms():
    # torch registers no KL(Categorical, Binomial): the exact sum over p's support is used.
    # That support holds integer codes, which torch's Binomial.log_prob evaluates in float32
    # (lgamma of an int64 tensor), hence the 1e-7 tolerance.
    p = torch.tensor([[0.5, 0.0, 0.0, 0.5, 0.0], [0.1, 0.2, 0.3, 0.2, 0.2]], dtype=D64)
    binom = torch.distributions.Binomial(4, torch.tensor([0.3, 0.6], dtype=D64))
    pmf = stats.binom.pmf(np.arange(5), 4, np.array([[0.3], [0.6]]))  # (2, 5)
    kl = info.kl_divergence(ExactCategorical(p), binom, method="exact")
    np.testing.assert_allclose(kl.numpy(), special.rel_entr(p.numpy(), pmf).sum(-1), rtol=1e-7)
    ce = info.cross_entropy(ExactCategorical(p), binom, method="exact")
    np.testing.assert_allclose(ce.numpy(), -special.xlogy(p.numpy(), pmf).sum(-1), rtol=1e-7)
    # the other way round, q = 0 < p in the first row: infinite
    back = info.kl_divergence(binom, ExactCategorical(p), method="exact")
    assert back[0] == float("inf") and torch.isfinite(back[1])
    ref = special.rel_entr(pmf[1], p[1].numpy()).sum()
    np.testing.assert_allclose(back[1].item(), ref, rtol=1e-12)


def test_the_rows_of_a_table_factor_feed_info_directly():
    a, x = Discrete("a", 3), Discrete("x", 3)
    rows = Table(x, [a], probs=P)({"a": torch.arange(3)})  # ExactCategorical, batch (3,)
    other = Table(x, [a], probs=Q)({"a": torch.arange(3)})
    np.testing.assert_allclose(info.entropy(rows).numpy(), stats.entropy(P.numpy(), axis=-1))
    kl = info.kl_divergence(rows, other)  # torch's registered KL of the pair
    torch.testing.assert_close(kl, info.kl_divergence(P, Q), rtol=1e-13, atol=0)
    back = info.kl_divergence(other, rows)
    assert back[1] == float("inf") and torch.equal(torch.isinf(back), torch.tensor([0, 1, 0]) > 0)
