"""Exact inference: agreement with pgmpy on the bnlearn networks, brute-force enumeration on random
small networks, batched evidence, marginals from one backward pass, gradients, MPE/MAP, underflow,
the memory budget and the error messages."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import torch
from conftest import bnlearn_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesgen.inference import ExactInference, Explanation, MemoryBudgetError, Posterior
from bayesgen.io import read_bif

logging.getLogger("pgmpy").setLevel(logging.ERROR)

SMALL = ["asia", "cancer", "earthquake", "sachs", "survey", "alarm", "child", "insurance"]
LARGE = ["water", "mildew", "barley", "hailfinder", "hepar2", "win95pts", "pathfinder"]


def to_pgmpy(net):
    """The same tables as a pgmpy model (pgmpy's values are (card, Π parent cards))."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork(
        [(p.name, n) for n, f in net.factors.items() for p in f.parents]
    )
    model.add_nodes_from(list(net.factors))
    for n, f in net.factors.items():
        table = f.probs.numpy()
        parents = [p.name for p in f.parents]
        model.add_cpds(
            TabularCPD(
                n,
                table.shape[-1],
                table.reshape(-1, table.shape[-1]).T,
                evidence=parents or None,
                evidence_card=[net.variables[p].card for p in parents] or None,
                state_names={v: list(net.variables[v].states) for v in [n, *parents]},
            )
        )
    return model


_LOADED: dict = {}


@pytest.fixture(scope="module")
def bnlearn():
    """name -> (BayesNet, ExactInference, pgmpy VariableElimination), loaded once, same tables."""
    from pgmpy.inference import VariableElimination

    from bayesgen.io import read_bif

    def load(name):
        if name not in _LOADED:
            net = read_bif(bnlearn_path(name))
            # some published rows sum to 1 ± 1e-7; make them exact so that answers do not depend
            # on whether a library drops barren nodes (which assumes rows sum to one)
            for f in net.factors.values():
                f.probs.div_(f.probs.sum(-1, keepdim=True))
            _LOADED[name] = (
                net,
                ExactInference.from_network(net),
                VariableElimination(to_pgmpy(net)),
            )
        return _LOADED[name]

    return load


def pgmpy_table(factor, variables, states) -> np.ndarray:
    """A pgmpy DiscreteFactor's values with axes and states in our order."""
    values = factor.values.transpose([factor.variables.index(v) for v in variables])
    for axis, v in enumerate(variables):
        idx = [factor.state_names[v].index(s) for s in states[v]]
        values = np.take(values, idx, axis=axis)
    return values


# ---------------------------------------------------------------------------- the student network
def student_tables():
    def T(x):
        return torch.tensor(x, dtype=torch.float64)

    return [
        ("x1", (), T([0.1, 0.9])),
        ("x2", ("x1",), T([[0.8, 0.2], [0.25, 0.75]])),
        ("x3", ("x1",), T([[0.7, 0.3], [0.2, 0.8]])),
        ("x4", ("x2", "x3"), T([[[0.95, 0.05], [0.4, 0.6]], [[0.35, 0.65], [0.01, 0.99]]])),
    ]


STUDENT_STATES = {v: ("0", "1") for v in ("x1", "x2", "x3", "x4")}


@pytest.fixture
def student():
    return ExactInference(student_tables(), STUDENT_STATES)


def test_student_oracles(student):
    assert float(student.query("x2")["1"]) == pytest.approx(0.695, abs=1e-12)
    assert float(student.query("x1", {"x2": 0})["1"]) == pytest.approx(
        0.7377049180327869, abs=1e-12
    )
    assert float(student.query(["x2", "x3"])["1", "1"]) == pytest.approx(0.546, abs=1e-12)
    assert float(student.query("x3", {"x2": "1"})["1"]) == pytest.approx(
        0.7856115107913669, abs=1e-12
    )
    assert float(student.query("x4")["1"]) == pytest.approx(0.76484, abs=1e-12)
    best = student.mpe()
    assert dict(best) == {"x1": 1, "x2": 1, "x3": 1, "x4": 1}
    assert float(best.prob) == pytest.approx(0.9 * 0.75 * 0.8 * 0.99, abs=1e-12)
    assert float(student.query("P(x1 | x2=0)")["1"]) == pytest.approx(0.7377049180327869)


