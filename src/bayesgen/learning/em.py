"""EM for networks with missing entries and latent variables (§2.4.2), and the marginal
log-likelihood it climbs.

With observed parts e_b of the rows and unobserved parts h_b, the marginal log-likelihood is

    ℓ(θ) = Σ_b w_b log p(e_b | θ) = Σ_b w_b log Σ_h p(e_b, h | θ).

EM alternates the E-step, the expected sufficient statistics under the posterior p(h | e_b, θ_t),
and the M-step, the closed-form update of :func:`bayesgen.learning.statistics.update` from them;
ℓ never decreases. Two exact E-steps:

- ``"exact"`` (discrete networks): the batched exact engine computes log p(e_b) for all rows in
  one contraction, and one backward pass gives every family's expected counts through

      E[N_n(pa, x)] = Σ_b w_b P(x_n = x, pa_n = pa | e_b) = θ_n[pa, x] · ∂ℓ / ∂θ_n[pa, x]

  (ℓ is multilinear in the table entries). Identical rows are merged first.
- ``"enumerate"`` (hybrid networks, e.g. a Gaussian mixture): rows are grouped by which discrete
  variables they miss, each row is completed with every joint state of those variables and
  weighted by its posterior; the completions are summarized by the factors as weighted data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..factors import LinearGaussian, Table
from ..variables import Discrete
from .em_loop import RelativeImprovement, run_em
from .encoding import merge_duplicates, missing_variables
from .priors import log_prior
from .statistics import add_summaries, summarize_factor, update

__all__ = [
    "EM",
    "Completions",
    "enumerate_completions",
    "complete_rows",
    "score_completions",
    "expected_statistics",
    "exact_expected_counts",
    "marginal_log_likelihood",
    "log_joint",
    "use_exact",
    "E_STEPS",
]

#: the values of ``e_step``
E_STEPS = ("auto", "exact", "enumerate")


def log_joint(net, values: Mapping[str, Tensor], context: Tensor | None = None) -> Tensor:
    """log p(x) = Σ_n log p(x_n | Pa(x_n)) for complete rows, shape (B,)."""
    total = None
    for name, factor in net.factors.items():
        dist = factor(values, context)
        var = factor.variable
        if dist.batch_shape == () and isinstance(var, Discrete):
            # a root: score each of its states once (scalars, no broadcasting), gather (B,)
            states = torch.stack([dist.log_prob(torch.tensor(k)) for k in range(var.card)])
            lp = states[values[name]]
        else:
            lp = dist.log_prob(values[name])
        total = lp if total is None else total + lp
    return total


@dataclass
class Completions:
    """Rows completed with every joint state of their missing discrete variables.

    ``values`` name -> (M, ...) complete rows, ``weight`` (M,) the posterior of each completion
    times its row's weight, ``row`` (M,) the source row, ``log_evidence`` log p(e_b) (B,).
    """

    values: dict[str, Tensor]
    weight: Tensor
    row: Tensor
    log_evidence: Tensor


def _check_hidden(net, missing: Mapping[str, Tensor]) -> None:
    variables = net.variables
    cont = [n for n in missing if not isinstance(variables[n], Discrete)]
    if cont:
        raise ValueError(
            f"continuous variable(s) {cont} have missing values; EM and the marginal likelihood "
            "here sum out missing discrete variables only (drop those rows or impute them)"
        )


def complete_rows(
    net, values: Mapping[str, Tensor], *, max_configs: int = 4096
) -> tuple[dict[str, Tensor], Tensor]:
    """Every row completed with every joint state of its missing discrete variables: the
    completed values name -> (M, ...) and the source row of each completion (M,). Rows are
    grouped by their missingness pattern (a loop over patterns, never over rows)."""
    missing = missing_variables(net, values)
    _check_hidden(net, missing)
    b = int(next(iter(values.values())).shape[0])
    disc = [n for n in net.order if n in missing]
    if disc:
        mask = torch.stack([missing[n] for n in disc], 1)  # (B, H)
        if bool((mask == mask[:1]).all()):  # one pattern (e.g. latent columns only)
            patterns, inverse = mask[:1], torch.zeros(b, dtype=torch.long)
        else:
            patterns, inverse = torch.unique(mask, dim=0, return_inverse=True)
    else:
        patterns, inverse = torch.zeros(1, 0, dtype=torch.bool), torch.zeros(b, dtype=torch.long)
    pieces: list[dict[str, Tensor]] = []
    sources = []
    for p, pattern in enumerate(patterns):
        rows = (inverse == p).nonzero().squeeze(1)  # (R,)
        r = rows.shape[0]
        hidden = [disc[i] for i in pattern.nonzero().squeeze(1).tolist()]
        cards = [net.variables[h].card for h in hidden]
        k = math.prod(cards)
        if k > max_configs:
            raise ValueError(
                f"{r} row(s) miss {hidden}, {k} joint states to sum over (max_configs="
                f"{max_configs}); use e_step='exact' on a discrete network or raise max_configs"
            )
        sub: dict[str, Tensor] = {}
        for n, v in values.items():
            part = v[rows]
            sub[n] = part.repeat(k, *([1] * (part.dim() - 1)))  # (K·R, ...) state-major
        if hidden:
            grid = torch.cartesian_prod(*[torch.arange(c) for c in cards]).reshape(k, len(hidden))
            for j, h in enumerate(hidden):
                sub[h] = grid[:, j].repeat_interleave(r)  # (K·R,)
        pieces.append(sub)
        sources.append(rows.repeat(k))
    names = pieces[0].keys()
    return {n: torch.cat([pc[n] for pc in pieces], 0) for n in names}, torch.cat(sources)


def score_completions(
    net, completed: Mapping[str, Tensor], row: Tensor, rows: int, context: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """log p(e_b) (B,) = log Σ over the completions of row b of p(x), and the log posterior of
    each completion (M,); differentiable in the factors' parameters."""
    ctx = None if context is None else context[row]
    lp = log_joint(net, completed, ctx).to(torch.float64)  # (M,)
    with torch.no_grad():
        top = torch.full((rows,), -math.inf, dtype=lp.dtype).scatter_reduce(
            0, row, lp, "amax"
        )  # (B,) a constant shift: the gradient stays exact
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    total = torch.zeros(rows, dtype=lp.dtype).index_add(0, row, (lp - top[row]).exp())
    log_ev = top + total.log()  # (B,)
    if not torch.isfinite(log_ev).all():
        bad = int((~torch.isfinite(log_ev)).nonzero()[0])
        raise ValueError(f"row {bad} has probability zero under the current parameters")
    return log_ev, lp - log_ev[row]


