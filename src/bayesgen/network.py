"""BayesNet: a set of factors p(x_n | Pa(x_n)) and the DAG they imply.

    p(x_1, ..., x_N | y) = Π_n p(x_n | Pa(x_n), y)        (eq. 8, and eq. 19 with a context y)

Every algorithm is a method over this object: ``log_prob`` sums the factors' log-densities,
``sample`` draws ancestrally in topological order, ``query``/``marginals``/``mpe`` run exact
inference on discrete networks, ``fit`` learns the factors from data.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from math import prod
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from ._budget import check_memory
from ._checks import check_int
from .factors.base import Factor
from .factors.table import Table
from .graph import DAG
from .variables import Continuous, Discrete, Variable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BayesNet"]

Data = "Mapping[str, object] | pd.DataFrame"

_SEED_RANGE = "an int in [-2**63, 2**64 - 1] or None"
#: the full joint table is for small networks only (2^24 float64 entries at most)
_FULL_JOINT_BYTES = 8 * 2**24


def _pandas():
    import pandas  # imported when first needed: the command line starts faster

    return pandas


def _is_frame(data: object) -> bool:
    """Whether ``data`` is a DataFrame (never one while pandas is not even imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


def _listed(names: Iterable[str], limit: int = 30) -> str:
    """Names for an error message: all of them, or the first ``limit`` and how many more."""
    names = list(names)
    if len(names) <= limit:
        return str(names)
    return f"{names[:limit]} ... and {len(names) - limit} more"


class BayesNet(nn.Module):
    """A Bayesian network built from factors; hybrid (tables, Gaussians, neural) and conditional.

    >>> from bayesgen.examples import student
    >>> net = student()
    >>> float(net.query("x2").probs[1])
    0.695
    """

    def __init__(
        self,
        factors: Iterable[Factor],
        name: str | None = None,
        *,
        layout: Mapping[str, tuple[float, float]] | None = None,
    ):
        super().__init__()
        factors = list(factors)
        by_name: dict[str, Factor] = {}
        for f in factors:
            if not isinstance(f, Factor):
                raise TypeError(f"a BayesNet is built from Factors, got {type(f).__name__}")
            if f.name in by_name:
                raise ValueError(f"two factors for variable {f.name!r}")
            by_name[f.name] = f
        for f in factors:
            for p in f.parents:
                if p.name not in by_name:
                    raise ValueError(
                        f"parent {p.name!r} of {f.name!r} has no factor; add p({p.name} | ...)"
                    )
                if by_name[p.name].variable != p:
                    raise ValueError(
                        f"parent {p.name!r} of {f.name!r} is {p!r}, but its own factor declares "
                        f"{by_name[p.name].variable!r}"
                    )
        self.dag = DAG(
            nodes=by_name,
            edges=[(p, f.name) for f in factors for p in f.parent_names],
            layout=layout,
        )
        self.name = name
        self.factors = nn.ModuleDict({v: by_name[v] for v in self.dag.order})
        # built once: structure queries inside loops over the variables stay linear in N
        self._variables = {v: by_name[v].variable for v in self.dag.order}

    # ------------------------------------------------------------------ structure
    @property
    def variables(self) -> Mapping[str, Variable]:
        """Name -> variable in topological order (built once: read it, do not modify it)."""
        return self._variables

    @property
    def order(self) -> tuple[str, ...]:
        return self.dag.order

    @property
    def is_discrete(self) -> bool:
        return all(isinstance(f, Table) for f in self.factors.values())

    def __getitem__(self, name: str) -> Factor:
        return self.factors[self._check(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.factors)

    def __contains__(self, name: object) -> bool:
        return name in self.factors

    def _check(self, name: str) -> str:
        if name not in self.factors:
            raise KeyError(f"unknown variable {name!r}; variables are {_listed(self.factors)}")
        return name

    def parents(self, name: str) -> tuple[str, ...]:
        return self.dag.parents(self._check(name))

    def children(self, name: str) -> tuple[str, ...]:
        return self.dag.children(self._check(name))

    def markov_blanket(self, name: str) -> set[str]:
        return self.dag.markov_blanket(self._check(name))

    def d_separated(self, xs, ys, given=()) -> bool:
        return self.dag.d_separated(xs, ys, given)

    def draw(self, path=None, **kwargs):
        """Draw the DAG (see :meth:`bayesgen.graph.DAG.draw`)."""
        return self.dag.draw(path, **kwargs)

    def num_parameters(self) -> int:
        """Free parameters of the factorized model, Σ_n of each factor's count."""
        return sum(f.num_parameters() for f in self.factors.values())

    def full_joint_parameters(self) -> int:
        """Free parameters of an unrestricted joint table over the same discrete variables."""
        cards = {}
        for v in self.variables.values():
            if not isinstance(v, Discrete):
                raise ValueError(
                    f"the full joint table needs discrete variables; {v.name!r} is not"
                )
            cards[v.name] = v.card
        return self.dag.full_joint_parameter_count(cards)

    def __repr__(self) -> str:
        kinds = {type(f).__name__ for f in self.factors.values()}
        label = f" {self.name!r}" if self.name else ""
        return (
            f"BayesNet{label}({len(self)} variables, {len(self.dag.edges)} edges, "
            f"factors: {', '.join(sorted(kinds))})"
        )

    # ------------------------------------------------------------------ data in and out
    def encode(self, data: Data, *, allow_missing: bool = False) -> dict[str, Tensor]:
        """Convert a DataFrame (state labels) or a mapping of arrays into tensors by variable:
        discrete values become long codes (−1 = missing), continuous ones float tensors (B, *shape).
        """
        if _is_frame(data):
            columns = list(data.columns)
            get = data.__getitem__
        elif isinstance(data, Mapping):
            columns = list(data)
            get = data.__getitem__
        else:
            raise TypeError(
                f"data must be a mapping or a pandas DataFrame, got {type(data).__name__}"
            )
        vector_cols = {c.split("[")[0] for c in map(str, columns) if c.endswith("]") and "[" in c}
        unknown = [
            c for c in columns if c not in self.factors and str(c).split("[")[0] not in self.factors
        ]
        if unknown:
            raise ValueError(
                f"data has unknown column(s) {unknown}; variables are {_listed(self.factors)}"
            )
        out: dict[str, Tensor] = {}
        size = None
        for name, var in self.variables.items():
            if name in columns:
                raw = get(name)
            elif name in vector_cols and isinstance(var, Continuous):
                raw = np.stack([np.asarray(get(f"{name}[{i}]"), float) for i in range(var.size)], 1)
            else:
                continue
            if isinstance(var, Discrete):
                value = var.encode(raw if isinstance(raw, Tensor) else np.asarray(raw))
                if not allow_missing and (value < 0).any():
                    row = int((value < 0).nonzero()[0])
                    raise ValueError(f"column {name!r} has a missing value in row {row}")
            else:
                value = raw if isinstance(raw, Tensor) else torch.tensor(np.asarray(raw))
                value = value.to(
                    torch.get_default_dtype() if not value.is_floating_point() else value.dtype
                )
                value = value.reshape(value.shape[0], *var.shape)
                if not allow_missing and torch.isnan(value).any():
                    row = int(torch.isnan(value.reshape(value.shape[0], -1)).any(1).nonzero()[0])
                    raise ValueError(f"column {name!r} has NaN in row {row}")
            if size is not None and value.shape[0] != size:
                raise ValueError(f"column {name!r} has {value.shape[0]} rows, others have {size}")
            size = value.shape[0]
            out[name] = value
        return out

    def decode(self, values: Mapping[str, Tensor]) -> pd.DataFrame:
        """A DataFrame with state labels for discrete variables (codes −1 become missing)."""
        pd = _pandas()
        columns = {}
        dtypes: dict[tuple[str, ...], object] = {}  # one dtype per set of states
        for name, value in values.items():
            var = self.variables[self._check(name)]
            v = value.detach().cpu()
            if isinstance(var, Discrete):
                dtype = dtypes.get(var.states)
                if dtype is None:
                    dtype = dtypes[var.states] = pd.CategoricalDtype(list(var.states))
                # codes as they are (−1: missing), no labels matched back to codes
                columns[name] = pd.Categorical.from_codes(v.numpy(), dtype=dtype)
            elif var.shape == ():
                columns[name] = v.numpy()
            else:
                flat = v.reshape(v.shape[0], -1).numpy()
                columns.update({f"{name}[{i}]": flat[:, i] for i in range(flat.shape[1])})
        return pd.DataFrame(columns)

    # ------------------------------------------------------------------ density and sampling
    def log_prob(self, data: Data, context: Tensor | None = None) -> Tensor:
        """log p(x | y) = Σ_n log p(x_n | Pa(x_n), y) per row, shape (B,), for fully observed rows.

        Rows with missing values have no closed form here; use :meth:`log_evidence` (discrete).
        """
        values = self.encode(data)
        missing = [n for n in self.factors if n not in values]
        if missing:
            raise ValueError(
                f"log_prob needs every variable; data lacks {missing} (use log_evidence to "
                "marginalize unobserved discrete variables)"
            )
        total = None
        for name, factor in self.factors.items():
            lp = factor(values, context).log_prob(values[name])  # (B,)
            total = lp if total is None else total + lp
        return total

    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        context: Tensor | None = None,
        as_frame: bool = False,
    ) -> dict[str, Tensor] | pd.DataFrame:
        """Ancestral sampling (§2.1.2.1): each variable from p(x_n | Pa(x_n), y) in topological
        order, roots first, vectorized over the n samples."""
        n = check_int("n", n, 1, expected="a positive int")
        seed = check_int("seed", seed, optional=True, expected=_SEED_RANGE)
        if seed is not None and not -(2**63) <= seed < 2**64:
            raise ValueError(f"seed must be {_SEED_RANGE}, got {seed!r}")
        check_memory(n * self._sample_bytes(), f"sampling {n} rows of {len(self)} variables")
        if context is not None and context.dim() == 1:
            context = context.expand(n, -1)  # (n, C)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            values: dict[str, Tensor] = {}
            with torch.no_grad():
                for name, factor in self.factors.items():
                    if type(factor) is Table:  # the same draws, without a distribution object
                        values[name] = factor.draw(values, n)
                        continue
                    dist = factor(values, context)
                    values[name] = dist.sample((n,)) if dist.batch_shape == () else dist.sample()
        return self.decode(values) if as_frame else values

    def _sample_bytes(self) -> int:
        """Bytes per sampled row: every variable's value (8 bytes a number) plus the largest
        row of probabilities or parameters drawn from at once."""
        sizes = [v.size if isinstance(v, Continuous) else 1 for v in self._variables.values()]
        widest = max(
            (v.card if isinstance(v, Discrete) else 2 * v.size for v in self._variables.values()),
            default=0,
        )
        return 8 * (sum(sizes) + widest)

    # ------------------------------------------------------------------ exact inference
    @cached_property
    def _engine(self):
        from .inference import ExactInference

        not_tables = [n for n, f in self.factors.items() if not isinstance(f, Table)]
        if not_tables:
            raise ValueError(
                f"exact inference needs table factors; {not_tables} are not (use likelihood "
                "weighting in bayesgen.inference for hybrid networks)"
            )
        return ExactInference.from_network(self)

    def _with_soft(self, evidence, soft_evidence):
        """The engine, evidence and log-scale shift that answer with soft evidence too: the
        network extended by a virtual child per softly observed variable
        (:mod:`bayesgen.inference.soft`), or this network's own engine without any."""
        if not soft_evidence:
            return self._engine, evidence, 0.0, ()
        from .inference.soft import SoftEvidenceNetwork, parse_soft_evidence

        lams = parse_soft_evidence(self, soft_evidence)
        cache = self.__dict__.setdefault("_soft_networks", {})
        key = tuple(sorted(lams))
        if key not in cache:
            cache[key] = SoftEvidenceNetwork(self, key)
        ext = cache[key]
        hard, shift = ext.prepare(lams)
        clash = [n for n in lams if n in (evidence or {})]
        if clash:
            raise ValueError(f"{clash} have both hard and soft evidence; give one of them")
        return ext.network._engine, {**(evidence or {}), **hard}, shift, tuple(hard)

    def query(self, targets, evidence: Mapping[str, object] | None = None, *, soft_evidence=None):
        """Exact posterior P(targets | evidence): one variable or a joint.

        ``targets`` is a name, a list of names, or a query string ``"P(x1 | x2=0)"``.
        ``soft_evidence`` maps a variable to likelihoods of its states (virtual evidence), e.g.
        ``{"x2": [0.2, 0.8]}`` or ``{"x2": {"1": 0.8, "0": 0.2}}``.
        """
        if isinstance(targets, str) and targets.strip().startswith("P("):
            from .query import parse_query

            targets, parsed = parse_query(targets)
            evidence = {**parsed, **(evidence or {})}
        engine, evidence, _, _ = self._with_soft(evidence, soft_evidence)
        return engine.query(targets, evidence)

    def marginals(self, evidence: Mapping[str, object] | None = None, *, soft_evidence=None):
        """Posterior marginal of every unobserved variable (one forward and backward pass)."""
        engine, evidence, _, virtual = self._with_soft(evidence, soft_evidence)
        out = engine.marginals(evidence)
        return {n: m for n, m in out.items() if n not in virtual}

    def log_evidence(
        self, evidence: Mapping[str, object] | None = None, *, soft_evidence=None
    ) -> Tensor:
        """log P(e), marginalizing every unobserved variable (with soft evidence λ:
        log Σ_x P(x, e) Π_v λ_v(x_v))."""
        engine, evidence, shift, _ = self._with_soft(evidence, soft_evidence)
        return engine.log_evidence(evidence) + shift

    def mpe(self, evidence: Mapping[str, object] | None = None, *, soft_evidence=None):
        """Most probable explanation: argmax over all unobserved variables (max-product)."""
        engine, evidence, shift, virtual = self._with_soft(evidence, soft_evidence)
        return _drop_virtual(engine.mpe(evidence), virtual, shift, self)

    def map(self, targets, evidence: Mapping[str, object] | None = None, *, soft_evidence=None):
        """Marginal MAP: argmax over ``targets`` of P(targets | e), the others summed out."""
        engine, evidence, shift, virtual = self._with_soft(evidence, soft_evidence)
        return _drop_virtual(engine.map(targets, evidence), virtual, shift, self)

    # ------------------------------------------------------------------ learning
    def fit(self, data: Data, prior=None, **kwargs) -> BayesNet:
        """Learn every factor from data by MLE or MAP (``prior``); see
        :func:`bayesgen.learning.fit.fit_network` for the options. Returns ``self``."""
        from .learning.fit import fit_network

        return fit_network(self, data, prior=prior, **kwargs)

    def structure_score(self, data: Data, score="all"):
        """How well this DAG explains fully observed data: ``"bdeu"``, ``"k2"``, ``"bds"``,
        ``"bic"``, ``"aic"``, a score object, or ``"all"`` (a dict of the five); see
        :mod:`bayesgen.learning.scores`."""
        from .learning.scores import structure_score

        return structure_score(self, data, score)

    def full_joint(self) -> Tensor:
        """The joint table Π_n p(x_n | Pa) over all variables in ``order`` (small networks only)."""
        cards = [v.card for v in self.variables.values()]
        check_memory(
            8 * prod(cards),
            f"the full joint table of {len(cards)} variables",
            budget=_FULL_JOINT_BYTES,
            advice="use query instead",
        )
        letters = {
            n: chr(ord("a") + i) if i < 26 else chr(ord("A") + i - 26)
            for i, n in enumerate(self.order)
        }
        if len(letters) > 52:
            raise ValueError("full_joint supports at most 52 variables")
        terms = []
        operands = []
        for name, f in self.factors.items():
            terms.append("".join(letters[p] for p in f.parent_names) + letters[name])
            operands.append(f.probs)
        return torch.einsum(
            ",".join(terms) + "->" + "".join(letters[n] for n in self.order), *operands
        )


def _drop_virtual(explanation, virtual: tuple[str, ...], shift: float, net: BayesNet):
    """An explanation without the virtual soft-evidence variables, its log_prob on λ's scale."""
    if not virtual:
        return explanation
    from .inference.result import Explanation

    kept = {k: v for k, v in explanation.assignment.items() if k not in virtual}
    states = {k: net.variables[k].states for k in kept}
    return Explanation(kept, explanation.log_prob + shift, states)
