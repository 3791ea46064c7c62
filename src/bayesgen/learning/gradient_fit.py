"""Fitting factors by gradient ascent: a neural factor on its own family, or every fitted factor
jointly on the marginal log-likelihood when values are missing (§2.4).

A neural factor of a fully observed family minimizes its own negative log-likelihood

    L(θ_n) = −Σ_b w_b log p(x_{b,n} | pa_{b,n}, θ_n) / Σ_b w_b

(plus the weight prior's penalty, eq. 27). With missing values the likelihood no longer splits,
and all fitted factors climb the marginal log-likelihood plus the tables' log prior together,

    ℓ(θ) + log p(θ) = Σ_b w_b log Σ_h p(e_b, h | θ) + log p(θ),

with the closed-form factors' constrained buffers written as functions of free parameters
(:class:`Reparametrized`: softmax for table rows, exp for scales, the lower-Cholesky map for
covariances). Both run through :class:`~bayesgen.learning.gradient.Trainer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import constraints, transform_to

from .._constants import JITTER
from ..factors import LinearGaussian, NeuralFactor, Table
from ..factors.base import Factor
from .em import complete_rows, marginal_log_likelihood, use_exact
from .encoding import merge_duplicates, n_rows
from .gradient import Trainer
from .priors import WEIGHT_PRIORS, table_log_prior
from .statistics import family, has_closed_form

__all__ = ["Reparametrized", "neural_loss", "fit_factor", "fit_jointly"]

#: the constraint of each buffer a closed-form factor may hold
_CONSTRAINTS = {
    "probs": constraints.simplex,
    "scale": constraints.positive,
    "scale_tril": constraints.lower_cholesky,
    "weight": constraints.real,
    "bias": constraints.real,
}
#: the column that carries the condition y of eq. 19 through the trainer's batches
_CONTEXT = "__context__"


class Reparametrized(nn.Module):
    """Closed-form factors' buffers as differentiable functions of unconstrained parameters
    (``transform_to`` of each buffer's constraint: softmax for tables, exp for scales, the
    lower-Cholesky map for covariances), so they can be fitted by gradient.

    ``apply()`` installs the constrained tensors (call it before each loss evaluation);
    ``restore()`` writes the values back into the original buffers and reinstalls them.
    """

    def __init__(self, factors: Sequence[Factor]):
        super().__init__()
        self.items: list[tuple[Factor, str, Tensor, Any]] = []
        self.free = nn.ParameterList()
        for f in factors:
            for key, c in _CONSTRAINTS.items():
                buf = f._buffers.get(key)
                if buf is None:
                    continue
                t = transform_to(c)
                start = (
                    buf.detach().clamp_min(JITTER) if key in ("probs", "scale") else buf.detach()
                )
                self.items.append((f, key, buf, t))
                self.free.append(nn.Parameter(t.inv(start).clone()))

    def apply(self) -> None:
        for (f, key, _, t), u in zip(self.items, self.free, strict=True):
            f._buffers[key] = t(u)

    @torch.no_grad()
    def restore(self) -> None:
        for (f, key, buf, t), u in zip(self.items, self.free, strict=True):
            buf.copy_(t(u))
            f._buffers[key] = buf


def neural_loss(
    factor: Factor, context_key: str | None = None
) -> Callable[[Mapping[str, Tensor]], Tensor]:
    """The per-row loss −log p(x_n | pa_n) (B,) of ``factor`` on a batch of its family (the
    condition, if any, in the batch's column ``context_key``)."""

    def loss(batch: Mapping[str, Tensor]) -> Tensor:
        ctx = batch.get(context_key) if context_key else None
        return -factor(batch, ctx).log_prob(batch[factor.name])  # (B,)

    return loss


def fit_factor(
    net: Any,
    name: str,
    values: Mapping[str, Tensor],
    weights: Tensor | None = None,
    *,
    prior: Any = None,
    context: Tensor | None = None,
    trainer_opts: Mapping[str, Any] | None = None,
) -> dict[str, list[float]]:
    """Fit the neural factor of ``name`` on its fully observed family by minibatch gradient
    descent; returns the trainer's history."""
    f = net[name]
    opts = dict(trainer_opts or {}, desc=f"fit {name}")
    trainer = Trainer(prior=prior, **opts)
    cols = {k: values[k] for k in family(net, name)}
    if context is not None:  # the condition y of eq. 19, batched with the rows
        cols[_CONTEXT] = context
    trainer.fit(neural_loss(f, _CONTEXT), f.parameters(), cols, weights)
    return trainer.history_


def fit_jointly(
    net: Any,
    values: Mapping[str, Tensor],
    weights: Tensor | None,
    nodes: Sequence[str],
    priors: Mapping[str, Any],
    *,
    estimate: str = "mean",
    context: Tensor | None = None,
    trainer_opts: Mapping[str, Any] | None = None,
    missing: Mapping[str, Tensor] | None = None,
    max_configs: int = 4096,
    e_step: str = "auto",
) -> dict[str, list[float]]:
    """Gradient ascent on the (marginal) log-likelihood of all fitted factors jointly, plus the
    tables' log prior and the neural weights' penalties; returns the trainer's history."""
    ridge = [n for n in nodes if isinstance(net[n], LinearGaussian) and n in priors]
    if ridge:
        raise ValueError(
            f"priors on the linear-Gaussians {ridge} are applied in closed form only; fit them "
            "with method='em' or 'closed_form', or without a prior"
        )
    trainer_opts = dict(trainer_opts or {})
    reparam = Reparametrized([net[n] for n in nodes if has_closed_form(net[n])])
    neural = [net[n] for n in nodes if not has_closed_form(net[n])]
    params = list(reparam.parameters()) + [p for f in neural for p in f.parameters()]
    weight_priors = [
        (priors[n], list(net[n].parameters()))
        for n in nodes
        if isinstance(priors.get(n), WEIGHT_PRIORS) and isinstance(net[n], NeuralFactor)
    ]
    table_priors = {n: p for n, p in priors.items() if isinstance(net[n], Table)}
    total_weight = float(weights.sum()) if weights is not None else float(n_rows(values))
    batch_size = trainer_opts.get("batch_size")
    if batch_size is None and context is None:
        values, weights = merge_duplicates(net, values, weights)
    cols = dict(values)
    if context is not None:
        cols[_CONTEXT] = context
    first = next(iter(values))
    plan = None  # full batch, summing by enumeration: the completions are the same every step
    if missing and batch_size is None and not use_exact(net, e_step, context):
        plan = complete_rows(net, values, max_configs=max_configs)

    def loss(batch: dict[str, Tensor]) -> Tensor:
        reparam.apply()
        batch = dict(batch)
        ctx = batch.pop(_CONTEXT, None)
        ll = marginal_log_likelihood(
            net,
            batch,
            context=ctx,
            max_configs=max_configs,
            e_step=e_step,
            completions=plan if batch[first] is values[first] else None,
        )  # (B,)
        if table_priors:  # log p(θ) spread over the rows: the mean loss is −(ℓ + log p(θ)) / W
            ll = ll + table_log_prior(net, table_priors, estimate) / total_weight
        return -ll

    opts = dict(trainer_opts, desc="fit (marginal likelihood)" if missing else "fit")
    trainer = Trainer(prior=weight_priors or None, **opts)
    try:
        trainer.fit(loss, params, cols, weights)
    finally:
        reparam.restore()
    return trainer.history_
