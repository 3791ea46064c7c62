"""Batched contraction on compacted rows: each distinct sub-evidence computed once, the answer
equal to the plain batched contraction (and so to row-by-row queries), gradients included."""

import pytest
import torch
from conftest import bnlearn_path

from bayesgen.inference import ExactInference
from bayesgen.inference.contraction import ROW, plan_contraction
from bayesgen.inference.executors import contract
from bayesgen.inference.shared_rows import compact_rows, run_shared, shared_fraction
from bayesgen.io import read_bif

CASES = [  # (distinct slices per row-carrying operand, rows): few shared, all distinct, mixed
    ((2, 2, 3), 50),
    ((40, 40, 40), 40),
    ((1, 7, 40), 40),
]


def _network(distinct, rows, seed):
    """A random chain-and-star tensor network over 5 indices plus the row index; operands 0-2
    carry rows, each given as distinct slices and a random map (R,)."""
    g = torch.Generator().manual_seed(seed)
    sizes = {0: 2, 1: 3, 2: 2, 3: 4, 4: 3, ROW: rows}
    inputs = [(ROW, 0), (ROW, 1, 2), (ROW, 3), (0, 1), (1, 3, 4), (2, 4), (4,)]
    maps = []
    ops = []
    for k, ix in enumerate(inputs):
        if ROW in ix:
            u = distinct[k]
            ops.append(
                torch.rand((u, *(sizes[i] for i in ix[1:])), generator=g, dtype=torch.float64)
            )
            m = torch.randint(0, u, (rows,), generator=g)
            m[:u] = torch.arange(u)  # every slice used at least once
            maps.append(m)
        else:
            ops.append(torch.rand(tuple(sizes[i] for i in ix), generator=g, dtype=torch.float64))
            maps.append(None)
    return inputs, sizes, ops, maps


@pytest.mark.parametrize("output", [(ROW,), (ROW, 3)])
@pytest.mark.parametrize(("distinct", "rows"), CASES)
@pytest.mark.parametrize("rescale", [False, True])
def test_shared_rows_equal_the_expanded_contraction(distinct, rows, output, rescale):
    inputs, sizes, ops, maps = _network(distinct, rows, seed=len(output) + rows)
    plan = plan_contraction(inputs, output, sizes)
    expanded = [t[m] if m is not None else t for t, m in zip(ops, maps, strict=True)]
    ref, ref_ls = contract(plan, expanded, rescale=rescale)
    got, ls = run_shared(plan, ops, maps, rescale=rescale)
    if rescale:
        ref = ref * ref_ls.exp().reshape(-1, *[1] * (ref.dim() - 1))
        got = got * ls.exp().reshape(-1, *[1] * (got.dim() - 1))
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)