def enumerate_completions(
    net,
    values: Mapping[str, Tensor],
    weights: Tensor | None = None,
    *,
    context: Tensor | None = None,
    max_configs: int = 4096,
) -> Completions:
    """The exact E-step by enumeration: :func:`complete_rows` scored by
    :func:`score_completions`, each completion weighted by its posterior times its row's
    weight."""
    completed, row = complete_rows(net, values, max_configs=max_configs)
    b = int(next(iter(values.values())).shape[0])
    log_ev, log_post = score_completions(net, completed, row, b, context)
    w = log_post.detach().exp()
    if weights is not None:
        w = w * weights.to(torch.float64)[row]
    return Completions(completed, w, row, log_ev)


def use_exact(net, e_step: str, context: Tensor | None) -> bool:
    """Whether ``e_step`` resolves to the exact engine (``"auto"``: for networks of tables)."""
    if e_step not in E_STEPS:
        raise ValueError(f"e_step must be one of {E_STEPS}, got {e_step!r}")
    if e_step == "exact":
        if not net.is_discrete:
            kinds = sorted({type(f).__name__ for f in net.factors.values()})
            raise ValueError(f"e_step='exact' needs a network of tables; it has {kinds}")
        if context is not None:
            raise ValueError("e_step='exact' takes no context; use e_step='enumerate'")
        return True
    if e_step == "enumerate":
        return False
    return net.is_discrete and context is None


