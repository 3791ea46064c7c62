"""Autoregressive models: the chain rule through the network's factors, causality of every
backbone (autograd), exact normalisation by enumeration, temperature and top-k, the KV cache."""

from __future__ import annotations

import itertools
import math
import time

import pytest
import torch
from scipy.stats import chisquare

from bayesgen.generative import load_model
from bayesgen.generative.arm import ARM, GRU, MADE, PixelCNN, Transformer, generate_text, pick
from bayesgen.generative.backbones import as_backbone


def tiny(kind: str, **kw) -> ARM:
    torch.manual_seed(0)
    if kind == "transformer":
        return ARM(kw.pop("T", 5), vocab_size=3, backbone=Transformer(2, 2, 16), **kw)
    if kind == "attention":
        opt = Transformer(1, 2, 16, conditioning="attention")
        return ARM(kw.pop("T", 5), vocab_size=3, backbone=opt, num_classes=2, **kw)
    if kind == "gru":
        return ARM(kw.pop("T", 5), vocab_size=3, backbone=GRU(n_embd=8, hidden=16), **kw)
    if kind == "made":
        return ARM(kw.pop("T", 8), backbone=MADE(hidden=(32, 32)), **kw)
    if kind == "pixelcnn":
        shape = kw.pop("shape", (3, 3))
        return ARM(shape, backbone=PixelCNN(8, 1, kernel=3, first_kernel=3), **kw)
    raise ValueError(kind)


def data(model: ARM, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, model.card, (n, *model.event_shape), generator=g)
    return x if model.tokens else x.float()


def labels(model: ARM, n: int):
    return torch.arange(n) % model.num_classes if model.num_classes else None


KINDS = ["transformer", "attention", "gru", "made", "pixelcnn"]


