"""Approximate inference by sampling, each estimate with its standard error.

- :func:`rejection_sampling`: ancestral samples x ~ p(x) (in topological order, §2.1.2.1) kept
  when they agree with the evidence; P̂(q=k | e) is the fraction of kept samples with q=k,
  standard error sqrt(P̂(1−P̂)/m) over the m kept samples.
- :func:`likelihood_weighting`: evidence variables are clamped instead of sampled and every
  sample carries the weight w = Π_{v ∈ e} p(e_v | Pa(v)); P̂(q=k | e) = Σ w 1[q=k] / Σ w, with the
  delta-method standard error sqrt(Σ w² (1[q=k] − P̂)²) / Σ w. Works on hybrid networks: any
  factor whose distribution has a ``log_prob`` can be observed, any that can ``sample`` can be
  sampled; continuous targets get a posterior mean.
- :func:`gibbs_sampling`: C independent chains over the unobserved variables of a discrete
  network, each variable resampled from p(x_v | Markov blanket) ∝ p(x_v | Pa) Π_c p(x_c | Pa_c);
  chains start from likelihood-weighted samples resampled by weight. Target probabilities are
  Rao–Blackwellized (the conditionals are averaged, not the draws) and the standard error is
  the spread of the C chain means / sqrt(C).

Every function returns one :class:`Estimate` per target (a dict when ``targets`` is a list).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from .evidence import check_variables

__all__ = ["Estimate", "rejection_sampling", "likelihood_weighting", "gibbs_sampling"]


@dataclass
class Estimate:
    """A Monte Carlo estimate of P(variable | evidence) (``probs``, shape (card,)) or, for a
    continuous variable, of E[variable | evidence] (``mean``, the variable's shape), with
    ``stderr`` of the same shape; ``n_effective`` is the effective sample size."""

    variable: str
    states: tuple[str, ...] | None
    value: Tensor
    stderr: Tensor
    n_effective: float
    method: str

    @property
    def probs(self) -> Tensor:
        if self.states is None:
            raise AttributeError(f"{self.variable!r} is continuous: use .mean")
        return self.value

    @property
    def mean(self) -> Tensor:
        if self.states is None:
            return self.value
        raise AttributeError(f"{self.variable!r} is discrete: use .probs")

    def __str__(self) -> str:
        head = f"{self.method}: {self.variable} (effective sample size {self.n_effective:.0f})"
        if self.states is None:
            return f"{head}\nmean {self.value.tolist()} ± {self.stderr.tolist()}"
        width = max(len(self.variable) + 1 + len(s) for s in self.states)
        rows = [
            f"{self.variable + '=' + s:<{width}}  {float(p):.4f} ± {float(e):.4f}"
            for s, p, e in zip(self.states, self.value, self.stderr, strict=True)
        ]
        return "\n".join([head, *rows])


# ---------------------------------------------------------------------------- helpers
def _targets(net, targets) -> tuple[list[str], bool]:
    single = isinstance(targets, str)
    names = [targets] if single else list(targets)
    if not names:
        raise ValueError("targets must name at least one variable")
    check_variables(names, net.variables, "target")
    return names, single


def _evidence(net, evidence: Mapping[str, object] | None) -> dict[str, Tensor]:
    """Evidence as tensors: discrete -> long code (), continuous -> float of the event shape."""
    if not evidence:
        return {}
    check_variables(list(evidence), net.variables, "evidence variable")
    out = {}
    for name, value in evidence.items():
        var = net.variables[name]
        if getattr(var, "states", None) is not None and hasattr(var, "index"):
            out[name] = torch.tensor(var.index(value))
        else:
            t = torch.as_tensor(value, dtype=torch.float64)
            if tuple(t.shape) != tuple(var.shape):
                raise ValueError(
                    f"evidence on {name!r} must have the variable's shape {tuple(var.shape)}, "
                    f"got {tuple(t.shape)}"
                )
            out[name] = t
    return out


def _check_free(names: Sequence[str], ev: Mapping[str, Tensor]) -> None:
    both = [t for t in names if t in ev]
    if both:
        raise ValueError(f"{both} are both query targets and observed in the evidence")


def _check_n(n: int, what: str = "n") -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")


def _is_discrete(var) -> bool:
    return hasattr(var, "states") and hasattr(var, "card")


def _forward(net, n: int, clamp: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
    """Ancestral sampling of n rows in topological order; variables in ``clamp`` are set to
    their evidence and contribute log p(e_v | Pa(v)) to the returned log-weights (n,)."""
    values: dict[str, Tensor] = {}
    log_w = torch.zeros(n, dtype=torch.float64)
    for name, factor in net.factors.items():
        pa = {p.name: values[p.name] for p in factor.parents}
        if name in clamp:
            x = clamp[name].expand(n, *clamp[name].shape)
            lp = factor(pa).log_prob(x)  # a table's exact zeros give -inf
            log_w = log_w + lp.detach().to(torch.float64).reshape(n)
        else:
            dist = factor(pa)
            x = dist.sample((n,)) if dist.batch_shape == () else dist.sample()
        values[name] = x
    return values, log_w


def _one_hot(x: Tensor, card: int) -> Tensor:
    return torch.nn.functional.one_hot(x.long(), card).to(torch.float64)  # (n, card)


def _weighted(name, var, x: Tensor, w: Tensor, method: str) -> Estimate:
    """Self-normalized estimate Σ w f / Σ w with the delta-method standard error."""
    total = w.sum()
    f = _one_hot(x, var.card) if _is_discrete(var) else x.to(torch.float64).reshape(len(w), -1)
    est = (w[:, None] * f).sum(0) / total
    se = ((w[:, None] ** 2) * (f - est) ** 2).sum(0).sqrt() / total
    n_eff = float(total**2 / (w**2).sum())
    if _is_discrete(var):
        return Estimate(name, tuple(var.states), est, se, n_eff, method)
    shape = tuple(var.shape)
    return Estimate(name, None, est.reshape(shape), se.reshape(shape), n_eff, method)


def _result(estimates: dict[str, Estimate], single: bool):
    return next(iter(estimates.values())) if single else estimates


@contextmanager
def _seeded(seed: int | None):
    """Sample under ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        yield


# ---------------------------------------------------------------------------- the samplers
def rejection_sampling(
    net, targets, evidence: Mapping[str, object] | None = None, *, n: int = 10_000, seed=None
):
    """Estimate P(targets | evidence) from the ancestral samples that match the evidence."""
    names, single = _targets(net, targets)
    ev = _evidence(net, evidence)
    _check_free(names, ev)
    _check_n(n)
    continuous = [v for v in ev if not _is_discrete(net.variables[v])]
    if continuous:
        raise ValueError(
            f"rejection sampling needs discrete evidence; {continuous} are continuous "
            "(use likelihood_weighting)"
        )
    with _seeded(seed):
        values, _ = _forward(net, n, {})
    keep = torch.ones(n, dtype=torch.bool)
    for v, code in ev.items():
        keep &= values[v] == code
    m = int(keep.sum())
    if m == 0:
        raise ValueError(
            f"no sample out of {n} matched the evidence {dict(evidence or {})}; the evidence is "
            "improbable (or impossible): use likelihood_weighting or more samples"
        )
    w = keep.to(torch.float64)
    out = {}
    for t in names:
        var = net.variables[t]
        out[t] = _weighted(t, var, values[t][keep], w[keep], "rejection sampling")
    return _result(out, single)


def likelihood_weighting(
    net, targets, evidence: Mapping[str, object] | None = None, *, n: int = 10_000, seed=None
):
    """Estimate P(targets | evidence) (or E[target | evidence] for a continuous target) with
    samples whose evidence is clamped and weighted by its likelihood; any factor with a
    ``log_prob`` may be observed, so hybrid networks work."""
    names, single = _targets(net, targets)
    ev = _evidence(net, evidence)
    _check_free(names, ev)
    _check_n(n)
    with _seeded(seed):
        values, log_w = _forward(net, n, ev)
    top = log_w.max()
    if not torch.isfinite(top):
        raise ValueError(
            f"every sample has weight zero: the evidence {dict(evidence or {})} has probability "
            "zero (or is too improbable for the prior samples)"
        )
    w = (log_w - top).exp()
    out = {t: _weighted(t, net.variables[t], values[t], w, "likelihood weighting") for t in names}
    return _result(out, single)


def _tables(net) -> dict[str, Tensor]:
    tables = {}
    for name, f in net.factors.items():
        if not hasattr(f, "probs"):
            raise ValueError(
                f"gibbs_sampling needs a discrete network of tables; {name!r} is "
                f"{type(f).__name__} (use likelihood_weighting)"
            )
        tables[name] = f.probs.detach().to(torch.float64)
    return tables


def gibbs_sampling(
    net,
    targets,
    evidence: Mapping[str, object] | None = None,
    *,
    n: int = 1_000,
    chains: int = 32,
    burn_in: int = 100,
    seed=None,
):
    """Estimate P(targets | evidence) by ``chains`` Gibbs chains of ``n`` sweeps each (after
    ``burn_in`` sweeps) on a discrete network; the standard error comes from the spread of the
    independent chains' means."""
    names, single = _targets(net, targets)
    ev = _evidence(net, evidence)
    _check_free(names, ev)
    _check_n(n)
    _check_n(chains, "chains")
    if not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative integer, got {burn_in!r}")
    if chains < 2:
        raise ValueError(f"chains must be at least 2 to estimate a standard error, got {chains}")
    tables = _tables(net)
    parents = {v: [p.name for p in f.parents] for v, f in net.factors.items()}
    children: dict[str, list[str]] = {v: [] for v in net.factors}
    for v, pa in parents.items():
        for p in pa:
            children[p].append(v)
    free = [v for v in net.factors if v not in ev]
    C = chains
    with _seeded(seed):
        # start from likelihood-weighted samples resampled by weight (positive probability)
        pool = max(20 * C, 1000)
        values, log_w = _forward(net, pool, ev)
        if not torch.isfinite(log_w.max()):
            raise ValueError(
                f"every starting sample has weight zero: the evidence {dict(evidence or {})} "
                "has probability zero (or is too improbable)"
            )
        pick = torch.multinomial((log_w - log_w.max()).exp(), C, replacement=True)
        state = {v: values[v][pick].long() for v in net.factors}  # (C,) each
        sums = {t: torch.zeros(C, net.variables[t].card, dtype=torch.float64) for t in names}
        for sweep in range(burn_in + n):
            for v in free:
                logits = _blanket_logits(v, state, tables, parents, children)  # (C, card)
                probs = torch.softmax(logits, -1)
                state[v] = torch.multinomial(probs, 1).squeeze(-1)
                if sweep >= burn_in and v in sums:
                    sums[v] += probs  # Rao-Blackwellized
    out = {}
    for t in names:
        means = sums[t] / n  # (C, card): one estimate per chain
        est = means.mean(0)
        se = means.std(0, unbiased=True) / math.sqrt(C)
        # the independent-sample size with the same error: Σ p(1-p) / Σ se²
        var = float((se**2).sum())
        n_eff = float((est * (1 - est)).sum()) / var if var > 0 else float(C * n)
        out[t] = Estimate(t, tuple(net.variables[t].states), est, se, n_eff, "Gibbs sampling")
    return _result(out, single)


def _blanket_logits(v, state, tables, parents, children) -> Tensor:
    """log p(x_v = k | Markov blanket) up to a constant, for every state k: (C, card_v)."""
    table = tables[v]
    C = next(iter(state.values())).shape[0]
    idx = tuple(state[p] for p in parents[v])
    logits = table[idx].log() if idx else table.log().expand(C, -1)  # (C, card)
    card = table.shape[-1]
    ks = torch.arange(card)
    for c in children[v]:
        # index the child's table with v free and every other parent fixed per chain
        pidx = tuple(ks[None, :] if p == v else state[p][:, None] for p in parents[c])
        logits = logits + tables[c][(*pidx, state[c][:, None])].log()  # (C, card)
    return logits
