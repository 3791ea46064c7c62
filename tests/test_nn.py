"""The shared neural blocks: MADE's autoregressive property (by the autograd Jacobian), the
conditioning blocks' identity start and their use of the context, and the embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from bayesgen.nn import (
    MADE,
    MLP,
    Concat,
    CrossAttention,
    FiLM,
    MaskedLinear,
    Projection,
    SinusoidalEmbedding,
    as_conditioning,
)


def made_dependencies(made: MADE, context=None) -> torch.Tensor:
    """(D_out, D_in) 0/1: whether output d's parameters depend on input j, by autograd."""
    x = torch.randn(1, made.features, dtype=torch.float64)
    made = made.double()

    def f(v):
        c = None if context is None else context.double()
        return made(v, c).sum(-1)[0]  # (D,)

    jac = torch.autograd.functional.jacobian(f, x)[:, 0, :]  # (D, D)
    return (jac.abs() > 0).int()


@pytest.mark.parametrize("order", [None, [2, 0, 3, 1], [4, 3, 2, 1, 0]])
@pytest.mark.parametrize("hidden", [(16,), (8, 8), (3,)])
def test_made_is_autoregressive_in_its_order(order, hidden):
    D = 4 if order is None or len(order) == 4 else len(order)
    torch.manual_seed(0)
    made = MADE(D, params=3, hidden=hidden, order=order, activation=torch.nn.Tanh)
    rank = torch.empty(D, dtype=torch.long)
    rank[torch.arange(D) if order is None else torch.tensor(order)] = torch.arange(D)
    allowed = (rank[None, :] < rank[:, None]).int()  # output d may see input j iff j before d
    deps = made_dependencies(made)
    assert (deps <= allowed).all()
    if hidden != (3,):  # wide enough hidden layers connect every allowed pair
        assert torch.equal(deps, allowed)


@pytest.mark.parametrize("context_size", [0, 2])
def test_a_made_narrower_than_its_input_reaches_every_degree(context_size):
    """Hidden degrees spread over [1, D − 1]: with 5 units for D = 12 they step by at most
    ⌈12 / 5⌉ = 3, so the last output sees x_9 (degrees k mod (D − 1) stop at 5, leaving
    x_6..x_11 to no unit)."""
    torch.manual_seed(0)
    made = MADE(12, hidden=(5,), context_size=context_size, activation=torch.nn.Tanh)
    c = torch.randn(1, context_size) if context_size else None
    deps = made_dependencies(made, c)
    assert deps[-1, 8] == 1  # x_9, 0-based


def test_made_context_reaches_every_output_and_shape():
    torch.manual_seed(0)
    made = MADE(3, params=2, hidden=(16, 16), context_size=2)
    x, c = torch.randn(5, 3), torch.randn(5, 2, requires_grad=True)
    out = made(x, c)
    assert out.shape == (5, 3, 2)
    grad = torch.autograd.grad(out[:, 0].sum(), c)[0]  # the first output sees only c
    assert grad.abs().sum() > 0
    with pytest.raises(ValueError, match="context of size 2"):
        made(x)


@pytest.mark.parametrize("conditioning", ["concat", "film"])
def test_a_conditioned_made_stays_autoregressive_and_reads_its_context(conditioning):
    torch.manual_seed(0)
    made = MADE(4, params=2, hidden=(16, 16), context_size=3, conditioning=conditioning).double()
    for p in made.parameters():  # FiLM starts as the identity: give it a modulation to test
        torch.nn.init.normal_(p, std=0.3)
    c = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    allowed = torch.ones(4, 4).tril(-1).int()  # output d reads the inputs before d
    assert torch.equal(made_dependencies(made, c.detach()), allowed)
    out = made(torch.randn(1, 4, dtype=torch.float64), c)  # (1, 4, 2)
    reads_c = [bool(torch.autograd.grad(out[0, d].sum(), c, retain_graph=True)[0].any())
               for d in range(4)]  # fmt: skip
    # a joined context has degree 0 and reaches output 1 too; FiLM reaches the outputs
    # that have hidden inputs, the first output reads nothing
    assert reads_c == ([True] * 4 if conditioning == "concat" else [False, True, True, True])