# ---------------------------------------------------------------------------- the chain rule
@pytest.mark.parametrize("kind", KINDS)
def test_each_factor_is_the_t_th_conditional(kind):
    """Factor t of the network, run on x's parents only, gives log p(x_t | x_<t) of the fast
    path, and their sum is log p(x)."""
    model = tiny(kind)
    x, y = data(model, 12), labels(model, 12)
    values, fast = model.joint(x, y)
    c = model.context(y, 12)
    with torch.no_grad():
        per_step = model.token_log_probs(x, y)  # (B, T)
        for t, (name, factor) in enumerate(model.network.factors.items()):
            assert name == f"x{t + 1}"
            lp = factor(values, c).log_prob(values[name])
            torch.testing.assert_close(lp.expand(12), per_step[:, t], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(per_step.sum(1), fast.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_sum_to_one_by_enumeration(kind):
    """Σ_x p(x | y) = 1 over all card^T assignments (3^5 sequences, 2^8 or 2^9 images)."""
    model = tiny(kind)
    grid = torch.tensor(list(itertools.product(range(model.card), repeat=model.T)))
    x = grid.reshape(len(grid), *model.event_shape)
    x = x if model.tokens else x.float()
    classes = range(model.num_classes) if model.num_classes else [None]
    with torch.no_grad():
        for k in classes:
            y = None if k is None else torch.full((len(x),), k)
            total = model.log_prob(x, y).double().exp().sum()
            torch.testing.assert_close(
                total, torch.tensor(1.0, dtype=torch.float64), atol=1e-5, rtol=0
            )


# ---------------------------------------------------------------------------- causality
def _jacobian_support(model: ARM, x: torch.Tensor) -> torch.Tensor:
    """S (T, T): S[t, s] = output t has a nonzero gradient w.r.t. input s somewhere in the
    batch (token models: w.r.t. the embedding of x_s)."""
    net, T = model.net, model.T
    codes = model._codes(x)
    store = {}
    if model.tokens:

        def hook(module, args, out):
            out.retain_grad()
            store["emb"] = out
            return out

        handle = net.wte.register_forward_hook(hook)
        out = net(codes, model.context(labels(model, len(x)), len(x)))
        handle.remove()
        inp = store["emb"]
    else:
        inp = codes.float().requires_grad_(True)
        out = net(inp, None)
    S = torch.zeros(T, T, dtype=torch.bool)
    for t in range(T):
        grad = torch.autograd.grad(out[:, t].sum(), inp, retain_graph=True, allow_unused=True)[0]
        if grad is None:
            continue
        g = grad.abs()
        g = g.sum(-1) if model.tokens else g  # (B, T_in)
        g = g.sum(0)
        if model.tokens:  # the embedding of x_j sits at input position j (after the start)
            g = torch.cat([g, torch.zeros(T - len(g))])
        S[t] = g > 0
    return S


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_read_only_the_past(kind):
    """The Jacobian of output t w.r.t. the inputs vanishes at s ≥ t (causality) and matches the
    dependency the network's DAG is built from."""
    model = tiny(kind, **({"shape": (4, 4)} if kind == "pixelcnn" else {}))
    S = _jacobian_support(model, data(model, 16))
    D = model.dependency()
    assert not (S & ~torch.ones_like(S).tril(-1)).any(), "an output reads its own or a later input"
    assert not (S & ~D).any(), "an output reads an input that is not a parent"
    assert torch.equal(S, D)  # random weights: every structural path carries gradient


def test_changing_a_later_token_leaves_earlier_conditionals_unchanged():
    model = tiny("transformer", T=8)
    x = data(model, 4)
    x2 = x.clone()
    x2[:, 5] = (x2[:, 5] + 1) % 3
    with torch.no_grad():
        a, b = model.logits(x), model.logits(x2)  # (B, T, V): p(x_t | x_<t) for every t
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=1e-6)
    assert (a[:, 6:] - b[:, 6:]).abs().max() > 1e-4


def test_pixelcnn_parents_are_the_receptive_field():
    """A 3×3 mask-A layer alone: pixel (1, 1) reads (0, 0), (0, 1), (0, 2), (1, 0); a mask-B
    block widens the field but keeps the blind spot: (1, 4) precedes (2, 2) and is unseen."""
    model = ARM((5, 5), backbone=PixelCNN(4, 0, kernel=3, first_kernel=3))
    assert model.parents_of(6) == [0, 1, 2, 5]
    assert model.network.parents("x7") == ("x1", "x2", "x3", "x6")
    deeper = ARM((5, 5), backbone=PixelCNN(4, 1, kernel=3, first_kernel=3))
    pa = deeper.parents_of(12)  # pixel (2, 2)
    assert 9 not in pa and 4 in pa  # (1, 4) is in the blind spot, (0, 4) is not
    assert all(s < 12 for s in pa)


def test_made_is_a_full_chain_when_wide_enough():
    model = tiny("made")
    assert torch.equal(model.dependency(), torch.ones(8, 8, dtype=torch.bool).tril(-1))
    assert len(model.network.dag.edges) == 8 * 7 // 2


# ---------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("kind", ["transformer", "gru", "made"])
def test_temperature_zero_is_the_argmax(kind):
    model = tiny(kind)
    with torch.no_grad():
        x = model.sample(20, temperature=0)
        greedy = model._two_class(model.logits(x)).argmax(-1)  # (B, T)
    assert torch.equal(model._codes(x), greedy)
    assert (x == x[0]).all()  # deterministic: every row the same


def test_top_k_never_leaves_the_top_k():
    torch.manual_seed(0)
    model = ARM(6, vocab_size=7, backbone=Transformer(1, 2, 16))
    with torch.no_grad():
        x = model.sample(300, top_k=2, generator=torch.Generator().manual_seed(0))
        top = model.logits(x).topk(2, dim=-1).indices  # (B, T, 2)
    assert (x[..., None] == top).any(-1).all()
    assert len(x.unique()) > 2  # the top 2 differ between contexts


def test_pick_checks_and_matches_its_distribution():
    logits = torch.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    g = torch.Generator().manual_seed(0)
    draws = pick(logits, temperature=0.5, generator=g)
    want = torch.softmax(torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64), 0) * 20000
    counts = torch.bincount(draws, minlength=3)
    assert chisquare(counts.numpy(), want.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_samples_follow_the_tempered_chain(temperature):
    """Counts of all 9 sequences of a T=2, V=3 model against Π_t softmax(logits_t / τ)."""
    torch.manual_seed(1)
    model = ARM(2, vocab_size=3, backbone=Transformer(1, 1, 8))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # a peaked, non-uniform model
        grid = torch.tensor(list(itertools.product(range(3), repeat=2)))
        lp = torch.log_softmax(model.logits(grid).double() / temperature, -1)
        probs = lp.gather(-1, grid[..., None])[..., 0].sum(1).exp()  # (9,)
        x = model.sample(20000, temperature=temperature, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(x[:, 0] * 3 + x[:, 1], minlength=9)
    want = (probs / probs.sum() * 20000).numpy()  # probs sums to 1 up to rounding
    assert chisquare(counts.numpy(), want).pvalue > 1e-3


def test_bad_sampling_arguments():
    model = tiny("transformer")
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        model.sample(2, top_k=0)
    with pytest.raises(ValueError, match="generate needs a sequential backbone"):
        tiny("made").generate(torch.zeros(1, 2, dtype=torch.long), 3)


# ---------------------------------------------------------------------------- KV cache
def test_kv_cache_gives_the_same_draws_and_is_faster():
    torch.manual_seed(0)
    model = ARM(
        300, vocab_size=16, backbone=Transformer(n_layer=2, n_head=4, n_embd=64, block_size=300)
    ).eval()
    prefix = torch.randint(0, 16, (4, 16))

    def run(use_cache):
        g = torch.Generator().manual_seed(3)
        t0 = time.perf_counter()
        out = model.generate(prefix, 256, generator=g, use_cache=use_cache)
        return out, time.perf_counter() - t0

    cached, t_cached = run(True)
    plain, t_plain = run(False)
    assert torch.equal(cached, plain)
    assert torch.equal(cached[:, :16], prefix)
    ratio = t_plain / t_cached
    print(f"KV cache speed-up: {ratio:.1f}x")
    assert ratio >= 3, f"cache speed-up only {ratio:.1f}x"


def test_kv_cache_past_the_block_size_slides_the_window():
    torch.manual_seed(0)
    model = ARM(12, vocab_size=5, backbone=Transformer(1, 2, 16, block_size=12))
    prefix = torch.randint(0, 5, (3, 4))
    a = model.generate(prefix, 40, generator=torch.Generator().manual_seed(1))
    b = model.generate(prefix, 40, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b) and a.shape == (3, 44)


def test_gru_state_carry_equals_rerunning():
    model = tiny("gru")
    prefix = torch.randint(0, 3, (4, 3))
    a = model.generate(prefix, 20, generator=torch.Generator().manual_seed(1))
    b = model.generate(prefix, 20, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------- data and text
def test_token_input_checks():
    model = tiny("transformer")
    x = data(model, 4)
    torch.testing.assert_close(model.log_prob(x.float()), model.log_prob(x))  # integral floats
    with pytest.raises(ValueError, match="integer token ids.*row 0"):
        model.log_prob(x.float() + 0.5)
    bad = x.clone()
    bad[2, 1] = 3
    with pytest.raises(ValueError, match=r"\[0, 3\).*row 2"):
        model.log_prob(bad)
    binary = tiny("made")
    z = data(binary, 4)
    z[3, 0] = 0.5
    with pytest.raises(ValueError, match="binary values 0/1.*row 3"):
        binary.log_prob(z)


def test_backbone_options_are_checked():
    with pytest.raises(ValueError, match="n_embd must be a multiple"):
        Transformer(n_head=3, n_embd=16)
    with pytest.raises(ValueError, match="event_shape \\(H, W\\)"):
        ARM(16, backbone=PixelCNN())
    with pytest.raises(ValueError, match="binary"):
        ARM(8, vocab_size=4, backbone=MADE())
    with pytest.raises(ValueError, match="block_size must be >="):
        ARM(10, vocab_size=4, backbone=Transformer(block_size=5))
    with pytest.raises(ValueError, match="backbone type"):
        ARM(8, backbone={"type": "lstm"})
    with pytest.raises(ValueError, match="MADE backbone's conditioning must be"):
        MADE(conditioning="attention")


def test_a_made_saved_before_its_conditioning_option_loads_as_concatenation():
    option = as_backbone({"type": "made", "hidden": [16]})  # a config without the field
    assert option == MADE(hidden=(16,), conditioning="concat")


def test_attention_conditioning_round_trips(tmp_path):
    model = tiny("attention")
    x, y = data(model, 6), labels(model, 6)
    again = load_model(model.save(tmp_path / "m.json"))
    assert again.config["backbone"]["conditioning"] == "attention"
    torch.testing.assert_close(again.log_prob(x, y), model.log_prob(x, y))
    # the two classes give different conditionals
    with torch.no_grad():
        a = model.log_prob(x, torch.zeros(6, dtype=torch.long))
        b = model.log_prob(x, torch.ones(6, dtype=torch.long))
    assert not torch.allclose(a, b)


def test_generate_text():
    vocab = "ab c"
    torch.manual_seed(0)
    model = ARM(8, vocab_size=4, backbone=Transformer(1, 2, 16))
    text = generate_text(model, vocab, "ab", 10, generator=torch.Generator().manual_seed(0))
    assert text.startswith("ab") and len(text) == 12 and set(text) <= set(vocab)
    greedy = generate_text(model, vocab, "ab", 10, temperature=0)
    ids = torch.tensor([[vocab.index(ch) for ch in greedy]])
    assert torch.equal(model.generate(ids[:, :2], 10, temperature=0), ids)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate_text(model, vocab, "abz", 3)
    with pytest.raises(ValueError, match="vocab has 3 tokens"):
        generate_text(model, "abc", "a", 3)


def test_stream_log_probs_scores_every_token_with_context():
    """Token n is scored by the first window (starts 0, 4, ..., 28, 29) that ends after it."""
    from bayesgen.generative.arm import stream_log_probs

    torch.manual_seed(0)
    model = ARM(8, vocab_size=4, backbone=Transformer(1, 2, 16))
    tokens = torch.randint(0, 4, (37,))
    lp = stream_log_probs(model, tokens, stride=4)
    starts = [*range(0, 30, 4), 29]
    with torch.no_grad():
        windows = model.token_log_probs(torch.stack([tokens[s : s + 8] for s in starts]))
    want = []
    for n in range(37):  # brute force, token by token
        j = next(j for j, s in enumerate(starts) if s + 8 > n)
        want.append(windows[j, n - starts[j]])
    torch.testing.assert_close(lp, torch.stack(want).double())
    assert lp.shape == (37,)


@pytest.mark.parametrize("kind", ["transformer", "made"])
def test_training_reaches_the_entropy_of_a_deterministic_chain(kind):
    """x_1 uniform, then x_t = x_{t-1} + 1 (mod V): H(x) = log V exactly; 200 Adam steps
    bring the held-out NLL to within 0.05 nats of it (MADE over seeds 0-7: at most 0.014; a
    hundred steps leave some initializations at 0.09)."""
    torch.manual_seed(0)
    V, T = (3, 5) if kind == "transformer" else (2, 8)
    model = tiny(kind, T=T)
    g = torch.Generator().manual_seed(0)

    def batch(n):
        first = torch.randint(0, V, (n, 1), generator=g)
        x = (first + torch.arange(T)) % V
        return x if model.tokens else x.float()

    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = model.loss(batch(32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        nll = float(-model.log_prob(batch(500)).mean())
    assert abs(nll - math.log(V)) < 0.05, nll


def test_sampling_runs_without_dropout_and_restores_the_mode():
    torch.manual_seed(0)
    model = ARM(6, vocab_size=4, backbone=Transformer(1, 2, 16, dropout=0.5)).train()
    a = model.sample(5, temperature=0)
    b = model.sample(5, temperature=0)
    assert torch.equal(a, b) and model.training
