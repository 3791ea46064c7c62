"""Structure scores against their definitions (computed here by brute force over the rows
with scipy's log-gamma) and against R bnlearn's values as pgmpy's tests quote them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln

from bayesgen import BayesNet, Discrete, Table
from bayesgen.examples import student
from bayesgen.learning.scores import (
    AIC,
    BIC,
    BDeuScore,
    BDsScore,
    K2Score,
    local_scores,
    structure_score,
)


def network(frame: pd.DataFrame, edges: list[tuple[str, str]]) -> BayesNet:
    """A table network over the frame's columns (states as they appear, sorted) and edges."""
    variables = {c: Discrete(c, sorted(map(str, frame[c].unique()))) for c in frame}
    parents = {c: [variables[a] for a, b in edges if b == c] for c in frame}
    factors = []
    for c, v in variables.items():
        shape = [p.card for p in parents[c]] + [v.card]
        factors.append(Table(v, parents[c], probs=np.full(shape, 1.0 / v.card)))
    return BayesNet(factors)


def brute_force(frame, edges, kind: str, ess: float = 1.0) -> float:
    """The score from its definition: counts by pandas, one parent configuration at a time."""
    frame = frame.astype(str)
    n = len(frame)
    total = 0.0
    for child in frame:
        pa = [a for a, b in edges if b == child]
        r = frame[child].nunique()
        q = math.prod(frame[p].nunique() for p in pa)
        groups = [frame] if not pa else [g for _, g in frame.groupby(pa)]
        q_seen = len(groups)
        loglik, bd = 0.0, 0.0
        for g in groups:
            nk = g[child].value_counts().reindex(sorted(frame[child].unique()), fill_value=0)
            nk = nk.to_numpy(float)
            loglik += sum(c * math.log(c / nk.sum()) for c in nk if c > 0)
            a = {"k2": 1.0, "bdeu": ess / (q * r), "bds": ess / (q_seen * r)}.get(kind, 1.0)
            bd += gammaln(a * r) - gammaln(a * r + nk.sum())
            bd += sum(gammaln(a + c) - gammaln(a) for c in nk)
        d = (r - 1) * q
        total += {"bic": loglik - 0.5 * math.log(n) * d, "aic": loglik - d}.get(kind, bd)
    return total


D1 = pd.DataFrame({"A": [0, 0, 1], "B": [0, 1, 0], "C": [1, 1, 0], "D": ["X", "Y", "Z"]})
M1 = [("A", "C"), ("B", "C"), ("D", "B")]
M2 = [("C", "A"), ("C", "B"), ("A", "D")]
BDS_DATA = pd.DataFrame(
    {
        "X": [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        "Y": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        "Z": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
        "W": [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1],
    }
)


@pytest.mark.parametrize(
    ("score", "kind", "ess"),
    [
        (K2Score(), "k2", 1.0),
        (BDeuScore(10), "bdeu", 10.0),
        (BDeuScore(1), "bdeu", 1.0),
        (BDsScore(1), "bds", 1.0),
        (BIC(), "bic", 1.0),
        (AIC(), "aic", 1.0),
    ],
)
@pytest.mark.parametrize("edges", [M1, M2, []])
def test_scores_equal_their_definitions(score, kind, ess, edges):
    net = network(D1, edges)
    assert structure_score(net, D1.astype(str), score) == pytest.approx(
        brute_force(D1, edges, kind, ess), abs=1e-10
    )


@pytest.mark.parametrize(
    ("score", "edges", "bnlearn"),
    [
        (BDeuScore(10), M1, -9.907103407446435),
        (BDeuScore(10), M2, -9.839964104608821),
        (K2Score(), M1, -10.73813429536977),
        (K2Score(), M2, -10.345091707260167),
        (BIC(), M1, -10.698440814229318),
        (BIC(), M2, -9.625886526130714),
        (AIC(), M1, -15.205379370888767),
        (AIC(), M2, -13.68213122712422),
    ],
)
def test_scores_equal_bnlearn(score, edges, bnlearn):
    assert structure_score(network(D1, edges), D1.astype(str), score) == pytest.approx(
        bnlearn, abs=1e-9
    )


def test_bds_on_scutari_example():
    """Scutari (2016)'s example, where BDs and BDeu differ: half the parent configurations of X
    are never observed when Y joins its parents.

    The value pgmpy's tests quote for the graph with W → X ← Z (−36.823) is not log p(D | G):
    it adds pgmpy's "marginal uniform" graph prior, −(arcs + n(n−1)/2) log 2 = −8 log 2 here.
    Without it, it equals our score. For the graph with Y → X too, pgmpy's quoted −45.789 is
    not BDs by its definition: pgmpy gives the seen rows the total α/q̃ but each cell α/(q r),
    so a row's pseudo-counts do not sum to its total. Ours follows the definition,
    α_ijk = α/(q̃ r) on the seen rows, checked by brute force."""
    data = BDS_DATA.astype(str)
    m1 = network(data, [("W", "X"), ("Z", "X")])
    graph_prior = -(2 + 6) * math.log(2.0)
    assert structure_score(m1, data, BDsScore(1)) + graph_prior == pytest.approx(
        -36.82311976667139, abs=1e-9
    )
    edges = [("W", "X"), ("Z", "X"), ("Y", "X")]
    m2 = network(data, edges)
    assert structure_score(m2, data, "bds") == pytest.approx(brute_force(data, edges, "bds"))
    # each seen row holds 3 rows of one state: α_j = 1/4, α_jk = 1/8 on the 4 seen rows
    x_term = 4 * (gammaln(1 / 4) - gammaln(3 + 1 / 4) + gammaln(3 + 1 / 8) - gammaln(1 / 8))
    assert local_scores(m2, data, "bds")["X"] == pytest.approx(x_term, abs=1e-12)
    assert structure_score(m2, data, "bdeu") != pytest.approx(structure_score(m2, data, "bds"))


def test_all_scores_in_one_call_and_local_terms_add_up():
    net = student()
    frame = net.sample(500, seed=0, as_frame=True)
    scores = net.structure_score(frame)
    assert set(scores) == {"bdeu", "k2", "bds", "bic", "aic"}
    assert sum(local_scores(net, frame, "k2").values()) == pytest.approx(scores["k2"])
    # the true structure beats the empty one on its own data
    empty = network(frame, [])
    assert scores["bic"] > structure_score(empty, frame.astype(str), "bic")


def test_bad_input():
    net = student()
    frame = net.sample(50, seed=0, as_frame=True)
    with pytest.raises(ValueError, match="score must be one of"):
        structure_score(net, frame, "mdl")
    with pytest.raises(ValueError, match="ess must be a number > 0, got 0"):
        BDeuScore(0)
    holes = frame.astype(object)
    holes.iloc[3, 1] = None
    with pytest.raises(ValueError, match="fully observed data"):
        structure_score(net, holes, "bic")
    with pytest.raises(ValueError, match=r"data lacks the column\(s\) \['x4'\]"):
        structure_score(net, frame.drop(columns="x4"), "bic")
