"""Soft (virtual) evidence: a likelihood λ_v(x_v) over the states of a variable instead of one
observed state (Pearl's virtual evidence; pgmpy's ``virtual_evidence``).

    P(q | e, λ) ∝ Σ_{x \\ q} Π_n p(x_n | Pa(x_n)) · 1[x_e = e] · Π_v λ_v(x_v)

It is exactly hard evidence on a virtual binary child V_v of v with p(V_v = 1 | x_v) =
λ_v(x_v) / max λ_v, observed as 1: the network is extended by one table per softly observed
variable, and the engine prunes, plans and contracts it as any other network. Only ratios of λ
matter for posteriors; ``log_evidence`` and an explanation's ``log_prob`` are returned on the
scale of λ as given, log Σ_x P(x, e) Π_v λ_v(x_v).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from ..factors.table import Table
from ..variables import Discrete

__all__ = ["parse_soft_evidence", "SoftEvidenceNetwork"]


def parse_soft_evidence(net, soft: Mapping[str, object]) -> dict[str, Tensor]:
    """name -> λ (card,) float64: a sequence of non-negative weights in state order, or a
    mapping state label -> weight (missing states get 0). At least one weight must be > 0."""
    if not isinstance(soft, Mapping):
        raise TypeError(f"soft_evidence must be a mapping name -> likelihoods, got {soft!r}")
    out: dict[str, Tensor] = {}
    for name, value in soft.items():
        if name not in net.factors:
            raise ValueError(f"unknown soft-evidence variable {name!r}; variables are {list(net)}")
        var = net.variables[name]
        if not isinstance(var, Discrete):
            raise ValueError(f"soft evidence needs a discrete variable; {name!r} is not")
        if isinstance(value, Mapping):
            lam = torch.zeros(var.card, dtype=torch.float64)
            for state, w in value.items():
                lam[var.index(state)] = float(w)
        else:
            lam = torch.as_tensor(np.asarray(value, dtype=float), dtype=torch.float64)
        if lam.shape != (var.card,):
            raise ValueError(
                f"soft evidence on {name!r} must have one likelihood per state ({var.card}), "
                f"got shape {tuple(lam.shape)}"
            )
        if not torch.isfinite(lam).all() or (lam < 0).any() or not (lam > 0).any():
            raise ValueError(
                f"soft evidence on {name!r} must be finite, non-negative and not all zero, "
                f"got {lam.tolist()}"
            )
        out[name] = lam
    return out


class SoftEvidenceNetwork:
    """``net`` extended by a virtual child per softly observed variable (cached per set of
    variables; the virtual tables are refilled at every call)."""

    def __init__(self, net, names: tuple[str, ...]):
        from ..network import BayesNet

        taken = set(net.factors)
        self.virtual: dict[str, str] = {}
        factors = list(net.factors.values())
        for name in names:
            v = f"λ({name})"
            while v in taken:
                v += "'"
            self.virtual[name] = v
            parent = net.variables[name]
            probs = torch.full((parent.card, 2), 0.5, dtype=torch.float64)
            factors.append(Table(Discrete(v, ["0", "1"]), [parent], probs=probs))
        self.network = BayesNet(factors, name=net.name)

    def prepare(self, lams: Mapping[str, Tensor]) -> tuple[dict[str, int], float]:
        """Fill the virtual tables; the hard evidence they add and log Π_v max λ_v."""
        shift = 0.0
        for name, lam in lams.items():
            top = float(lam.max())
            p1 = lam / top  # (card,) in [0, 1]
            table = self.network.factors[self.virtual[name]]
            with torch.no_grad():
                table.probs.copy_(torch.stack([1 - p1, p1], -1).to(table.probs))
            shift += math.log(top)
        return {self.virtual[n]: 1 for n in lams}, shift
