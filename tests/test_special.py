"""The special functions of bayesgen.special against scipy: the incomplete beta and its
inverse, log B, Student-t and Gamma quantiles, the incomplete gamma near its mean, and the
continued fraction's guarded start."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
import torch

from bayesgen.special import (
    betacf,
    betainc,
    betaincinv,
    gamma_icdf,
    gammainc_tail,
    lbeta,
    student_t_icdf,
)

D64 = torch.float64


def t64(x):
    return torch.as_tensor(x, dtype=D64)


def test_betainc_and_its_inverse_match_scipy():
    a = t64([0.1, 0.5, 1.0, 2.5, 40.0, 700.0])[:, None, None]
    b = t64([0.3, 1.0, 3.0, 60.0, 900.0])[None, :, None]
    x = t64([1e-8, 0.01, 0.2, 0.5, 0.77, 0.999])
    got = betainc(a, b, x).numpy()
    ref = sp.betainc(a.numpy(), b.numpy(), x.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-13)
    q = t64([1e-9, 0.025, 0.5, 0.975, 1 - 1e-9])
    got = betaincinv(a, b, q).numpy()
    np.testing.assert_allclose(
        got, sp.betaincinv(a.numpy(), b.numpy(), q.numpy()), rtol=1e-10, atol=1e-13
    )


# ------------------------------------------------------------------------------ Beta


def test_log_beta_keeps_its_digits_for_large_arguments():
    """log B(a, b) by Stirling's series where a or b is large: log Γ(a) - log Γ(a + b) taken
    directly loses ~eps·log Γ(a) (1e-10 at a = 1e6), and the tails of I_x(a, b) with it."""

    a = t64([5.4e4, 1e-3, 8.0, 1e6, 100.0, 3.0, 1e4, 8.0, 20.0])
    b = t64([1.268e-3, 1858.0, 1e5, 3.0, 0.5, 7.9, 1e4, 8.0, 1e3])
    np.testing.assert_allclose(lbeta(a, b).numpy(), sp.betaln(a.numpy(), b.numpy()), atol=2e-14)
    # a far-tail probability with a = 5.4e4, b = 1.3e-3 (it was 4e-7 off, relative)
    a, b = 54000.0, 0.001268
    x = sp.betaincinv(a, b, 3.17e-4)
    got = betainc(t64(a), t64(b), t64(x)).item()
    assert got == pytest.approx(sp.betainc(a, b, x), rel=1e-11)


def test_beta_quantiles_over_random_parameters_match_scipy():
    """20000 random (a, b, q): a, b log-uniform over 1e-3..1e5, q in both far tails and the
    middle. Every quantile within 1e-13 of scipy's (Boost), or within 1e-9 relative to the
    smaller of x and 1 - x."""
    rng = np.random.default_rng(7)
    n = 20000
    a, b = 10 ** rng.uniform(-3, 5, n), 10 ** rng.uniform(-3, 5, n)
    u = rng.uniform(size=n)
    far = 10 ** rng.uniform(-14, -1, n)
    q = np.where(u < 0.3, far, np.where(u < 0.6, 1 - far, rng.uniform(size=n)))
    got = betaincinv(t64(a), t64(b), t64(q)).numpy()
    ref = sp.betaincinv(a, b, q)
    d = np.abs(got - ref)
    scale = np.maximum(np.minimum(ref, 1 - ref), 1e-300)
    assert np.all((d <= 1e-13) | (d <= 1e-9 * scale))


def test_beta_quantiles_from_tiny_to_large_parameters_and_extreme_levels():
    # Halley steps retire once the observed cubic rate leaves less than eps; checked at the
    # extremes of a, b and q against scipy's Boost implementation
    # b = 1 and a = 1 far in a tail (F = x^a, 1 - (1 - x)^b): the guess lies where F is flat
    # to the last digit and only bisection moves it
    a = t64([1e-3, 0.05, 0.5, 1.0, 3.0, 40.0, 900.0, 1e4])[:, None, None]
    b = t64([2e-3, 0.3, 1.0, 7.0, 150.0, 5e3])[None, :, None]
    q = t64([1e-12, 1e-6, 0.025, 0.5, 0.975, 1 - 1e-6, 1 - 1e-12])
    got = betaincinv(a, b, q).numpy()
    ref = sp.betaincinv(a.numpy(), b.numpy(), q.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-13)
    # the upper tail is solved on 1 - F: 1 - x keeps its relative precision near 1
    upper = ref > 0.5
    np.testing.assert_allclose((1 - got)[upper], (1 - ref)[upper], rtol=1e-9, atol=1e-15)
    # float32 in, float32 out (log B(a, b) in single precision: ~1e-3 relative where it is
    # a difference of large log Γ, or a is tiny)
    got32 = betaincinv(a.float(), b.float(), q[2:5].float())
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), ref[..., 2:5], rtol=5e-3, atol=1e-6)
    np.testing.assert_allclose(got32.numpy()[2:, :5], ref[2:, :5, 2:5], rtol=1e-4, atol=1e-6)


def test_incomplete_gamma_near_its_mean_matches_scipy():
    """Near x = a for 20 < a <= 1e4, torch.special.gammainc/gammaincc (an asymptotic series) is
    off by up to 4e-10; the power series and Legendre's fraction used there are not."""

    rng = np.random.default_rng(0)
    a = np.exp(rng.uniform(np.log(8.0), np.log(2e4), 20000))
    x = np.maximum(a + rng.normal(size=a.size) * 3 * np.sqrt(a), 1e-3)
    upper = sp.gammainc(a, x) > 0.5
    got = gammainc_tail(t64(a), t64(x), torch.from_numpy(upper)).numpy()
    ref = np.where(upper, sp.gammaincc(a, x), sp.gammainc(a, x))  # the smaller tail
    keep = (ref > 0) & (a <= 1e4)
    np.testing.assert_allclose(got[keep], ref[keep], rtol=1e-12)
    np.testing.assert_allclose(got[~keep & (ref > 0)], ref[~keep & (ref > 0)], rtol=1e-9)
    conc = t64([25.0, 50.0, 300.0, 9000.0])[:, None]
    q = t64([1e-9, 0.025, 0.5, 0.975, 1 - 1e-9])
    got = gamma_icdf(conc, torch.ones_like(conc), q).numpy()
    np.testing.assert_allclose(got, st.gamma.ppf(q.numpy(), conc.numpy()), rtol=1e-13)