def test_student_from_network():
    from bayesgen import BayesNet, Discrete, Table

    xs = {n: Discrete(n, 2) for n in STUDENT_STATES}
    net = BayesNet(Table(xs[c], [xs[p] for p in pa], t) for c, pa, t in student_tables())
    eng = ExactInference.from_network(net)
    assert float(eng.query("x1", {"x2": 0})["1"]) == pytest.approx(0.7377049180327869)
    # the tables are read at call time: a refit network is seen
    net.factors["x1"].probs.copy_(torch.tensor([0.5, 0.5], dtype=torch.float64))
    expect = 0.5 * 0.25 / (0.5 * 0.25 + 0.5 * 0.8)
    assert float(eng.query("x1", {"x2": 0})["1"]) == pytest.approx(expect)


def test_posterior_object(student):
    post = student.query("x1", {"x2": 0})
    assert isinstance(post, Posterior)
    assert str(post) == "P(x1 | x2=0)\nx1=0  0.2623\nx1=1  0.7377"
    assert post.variables == ("x1",) and post.states == (("0", "1"),)
    frame = post.to_pandas()
    assert list(frame.columns) == ["x1", "probability"]
    assert frame["probability"].sum() == pytest.approx(1.0)
    doc = json.loads(json.dumps(post.to_dict()))
    assert doc["evidence"] == {"x2": "0"} and doc["probs"][1] == pytest.approx(0.7377049180327869)
    joint = student.query(["x2", "x3"])
    assert "x2=1, x3=1  0.5460" in str(joint)
    with pytest.raises(KeyError, match="unknown state 'yes' of 'x2'"):
        joint["yes", "1"]
    batched = student.query("x1", {"x2": torch.tensor([0, 1, -1])})
    assert batched.probs.shape == (3, 2) and batched["1"].shape == (3,)
    assert batched.to_pandas().shape == (3, 2)
    assert "3 evidence rows" in str(batched)


# ---------------------------------------------------------------------------- bnlearn vs pgmpy
@pytest.mark.parametrize("name", SMALL + LARGE)
def test_query_matches_pgmpy(name, bnlearn):
    net, eng, ve = bnlearn(name)
    n_queries = 6 if name in SMALL else 3
    rng = np.random.default_rng(sum(map(ord, name)))
    sample = net.sample(n_queries, seed=int(rng.integers(1 << 30)))  # evidence with P(e) > 0
    names = list(net.factors)
    for q in range(n_queries):
        k = int(rng.integers(0, min(5, len(names) - 2)))
        picked = [names[i] for i in rng.choice(len(names), size=k + 2, replace=False)]
        n_targets = 1 if q % 3 else 2
        targets, observed = picked[:n_targets], picked[n_targets:]
        ev = {v: net.variables[v].states[int(sample[v][q])] for v in observed}
        ours = eng.query(targets, ev).probs.numpy()
        ref = ve.query(targets, evidence=ev, joint=True, show_progress=False)
        expect = pgmpy_table(ref, targets, {v: net.variables[v].states for v in targets})
        np.testing.assert_allclose(ours, expect, rtol=0, atol=1e-9)
        if ev and q % 2 == 0:
            joint = ve.query(list(ev), joint=True, show_progress=False)
            p_e = joint.get_value(**ev)
            assert float(eng.log_evidence(ev)) == pytest.approx(math.log(p_e), abs=1e-9)


# ---------------------------------------------------------------------------- brute force
@st.composite
def small_networks(draw):
    n = draw(st.integers(2, 6))
    cards = [draw(st.integers(2, 3)) for _ in range(n)]
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    tables = []
    for k in range(n):
        parents = tuple(f"v{j}" for j in range(k) if draw(st.booleans()))[:3]
        shape = tuple(cards[int(p[1:])] for p in parents) + (cards[k],)
        w = torch.rand(shape, generator=gen, dtype=torch.float64) ** 3
        if draw(st.booleans()):  # some structural zeros
            w = w * (torch.rand(shape, generator=gen, dtype=torch.float64) > 0.2)
        w[..., 0] += 1e-3
        tables.append((f"v{k}", parents, w / w.sum(-1, keepdim=True)))
    states = {f"v{k}": tuple(f"s{i}" for i in range(cards[k])) for k in range(n)}
    observed = {
        f"v{k}": draw(st.integers(0, cards[k] - 1)) for k in range(n) if draw(st.booleans())
    }
    if len(observed) == n:
        observed.pop(f"v{draw(st.integers(0, n - 1))}")
    free = [v for v in states if v not in observed]
    targets = [v for v in free if draw(st.booleans())] or free[:1]
    return tables, states, observed, targets