def test_gradients_flow_through_the_gathers():
    inputs, sizes, ops, maps = _network((2, 5, 3), 30, seed=0)
    plan = plan_contraction(inputs, (ROW,), sizes)
    leaves = [t.clone().requires_grad_() for t in ops]
    got, _ = run_shared(plan, leaves, maps)
    g_got = torch.autograd.grad(got.log().sum(), leaves)
    leaves = [t.clone().requires_grad_() for t in ops]
    expanded = [t[m] if m is not None else t for t, m in zip(leaves, maps, strict=True)]
    ref, _ = contract(plan, expanded)
    g_ref = torch.autograd.grad(ref.log().sum(), leaves)
    for a, b in zip(g_got, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_compact_rows_keeps_each_distinct_slice_once():
    t = torch.arange(24.0).reshape(2, 3, 4)  # two coded axes (2, 3), then the rest (4,)
    a = torch.tensor([1, 0, 1, 1, 0])
    b = torch.tensor([2, 0, 2, 1, 0])
    slices, m = compact_rows(t, [a, b], [2, 3])
    assert slices.shape == (3, 4)  # (0,0), (1,1), (1,2)
    torch.testing.assert_close(slices[m], t[a, b])


def test_batched_queries_with_repeated_sub_evidence_equal_row_by_row(monkeypatch):
    """Many rows, few distinct values per leaf: the compacted path against single queries, with
    and without rescaling, and the gradient of the batched answer against the summed single
    ones."""
    import bayesgen.inference.exact as exact

    monkeypatch.setattr(exact, "_SHARE_FLOPS", 0)  # alarm's rows are cheap: share anyway
    net = read_bif(bnlearn_path("alarm"))
    for f in net.factors.values():  # published rows sum to 1 ± 1e-7: make them exact
        f.probs.div_(f.probs.sum(-1, keepdim=True))
    eng = ExactInference.from_network(net)
    root = "HYPOVOLEMIA"
    leaves = [v for v in net.dag.leaves() if v != root][:6]
    sample = net.sample(400, seed=9)
    ev = {v: sample[v] for v in leaves}
    ev[leaves[0]] = torch.where(torch.arange(400) % 3 == 0, -1, ev[leaves[0]])
    rescaled = ExactInference.from_network(net, rescale=True)
    post = eng.query(root, ev).probs
    torch.testing.assert_close(rescaled.query(root, ev).probs, post, rtol=0, atol=1e-12)
    for r in range(0, 400, 37):
        e = {v: int(c[r]) for v, c in ev.items() if int(c[r]) >= 0}
        torch.testing.assert_close(post[r], eng.query(root, e).probs, rtol=0, atol=1e-12)

    rows = list(range(0, 400, 50))
    sub = {v: c[rows] for v, c in ev.items()}
    table = net.factors[root].probs.detach().clone().requires_grad_()
    (g_batched,) = torch.autograd.grad(eng.log_evidence(sub, tables={root: table}).sum(), table)
    table = table.detach().clone().requires_grad_()
    single = sum(
        eng.log_evidence({v: int(c[k]) for v, c in sub.items() if int(c[k]) >= 0},
                         tables={root: table})
        for k in range(len(rows))
    )  # fmt: skip
    (g_single,) = torch.autograd.grad(single, table)
    torch.testing.assert_close(g_batched, g_single, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("distinct", "rows", "low"), [((2, 2, 3), 50, True), ((40, 40, 40), 40, False)]
)
def test_shared_fraction_measures_the_work_saved(distinct, rows, low):
    """From the row maps alone: few distinct slices do a fraction of the row-by-row work, all
    distinct rows do all of it."""
    inputs, sizes, ops, maps = _network(distinct, rows, seed=1)
    plan = plan_contraction(inputs, (ROW,), sizes)
    one = {**sizes, ROW: 1}
    frac = shared_fraction(plan, maps, one)
    assert (frac < 0.5) if low else (frac == pytest.approx(1.0))


def test_batches_that_share_little_run_in_cache_sized_chunks(monkeypatch):
    """Forced into chunks of 8 rows, a batched query gives the answers of one contraction."""
    import bayesgen.inference.exact as exact

    net = read_bif(bnlearn_path("alarm"))
    eng = ExactInference.from_network(net)
    root = "HYPOVOLEMIA"
    leaves = [v for v in net.dag.leaves() if v != root]
    sample = net.sample(100, seed=4)
    ev = {v: sample[v] for v in leaves}
    whole = eng.query(root, ev).probs
    logz = eng.log_evidence(ev)
    calls = []
    monkeypatch.setattr(exact, "_SHARE_FLOPS", 0)
    monkeypatch.setattr(exact, "_STEP_OVERHEAD", 0)
    monkeypatch.setattr(exact, "_CACHE_BYTES", 1)
    monkeypatch.setattr(exact, "_MIN_CHUNK", 8)
    monkeypatch.setattr(exact, "shared_fraction", lambda *a: calls.append(1) or 1.0)
    eng = ExactInference.from_network(net)
    torch.testing.assert_close(eng.query(root, ev).probs, whole, rtol=0, atol=1e-13)
    torch.testing.assert_close(eng.log_evidence(ev), logz, rtol=1e-13, atol=0)
    assert len(calls) == 2


def test_expensive_plans_are_refined_reproducibly():
    """A plan above the refinement threshold gets randomized elimination orders with a fixed
    seed: never dearer than the heuristics' best, and the same plan every time."""
    import bayesgen.inference.contraction as contraction

    net = read_bif(bnlearn_path("win95pts"))
    names = list(net.factors)
    inputs = [tuple(names.index(p.name) for p in f.parents) + (k,)
              for k, f in enumerate(net.factors.values())]  # fmt: skip
    sizes = {k: net.variables[n].card for k, n in enumerate(names)}
    plain = contraction.plan_contraction(inputs, (), sizes, optimize="min-fill")
    old = contraction._REFINE_FLOPS
    try:
        contraction._REFINE_FLOPS = max(1, plain.flops // 20)
        a = contraction.plan_contraction(inputs, (), sizes)
        b = contraction.plan_contraction(inputs, (), sizes)
    finally:
        contraction._REFINE_FLOPS = old
    assert a.flops <= plain.flops
    assert [(st.a, st.b, st.out) for st in a.steps] == [(st.a, st.b, st.out) for st in b.steps]