def test_student_t_quantiles_near_the_median_for_large_df_match_scipy():
    """Near the median 1 - x (x ~ Beta(ν/2, 1/2)) is tiny: it is solved for directly, so a
    small t keeps its relative precision at any ν (it lost 1e-7 at ν ~ 1e5)."""

    df = t64([3.0, 40.0, 3e3, 7.2e4, 3.2e5, 1e7])[:, None]
    q = t64([0.26, 0.4, 0.495, 0.4999, 0.5, 0.5001, 0.505, 0.6, 0.74])
    got = student_t_icdf(df, q).numpy()
    ref = st.t.ppf(q.numpy(), df.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_student_t_and_gamma_quantiles_match_scipy():

    df = t64([0.5, 1.0, 2.5, 4.0, 10.0, 34.0, 1e3, 1e6])[:, None]
    q = t64([1e-10, 0.025, 0.3, 0.5, 0.7, 0.975, 1 - 1e-10])
    got = student_t_icdf(df, q).numpy()
    np.testing.assert_allclose(got, st.t.ppf(q.numpy(), df.numpy()), rtol=1e-9, atol=1e-13)
    conc = t64([0.05, 0.1, 0.5, 1.0, 3.7, 17.0, 300.0, 1e5])[:, None]
    rate = t64([2.5])
    q = t64([1e-12, 1e-3, 0.025, 0.5, 0.975, 1 - 1e-9])
    got = gamma_icdf(conc, rate, q).numpy()
    ref = st.gamma.ppf(q.numpy(), conc.numpy(), scale=1 / 2.5)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-300)
    # quantiles below the smallest normal float are 0, as scipy's (not a bisection's remainder)
    conc, q = t64([1e-3, 1e-2, 0.05])[:, None], t64([1e-300, 1e-12, 0.3])
    got = gamma_icdf(conc, torch.ones_like(conc), q).numpy()
    ref = st.gamma.ppf(q.numpy(), conc.numpy())
    assert (got == 0).sum() == (ref == 0).sum() == 6
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)
    # many elements sharing (conc, q): solved once each, spread back
    conc = t64([0.3, 17.0, 17.0, 2.0, 17.0, 0.3] * 10)[:, None]
    rate = torch.linspace(0.5, 3.0, 60, dtype=D64)[:, None]
    q = t64([0.025, 0.975])
    got = gamma_icdf(conc, rate, q).numpy()
    ref = st.gamma.ppf(q.numpy(), conc.numpy(), scale=1 / rate.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    got = student_t_icdf(2 * conc, q).numpy()
    np.testing.assert_allclose(got, st.t.ppf(q.numpy(), 2 * conc.numpy()), rtol=1e-11)


def test_continued_fraction_falls_back_to_the_guarded_lentz_on_a_zero_denominator():

    # a = 1, b = 3, x = 1/2: 1 - (a + b) x / (a + 1) = 0, the unguarded start divides by zero;
    # I_x(1, 3) = 1 - (1 - x)³ = 7/8 = x (1 - x)³ / (a B(1, 3)) · CF, so CF = 14/3
    a, b, x = np.array([1.0, 2.5]), np.array([3.0, 4.0]), np.array([0.5, 0.3])
    got = betacf(t64(a), t64(b), t64(x)).numpy()
    front = np.exp(sp.xlogy(a, x) + sp.xlog1py(b, -x) - sp.betaln(a, b)) / a
    np.testing.assert_allclose(got, sp.betainc(a, b, x) / front, rtol=1e-14)
    assert got[0] == pytest.approx(14 / 3, rel=1e-15)