def brute_joint(tables, states):
    """The full joint P(v0, ..., vn) by one einsum over all tables."""
    names = list(states)
    letters = {v: chr(97 + i) for i, v in enumerate(names)}
    terms = ["".join(letters[p] for p in pa) + letters[c] for c, pa, _ in tables]
    eq = ",".join(terms) + "->" + "".join(letters[v] for v in names)
    return torch.einsum(eq, *[t for _, _, t in tables])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_brute_force(case):
    tables, states, observed, targets = case
    names = list(states)
    eng = ExactInference(tables, states)
    joint = brute_joint(tables, states)
    # condition on the evidence: slice the observed axes
    idx = tuple(observed.get(v, slice(None)) for v in names)
    cond = joint[idx]
    free = [v for v in names if v not in observed]
    p_e = float(cond.sum())
    assert float(eng.log_evidence(observed).exp()) == pytest.approx(p_e, abs=1e-12)
    if p_e == 0:
        with pytest.raises(ValueError, match="has probability zero"):
            eng.query(targets, observed)
        with pytest.raises(ValueError, match="has probability zero"):
            eng.mpe(observed)
        return
    # P(targets | e)
    drop = tuple(k for k, v in enumerate(free) if v not in targets)
    marg = cond.sum(drop) if drop else cond
    kept = [v for v in free if v in targets]
    expect = marg.permute([kept.index(v) for v in targets]) / p_e
    torch.testing.assert_close(eng.query(targets, observed).probs, expect, atol=1e-12, rtol=0)
    # every posterior marginal
    marginals = eng.marginals(observed)
    assert set(marginals) == set(free)
    for k, v in enumerate(free):
        other = tuple(j for j in range(len(free)) if j != k)
        ref = (cond.sum(other) if other else cond) / p_e
        torch.testing.assert_close(marginals[v], ref, atol=1e-12, rtol=0)
    # MPE: attains the maximum of P(x, e)
    best = eng.mpe(observed)
    assert float(best.log_prob.exp()) == pytest.approx(float(cond.max()), rel=1e-10)
    assert float(joint[tuple(best[v] for v in names)]) == pytest.approx(
        float(cond.max()), rel=1e-10
    )
    # marginal MAP over the targets
    mapped = eng.map(targets, observed)
    top = float(marg.max())
    assert float(mapped.log_prob.exp()) == pytest.approx(top, rel=1e-10)
    at = tuple(mapped[v] for v in kept)
    assert float(marg[at]) == pytest.approx(top, rel=1e-10)


