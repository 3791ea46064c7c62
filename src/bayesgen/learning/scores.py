"""Structure scores of a discrete network on fully observed data: how well a DAG explains D.

With N_ijk the count of child state k under parent configuration j of node i, N_ij = Σ_k N_ijk,
r_i states and q_i parent configurations:

- Bayesian Dirichlet (BD), the log marginal likelihood log p(D | G) under Dirichlet(α_ijk) rows,

      Σ_i Σ_j [ log Γ(α_ij) − log Γ(α_ij + N_ij) + Σ_k (log Γ(α_ijk + N_ijk) − log Γ(α_ijk)) ],

  with α_ijk = 1 (K2, Cooper & Herskovits 1992), α_ijk = ess / (q_i r_i) (BDeu, Heckerman et
  al. 1995) or α_ijk = ess / (q̃_i r_i) on the q̃_i configurations seen in D and 0 on the others
  (BDs, Scutari 2016);
- BIC = log L(θ̂) − (log N / 2) · d and AIC = log L(θ̂) − d, with θ̂ the MLE and
  d = Σ_i (r_i − 1) q_i free parameters (bnlearn's and pgmpy's conventions).

Every score is a sum of local terms, one per node; ``local_scores`` returns them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..factors.table import Table
from .encoding import encode_data
from .statistics import table_counts

__all__ = ["K2Score", "BDeuScore", "BDsScore", "BIC", "AIC", "local_scores", "structure_score"]


@dataclass(frozen=True)
class K2Score:
    """BD with every α_ijk = 1."""

    def local(self, counts: Tensor) -> Tensor:
        return _bd(counts, torch.ones_like(counts))


@dataclass(frozen=True)
class BDeuScore:
    """BD with α_ijk = ess / (q_i r_i): likelihood-equivalent, uniform."""

    ess: float = 1.0

    def __post_init__(self):
        _check_ess(self.ess)

    def local(self, counts: Tensor) -> Tensor:
        return _bd(counts, torch.full_like(counts, self.ess / counts.numel()))


@dataclass(frozen=True)
class BDsScore:
    """BD with α_ijk = ess / (q̃_i r_i) on the q̃_i parent configurations seen in the data (0
    elsewhere): BDeu without the prior mass of configurations the data never visit."""

    ess: float = 1.0

    def __post_init__(self):
        _check_ess(self.ess)

    def local(self, counts: Tensor) -> Tensor:
        seen = counts.sum(-1, keepdim=True) > 0  # (*parent_cards, 1)
        q_seen = int(seen.sum())
        alpha = seen.to(counts.dtype) * (self.ess / (q_seen * counts.shape[-1]))
        return _bd(counts, alpha.expand_as(counts))


@dataclass(frozen=True)
class BIC:
    """log L(θ̂) − (log N / 2) · d."""

    def local(self, counts: Tensor) -> Tensor:
        n = counts.sum()
        return _log_likelihood(counts) - 0.5 * math.log(float(n)) * _free(counts)


@dataclass(frozen=True)
class AIC:
    """log L(θ̂) − d."""

    def local(self, counts: Tensor) -> Tensor:
        return _log_likelihood(counts) - _free(counts)


SCORES = {"k2": K2Score, "bdeu": BDeuScore, "bds": BDsScore, "bic": BIC, "aic": AIC}


def _check_ess(ess: float) -> None:
    if isinstance(ess, bool) or not isinstance(ess, (int, float)) or not ess > 0:
        raise ValueError(f"ess must be a number > 0, got {ess!r}")
    if not math.isfinite(ess):
        raise ValueError(f"ess must be a finite number > 0, got {ess!r}")


def _bd(counts: Tensor, alpha: Tensor) -> Tensor:
    """Σ_j [lgamma(α_j) − lgamma(α_j + N_j) + Σ_k (lgamma(α_jk + N_jk) − lgamma(α_jk))] over
    the rows with α_j > 0 (a row without pseudo-counts and without data contributes 0)."""
    a_j, n_j = alpha.sum(-1), counts.sum(-1)
    cells = torch.where(alpha > 0, torch.lgamma(alpha + counts) - torch.lgamma(alpha), 0.0)
    rows = torch.where(a_j > 0, torch.lgamma(a_j) - torch.lgamma(a_j + n_j), 0.0)
    return rows.sum() + cells.sum()


def _log_likelihood(counts: Tensor) -> Tensor:
    """Σ_jk N_jk log(N_jk / N_j), the maximized log-likelihood of one family."""
    n_j = counts.sum(-1, keepdim=True)
    return torch.xlogy(counts, counts / n_j.clamp_min(1)).sum()


def _free(counts: Tensor) -> float:
    return counts.numel() // counts.shape[-1] * (counts.shape[-1] - 1)


def _as_score(score):
    if isinstance(score, str):
        if score.lower() not in SCORES:
            raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
        return SCORES[score.lower()]()
    if not hasattr(score, "local"):
        raise TypeError(f"score must be a name or a score object, got {score!r}")
    return score


def local_scores(net, data, score="bic") -> dict[str, float]:
    """The local term of ``score`` for every node of ``net`` on fully observed ``data``."""
    score = _as_score(score)
    not_tables = [n for n, f in net.factors.items() if not isinstance(f, Table)]
    if not_tables:
        raise ValueError(f"structure scores need table factors; {not_tables} are not")
    values = encode_data(net, data, allow_missing=True)
    absent = [n for n in net.order if n not in values]
    if absent:
        raise ValueError(f"data lacks the column(s) {absent}")
    holes = [n for n, v in values.items() if bool((v < 0).any())]
    if holes:
        raise ValueError(f"structure scores need fully observed data; {holes} have missing cells")
    counts = table_counts(net, values, list(net.order))
    return {n: float(score.local(counts[n].double())) for n in net.order}


def structure_score(net, data, score="bic") -> float | dict[str, float]:
    """The score of ``net``'s DAG on ``data``: a name ('bdeu', 'k2', 'bds', 'bic', 'aic'), a
    score object (e.g. ``BDeuScore(ess=10)``), or ``"all"`` for a dict of the five (BDeu and
    BDs with ess = 1, bnlearn's default)."""
    if isinstance(score, str) and score == "all":
        return {name: structure_score(net, data, name) for name in SCORES}
    return sum(local_scores(net, data, score).values())