def test_a_film_made_starts_unconditioned_and_refuses_mixing_conditionings():
    torch.manual_seed(0)
    plain, film = MADE(5, hidden=(8,)), MADE(5, hidden=(8,), context_size=2, conditioning="film")
    film.net.load_state_dict(plain.net.state_dict())
    x = torch.randn(6, 5)
    torch.testing.assert_close(film(x, torch.randn(6, 2)), plain(x))
    for bad in ("attention", "projection"):
        with pytest.raises(ValueError, match="conditioning must be 'concat' or 'film'"):
            MADE(5, context_size=2, conditioning=bad)


def test_made_rejects_an_order_that_is_not_a_permutation():
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, order=[0, 0, 1])


def test_masked_linear_applies_its_mask_and_checks_its_shape():
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    layer = MaskedLinear(2, 3, mask)
    x = torch.randn(4, 2)
    expected = x @ (layer.weight * mask).T + layer.bias
    torch.testing.assert_close(layer(x), expected)
    assert "mask" in dict(layer.named_buffers())
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 2\)"):
        MaskedLinear(2, 3, mask.T)


CONDITIONINGS = [Concat(), FiLM(), CrossAttention(heads=2, tokens=3), Projection()]


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_mlp_conditioning_uses_the_context(conditioning):
    torch.manual_seed(0)
    net = MLP(3, 2, (8, 8), context_size=4, conditioning=conditioning)
    for p in net.parameters():  # leave the identity start, so c matters
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(5, 3)
    c1, c2 = torch.randn(5, 4), torch.randn(5, 4)
    assert net(x, c1).shape == (5, 2)
    assert not torch.allclose(net(x, c1), net(x, c2))
    # batch-first extra axes (B, S, H) broadcast the context over S
    xs = torch.randn(5, 7, 3)
    out = net(xs, c1)
    assert out.shape == (5, 7, 2)
    torch.testing.assert_close(out[:, 3], net(xs[:, 3], c1))
    with pytest.raises(ValueError, match="context of size 4"):
        net(x)


@pytest.mark.parametrize("conditioning", [FiLM(), CrossAttention()])
def test_modulating_blocks_start_as_the_identity(conditioning):
    torch.manual_seed(0)
    block = conditioning.block(8, 3)
    h = torch.randn(4, 8)
    torch.testing.assert_close(block(h, torch.randn(4, 3)), h)


def test_projection_is_the_linear_head_plus_the_class_embedding_dotted_with_the_features():
    """D(x, y) = ψ(h) + e_yᵀ h (Miyato & Koyama), with e_y the bilinear weight's column y."""
    torch.manual_seed(0)
    net = MLP(3, 1, (8, 6), context_size=4, conditioning="projection")
    x, y = torch.randn(5, 3), torch.tensor([0, 3, 1, 1, 2])
    c = torch.nn.functional.one_hot(y, 4).float()
    torch.testing.assert_close(net(x, c), net(x, torch.zeros_like(c)))  # starts unconditioned
    torch.nn.init.normal_(net.projection.weight)
    h = x
    for linear in net.linears[:-1]:
        h = torch.relu(linear(h))  # (5, 6) the last hidden layer
    e = net.projection.weight[0].T[y]  # (5, 6) the class embeddings e_y
    torch.testing.assert_close(net(x, c), net.linears[-1](h) + (e * h).sum(-1, keepdim=True))
    with pytest.raises(ValueError, match="projection conditioning needs at least one hidden"):
        MLP(3, 1, (), context_size=4, conditioning="projection")


def test_conditioning_by_name_and_bad_names():
    assert isinstance(as_conditioning("film"), FiLM)
    assert isinstance(as_conditioning("concat"), Concat)
    assert isinstance(as_conditioning("attention"), CrossAttention)
    assert isinstance(as_conditioning("projection"), Projection)
    with pytest.raises(ValueError, match="conditioning must be"):
        as_conditioning("sum")
    with pytest.raises(ValueError, match="heads must be an int >= 1"):
        CrossAttention(heads=0)


def test_sinusoidal_embedding_formula():
    emb = SinusoidalEmbedding(6, max_period=100.0)
    t = torch.tensor([0.0, 1.0, 7.5])
    freqs = torch.tensor([100.0 ** (-k / 3) for k in range(3)])
    expected = torch.cat([torch.sin(t[:, None] * freqs), torch.cos(t[:, None] * freqs)], -1)
    torch.testing.assert_close(emb(t), expected)
    assert emb(t).shape == (3, 6) and math.isclose(float(emb(t)[0, 3]), 1.0)
    with pytest.raises(ValueError, match="even int"):
        SinusoidalEmbedding(5)
