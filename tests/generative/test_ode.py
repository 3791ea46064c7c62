"""The ODE solvers and the divergence against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from bayesgen.generative.ode import divergence, dopri5, odeint, rk4


def rotation_and_decay(t, y):
    """dy/dt = A(t) y with A = [[−t, −1], [1, −t]]: a rotation with decay exp(−t²/2)."""
    return torch.stack([-t * y[:, 0] - y[:, 1], y[:, 0] - t * y[:, 1]], dim=-1)


def exact(y0, t0, t1):
    decay = math.exp(-(t1**2 - t0**2) / 2)
    c, s = math.cos(t1 - t0), math.sin(t1 - t0)
    rot = torch.tensor([[c, -s], [s, c]], dtype=y0.dtype)
    return decay * y0 @ rot.T


@pytest.mark.parametrize("t0,t1", [(0.0, 2.0), (1.5, -0.5)])
def test_solvers_match_the_closed_form(t0, t1):
    y0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = exact(y0, t0, t1)
    torch.testing.assert_close(rk4(rotation_and_decay, y0, t0, t1, 200), want, atol=1e-8, rtol=0)
    got = dopri5(rotation_and_decay, y0, t0, t1, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got, want, atol=1e-7, rtol=0)
    with pytest.raises(ValueError, match="method must be"):
        odeint(rotation_and_decay, y0, t0, t1, method="euler")


def test_divergence_exact_and_hutchinson():
    """div (A z + sin z) = tr A + Σ cos z_d; Hutchinson's mean over probes is unbiased."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    fn = lambda z: z @ A.T + torch.sin(z)  # noqa: E731
    z = torch.randn(3, 4, generator=g, dtype=torch.float64)
    want = torch.trace(A) + torch.cos(z).sum(-1)
    out, div = divergence(fn, z)
    torch.testing.assert_close(out, fn(z))
    torch.testing.assert_close(div, want)
    k = 20000
    probes = torch.randint(0, 2, (k, 3, 4), generator=g).double() * 2 - 1
    zs = z.repeat(k, 1)
    _, est = divergence(fn, zs, noise=probes.reshape(k * 3, 4))
    est = est.reshape(k, 3)
    se = est.std(0) / math.sqrt(k)
    assert ((est.mean(0) - want).abs() < 4 * se).all()