def _evidence(net, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {n: values[n] for n in net.order if n in values}


def exact_expected_counts(
    net, values: Mapping[str, Tensor], weights: Tensor | None = None, nodes: Sequence[str] = ()
) -> tuple[dict[str, Tensor], float]:
    """Expected family counts of the tables ``nodes`` and ℓ = Σ_b w_b log p(e_b), from one
    batched contraction of the exact engine and one backward pass (θ ⊙ ∂ℓ/∂θ). Tables the
    evidence never reaches (barren) get no counts and are left out."""
    evidence, wu = merge_duplicates(net, _evidence(net, values), weights)  # (U,) rows
    if wu is None:
        wu = torch.ones(next(iter(evidence.values())).shape[0], dtype=torch.float64)
    tables = [net[n].probs for n in nodes]
    flags = [t.requires_grad for t in tables]
    try:
        with torch.enable_grad():
            for t in tables:
                t.requires_grad_(True)
            ll = net.log_evidence(evidence)  # (U,)
            if not torch.isfinite(ll).all():
                bad = int((~torch.isfinite(ll)).sum())
                raise ValueError(
                    f"{bad} distinct row(s) have probability zero under the current parameters "
                    "(a zero in some table rules them out)"
                )
            total = (wu * ll).sum()
            grads = torch.autograd.grad(total, tables, allow_unused=True) if tables else []
    finally:
        for t, f in zip(tables, flags, strict=True):
            t.requires_grad_(f)
    counts = {
        n: g * t.detach() for n, t, g in zip(nodes, tables, grads, strict=False) if g is not None
    }
    return counts, float(total.detach())


def expected_statistics(
    net,
    values: Mapping[str, Tensor],
    weights: Tensor | None = None,
    nodes: Sequence[str] | None = None,
    *,
    e_step: str = "auto",
    context: Tensor | None = None,
    max_configs: int = 4096,
) -> tuple[dict[str, Any], float]:
    """The E-step: expected sufficient statistics of the factors ``nodes`` under p(h | e, θ)
    and the marginal log-likelihood ℓ(θ) at the current parameters."""
    nodes = list(net.order if nodes is None else nodes)
    if use_exact(net, e_step, context):
        _check_hidden(net, missing_variables(net, values))
        return exact_expected_counts(net, values, weights, nodes)
    with torch.no_grad():
        comp = enumerate_completions(net, values, weights, context=context, max_configs=max_configs)
    stats: dict[str, Any] = {}
    for n in nodes:
        f = net[n]
        s = summarize_factor(f, comp.values[n], comp.values, comp.weight)
        stats[n] = s if n not in stats else add_summaries(stats[n], s)
    w = torch.ones_like(comp.log_evidence) if weights is None else weights.double()
    return stats, float((w * comp.log_evidence).sum())


def marginal_log_likelihood(
    net,
    values: Mapping[str, Tensor],
    *,
    context: Tensor | None = None,
    e_step: str = "auto",
    max_configs: int = 4096,
    completions: tuple[Mapping[str, Tensor], Tensor] | None = None,
) -> Tensor:
    """log p(e_b) per row (B,), summing out every missing discrete variable; differentiable
    in the factors' parameters (the exact engine for tables, enumeration otherwise).
    ``completions``: :func:`complete_rows` of ``values``, when already computed."""
    b = int(next(iter(values.values())).shape[0])
    if completions is not None:
        return score_completions(net, *completions, b, context)[0]
    missing = missing_variables(net, values)
    if not missing:
        return log_joint(net, values, context)
    if use_exact(net, e_step, context):
        _check_hidden(net, missing)
        return net.log_evidence(_evidence(net, values))
    completed, row = complete_rows(net, values, max_configs=max_configs)
    return score_completions(net, completed, row, b, context)[0]


class EM:
    """Expectation–maximization for the closed-form factors (tables, linear-Gaussians) of a
    network with missing entries or latent variables.

    ``max_iter`` iterations at most; stop when the objective (ℓ + log prior) gains less than
    ``tol · |objective|``. ``e_step``: ``"auto"``, ``"exact"`` or ``"enumerate"`` (see the module
    docstring). ``init``: ``"current"`` starts from the network's parameters, ``"random"`` draws
    the fitted tables from Dirichlet(1) (seeded by ``seed``) — needed to break the symmetry of a
    latent variable whose children's tables are identical across its states; ``n_init`` random
    restarts keep the run with the highest final objective (EM finds local maxima).

    Attributes after :meth:`fit`: ``log_likelihood_`` (ℓ at the start of every iteration and at
    the end), ``objective_`` (ℓ + Σ α log θ, the quantity that never decreases), ``n_iter_``,
    ``converged_``.
    """

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-6,
        e_step: str = "auto",
        max_configs: int = 4096,
        init: str = "current",
        n_init: int = 1,
        seed: int | None = None,
        verbose: bool | None = None,
    ):
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
        if not (isinstance(tol, (int, float)) and tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {tol!r}")
        if e_step not in E_STEPS:
            raise ValueError(f"e_step must be one of {E_STEPS}, got {e_step!r}")
        if init not in ("current", "random"):
            raise ValueError(f"init must be 'current' or 'random', got {init!r}")
        if not isinstance(n_init, int) or n_init < 1:
            raise ValueError(f"n_init must be an int >= 1, got {n_init!r}")
        if n_init > 1 and init != "random":
            raise ValueError(f"n_init={n_init} restarts need init='random', got init={init!r}")
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = float(tol)
        self.e_step = e_step
        self.max_configs = max_configs
        self.init = init
        self.seed = seed
        self.verbose = verbose

    def _initialize(self, net, nodes: Sequence[str], restart: int = 0) -> None:
        if self.init != "random":
            return
        g = torch.Generator().manual_seed((self.seed if self.seed is not None else 0) + restart)
        for n in nodes:
            f = net[n]
            if isinstance(f, Table):
                u = -torch.rand(f.shape, generator=g, dtype=torch.float64).log()  # Gamma(1)
                with torch.no_grad():
                    f.probs.copy_(u / u.sum(-1, keepdim=True))

    def fit(
        self,
        net,
        values: Mapping[str, Tensor],
        *,
        weights: Tensor | None = None,
        nodes: Sequence[str] | None = None,
        priors: Mapping[str, Any] | None = None,
        context: Tensor | None = None,
        estimate: str = "mean",
    ) -> EM:
        """Run EM on encoded ``values`` (name -> codes with −1 missing, or floats), updating the
        factors ``nodes`` (default: all) of ``net`` in place; tables with a prior take the
        posterior ``estimate`` (``"mean"`` or ``"mode"``) in every M-step."""
        nodes = list(net.order if nodes is None else nodes)
        bad = [n for n in nodes if not isinstance(net[n], (Table, LinearGaussian))]
        if bad:
            raise ValueError(f"EM needs closed-form factors; {bad} are not (fit them by gradient)")
        priors = dict(priors or {})
        import sys

        from tqdm.auto import tqdm

        show = self.verbose if self.verbose is not None else sys.stderr.isatty()
        problem = _NetworkEM(self, net, values, weights, nodes, priors, context, estimate)
        bar = tqdm(total=self.max_iter, desc="EM", disable=not show, leave=False)
        try:
            run = run_em(
                problem,
                max_iter=self.max_iter,
                stop=RelativeImprovement(self.tol),
                n_init=self.n_init,
                step_after_convergence=False,
                evaluate_last=True,
                on_iteration=lambda r, it, obj: bar.update(),
            )
        finally:
            bar.close()
        self.objective_, self.converged_, self.n_iter_ = run.history, run.converged, run.n_iter
        self.log_likelihood_ = problem.log_likelihoods[run.restart]
        return self


class _NetworkEM:
    """A network's closed-form factors ``nodes`` as an
    :class:`~bayesgen.learning.em_loop.EMProblem`: the objective is ℓ + log p(θ) of the tables'
    priors; the statistics are the expected counts (or moments) of :func:`expected_statistics`.
    ``log_likelihoods[r]`` keeps ℓ of every E-step of start r."""

    def __init__(self, em: EM, net, values, weights, nodes, priors, context, estimate):
        self.em, self.net, self.values, self.weights = em, net, values, weights
        self.nodes, self.priors, self.context, self.estimate = nodes, priors, context, estimate
        self.log_likelihoods: list[list[float]] = []

    def _expect(self, fitted: Sequence[str]) -> tuple[dict[str, Any], float]:
        em = self.em
        return expected_statistics(
            self.net,
            self.values,
            self.weights,
            fitted,
            e_step=em.e_step,
            context=self.context,
            max_configs=em.max_configs,
        )

    def initialize(self, restart: int) -> float:
        self.em._initialize(self.net, self.nodes, restart)
        self.log_likelihoods.append([])
        return -math.inf

    def _record(self, ll: float) -> float:
        self.log_likelihoods[-1].append(ll)
        return ll + log_prior(self.net, self.priors, self.estimate)

    def summarize(self) -> tuple[dict[str, Any], float]:
        stats, ll = self._expect(self.nodes)
        return stats, self._record(ll)

    def objective(self) -> float:
        return self._record(self._expect([])[1])  # ℓ after the last M-step

    def from_summaries(self, stats) -> None:
        update(self.net, stats, self.priors, self.estimate)

    def snapshot(self):
        return {n: {k: b.clone() for k, b in self.net[n]._buffers.items()} for n in self.nodes}

    def restore(self, state) -> None:
        with torch.no_grad():
            for n, bufs in state.items():
                for k, b in bufs.items():
                    self.net[n]._buffers[k].copy_(b)
