"""Correctness of every bijection: inverse ∘ forward = id, log|det J| equal to the autograd
Jacobian's (float64) with and without a context, the fused and torch-protocol paths agreeing,
the sign of det J, and the exact properties of each family."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian
from transform_examples import EXAMPLES, inputs, make

from bayesgen.flows import (
    ActNorm,
    Compose,
    FlowTransform,
    Spline,
    forward_and_ladj,
    inverse_and_ladj,
    spline_knots,
)

CASES = [
    (name, c)
    for name in sorted(EXAMPLES)
    for c in (0, 3)
    if c == 0 or getattr(EXAMPLES[name], "conditional", False)
]


def _context(c: int, n: int) -> torch.Tensor | None:
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, c, generator=g, dtype=torch.float64) if c else None


def _ready(name: str, c: int, x: torch.Tensor):
    """The transform for a context, with ActNorm layers initialised from a batch."""
    builder = make(name, c)
    t = builder(_context(c, len(x)))
    inverse_and_ladj(t, x)  # ActNorm initialises on its first density pass
    return builder, builder(_context(c, len(x)))


@pytest.mark.parametrize(("name", "c"), CASES, ids=[f"{n}-c{c}" for n, c in CASES])
def test_inverse_of_forward_is_identity(name, c):
    x = inputs()
    _, t = _ready(name, c, x)
    y = t(x)
    assert not torch.allclose(y, x, atol=1e-3), "the example should not be the identity"
    torch.testing.assert_close(t.inv(y), x, rtol=0, atol=1e-5)
    torch.testing.assert_close(t(t.inv(x)), x, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("name", "c"), CASES, ids=[f"{n}-c{c}" for n, c in CASES])
def test_log_det_equals_autograd_jacobian(name, c):
    x = inputs(8)
    builder, t = _ready(name, c, x)
    J = jacobian(lambda v: t(v), x)  # (B, D, B, D), block diagonal
    blocks = J[torch.arange(len(x)), :, torch.arange(len(x)), :]  # (B, D, D)
    sign, logabsdet = torch.linalg.slogdet(blocks)
    y, ladj = forward_and_ladj(t, x)
    torch.testing.assert_close(ladj, logabsdet, rtol=0, atol=1e-5)
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), logabsdet, rtol=0, atol=1e-5)
    x_back, ladj_inv = inverse_and_ladj(t, y)  # the forward map's log-det, from the output side
    torch.testing.assert_close(ladj_inv, logabsdet, rtol=0, atol=1e-5)
    parts = t.parts if hasattr(t, "parts") else [t]
    expected = 1
    for p in parts:
        expected *= p.sign
    assert (sign == expected).all()
    assert t.bijective and t.domain.event_dim == 1 and t.codomain.event_dim == 1


def test_transforms_follow_the_torch_protocol():
    x = inputs()
    for name in EXAMPLES:
        t = make(name, 0)(None)
        for part in getattr(t, "parts", [t]):
            assert isinstance(part, FlowTransform)
        dist = torch.distributions.TransformedDistribution(
            torch.distributions.Independent(
                torch.distributions.Normal(torch.zeros(4, dtype=torch.float64), 1.0), 1
            ),
            [t],
        )
        ours = dist.base_dist.log_prob(inverse_and_ladj(t, x)[0]) - inverse_and_ladj(t, x)[1]
        torch.testing.assert_close(dist.log_prob(x), ours, rtol=0, atol=1e-9)


def test_context_changes_the_transform():
    x = inputs(8)
    for name, factory in EXAMPLES.items():
        if getattr(factory, "conditional", False):
            builder = make(name, 3)
            c = _context(3, 8)
            assert not torch.allclose(builder(c)(x), builder(c + 1)(x)), name


def test_spline_interpolates_its_knots():
    """At knot x_k the spline equals y_k and its slope is d_k; outside [−B, B] the identity."""
    torch.manual_seed(0)
    spline = Spline(bins=6, bound=3.0)
    raw = torch.randn(5, spline.params, dtype=torch.float64)  # (N, 3K − 1)
    knots = spline_knots(raw, 3.0)  # (N, 3, K + 1)
    xk = knots[:, 0, :-1]  # left knots, (N, K)
    y, ladj = spline.forward(xk, raw[:, None, :].expand(-1, 6, -1))
    torch.testing.assert_close(y, knots[:, 1, :-1], rtol=0, atol=1e-10)
    torch.testing.assert_close(ladj.exp(), knots[:, 2, :-1], rtol=1e-9, atol=1e-10)
    outside = torch.tensor([[-7.0, -3.5, 3.2, 10.0]], dtype=torch.float64).expand(5, -1)
    y, ladj = spline.forward(outside, raw[:, None, :].expand(-1, 4, -1))
    assert torch.equal(y, outside) and torch.equal(ladj, torch.zeros_like(ladj))
    zero = torch.zeros(1, spline.params)
    v = torch.linspace(-2.9, 2.9, 7)[None]
    torch.testing.assert_close(spline.forward(v, zero.expand(7, -1)[None])[0], v)  # identity


def test_actnorm_initialises_from_the_first_batch():
    g = torch.Generator().manual_seed(0)
    x = 3 + 2 * torch.randn(500, 4, generator=g)
    layer = ActNorm(4)
    z, _ = inverse_and_ladj(layer(None), x)
    torch.testing.assert_close(z.mean(0), torch.zeros(4), rtol=0, atol=1e-5)
    torch.testing.assert_close(z.std(0), torch.ones(4), rtol=0, atol=1e-4)
    assert bool(layer.initialized)
    z2, _ = inverse_and_ladj(layer(None), 2 * x)  # the second batch does not re-initialise
    assert z2.std(0).min() > 1.9


def test_compose_needs_a_builder():
    with pytest.raises(ValueError, match="at least one"):
        Compose()


@pytest.mark.parametrize("inverse", [False, True])
def test_spline_gradients_pass_gradcheck(inverse):
    """The spline's hand-written backward (one autograd node) against finite differences,
    with respect to the input and every raw parameter, inside and outside [−B, B]."""
    torch.manual_seed(0)
    spline = Spline(bins=4, bound=2.0)
    raw = torch.randn(6, 3, spline.params, dtype=torch.float64, requires_grad=True)
    v = (1.3 * torch.randn(6, 3, dtype=torch.float64)).requires_grad_()
    f = spline.inverse if inverse else spline.forward
    assert torch.autograd.gradcheck(lambda a, b: f(a, b), (v, raw), eps=1e-6, atol=1e-6)