# ---------------------------------------------------------------------------- batched evidence
def _rows(net, n_rows, names, seed, p_missing=0.3):
    sample = net.sample(n_rows, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    return {
        v: torch.where(torch.rand(n_rows, generator=gen) < p_missing, -1, sample[v]) for v in names
    }


def _row(ev, r):
    return {v: int(c[r]) for v, c in ev.items() if int(c[r]) >= 0}


def test_batched_equals_row_by_row(bnlearn):
    net, eng, _ = bnlearn("alarm")
    leaves = [v for v in net.dag.leaves() if v != "HISTORY"]
    codes = _rows(net, 40, leaves, seed=3)
    lab = leaves[0]  # given as labels with None for missing
    labels = net.variables[lab].states
    ev = {**codes, "HISTORY": 1}  # a fixed observation mixed with the batch
    ev[lab] = [None if c < 0 else labels[c] for c in codes[lab].tolist()]
    target, pair = "LVFAILURE", ["HYPOVOLEMIA", "LVFAILURE"]
    post = eng.query(target, ev)
    lz = eng.log_evidence(ev)
    marg = eng.marginals(ev)
    best = eng.mpe(ev)
    mapped = eng.map(pair, ev)
    assert post.probs.shape == (40, 2) and lz.shape == (40,)
    for r in range(40):
        e = {**_row(codes, r), "HISTORY": 1}
        torch.testing.assert_close(post.probs[r], eng.query(target, e).probs, atol=1e-9, rtol=0)
        assert float(lz[r]) == pytest.approx(float(eng.log_evidence(e)), abs=1e-9)
        for v, m in eng.marginals(e).items():
            torch.testing.assert_close(marg[v][r], m, atol=1e-9, rtol=0)
        one = eng.mpe(e)
        assert float(best.log_prob[r]) == pytest.approx(float(one.log_prob), abs=1e-9)
        assert {v: int(best[v][r]) for v in one} == dict(one)
        one_map = eng.map(pair, e)
        assert float(mapped.log_prob[r]) == pytest.approx(float(one_map.log_prob), abs=1e-9)
    # rows where a variable is observed come back as that state, with probability one
    seen = codes[lab] >= 0
    assert 0 < int(seen.sum()) < 40
    assert torch.equal(marg[lab][seen].argmax(-1), codes[lab][seen])
    torch.testing.assert_close(marg[lab][seen].sum(-1), marg[lab][seen].max(-1).values)
    assert torch.equal(best[lab][seen], codes[lab][seen])


def test_batched_all_observed_leaves_matches_pgmpy(bnlearn):
    """The gathered path (every row observes every leaf), against pgmpy row by row."""
    net, eng, ve = bnlearn("win95pts")
    leaves = list(net.dag.leaves())
    ev = _rows(net, 200, leaves, seed=5, p_missing=0.0)
    root = net.dag.roots()[0]
    post = eng.query(root, ev).probs
    states = net.variables[root].states
    for r in range(0, 200, 40):
        e = {v: net.variables[v].states[int(c[r])] for v, c in ev.items()}
        ref = ve.query([root], evidence=e, show_progress=False)
        expect = pgmpy_table(ref, [root], {root: states})
        np.testing.assert_allclose(post[r].numpy(), expect, atol=1e-9, rtol=0)


def test_small_network_marginals_from_the_joint_equal_the_contraction():
    """asia's joint has 256 entries: one evidence row is answered from it (marginals and MPE,
    kept while the tables are unchanged); a batch of one row takes the contraction path. Both,
    for every single observation, and again after a table changes in place."""
    net = read_bif(bnlearn_path("asia"))
    eng = ExactInference.from_network(net)
    for _ in range(2):
        for v in net.factors:
            for k in range(net.variables[v].card):
                joint = eng.marginals({v: k})
                batched = eng.marginals({v: torch.tensor([k])})
                assert set(joint) == set(batched) == set(net.factors) - {v}
                for n, m in joint.items():
                    torch.testing.assert_close(m, batched[n][0], rtol=0, atol=1e-14)
                best, best_batched = eng.mpe({v: k}), eng.mpe({v: torch.tensor([k])})
                assert float(best.log_prob) == pytest.approx(float(best_batched.log_prob[0]))
                assert dict(best) == {n: int(c[0]) for n, c in best_batched.items()}
        with torch.no_grad():  # a refit in place: the kept joint must not be reused
            net.factors["smoke"].probs.copy_(torch.tensor([0.9, 0.1], dtype=torch.float64))
    assert float(eng.marginals({})["smoke"][1]) == pytest.approx(0.1, abs=1e-12)
    for call in (eng.marginals, eng.mpe):
        with pytest.raises(ValueError, match="probability zero"):
            call({"either": "no", "tub": "yes"})


def test_marginals_equal_per_variable_queries(bnlearn):
    net, eng, _ = bnlearn("insurance")
    sample = net.sample(1, seed=11)
    ev = {v: int(sample[v][0]) for v in ("Accident", "MakeModel", "DrivQuality")}
    marg = eng.marginals(ev)
    assert set(marg) == set(net.factors) - set(ev)
    for v, m in marg.items():
        torch.testing.assert_close(m, eng.query(v, ev).probs, atol=1e-10, rtol=0)


def test_marginals_by_ancestral_sub_networks_match_pgmpy(bnlearn):
    """With three observed leaves, munin1's posteriors come from ancestral sub-networks An(v ∪ E)
    (its whole moral graph is far wider); they agree with pgmpy and with single queries."""
    net, eng, ve = bnlearn("munin1")
    sample = net.sample(1, seed=1)
    ev = {v: net.variables[v].states[int(sample[v][0])] for v in list(net.dag.leaves())[:3]}
    assert "sub-networks" in eng.estimate(None, ev, kind="marginals")["method"]
    marg = eng.marginals(ev)
    assert set(marg) == set(net.factors) - set(ev)
    rng = np.random.default_rng(0)
    names = sorted(marg)
    for v in rng.choice(names, size=8, replace=False):
        ref = ve.query([v], evidence=ev, show_progress=False)
        expect = pgmpy_table(ref, [v], {v: net.variables[v].states})
        np.testing.assert_allclose(marg[v].numpy(), expect, atol=1e-9, rtol=0)
        torch.testing.assert_close(marg[v], eng.query(v, ev).probs, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------- gradients
def test_gradcheck_log_evidence_and_query(student):
    table = student_tables()[3][2].clone().requires_grad_()
    ev = {"x1": torch.tensor([1, -1, 0]), "x4": torch.tensor([1, 1, -1])}

    def log_z(t):
        return student.log_evidence(ev, tables={"x4": t})

    def post(t):
        return student.query("x2", {"x4": 0}, tables={"x4": t}).probs

    def marg(t):
        return student.marginals(ev, tables={"x4": t})["x3"]

    for f in (log_z, post, marg):
        assert torch.autograd.gradcheck(f, (table,), eps=1e-6, atol=1e-7)


def test_expected_counts_from_the_gradient(bnlearn):
    """θ ⊙ ∂/∂θ Σ_r log P(e_r) = Σ_r P(child, parents | e_r): the E-step of EM."""
    net, eng, _ = bnlearn("asia")
    ev = _rows(net, 30, ["xray", "dysp", "smoke"], seed=2)
    tables = {n: f.probs.clone().requires_grad_() for n, f in net.factors.items()}
    total = eng.log_evidence(ev, tables=tables).sum()
    (grad,) = torch.autograd.grad(total, [tables["either"]])
    counts = tables["either"].detach() * grad  # (lung, tub, either)
    expect = torch.zeros_like(counts)
    for r in range(30):
        expect += eng.query(["lung", "tub", "either"], _row(ev, r)).probs
    torch.testing.assert_close(counts, expect, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------- MPE on bnlearn
def to_pyagrum(net):
    """The same tables as a pyAgrum network (a pyAgrum table's axes are its names reversed)."""
    import pyagrum as gum

    bn = gum.BayesNet("net")
    for name, var in net.variables.items():
        bn.add(gum.LabelizedVariable(name, name, list(var.states)))
    for name, f in net.factors.items():
        for p in f.parents:
            bn.addArc(p.name, name)
    for name, f in net.factors.items():
        cpt = bn.cpt(name)
        order = [p.name for p in f.parents] + [name]
        cpt.fillWith(
            f.probs.numpy()
            .transpose([order.index(v) for v in reversed(cpt.names)])
            .reshape(-1)
            .tolist()
        )
    return bn


def _log_prob(net, assignment) -> float:
    codes = {
        v: torch.tensor([s if isinstance(s, int) else net.variables[v].states.index(s)])
        for v, s in assignment.items()
    }
    return float(net.log_prob(codes))


# pyAgrum 3.3.1's mpe() fails ("Empty tensor") on alarm, child, insurance and larger; pgmpy's
# map_query builds the joint of its variables; the random networks above cover the rest
@pytest.mark.parametrize("name", ["asia", "cancer", "earthquake", "sachs", "survey"])
def test_mpe_matches_pyagrum_and_pgmpy(name, bnlearn):
    import pyagrum as gum

    net, eng, ve = bnlearn(name)
    leaves = list(net.dag.leaves())
    sample = net.sample(1, seed=7)
    ev = {v: net.variables[v].states[int(sample[v][0])] for v in leaves[:3]}
    ours = eng.mpe(ev)
    assert isinstance(ours, Explanation)
    assert float(ours.log_prob) == pytest.approx(_log_prob(net, dict(ours)), abs=1e-9)
    lazy = gum.LazyPropagation(to_pyagrum(net))
    lazy.setEvidence(ev)
    inst = lazy.mpe()
    ref = {
        v: inst.variable(k).label(inst.val(k))
        for k in range(inst.nbrDim())
        for v in [inst.variable(k).name()]
    }
    # the same explanation, or one of equal probability (ties)
    assert ours.labels == ref or float(ours.log_prob) == pytest.approx(
        _log_prob(net, ref), abs=1e-12
    )
    free = [v for v in net.factors if v not in ev]
    ref = {**ve.map_query(free, evidence=ev, show_progress=False), **ev}
    assert ours.labels == ref or float(ours.log_prob) == pytest.approx(
        _log_prob(net, ref), abs=1e-12
    )


# ---------------------------------------------------------------------------- underflow
def _chain(T: int, seed: int = 0):
    """A hidden Markov chain z1 -> ... -> zT with emissions z_t -> x_t (3 and 4 states)."""
    gen = torch.Generator().manual_seed(seed)
    init = torch.rand(3, generator=gen, dtype=torch.float64) + 0.1
    trans = torch.rand(3, 3, generator=gen, dtype=torch.float64) + 0.1
    emit = torch.rand(3, 4, generator=gen, dtype=torch.float64) + 0.1
    init, trans, emit = (t / t.sum(-1, keepdim=True) for t in (init, trans, emit))
    tables = [("z1", (), init), ("x1", ("z1",), emit)]
    for t in range(2, T + 1):
        tables += [(f"z{t}", (f"z{t - 1}",), trans), (f"x{t}", (f"z{t}",), emit)]
    states = {n: ("a", "b", "c") if n[0] == "z" else ("0", "1", "2", "3") for n, _, _ in tables}
    return tables, states, (init, trans, emit)


def test_long_chain_does_not_underflow():
    T = 900
    tables, states, (init, trans, emit) = _chain(T)
    gen = torch.Generator().manual_seed(1)
    obs = torch.randint(0, 4, (T,), generator=gen)
    ev = {f"x{t + 1}": int(obs[t]) for t in range(T)}
    # the forward-backward algorithm in log space, as the reference
    log_a, log_b = trans.log(), emit.log()
    alpha = [init.log() + log_b[:, obs[0]]]
    for t in range(1, T):
        alpha.append(torch.logsumexp(alpha[-1][:, None] + log_a, 0) + log_b[:, obs[t]])
    beta = [torch.zeros(3, dtype=torch.float64)]
    for t in range(T - 1, 0, -1):
        beta.insert(0, torch.logsumexp(log_a + log_b[:, obs[t]] + beta[0], 1))
    log_px = torch.logsumexp(alpha[-1], 0)
    assert float(log_px) < -750  # P(x) itself underflows float64
    eng = ExactInference(tables, states)
    assert float(eng.log_evidence(ev)) == pytest.approx(float(log_px), abs=1e-8)
    never = ExactInference(tables, states, rescale=False)
    assert float(never.log_evidence(ev)) == -math.inf  # without rescaling it would be lost
    marg = eng.marginals(ev)
    for t in (0, 450, T - 1):
        ref = (alpha[t] + beta[t] - log_px).exp()
        torch.testing.assert_close(marg[f"z{t + 1}"], ref, atol=1e-9, rtol=0)
    torch.testing.assert_close(
        eng.query("z300", ev).probs, (alpha[299] + beta[299] - log_px).exp(), atol=1e-9, rtol=0
    )
    # Viterbi in log space against the MPE
    delta = init.log() + log_b[:, obs[0]]
    for t in range(1, T):
        delta = (delta[:, None] + log_a).max(0).values + log_b[:, obs[t]]
    assert float(eng.mpe(ev).log_prob) == pytest.approx(float(delta.max()), abs=1e-8)


# ---------------------------------------------------------------------------- memory budget
def test_memory_budget_error_and_row_chunks(bnlearn):
    net, eng, _ = bnlearn("pathfinder")
    small = ExactInference.from_network(net, memory_budget=2**20)
    big = ["Fault", "F42", "F71", "F101", "F40"]  # 63·9·8·8·8 states
    with pytest.raises(MemoryBudgetError, match=r"estimated .* bytes.*approximate inference"):
        small.query(big)
    need = eng.estimate(big, kind="query")["bytes"]
    assert need > 2**20
    # batched evidence that does not fit at once is split into row chunks
    ev = _rows(net, 300, list(net.dag.leaves())[:8], seed=4)
    target = "Fault"
    tiny = ExactInference.from_network(net, memory_budget=eng.estimate(target, ev)["bytes"] // 5)
    torch.testing.assert_close(tiny.query(target, ev).probs, eng.query(target, ev).probs)
    torch.testing.assert_close(tiny.log_evidence(ev), eng.log_evidence(ev))


# ---------------------------------------------------------------------------- errors
def test_errors(student):
    with pytest.raises(ValueError, match=r"unknown target 'x9'; the network's variables are 'x1'"):
        student.query("x9")
    with pytest.raises(ValueError, match="unknown evidence variable 'y'"):
        student.query("x1", {"y": 0})
    with pytest.raises(
        ValueError, match=r"unknown state 'maybe' of 'x2'; valid states are \['0', '1'\]"
    ):
        student.query("x1", {"x2": "maybe"})
    with pytest.raises(ValueError, match="unknown state 'maybe' of 'x2'"):
        student.query("x1", {"x2": ["0", "maybe"]})
    with pytest.raises(ValueError, match=r"\['x1'\] are both query targets and observed"):
        student.query(["x1", "x2"], {"x1": 1})
    with pytest.raises(ValueError, match="state code 2 of 'x2' is out of range 0..1"):
        student.query("x1", {"x2": 2})
    with pytest.raises(ValueError, match="batched evidence must have one length R"):
        student.query("x1", {"x2": [0, 1], "x3": [0, 1, 1]})
    with pytest.raises(ValueError, match=r"must be 1-D \(R,\)"):
        student.query("x1", {"x2": torch.zeros(2, 2, dtype=torch.long)})
    with pytest.raises(ValueError, match="targets .* repeated"):
        student.query(["x1", "x1"])
    with pytest.raises(TypeError, match="must be a state label or an integer code, got 1.5"):
        student.query("x1", {"x2": 1.5})
    # NaN means unobserved; -1 does only in batched evidence (a single -1 is out of range);
    # 1.0 is the code 1
    torch.testing.assert_close(
        student.query("x1", {"x2": math.nan}).probs, student.query("x1").probs
    )
    with pytest.raises(ValueError, match=r"state code -1 of 'x2' is out of range 0\.\.1"):
        student.query("x1", {"x2": -1})
    torch.testing.assert_close(
        student.query("x1", {"x2": 1.0}).probs, student.query("x1", {"x2": "1"}).probs
    )


def test_zero_probability_evidence():
    T = torch.tensor
    tables = [("a", (), T([1.0, 0.0])), ("b", ("a",), T([[1.0, 0.0], [0.5, 0.5]]))]
    eng = ExactInference(tables, {"a": ("off", "on"), "b": ("no", "yes")})
    with pytest.raises(ValueError, match=r"evidence \{'b': 'yes'\} has probability zero"):
        eng.query("a", {"b": "yes"})
    with pytest.raises(ValueError, match=r"evidence \{'b': 'yes'\} \(row 1\) has probability zero"):
        eng.marginals({"b": T([0, 1])})
    with pytest.raises(ValueError, match="has probability zero"):
        eng.mpe({"b": 1})
    assert float(eng.log_evidence({"b": "yes"})) == -math.inf


def test_bad_tables():
    T = torch.tensor
    with pytest.raises(ValueError, match=r"table of 'b' has shape \(2,\), expected \(2, 2\)"):
        ExactInference(
            [("a", (), T([0.5, 0.5])), ("b", ("a",), T([0.5, 0.5]))], {"a": "01", "b": "01"}
        )
    with pytest.raises(
        ValueError, match=r"table of 'b': the row for parents \{'a': '1'\} sums to 0.9"
    ):
        ExactInference(
            [("a", (), T([0.5, 0.5])), ("b", ("a",), T([[0.5, 0.5], [0.5, 0.4]]))],
            {"a": "01", "b": "01"},
        )
    with pytest.raises(ValueError, match="cycle"):
        ExactInference(
            [("a", ("b",), T([[0.5, 0.5]] * 2)), ("b", ("a",), T([[0.5, 0.5]] * 2))],
            {"a": "01", "b": "01"},
        )
    with pytest.raises(ValueError, match="optimize must be one of"):
        ExactInference([("a", (), T([0.5, 0.5]))], {"a": "01"}, optimize="best")


def test_plans_are_cached(bnlearn):
    net, _, _ = bnlearn("alarm")
    eng = ExactInference.from_network(net)
    eng.query("LVFAILURE", {"HR": 0})
    before = len(eng._cache)
    eng.query("LVFAILURE", {"HR": 1})  # same pattern, other value: no new plan
    assert len(eng._cache) == before
    eng.query("LVFAILURE", {"HR": 1, "BP": 0})
    assert len(eng._cache) == before + 1
    est = eng.estimate("LVFAILURE", {"HR": 1, "BP": 0})
    assert est["flops"] > 0 and est["bytes"] > 0 and len(eng._cache) == before + 1
